import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { HistogramBuilder } from '../../src/core/stats/compute';
import {
  combineHistograms,
  mixtureQuantiles,
  nextUp,
  robustRange,
  type RebinSource,
} from '../../webview/rebin';

const src = (
  min: number,
  max: number,
  counts: number[],
  dataMin = min,
  dataMax = max,
): RebinSource => ({
  histogram: { min, max, counts: Uint32Array.from(counts) },
  min: dataMin,
  max: dataMax,
});

const near = (actual: ArrayLike<number>, expected: number[]) => {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) < 1e-9, `bin ${i}: ${actual[i]} != ${expected[i]}`);
  }
};

test('a single source on the same grid comes back unchanged', () => {
  const r = combineHistograms([src(-1, 1, [1, 2, 3, 4])], 4);
  assert.ok(r);
  assert.equal(r.min, -1);
  assert.equal(r.max, 1);
  near(r.counts, [1, 2, 3, 4]);
  assert.equal(r.total, 10);
});

test('a source bin is split in proportion to its overlap with target bins', () => {
  // Target [0, 4] in 4 bins of width 1; the source bin [0.5, 2.5) holds 8 → 2, 4, 2.
  const r = combineHistograms([src(0.5, 2.5, [8], 0.5, 2.5), src(0, 4, [0, 0, 0, 0], 0, 4)], 4);
  assert.ok(r);
  near(r.counts, [2, 4, 2, 0]);
});

test('sources with different ranges combine over the global range and conserve mass', () => {
  const a = src(-2, 0, [5, 7, 11]);
  const b = src(-0.3, 3.1, [2, 3, 4, 6, 1]);
  const r = combineHistograms([a, b], 16);
  assert.ok(r);
  assert.equal(r.min, -2);
  assert.equal(r.max, 3.1);
  const sum = r.counts.reduce((s, c) => s + c, 0);
  assert.ok(Math.abs(sum - 39) < 1e-9, `sum ${sum}`);
  assert.equal(r.total, 39);
  // Nothing of `a` (all ≤ 0) may land above 0, and only `b` reaches past 0.
  const zeroBin = Math.floor((0 - r.min) / ((r.max - r.min) / 16));
  const above = r.counts.slice(zeroBin + 1).reduce((s, c) => s + c, 0);
  assert.ok(above <= 2 + 3 + 4 + 6 + 1 + 1e-9);
});

