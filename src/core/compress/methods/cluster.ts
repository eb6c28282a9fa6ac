/**
 * Weight sharing (Deep Compression): 1-D k-means with linear initialisation and Lloyd iterations.
 * The finite values are sorted once (radix sort on order-preserving keys); in sorted order every cluster
 * is a contiguous run, so one Lloyd iteration moves K-1 boundaries (local searches) and reads running sums
 * instead of passing over the data. Memory: one float32 copy of the tensor plus n/8 bytes of running sums.
 */

import { bitsOf, checkInt } from './layout';

export interface ClusterOptions {
  /** Codebook size K, 2..256 (default 16). */
  clusters?: number;
  /** Lloyd iterations at most (default 100,000: an iteration costs O(K·64), not O(n), and 1-D Lloyd on millions of values can need tens of thousands). */
  maxIterations?: number;
  /** Also stop when no centroid moves more than tolerance · (max - min) (default 0: only when no assignment changes). */
  tolerance?: number;
  /** Keep a centroid fixed at exactly 0 when the input has exact zeros, so pruned zeros stay zeros (default true). */
  preserveZeros?: boolean;
}

export interface Clustered {
  /** Sorted ascending; float32 as stored in the codebook. */
  centroids: Float32Array;
  /** Index of each value's nearest centroid (ties to the lower index). */
  indices: Uint8Array;
  /** Centroid updates performed. */
  iterations: number;
  /** True when assignments stopped changing (or the tolerance was met) within maxIterations. */
  converged: boolean;
}

/** Elements per block of the running sums: a Lloyd iteration costs O(K·BLOCK), independent of n. */
const BLOCK = 64;
const BUCKETS = 1 << 16;
/** Below this many values, sort and assign without the per-bucket tables. */
const SMALL = 1 << 16;
/** Buckets up to this size are insertion-sorted; larger ones are radix-sorted. */
const INSERTION_MAX = 32;

/** Order-preserving key of float32 bits: negative floats reversed below positive ones, as unsigned 32-bit. */
function orderKey(b: number): number {
  return (b & 0x80000000 ? ~b : b | 0x80000000) >>> 0;
}

/** The float value whose order key is `key`. */
function keyValue(key: number, scratch: Uint32Array, view: Float32Array): number {
  scratch[0] = key & 0x80000000 ? key & 0x7fffffff : ~key;
  return view[0];
}

/**
 * Finite values in ascending order: scatter by the top 16 bits of the order key (MSD), then sort each bucket
 * by its low 16 bits with two stable 8-bit counting passes through a scratch buffer (LSD), or by insertion
 * when it is tiny. O(n) with no comparison sort; extra memory is the largest bucket.
 */
function sortedFinite(values: Float32Array): Float32Array {
  const u = bitsOf(values);
  const n = u.length;
  // Small tensors: the 65,536-bucket tables would cost more than a comparison sort.
  if (n < SMALL) return values.filter((v) => v - v === 0).sort();
  const start = new Float64Array(BUCKETS + 1);
  for (let i = 0; i < n; i++) {
    const b = u[i];
    if ((b & 0x7f800000) !== 0x7f800000) start[(orderKey(b) >>> 16) + 1]++;
  }
  let largest = 0;
  for (let k = 0; k < BUCKETS; k++) {
    largest = Math.max(largest, start[k + 1]);
    start[k + 1] += start[k];
  }
  const sorted = new Float32Array(start[BUCKETS]);
  const bits = bitsOf(sorted);
  const fill = start.slice(0, BUCKETS);
  for (let i = 0; i < n; i++) {
    const b = u[i];
    if ((b & 0x7f800000) !== 0x7f800000) bits[fill[orderKey(b) >>> 16]++] = b;
  }
  const scratch = new Uint32Array(largest > INSERTION_MAX ? largest : 0);
  const low = new Uint32Array(256);
  const high = new Uint32Array(256);
  for (let k = 0; k < BUCKETS; k++) {
    const lo = start[k];
    const hi = start[k + 1];
    if (hi - lo <= INSERTION_MAX) {
      for (let i = lo + 1; i < hi; i++) {
        const v = sorted[i];
        let j = i - 1;
        while (j >= lo && sorted[j] > v) {
          sorted[j + 1] = sorted[j];
          j--;
        }
        sorted[j + 1] = v;
      }
      continue;
    }
    // Within a bucket every value has the same sign; the low 16 key bits are the bits, inverted when negative.
    const flip = k < BUCKETS / 2 ? 0xffff : 0;
    low.fill(0);
    high.fill(0);
    for (let i = lo; i < hi; i++) {
      const d = (bits[i] ^ flip) & 0xffff;
      low[d & 0xff]++;
      high[d >>> 8]++;
    }
    for (let c = 0, a = 0, b = 0; c < 256; c++) {
      const x = low[c];
      low[c] = a;
      a += x;
      const y = high[c];
      high[c] = b;
      b += y;
    }
    for (let i = lo; i < hi; i++) {
      const v = bits[i];
      scratch[low[(v ^ flip) & 0xff]++] = v;
    }
    for (let i = 0; i < hi - lo; i++) {
      const v = scratch[i];
      bits[lo + high[((v ^ flip) & 0xffff) >>> 8]++] = v;
    }
  }
  return sorted;
}

