/** Combines per-tensor histograms into one, over the global range or a robust one. Pure: unit-tested without a DOM. */
import { binEdges } from '../src/core/stats/edges';
import type { Histogram } from '../src/core/stats/types';

export interface RebinSource {
  histogram: Histogram;
  /** Smallest and largest finite value in the tensor: no mass lies outside, whatever the bin edges. */
  min: number;
  max: number;
  /** The caller's name for the tensor (its index), reported back with its outliers. */
  id?: number;
}

export interface CombinedHistogram {
  min: number;
  max: number;
  /** Fractional: a source bin's count is split between the target bins it overlaps. */
  counts: Float64Array;
  total: number;
}

const usable = (s: RebinSource) =>
  Number.isFinite(s.min) && Number.isFinite(s.max) && s.min <= s.max;

/**
 * Re-bins every source into `bins` equal bins over [min of mins, max of maxes] (or over `range`),
 * spreading each source bin's count over the target bins it overlaps in proportion to the overlap.
 * A source bin is first clipped to its tensor's [min, max] (and to the half-open `range`, dropping
 * the share outside); a bin that clips to a point adds its count to the one target bin holding that point.
 * Returns null when no source has a finite range.
 */
export function combineHistograms(
  sources: readonly RebinSource[],
  bins: number,
  range?: { lo: number; hi: number },
): CombinedHistogram | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of sources) {
    if (!usable(s)) continue;
    lo = Math.min(lo, s.min);
    hi = Math.max(hi, s.max);
  }
  if (lo > hi) return null;
  if (range) ({ lo, hi } = range);
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
    if (!usable(s)) continue;
    const h = s.histogram;
    const n = h.counts.length;
    const srcWidth = (h.max - h.min) / n;
    for (let i = 0; i < n; i++) {
      let c = h.counts[i];
      if (c === 0) continue;
      let a = Math.max(s.min, Math.min(s.max, h.min + i * srcWidth));
      let b = Math.max(s.min, Math.min(s.max, h.min + (i + 1) * srcWidth));
      if (range) {
        if (b < lo || a >= hi) continue;
        // Keep the share of the count that lies inside the range.
        const keep = b > a ? (Math.min(b, hi) - Math.max(a, lo)) / (b - a) : 1;
        c *= keep;
        a = Math.max(a, lo);
        b = Math.min(b, hi);
      }
      total += c;
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

/** Quantiles that bound the bulk of the weights. */
export const ROBUST_QUANTILES = { low: 0.001, high: 0.999 } as const;
/** How far past them, in multiples of their distance (a span), a value must lie to be clipped: a Tukey fence. */
export const FENCE_SPANS = 1;
/** How far (in the same spans) a bound may move out to the edge of a source bin it would split. */
export const MAX_SPANS = 2;
/** Clip only when it widens the drawn bulk at least this much: clipping a hair off the full range helps no one. */
export const MIN_GAIN = 2;

/**
 * The quantiles `qs` (0..1) of all sources together, each source bin's count spread evenly over its
 * extent clipped to the tensor's [min, max]: exact to within one source bin (and a 1e-5 share of
 * the mass, where the search stops). Null without mass.
 */
export function mixtureQuantiles(
  sources: readonly RebinSource[],
  qs: readonly number[],
): number[] | null {
  // Sorted by max: the sources wholly below x are a prefix, summed at once; only the rest are walked.
  const ok = sources.filter(usable).sort((x, y) => x.max - y.max);
  const k = ok.length;
  // Flat arrays: the bisection below walks the sources some 60 times, and 20,000 of them must stay fast.
  const min = new Float64Array(k);
  const max = new Float64Array(k);
  const first = new Float64Array(k);
  const width = new Float64Array(k);
  const wholes = new Float64Array(k + 1);
  const prefixes = ok.map((s) => prefixOf(s.histogram.counts));
  let lo = Infinity;
  ok.forEach((s, i) => {
    const h = s.histogram;
    [min[i], max[i], first[i], width[i]] = [s.min, s.max, h.min, (h.max - h.min) / h.counts.length];
    wholes[i + 1] = wholes[i] + prefixes[i][h.counts.length];
    lo = Math.min(lo, s.min);
  });
  const total = wholes[k];
  if (!(total > 0)) return null;
  const hi = max[k - 1];
  /** Mass at or below x. */
  const below = (x: number): number => {
    // The first source whose max exceeds x.
    let [l, r] = [0, k];
    while (l < r) {
      const m = (l + r) >> 1;
      if (max[m] <= x) l = m + 1;
      else r = m;
    }
    let m = wholes[l];
    for (let i = l; i < k; i++) {
      if (x < min[i]) continue;
      const prefix = prefixes[i];
      const n = prefix.length - 1;
      const j = Math.min(n - 1, Math.max(0, Math.floor((x - first[i]) / width[i])));
      const a = Math.max(min[i], first[i] + j * width[i]);
      const b = Math.min(max[i], first[i] + (j + 1) * width[i]);
      const c = prefix[j + 1] - prefix[j];
      m += prefix[j] + (b > a ? c * Math.min(1, Math.max(0, (x - a) / (b - a))) : c);
    }
    return m;
  };
  return qs.map((q) => {
    const target = q * total;
    let [a, b] = [lo, hi];
    let [ma, mb] = [0, total];
    // Bisection on the value (the mass below is monotone in x), until a 1e-5 share of the mass or a double's precision separates the ends.
    for (let step = 0; step < 64 && mb - ma > 1e-5 * total; step++) {
      const mid = a + (b - a) / 2;
      if (mid <= a || mid >= b) break;
      const m = below(mid);
      if (m >= target) [b, mb] = [mid, m];
      else [a, ma] = [mid, m];
    }
    return b;
  });
}

/** Cumulative counts of a histogram, kept while its statistics live: the chart asks again on every batch that streams in. */
const prefixCache = new WeakMap<Uint32Array, Float64Array>();
function prefixOf(counts: Uint32Array): Float64Array {
  let p = prefixCache.get(counts);
  if (!p) {
    p = new Float64Array(counts.length + 1);
    for (let i = 0; i < counts.length; i++) p[i + 1] = p[i] + counts[i];
    prefixCache.set(counts, p);
  }
  return p;
}

/** A source's values beyond a robust range, counted exactly from its histogram. */
export interface SourceOutliers {
  id: number | undefined;
  below: number;
  above: number;
  /** All its values, when the source is left out whole: a bin of it spans a bound and is too wide to move the bound to its edge. */
  aside: number;
}

export interface RobustRange {
  /** Values in [lo, hi) are drawn; the rest are counted as outliers. */
  lo: number;
  hi: number;
  /** The quantiles the range was widened from. */
  qLow: number;
  qHigh: number;
  /** Values below lo and at or above hi, over the drawn sources; values of sources left out whole. */
  below: number;
  above: number;
  aside: number;
  /** Sources holding outliers (or left out), most values first. */
  sources: SourceOutliers[];
  /** The sources to draw: every usable one but those left out whole. */
  drawn: RebinSource[];
}

/** The smallest double greater than x (x finite). */
export function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  const f = new Float64Array([x]);
  const bits = new BigInt64Array(f.buffer);
  bits[0] += x > 0 ? 1n : -1n;
  return f[0];
}

