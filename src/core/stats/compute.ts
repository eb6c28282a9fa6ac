import type { RandomAccessSource } from '../io/source';
import { dtypeInfo } from '../dtypes';
import type { TensorRef } from '../model';
import type { FloatScratch } from '../scratch';
import {
  CHUNK_ELEMENTS,
  readRawFloat32,
  streamElements,
  type Elements,
  type SourceOpener,
} from './decode';
import type { Histogram, StatsOptions, TensorStats } from './types';
import { binEdges } from './edges';
import { WASM_MIN, wasmKernels, type MomentLanes } from '../wasm/kernels';

export { binEdges };

/** What a Moments holds, as it crosses between threads. */
export type MomentsState = Pick<
  Moments,
  'count' | 'finite' | 'nan' | 'inf' | 'zeros' | 'min' | 'max' | 'mean' | 'm2'
>;

/** Running moments merged chunk by chunk (Chan et al.), each chunk in two passes: float64 throughout. */
export class Moments {
  count = 0;
  finite = 0;
  nan = 0;
  inf = 0;
  zeros = 0;
  min = Infinity;
  max = -Infinity;
  mean = 0;
  m2 = 0;

  constructor(private readonly nearZero: number) {}

  add(v: Elements, n: number): void {
    // Fast path: one plain pass. It is exact enough unless the chunk holds non-finite values or
    // magnitudes so uneven that naive summation's error bound could reach the mean's tolerance.
    const { sum, sq, lo, hi, zeros } = fastPass(v, n, this.min, this.max, this.nearZero);
    // Naive summation errs by at most n·eps·Σ|x| ≤ n·eps·√(n·Σx²) (Cauchy–Schwarz); accept when that is far
    // inside 1e-7 of the mean (or 1e-13 absolute). A non-finite value (or x² past float64) makes sq non-finite.
    const bound = n * 2.3e-16 * Math.sqrt(n * sq);
    if (!(sq < Infinity) || bound > Math.max(1e-7 * Math.abs(sum), 1e-13 * n)) {
      this.addCareful(v, n);
      return;
    }
    this.count += n;
    this.min = lo;
    this.max = hi;
    this.zeros += zeros;
    if (n === 0) return;
    const mean = sum / n;
    // Σx² − n·mean² loses at most a factor 2 of its n·eps relative accuracy while n·mean² ≤ Σx²/2
    // (weights centred near zero); past that, cancellation would eat digits, so a second pass sums (x − mean)².
    let m2 = sq - sum * mean;
    if (!(sum * mean <= 0.5 * sq)) {
      let d0 = 0,
        d1 = 0,
        d2 = 0,
        d3 = 0;
      let i = 0;
      for (; i + 3 < n; i += 4) {
        const e0 = v[i] - mean,
          e1 = v[i + 1] - mean,
          e2 = v[i + 2] - mean,
          e3 = v[i + 3] - mean;
        d0 += e0 * e0;
        d1 += e1 * e1;
        d2 += e2 * e2;
        d3 += e3 * e3;
      }
      for (; i < n; i++) {
        const e = v[i] - mean;
        d0 += e * e;
      }
      m2 = d0 + d1 + (d2 + d3);
    }
    this.merge(n, mean, m2);
  }

  /** The slow path: counts NaN/Inf apart and sums with Neumaier compensation (1e100 next to 1 keeps the 1). */
  private addCareful(v: Elements, n: number): void {
    let sum = 0;
    let comp = 0;
    let k = 0;
    let min = this.min;
    let max = this.max;
    let zeros = 0;
    const thr = this.nearZero;
    for (let i = 0; i < n; i++) {
      const x = v[i];
      if (x - x !== 0) {
        if (x !== x) this.nan++;
        else this.inf++;
        continue;
      }
      k++;
      const t = sum + x;
      comp += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
      sum = t;
      if (x < min) min = x;
      if (x > max) max = x;
      if (x <= thr && x >= -thr) zeros++;
    }
    this.count += n;
    this.min = min;
    this.max = max;
    this.zeros += zeros;
    if (k === 0) return;
    const mean = (sum + comp) / k;
    let m2 = 0;
    for (let i = 0; i < n; i++) {
      const x = v[i];
      if (x - x === 0) m2 += (x - mean) * (x - mean);
    }
    this.merge(k, mean, m2);
  }

