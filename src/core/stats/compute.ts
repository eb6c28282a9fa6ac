import type { RandomAccessSource } from '../io/source';
import type { TensorRef } from '../model';
import { streamElements, type Elements, type SourceOpener } from './decode';
import type { Histogram, StatsOptions, TensorStats } from './types';

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
    let sum = 0;
    let absSum = 0;
    let min = this.min;
    let max = this.max;
    let zeros = 0;
    const thr = this.nearZero;
    // Branch-free where the data is unpredictable (signs): a mispredicted branch costs more than the loop body.
    for (let i = 0; i < n; i++) {
      const x = v[i];
      const a = Math.abs(x);
      sum += x;
      absSum += a;
      min = Math.min(min, x);
      max = Math.max(max, x);
      if (a <= thr) zeros++;
    }
    // Naive summation errs by at most n·eps·Σ|x|; accept when that is far inside 1e-7 of the mean (or 1e-13 absolute).
    const bound = n * 2.3e-16 * absSum;
    if (!(absSum < Infinity) || bound > Math.max(1e-7 * Math.abs(sum), 1e-13 * n)) {
      this.addCareful(v, n);
      return;
    }
    this.count += n;
    this.min = min;
    this.max = max;
    this.zeros += zeros;
    if (n === 0) return;
    const mean = sum / n;
    let m2 = 0;
    for (let i = 0; i < n; i++) {
      const d = v[i] - mean;
      m2 += d * d;
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

/** Bin edges exactly as numpy.linspace(first, last, bins + 1) computes them. */
export function binEdges(first: number, last: number, bins: number): Float64Array {
  const edges = new Float64Array(bins + 1);
  const step = (last - first) / bins;
  for (let i = 0; i < bins; i++) edges[i] = i * step + first;
  edges[bins] = last;
  return edges;
}

/** numpy.histogram(values, bins, range=(min, max)) semantics, including its edge corrections. */
export class HistogramBuilder {
  private readonly lanes: Uint32Array[];
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
    this.lanes = [0, 1, 2, 3].map(() => new Uint32Array(bins));
    this.top = bins - 1;
    this.edges = binEdges(this.first, this.last, bins);
    this.norm = bins / (this.last - this.first);
    // How far (in bins) rounding can move a value or an edge: a few ulps of the largest magnitude.
    this.margin = 8 * Number.EPSILON * Math.max(Math.abs(this.first), Math.abs(this.last)) * this.norm + 1e-12;
  }

  /** The bin of x, or -1 when x is outside the range (or NaN). */
  binOf(x: number): number {
    if (!(x >= this.first && x <= this.last)) return -1;
    const top = this.top;
    const f = (x - this.first) * this.norm;
    let b = f | 0;
    // Rounding can only move a value across an edge it sits within a few ulps of: well inside a
    // bin, truncation already agrees with numpy and the edge table need not be consulted.
    const frac = f - b;
    if (frac > this.margin && frac < 1 - this.margin && b < top) return b;
    if (b > top) b = top;
    if (x < this.edges[b]) b--;
    else if (b !== top && x >= this.edges[b + 1]) b++;
    return b;
  }

  /**
   * Four interleaved lanes of counts: consecutive weights tend to fall in the same bin, and
   * incrementing one counter back to back stalls on the previous store.
   */
  add(v: Elements, n: number): void {
    const [c0, c1, c2, c3] = this.lanes;
    let i = 0;
    for (; i + 3 < n; i += 4) {
      const b0 = this.binOf(v[i]);
      const b1 = this.binOf(v[i + 1]);
      const b2 = this.binOf(v[i + 2]);
      const b3 = this.binOf(v[i + 3]);
      if (b0 >= 0) c0[b0]++;
      if (b1 >= 0) c1[b1]++;
      if (b2 >= 0) c2[b2]++;
      if (b3 >= 0) c3[b3]++;
    }
    for (; i < n; i++) {
      const b = this.binOf(v[i]);
      if (b >= 0) c0[b]++;
    }
  }

  addZeros(k: number): void {
    const b = this.binOf(0);
    if (k > 0 && b >= 0) this.lanes[0][b] += k;
  }

  /** The counts (lanes summed); call once, after the last add. */
  histogram(): Histogram {
    const [c0, c1, c2, c3] = this.lanes;
    const counts = new Uint32Array(c0.length);
    for (let b = 0; b < counts.length; b++) counts[b] = c0[b] + c1[b] + c2[b] + c3[b];
    return { min: this.first, max: this.last, counts };
  }
}

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

/** Two streaming passes over a tensor's elements: moments, then the histogram over [min, max]. */
export function computeTensorStats(
  source: RandomAccessSource,
  ref: TensorRef,
  openFile: SourceOpener,
  options: StatsOptions,
): TensorStats {
  const implicitZeros = ref.storage.kind === 'sparse' ? ref.count - ref.storage.valueCount : 0;
  const m = new Moments(options.nearZero);
  streamElements(source, ref, openFile, (v, n) => m.add(v, n));
  m.addZeros(implicitZeros);
  const hasFinite = m.finite > 0;
  const hb = new HistogramBuilder(hasFinite ? m.min : 0, hasFinite ? m.max : 0, options.bins);
  if (hasFinite) {
    streamElements(source, ref, openFile, (v, n) => hb.add(v, n));
    hb.addZeros(implicitZeros);
  }
  const histogram = hb.histogram();
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
