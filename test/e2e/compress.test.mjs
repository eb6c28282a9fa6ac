// Compressed variants against independent oracles, through the CLI (`model-lens compress ... --json`):
// 1. every method setting of compressZoo.test.ts on every compression test model: the variant passes
//    Debian's onnx.checker with full shape inference (compress_check.py says which onnx 1.12 cannot judge);
// 2. the ONNX backend-test corpus's PyTorch models with a Conv/Gemm/MatMul weight of ≥ 256 elements,
//    through int8, fp16, int4, prune 50% + int8 and cluster: the variant passes the checker, and
//    onnxruntime-node runs it on the corpus's own test_data_set_0 inputs within tolerance of the
//    corpus's expected outputs.
// Needs `node scripts/build.mjs --tests` first. Env: MODEL_LENS_DIST (the build to test, default dist/),
// MODEL_LENS_PYTHON (default /usr/bin/python3, Debian's onnx 1.12).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pool } from './pool.mjs';

const require = createRequire(import.meta.url);
const { onnx } = require('onnx-proto');

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = process.env.MODEL_LENS_DIST ?? join(ROOT, 'dist');
const CLI = join(DIST, 'cli.js');
const PYTHON = process.env.MODEL_LENS_PYTHON ?? '/usr/bin/python3';
const CHECK = join(ROOT, 'test/e2e/compress_check.py');
const CORPUS = '/usr/share/libonnx-testdata/data';

const zoo = require(join(DIST, 'test/unit/compressZoo.test.js'));
const ort = zoo.loadOrt();

const safeName = (id) => id.replace(/[^\w.-]/g, '_');

/** One `model-lens compress --json` run: the parsed report, or the CLI's error. */
async function compress(input, output, flags) {
  try {
    const { stdout } = await run(
      process.execPath,
      [CLI, 'compress', input, ...flags, '-o', output, '--force', '--json', '--no-verify'],
      { maxBuffer: 1 << 26 },
    );
    return { report: JSON.parse(stdout) };
  } catch (e) {
    return { error: (e.stderr || e.message).trim().split('\n')[0] };
  }
}

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** compress_check.py's verdicts, keyed by path; the files must come back untouched. */
function checker(paths) {
  const before = paths.map(sha256);
  const out = execFileSync(PYTHON, [CHECK], {
    input: JSON.stringify(paths),
    maxBuffer: 1 << 26,
    encoding: 'utf8',
  });
  assert.deepEqual(paths.map(sha256), before, 'the checker rewrote files it checked');
  return new Map(JSON.parse(out).map((r) => [r.path, r]));
}

function defaultOpset(file) {
  const m = onnx.ModelProto.decode(readFileSync(file));
  return Number(m.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 1);
}

