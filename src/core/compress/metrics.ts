/** Error and entropy measures for the compression report (float64 accumulation throughout). */

import type { EntropyEstimate, ErrorMetrics } from './types';

/**
 * Reconstruction error of `reconstructed` against `original`. SQNR = 10·log10(Σw² / Σ(w-ŵ)²): Infinity when
 * the noise is 0, -Infinity when the signal is 0 but the noise is not. Cosine is 1 when both vectors are zero
 * and 0 when exactly one is. Positions where both hold the same non-finite value (Inf kept as Inf, NaN as NaN)
 * count as exact and leave the sums alone; any other non-finite pair makes the sums non-finite, as it should.
 */
export function errorMetrics(original: Float32Array, reconstructed: Float32Array): ErrorMetrics {
  const n = original.length;
  if (reconstructed.length !== n) throw new RangeError(`lengths differ: ${n} vs ${reconstructed.length}`);
  let noise = 0;
  let signal = 0;
  let power = 0;
  let dot = 0;
  let maxAbs = 0;
  let zeros = 0;
  for (let i = 0; i < n; i++) {
    const w = original[i];
    const r = reconstructed[i];
    if (r === 0) zeros++;
    if (w === r || (w !== w && r !== r)) {
      if (w - w !== 0) continue;
    } else {
      const d = Math.abs(w - r);
      noise += d * d;
      if (d > maxAbs || d !== d) maxAbs = d;
    }
    signal += w * w;
    power += r * r;
    dot += w * r;
  }
  const sqnrDb = noise === 0 ? Infinity : signal === 0 ? -Infinity : 10 * Math.log10(signal / noise);
  const cosine = signal === 0 && power === 0 ? 1 : signal === 0 || power === 0 ? 0 : dot / Math.sqrt(signal * power);
  return { mse: n > 0 ? noise / n : 0, sqnrDb, maxAbs, cosine, sparsity: n > 0 ? zeros / n : 0 };
}

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
  const less = (a: number, b: number) => weight[a] < weight[b] || (weight[a] === weight[b] && a < b);
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
 */
export function entropyEstimate(symbols: Uint8Array | Int8Array | Uint16Array, alphabetSize: number): EntropyEstimate {
  if (!Number.isInteger(alphabetSize) || alphabetSize < 1 || alphabetSize > 65536) throw new RangeError(`alphabetSize must be 1..65536, got ${alphabetSize}`);
  const offset = symbols instanceof Int8Array ? Math.floor(alphabetSize / 2) : 0;
  const freq = new Float64Array(alphabetSize);
  for (let i = 0; i < symbols.length; i++) {
    const s = symbols[i] + offset;
    if (!(s >= 0 && s < alphabetSize)) throw new RangeError(`symbol ${symbols[i]} outside an alphabet of ${alphabetSize}`);
    freq[s]++;
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
  return { bitsPerWeight: entropy, huffmanBytes: Math.ceil(bits / 8) + huffmanCodebookBytes(alphabetSize, used) };
}
