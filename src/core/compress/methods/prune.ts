/**
 * Pruning masks: Uint8Array per tensor, 1 = keep, 0 = prune. Magnitudes are compared as the float32
 * bit patterns of |w| (bits & 0x7fffffff), which order exactly like the magnitudes, with NaN above +Inf
 * (so NaN is never pruned by magnitude). Exact zeros have the smallest magnitude, so they count toward
 * a sparsity target before any nonzero weight is pruned.
 */

import type { WeightLayout } from '../types';
import { bitsOf, checkFraction, checkInt, splitAt } from './layout';
import { mulberry32 } from '../../random';

/** Number of weights a sparsity target prunes out of `total`: round(sparsity · total), halves up. */
export function pruneCount(total: number, sparsity: number): number {
  return Math.min(total, Math.round(checkFraction('sparsity', sparsity) * total));
}

/**
 * Smallest-magnitude key T and how many elements with key exactly T to prune (in tensor order, then index
 * order), such that keys < T plus those `ties` make exactly k. Radix select on the 31-bit keys: one
 * histogram of the top 16 bits, one of the low 15 bits inside the chosen bucket; no copy, no sort.
 */
function selectKey(arrays: readonly Uint32Array[], k: number): { key: number; ties: number } {
  const top = new Float64Array(1 << 16);
  for (const u of arrays) for (let i = 0; i < u.length; i++) top[(u[i] & 0x7fffffff) >>> 15]++;
  let below = 0;
  let b1 = 0;
  while (below + top[b1] < k) below += top[b1++];
  const low = new Float64Array(1 << 15);
  for (const u of arrays) {
    for (let i = 0; i < u.length; i++) {
      const key = u[i] & 0x7fffffff;
      if (key >>> 15 === b1) low[key & 0x7fff]++;
    }
  }
  let b2 = 0;
  while (below + low[b2] < k) below += low[b2++];
  return { key: (b1 << 15) | b2, ties: k - below };
}

/**
 * Magnitude pruning with one threshold over all `tensors` together (global scope): prunes exactly
 * round(sparsity · total) weights with the smallest |w|; among equal magnitudes at the threshold the
 * earlier tensor, then the lower index, is pruned first. O(total) time, three passes, no sorting.
 */
export function pruneGlobalMagnitude(
  tensors: readonly Float32Array[],
  sparsity: number,
): Uint8Array[] {
  let total = 0;
  for (const t of tensors) total += t.length;
  const k = pruneCount(total, sparsity);
  const masks = tensors.map((t) => new Uint8Array(t.length).fill(1));
  if (k === 0) return masks;
  if (k === total) {
    for (const m of masks) m.fill(0);
    return masks;
  }
  const arrays = tensors.map(bitsOf);
  const { key, ties } = selectKey(arrays, k);
  let left = ties;
  for (let t = 0; t < arrays.length; t++) {
    const u = arrays[t];
    const mask = masks[t];
    for (let i = 0; i < u.length; i++) {
      const a = u[i] & 0x7fffffff;
      if (a < key) mask[i] = 0;
      else if (a === key && left > 0) {
        mask[i] = 0;
        left--;
      }
    }
  }
  return masks;
}

/** Magnitude pruning within one tensor (layer scope): exactly round(sparsity · n) smallest |w| pruned. */
export function pruneMagnitude(values: Float32Array, sparsity: number): Uint8Array {
  return pruneGlobalMagnitude([values], sparsity)[0];
}

/** Prunes every weight with |w| < threshold (NaN is kept). */
export function pruneThreshold(values: Float32Array, threshold: number): Uint8Array {
  if (!(threshold >= 0)) throw new RangeError(`threshold must be ≥ 0, got ${threshold}`);
  const mask = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) mask[i] = Math.abs(values[i]) < threshold ? 0 : 1;
  return mask;
}

/** Mean |w| over the finite values (float64 accumulation); 0 for an empty or all-non-finite tensor. */
export function meanAbs(values: Float32Array): number {
  let s = 0;
  let k = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (a !== Infinity && a === a) {
      s += a;
      k++;
    }
  }
  return k > 0 ? s / k : 0;
}

