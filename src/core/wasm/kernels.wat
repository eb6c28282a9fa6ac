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

  ;; ---- Compression (core/compress/methods/linear.ts, core/compress/metrics.ts) ----
  ;; The per-channel kernels walk n values whose first is channel $c of $size (channels last, as
  ;; forEachRun's whole rows): segments of consecutive channels, four at a time against the
  ;; channel table, the rest one by one. A single channel's run is the same walk over a table of
  ;; four equal entries with $size 4.

  ;; Raises tbl[c] (float32) to the largest finite |w| of its channel: maxAbsRows/maxAbsRun.
  (func (export "maxAbs") (param $ptr i32) (param $n i32) (param $size i32) (param $c i32) (param $tbl i32)
    (local $end i32) (local $seg i32) (local $t i32) (local $a v128) (local $inf v128) (local $as f32)
    (local.set $inf (f32x4.splat (f32.const inf)))
    (local.set $end (i32.add (local.get $ptr) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $segment
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        (local.set $seg (call $segmentEnd (local.get $ptr) (local.get $end) (local.get $size) (local.get $c) (i32.const 2)))
        (local.set $t (i32.add (local.get $tbl) (i32.shl (local.get $c) (i32.const 2))))
        (block $wide
          (loop $four
            (br_if $wide (i32.gt_u (i32.add (local.get $ptr) (i32.const 16)) (local.get $seg)))
            (local.set $a (f32x4.abs (v128.load (local.get $ptr))))
            ;; |w| = Inf counts as 0; NaN never passes pmax's comparison.
            (local.set $a (v128.andnot (local.get $a) (f32x4.eq (local.get $a) (local.get $inf))))
            (v128.store (local.get $t) (f32x4.pmax (v128.load (local.get $t)) (local.get $a)))
            (local.set $ptr (i32.add (local.get $ptr) (i32.const 16)))
            (local.set $t (i32.add (local.get $t) (i32.const 16)))
            (br $four)))
        (block $ones
          (loop $one
            (br_if $ones (i32.ge_u (local.get $ptr) (local.get $seg)))
            (local.set $as (f32.abs (f32.load (local.get $ptr))))
            (if (i32.and (f32.gt (local.get $as) (f32.load (local.get $t))) (f32.ne (local.get $as) (f32.const inf)))
              (then (f32.store (local.get $t) (local.get $as))))
            (local.set $ptr (i32.add (local.get $ptr) (i32.const 4)))
            (local.set $t (i32.add (local.get $t) (i32.const 4)))
            (br $one)))
        (local.set $c (i32.const 0))
        (br $segment))))

  ;; Where the segment starting at channel $c ends: at the end of the row or of the values
  ;; (pointers step 1 << $shift bytes per value).
  (func $segmentEnd (param $ptr i32) (param $end i32) (param $size i32) (param $c i32) (param $shift i32) (result i32)
    (local $seg i32)
    (local.set $seg (i32.add (local.get $ptr) (i32.shl (i32.sub (local.get $size) (local.get $c)) (local.get $shift))))
    (select (local.get $seg) (local.get $end) (i32.lt_u (local.get $seg) (local.get $end))))

  ;; Symmetric codes: q = clamp(round_half_even(float32(w / s[c])), ±qmax), NaN → 0 (quantizeRowsSymmetric).
  ;; Float32 division is what fround(w / s) computes; min/max keep NaN so the truncation makes it 0.
  (func (export "quantizeSymmetric") (param $ptr i32) (param $n i32) (param $size i32) (param $c i32) (param $tbl i32) (param $qmax f32) (param $out i32)
    (local $end i32) (local $seg i32) (local $t i32) (local $r v128) (local $hi v128) (local $lo v128) (local $rs f32)
    (local.set $hi (f32x4.splat (local.get $qmax)))
    (local.set $lo (f32x4.splat (f32.neg (local.get $qmax))))
    (local.set $end (i32.add (local.get $ptr) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $segment
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        (local.set $seg (call $segmentEnd (local.get $ptr) (local.get $end) (local.get $size) (local.get $c) (i32.const 2)))
        (local.set $t (i32.add (local.get $tbl) (i32.shl (local.get $c) (i32.const 2))))
        (block $wide
          (loop $four
            (br_if $wide (i32.gt_u (i32.add (local.get $ptr) (i32.const 16)) (local.get $seg)))
            (local.set $r (f32x4.nearest (f32x4.div (v128.load (local.get $ptr)) (v128.load (local.get $t)))))
            (local.set $r (i32x4.trunc_sat_f32x4_s (f32x4.min (f32x4.max (local.get $r) (local.get $lo)) (local.get $hi))))
            (local.set $r (i16x8.narrow_i32x4_s (local.get $r) (local.get $r)))
            (v128.store32_lane 0 (local.get $out) (i8x16.narrow_i16x8_s (local.get $r) (local.get $r)))
            (local.set $ptr (i32.add (local.get $ptr) (i32.const 16)))
            (local.set $t (i32.add (local.get $t) (i32.const 16)))
            (local.set $out (i32.add (local.get $out) (i32.const 4)))
            (br $four)))
        (block $ones
          (loop $one
            (br_if $ones (i32.ge_u (local.get $ptr) (local.get $seg)))
            (local.set $rs (f32.nearest (f32.div (f32.load (local.get $ptr)) (f32.load (local.get $t)))))
            (i32.store8 (local.get $out) (i32.trunc_sat_f32_s (f32.min (f32.max (local.get $rs) (f32.neg (local.get $qmax))) (local.get $qmax))))
            (local.set $ptr (i32.add (local.get $ptr) (i32.const 4)))
            (local.set $t (i32.add (local.get $t) (i32.const 4)))
            (local.set $out (i32.add (local.get $out) (i32.const 1)))
            (br $one)))
        (local.set $c (i32.const 0))
        (br $segment))))

  ;; y = float32((q - z[c]) · s[c]) for byte codes at $ptr (signed when $signed), float32 out
  ;; (dequantizeRows). The difference of small integers is exact in float32, and so the float32
  ;; product is the float64 product rounded once, as fround((q - z) * s) is.
  (func (export "dequantize") (param $ptr i32) (param $n i32) (param $size i32) (param $c i32) (param $scale i32) (param $zero i32) (param $signed i32) (param $out i32)
    (local $end i32) (local $seg i32) (local $s i32) (local $z i32) (local $q v128) (local $qs i32)
    (local.set $end (i32.add (local.get $ptr) (local.get $n)))
    (block $done
      (loop $segment
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        (local.set $seg (call $segmentEnd (local.get $ptr) (local.get $end) (local.get $size) (local.get $c) (i32.const 0)))
        (local.set $s (i32.add (local.get $scale) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $z (i32.add (local.get $zero) (i32.shl (local.get $c) (i32.const 2))))
        (block $wide
          (loop $four
            (br_if $wide (i32.gt_u (i32.add (local.get $ptr) (i32.const 4)) (local.get $seg)))
            (local.set $q (v128.load32_zero (local.get $ptr)))
            (local.set $q (if (result v128) (local.get $signed)
              (then (i32x4.extend_low_i16x8_s (i16x8.extend_low_i8x16_s (local.get $q))))
              (else (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (local.get $q))))))
            (v128.store (local.get $out)
              (f32x4.mul (f32x4.sub (f32x4.convert_i32x4_s (local.get $q)) (v128.load (local.get $z))) (v128.load (local.get $s))))
            (local.set $ptr (i32.add (local.get $ptr) (i32.const 4)))
            (local.set $s (i32.add (local.get $s) (i32.const 16)))
            (local.set $z (i32.add (local.get $z) (i32.const 16)))
            (local.set $out (i32.add (local.get $out) (i32.const 16)))
            (br $four)))
        (block $ones
          (loop $one
            (br_if $ones (i32.ge_u (local.get $ptr) (local.get $seg)))
            (local.set $qs (select (i32.load8_s (local.get $ptr)) (i32.load8_u (local.get $ptr)) (local.get $signed)))
            (f32.store (local.get $out)
              (f32.mul (f32.sub (f32.convert_i32_s (local.get $qs)) (f32.load (local.get $z))) (f32.load (local.get $s))))
            (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
            (local.set $s (i32.add (local.get $s) (i32.const 4)))
            (local.set $z (i32.add (local.get $z) (i32.const 4)))
            (local.set $out (i32.add (local.get $out) (i32.const 4)))
            (br $one)))
        (local.set $c (i32.const 0))
        (br $segment))))

  ;; Min and max of the finite values of n float32 at $ptr, continuing f32 lo[4] hi[4] at $acc (finiteRange).
  (func (export "finiteRange") (param $ptr i32) (param $n i32) (param $acc i32)
    (local $end4 i32) (local $end i32) (local $x v128) (local $lo v128) (local $hi v128) (local $inf v128) (local $ninf v128) (local $xs f32)
    (local.set $inf (f32x4.splat (f32.const inf)))
    (local.set $ninf (f32x4.splat (f32.const -inf)))
    (local.set $lo (v128.load (local.get $acc)))
    (local.set $hi (v128.load offset=16 (local.get $acc)))
    (local.set $end (i32.add (local.get $ptr) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $ptr) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end4)))
        (local.set $x (v128.load (local.get $ptr)))
        ;; -Inf may not lower lo, +Inf may not raise hi: each is swapped for the other, which cannot.
        (local.set $lo (f32x4.pmin (local.get $lo) (v128.bitselect (local.get $inf) (local.get $x) (f32x4.eq (local.get $x) (local.get $ninf)))))
        (local.set $hi (f32x4.pmax (local.get $hi) (v128.bitselect (local.get $ninf) (local.get $x) (f32x4.eq (local.get $x) (local.get $inf)))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 16)))
        (br $next)))
    (v128.store (local.get $acc) (local.get $lo))
    (v128.store offset=16 (local.get $acc) (local.get $hi))
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $ptr) (local.get $end)))
        (local.set $xs (f32.load (local.get $ptr)))
        (if (i32.and (f32.lt (local.get $xs) (f32.load (local.get $acc))) (f32.ne (local.get $xs) (f32.const -inf)))
          (then (f32.store (local.get $acc) (local.get $xs))))
        (if (i32.and (f32.gt (local.get $xs) (f32.load offset=16 (local.get $acc))) (f32.ne (local.get $xs) (f32.const inf)))
          (then (f32.store offset=16 (local.get $acc) (local.get $xs))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 4)))
        (br $tail))))

  ;; compareChunk over n pairs (w at $w, reconstruction at $r, n a multiple of 4): at $acc, float64
  ;; lanes (two per vector, lane k for pairs k mod 4) of Σ(w-ŵ)², Σw², Σŵ², Σwŵ, max |w-ŵ|, then
  ;; int32 zeros of ŵ (offsets 0, 32, 64, 96, 128, 160); two histograms of four lanes (top + 3
  ;; counters each, lane k at + k·$stride bytes) at $ha and $hb, over [min, max] as compareChunk bins
  ;; in float32: min(top, floor((x - min)·norm)) inside, top + 1 outside (and NaN), top + 2 for pairs
  ;; left out. The floor's integer is read from the bits of floor(t) + 2^23 (t is in [0, 2^23) inside).
  ;; $finite: the caller has checked every value of both is finite (allFinite), so a loop without
  ;; masks runs: no pair is left out, every w lies in [min, max] (the range is w's own), and max
  ;; needs no NaN test. Otherwise a pair holding the same non-finite value on both sides adds
  ;; nothing, and NaN in max |w-ŵ| stays.
  (func (export "compare") (param $w i32) (param $r i32) (param $n i32) (param $acc i32) (param $ha i32) (param $hb i32) (param $stride i32)
        (param $min f32) (param $max f32) (param $norm f32) (param $top i32) (param $finite i32)
    (local $end i32) (local $x v128) (local $y v128) (local $xa v128) (local $xb v128) (local $ya v128) (local $yb v128)
    (local $da v128) (local $db v128) (local $ka v128) (local $kb v128) (local $skip v128) (local $bins v128)
    (local $nA v128) (local $nB v128) (local $sA v128) (local $sB v128) (local $pA v128) (local $pB v128)
    (local $dA v128) (local $dB v128) (local $mA v128) (local $mB v128) (local $zeros v128)
    (local $inf v128) (local $min4 v128) (local $max4 v128) (local $norm4 v128) (local $top4 v128) (local $p i32)
    (local $in v128) (local $outside4 v128) (local $trash4 v128) (local $laneA v128) (local $laneB v128) (local $magic v128)
    (local.set $inf (f64x2.splat (f64.const inf)))
    (local.set $magic (f32x4.splat (f32.const 0x1p23)))
    (local.set $outside4 (i32x4.splat (i32.add (local.get $top) (i32.const 1))))
    (local.set $trash4 (i32x4.splat (i32.add (local.get $top) (i32.const 2))))
    ;; Byte address of lane k's counter array, per lane: ha + k·stride (and hb).
    (local.set $laneA (i32x4.add (i32x4.splat (local.get $ha)) (i32x4.mul (i32x4.splat (local.get $stride)) (v128.const i32x4 0 1 2 3))))
    (local.set $laneB (i32x4.add (i32x4.splat (local.get $hb)) (i32x4.mul (i32x4.splat (local.get $stride)) (v128.const i32x4 0 1 2 3))))
    (local.set $min4 (f32x4.splat (local.get $min)))
    (local.set $max4 (f32x4.splat (local.get $max)))
    (local.set $norm4 (f32x4.splat (local.get $norm)))
    (local.set $top4 (i32x4.splat (local.get $top)))
    (local.set $nA (v128.load (local.get $acc)))
    (local.set $nB (v128.load offset=16 (local.get $acc)))
    (local.set $sA (v128.load offset=32 (local.get $acc)))
    (local.set $sB (v128.load offset=48 (local.get $acc)))
    (local.set $pA (v128.load offset=64 (local.get $acc)))
    (local.set $pB (v128.load offset=80 (local.get $acc)))
    (local.set $dA (v128.load offset=96 (local.get $acc)))
    (local.set $dB (v128.load offset=112 (local.get $acc)))
    (local.set $mA (v128.load offset=128 (local.get $acc)))
    (local.set $mB (v128.load offset=144 (local.get $acc)))
    (local.set $zeros (v128.load offset=160 (local.get $acc)))
    (local.set $end (i32.add (local.get $w) (i32.shl (local.get $n) (i32.const 2))))
    (if (local.get $finite)
      (then
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $x (v128.load (local.get $w)))
        (local.set $y (v128.load (local.get $r)))
        (local.set $xa (f64x2.promote_low_f32x4 (local.get $x)))
        (local.set $xb (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
        (local.set $ya (f64x2.promote_low_f32x4 (local.get $y)))
        (local.set $yb (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $y) (local.get $y))))
        (local.set $da (f64x2.abs (f64x2.sub (local.get $xa) (local.get $ya))))
        (local.set $db (f64x2.abs (f64x2.sub (local.get $xb) (local.get $yb))))
        (local.set $nA (f64x2.add (local.get $nA) (f64x2.mul (local.get $da) (local.get $da))))
        (local.set $nB (f64x2.add (local.get $nB) (f64x2.mul (local.get $db) (local.get $db))))
        (local.set $sA (f64x2.add (local.get $sA) (f64x2.mul (local.get $xa) (local.get $xa))))
        (local.set $sB (f64x2.add (local.get $sB) (f64x2.mul (local.get $xb) (local.get $xb))))
        (local.set $pA (f64x2.add (local.get $pA) (f64x2.mul (local.get $ya) (local.get $ya))))
        (local.set $pB (f64x2.add (local.get $pB) (f64x2.mul (local.get $yb) (local.get $yb))))
        (local.set $dA (f64x2.add (local.get $dA) (f64x2.mul (local.get $xa) (local.get $ya))))
        (local.set $dB (f64x2.add (local.get $dB) (f64x2.mul (local.get $xb) (local.get $yb))))
        (local.set $mA (f64x2.pmax (local.get $mA) (local.get $da)))
        (local.set $mB (f64x2.pmax (local.get $mB) (local.get $db)))
        (local.set $zeros (i32x4.sub (local.get $zeros) (f32x4.eq (local.get $y) (f32x4.splat (f32.const 0)))))
        (local.set $bins (i32x4.add (i32x4.shl (i32x4.min_s (i32x4.sub (f32x4.add (f32x4.floor (f32x4.mul (f32x4.sub (local.get $x) (local.get $min4)) (local.get $norm4))) (local.get $magic)) (local.get $magic)) (local.get $top4)) (i32.const 2)) (local.get $laneA)))
        (local.set $p (i32x4.extract_lane 0 (local.get $bins)))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 1 (local.get $bins)))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 2 (local.get $bins)))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 3 (local.get $bins)))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $bins (v128.bitselect (i32x4.min_s (i32x4.sub (f32x4.add (f32x4.floor (f32x4.mul (f32x4.sub (local.get $y) (local.get $min4)) (local.get $norm4))) (local.get $magic)) (local.get $magic)) (local.get $top4)) (local.get $outside4) (v128.and (f32x4.ge (local.get $y) (local.get $min4)) (f32x4.le (local.get $y) (local.get $max4)))))
        (local.set $bins (i32x4.add (i32x4.shl (local.get $bins) (i32.const 2)) (local.get $laneB)))
        (local.set $p (i32x4.extract_lane 0 (local.get $bins)))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 1 (local.get $bins)))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 2 (local.get $bins)))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 3 (local.get $bins)))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $w (i32.add (local.get $w) (i32.const 16)))
        (local.set $r (i32.add (local.get $r) (i32.const 16)))
            (br $next))))
      (else
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $x (v128.load (local.get $w)))
        (local.set $y (v128.load (local.get $r)))
        (local.set $xa (f64x2.promote_low_f32x4 (local.get $x)))
        (local.set $xb (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
        (local.set $ya (f64x2.promote_low_f32x4 (local.get $y)))
        (local.set $yb (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $y) (local.get $y))))
        (local.set $da (f64x2.abs (f64x2.sub (local.get $xa) (local.get $ya))))
        (local.set $db (f64x2.abs (f64x2.sub (local.get $xb) (local.get $yb))))
        ;; Kept lanes: d finite, or not the same non-finite value on both sides (x = y, or both NaN).
        (local.set $ka (v128.or (f64x2.lt (local.get $da) (local.get $inf))
          (v128.not (v128.or (f64x2.eq (local.get $xa) (local.get $ya))
            (v128.and (f64x2.ne (local.get $xa) (local.get $xa)) (f64x2.ne (local.get $ya) (local.get $ya)))))))
        (local.set $kb (v128.or (f64x2.lt (local.get $db) (local.get $inf))
          (v128.not (v128.or (f64x2.eq (local.get $xb) (local.get $yb))
            (v128.and (f64x2.ne (local.get $xb) (local.get $xb)) (f64x2.ne (local.get $yb) (local.get $yb)))))))
        (local.set $nA (f64x2.add (local.get $nA) (v128.and (f64x2.mul (local.get $da) (local.get $da)) (local.get $ka))))
        (local.set $nB (f64x2.add (local.get $nB) (v128.and (f64x2.mul (local.get $db) (local.get $db)) (local.get $kb))))
        (local.set $sA (f64x2.add (local.get $sA) (v128.and (f64x2.mul (local.get $xa) (local.get $xa)) (local.get $ka))))
        (local.set $sB (f64x2.add (local.get $sB) (v128.and (f64x2.mul (local.get $xb) (local.get $xb)) (local.get $kb))))
        (local.set $pA (f64x2.add (local.get $pA) (v128.and (f64x2.mul (local.get $ya) (local.get $ya)) (local.get $ka))))
        (local.set $pB (f64x2.add (local.get $pB) (v128.and (f64x2.mul (local.get $yb) (local.get $yb)) (local.get $kb))))
        (local.set $dA (f64x2.add (local.get $dA) (v128.and (f64x2.mul (local.get $xa) (local.get $ya)) (local.get $ka))))
        (local.set $dB (f64x2.add (local.get $dB) (v128.and (f64x2.mul (local.get $xb) (local.get $yb)) (local.get $kb))))
        ;; max: d replaces m where d > m or d is NaN (kept lanes only).
        (local.set $mA (v128.bitselect (local.get $da) (local.get $mA) (v128.and (local.get $ka)
          (v128.or (f64x2.gt (local.get $da) (local.get $mA)) (f64x2.ne (local.get $da) (local.get $da))))))
        (local.set $mB (v128.bitselect (local.get $db) (local.get $mB) (v128.and (local.get $kb)
          (v128.or (f64x2.gt (local.get $db) (local.get $mB)) (f64x2.ne (local.get $db) (local.get $db))))))
        (local.set $zeros (i32x4.sub (local.get $zeros) (f32x4.eq (local.get $y) (f32x4.splat (f32.const 0)))))
        (local.set $skip (v128.not (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $ka) (local.get $kb))))
        ;; Outside [min, max] (±Inf, NaN) the bin is garbage and replaced; inside, t < 2^23.
        (local.set $bins (v128.bitselect (i32x4.min_s (i32x4.sub (f32x4.add (f32x4.floor (f32x4.mul (f32x4.sub (local.get $x) (local.get $min4)) (local.get $norm4))) (local.get $magic)) (local.get $magic)) (local.get $top4)) (local.get $outside4) (v128.and (f32x4.ge (local.get $x) (local.get $min4)) (f32x4.le (local.get $x) (local.get $max4)))))
        (local.set $bins (i32x4.add (i32x4.shl (v128.bitselect (local.get $trash4) (local.get $bins) (local.get $skip)) (i32.const 2)) (local.get $laneA)))
        (local.set $p (i32x4.extract_lane 0 (local.get $bins)))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 1 (local.get $bins)))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 2 (local.get $bins)))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 3 (local.get $bins)))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $bins (v128.bitselect (i32x4.min_s (i32x4.sub (f32x4.add (f32x4.floor (f32x4.mul (f32x4.sub (local.get $y) (local.get $min4)) (local.get $norm4))) (local.get $magic)) (local.get $magic)) (local.get $top4)) (local.get $outside4) (v128.and (f32x4.ge (local.get $y) (local.get $min4)) (f32x4.le (local.get $y) (local.get $max4)))))
        (local.set $bins (i32x4.add (i32x4.shl (v128.bitselect (local.get $trash4) (local.get $bins) (local.get $skip)) (i32.const 2)) (local.get $laneB)))
        (local.set $p (i32x4.extract_lane 0 (local.get $bins)))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 1 (local.get $bins)))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 2 (local.get $bins)))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32x4.extract_lane 3 (local.get $bins)))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $w (i32.add (local.get $w) (i32.const 16)))
        (local.set $r (i32.add (local.get $r) (i32.const 16)))
            (br $next)))))
    (v128.store (local.get $acc) (local.get $nA))
    (v128.store offset=16 (local.get $acc) (local.get $nB))
    (v128.store offset=32 (local.get $acc) (local.get $sA))
    (v128.store offset=48 (local.get $acc) (local.get $sB))
    (v128.store offset=64 (local.get $acc) (local.get $pA))
    (v128.store offset=80 (local.get $acc) (local.get $pB))
    (v128.store offset=96 (local.get $acc) (local.get $dA))
    (v128.store offset=112 (local.get $acc) (local.get $dB))
    (v128.store offset=128 (local.get $acc) (local.get $mA))
    (v128.store offset=144 (local.get $acc) (local.get $mB))
    (v128.store offset=160 (local.get $acc) (local.get $zeros)))

  ;; 1 when the n float32 at $ptr are all finite (no NaN, no ±Inf), else 0; n a multiple of 4.
  (func (export "allFinite") (param $ptr i32) (param $n i32) (result i32)
    (local $end i32) (local $bad v128) (local $inf v128)
    (local.set $inf (f32x4.splat (f32.const inf)))
    (local.set $end (i32.add (local.get $ptr) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        ;; |x| < Inf fails for ±Inf and NaN alike.
        (local.set $bad (v128.or (local.get $bad) (v128.not (f32x4.lt (f32x4.abs (v128.load (local.get $ptr))) (local.get $inf)))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 16)))
        (br $next)))
    (i32.eqz (v128.any_true (local.get $bad))))

  ;; Adds the n bytes at $ptr to four lanes of 256 int32 counters at $c (lane k at + 1024·k): entropyEstimate's frequencies.
  (func (export "countBytes") (param $ptr i32) (param $n i32) (param $c i32)
    (local $end4 i32) (local $end i32) (local $word i32) (local $p i32)
    (local.set $end (i32.add (local.get $ptr) (local.get $n)))
    (local.set $end4 (i32.add (local.get $ptr) (i32.and (local.get $n) (i32.const -4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end4)))
        (local.set $word (i32.load (local.get $ptr)))
        (local.set $p (i32.add (local.get $c) (i32.shl (i32.and (local.get $word) (i32.const 255)) (i32.const 2))))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32.add (local.get $c) (i32.add (i32.const 1024) (i32.and (i32.shr_u (local.get $word) (i32.const 6)) (i32.const 1020)))))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32.add (local.get $c) (i32.add (i32.const 2048) (i32.and (i32.shr_u (local.get $word) (i32.const 14)) (i32.const 1020)))))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $p (i32.add (local.get $c) (i32.add (i32.const 3072) (i32.shl (i32.shr_u (local.get $word) (i32.const 24)) (i32.const 2)))))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 4)))
        (br $next)))
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $ptr) (local.get $end)))
        (local.set $p (i32.add (local.get $c) (i32.shl (i32.load8_u (local.get $ptr)) (i32.const 2))))
        (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
        (br $tail))))
)