  /** Folds in the moments of another part of the same tensor (a slice another thread streamed). */
  absorb(other: MomentsState): void {
    this.count += other.count;
    this.nan += other.nan;
    this.inf += other.inf;
    this.zeros += other.zeros;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    if (other.finite > 0) this.merge(other.finite, other.mean, other.m2);
  }

  /** Adds `k` zeros (the implicit elements of a sparse tensor). */
  addZeros(k: number): void {
    if (k <= 0) return;
    this.count += k;
    this.zeros += k;
    if (0 < this.min) this.min = 0;
    if (0 > this.max) this.max = 0;
    this.merge(k, 0, 0);
  }

  private merge(k: number, mean: number, m2: number): void {
    const total = this.finite + k;
    const delta = mean - this.mean;
    this.mean += (delta * k) / total;
    this.m2 += m2 + (delta * delta * this.finite * k) / total;
    this.finite = total;
  }
}

/** What fastPass found in one chunk. */
const pass = { sum: 0, sq: 0, lo: 0, hi: 0, zeros: 0 };
/** The WebAssembly kernel's accumulators, reused chunk to chunk. */
const lanes: MomentLanes = {
  sum: new Float64Array(4),
  squares: new Float64Array(4),
  min: new Float32Array(4),
  max: new Float32Array(4),
  zeros: new Int32Array(4),
};

/**
 * Σx, Σx², extremes (continuing lo and hi) and |x| <= nearZero counts of one chunk, in four lanes
 * (element i in lane i mod 4, the tail in lane 0) summed as (s0 + s1) + (s2 + s3): the
 * WebAssembly kernel and the loop below give the same bits.
 */
function fastPass(v: Elements, n: number, lo: number, hi: number, nearZero: number): typeof pass {
  const wasm =
    n >= WASM_MIN && v instanceof Float32Array && Math.fround(lo) === lo && Math.fround(hi) === hi
      ? wasmKernels()
      : undefined;
  if (wasm) {
    lanes.sum.fill(0);
    lanes.squares.fill(0);
    lanes.min.fill(lo);
    lanes.max.fill(hi);
    lanes.zeros.fill(0);
    wasm.moments(v as Float32Array, n, nearZero, lanes);
    const { sum: s, squares: q, min, max, zeros: z } = lanes;
    pass.sum = s[0] + s[1] + (s[2] + s[3]);
    pass.sq = q[0] + q[1] + (q[2] + q[3]);
    pass.lo = Math.min(min[0], min[1], min[2], min[3]);
    pass.hi = Math.max(max[0], max[1], max[2], max[3]);
    pass.zeros = z[0] + z[1] + z[2] + z[3];
    return pass;
  }
  // Four independent accumulators: one add chain per element would wait on the previous add.
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0;
  let q0 = 0,
    q1 = 0,
    q2 = 0,
    q3 = 0;
  let lo0 = lo,
    lo1 = lo,
    hi0 = hi,
    hi1 = hi;
  let zeros = 0;
  const thr = nearZero;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const x0 = v[i],
      x1 = v[i + 1],
      x2 = v[i + 2],
      x3 = v[i + 3];
    s0 += x0;
    s1 += x1;
    s2 += x2;
    s3 += x3;
    q0 += x0 * x0;
    q1 += x1 * x1;
    q2 += x2 * x2;
    q3 += x3 * x3;
    // New extremes are rare after the first few values, so these branches predict well; NaN takes the careful path.
    if (x0 < lo0) lo0 = x0;
    if (x1 < lo1) lo1 = x1;
    if (x2 < lo0) lo0 = x2;
    if (x3 < lo1) lo1 = x3;
    if (x0 > hi0) hi0 = x0;
    if (x1 > hi1) hi1 = x1;
    if (x2 > hi0) hi0 = x2;
    if (x3 > hi1) hi1 = x3;
    if (Math.abs(x0) <= thr) zeros++;
    if (Math.abs(x1) <= thr) zeros++;
    if (Math.abs(x2) <= thr) zeros++;
    if (Math.abs(x3) <= thr) zeros++;
  }
  for (; i < n; i++) {
    const x = v[i];
    s0 += x;
    q0 += x * x;
    if (x < lo0) lo0 = x;
    if (x > hi0) hi0 = x;
    if (Math.abs(x) <= thr) zeros++;
  }
  pass.sum = s0 + s1 + (s2 + s3);
  pass.sq = q0 + q1 + (q2 + q3);
  pass.lo = lo0 < lo1 ? lo0 : lo1;
  pass.hi = hi0 > hi1 ? hi0 : hi1;
  pass.zeros = zeros;
  return pass;
}

