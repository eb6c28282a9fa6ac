import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CancelledError } from '../../src/core/errors';
import type { Model, ValueInfo } from '../../src/core/model';
import type { SuppliedTensor } from '../../src/core/verify/inputs';
import { OutputComparison, rowArgmax, sampleMetrics } from '../../src/core/verify/metrics';
import { formatVerifyReport, type VerifyReport } from '../../src/core/verify/report';
import {
  InferenceError,
  InputsRejectedError,
  VerifyError,
  type HostTensor,
} from '../../src/core/verify/tensor';
import {
  verifyModels,
  type ModelUnderTest,
  type RuntimeSession,
} from '../../src/core/verify/verify';
import { ortMessage } from '../../src/node/verify/ortWeb';

const f32 = (dims: number[], values: number[]): HostTensor => ({
  dtype: 1,
  dims,
  data: Float32Array.from(values),
});
const err = (re: RegExp) => (e: unknown) => e instanceof VerifyError && re.test(e.message);

describe('verify: per-sample metrics', () => {
  const a = [0.5, -1.25, 3, 0, 7.5, -2];

  it('identical outputs: cosine exactly 1, relative L2 and max difference 0', () => {
    assert.deepEqual(sampleMetrics(a, a), { cosine: 1, relL2: 0, maxAbs: 0, nonFinite: 0 });
  });

  it('a sign flip: cosine -1, relative L2 2, max difference twice the largest value', () => {
    assert.deepEqual(
      sampleMetrics(
        a,
        a.map((x) => -x),
      ),
      { cosine: -1, relL2: 2, maxAbs: 15, nonFinite: 0 },
    );
  });

  it('a scaled copy keeps cosine 1; orthogonal outputs have cosine 0', () => {
    const m = sampleMetrics(
      a,
      a.map((x) => x / 2),
    );
    assert.equal(m.cosine, 1);
    assert.equal(m.relL2, 0.5);
    assert.equal(sampleMetrics([1, 0], [0, 1]).cosine, 0);
  });

  it('matches the textbook formulas on a hand case', () => {
    const x = [1, 2, 3];
    const y = [1, 2, 4];
    const m = sampleMetrics(x, y);
    assert.ok(Math.abs(m.cosine - 17 / Math.sqrt(14 * 21)) < 1e-15);
    assert.ok(Math.abs(m.relL2 - 1 / Math.sqrt(14)) < 1e-15);
    assert.equal(m.maxAbs, 1);
  });

  it('defines the all-zero cases and counts NaN/Inf disagreements separately', () => {
    assert.deepEqual(sampleMetrics([0, 0], [0, 0]), {
      cosine: 1,
      relL2: 0,
      maxAbs: 0,
      nonFinite: 0,
    });
    assert.deepEqual(sampleMetrics([0, 0], [1, 0]), {
      cosine: 0,
      relL2: Infinity,
      maxAbs: 1,
      nonFinite: 0,
    });
    const m = sampleMetrics([1, NaN, Infinity, NaN, 2], [1, NaN, -Infinity, 5, 2]);
    assert.equal(m.nonFinite, 2, 'Inf vs -Inf and NaN vs 5; NaN vs NaN agrees');
    assert.equal(m.cosine, 1);
    assert.equal(m.maxAbs, 0);
  });

  it('takes the first maximum of each row, ignoring NaN', () => {
    assert.deepEqual(
      Array.from(rowArgmax([1, 3, 3, NaN, -1, -5, NaN, NaN, -Infinity], 3, 3)),
      [1, 1, 2],
    );
    assert.deepEqual(Array.from(rowArgmax([NaN, NaN], 1, 2)), [-1]);
  });
});

