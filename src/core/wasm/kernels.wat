;; Hot loops of Model Lens in WebAssembly SIMD (128-bit). Built into the bundles by
;; scripts/wat.mjs; src/core/wasm/kernels.ts stages values into this memory and calls them.
;; Every kernel gives exactly what its JavaScript twin gives (same lanes, same order of
;; float64 additions, same rounding); test/unit/wasmKernels.test.ts holds them to that.
(module
  (memory (export "memory") 16)

  ;; ---- Statistics (core/stats/compute.ts) ----

  ;; The fast pass of Moments.add over n float32 at $ptr, continuing the accumulators at $acc:
  ;;   f64 s0 s1 s2 s3 | f64 q0 q1 q2 q3 | f32 lo0..lo3 | f32 hi0..hi3 | i32 zeros0..zeros3
  ;; Element i goes to lane i mod 4 (sums of x and of x², as Moments.add's four accumulators),
  ;; the tail (n mod 4) to lane 0. lo/hi follow `if (x < lo) lo = x` (pmin/pmax: NaN never
  ;; enters); a zero is |x| <= $thr, $thr being the largest float32 not above the float64 threshold.
  (func (export "moments") (param $ptr i32) (param $n i32) (param $thr f32) (param $acc i32)
    (local $end i32) (local $end4 i32) (local $x v128) (local $a v128) (local $b v128)
    (local $sA v128) (local $sB v128) (local $qA v128) (local $qB v128)
    (local $lo v128) (local $hi v128) (local $z v128) (local $thr4 v128) (local $xs f64)
    (local.set $sA (v128.load (local.get $acc)))
    (local.set $sB (v128.load offset=16 (local.get $acc)))
    (local.set $qA (v128.load offset=32 (local.get $acc)))
    (local.set $qB (v128.load offset=48 (local.get $acc)))
    (local.set $lo (v128.load offset=64 (local.get $acc)))
    (local.set $hi (v128.load offset=80 (local.get $acc)))
    (local.set $z (v128.load offset=96 (local.get $acc)))
    (local.set $thr4 (f32x4.splat (local.get $thr)))
    (local.set $end (i32.add (local.get $ptr) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $ptr) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end4)))
        (local.set $x (v128.load (local.get $ptr)))
        ;; (x0, x1) and (x2, x3) widened to float64.
        (local.set $a (f64x2.promote_low_f32x4 (local.get $x)))
        (local.set $b (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
        (local.set $sA (f64x2.add (local.get $sA) (local.get $a)))
        (local.set $sB (f64x2.add (local.get $sB) (local.get $b)))
        (local.set $qA (f64x2.add (local.get $qA) (f64x2.mul (local.get $a) (local.get $a))))
        (local.set $qB (f64x2.add (local.get $qB) (f64x2.mul (local.get $b) (local.get $b))))
        (local.set $lo (f32x4.pmin (local.get $lo) (local.get $x)))
        (local.set $hi (f32x4.pmax (local.get $hi) (local.get $x)))
        ;; A true comparison is all ones (-1): subtracting it counts.
        (local.set $z (i32x4.sub (local.get $z) (f32x4.le (f32x4.abs (local.get $x)) (local.get $thr4))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 16)))
        (br $next)))
    (v128.store (local.get $acc) (local.get $sA))
    (v128.store offset=16 (local.get $acc) (local.get $sB))
    (v128.store offset=32 (local.get $acc) (local.get $qA))
    (v128.store offset=48 (local.get $acc) (local.get $qB))
    (v128.store offset=64 (local.get $acc) (local.get $lo))
    (v128.store offset=80 (local.get $acc) (local.get $hi))
    (v128.store offset=96 (local.get $acc) (local.get $z))
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $ptr) (local.get $end)))
        (local.set $xs (f64.promote_f32 (f32.load (local.get $ptr))))
        (f64.store (local.get $acc) (f64.add (f64.load (local.get $acc)) (local.get $xs)))
        (f64.store offset=32 (local.get $acc) (f64.add (f64.load offset=32 (local.get $acc)) (f64.mul (local.get $xs) (local.get $xs))))
        (if (f32.lt (f32.load (local.get $ptr)) (f32.load offset=64 (local.get $acc)))
          (then (f32.store offset=64 (local.get $acc) (f32.load (local.get $ptr)))))
        (if (f32.gt (f32.load (local.get $ptr)) (f32.load offset=80 (local.get $acc)))
          (then (f32.store offset=80 (local.get $acc) (f32.load (local.get $ptr)))))
        (if (f32.le (f32.abs (f32.load (local.get $ptr))) (local.get $thr))
          (then (i32.store offset=96 (local.get $acc) (i32.add (i32.load offset=96 (local.get $acc)) (i32.const 1)))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 4)))
        (br $tail))))

  ;; HistogramBuilder's bin of x (see binOf there): truncation of (x - first)·norm when the value sits
  ;; more than $margin inside a bin, numpy's edge table at $edges (bins + 1 float64) otherwise, and
  ;; top + 1 for values outside [first, last] and NaN.
  (func $bin (param $x f64) (param $first f64) (param $last f64) (param $norm f64) (param $margin f64)
        (param $top i32) (param $edges i32) (result i32)
    (local $f f64) (local $b i32) (local $r f64) (local $at i32)
    (local.set $f (f64.mul (f64.sub (local.get $x) (local.get $first)) (local.get $norm)))
    (local.set $b (i32.trunc_sat_f64_s (local.get $f)))
    (local.set $r (f64.sub (local.get $f) (f64.convert_i32_s (local.get $b))))
    (if (i32.and (i32.and (f64.gt (local.get $r) (local.get $margin))
                          (f64.lt (local.get $r) (f64.sub (f64.const 1) (local.get $margin))))
                 (i32.lt_s (local.get $b) (local.get $top)))
      (then (return (local.get $b))))
    (if (i32.eqz (i32.and (f64.ge (local.get $x) (local.get $first)) (f64.le (local.get $x) (local.get $last))))
      (then (return (i32.add (local.get $top) (i32.const 1)))))
    ;; edgeBin: clamp to the last bin, then one step down or up where the edge table says so.
    (if (i32.gt_s (local.get $b) (local.get $top)) (then (local.set $b (local.get $top))))
    (local.set $at (i32.add (local.get $edges) (i32.shl (local.get $b) (i32.const 3))))
    (if (f64.lt (local.get $x) (f64.load (local.get $at)))
      (then (return (i32.sub (local.get $b) (i32.const 1)))))
    (if (i32.and (i32.ne (local.get $b) (local.get $top)) (f64.ge (local.get $x) (f64.load offset=8 (local.get $at))))
      (then (return (i32.add (local.get $b) (i32.const 1)))))
    (local.get $b))

  ;; Adds one to the counter of each of the float32 values in [$ptr, $end) in lane 0 at $c.
  (func $binEach (param $ptr i32) (param $end i32) (param $first f64) (param $last f64) (param $norm f64) (param $margin f64)
        (param $top i32) (param $c i32) (param $edges i32)
    (local $p i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        (local.set $p (i32.add (local.get $c) (i32.shl
          (call $bin (f64.promote_f32 (f32.load (local.get $ptr))) (local.get $first) (local.get $last) (local.get $norm) (local.get $margin) (local.get $top) (local.get $edges))
          (i32.const 2))))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 4)))
        (br $next))))

  ;; HistogramBuilder.add over n float32 at $ptr: four lanes of top + 2 counters at $c, lane k at
  ;; $c + k·$stride bytes (neighbouring weights often share a bin; one counter would wait on its
  ;; last store). Four values at a time while all four sit well inside bins; $binEach otherwise.
  (func (export "histogram") (param $ptr i32) (param $n i32) (param $first f64) (param $last f64) (param $norm f64) (param $margin f64)
        (param $top i32) (param $c i32) (param $stride i32) (param $edges i32)
    (local $end4 i32) (local $p i32) (local $x v128) (local $fa v128) (local $fb v128) (local $ba v128) (local $bb v128) (local $bi v128)
    (local $first2 v128) (local $norm2 v128) (local $margin2 v128) (local $upper2 v128) (local $top4 v128)
    (local $c1 i32) (local $c2 i32) (local $c3 i32)
    (local.set $first2 (f64x2.splat (local.get $first)))
    (local.set $norm2 (f64x2.splat (local.get $norm)))
    (local.set $margin2 (f64x2.splat (local.get $margin)))
    (local.set $upper2 (f64x2.splat (f64.sub (f64.const 1) (local.get $margin))))
    (local.set $top4 (i32x4.splat (local.get $top)))
    (local.set $c1 (i32.add (local.get $c) (local.get $stride)))
    (local.set $c2 (i32.add (local.get $c1) (local.get $stride)))
    (local.set $c3 (i32.add (local.get $c2) (local.get $stride)))
    (local.set $end4 (i32.add (local.get $ptr) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end4)))
        (local.set $x (v128.load (local.get $ptr)))
        (local.set $fa (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (local.get $x)) (local.get $first2)) (local.get $norm2)))
        (local.set $fb (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))) (local.get $first2)) (local.get $norm2)))
        (local.set $ba (i32x4.trunc_sat_f64x2_s_zero (local.get $fa)))
        (local.set $bb (i32x4.trunc_sat_f64x2_s_zero (local.get $fb)))
        ;; Fractional parts, then the four bins side by side.
        (local.set $fa (f64x2.sub (local.get $fa) (f64x2.convert_low_i32x4_s (local.get $ba))))
        (local.set $fb (f64x2.sub (local.get $fb) (f64x2.convert_low_i32x4_s (local.get $bb))))
        (local.set $bi (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $ba) (local.get $bb)))
        (if (i32.and
              (i32.and
                (i64x2.all_true (v128.and (f64x2.gt (local.get $fa) (local.get $margin2)) (f64x2.lt (local.get $fa) (local.get $upper2))))
                (i64x2.all_true (v128.and (f64x2.gt (local.get $fb) (local.get $margin2)) (f64x2.lt (local.get $fb) (local.get $upper2)))))
              (i32x4.all_true (i32x4.lt_s (local.get $bi) (local.get $top4))))
          (then
            (local.set $p (i32.add (local.get $c) (i32.shl (i32x4.extract_lane 0 (local.get $bi)) (i32.const 2))))
            (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
            (local.set $p (i32.add (local.get $c1) (i32.shl (i32x4.extract_lane 1 (local.get $bi)) (i32.const 2))))
            (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
            (local.set $p (i32.add (local.get $c2) (i32.shl (i32x4.extract_lane 2 (local.get $bi)) (i32.const 2))))
            (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
            (local.set $p (i32.add (local.get $c3) (i32.shl (i32x4.extract_lane 3 (local.get $bi)) (i32.const 2))))
            (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1))))
          (else
            (call $binEach (local.get $ptr) (i32.add (local.get $ptr) (i32.const 16)) (local.get $first) (local.get $last) (local.get $norm) (local.get $margin) (local.get $top) (local.get $c) (local.get $edges))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 16)))
        (br $next)))
    (call $binEach (local.get $ptr) (i32.add (local.get $end4) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2)))
      (local.get $first) (local.get $last) (local.get $norm) (local.get $margin) (local.get $top) (local.get $c) (local.get $edges)))
)