/**
 * Where a half-open range's bound falls in one source. 'split' means some non-empty source bin
 * holds values on both sides, so counting by bins could not be exact; `to` is then the nearest
 * bound further out at which that bin lies wholly inside.
 */
function boundIn(
  s: RebinSource,
  x: number,
  side: 'low' | 'high',
  edges: Float64Array,
): { beyond: number; to?: number } {
  const c = s.histogram.counts;
  const last = c.length - 1;
  let beyond = 0;
  for (let i = 0; i <= last; i++) {
    if (c[i] === 0) continue;
    // The bin holds values in [a, edges[i + 1]) (the last bin: [a, max]), never past the tensor's extremes.
    const a = Math.max(edges[i], s.min);
    const closedTop = i === last || edges[i + 1] > s.max;
    if (side === 'high') {
      if (a >= x) beyond += c[i];
      else if (closedTop ? s.max >= x : edges[i + 1] > x)
        return { beyond, to: closedTop ? nextUp(s.max) : edges[i + 1] };
    } else if (closedTop ? s.max < x : edges[i + 1] <= x) beyond += c[i];
    else if (a < x) return { beyond, to: a };
  }
  return { beyond };
}

/**
 * A range for the whole-model histogram that a few extreme values cannot squash: the quantiles
 * ROBUST_QUANTILES widened by FENCE_SPANS times their distance on each side, then moved outwards
 * (up to MAX_SPANS) until no non-empty source bin straddles a bound, so the outliers beyond it are
 * counted exactly; a source whose straddling bin lies further out is left out of the chart whole.
 * Null when nothing lies past the widened quantiles or clipping gains less than MIN_GAIN.
 */
