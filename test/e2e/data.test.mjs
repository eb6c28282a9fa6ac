// `--data` on real models of the zoo, with data made here by Debian's tools (test/e2e/data_gen.py):
// text-line crops (PNG and JPEG, their own sizes) for PaddleOCR's direction classifier, espeak-ng
// speech and silence (22.05 kHz WAV) for silero VAD. Our decoding, resizing and resampling feed the
// models through the recipe; onnxruntime-node judges the result by the models' own decisions.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as esbuild from 'esbuild';
import * as ort from 'onnxruntime-node';
import { cliJson, zooCopy } from './realModels.mjs';
import { INPUTS, makeRecipes } from './zoo-lib.mjs';

const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/cli.js');
const PYTHON = process.env.MODEL_LENS_PYTHON ?? '/usr/bin/python3';
const work = mkdtempSync(join(tmpdir(), 'model-lens-data-'));
after(() => rmSync(work, { recursive: true, force: true }));

let data; // src/node/data/dataset.ts, bundled
const CLS_RECIPE = {
  version: 1,
  inputs: {
    x: {
      kind: 'image',
      width: 192,
      height: 48,
      fit: 'pad',
      order: 'BGR',
      layout: 'NCHW',
      scale: 1 / 255,
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
    },
  },
};

before(async () => {
  execFileSync(PYTHON, [join(import.meta.dirname, 'data_gen.py'), work]);
  const bundle = join(work, 'data.cjs');
  await esbuild.build({
    stdin: {
      contents: "export * from './src/node/data/dataset.ts';",
      resolveDir: ROOT,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: bundle,
    logLevel: 'warning',
  });
  data = createRequire(import.meta.url)(bundle);
});

/** The model's inputs as our reader sees them (name, dtype, shape), from the CLI's inspect JSON. */
async function inputsOf(file) {
  return (await cliJson('inspect', file, '--no-stats', '--json')).inputs;
}

/** Every sample of `dataset` through `file` in onnxruntime-node, with `extra` feeds; the outputs named `output`. */
async function run(file, dataset, output, extra = () => ({})) {
  const session = await ort.InferenceSession.create(file);
  const out = [];
  for (let k = 0; k < dataset.samples; k++) {
    const feeds = { ...extra(k) };
    for (const [name, t] of dataset.feed(k))
      feeds[name] = new ort.Tensor('float32', t.data, t.dims);
    out.push((await session.run(feeds))[output].data);
  }
  await session.release();
  return out;
}

describe('--data: PaddleOCR direction classifier on rendered text-line crops', () => {
  it('our PNG/JPEG decoding, aspect-keeping pad and normalisation let the classifier tell upright from upside down', async () => {
    const model = zooCopy('ch_ppocr_mobile_v2.0_cls_infer.onnx', work);
    const ds = await data.openDataset([join(work, 'crops')], CLS_RECIPE, await inputsOf(model));
    assert.equal(ds.samples, 16);
    assert.deepEqual(ds.dims.get('x'), [1, 3, 48, 192]);
    assert.match(ds.describe, /^16 images in crops\//);
    const probs = await run(model, ds, 'softmax_0.tmp_0');
    const right = probs.filter((p, k) => (p[1] > p[0] ? 1 : 0) === k % 2).length;
    console.log(`# ${probs.map((p) => p[1].toFixed(2)).join(' ')}`);
    console.log(`# cls on 16 crops: ${right} of 16 right (upright/upside down)`);
    assert.ok(right >= 14, `only ${right} of 16 crops classified right: the preprocessing is off`);
  });

  it('CLI: verify with --data and --recipe says what it measured on; int8 keeps the decision on ≥ 95% of crops, prune 50% does not', async () => {
    const dir = join(work, 'cls-cli');
    mkdirSync(dir);
    const model = zooCopy('ch_ppocr_mobile_v2.0_cls_infer.onnx', dir);
    const recipe = join(dir, 'cls.lens.json');
    writeFileSync(recipe, JSON.stringify(CLS_RECIPE));
    const top1 = {};
    for (const [method, flags] of [
      ['int8', ['--method', 'int8']],
      ['prune', ['--method', 'prune', '--sparsity', '0.5']],
    ]) {
      const c = await cliJson('compress', model, ...flags, '--no-verify', '--json', '--force');
      const onData = await cliJson(
        'verify',
        model,
        c.output,
        '--data',
        join(work, 'crops'),
        '--recipe',
        recipe,
        '--json',
      );
      assert.equal(onData.samples, 16);
      assert.match(
        onData.measuredOn,
        /^16 samples: x float32\[1,3,48,192\] from 16 images in crops\/ \(recipe cls\.lens\.json\)$/,
      );
      const onRandom = await cliJson('verify', model, c.output, '--json');
      top1[method] = {
        data: onData.outputs[0].top1,
        random: onRandom.outputs[0].top1,
        cosData: onData.outputs[0].cosineMin,
        cosRandom: onRandom.outputs[0].cosineMin,
      };
    }
    console.log(`# cls top-1 agreement, crops vs random: ${JSON.stringify(top1)}`);
    assert.ok(top1.int8.data >= 0.95, `int8 keeps the decision on ${top1.int8.data} of crops`);
    assert.ok(
      top1.prune.data < top1.int8.data,
      'magnitude pruning at 50% moves the decisions on real crops',
    );
    // compress verifies on the same data, and its verdict says so.
    const c = await cliJson(
      'compress',
      model,
      '--method',
      'prune',
      '--sparsity',
      '0.5',
      '--data',
      join(work, 'crops'),
      '--recipe',
      recipe,
      '--json',
      '--force',
    );
    assert.equal(c.verdict.state, 'poor');
    assert.match(JSON.stringify(c.verdict), /16 images in crops\/ \(recipe cls\.lens\.json\)/);
    // A fidelity goal tunes on a seeded half of the crops and checks on the other half, and says so.
    const g = await cliJson(
      'compress',
      model,
      '--method',
      'int4',
      '--target-cosine',
      '0.99',
      '--data',
      join(work, 'crops'),
      '--recipe',
      recipe,
      '--json',
      '--force',
    );
    assert.match(
      g.fidelity.calibration.measuredOn,
      /^8 samples: x float32\[1,3,48,192\] from 8 of 16 images in crops\/ \(recipe cls\.lens\.json\), calibration half of a split seeded 0$/,
    );
    assert.match(
      g.fidelity.heldOut.measuredOn,
      /^8 samples: .* 8 of 16 images in crops\/ .*, held-out half of a split seeded 0$/,
    );
  });

  it('the first read of a folder reports its progress file by file and stops when cancelled', async () => {
    const model = zooCopy('ch_ppocr_mobile_v2.0_cls_infer.onnx', work);
    const seen = [];
    const ds = await data.openDataset(
      [join(work, 'crops')],
      CLS_RECIPE,
      await inputsOf(model),
      '',
      Infinity,
      { progress: (done, total) => seen.push(`${done}/${total}`) },
    );
    assert.equal(ds.samples, 16);
    assert.deepEqual(
      seen,
      Array.from({ length: 16 }, (_, k) => `${k}/16`),
    );
    let polls = 0;
    await assert.rejects(
      data.openDataset([join(work, 'crops')], CLS_RECIPE, await inputsOf(model), '', Infinity, {
        cancelled: () => ++polls > 3,
      }),
      (err) => err.name === 'CancelledError',
    );
    assert.equal(polls, 4, 'stopped at the fourth file');
  });

  it('a folder with unusable files: each skipped and listed in one clause, the rest used; nothing usable is one line', async () => {
    const model = zooCopy('ch_ppocr_mobile_v2.0_cls_infer.onnx', work);
    const recipe = join(work, 'cls.lens.json');
    writeFileSync(recipe, JSON.stringify(CLS_RECIPE));
    const r = await cliJson(
      'verify',
      model,
      model,
      '--data',
      join(work, 'mixed'),
      '--recipe',
      recipe,
      '--json',
    );
    assert.equal(r.samples, 2, 'the two good crops');
    const warning = r.warnings.find((w) => /skipped/.test(w));
    assert.ok(warning, r.warnings.join('\n'));
    assert.match(warning, /^3 files skipped: /);
    assert.match(warning, /notes\.png: not a PNG or JPEG file/);
    assert.match(warning, /truncated\.png: /);
    assert.match(warning, /odd\.wav: the recipe gives the model no audio input/);
    // --samples caps the run, and the folder is read only as far as it needs: the bad files after good_0.png are not reached.
    const one = await cliJson(
      'verify',
      model,
      model,
      '--data',
      join(work, 'mixed'),
      '--recipe',
      recipe,
      '--samples',
      '1',
      '--json',
    );
    assert.equal(one.samples, 1);
    assert.match(
      one.measuredOn,
      /from 1 image in mixed\/ \(the first 1 of 5 files\) \(recipe cls\.lens\.json\)$/,
    );
    assert.ok(!one.warnings.some((w) => /skipped/.test(w)), one.warnings.join('\n'));
    const none = spawnSync(
      process.execPath,
      [CLI, 'verify', model, model, '--data', join(work, 'mixed', 'notes.png'), '--recipe', recipe],
      { encoding: 'utf8' },
    );
    assert.equal(none.status, 1);
    assert.equal(none.stderr.trim().split('\n').length, 1, none.stderr);
    assert.match(
      none.stderr,
      /no usable data \(1 file skipped; the first: .*notes\.png: not a PNG or JPEG file\)/,
    );
  });
});

describe('--data: silero VAD v5 on espeak-ng speech and silence (22.05 kHz, resampled to 16 kHz)', () => {
  it('the speech probability rises on speech and stays low on silence', async () => {
    const model = zooCopy('silero_vad_v5.onnx', work);
    const inputs = await inputsOf(model);
    const { recipe, fromFile } = await cliJson('recipe', model, '--json');
    assert.equal(fromFile, false, 'the proposed recipe');
    const speech = await data.openDataset([join(work, 'speech.wav')], recipe, inputs);
    const silence = await data.openDataset([join(work, 'silence.wav')], recipe, inputs);
    assert.equal(
      silence.samples,
      Math.floor((2 * 16000) / 512),
      'two seconds at 16 kHz in whole 512-sample chunks',
    );
    assert.deepEqual(speech.values, { state: 0, sr: 16000 });
    // A stream: the state each chunk leaves is the next one's, as silero is run.
    const stream = async (ds) => {
      const session = await ort.InferenceSession.create(model);
      let state = new ort.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]);
      const probs = [];
      for (let k = 0; k < ds.samples; k++) {
        const x = ds.feed(k).get('input');
        const out = await session.run({
          input: new ort.Tensor('float32', x.data, x.dims),
          state,
          sr: new ort.Tensor('int64', BigInt64Array.of(16000n), []),
        });
        state = out.stateN;
        probs.push(out.output.data[0]);
      }
      await session.release();
      return probs;
    };
    const p = await stream(speech);
    const q = await stream(silence);
    const share = p.filter((v) => v > 0.5).length / p.length;
    console.log(
      `# silero v5: ${speech.samples} speech chunks, ${(100 * share).toFixed(0)}% above 0.5; silence max ${Math.max(...q).toFixed(3)}`,
    );
    assert.ok(share >= 0.5, `speech flagged on only ${(100 * share).toFixed(0)}% of chunks`);
    assert.ok(Math.max(...q) < 0.1, `silence reached ${Math.max(...q)}`);
  });

  it('CLI: verify of an int8 variant on the recordings names the chunks, the files and the recipe constants', async () => {
    const dir = join(work, 'vad-cli');
    mkdirSync(dir);
    const model = zooCopy('silero_vad_v5.onnx', dir);
    const c = await cliJson('compress', model, '--method', 'int8', '--no-verify', '--json');
    const r = await cliJson(
      'verify',
      model,
      c.output,
      '--data',
      join(work, 'speech.wav'),
      '--json',
    );
    assert.match(
      r.measuredOn,
      /^\d+ samples: input float32\[1,512\] from \d+ chunks of 512 samples at 16000 Hz from 1 WAV file in speech\.wav \(proposed recipe\); state float32\[2,1,128\] = 0 \(dim 1 not fixed by the model: 1 chosen\); sr = 16000$/,
    );
    // The decision the VAD makes on each chunk (speech above 0.5), original against int8, on the same samples.
    const { recipe } = await cliJson('recipe', model, '--json');
    const ds = await data.openDataset([join(work, 'speech.wav')], recipe, await inputsOf(model));
    const extra = () => ({
      state: new ort.Tensor('float32', new Float32Array(256), [2, 1, 128]),
      sr: new ort.Tensor('int64', BigInt64Array.of(16000n), []),
    });
    const a = await run(model, ds, 'output', extra);
    const b = await run(c.output, ds, 'output', extra);
    const kept = a.filter((p, k) => p[0] > 0.5 === b[k][0] > 0.5).length / a.length;
    const p = r.outputs.find((o) => o.name === 'output');
    console.log(
      `# silero v5 int8 on ${ds.samples} speech chunks: speech flag kept on ${(100 * kept).toFixed(1)}%, probability moved by ${p.maxAbs.toFixed(3)} at most`,
    );
    assert.ok(kept >= 0.95, `int8 keeps the speech flag on ${kept} of chunks`);
  });
});