describe('verify: one output over several samples', () => {
  it('averages cosine and relative L2, keeps the worst of each, and pools top-1 rows', () => {
    const c = new OutputComparison('logits');
    // Sample 1: identical. Sample 2: row 0 keeps its argmax, row 1 flips.
    c.add(f32([2, 2], [1, 0, 0, 1]), f32([2, 2], [1, 0, 0, 1]));
    c.add(f32([2, 2], [1, 0, 0, 1]), f32([2, 2], [1, 0, 1, 0]));
    const r = c.report();
    const second = sampleMetrics([1, 0, 0, 1], [1, 0, 1, 0]);
    assert.equal(second.cosine, 0.5);
    assert.equal(r.cosine, 0.75);
    assert.equal(r.cosineMin, 0.5);
    assert.equal(r.relL2, second.relL2 / 2);
    assert.equal(r.relL2Max, second.relL2);
    assert.equal(r.maxAbs, 1);
    assert.equal(r.top1, 3 / 4);
    assert.equal(r.top1Rows, 4);
    assert.deepEqual(r.shape, [2, 2]);
    assert.equal(r.dtype, 'float32');
  });

  it('gives top-1 only for float [N, C] outputs with C >= 2, and compares float16 by value', () => {
    const feature = new OutputComparison('features');
    feature.add(f32([1, 2, 2], [1, 2, 3, 4]), f32([1, 2, 2], [1, 2, 3, 4]));
    assert.equal(feature.report().top1, undefined);
    const single = new OutputComparison('score');
    single.add(f32([3, 1], [1, 2, 3]), f32([3, 1], [1, 2, 3]));
    assert.equal(single.report().top1, undefined);
    const half = new OutputComparison('y');
    half.add(f32([2], [1, -2]), { dtype: 10, dims: [2], data: Uint16Array.of(0x3c00, 0xc000) });
    assert.equal(half.report().maxAbs, 0);
  });

  it('refuses outputs whose shapes differ', () => {
    const c = new OutputComparison('y');
    assert.throws(
      () => c.add(f32([1, 2], [1, 2]), f32([2, 1], [1, 2])),
      err(/output 'y' has shape \[1,2\] from the original but \[2,1\] from the variant/),
    );
  });
});

function model(inputs: ValueInfo[], outputs: ValueInfo[]): Model {
  return {
    format: 'onnx',
    fileBytes: 0,
    metadata: { opsets: [], properties: [] },
    nodeCount: 0,
    opCounts: {},
    inputs,
    outputs,
    tensors: [],
    layers: [],
    warnings: [],
  };
}

/** A tiny runtime: y = k·x on float32 input 'x'; records its lifecycle in `log`. */
function scaler(
  label: string,
  k: number,
  log: string[],
  m = model([{ name: 'x', dtype: 1, shape: ['n', 3] }], [{ name: 'y', dtype: 1, shape: ['n', 3] }]),
): ModelUnderTest {
  return {
    label,
    model: m,
    async open(): Promise<RuntimeSession> {
      log.push(`open ${label}`);
      return {
        inputNames: m.inputs.map((i) => i.name),
        outputNames: m.outputs.map((o) => o.name),
        async run(feeds, fetch) {
          const x = feeds.get('x')!;
          const y: HostTensor = {
            dtype: 1,
            dims: x.dims,
            data: (x.data as Float32Array).map((v) => k * v),
          };
          return new Map(fetch.map((n) => [n, y]));
        },
        async release() {
          log.push(`release ${label}`);
        },
      };
    },
  };
}

