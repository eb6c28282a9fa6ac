// The fidelity check (`verify`) through the worker the extension and CLI use (dist/worker.js, with
// onnxruntime-web loading its WebAssembly from dist/ort). Proves the runner right three ways:
// a model against itself is exact; on the ONNX backend-test corpus our outputs match the corpus's
// expected outputs; and they match onnxruntime-node (an independent native executor) on the same inputs.
// Reference outputs are fed to `verify` as a "variant" model of Constant nodes, so every number
// checked comes out of the product's own comparison.
// Needs `node scripts/build.mjs --tests` first. Env: MODEL_LENS_DIST (default dist/),
// MODEL_LENS_PYTHON (default /usr/bin/python3, Debian's numpy writes the .npy/.npz inputs).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const { onnx } = require('onnx-proto');
const ortNode = require('onnxruntime-node');

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = process.env.MODEL_LENS_DIST ?? join(ROOT, 'dist');
const PYTHON = process.env.MODEL_LENS_PYTHON ?? '/usr/bin/python3';
const CORPUS = '/usr/share/libonnx-testdata/data';
const hasCorpus = existsSync(CORPUS);
const hasNumpy = (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import numpy']);
    return true;
  } catch {
    return false;
  }
})();

/**
 * Agreement with a reference computed by other code (the corpus's numpy/PyTorch outputs, onnxruntime-node's
 * native kernels): 1e-4 absolute, scaled by the output's magnitude where that exceeds 1, as float32
 * rounding scales. Observed worst: web vs node 0.18 of this bound, web vs corpus 0.84 (RoiAlign,
 * where onnxruntime-web and -node agree exactly and both differ from the ONNX reference).
 */
function tolerance(reference) {
  let peak = 0;
  for (const v of reference) if (Number.isFinite(v)) peak = Math.max(peak, Math.abs(v));
  return 1e-4 * Math.max(1, peak);
}

let worker;
let nextId = 1;
const pending = new Map();

/** One verify request through the worker protocol (src/shared/protocol.ts). */
function verify(original, variant, options = {}) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({
      type: 'request',
      id,
      method: 'verify',
      params: { original, variant, options },
    });
  });
}

function cancel(id) {
  worker.postMessage({ type: 'cancel', id });
}

let work;
const timings = [];

before(() => {
  assert.ok(
    existsSync(join(DIST, 'worker.js')),
    `${DIST}/worker.js missing: run node scripts/build.mjs --tests`,
  );
  work = mkdtempSync(join(tmpdir(), 'model-lens-verify-'));
  execFileSync(process.execPath, [join(DIST, 'test/fixtures/generate.js'), join(work, 'fx')], {
    stdio: 'ignore',
  });
  worker = new Worker(join(DIST, 'worker.js'));
  worker.on('message', (m) => {
    if (m.type !== 'response') return;
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.error === undefined) p.resolve(m.result);
    else p.reject(Object.assign(new Error(m.error), { cancelled: m.cancelled === true }));
  });
});

after(async () => {
  await worker?.terminate();
  if (work) rmSync(work, { recursive: true, force: true });
  if (timings.length) {
    timings.sort((a, b) => b.ms - a.ms);
    const total = timings.reduce((s, t) => s + t.ms, 0);
    console.log(`verify: ${timings.length} runs, ${(total / 1000).toFixed(1)} s in all; slowest:`);
    for (const t of timings.slice(0, 8))
      console.log(`  ${t.ms.toFixed(0).padStart(6)} ms  ${t.what}`);
  }
});

function record(what, report) {
  timings.push({ what, ms: report.elapsedMs });
  return report;
}

/** The model's graph inputs that are not initializers, from onnx-proto. */
function realInputs(model) {
  const inits = new Set(model.graph.initializer.map((t) => t.name));
  return model.graph.input.filter((i) => !inits.has(i.name));
}

/**
 * A model with the same inputs and outputs as `modelPath` whose outputs are the given constant
 * TensorProtos: verifying the real model against it compares the real outputs with those tensors.
 */
