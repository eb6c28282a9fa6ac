/** Error and entropy measures for the compression report (float64 accumulation throughout). */

import { WASM_MIN, wasmKernels, type CompareState } from '../wasm/kernels';
import type { EntropyEstimate, ErrorMetrics, Reconstruction } from './types';

/** Before/after histograms over the original's range, for the Compare overlay. */
export interface PairedHistograms {
  min: number;
  max: number;
  original: number[];
  compressed: number[];
}

const fround = Math.fround;

/** Bins of the before/after histograms in the report: enough to see quantization levels. */
const REPORT_BINS = 128;

/** Elements per kernel call: the kernels are called often enough for V8 to optimize them whole, not only their loops. */
const CHUNK = 1 << 16;

/**
 * Reconstruction error of `reconstructed` against `original`. SQNR = 10·log10(Σw² / Σ(w-ŵ)²): Infinity when
 * the noise is 0, -Infinity when the signal is 0 but the noise is not. Cosine is 1 when both vectors are zero
 * and 0 when exactly one is. Positions where both hold the same non-finite value (Inf kept as Inf, NaN as NaN)
 * count as exact and leave the sums alone; any other non-finite pair makes the sums non-finite, as it should.
 */
export function errorMetrics(original: Float32Array, reconstructed: Float32Array): ErrorMetrics {
  const { histograms: _, ...metrics } = compareReconstruction(original, reconstructed);
  return metrics;
}

/**
 * errorMetrics and the before/after histograms in one pass over both arrays. The histograms use
 * plain linear binning over the original's finite range, in float32 arithmetic (no numpy edge
 * rules: these are pictures, not the inspector's statistics).
 */
export function compareReconstruction(
  original: Float32Array,
  reconstructed: Float32Array | Reconstruction,
): ReportComparison {
  const n = original.length;
  if (reconstructed instanceof Float32Array && reconstructed.length !== n)
    throw new RangeError(`lengths differ: ${n} vs ${reconstructed.length}`);
  const runs: Reconstruction =
    reconstructed instanceof Float32Array
      ? (visit) => inChunks(reconstructed, visit)
      : reconstructed;
  const range = [Infinity, -Infinity];
  const wasm = n >= WASM_MIN ? wasmKernels() : undefined;
  if (wasm) wasm.finiteRange(original, 0, n, range);
  else
    for (let at = 0; at < n; at += CHUNK) finiteRange(original, at, Math.min(n, at + CHUNK), range);
  const c = startComparison(n, range);
  let covered = 0;
  const inOrder = (from: number, chunk: Float32Array) => {
    if (from !== covered || from + chunk.length > n)
      throw new RangeError(`reconstruction runs past ${n} values or out of order (at ${from})`);
    covered += chunk.length;
  };
  if (wasm) {
    // Whole groups of four in the kernel's lanes, a chunk's last few values here.
    wasm.compare(c, (add) =>
      runs((from, chunk) => {
        inOrder(from, chunk);
        const whole = chunk.length & ~3;
        add(original, from, chunk, whole);
        if (whole < chunk.length) compareTail(c, original, from + whole, chunk.subarray(whole));
      }),
    );
  } else {
    runs((from, chunk) => {
      inOrder(from, chunk);
      compareTail(c, original, from, chunk);
    });
  }
  if (covered !== n) throw new RangeError(`lengths differ: ${n} vs ${covered}`);
  return finishComparison(c);
}

/** What compareReconstruction reports. */
export type ReportComparison = ErrorMetrics & { histograms: PairedHistograms };

/**
 * compareReconstruction's running state (CompareState, as the kernels fold into it): the
 * histograms' range is the original's finite range, widened to a unit around a single value, and
 * each histogram has a counter past its last bin for what falls outside (and NaN), so no loop branches on it.
 */
export interface Comparison extends CompareState {
  /** Values compared. */
  n: number;
}

/** A comparison of n original values with a reconstruction still to be fed; `range` is the originals' finite [min, max] (±Infinity when none). */
export function startComparison(n: number, range: readonly number[]): Comparison {
  let [min, max] = range;
  if (!(min < max)) {
    min = (min <= max ? min : 0) - 0.5;
    max = min + 1;
  }
  return {
    n,
    min,
    max,
    sums: new Float64Array(SUMS),
    a: new Uint32Array(REPORT_BINS + 1),
    b: new Uint32Array(REPORT_BINS + 1),
  };
}

/** Folds w[from, from + r.length) against r into the comparison with the JavaScript loop (small arrays, kernels' tails, no WebAssembly). */
export function compareTail(c: Comparison, w: Float32Array, from: number, r: Float32Array): void {
  compareChunk(w, from, r, c.sums, c.a, c.b, c.min, c.max);
}

