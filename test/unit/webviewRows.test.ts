import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { buildRows, filterRows, sortRows, UNUSED_LAYER } from '../../webview/rows';
import type { TensorView } from '../../src/shared/protocol';
import type { TensorStats } from '../../src/core/stats/types';
import type { Layer } from '../../src/core/model';

const tensor = (name: string, count: number, dtype = 1): TensorView => ({
  name,
  dtype,
  dims: [count],
  count,
  bytes: count * 4,
  origin: 'initializer',
  scope: '',
});
const layer = (name: string, op: string, tensors: number[]): Layer => ({
  name,
  op,
  domain: '',
  scope: '',
  tensors,
  slots: tensors.map((_, i) => i),
});
const stats = (mean: number, sparsity: number): TensorStats => ({
  count: 10,
  min: mean - 1,
  max: mean + 1,
  mean,
  std: 1,
  zeros: sparsity * 10,
  sparsity,
  nan: 0,
  inf: 0,
  histogram: { min: mean - 1, max: mean + 1, counts: new Uint32Array(4) },
  p1: null,
  p50: null,
  p99: null,
  entropy: 1,
});

const tensors = [
  tensor('conv1.weight', 10),
  tensor('fc.weight', 300),
  tensor('layer10.w', 20),
  tensor('orphan', 5),
];
const layers = [
  layer('conv1', 'Conv', [0]),
  layer('layer2', 'Gemm', [2]),
  layer('layer10', 'Gemm', [2, 1]),
];

test('one row per layer/tensor pair in model order, unused tensors last', () => {
  const rows = buildRows(layers, tensors);
  assert.deepEqual(
    rows.map((r) => [r.layer, r.tensor]),
    [
      ['conv1', 0],
      ['layer2', 2],
      ['layer10', 2],
      ['layer10', 1],
      [UNUSED_LAYER, 3],
    ],
  );
});

test('filter matches layer, tensor name or op, case-insensitively', () => {
  const rows = buildRows(layers, tensors);
  assert.deepEqual(filterRows(rows, 'GEMM'), [1, 2, 3]);
  assert.deepEqual(filterRows(rows, 'fc.w'), [3]);
  assert.deepEqual(filterRows(rows, 'unused'), [4]);
  assert.deepEqual(filterRows(rows, '  '), [0, 1, 2, 3, 4]);
  assert.deepEqual(filterRows(rows, 'nothing'), []);
});

test('text columns sort naturally (layer2 before layer10) and ties keep model order', () => {
  const rows = buildRows(layers, tensors);
  const idx = [0, 1, 2, 3, 4];
  sortRows(idx, rows, tensors, [], { column: 'layer', descending: false });
  assert.deepEqual(idx, [4, 0, 1, 2, 3]);
  sortRows(idx, rows, tensors, [], { column: 'layer', descending: true });
  assert.deepEqual(idx, [2, 3, 1, 0, 4]);
});

test('rows without an op (unused tensors) sort last in both directions', () => {
  const rows = buildRows(layers, tensors);
  const idx = [4, 3, 2, 1, 0];
  sortRows(idx, rows, tensors, [], { column: 'op', descending: false });
  assert.deepEqual(idx, [0, 1, 2, 3, 4]);
  sortRows(idx, rows, tensors, [], { column: 'op', descending: true });
  assert.deepEqual(idx, [1, 2, 3, 0, 4]);
  sortRows(idx, rows, tensors, [], { column: 'tensor', descending: false });
  assert.deepEqual(idx, [0, 3, 1, 2, 4]);
});

test('numeric columns sort both ways with missing statistics always last', () => {
  const rows = buildRows(layers, tensors);
  const s: (TensorStats | undefined)[] = [stats(0.5, 0.1), undefined, stats(-2, 0.9), stats(3, 0)];
  const idx = [0, 1, 2, 3, 4];
  sortRows(idx, rows, tensors, s, { column: 'mean', descending: false });
  assert.deepEqual(idx, [1, 2, 0, 4, 3]);
  sortRows(idx, rows, tensors, s, { column: 'mean', descending: true });
  assert.deepEqual(idx, [4, 0, 1, 2, 3]);
  sortRows(idx, rows, tensors, s, { column: 'count', descending: true });
  assert.deepEqual(idx, [3, 1, 2, 0, 4]);
  sortRows(idx, rows, tensors, s, { column: 'sparsity', descending: true });
  assert.deepEqual(idx, [1, 2, 0, 4, 3]);
});