/** First index in sorted[lo, hi) whose value exceeds x. */
function upperBound(sorted: Float32Array, x: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * upperBound of x in sorted[lo, hi), searched outward from `hint` (in [lo, hi]) with doubling steps:
 * O(log d) for an answer d places away, and cache-local when boundaries move little between iterations.
 */
function gallop(sorted: Float32Array, x: number, hint: number, lo: number, hi: number): number {
  if (hint < hi && !(sorted[hint] > x)) {
    let from = hint + 1;
    let step = 1;
    while (from + step - 1 < hi && !(sorted[from + step - 1] > x)) {
      from += step;
      step *= 2;
    }
    return upperBound(sorted, x, from, Math.min(hi, from + step - 1));
  }
  if (hint > lo && sorted[hint - 1] > x) {
    let to = hint - 1;
    let step = 1;
    while (to - step >= lo && sorted[to - step] > x) {
      to -= step;
      step *= 2;
    }
    return upperBound(sorted, x, Math.max(lo, to - step + 1), to);
  }
  return hint;
}

/** Cluster of x: how many boundaries lie strictly below it (a value on a boundary goes to the lower centroid). */
function clusterOf(bounds: Float64Array, x: number): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x > bounds[mid]) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Per bucket of the top 16 order-key bits: the cluster shared by its smallest and largest value, else -1.
 * Clusters grow with the value, so a shared cluster holds for every value in the bucket: no search needed.
 */
function bucketClusters(bounds: Float64Array): Int16Array {
  const direct = new Int16Array(BUCKETS);
  const scratch = new Uint32Array(1);
  const view = new Float32Array(scratch.buffer);
  for (let k = 0; k < BUCKETS; k++) {
    const lo = keyValue(k * 65536, scratch, view);
    const hi = keyValue(k * 65536 + 65535, scratch, view);
    const c = clusterOf(bounds, lo);
    direct[k] = lo === lo && hi === hi && clusterOf(bounds, hi) === c ? c : -1;
  }
  return direct;
}

/**
 * Clusters `values` into K shared values. Initial centroids are evenly spaced over [min, max] (Deep
 * Compression found linear initialisation best: it keeps the rare large weights represented). Lloyd
 * iterations move each centroid to the mean of its members until no assignment changes; an empty cluster
 * keeps its centroid. Centroids stay strictly sorted when they start distinct. With preserveZeros and
 * exact zeros present, the initial centroid nearest 0 is set to exactly 0 and never moves. Non-finite
 * values take no part in the centroids; ±Inf map to the extreme centroids, NaN to the one nearest 0.
 */