/** The metrics and histograms of a comparison fed every value. */
export function finishComparison(c: Comparison): ReportComparison {
  const n = c.n;
  const [noise, signal, power, dot, maxAbs, zeros] = c.sums;
  const sqnrDb =
    noise === 0 ? Infinity : signal === 0 ? -Infinity : 10 * Math.log10(signal / noise);
  const cosine =
    signal === 0 && power === 0
      ? 1
      : signal === 0 || power === 0
        ? 0
        : dot / Math.sqrt(signal * power);
  return {
    mse: n > 0 ? noise / n : 0,
    sqnrDb,
    maxAbs,
    cosine,
    sparsity: n > 0 ? zeros / n : 0,
    histograms: {
      min: c.min,
      max: c.max,
      original: Array.from(c.a.subarray(0, REPORT_BINS)),
      compressed: Array.from(c.b.subarray(0, REPORT_BINS)),
    },
  };
}

/** compareChunk's running sums, in this order: Σ(w-ŵ)², Σw², Σŵ², Σwŵ, max |w-ŵ|, zeros of ŵ. */
const SUMS = 6;

/** Min and max of the finite values in v[from, to), folded into range. */
function finiteRange(v: Float32Array, from: number, to: number, range: number[]): void {
  let lo = range[0];
  let hi = range[1];
  for (let i = from; i < to; i++) {
    const x = v[i];
    // Comparisons are false for NaN; ±Inf would pass them, so they are tested apart (rarely taken).
    if (x < lo && x !== -Infinity) lo = x;
    if (x > hi && x !== Infinity) hi = x;
  }
  range[0] = lo;
  range[1] = hi;
}

/** An array as a Reconstruction: cache-sized views in order. */
function inChunks(values: Float32Array, visit: (from: number, chunk: Float32Array) => void): void {
  for (let at = 0; at < values.length; at += CHUNK)
    visit(at, values.subarray(at, Math.min(values.length, at + CHUNK)));
}

/** Folds w[from, from + r.length) against r into the running sums and the two histograms over [min, max]. */
function compareChunk(
  w: Float32Array,
  from: number,
  r: Float32Array,
  sums: Float64Array,
  a: Uint32Array,
  b: Uint32Array,
  min: number,
  max: number,
): void {
  let noise = sums[0];
  let signal = sums[1];
  let power = sums[2];
  let dot = sums[3];
  let maxAbs = sums[4];
  let zeros = sums[5];
  const outside = REPORT_BINS;
  const top = REPORT_BINS - 1;
  // Bins in float32 arithmetic, as the WebAssembly kernel computes them four at a time.
  const lo = fround(min);
  const hi = fround(max);
  const norm = fround(REPORT_BINS / (max - min));
  for (let k = 0; k < r.length; k++) {
    const x = w[from + k];
    const y = r[k];
    if (y === 0) zeros++;
    const d = Math.abs(x - y);
    // Only a pair with a non-finite value makes d non-finite; the same Inf or NaN on both sides counts as exact and adds nothing.
    if (!(d < Infinity) && (x === y || (x !== x && y !== y))) continue;
    noise += d * d;
    if (d > maxAbs || d !== d) maxAbs = d;
    signal += x * x;
    power += y * y;
    dot += x * y;
    a[x >= lo && x <= hi ? Math.min(top, fround(fround(x - lo) * norm) | 0) : outside]++;
    b[y >= lo && y <= hi ? Math.min(top, fround(fround(y - lo) * norm) | 0) : outside]++;
  }
  sums[0] = noise;
  sums[1] = signal;
  sums[2] = power;
  sums[3] = dot;
  sums[4] = maxAbs;
  sums[5] = zeros;
}

/**
 * Runs the kernels once on small arrays that take every branch. Otherwise V8 compiles a kernel's
 * loop on its first long call, before the code after the loop or a rare branch has run, and that
 * compiled loop bails out to the interpreter again on every later call that reaches them.
 */
function warmUp(): void {
  const w = Float32Array.of(0, 1, -1, 2, NaN, Infinity, -Infinity, 0.5, 3, -2);
  const r = Float32Array.of(0, 1, -0.5, 2.5, NaN, Infinity, 1, 0, 3, -2);
  for (let k = 0; k < 2; k++) {
    compareReconstruction(w, r);
    compareReconstruction(r, w);
  }
}
warmUp();

/**
 * Bytes of the canonical-Huffman header counted in huffmanBytes: the smaller of one code-length
 * byte per alphabet symbol and (symbol, length) pairs for the symbols used — so a 16-bit alphabet
 * with few distinct values is not charged 64 KiB.
 */
export function huffmanCodebookBytes(alphabetSize: number, used = alphabetSize): number {
  const symbolBytes = Math.ceil(Math.log2(Math.max(2, alphabetSize)) / 8);
  return Math.min(alphabetSize, used * (symbolBytes + 1));
}

