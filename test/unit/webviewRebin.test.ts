import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { combineHistograms, type RebinSource } from '../../webview/rebin';

const src = (min: number, max: number, counts: number[], dataMin = min, dataMax = max): RebinSource => ({
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
