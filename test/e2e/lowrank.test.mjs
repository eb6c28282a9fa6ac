// `model-lens compress --method lowrank` on real zoo models, against independent oracles:
// 1. the variant runs in onnxruntime-node (not the onnxruntime-web the CLI uses) with the original's
//    output names and shapes, and finite values;
// 2. the factorable layers lose about --amount of their parameters (the report, and the files counted by numpy);
// 3. numpy (lowrank_check.py): for every factored layer, U·V read from the variant equals the rank-r
//    truncated SVD numpy computes from the original's W (plain --criterion svd);
// 4. the data-aware default, a chain with int8, and bad input (one line, nothing written).
// Needs `node scripts/build.mjs --tests` and the zoo (.cache/zoo/models, npm run test:zoo fetches it).
// Env: MODEL_LENS_DIST (default dist/), MODEL_LENS_PYTHON (default /usr/bin/python3, Debian's onnx + numpy).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const require = createRequire(import.meta.url);
const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = process.env.MODEL_LENS_DIST ?? join(ROOT, 'dist');
const CLI = join(DIST, 'cli.js');
const PYTHON = process.env.MODEL_LENS_PYTHON ?? '/usr/bin/python3';
const CHECK = join(ROOT, 'test/e2e/lowrank_check.py');
const ZOO = join(ROOT, '.cache/zoo/models');

const ort = require('onnxruntime-node');
ort.env.logLevel = 'error';

/** One zoo model per kind of factorable layer, with the input shapes to run it on. */
const MODELS = [
  {
    file: 'hey_jarvis_v0.1.onnx',
    what: 'Gemm transB (wake-word head)',
    inputs: { 'x.1': [1, 16, 96] },
  },
  { file: 'melspectrogram.onnx', what: '1-D Conv and MatMul', inputs: { input: [1, 1280] } },
  {
    file: 'embedding_model.onnx',
    what: '2-D Conv, k×1 and 1×k kernels',
    inputs: { input_1: [1, 76, 32, 1] },
  },
  {
    file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx',
    what: 'Conv weights in Constant nodes, opset 9',
    inputs: { x: [1, 3, 48, 192] },
  },
];

function randomFeeds(inputs, seed) {
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return Object.fromEntries(
    Object.entries(inputs).map(([name, dims]) => {
      const data = Float32Array.from(
        { length: dims.reduce((a, b) => a * b, 1) },
        () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
      );
      return [name, new ort.Tensor('float32', data, dims)];
    }),
  );
}

async function outputs(file, feeds) {
  const session = await ort.InferenceSession.create(file);
  try {
    const out = await session.run(feeds);
    return Object.fromEntries(
      Object.entries(out).map(([k, t]) => [
        k,
        { dims: [...t.dims], data: Float32Array.from(t.data) },
      ]),
    );
  } finally {
    await session.release?.();
  }
}

/** `model-lens compress --json --no-verify`: the report, or the exit code and stderr. */
async function compress(input, output, flags) {
  try {
    const { stdout } = await run(
      process.execPath,
      [CLI, 'compress', input, ...flags, '-o', output, '--force', '--json', '--no-verify'],
      { maxBuffer: 1 << 26 },
    );
    return { report: JSON.parse(stdout) };
  } catch (e) {
    return { code: e.code, stderr: e.stderr.trim() };
  }
}

