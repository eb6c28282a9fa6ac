import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  formatBytes,
  formatCompact,
  formatDims,
  formatDimsCompact,
  formatDuration,
  formatNumber,
  formatOpset,
  formatPercent,
  formatValueInfo,
} from '../../webview/format';
import { describeClip, overallSparsity, rankOps, summarizeTensors } from '../../webview/summary';
import { RequestClient } from '../../webview/rpc';
import type { FromWebview } from '../../src/shared/protocol';

test('numbers, sizes and percentages read well', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(102_760_448), '98.0 MiB');
  assert.equal(formatCompact(25_557_032), '25.6 M');
  assert.equal(formatCompact(9_999), '9,999');
  assert.equal(formatCompact(50_000), '50 k');
  assert.equal(formatCompact(2_500_000), '2.5 M');
  assert.equal(formatNumber(0.123456), '0.1235');
  assert.equal(formatNumber(-1.5e-5), '-1.5e-5');
  assert.equal(formatNumber(123456), '1.235e5');
  assert.equal(formatNumber(null), '—');
  assert.equal(formatNumber(-Infinity), '-Inf');
  assert.equal(formatPercent(0), '0%');
  assert.equal(formatPercent(0.0004), '<0.1%');
  assert.equal(formatPercent(0.5), '50.0%');
  assert.equal(formatPercent(0.02), '2.00%');
  assert.equal(formatPercent(1), '100%');
  assert.equal(formatPercent(0.0123), '1.23%');
  assert.equal(formatPercent(0.99999), '>99.9%');
  assert.equal(formatDims([]), 'scalar');
  assert.equal(formatDims([64, 3, 7, 7]), '[64, 3, 7, 7]');
  assert.equal(formatDimsCompact([64, 3, 7, 7]), '64×3×7×7');
  assert.equal(formatDimsCompact([]), 'scalar');
  assert.equal(formatValueInfo({ name: 'x', dtype: 1, shape: ['N', 3, null] }), 'float32[N, 3, ?]');
  assert.equal(formatOpset({ domain: '', version: 17 }), 'ai.onnx:17');
  assert.equal(formatOpset({ domain: 'com.microsoft', version: 1 }), 'com.microsoft:1');
  assert.equal(formatDuration(850), '850 ms');
  assert.equal(formatDuration(1234), '1.23 s');
  assert.equal(formatDuration(125_000), '2 min 5 s');
});

const t = (dtype: number, count: number, bytes: number) => ({
  name: `t${dtype}`,
  dtype,
  dims: [count],
  count,
  bytes,
  origin: 'initializer',
  scope: '',
});

test('parameters count float tensors only; bytes group by dtype, largest first', () => {
  const s = summarizeTensors([
    t(1, 100, 400),
    t(7, 4, 32),
    t(10, 50, 100),
    t(1, 10, 40),
    t(16, 3, 6),
  ]);
  assert.equal(s.parameters, 163);
  assert.equal(s.totalBytes, 578);
  assert.deepEqual(
    s.bytesByDtype.map((d) => [d.name, d.bytes, d.tensors]),
    [
      ['float32', 440, 2],
      ['float16', 100, 1],
      ['int64', 32, 1],
      ['bfloat16', 6, 1],
    ],
  );
});

test('overall sparsity fills in over float tensors that have statistics', () => {
  const tensors = [t(1, 100, 400), t(7, 10, 80), t(10, 100, 200)];
  const st = (zeros: number, count: number) => ({ zeros, count }) as never;
  assert.equal(overallSparsity(tensors, []).sparsity, null);
  const partial = overallSparsity(tensors, [st(25, 100), st(10, 10)]);
  assert.equal(partial.sparsity, 0.25);
  assert.equal(partial.tensors, 1);
  assert.equal(overallSparsity(tensors, [st(25, 100), st(10, 10), st(75, 100)]).sparsity, 0.5);
});

test('op types rank by count then name', () => {
  assert.deepEqual(rankOps({ Relu: 3, Add: 3, Conv: 9 }), [
    ['Conv', 9],
    ['Add', 3],
    ['Relu', 3],
  ]);
});

test('request client resolves results, rejects errors and ignores unknown ids', async () => {
  const sent: FromWebview[] = [];
  const client = new RequestClient((m) => sent.push(m));
  const a = client.request('exportStatistics', { format: 'csv' });
  const b = client.request('recompute', {});
  assert.deepEqual(sent, [
    { type: 'request', id: 1, method: 'exportStatistics', params: { format: 'csv' } },
    { type: 'request', id: 2, method: 'recompute', params: {} },
  ]);
  client.handleResponse({ type: 'response', id: 99, result: 'stale' });
  client.handleResponse({ type: 'response', id: 2, error: 'disk full' });
  client.handleResponse({ type: 'response', id: 1, result: { path: '/tmp/x.csv' } });
  await assert.rejects(b, /disk full/);
  assert.deepEqual(await a, { path: '/tmp/x.csv' });
});

test('the clipped chart says what it did, with the counts it was given', () => {
  const range = {
    lo: -6.344,
    hi: 8.634,
    qLow: -1.644,
    qHigh: 2.433,
    below: 86,
    above: 92,
    aside: 0,
    sources: [
      { id: 3, below: 0, above: 24, aside: 0 },
      { id: 5, below: 86, above: 68, aside: 0 },
    ],
    drawn: [],
  };
  const clipped = describeClip(range, false);
  assert.equal(
    clipped.headline,
    'Range p0.1–p99.9 ± its width, [-6.344, 8.634): 178 values beyond, in 2 tensors',
  );
  assert.match(
    clipped.how,
    /^p0\.1–p99\.9 of all float weights is -1\.644 … 2\.433; widened by its width/,
  );
  assert.equal(
    describeClip(range, true).headline,
    'Full range; the range p0.1–p99.9 ± its width, [-6.344, 8.634) would set apart 178 values beyond, in 2 tensors',
  );
  const aside = describeClip(
    {
      ...range,
      below: 0,
      above: 1,
      aside: 64,
      sources: [
        { id: 1, below: 0, above: 0, aside: 64 },
        { id: 2, below: 0, above: 1, aside: 0 },
      ],
    },
    false,
  );
  assert.equal(
    aside.headline,
    'Range p0.1–p99.9 ± its width, [-6.344, 8.634): 1 value beyond, 64 left out with its tensor, in 2 tensors',
  );
  assert.match(aside.how, /left out whole/);
});