describe('verify: running two models', () => {
  it('runs the original on every sample, then the variant, one model loaded at a time', async () => {
    const log: string[] = [];
    const progress: string[] = [];
    const r = await verifyModels(
      scaler('a.onnx', 1, log),
      scaler('b.onnx', -1, log),
      () => [],
      { samples: 3, dims: { n: 2 }, onProgress: (d, t) => progress.push(`${d}/${t}`) },
      'test runtime',
    );
    assert.deepEqual(log, ['open a.onnx', 'release a.onnx', 'open b.onnx', 'release b.onnx']);
    assert.deepEqual(progress, ['1/6', '2/6', '3/6', '4/6', '5/6', '6/6']);
    assert.equal(r.samples, 3);
    assert.deepEqual(r.inputs, [{ name: 'x', dtype: 'float32', shape: [2, 3], source: 'random' }]);
    assert.equal(r.outputs[0].cosine, -1);
    assert.equal(r.outputs[0].relL2, 2);
    assert.equal(r.outputs[0].top1Rows, 6);
    assert.equal(r.runtime, 'test runtime');
    assert.equal(r.original, 'a.onnx');
  });

  it('blames the inputs when the original cannot run on them, the variant when only it fails', async () => {
    const refusing = (label: string): ModelUnderTest => {
      const m = scaler(label, 1, []);
      return {
        ...m,
        open: async () => ({
          ...(await m.open()),
          run: () =>
            Promise.reject(new InferenceError(label, "Pad node 'p': reflect needs 2 samples")),
        }),
      };
    };
    const rejected = await verifyModels(
      refusing('a.onnx'),
      scaler('b.onnx', 1, []),
      () => [],
      { samples: 2 },
      'rt',
    ).catch((e: unknown) => e);
    assert.ok(rejected instanceof InputsRejectedError);
    assert.equal(rejected.file, 'a.onnx');
    assert.equal(
      rejected.message,
      "cannot run the model on random inputs (x [1,3]): Pad node 'p': reflect needs 2 samples; give --shape/--value/--inputs",
    );
    const given: SuppliedTensor[] = [
      { name: 'x', source: 'x.npy', tensor: f32([1, 3], [1, 2, 3]) },
    ];
    await assert.rejects(
      verifyModels(refusing('a.onnx'), scaler('b.onnx', 1, []), () => given, {}, 'rt'),
      err(/^cannot run the model on the given inputs \(x \[1,3\] from x\.npy\): /),
    );
    const variantFails = await verifyModels(
      scaler('a.onnx', 1, []),
      refusing('b.onnx'),
      () => [],
      { samples: 2 },
      'rt',
    ).catch((e: unknown) => e);
    assert.ok(
      variantFails instanceof InferenceError && !(variantFails instanceof InputsRejectedError),
    );
    assert.match(variantFails.message, /^b\.onnx: inference failed: /);
  });

  it('runs once on supplied inputs, and says --samples was not used', async () => {
    const given: SuppliedTensor[] = [
      { name: 'x', source: 'x.npy', tensor: f32([1, 3], [1, 2, 3]) },
    ];
    const r = await verifyModels(
      scaler('a', 1, []),
      scaler('b', 0.5, []),
      () => given,
      { samples: 8 },
      'rt',
    );
    assert.equal(r.samples, 1);
    assert.equal(r.inputs[0].source, 'x.npy');
    assert.equal(r.outputs[0].maxAbs, 1.5);
    assert.deepEqual(r.warnings, [
      'no input is random (all come from files or --value), so the models run once, not 8 times',
    ]);
    assert.equal(r.measuredOn, '1 sample: x float32[1,3] from x.npy');
  });

  it('stops at the next run when cancelled, releasing the session', async () => {
    const log: string[] = [];
    const abort = new AbortController();
    await assert.rejects(
      verifyModels(
        scaler('a', 1, log),
        scaler('b', 1, log),
        () => [],
        { samples: 100, signal: abort.signal, onProgress: (d) => d === 2 && abort.abort() },
        'rt',
      ),
      CancelledError,
    );
    assert.deepEqual(log, ['open a', 'release a']);
  });

  it('refuses models with different interfaces before running anything', async () => {
    const log: string[] = [];
    const other = (inputs: ValueInfo[], outputs: ValueInfo[]) =>
      scaler('v', 1, log, model(inputs, outputs));
    const y = [{ name: 'y', dtype: 1, shape: [1, 3] }];
    const run = (v: ModelUnderTest) => verifyModels(scaler('o', 1, log), v, () => [], {}, 'rt');
    await assert.rejects(
      run(other([{ name: 'z', dtype: 1, shape: [1, 3] }], y)),
      err(/^inputs differ: the variant lacks 'x'; the variant has extra 'z'$/),
    );
    await assert.rejects(
      run(other([{ name: 'x', dtype: 10, shape: [1, 3] }], y)),
      err(/input 'x' is a float32 tensor in o but a float16 tensor in v/),
    );
    await assert.rejects(
      run(other([{ name: 'x', dtype: 1, shape: [1, 3] }], [{ name: 'q', dtype: 1, shape: [1] }])),
      err(/^outputs differ: the variant lacks 'y'; the variant has extra 'q'$/),
    );
    await assert.rejects(
      run(other([{ name: 'x', dtype: 1, shape: [1, 4] }], y)),
      err(/input 'x' is \[1,3\], but v declares \[1,4\]/),
    );
    await assert.rejects(
      verifyModels(scaler('o', 1, log), scaler('o', 1, log), () => [], { samples: 0 }, 'rt'),
      err(/samples must be an integer from 1/),
    );
    assert.deepEqual(log, []);
  });

  it('leaves out outputs that are not tensors, and refuses a model with nothing to compare', async () => {
    const m = model(
      [{ name: 'x', dtype: 1, shape: [1, 3] }],
      [
        { name: 'y', dtype: 1, shape: [1, 3] },
        { name: 'seq', dtype: 0, shape: null },
      ],
    );
    const r = await verifyModels(
      scaler('a', 1, [], m),
      scaler('b', 1, [], m),
      () => [],
      { samples: 1 },
      'rt',
    );
    assert.deepEqual(
      r.outputs.map((o) => o.name),
      ['y'],
    );
    assert.equal(r.measuredOn, '1 random sample (seed 0): x float32[1,3]');
    assert.deepEqual(r.warnings, [
      "output 'seq' is not a tensor (a sequence, map or optional) and is not compared",
    ]);
    const none = model(
      [{ name: 'x', dtype: 1, shape: [1, 3] }],
      [{ name: 'words', dtype: 8, shape: [1] }],
    );
    await assert.rejects(
      verifyModels(scaler('a', 1, [], none), scaler('b', 1, [], none), () => [], {}, 'rt'),
      err(/no output can be compared: 'words' is a string tensor/),
    );
    const seqIn = model(
      [{ name: 'x', dtype: 0, shape: null }],
      [{ name: 'y', dtype: 1, shape: [1] }],
    );
    await assert.rejects(
      verifyModels(scaler('a', 1, [], seqIn), scaler('b', 1, [], seqIn), () => [], {}, 'rt'),
      err(
        /input 'x' is not a tensor \(a sequence, map or optional\), which the verifier cannot feed/,
      ),
    );
  });
});