let work;
before(() => {
  assert.ok(existsSync(CLI), `${CLI} missing: run node scripts/build.mjs --tests`);
  assert.ok(existsSync(ZOO), `${ZOO} missing: npm run test:zoo fetches the zoo`);
  work = mkdtempSync(join(tmpdir(), 'model-lens-lowrank-e2e-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

for (const m of MODELS) {
  describe(`lowrank --criterion svd on ${m.file} (${m.what})`, () => {
    for (const amount of [0.25, 0.5]) {
      it(`--amount ${amount}: runs in onnxruntime-node, ~${amount * 100}% fewer layer parameters, U·V is numpy's truncated SVD`, async () => {
        const input = join(ZOO, m.file);
        const output = join(work, `${m.file}.${amount}.onnx`);
        const r = await compress(input, output, [
          '--method',
          'lowrank',
          '--criterion',
          'svd',
          '--amount',
          String(amount),
        ]);
        assert.ok(r.report, r.stderr);
        const s = r.report.structure;
        assert.equal(s.method, 'lowrank');
        assert.equal(s.criterion, 'svd');
        // The budget stops before passing (1 - amount); components are small next to a layer, so it lands close.
        const kept = s.layerParametersAfter / s.layerParametersBefore;
        assert.ok(
          kept <= 1 - amount + 1e-9 && kept >= 1 - amount - 0.03,
          `kept ${kept} of the factorable layers' parameters`,
        );
        for (const l of s.layers)
          if (l.rank)
            assert.ok(
              l.rank <= l.maxRank && l.rank * (l.K + l.N) < l.K * l.N,
              `${l.node}: rank ${l.rank} saves nothing`,
            );

        const checked = JSON.parse(
          execFileSync(PYTHON, [CHECK, input, output], { encoding: 'utf8', maxBuffer: 1 << 26 }),
        );
        const factored = s.layers.filter((l) => l.rank);
        assert.equal(
          checked.layers.length,
          factored.length,
          'every factored layer has a lineage entry for U and V',
        );
        for (const l of checked.layers) {
          assert.ok(
            l.maxRelErr < 1e-5,
            `${l.weight}: U·V differs from numpy's rank-${l.rank} SVD by ${l.maxRelErr} of σ₁`,
          );
          assert.equal(l.rank, factored.find((f) => f.weight === l.weight)?.rank);
        }
        // The parameter saving, counted from the files.
        const saved = checked.layers.reduce((n, l) => n + l.before - l.after, 0);
        assert.equal(saved, s.layerParametersBefore - s.layerParametersAfter);
        assert.equal(saved, s.parametersBefore - s.parametersAfter);

        const feeds = randomFeeds(m.inputs, 7);
        const [a, b] = [await outputs(input, feeds), await outputs(output, feeds)];
        assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
        for (const [name, t] of Object.entries(a)) {
          assert.deepEqual(b[name].dims, t.dims, `${name}: shape`);
          assert.ok(b[name].data.every(Number.isFinite), `${name}: not finite`);
        }
      });
    }
  });
}

describe('lowrank defaults, chains and bad input', () => {
  const jarvis = join(ZOO, 'hey_jarvis_v0.1.onnx');

  it('defaults to the data-aware criterion (calibration runs) and names the variant lowrank<amount>', async () => {
    const output = join(work, 'jarvis.data.onnx');
    const r = await compress(jarvis, output, [
      '--method',
      'lowrank',
      '--amount',
      '0.5',
      '--samples',
      '8',
    ]);
    assert.ok(r.report, r.stderr);
    assert.equal(r.report.suffix, 'lowrank50');
    assert.equal(r.report.structure.criterion, 'data');
    assert.equal(r.report.structure.samples, 8);
    const kept = r.report.structure.layerParametersAfter / r.report.structure.layerParametersBefore;
    assert.ok(kept <= 0.5 && kept >= 0.47, `kept ${kept}`);
    const feeds = randomFeeds({ 'x.1': [1, 16, 96] }, 3);
    const out = await outputs(output, feeds);
    assert.deepEqual(out['53'].dims, [1, 1]);
  });

  it('chains with int8: the factors are quantized too, and the structure is reported', async () => {
    const output = join(work, 'jarvis.int8.onnx');
    const r = await compress(jarvis, output, [
      '--method',
      'lowrank,int8',
      '--criterion',
      'svd',
      '--amount',
      '0.25',
    ]);
    assert.ok(r.report, r.stderr);
    assert.equal(r.report.suffix, 'lowranksvd25.int8');
    assert.equal(r.report.structure.method, 'lowrank');
    const names = r.report.tensors.map((t) => t.name);
    for (const l of r.report.structure.layers.filter((x) => x.rank)) {
      assert.ok(
        names.includes(`${l.weight}_lowrank_u`) && names.includes(`${l.weight}_lowrank_v`),
        `${l.weight}'s factors not quantized: ${names}`,
      );
    }
    const out = await outputs(output, randomFeeds({ 'x.1': [1, 16, 96] }, 5));
    assert.ok(out['53'].data.every(Number.isFinite));
  });

  for (const [what, file, flags, message] of [
    [
      '--amount outside (0, 1)',
      'hey_jarvis_v0.1.onnx',
      ['--amount', '1.5'],
      /--amount must be between 0 and 1/,
    ],
    ['--amount 0', 'hey_jarvis_v0.1.onnx', ['--amount', '0'], /--amount must be between 0 and 1/],
    ['a model with nothing factorable', 'silero_vad.onnx', [], /nothing to factor/],
  ]) {
    it(`${what}: one line (plus the CLI's usage hint), nonzero exit, nothing written`, async () => {
      const output = join(work, `bad-${file}`);
      const r = await compress(join(ZOO, file), output, [
        '--method',
        'lowrank',
        '--criterion',
        'svd',
        ...flags,
      ]);
      assert.equal(r.report, undefined);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, message);
      const lines = r.stderr.split('\n').filter((l) => !l.startsWith("Run 'model-lens --help'"));
      assert.equal(lines.length, 1, r.stderr);
      assert.ok(!existsSync(output), 'a variant was written');
    });
  }
});