export function robustRange(sources: readonly RebinSource[]): RobustRange | null {
  const ok = sources.filter(usable);
  const q = mixtureQuantiles(ok, [ROBUST_QUANTILES.low, ROBUST_QUANTILES.high]);
  if (!q) return null;
  const [qLow, qHigh] = q;
  if (!(qHigh > qLow)) return null;
  let min = Infinity;
  let max = -Infinity;
  for (const s of ok) {
    min = Math.min(min, s.min);
    max = Math.max(max, s.max);
  }
  const span = qHigh - qLow;
  let lo = Math.max(min, qLow - FENCE_SPANS * span);
  let hi = Math.min(nextUp(max), qHigh + FENCE_SPANS * span);
  if (lo <= min && hi > max) return null;
  const [loLimit, hiLimit] = [qLow - MAX_SPANS * span, qHigh + MAX_SPANS * span];
  // Edges only of the few sources a bound passes through.
  const cache = new Map<RebinSource, Float64Array>();
  const edgesOf = (s: RebinSource) => {
    let e = cache.get(s);
    if (!e)
      cache.set(s, (e = binEdges(s.histogram.min, s.histogram.max, s.histogram.counts.length)));
    return e;
  };
  const aside = new Set<RebinSource>();
  // Each move only widens the range, past at least one more bin edge, so this ends.
  for (let moved = true; moved;) {
    moved = false;
    for (const s of ok) {
      if (aside.has(s)) continue;
      const down = s.min < lo && s.max >= lo ? boundIn(s, lo, 'low', edgesOf(s)).to : undefined;
      const up = s.min < hi && s.max >= hi ? boundIn(s, hi, 'high', edgesOf(s)).to : undefined;
      if ((down !== undefined && down < loLimit) || (up !== undefined && up > hiLimit))
        aside.add(s);
      else if (down !== undefined || up !== undefined) {
        [lo, hi, moved] = [down ?? lo, up ?? hi, true];
      }
    }
  }
  const drawn = ok.filter((s) => !aside.has(s));
  if (max - min < MIN_GAIN * (hi - lo)) return null;
  const out: SourceOutliers[] = [];
  let below = 0;
  let above = 0;
  let apart = 0;
  for (const s of ok) {
    if (aside.has(s)) {
      const n = total(s);
      apart += n;
      out.push({ id: s.id, below: 0, above: 0, aside: n });
      continue;
    }
    const b = s.max < lo ? total(s) : s.min < lo ? boundIn(s, lo, 'low', edgesOf(s)).beyond : 0;
    const a = s.min >= hi ? total(s) : s.max >= hi ? boundIn(s, hi, 'high', edgesOf(s)).beyond : 0;
    if (a + b === 0) continue;
    below += b;
    above += a;
    out.push({ id: s.id, below: b, above: a, aside: 0 });
  }
  const n = (o: SourceOutliers) => o.below + o.above + o.aside;
  out.sort((x, y) => n(y) - n(x));
  return { lo, hi, qLow, qHigh, below, above, aside: apart, sources: out, drawn };
}

function total(s: RebinSource): number {
  let n = 0;
  for (const c of s.histogram.counts) n += c;
  return n;
}