describe('--data: a folder of tensors', () => {
  it("openWakeWord's embedding model on a folder of per-sample folders of .npy mel frames: one sample a file, matched by name", async () => {
    const dir = join(work, 'tensors');
    mkdirSync(dir);
    const model = zooCopy('embedding_model.onnx', dir);
    const c = await cliJson('compress', model, '--method', 'int8', '--no-verify', '--json');
    // The zoo's recipe for this model: 76 mel frames of espeak-ng speech per sample, one folder each.
    const frames = join(INPUTS, 'embedding_model');
    if (!existsSync(frames)) await makeRecipes();
    const r = await cliJson('verify', model, c.output, '--data', frames, '--json');
    assert.equal(r.samples, 8);
    assert.equal(
      r.measuredOn,
      '8 samples: input_1 float32[1,76,32,1] from 8 tensor files in embedding_model/',
    );
    // The same eight tensors through --inputs, one run each, give the same worst cosine.
    let worst = 1;
    for (let k = 0; k < 8; k++) {
      const one = await cliJson(
        'verify',
        model,
        c.output,
        '--inputs',
        join(frames, `sample_0${k}`, 'input_1.npy'),
        '--json',
      );
      worst = Math.min(worst, one.outputs[0].cosineMin);
    }
    assert.equal(r.outputs[0].cosineMin, worst);
  });

  it("PP-OCR's classifier on .npy text crops: a tensor file feeds an input the recipe fills from pictures, as it is", async () => {
    const dir = join(work, 'tensor-for-image');
    mkdirSync(dir);
    const model = zooCopy('ch_ppocr_mobile_v2.0_cls_infer.onnx', dir);
    const crops = join(INPUTS, 'ch_ppocr_mobile_v2.0_cls_infer');
    if (!existsSync(crops)) await makeRecipes();
    const c = await cliJson('compress', model, '--method', 'int8', '--no-verify', '--json');
    const r = await cliJson('verify', model, c.output, '--data', crops, '--json');
    assert.equal(r.samples, 8);
    assert.equal(
      r.measuredOn,
      '8 samples: x float32[1,3,48,192] from 8 tensor files in ch_ppocr_mobile_v2.0_cls_infer/',
    );
    // The first crop through --inputs (no recipe involved) gives the same outputs as sample 0 of the folder.
    const one = await cliJson(
      'verify',
      model,
      c.output,
      '--inputs',
      join(crops, 'sample_00', 'x.npy'),
      '--samples',
      '1',
      '--json',
    );
    const first = await cliJson(
      'verify',
      model,
      c.output,
      '--data',
      join(crops, 'sample_00'),
      '--json',
    );
    assert.equal(first.outputs[0].cosineMin, one.outputs[0].cosineMin);
  });
});

describe('--data: a folder of .npz samples', () => {
  it('silero VAD v5: each .npz one sample feeding every input its arrays name; a file naming no input is skipped', async () => {
    const dir = join(work, 'npz-cli');
    mkdirSync(dir);
    const model = zooCopy('silero_vad_v5.onnx', dir);
    const c = await cliJson('compress', model, '--method', 'int8', '--no-verify', '--json');
    const r = await cliJson('verify', model, c.output, '--data', join(work, 'npz'), '--json');
    assert.equal(r.samples, 8);
    assert.equal(
      r.measuredOn,
      '8 samples: input float32[1,512] from 8 .npz files in npz/; state float32[2,1,128] from 8 .npz files in npz/; sr int64[] from 8 .npz files in npz/',
    );
    assert.ok(
      r.warnings.some((w) =>
        /^1 file skipped: .*stray\.npz: arrays 'audio' name no input of the model \(input, state, sr\)$/.test(
          w,
        ),
      ),
      r.warnings.join('\n'),
    );
  });
});
