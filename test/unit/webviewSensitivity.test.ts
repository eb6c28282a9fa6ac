/** The Sensitivity tab's pure parts: goal fields, Re-run overrides, saved state, the wire view, byte sizes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SensitivityReport } from '../../src/core/compress/sensitivity';
import { parseByteSize } from '../../src/core/units';
import { fromWire } from '../../src/shared/reportProtocol';
import type { CompressReport } from '../../src/core/compress/report';
import type { Verdict } from '../../src/core/compress/verdict';
import { toMixedResult, toSensitivityView } from '../../src/shared/sensitivityView';
import { goalFrom, rerunOverrides } from '../../webview/rerun';
import { INITIAL_STATE, parseState } from '../../webview/state';

describe('Sensitivity tab', () => {
  it('reads the goal fields: none, a cosine in (0, 1], or a size with units', () => {
    assert.equal(goalFrom({ mode: 'none', cosine: 'junk', size: '' }), null);
    assert.deepEqual(goalFrom({ mode: 'cosine', cosine: ' 0.999 ', size: '' }), {
      targetCosine: 0.999,
    });
    assert.deepEqual(goalFrom({ mode: 'size', cosine: '', size: '80KB' }), { sizeBudget: 80_000 });
    assert.deepEqual(goalFrom({ mode: 'size', cosine: '', size: '1.5 MiB' }), {
      sizeBudget: 1_572_864,
    });
    for (const cosine of ['', '1.5', '0', '-0.5', 'abc'])
      assert.equal(typeof goalFrom({ mode: 'cosine', cosine, size: '' }), 'string', cosine);
    for (const size of ['', '0', '-3KB', '12 parsecs'])
      assert.equal(typeof goalFrom({ mode: 'size', cosine: '', size }), 'string', size);
  });

  it("Re-run sends pins always, and the last search's choices only when no goal re-decides them", () => {
    const pins = { 'fc1.weight': 'float' as const };
    const searched = {
      'fc1.weight': 'int8',
      'fc3.weight': 'fp16',
      'fc2.weight': 'int4',
      'fc4.weight': 'int4 (per block)',
    };
    assert.deepEqual(rerunOverrides('int4', pins, searched, true), { 'fc1.weight': 'float' });
    // Without a goal the table is written as shown: the pin wins over the search, the method needs no override, descriptions are no choice.
    assert.deepEqual(rerunOverrides('int4', pins, searched, false), {
      'fc1.weight': 'float',
      'fc3.weight': 'fp16',
    });
  });

  it('saved state keeps valid pins, choices and goal, and drops the rest', () => {
    assert.deepEqual(parseState(undefined), INITIAL_STATE);
    const s = parseState({
      tab: 'sensitivity',
      scan: { method: 'int4', samples: 16, seed: 3 },
      pins: { 'fc1.weight': 'float', 'fc2.weight': 'int3', 'fc3.weight': 7 },
      searched: { 'fc3.weight': 'fp16', x: null },
      goal: { mode: 'size', cosine: 0.9, size: '80KB' },
    });
    assert.equal(s.tab, 'sensitivity');
    assert.deepEqual(s.scan, { method: 'int4', samples: 16, seed: 3 });
    assert.deepEqual(s.pins, { 'fc1.weight': 'float' });
    assert.deepEqual(s.searched, { 'fc3.weight': 'fp16' });
    assert.deepEqual(s.goal, { mode: 'size', cosine: '0.999', size: '80KB' });
    assert.equal(parseState({ scan: { method: 'prune', samples: 8, seed: 0 } }).scan, null);
    assert.equal(parseState({ scan: { method: 'int8', samples: 0, seed: 0 } }).scan, null);
    assert.equal(
      parseState({ scan: { method: 'int8', samples: 5000, seed: 0 } }).scan,
      null,
      'more samples than a request may ask for',
    );
    assert.equal(parseState({ tab: 'other' }).tab, 'layers');
  });

  it('the wire view tags non-finite numbers (JSON has no Infinity) and keeps the ranking', () => {
    const layer = (tensor: string, cosine: number | undefined, sqnrDb: number) => ({
      tensor,
      layer: `${tensor}/MatMul`,
      op: 'MatMul',
      count: 4,
      bytesBefore: 16,
      bytesAfter: 4,
      weight: { sqnrDb, mse: 0, cosine: 1 },
      shape: { min: -1, max: 1, std: 0.5, outlierRatio: 2, kurtosis: 0 },
      ...(cosine === undefined ? {} : { output: { cosine, relL2: 0.1 } }),
    });
    const report: SensitivityReport = {
      file: 'm.onnx',
      methods: ['int8'],
      suffix: 'int8',
      samples: 8,
      seed: 0,
      inputs: [{ name: 'input', dtype: 'float32', shape: [1, 4], source: 'random' }],
      measuredOn: '8 random samples (seed 0): input float32[1,4]',
      layers: [layer('b', 0.9, 30), layer('a', undefined, Infinity)],
      all: { cosine: 0.9, relL2: 0.2, fileBytesAfter: 100 },
      fileBytesBefore: 200,
      fullRuns: 1,
      elapsedMs: 5,
      runtime: 'onnxruntime-web',
      warnings: [],
    };
    const view = JSON.parse(JSON.stringify(toSensitivityView(report)));
    assert.deepEqual(
      view.rows.map((r: { tensor: string }) => r.tensor),
      ['b', 'a'],
    );
    assert.equal(fromWire(view.rows[1].sqnrDb), Infinity);
    assert.equal(view.rows[1].outCosine, undefined);
    assert.equal(view.rows[0].outCosine, 0.9);
    assert.equal(view.measuredOn, '8 random samples (seed 0): input float32[1,4]');
  });

  it('parses byte sizes as the CLI does', () => {
    assert.equal(parseByteSize('1200000'), 1_200_000);
    assert.equal(parseByteSize('25MB'), 25_000_000);
    assert.equal(parseByteSize('3.5MiB'), 3_670_016);
    for (const bad of ['', 'MB', '-1', '0', '1e3', '2TB'])
      assert.equal(parseByteSize(bad), undefined, bad);
  });

  it('a Re-run result carries the verdict when the outputs moved past the threshold or could not be checked', () => {
    const report = {
      totals: { fileBytesBefore: 100, fileBytesAfter: 30, ratio: 100 / 30 },
    } as CompressReport;
    const fidelity = {
      cosine: 0.72,
      output: 'y',
      outputs: 1,
      measuredOn: '8 random samples (seed 0): x float32[1,3,48,192]',
    };
    const poor = {
      state: 'poor',
      fidelity,
      minCosine: 0.99,
      suspects: [],
      ranking: '',
      spread: true,
      suggestions: [],
    } as unknown as Verdict;
    assert.match(
      toMixedResult('m.mixed.onnx', report, undefined, poor).problem ?? '',
      /changes the model's outputs substantially: .*0\.72.*below 0\.99; measured on 8 random samples/,
    );
    assert.equal(
      toMixedResult('m.mixed.onnx', report, undefined, { state: 'failed', reason: 'cannot run' })
        .problem,
      'not verified: cannot run',
    );
    assert.equal(
      toMixedResult('m.mixed.onnx', report, undefined, {
        state: 'ok',
        fidelity: { ...fidelity, cosine: 0.999 },
        minCosine: 0.99,
      } as Verdict).problem,
      undefined,
    );
  });
});