test('bins are clipped to the tensor data range before spreading', () => {
  // numpy-style edges for a constant tensor: [4.5, 5.5] but every value is exactly 5.
  const constant = src(4.5, 5.5, [0, 9, 0], 5, 5);
  const wide = src(0, 10, [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  const r = combineHistograms([constant, wide], 10);
  assert.ok(r);
  near(r.counts, [1, 0, 0, 0, 0, 9, 0, 0, 0, 1]);
});

test('a single constant value everywhere widens the range like numpy', () => {
  const r = combineHistograms([src(2, 2, [3], 2, 2)], 4);
  assert.ok(r);
  assert.equal(r.min, 1.5);
  assert.equal(r.max, 2.5);
  near(r.counts, [0, 0, 3, 0]);
});

test('no finite source gives null', () => {
  assert.equal(combineHistograms([], 8), null);
  assert.equal(combineHistograms([src(0, 1, [1], NaN, NaN)], 8), null);
});

test('a range keeps only the share of each source bin inside it', () => {
  // [0, 4] in 4 bins of 10; the range [1, 3) keeps bins 1 and 2 whole, in 2 target bins of width 1.
  const r = combineHistograms([src(0, 4, [10, 10, 10, 10])], 2, { lo: 1, hi: 3 });
  assert.ok(r);
  assert.equal(r.min, 1);
  assert.equal(r.max, 3);
  near(r.counts, [10, 10]);
  assert.equal(r.total, 20);
  // A bin cut by the range gives up the part outside: [0, 2) of 8 over [1, 3) keeps 4.
  const cut = combineHistograms([src(0, 2, [8], 0, 2)], 1, { lo: 1, hi: 3 });
  assert.ok(cut);
  near(cut.counts, [4]);
});

test('mixture quantiles spread each bin evenly over its extent', () => {
  const q = mixtureQuantiles([src(0, 10, [5, 5])], [0.25, 0.5, 0.9]);
  assert.ok(q);
  // The bisection stops once a 1e-5 share of the mass separates its ends: 1e-4 here.
  q.forEach((v, i) => assert.ok(Math.abs(v - [2.5, 5, 9][i]) <= 1e-4, `${v}`));
  assert.equal(mixtureQuantiles([], [0.5]), null);
});

test('nextUp is the next double', () => {
  assert.equal(nextUp(1), 1 + Number.EPSILON);
  assert.equal(nextUp(0), Number.MIN_VALUE);
  assert.ok(nextUp(-1) > -1 && nextUp(-1) === -1 + Number.EPSILON / 2);
});

/** Deterministic standard normal values (Box–Muller on a fixed LCG). */
function normals(n: number, seed: number, scale: number): Float64Array {
  let s = seed;
  const u = () => ((s = (s * 1103515245 + 12345) % 2147483648) + 1) / 2147483649;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++)
    out[i] = scale * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

/** A source from raw values through the real histogram builder, as the stats worker makes it. */
function fromValues(values: Float64Array, id: number): RebinSource {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) [min, max] = [Math.min(min, v), Math.max(max, v)];
  const b = new HistogramBuilder(min, max, 256);
  b.add(values, values.length);
  return { histogram: b.histogram(), min, max, id };
}

test('outliers beyond the robust range are counted exactly, value for value', () => {
  // Conv-like weights, biases with a wide spread, and a few huge BatchNorm variances.
  const weights = normals(200_000, 1, 0.05);
  const bias = normals(512, 3, 2);
  const variance = Float64Array.from({ length: 24 }, (_, i) => 1e6 * (i + 1));
  const raw = [weights, bias, variance];
  const sources = raw.map(fromValues);
  const r = robustRange(sources);
  assert.ok(r);
  assert.ok(r.hi < 10, `clipped far below the 1e6 outliers: ${r.hi}`);
  assert.equal(r.drawn.length, 3);
  const expected = raw
    .map((v, id) => ({
      id,
      below: v.filter((x) => x < r.lo).length,
      above: v.filter((x) => x >= r.hi).length,
      aside: 0,
    }))
    .filter((o) => o.below + o.above > 0)
    .sort((a, b) => b.below + b.above - (a.below + a.above));
  assert.deepEqual(r.sources, expected);
  assert.ok(expected.length === 2 && expected.some((o) => o.id === 2 && o.above === 24));
  assert.equal(
    r.below,
    expected.reduce((s, o) => s + o.below, 0),
  );
  assert.equal(
    r.above,
    expected.reduce((s, o) => s + o.above, 0),
  );
  // The chart holds exactly the values inside the range.
  const inside = raw.reduce((s, v) => s + v.filter((x) => x >= r.lo && x < r.hi).length, 0);
  const drawn = combineHistograms(r.drawn, 256, r);
  assert.ok(drawn && Math.abs(drawn.total - inside) < 1e-6, `${drawn?.total} != ${inside}`);
});

test('a source whose bin spans the range and far beyond it is left out whole', () => {
  // Ordinary variances and a few huge ones in one tensor: its first bin, [0, 1.95e5), holds the ordinary ones.
  const weights = normals(200_000, 1, 0.05);
  const variance = Float64Array.from(normals(64, 2, 1), (v, i) =>
    i < 5 ? 1e7 * (i + 1) : Math.abs(v) * 3,
  );
  const sources = [fromValues(weights, 0), fromValues(variance, 1)];
  const r = robustRange(sources);
  assert.ok(r);
  assert.ok(r.hi < 1, `${r.hi}`);
  assert.deepEqual(r.drawn, [sources[0]]);
  assert.equal(r.aside, 64);
  const below = weights.filter((x) => x < r.lo).length;
  const above = weights.filter((x) => x >= r.hi).length;
  const expected = [{ id: 1, below: 0, above: 0, aside: 64 }];
  if (below + above) expected.push({ id: 0, below, above, aside: 0 });
  assert.deepEqual(
    r.sources,
    expected.sort((a, b) => b.below + b.above + b.aside - (a.below + a.above + a.aside)),
  );
  assert.deepEqual([r.below, r.above], [below, above]);
});

test("a bound inside a non-empty source bin moves out to that bin's edge", () => {
  // The bulk sits in [-1, 1]; one coarse tensor has 3 values in its first bin [0, 1000/256) and one at 1000.
  const bulk = src(-1, 1, [5000, 5000], -1, 1);
  const counts = new Array<number>(256).fill(0);
  counts[0] = 3;
  counts[255] = 1;
  const coarse = src(0, 1000, counts, 0, 1000);
  const r = robustRange([bulk, coarse]);
  assert.ok(r);
  // The fence (about ±3) lies inside the coarse tensor's first bin: the range grows to its upper edge.
  assert.equal(r.hi, 1000 / 256);
  assert.equal(r.above, 1);
  assert.equal(r.below, 0);
});

test('well-spread weights keep their full range', () => {
  // A value or two just past the fence: clipping them would barely change the chart.
  assert.equal(
    robustRange([fromValues(normals(50_000, 4, 0.1), 0), fromValues(normals(300, 5, 0.3), 1)]),
    null,
  );
  // Nearly everything one value: no spread to clip around.
  assert.equal(
    robustRange([src(-1, 1, [0, 100_000, 0], 0, 0), src(-5, 5, [1, 0, 1], -5, 5)]),
    null,
  );
});