function constantModel(modelPath, outputs, out) {
  const m = onnx.ModelProto.decode(readFileSync(modelPath));
  const graph = {
    name: 'reference',
    input: realInputs(m),
    output: m.graph.output,
    node: m.graph.output.map((o, k) => ({
      opType: 'Constant',
      name: `ref_${k}`,
      output: [o.name],
      attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: outputs[k] }],
    })),
  };
  writeFileSync(
    out,
    onnx.ModelProto.encode({ irVersion: m.irVersion, opsetImport: m.opsetImport, graph }).finish(),
  );
  return out;
}

/** ONNX dtype code → [onnxruntime type name, typed array]: the numeric types both runtimes exchange. */
const TYPES = {
  1: ['float32', Float32Array],
  2: ['uint8', Uint8Array],
  3: ['int8', Int8Array],
  4: ['uint16', Uint16Array],
  5: ['int16', Int16Array],
  6: ['int32', Int32Array],
  7: ['int64', BigInt64Array],
  9: ['bool', Uint8Array],
  10: ['float16', Uint16Array],
  11: ['float64', Float64Array],
  12: ['uint32', Uint32Array],
  13: ['uint64', BigUint64Array],
};
const DTYPE_OF = Object.fromEntries(
  Object.entries(TYPES).map(([code, [name]]) => [name, Number(code)]),
);

/** A TensorProto's elements as the typed array onnxruntime takes (raw_data or the typed fields). */
function tensorData(t) {
  assert.ok(TYPES[t.dataType], `test helper does not decode dtype ${t.dataType}`);
  const Ctor = TYPES[t.dataType][1];
  const typed = [t.floatData, t.doubleData, t.int32Data, t.int64Data, t.uint64Data].some(
    (a) => a?.length,
  );
  if (!typed) return new Ctor(new Uint8Array(t.rawData ?? []).buffer);
  const big = (v) => BigInt(v.toString());
  if (t.dataType === 1) return Float32Array.from(t.floatData);
  if (t.dataType === 11) return Float64Array.from(t.doubleData);
  if (t.dataType === 7) return BigInt64Array.from(t.int64Data, big);
  if (t.dataType === 13) return BigUint64Array.from(t.uint64Data, big);
  if (t.dataType === 12) return Uint32Array.from(t.uint64Data, (v) => Number(v.toString()));
  return Ctor.from(t.int32Data);
}

function f16(bits) {
  const e = (bits >> 10) & 31;
  const m = bits & 1023;
  const v =
    e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15);
  return bits & 0x8000 ? -v : v;
}

/** A TensorProto's elements as numbers. */
function values(t) {
  const d = tensorData(t);
  return Array.from(d, t.dataType === 10 ? f16 : Number);
}

/** Largest |a - b| over positions where both are finite, and whether non-finite positions disagree. */
function maxAbsDiff(a, b) {
  const x = values(a);
  const y = values(b);
  if (x.length !== y.length) return Infinity;
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    if (Number.isFinite(x[i]) && Number.isFinite(y[i])) m = Math.max(m, Math.abs(x[i] - y[i]));
    else if (!Object.is(x[i], y[i])) return Infinity;
  }
  return m;
}

/** Runs a model in onnxruntime-node on TensorProto inputs (in graph-input order) and returns TensorProto outputs. */
async function runNode(modelPath, inputs) {
  const session = await ortNode.InferenceSession.create(modelPath, { logSeverityLevel: 4 });
  try {
    const feeds = {};
    session.inputNames.forEach((name, k) => {
      const t = inputs[k];
      feeds[name] = new ortNode.Tensor(TYPES[t.dataType][0], tensorData(t), t.dims.map(Number));
    });
    const results = await session.run(feeds);
    return session.outputNames.map((name) => {
      const r = results[name];
      const data = r.data;
      return {
        name,
        dims: r.dims,
        dataType: DTYPE_OF[r.type],
        rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      };
    });
  } finally {
    await session.release();
  }
}