/**
 * Huffman code lengths for `freq` (0 for unused symbols), built with a binary min-heap over (weight, id)
 * so equal weights merge in a fixed order. A single used symbol gets a 1-bit code, as encoders emit.
 */
export function huffmanCodeLengths(freq: Float64Array): Uint8Array {
  const size = freq.length;
  const lengths = new Uint8Array(size);
  const used: number[] = [];
  for (let s = 0; s < size; s++) if (freq[s] > 0) used.push(s);
  if (used.length === 0) return lengths;
  if (used.length === 1) {
    lengths[used[0]] = 1;
    return lengths;
  }
  // Nodes 0..u-1 are leaves (used symbols), u.. are merges; parent[] links each node to its merge.
  const u = used.length;
  const weight = new Float64Array(2 * u - 1);
  const parent = new Int32Array(2 * u - 1);
  for (let i = 0; i < u; i++) weight[i] = freq[used[i]];
  const heap = new Int32Array(u);
  let count = 0;
  const less = (a: number, b: number) =>
    weight[a] < weight[b] || (weight[a] === weight[b] && a < b);
  const push = (node: number) => {
    let i = count++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(node, heap[p])) break;
      heap[i] = heap[p];
      i = p;
    }
    heap[i] = node;
  };
  const pop = () => {
    const top = heap[0];
    const last = heap[--count];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= count) break;
      if (c + 1 < count && less(heap[c + 1], heap[c])) c++;
      if (!less(heap[c], last)) break;
      heap[i] = heap[c];
      i = c;
    }
    heap[i] = last;
    return top;
  };
  for (let i = 0; i < u; i++) push(i);
  for (let next = u; count > 1; next++) {
    const a = pop();
    const b = pop();
    weight[next] = weight[a] + weight[b];
    parent[a] = next;
    parent[b] = next;
    push(next);
  }
  // Depth of a node = depth of its parent + 1; merges are numbered after their children, so walk down from the root.
  const depth = new Uint8Array(2 * u - 1);
  for (let node = 2 * u - 3; node >= 0; node--) depth[node] = depth[parent[node]] + 1;
  for (let i = 0; i < u; i++) lengths[used[i]] = depth[i];
  return lengths;
}

/**
 * Deep Compression's entropy-coding estimate for stored symbols. Signed symbols are centred on the
 * alphabet: symbol s counts as s + floor(alphabetSize / 2) (int8 codes with 256, int4 with 16, ternary with 3).
 * huffmanBytes = ceil(Σ freq·codeLength / 8) + huffmanCodebookBytes(alphabetSize, symbols used).
 * `byteCounts`: how often each byte value occurs in `symbols` (byte symbols only), when already counted.
 */
export function entropyEstimate(
  symbols: Uint8Array | Int8Array | Uint16Array,
  alphabetSize: number,
  byteCounts?: Float64Array,
): EntropyEstimate {
  if (!Number.isInteger(alphabetSize) || alphabetSize < 1 || alphabetSize > 65536)
    throw new RangeError(`alphabetSize must be 1..65536, got ${alphabetSize}`);
  const offset = symbols instanceof Int8Array ? Math.floor(alphabetSize / 2) : 0;
  const freq = new Float64Array(alphabetSize);
  const wasm = !byteCounts && symbols.length >= WASM_MIN ? wasmKernels() : undefined;
  if ((byteCounts || wasm) && !(symbols instanceof Uint16Array)) {
    let bytes = byteCounts;
    if (!bytes) wasm!.countBytes(symbols, (bytes = new Float64Array(256)));
    for (let byte = 0; byte < 256; byte++) {
      if (bytes[byte] === 0) continue;
      const symbol = symbols instanceof Int8Array ? (byte << 24) >> 24 : byte;
      if (!(symbol + offset >= 0 && symbol + offset < alphabetSize))
        throw new RangeError(`symbol ${symbol} outside an alphabet of ${alphabetSize}`);
      freq[symbol + offset] += bytes[byte];
    }
  } else {
    for (let i = 0; i < symbols.length; i++) {
      const s = symbols[i] + offset;
      if (!(s >= 0 && s < alphabetSize))
        throw new RangeError(`symbol ${symbols[i]} outside an alphabet of ${alphabetSize}`);
      freq[s]++;
    }
  }
  const n = symbols.length;
  let entropy = 0;
  for (let s = 0; s < alphabetSize; s++) {
    if (freq[s] > 0) {
      const p = freq[s] / n;
      entropy -= p * Math.log2(p);
    }
  }
  const lengths = huffmanCodeLengths(freq);
  let bits = 0;
  let used = 0;
  for (let s = 0; s < alphabetSize; s++) {
    bits += freq[s] * lengths[s];
    if (freq[s] > 0) used++;
  }
  return {
    bitsPerWeight: entropy,
    huffmanBytes: Math.ceil(bits / 8) + huffmanCodebookBytes(alphabetSize, used),
  };
}