/** numpy.histogram(values, bins, range=(min, max)) semantics, including its edge corrections. */
export class HistogramBuilder {
  /** Two lanes of bins + 1 counters: the extra one collects values outside the range (and NaN). */
  private readonly lanes: [Uint32Array, Uint32Array];
  private readonly top: number;
  readonly first: number;
  readonly last: number;
  private readonly edges: Float64Array;
  private readonly norm: number;
  private readonly margin: number;

  constructor(min: number, max: number, bins: number) {
    // numpy widens an empty range by 0.5 on each side.
    this.first = min === max ? min - 0.5 : min;
    this.last = min === max ? max + 0.5 : max;
    this.lanes = [new Uint32Array(bins + 1), new Uint32Array(bins + 1)];
    this.top = bins - 1;
    this.edges = binEdges(this.first, this.last, bins);
    this.norm = bins / (this.last - this.first);
    // How far (in bins) rounding can move a value or an edge: a few ulps of the largest magnitude.
    this.margin =
      8 * Number.EPSILON * Math.max(Math.abs(this.first), Math.abs(this.last)) * this.norm + 1e-12;
  }

  /** The bin of x, or -1 when x is outside the range (or NaN). */
  binOf(x: number): number {
    if (!(x >= this.first && x <= this.last)) return -1;
    const f = (x - this.first) * this.norm;
    const b = f | 0;
    // Rounding can only move a value across an edge it sits within a few ulps of: well inside a
    // bin, truncation already agrees with numpy and the edge table need not be consulted.
    const frac = f - b;
    if (frac > this.margin && frac < 1 - this.margin && b < this.top) return b;
    return edgeBin(x, b, this.top, this.edges);
  }

  /**
   * Float32 chunks go to the WebAssembly kernel; others to addToBins. Both keep interleaved lanes of
   * counts: consecutive weights tend to fall in the same bin, and incrementing one counter back to
   * back stalls on the previous store.
   */
  add(v: Elements, n: number): void {
    const wasm = n >= WASM_MIN && v instanceof Float32Array ? wasmKernels() : undefined;
    if (wasm)
      wasm.histogram(
        v as Float32Array,
        n,
        this.first,
        this.last,
        this.norm,
        this.margin,
        this.edges,
        this.lanes[0],
      );
    else
      addToBins(
        this.lanes[0],
        this.lanes[1],
        v,
        n,
        this.first,
        this.last,
        this.norm,
        this.margin,
        this.top,
        this.edges,
      );
  }

  /** Adds the counts of a slice of the same tensor, binned by a builder over the same range. */
  addCounts(counts: Uint32Array): void {
    const lane = this.lanes[0];
    for (let b = 0; b <= this.top; b++) lane[b] += counts[b];
  }

  addZeros(k: number): void {
    const b = this.binOf(0);
    if (k > 0 && b >= 0) this.lanes[0][b] += k;
  }

  /** The counts (lanes summed); call once, after the last add. */
  histogram(): Histogram {
    const [c0, c1] = this.lanes;
    const counts = new Uint32Array(this.top + 1);
    for (let b = 0; b < counts.length; b++) counts[b] = c0[b] + c1[b];
    return { min: this.first, max: this.last, counts };
  }
}

/** The bin of x in [first, last] by numpy's edge corrections, from its truncated estimate `b`. */
function edgeBin(x: number, b: number, top: number, edges: Float64Array): number {
  if (b > top) b = top;
  if (x < edges[b]) b--;
  else if (b !== top && x >= edges[b + 1]) b++;
  return b;
}