/** Deterministic test inputs (a generator independent of the product's). */
function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function syntheticInputs(modelPath, seed) {
  const m = onnx.ModelProto.decode(readFileSync(modelPath));
  const next = lcg(seed);
  return realInputs(m).map((i) => {
    const tt = i.type.tensorType;
    const dims = tt.shape.dim.map((d) =>
      d.dimValue != null && Number(d.dimValue) > 0 ? Number(d.dimValue) : 2,
    );
    const count = dims.reduce((a, b) => a * b, 1);
    const data =
      tt.elemType === 9
        ? Uint8Array.from({ length: count }, () => (next() < 0.5 ? 1 : 0))
        : Float32Array.from({ length: count }, () => next() * 4 - 2);
    return { name: i.name, dims, dataType: tt.elemType, rawData: new Uint8Array(data.buffer) };
  });
}

function writeTensors(dir, tensors) {
  mkdirSync(dir, { recursive: true });
  return tensors.map((t, k) => {
    const file = join(dir, `input_${k}.pb`);
    writeFileSync(file, onnx.TensorProto.encode(t).finish());
    return file;
  });
}

const FIXTURES = [
  'mlp.onnx',
  'cnn.onnx',
  'constants.onnx',
  'subgraph_if.onnx',
  'external/model.onnx',
  'sparse.onnx',
  'function.onnx',
];