/** Prunes every weight with |w| below the tensor's mean |w|. */
export function pruneMean(values: Float32Array): Uint8Array {
  return pruneThreshold(values, meanAbs(values));
}

/**
 * N:M structured pruning: in every group of m consecutive weights along layout.inputAxis (per position of
 * the other axes) keep the n largest |w|; on equal magnitudes the lower index is kept. A tail group of
 * L < m weights (axis length not a multiple of m) keeps ceil(n·L/m), the same density rounded toward keeping.
 * Cost is O(m) comparisons per weight.
 */
export function pruneNM(
  values: Float32Array,
  layout: WeightLayout,
  pattern: { n: number; m: number },
): Uint8Array {
  const m = checkInt('pattern m', pattern.m, 1, 1024);
  const keepN = checkInt('pattern n', pattern.n, 1, m);
  const count = values.length;
  const { outer, size, inner } = splitAt(layout, layout.inputAxis, count);
  const u = bitsOf(values);
  const mask = new Uint8Array(count);
  const keys = new Uint32Array(m);
  for (let o = 0; o < outer; o++) {
    for (let g = 0; g < size; g += m) {
      const len = Math.min(m, size - g);
      const keep = len === m ? keepN : Math.ceil((keepN * len) / m);
      const start = (o * size + g) * inner;
      for (let r = 0; r < inner; r++) {
        const base = start + r;
        if (keep >= len) {
          for (let j = 0; j < len; j++) mask[base + j * inner] = 1;
          continue;
        }
        for (let j = 0; j < len; j++) keys[j] = u[base + j * inner] & 0x7fffffff;
        for (let j = 0; j < len; j++) {
          // Rank of j: how many group members beat it (larger, or equal and earlier).
          const kj = keys[j];
          let rank = 0;
          for (let i = 0; i < len; i++) if (keys[i] > kj || (keys[i] === kj && i < j)) rank++;
          if (rank < keep) mask[base + j * inner] = 1;
        }
      }
    }
  }
  return mask;
}

/**
 * Random pruning over all `tensors` (a baseline for comparison), exactly round(sparsity · total) weights.
 * Exact zeros count first (the earliest ones, if there are more than the target); the remaining count is
 * drawn uniformly among the nonzero weights by selection sampling (Knuth's Algorithm S), one pass,
 * deterministic for a given seed.
 */
export function pruneGlobalRandom(
  tensors: readonly Float32Array[],
  sparsity: number,
  seed: number,
): Uint8Array[] {
  let total = 0;
  let zeros = 0;
  for (const t of tensors) {
    total += t.length;
    for (let i = 0; i < t.length; i++) if (t[i] === 0) zeros++;
  }
  const k = pruneCount(total, sparsity);
  const rng = mulberry32(seed);
  let zerosLeft = Math.min(k, zeros);
  let needed = k - zerosLeft;
  let candidates = total - zeros;
  return tensors.map((t) => {
    const mask = new Uint8Array(t.length);
    for (let i = 0; i < t.length; i++) {
      if (t[i] === 0) {
        if (zerosLeft > 0) zerosLeft--;
        else mask[i] = 1;
      } else {
        // Selects with probability needed/candidates: exact count, every subset equally likely.
        if (needed > 0 && rng() * candidates < needed) needed--;
        else mask[i] = 1;
        candidates--;
      }
    }
    return mask;
  });
}

/** Random pruning within one tensor: exactly round(sparsity · n) weights. */
export function pruneRandom(values: Float32Array, sparsity: number, seed: number): Uint8Array {
  return pruneGlobalRandom([values], sparsity, seed)[0];
}

/** A copy of `values` with pruned weights set to +0. */
export function applyMask(values: Float32Array, mask: Uint8Array): Float32Array {
  if (mask.length !== values.length)
    throw new RangeError(`mask has ${mask.length} entries for ${values.length} values`);
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = mask[i] ? values[i] : 0;
  return out;
}