let work;
before(() => {
  assert.ok(existsSync(CLI), `${CLI} missing: run node scripts/build.mjs --tests`);
  work = mkdtempSync(join(tmpdir(), 'model-lens-compress-e2e-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('every variant of the compression test models passes onnx.checker', () => {
  const cases = [];
  const verdicts = new Map();
  let seconds = 0;

  before(async () => {
    const start = performance.now();
    const dir = join(work, 'zoo');
    zoo.writeZoo(dir);
    for (const m of zoo.ZOO) {
      for (const c of zoo.METHOD_CASES) {
        const input = join(dir, m.file);
        cases.push({
          m,
          c,
          input,
          output: join(dirname(input), `${basename(input, '.onnx')}.${safeName(c.id)}.onnx`),
        });
      }
    }
    const results = await pool(cases.map((k) => () => compress(k.input, k.output, k.c.cli)));
    results.forEach((r, i) => (cases[i].result = r));
    const written = cases.filter((k) => k.result.report).map((k) => k.output);
    for (const [path, v] of checker([...new Set([...cases.map((k) => k.input), ...written])]))
      verdicts.set(path, v);
    seconds = (performance.now() - start) / 1000;
  });

  it('compresses every model with every setting', (t) => {
    const skipped = [...verdicts.values()].filter((v) => v.status === 'skip');
    t.diagnostic(
      `${cases.length} variants (${zoo.ZOO.length} models × ${zoo.METHOD_CASES.length} settings) in ${seconds.toFixed(1)} s; ${skipped.length} left to onnx 1.12's limits: ${[...new Set(skipped.map((v) => v.detail))].join('; ')}`,
    );
    assert.ok(cases.length > 300);
  });

  it('the originals themselves pass', () => {
    const bad = zoo.ZOO.map((m) => verdicts.get(join(work, 'zoo', m.file))).filter(
      (v) => v.status === 'fail',
    );
    assert.deepEqual(bad, []);
  });

  for (const m of zoo.ZOO) {
    describe(m.file, () => {
      for (const c of zoo.METHOD_CASES) {
        it(c.id, () => {
          const k = cases.find((x) => x.m === m && x.c === c);
          assert.ok(k.result.report, `compress failed: ${k.result.error}`);
          assert.equal(k.result.report.output, k.output);
          // A model with external data counts its own <output>.data too.
          const data = `${k.output}.data`;
          assert.equal(
            k.result.report.totals.fileBytesAfter,
            statSync(k.output).size + (existsSync(data) ? statSync(data).size : 0),
          );
          const v = verdicts.get(k.output);
          if (v.status === 'skip') {
            // Only what onnx 1.12 cannot know may go unchecked.
            assert.ok(
              m.opset > 17 || defaultOpset(k.output) > 17,
              `skipped at opset ${m.opset}: ${v.detail}`,
            );
          } else assert.equal(v.status, 'ok', v.detail);
        });
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------

const CORPUS_METHODS = [
  { id: 'int8', flags: ['--method', 'int8'] },
  { id: 'fp16', flags: ['--method', 'fp16'] },
  { id: 'int4', flags: ['--method', 'int4'] },
  { id: 'prune50+int8', flags: ['--method', 'prune,int8', '--sparsity', '0.5'] },
  { id: 'cluster', flags: ['--method', 'cluster'] },
];
const WEIGHT_OPS = new Set(['Conv', 'Gemm', 'MatMul']);

const dimsOf = (t) => (t.dims ?? []).map(Number);
const count = (dims) => dims.reduce((a, b) => a * b, 1);

/** Corpus models with a Conv/Gemm/MatMul weight initializer of at least 256 elements. */
function corpusModels() {
  const found = [];
  for (const group of ['pytorch-converted', 'pytorch-operator']) {
    const base = join(CORPUS, group);
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base).sort()) {
      const file = join(base, name, 'model.onnx');
      if (!existsSync(file)) continue;
      const g = onnx.ModelProto.decode(readFileSync(file)).graph;
      const inits = new Map(g.initializer.map((t) => [t.name, t]));
      const weight = g.node.some(
        (n) =>
          WEIGHT_OPS.has(n.opType) &&
          n.input.some((i) => inits.has(i) && count(dimsOf(inits.get(i))) >= 256),
      );
      if (weight) found.push({ group, name, file });
    }
  }
  return found;
}

/** A float32 TensorProto file (the corpus's inputs and expected outputs). */
function readTensor(file) {
  const t = onnx.TensorProto.decode(readFileSync(file));
  assert.equal(t.dataType, 1, `${file}: only float32 tensors are expected here`);
  const data = t.rawData?.length
    ? new Float32Array(new Uint8Array(t.rawData).slice().buffer)
    : Float32Array.from(t.floatData);
  return { name: t.name, dims: dimsOf(t), data };
}

function compare(a, b) {
  let d = 0;
  let aa = 0;
  let bb = 0;
  let ab = 0;
  for (let i = 0; i < a.length; i++) {
    d += (b[i] - a[i]) ** 2;
    aa += a[i] * a[i];
    bb += b[i] * b[i];
    ab += a[i] * b[i];
  }
  return { relL2: Math.sqrt(d / aa), cosine: ab / Math.sqrt(aa * bb) };
}

/** Runs `file` on the model's test_data_set_0 inputs; its graph inputs that are not initializers take them in order. */
async function runCorpus(file, setDir) {
  const g = onnx.ModelProto.decode(readFileSync(file)).graph;
  const inits = new Set(g.initializer.map((t) => t.name));
  const names = g.input.map((i) => i.name).filter((n) => !inits.has(n));
  const inputs = readdirSync(setDir)
    .filter((f) => /^input_\d+\.pb$/.test(f))
    .sort((a, b) => parseInt(a.slice(6)) - parseInt(b.slice(6)));
  const feeds = {};
  inputs.forEach((f, i) => {
    const t = readTensor(join(setDir, f));
    feeds[t.name || names[i]] = new ort.Tensor('float32', t.data, t.dims);
  });
  const session = await ort.InferenceSession.create(file, {
    intraOpNumThreads: 1,
    extra: { session: { qdq_matmulnbits_accuracy_level: '1' } },
  });
  try {
    const out = await session.run(feeds);
    return session.outputNames.map((n) => out[n].data);
  } finally {
    await session.release();
  }
}

describe('ONNX backend-test corpus models through the main methods', () => {
  const models = corpusModels();
  const cases = [];
  const verdicts = new Map();
  let seconds = 0;

  before(async () => {
    const start = performance.now();
    for (const model of models) {
      for (const method of CORPUS_METHODS) {
        const dir = join(work, 'corpus', model.group, model.name);
        cases.push({ model, method, output: join(dir, `model.${safeName(method.id)}.onnx`) });
      }
    }
    for (const dir of new Set(cases.map((k) => dirname(k.output))))
      execFileSync('mkdir', ['-p', dir]);
    const results = await pool(
      cases.map((k) => () => compress(k.model.file, k.output, k.method.flags)),
    );
    results.forEach((r, i) => (cases[i].result = r));
    for (const [path, v] of checker(cases.filter((k) => k.result.report).map((k) => k.output)))
      verdicts.set(path, v);
    for (const k of cases) {
      if (!k.result.report) continue;
      const setDir = join(dirname(k.model.file), 'test_data_set_0');
      const expected = readdirSync(setDir)
        .filter((f) => /^output_\d+\.pb$/.test(f))
        .sort()
        .map((f) => readTensor(join(setDir, f)).data);
      try {
        const [original, variant] = [
          await runCorpus(k.model.file, setDir),
          await runCorpus(k.output, setDir),
        ];
        k.outputs = expected.map((e, i) => ({
          original: compare(e, original[i]),
          variant: compare(e, variant[i]),
        }));
      } catch (e) {
        k.runError = e.message.split('\n')[0];
      }
    }
    seconds = (performance.now() - start) / 1000;
  });

  it(`finds the corpus models with a weight worth compressing`, (t) => {
    assert.ok(existsSync(CORPUS), `${CORPUS} missing: apt-get install libonnx-testdata`);
    const byGroup = (g) => models.filter((m) => m.group === g).map((m) => m.name);
    t.diagnostic(
      `pytorch-converted: ${byGroup('pytorch-converted').join(', ')}; pytorch-operator: ${byGroup('pytorch-operator').join(', ')}`,
    );
    // libonnx-testdata 1.14 has three such pytorch-converted models (Conv3d, Conv3d_groups, Conv3d_no_bias).
    assert.ok(byGroup('pytorch-converted').length >= 3);
  });

  for (const model of models) {
    for (const method of CORPUS_METHODS) {
      it(`${model.group}/${model.name} ${method.id}`, () => {
        const k = cases.find((x) => x.model === model && x.method === method);
        assert.ok(k.result.report, `compress failed: ${k.result.error}`);
        const r = k.result.report;
        assert.ok(r.tensors.length > 0, 'nothing was compressed');
        const v = verdicts.get(k.output);
        assert.equal(v.status, 'ok', `onnx.checker: ${v.detail}`);
        assert.ok(k.outputs, `onnxruntime-node: ${k.runError}`);
        // As in compressPipeline.test.ts: first-order error of each compressed weight's relative error ρ, ×2 margin,
        // plus the corpus's own float32 agreement (1e-4, two orders above its summation-order noise).
        const rho = r.tensors.reduce(
          (a, x) => a + (x.sqnrDb === null || x.sqnrDb === Infinity ? 0 : 10 ** (-x.sqnrDb / 20)),
          0,
        );
        const tol = 2 * rho + 1e-4;
        for (const [i, o] of k.outputs.entries()) {
          assert.ok(
            o.original.relL2 <= 1e-4,
            `output ${i}: the original itself is ${o.original.relL2} off the expected output`,
          );
          assert.ok(
            o.variant.relL2 <= tol,
            `output ${i}: relative L2 ${o.variant.relL2} > tolerance ${tol} (cosine ${o.variant.cosine})`,
          );
        }
        k.passed = true;
      });
    }
  }

  // Last, so every case above has recorded whether it passed.
  it('summary', (t) => {
    for (const method of CORPUS_METHODS) {
      const mine = cases.filter((k) => k.method === method);
      const ok = mine.filter((k) => k.passed);
      const cos = Math.min(...mine.flatMap((k) => (k.outputs ?? []).map((o) => o.variant.cosine)));
      t.diagnostic(
        `${method.id}: ${ok.length}/${mine.length} pass; worst cosine to the expected outputs ${Number.isFinite(cos) ? cos.toFixed(6) : 'n/a'}`,
      );
    }
    t.diagnostic(
      `${cases.length} corpus variants compressed, checked and run in ${seconds.toFixed(1)} s`,
    );
  });
});

describe('fidelity goals on ONNX backend-test corpus models', () => {
  const TARGET = 0.999;
  const models = corpusModels();
  const cases = [];

  before(async () => {
    for (const model of models) {
      for (const method of ['int4', 'sign']) {
        const dir = join(work, 'fidelity', model.group, model.name);
        execFileSync('mkdir', ['-p', dir]);
        cases.push({ model, method, output: join(dir, `model.${method}.mixed.onnx`) });
      }
    }
    const results = await pool(
      cases.map(
        (k) => () =>
          compress(k.model.file, k.output, [
            '--method',
            k.method,
            '--target-cosine',
            String(TARGET),
          ]),
      ),
    );
    results.forEach((r, i) => (cases[i].result = r));
    for (const k of cases) {
      if (!k.result.report) continue;
      const setDir = join(dirname(k.model.file), 'test_data_set_0');
      const [original, variant] = [
        await runCorpus(k.model.file, setDir),
        await runCorpus(k.output, setDir),
      ];
      k.corpus = original.map((o, i) => compare(o, variant[i]).cosine);
    }
  });

  for (const model of models) {
    for (const method of ['int4', 'sign']) {
      it(`${model.group}/${model.name} ${method} to cosine ${TARGET}`, (t) => {
        const k = cases.find((x) => x.model === model && x.method === method);
        assert.ok(k.result.report, `compress failed: ${k.result.error}`);
        const f = k.result.report.fidelity;
        assert.ok(
          f.met && f.calibration.cosine >= TARGET,
          `calibration cosine ${f.calibration.cosine}`,
        );
        assert.ok(
          f.heldOut.cosine >= TARGET,
          `held-out cosine ${f.heldOut.cosine} (${f.heldOut.measuredOn})`,
        );
        // The corpus's own inputs, run by onnxruntime-node: neither the search nor its held-out check saw them.
        for (const c of k.corpus) assert.ok(c >= TARGET, `cosine on the corpus inputs ${c}`);
        assert.ok(
          k.result.report.totals.ratio > 1.5,
          `only ${k.result.report.totals.ratio}x smaller`,
        );
        t.diagnostic(
          `${f.choices.map((c) => c.choice).join(',')}; held-out ${f.heldOut.cosine.toFixed(6)}, corpus inputs ${Math.min(...k.corpus).toFixed(6)}, ${k.result.report.totals.ratio.toFixed(2)}x smaller, ${f.runs} runs`,
        );
      });
    }
  }
});