/** The hot loop of HistogramBuilder.add, on locals: values outside [first, last] land in counter `top + 1`. */
function addToBins(
  c0: Uint32Array,
  c1: Uint32Array,
  v: Elements,
  n: number,
  first: number,
  last: number,
  norm: number,
  margin: number,
  top: number,
  edges: Float64Array,
): void {
  const upper = 1 - margin;
  const outside = top + 1;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const x0 = v[i];
    const x1 = v[i + 1];
    const f0 = (x0 - first) * norm;
    const f1 = (x1 - first) * norm;
    let b0 = f0 | 0;
    let b1 = f1 | 0;
    const r0 = f0 - b0;
    const r1 = f1 - b1;
    if (!(r0 > margin && r0 < upper && b0 < top))
      b0 = x0 >= first && x0 <= last ? edgeBin(x0, b0, top, edges) : outside;
    if (!(r1 > margin && r1 < upper && b1 < top))
      b1 = x1 >= first && x1 <= last ? edgeBin(x1, b1, top, edges) : outside;
    c0[b0]++;
    c1[b1]++;
  }
  if (i < n) {
    const x = v[i];
    const f = (x - first) * norm;
    let b = f | 0;
    const r = f - b;
    if (!(r > margin && r < upper && b < top))
      b = x >= first && x <= last ? edgeBin(x, b, top, edges) : outside;
    c0[b]++;
  }
}

/**
 * Runs the chunk kernels once on values that take every branch, both element types. V8 would
 * otherwise optimize them before a rare branch (an edge, a new extreme) ever ran, and optimized
 * code that meets a branch without feedback bails out to the interpreter on every chunk that takes it.
 */
function warmUp(): void {
  const spread = [0, 1, -1, 2, -2, 0.5, 3, -3, 0.25, 1.5, -0.5, 0];
  const offset = spread.map((x) => 1000 + x);
  const odd = [...spread, NaN, Infinity, -Infinity, 1e300, -1e300];
  for (const make of [
    (a: number[]) => Float32Array.from(a),
    (a: number[]) => Float64Array.from(a),
  ]) {
    for (const values of [spread, offset, odd]) {
      const v = make(values);
      for (const nearZero of [0, 0.1]) new Moments(nearZero).add(v, v.length);
      for (const [lo, hi] of [
        [-3, 3],
        [-1, 2],
        [1000, 1001],
      ])
        new HistogramBuilder(lo, hi, 4).add(v, v.length);
    }
  }
}
warmUp();

/** Percentile q (0..1) interpolated inside the histogram bin where the cumulative count crosses it. */
export function histogramPercentile(h: Histogram, total: number, q: number): number | null {
  if (total === 0) return null;
  const target = q * total;
  const width = (h.max - h.min) / h.counts.length;
  let cum = 0;
  for (let b = 0; b < h.counts.length; b++) {
    const c = h.counts[b];
    if (c > 0 && cum + c >= target) return h.min + (b + (target - cum) / c) * width;
    cum += c;
  }
  return h.max;
}

/** Shannon entropy of the histogram, bits per element. */
export function histogramEntropy(counts: Uint32Array): number {
  let total = 0;
  for (const c of counts) total += c;
  if (total === 0) return 0;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / total) * Math.log2(c / total);
  return h;
}

/** The first `n` values of `v` in cache-sized chunks. */
function forChunks(
  v: Float32Array,
  n: number,
  sink: (chunk: Float32Array, n: number) => void,
): void {
  for (let at = 0; at < n; at += CHUNK_ELEMENTS)
    sink(v.subarray(at, Math.min(n, at + CHUNK_ELEMENTS)), Math.min(CHUNK_ELEMENTS, n - at));
}

/**
 * Two passes over a tensor's elements: moments, then the histogram over [min, max]. With `held`
 * (a thread's reusable buffers), float32 values of up to `held.limit` bytes are kept from the
 * first pass for the second instead of being read and decoded again.
 */
