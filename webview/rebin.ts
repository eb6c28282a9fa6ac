/** Combines per-tensor histograms into one over the global range. Pure: unit-tested without a DOM. */
import type { Histogram } from '../src/core/stats/types';

export interface RebinSource {
  histogram: Histogram;
  /** Smallest and largest finite value in the tensor: no mass lies outside, whatever the bin edges. */
  min: number;
  max: number;
}

export interface CombinedHistogram {
  min: number;
  max: number;
  /** Fractional: a source bin's count is split between the target bins it overlaps. */
  counts: Float64Array;
  total: number;
}

/**
 * Re-bins every source into `bins` equal bins over [min of mins, max of maxes], spreading each
 * source bin's count over the target bins it overlaps in proportion to the overlap. A source bin
 * is first clipped to its tensor's [min, max]; a bin that clips to a point adds its count to the
 * one target bin holding that point. Returns null when no source has a finite range.
 */
export function combineHistograms(sources: readonly RebinSource[], bins: number): CombinedHistogram | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of sources) {
    if (!Number.isFinite(s.min) || !Number.isFinite(s.max) || s.min > s.max) continue;
    lo = Math.min(lo, s.min);
    hi = Math.max(hi, s.max);
  }
  if (lo > hi) return null;
  // One value everywhere: widen like numpy does, so the single bin has a width.
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  const counts = new Float64Array(bins);
  const width = (hi - lo) / bins;
  const binOf = (x: number) => Math.min(bins - 1, Math.max(0, Math.floor((x - lo) / width)));
  let total = 0;
  for (const s of sources) {
    if (!Number.isFinite(s.min) || !Number.isFinite(s.max) || s.min > s.max) continue;
    const h = s.histogram;
    const n = h.counts.length;
    const srcWidth = (h.max - h.min) / n;
    for (let i = 0; i < n; i++) {
      const c = h.counts[i];
      if (c === 0) continue;
      total += c;
      const a = Math.max(s.min, Math.min(s.max, h.min + i * srcWidth));
      const b = Math.max(s.min, Math.min(s.max, h.min + (i + 1) * srcWidth));
      if (!(b > a)) {
        counts[binOf(a)] += c;
        continue;
      }
      const first = binOf(a);
      const last = binOf(b);
      if (first === last) {
        counts[first] += c;
        continue;
      }
      const density = c / (b - a);
      for (let j = first; j <= last; j++) {
        const edgeLo = j === first ? a : lo + j * width;
        const edgeHi = j === last ? b : lo + (j + 1) * width;
        if (edgeHi > edgeLo) counts[j] += density * (edgeHi - edgeLo);
      }
    }
  }
  return { min: lo, max: hi, counts, total };
}