describe('verify: report text', () => {
  it('prints one row per output with the aggregate metrics, top-1 and warnings', () => {
    const r: VerifyReport = {
      original: '/models/net.onnx',
      variant: '/models/net.int8.onnx',
      samples: 8,
      seed: 0,
      inputs: [{ name: 'input', dtype: 'float32', shape: [1, 3, 224, 224], source: 'random' }],
      measuredOn: '8 random samples (seed 0): input float32[1,3,224,224]',
      outputs: [
        {
          name: 'logits',
          dtype: 'float32',
          shape: [1, 1000],
          cosine: 0.9998766,
          cosineMin: 0.99971,
          relL2: 0.01234,
          relL2Max: 0.0234,
          maxAbs: 0.5,
          top1: 0.875,
          top1Rows: 8,
          nonFinite: 0,
        },
        {
          name: 'aux',
          dtype: 'float32',
          shape: [1, 4, 4],
          cosine: 1,
          cosineMin: 1,
          relL2: 0,
          relL2Max: 0,
          maxAbs: 0,
          nonFinite: 3,
        },
      ],
      timing: { original: { loadMs: 120, runMs: 2400 }, variant: { loadMs: 80, runMs: 1900 } },
      elapsedMs: 4600,
      runtime: 'onnxruntime-web 1.30.0',
      warnings: ['something to know'],
    };
    const text = formatVerifyReport(r);
    assert.match(text, /^net\.onnx vs net\.int8\.onnx: onnxruntime-web 1\.30\.0, 4\.60 s\n/);
    assert.match(
      text,
      /load 120 ms \/ 80 ms, inference 2\.40 s \/ 1\.90 s \(original \/ variant\)/,
    );
    assert.match(
      text,
      /\n {2}measured on 8 random samples \(seed 0\): input float32\[1,3,224,224\]\n/,
    );
    assert.match(
      text,
      /\nlogits +0\.999877 +0\.999710 +1\.23e-2 +2\.34e-2 +5\.00e-1 +87\.5% of 8\n/,
    );
    assert.match(text, /\naux +1 +1 +0 +0 +0 +-\n/);
    assert.match(text, /warning: 3 positions of 'aux' disagree on NaN\/Inf/);
    assert.match(text, /warning: something to know\n$/);
  });
});

describe('verify: onnxruntime messages', () => {
  it('keeps the first line, and of nested subgraph failures the innermost node and status', () => {
    const nested =
      "failed to call OrtRun(). ERROR_CODE: 2, ERROR_MESSAGE: Non-zero status code returned while running If node. Name:'If_0' Status Message: Non-zero status code returned while running Pad node. Name:'stft/Pad' Status Message: Pad reflect requires axis length >= 2 after slicing. Input shape:{1,1}\nsecond line";
    assert.equal(
      ortMessage(new Error(nested)),
      "Pad node 'stft/Pad': Pad reflect requires axis length >= 2 after slicing. Input shape:{1,1}",
    );
    assert.equal(
      ortMessage(
        new Error("Can't create a session. ERROR_CODE: 1, ERROR_MESSAGE: Load model failed\nmore"),
      ),
      'Load model failed',
    );
    assert.equal(ortMessage('plain'), 'plain');
  });
});