export function computeTensorStats(
  source: RandomAccessSource,
  ref: TensorRef,
  openFile: SourceOpener,
  options: StatsOptions,
  held?: { scratch: FloatScratch; limit: number },
): TensorStats {
  const implicitZeros = ref.storage.kind === 'sparse' ? ref.count - ref.storage.valueCount : 0;
  const m = new Moments(options.nearZero);
  const keep = held && ref.count * 4 <= held.limit ? held.scratch.get(0, ref.count) : undefined;
  let kept = 0;
  if (keep && readRawFloat32(source, ref, openFile, keep)) {
    kept = ref.count;
    forChunks(keep, kept, (v, n) => m.add(v, n));
  } else {
    streamElements(source, ref, openFile, (v, n) => {
      m.add(v, n);
      // Only float32 chunks are kept (others were decoded to float64): one of those and the second pass reads again.
      if (keep && kept >= 0 && v instanceof Float32Array && kept + n <= keep.length) {
        keep.set(v.subarray(0, n), kept);
        kept += n;
      } else kept = -1;
    });
  }
  m.addZeros(implicitZeros);
  const hb = new HistogramBuilder(...histogramRange(m), options.bins);
  if (m.finite > 0) {
    if (keep && kept >= 0) {
      forChunks(keep, kept, (v, n) => hb.add(v, n));
    } else streamElements(source, ref, openFile, (v, n) => hb.add(v, n));
    hb.addZeros(implicitZeros);
  }
  return finishStats(m, hb.histogram());
}

/** The histogram's range: the finite values' [min, max], or numpy's [-0.5, 0.5] around 0 when there are none. */
export function histogramRange(m: MomentsState): [number, number] {
  return m.finite > 0 ? [m.min, m.max] : [0, 0];
}

/** A tensor's statistics from its moments and its histogram over histogramRange. */
export function finishStats(m: MomentsState, histogram: Histogram): TensorStats {
  const hasFinite = m.finite > 0;
  return {
    count: m.count,
    min: hasFinite ? m.min : null,
    max: hasFinite ? m.max : null,
    mean: hasFinite ? m.mean : null,
    std: hasFinite ? Math.sqrt(m.m2 / m.finite) : null,
    zeros: m.zeros,
    sparsity: m.count ? m.zeros / m.count : 0,
    nan: m.nan,
    inf: m.inf,
    histogram,
    p1: histogramPercentile(histogram, m.finite, 0.01),
    p50: histogramPercentile(histogram, m.finite, 0.5),
    p99: histogramPercentile(histogram, m.finite, 0.99),
    entropy: histogramEntropy(histogram.counts),
  };
}

/**
 * Elements [from, to) of a tensor whose whole-byte elements lie plainly in a file, as a tensor of
 * their own, so threads can share one huge tensor's passes; undefined for any other storage (or a
 * byte length that does not match the shape, which the whole tensor's pass reports).
 */
export function tensorSlice(ref: TensorRef, from: number, to: number): TensorRef | undefined {
  const st = ref.storage;
  const bits = dtypeInfo(ref.dtype).bits;
  if (
    (st.kind !== 'range' && st.kind !== 'external') ||
    !(bits >= 8) ||
    bits % 8 ||
    st.length !== (ref.count * bits) / 8
  )
    return undefined;
  const eb = bits / 8;
  return {
    ...ref,
    dims: [to - from],
    count: to - from,
    bytes: (to - from) * eb,
    storage: { ...st, offset: st.offset + from * eb, length: (to - from) * eb },
  };
}

/** The first pass over a slice: its moments, for the caller to absorb into the tensor's. */
export function sliceMoments(
  source: RandomAccessSource,
  slice: TensorRef,
  openFile: SourceOpener,
  options: StatsOptions,
): MomentsState {
  const m = new Moments(options.nearZero);
  streamElements(source, slice, openFile, (v, n) => m.add(v, n));
  const { count, finite, nan, inf, zeros, min, max, mean, m2 } = m;
  return { count, finite, nan, inf, zeros, min, max, mean, m2 };
}

/** The second pass over a slice: its histogram counts over the whole tensor's range, for the caller to add up. */
export function sliceHistogram(
  source: RandomAccessSource,
  slice: TensorRef,
  openFile: SourceOpener,
  options: StatsOptions,
  range: [number, number],
): Uint32Array {
  const hb = new HistogramBuilder(range[0], range[1], options.bins);
  streamElements(source, slice, openFile, (v, n) => hb.add(v, n));
  return hb.histogram().counts;
}