export function kmeans1d(values: Float32Array, options: ClusterOptions = {}): Clustered {
  const K = checkInt('clusters', options.clusters ?? 16, 2, 256);
  const maxIterations = checkInt('maxIterations', options.maxIterations ?? 100_000, 0, 1e9);
  const tolerance = options.tolerance ?? 0;
  if (!(tolerance >= 0)) throw new RangeError(`tolerance must be ≥ 0, got ${tolerance}`);
  const sorted = sortedFinite(values);
  const m = sorted.length;
  const centroids = new Float32Array(K);
  let fixed = -1;
  let iterations = 0;
  let converged = true;
  if (m > 0) {
    const min = sorted[0];
    const max = sorted[m - 1];
    for (let j = 0; j < K; j++) centroids[j] = min + ((max - min) * j) / (K - 1);
    centroids[K - 1] = max;
    // Values ≤ 0 outnumber values < 0 exactly when some value is ±0.
    if (
      (options.preserveZeros ?? true) &&
      upperBound(sorted, 0, 0, m) > upperBound(sorted, -Number.MIN_VALUE, 0, m)
    ) {
      fixed = 0;
      for (let j = 1; j < K; j++)
        if (Math.abs(centroids[j]) < Math.abs(centroids[fixed])) fixed = j;
      centroids[fixed] = 0;
    }
    // prefix[k]: sum of sorted[0, k·BLOCK), so a cluster sum costs at most 2·BLOCK additions.
    const blocks = Math.floor(m / BLOCK);
    const prefix = new Float64Array(blocks + 1);
    for (let k = 0; k < blocks; k++) {
      let s = 0;
      for (let i = k * BLOCK; i < (k + 1) * BLOCK; i++) s += sorted[i];
      prefix[k + 1] = prefix[k] + s;
    }
    const headSum = (end: number) => {
      const k = Math.floor(end / BLOCK);
      let s = prefix[k];
      for (let i = k * BLOCK; i < end; i++) s += sorted[i];
      return s;
    };
    // ends[j]: one past the last sorted index of cluster j; heads[j]: the sum of sorted[0, ends[j]).
    const ends = new Float64Array(K).fill(-1);
    const heads = new Float64Array(K);
    ends[K - 1] = m;
    heads[K - 1] = headSum(m);
    /** Moves every boundary to the new midpoints, searching outward from where it was; true if any moved. */
    const assign = () => {
      let moved = false;
      let floor = 0;
      for (let j = 0; j < K - 1; j++) {
        const p = gallop(
          sorted,
          (centroids[j] + centroids[j + 1]) / 2,
          Math.max(floor, ends[j]),
          floor,
          m,
        );
        if (p !== ends[j]) {
          ends[j] = p;
          heads[j] = headSum(p);
          moved = true;
        }
        floor = p;
      }
      return moved;
    };
    assign();
    const range = max - min;
    converged = false;
    while (iterations < maxIterations) {
      let shift = 0;
      let begin = 0;
      for (let j = 0; j < K; j++) {
        const end = ends[j];
        if (j !== fixed && end > begin) {
          let sum = 0;
          // Short runs are summed directly: a difference of two large running sums would lose their digits.
          if (end - begin <= 2 * BLOCK) for (let i = begin; i < end; i++) sum += sorted[i];
          else sum = heads[j] - (j > 0 ? heads[j - 1] : 0);
          // Clamped into the members' range so rounding in the sum can never push a centroid past a neighbour.
          const c = Math.fround(
            Math.min(sorted[end - 1], Math.max(sorted[begin], sum / (end - begin))),
          );
          shift = Math.max(shift, Math.abs(c - centroids[j]));
          centroids[j] = c;
        }
        begin = end;
      }
      iterations++;
      if (!assign() || shift <= tolerance * range) {
        converged = true;
        break;
      }
    }
  }

  const bounds = new Float64Array(K - 1);
  for (let j = 0; j < K - 1; j++) bounds[j] = (centroids[j] + centroids[j + 1]) / 2;
  let nanIndex = 0;
  for (let j = 1; j < K; j++)
    if (Math.abs(centroids[j]) < Math.abs(centroids[nanIndex])) nanIndex = j;
  const direct = values.length < SMALL ? null : bucketClusters(bounds);
  const u = bitsOf(values);
  const indices = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const c = direct ? direct[orderKey(u[i]) >>> 16] : -1;
    indices[i] = c >= 0 ? c : v === v ? clusterOf(bounds, v) : nanIndex;
  }
  return { centroids, indices, iterations, converged };
}

/** Reconstructs the shared values: centroids[indices[i]]. */
export function dequantizeClusters(result: Clustered): Float32Array {
  const { centroids, indices } = result;
  const out = new Float32Array(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = centroids[indices[i]];
  return out;
}