describe('verify: generated fixtures', () => {
  for (const f of FIXTURES) {
    it(`${f} against itself is exact on every output`, async () => {
      const file = join(work, 'fx', f);
      const r = record(`${f} vs itself (8 samples)`, await verify(file, file));
      assert.equal(r.samples, 8);
      assert.match(r.runtime, /^onnxruntime-web \d+\.\d+\.\d+$/);
      assert.ok(r.outputs.length > 0);
      for (const o of r.outputs) {
        assert.equal(o.cosine, 1, `${o.name} cosine`);
        assert.equal(o.cosineMin, 1, `${o.name} worst cosine`);
        assert.equal(o.relL2, 0, `${o.name} rel L2`);
        assert.equal(o.maxAbs, 0, `${o.name} max abs`);
        assert.equal(o.nonFinite, 0);
      }
      for (const i of r.inputs) assert.equal(i.source, 'random');
    });

    it(`${f}: onnxruntime-web agrees with onnxruntime-node`, async (t) => {
      const file = join(work, 'fx', f);
      const inputs = syntheticInputs(file, 7);
      const files = writeTensors(join(work, 'node', f), inputs);
      const expected = await runNode(file, inputs);
      const ref = constantModel(file, expected, join(work, 'node', f, 'reference.onnx'));
      const r = record(`${f} vs onnxruntime-node`, await verify(file, ref, { inputs: files }));
      assert.equal(r.samples, 1);
      assert.deepEqual(
        r.inputs.map((i) => i.source),
        files.map((p) => basename(p)),
      );
      for (const o of r.outputs) {
        const k = expected.findIndex((e) => e.name === o.name);
        const tol = tolerance(values(expected[k]));
        t.diagnostic(`${o.name}: max |web - node| ${o.maxAbs}, tolerance ${tol}`);
        assert.ok(o.maxAbs <= tol, `${o.name}: max |web - node| = ${o.maxAbs} > ${tol}`);
        assert.ok(o.cosine > 0.999999, `${o.name}: cosine ${o.cosine}`);
      }
    });
  }

  it('measures a difference exactly: negated and halved final layers of the MLP', async () => {
    const file = join(work, 'fx', 'mlp.onnx');
    const m = onnx.ModelProto.decode(readFileSync(file));
    const scaled = (factor, out) => {
      const copy = onnx.ModelProto.decode(readFileSync(file));
      for (const t of copy.graph.initializer) {
        if (!t.name.startsWith('fc_known.')) continue;
        const v = tensorData(t).map((x) => x * factor);
        t.rawData = new Uint8Array(v.buffer);
        t.floatData = [];
      }
      writeFileSync(out, onnx.ModelProto.encode(copy).finish());
      return out;
    };
    assert.ok(m.graph.initializer.some((t) => t.name === 'fc_known.weight'));
    // logits = relu2 · W + b, so scaling W and b by a power of two scales the logits exactly.
    const neg = record(
      'mlp vs negated',
      await verify(file, scaled(-1, join(work, 'neg.onnx')), {
        samples: 4,
        shapes: { input: [5, 64] },
      }),
    );
    const [o] = neg.outputs;
    assert.equal(o.name, 'logits');
    assert.deepEqual(o.shape, [5, 10]);
    assert.equal(o.cosine, -1);
    assert.equal(o.cosineMin, -1);
    assert.equal(o.relL2, 2);
    assert.equal(o.top1, 0);
    assert.equal(o.top1Rows, 20);
    const half = record(
      'mlp vs halved',
      await verify(file, scaled(0.5, join(work, 'half.onnx')), { samples: 4, dims: { batch: 3 } }),
    );
    assert.equal(half.outputs[0].cosine, 1);
    assert.equal(half.outputs[0].relL2, 0.5);
    assert.equal(half.outputs[0].relL2Max, 0.5);
    assert.equal(half.outputs[0].top1, 1);
    assert.deepEqual(half.inputs[0].shape, [3, 64]);
    assert.ok(half.outputs[0].maxAbs > 0);
  });

  it('is repeatable: the same seed gives the same numbers, another seed others', async () => {
    const file = join(work, 'fx', 'mlp.onnx');
    const neg = join(work, 'neg.onnx');
    const a = await verify(file, neg, { samples: 3, seed: 42 });
    const b = await verify(file, neg, { samples: 3, seed: 42 });
    const c = await verify(file, neg, { samples: 3, seed: 43 });
    assert.equal(a.outputs[0].maxAbs, b.outputs[0].maxAbs);
    assert.notEqual(a.outputs[0].maxAbs, c.outputs[0].maxAbs);
  });

  it('reports why a run cannot be done, in one line naming the file', async () => {
    const fx = (f) => join(work, 'fx', f);
    await assert.rejects(
      verify(fx('mlp.onnx'), fx('constants.onnx')),
      /^Error: inputs differ: the variant lacks 'input'; the variant has extra 'x'$/,
    );
    await assert.rejects(
      verify(fx('mlp.onnx'), fx('cnn.onnx')),
      /input 'input' is \[1,64\], but .*cnn\.onnx declares \[1,3,32,32\]/,
    );
    await assert.rejects(verify(fx('dtypes.onnx'), fx('dtypes.onnx')), (err) => {
      assert.match(err.message, /dtypes\.onnx: onnxruntime-web cannot load it: \S/);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
    await assert.rejects(
      verify(fx('mlp.onnx'), join(work, 'missing.onnx')),
      /missing\.onnx: file not found/,
    );
    await assert.rejects(
      verify(fx('mlp.onnx'), fx('mlp.onnx'), { shapes: { input: [2, 3] } }),
      /shape given for input 'input' is \[2,3\], but the model declares \[batch,64\]/,
    );
  });

  it('stops a long run when the request is cancelled', async () => {
    const file = join(work, 'fx', 'cnn.onnx');
    const id = nextId;
    const run = verify(file, file, { samples: 10000 });
    setTimeout(() => cancel(id), 500);
    const start = Date.now();
    await assert.rejects(run, (err) => err.cancelled === true);
    assert.ok(Date.now() - start < 5000, 'cancelled promptly');
  });
});

describe('verify: inputs from numpy files', { skip: !hasNumpy && `no numpy at ${PYTHON}` }, () => {
  it('reads .npy (C, Fortran, big-endian, float64) and .npz (stored, deflated) written by numpy', async (t) => {
    const dir = join(work, 'npy');
    mkdirSync(dir, { recursive: true });
    // The same [3, 64] array in every layout numpy writes; raw.f32 is its little-endian float32 bytes.
    execFileSync(PYTHON, [
      '-c',
      `import numpy as np, sys
d = sys.argv[1]
a = np.random.default_rng(3).standard_normal((3, 64)).astype(np.float32)
a.tofile(d + '/raw.f32')
np.save(d + '/input.npy', a)
np.save(d + '/fortran.npy', np.asfortranarray(a))
np.save(d + '/big.npy', a.astype('>f4'))
np.save(d + '/wide.npy', a.astype(np.float64))
np.savez(d + '/stored.npz', a)
np.savez_compressed(d + '/named.npz', input=a)`,
      dir,
    ]);
    const file = join(work, 'fx', 'mlp.onnx');
    const raw = readFileSync(join(dir, 'raw.f32'));
    const expected = await runNode(file, [{ dims: [3, 64], dataType: 1, rawData: raw }]);
    const ref = constantModel(file, expected, join(dir, 'reference.onnx'));
    const tol = tolerance(values(expected[0]));
    for (const f of [
      'input.npy',
      'fortran.npy',
      'big.npy',
      'wide.npy',
      'stored.npz',
      'named.npz',
    ]) {
      const r = record(`mlp with ${f}`, await verify(file, ref, { inputs: [join(dir, f)] }));
      assert.deepEqual(r.inputs[0].shape, [3, 64], f);
      t.diagnostic(`${f}: max |web - node| ${r.outputs[0].maxAbs}`);
      assert.ok(r.outputs[0].maxAbs <= tol, `${f}: ${r.outputs[0].maxAbs} > ${tol}`);
      assert.equal(r.outputs[0].top1, 1, f);
      if (f === 'wide.npy')
        assert.match(r.warnings.join('\n'), /converted from float64 to float32/);
    }
  });
});

function corpusModels(group) {
  const dir = join(CORPUS, group);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter(
      (d) => existsSync(join(dir, d, 'model.onnx')) && existsSync(join(dir, d, 'test_data_set_0')),
    )
    .sort()
    .map((d) => join(dir, d));
}

/**
 * Ops whose outputs are random draws (Dropout when given a training_mode input): two runtimes need
 * not draw the same numbers, so such models are only required to run.
 */
const RANDOM_OPS = new Set([
  'RandomNormal',
  'RandomUniform',
  'RandomNormalLike',
  'RandomUniformLike',
  'Bernoulli',
  'Multinomial',
  'Dropout(training)',
]);

function opTypes(model) {
  const ops = new Set();
  const walk = (g) => {
    for (const n of g.node) {
      ops.add(n.opType === 'Dropout' && n.input[2] ? 'Dropout(training)' : n.opType);
      for (const a of n.attribute) {
        if (a.g) walk(a.g);
        for (const sg of a.graphs) walk(sg);
      }
    }
  };
  walk(model.graph);
  for (const f of model.functions ?? []) walk({ node: f.node });
  return ops;
}

/** Why verify may refuse a corpus model that onnxruntime runs: it feeds and compares numeric tensors only. */
const OUT_OF_SCOPE =
  /not a tensor|cannot feed|string tensors are not supported|segmented tensors|is not compared|no output can be compared|cannot be synthesised|undefined tensors/;

async function checkCorpusModel(t, modelDir) {
  const model = join(modelDir, 'model.onnx');
  const data = join(modelDir, 'test_data_set_0');
  const files = (prefix) =>
    readdirSync(data)
      .filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
      .sort((a, b) => Number(a.match(/\d+/)[0]) - Number(b.match(/\d+/)[0]))
      .map((f) => join(data, f));
  const inputs = files('input_');
  const nodeError = await ortNode.InferenceSession.create(model, { logSeverityLevel: 4 }).then(
    (s) => s.release(),
    (err) => err.message.split('\n')[0],
  );
  if (nodeError) {
    // onnxruntime 1.30 lacks some old-opset kernels; then verify must report what onnxruntime says, on one line.
    await assert.rejects(verify(model, model, { inputs }), (err) => {
      assert.ok(
        err.message.startsWith(`${model}: onnxruntime-web cannot load it: `) ||
          OUT_OF_SCOPE.test(err.message),
        err.message,
      );
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
    return 'unloadable';
  }
  let self;
  try {
    self = record(
      `${relative(CORPUS, modelDir)} vs itself`,
      await verify(model, model, { inputs }),
    );
  } catch (err) {
    assert.match(err.message, OUT_OF_SCOPE);
    assert.doesNotMatch(err.message, /\n/);
    t.diagnostic(err.message);
    return 'out of scope';
  }
  const decoded = onnx.ModelProto.decode(readFileSync(model));
  if ([...opTypes(decoded)].some((op) => RANDOM_OPS.has(op))) return 'random';
  for (const o of self.outputs) assert.equal(o.maxAbs, 0, `${o.name}: model vs itself`);
  if (self.warnings.some((w) => /is not compared/.test(w))) return 'partly compared';

  const dir = join(work, 'corpus', relative(CORPUS, modelDir));
  mkdirSync(dir, { recursive: true });
  const outputs = files('output_').map((f) => onnx.TensorProto.decode(readFileSync(f)));
  const expected = await verify(model, constantModel(model, outputs, join(dir, 'expected.onnx')), {
    inputs,
  });
  const nodeOut = await runNode(
    model,
    inputs.map((f) => onnx.TensorProto.decode(readFileSync(f))),
  );
  const vsNode = await verify(model, constantModel(model, nodeOut, join(dir, 'node.onnx')), {
    inputs,
  });
  // Where onnxruntime-node itself departs from the corpus (known onnxruntime deviations), only web = node is ours to check.
  const nodeDeviates = outputs.some((o, k) => maxAbsDiff(nodeOut[k], o) > tolerance(values(o)));
  expected.outputs.forEach((o, k) => {
    const tol = tolerance(values(outputs[k]));
    t.diagnostic(
      `${o.name}: max |web - expected| ${o.maxAbs}, max |web - node| ${vsNode.outputs[k].maxAbs}, tolerance ${tol}`,
    );
    if (!nodeDeviates) {
      assert.ok(o.maxAbs <= tol, `${o.name}: max |web - expected| ${o.maxAbs} > ${tol}`);
      assert.equal(o.nonFinite, 0, `${o.name}: NaN/Inf disagree with expected`);
    }
    assert.ok(
      vsNode.outputs[k].maxAbs <= tol,
      `${o.name}: max |web - node| ${vsNode.outputs[k].maxAbs} > ${tol}`,
    );
    assert.equal(
      vsNode.outputs[k].nonFinite,
      0,
      `${o.name}: NaN/Inf disagree with onnxruntime-node`,
    );
  });
  if (nodeDeviates) return 'onnxruntime deviates';
  return 'compared';
}

for (const group of ['pytorch-converted', 'pytorch-operator', 'simple', 'node']) {
  describe(
    `verify: ONNX backend-test corpus, ${group}`,
    { skip: !hasCorpus && `${CORPUS} not installed` },
    () => {
      const models = corpusModels(group);
      const outcomes = {};
      it('has models to check', () => assert.ok(models.length >= 10, `${models.length} models`));
      for (const m of models) {
        it(basename(m), async (t) => {
          const outcome = await checkCorpusModel(t, m);
          (outcomes[outcome] ??= []).push(basename(m));
        });
      }
      it('compares most models end to end', () => {
        const counts = Object.fromEntries(Object.entries(outcomes).map(([k, v]) => [k, v.length]));
        console.log(`${group}: ${JSON.stringify(counts)}`);
        assert.ok((outcomes.compared?.length ?? 0) >= models.length * 0.6, JSON.stringify(counts));
      });
    },
  );
}
