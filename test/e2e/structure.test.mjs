// Channel removal on every model of the real-model zoo, through the CLI (`compress --method channels --json`):
// the variant loads in onnxruntime-node with the original's inputs and outputs (same names, same shapes on
// the recipe's samples), passes Debian's onnx.checker where onnx 1.12 knows the opset, has fewer
// parameters and multiply-adds; a model with nothing to cut, or an amount outside (0, 1), is one line
// on stderr with nothing written. The exactness of the cut and the reconstruction are in channels.test.mjs.
// Needs `node scripts/build.mjs --tests` and the zoo (`node scripts/zoo-fetch.mjs`).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { INPUTS, loadSamples, makeRecipes, MODELS, session, ZOO_MODELS } from './zoo-lib.mjs';

const run = promisify(execFile);
const ort = createRequire(import.meta.url)('onnxruntime-node');
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(process.env.MODEL_LENS_DIST ?? join(ROOT, 'dist'), 'cli.js');
const PYTHON = process.env.MODEL_LENS_PYTHON ?? '/usr/bin/python3';
const work = mkdtempSync(join(tmpdir(), 'model-lens-structure-'));
after(() => rmSync(work, { recursive: true, force: true }));

async function cli(...args) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { maxBuffer: 1 << 26 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** onnx.checker's verdict, or the reason it cannot judge (an opset past onnx 1.12). */
async function check(file) {
  const { stdout } = await run(PYTHON, [
    '-c',
    'import onnx,sys\nm=onnx.load(sys.argv[1])\ntry:\n onnx.checker.check_model(m); print("ok")\nexcept Exception as e:\n print(("n/a " if "opset" in str(e).lower() else "bad ") + str(e).splitlines()[0])',
    file,
  ]);
  return stdout.trim();
}

/** Models whose layers the analysis cannot reach, with the line that says so. */
const NOTHING = /no channels can be removed: its main graph has no Conv, Gemm or MatMul/;
const REFUSED = {
  'silero_vad_legacy.onnx': NOTHING,
  'silero_vad_v5.onnx': NOTHING,
  'silero_vad_v6.onnx': NOTHING,
};

describe('channel removal on the zoo', { timeout: 1_800_000 }, () => {
  it('writes a smaller graph with the same inputs and outputs for every model it can cut, and says why for the rest', async () => {
    if (!existsSync(INPUTS)) await makeRecipes();
    const rows = [];
    for (const model of MODELS) {
      const input = join(work, model.file);
      copyFileSync(join(ZOO_MODELS, model.file), input);
      const samples = existsSync(join(INPUTS, model.file.replace(/\.onnx$/, '')))
        ? loadSamples(model)
        : [];
      const data =
        samples.length && samples[0].files.length === 1
          ? ['--data', join(INPUTS, model.file.replace(/\.onnx$/, ''))]
          : [];
      const values =
        samples.length && samples[0].files.length > 1
          ? samples[0].files.flatMap((f) => ['--inputs', f])
          : [];
      const r = await cli(
        'compress',
        input,
        '--method',
        'channels',
        '--no-reconstruct',
        '--json',
        ...data,
        ...values,
      );
      const output = join(work, model.file.replace(/\.onnx$/, '.channels25.onnx'));
      if (REFUSED[model.file]) {
        assert.notEqual(r.code, 0, `${model.file}: expected a refusal`);
        assert.match(r.stderr.trim().split('\n')[0], REFUSED[model.file]);
        assert.equal(r.stderr.trim().split('\n').length <= 2, true, r.stderr);
        assert.ok(!existsSync(output), `${model.file}: refused but wrote ${output}`);
        rows.push(
          `${model.file}: refused (${r.stderr
            .trim()
            .split('\n')[0]
            .replace(/^.*: no channels/, 'no channels')})`,
        );
        continue;
      }
      assert.equal(r.code, 0, `${model.file}: ${r.stderr}`);
      const report = JSON.parse(r.stdout);
      const s = report.structure;
      assert.ok(
        s.cost.parametersAfter < s.cost.parametersBefore,
        `${model.file}: parameters ${s.cost.parametersBefore} → ${s.cost.parametersAfter}`,
      );
      assert.ok(
        s.cost.macsAfter < s.cost.macsBefore,
        `${model.file}: multiply-adds ${s.cost.macsBefore} → ${s.cost.macsAfter}`,
      );
      assert.ok(s.latency.beforeMs > 0 && s.latency.afterMs > 0);
      assert.match(await check(output), /^(ok|n\/a )/, `${model.file}: onnx.checker`);
      // The student answers the teacher's inputs with the teacher's outputs, shape for shape (onnxruntime-node, not Model Lens).
      const [a, b] = [await session(input), await session(output)];
      assert.deepEqual(b.inputNames, a.inputNames);
      assert.deepEqual(b.outputNames, a.outputNames);
      for (const { feeds } of samples.slice(0, 2)) {
        const [x, y] = [await a.run(feeds), await b.run(feeds)];
        for (const name of a.outputNames)
          assert.deepEqual(y[name].dims, x[name].dims, `${model.file}: output ${name}`);
      }
      const whole = s.groups.filter((g) => g.whole).length;
      rows.push(
        `${model.file}: parameters ${(s.cost.parametersAfter / s.cost.parametersBefore).toFixed(2)}×, multiply-adds ${(s.cost.macsAfter / s.cost.macsBefore).toFixed(2)}×, ${whole} of ${s.groups.length} groups whole, cosine ${report.verify?.outputs.map((o) => o.cosine.toFixed(4)).join('/') ?? 'n/a'}`,
      );
    }
    for (const line of rows) console.log(`# ${line}`);
    assert.equal(rows.length, MODELS.length);
  });

  it('channels,int8 (the wizard\'s "Remove channels → int8"): a smaller graph with int8 weights that onnxruntime runs', async () => {
    const input = join(work, 'chain.onnx');
    copyFileSync(join(ZOO_MODELS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), input);
    const r = await cli(
      'compress',
      input,
      '--method',
      'channels,int8',
      '--no-reconstruct',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(report.methods, ['channels', 'int8']);
    assert.equal(report.options.importance, 'activation');
    assert.ok(
      report.tensors.length > 0 && report.tensors.every((t) => /^int8/.test(t.method)),
      'the cut weights are stored as int8',
    );
    assert.ok(report.structure.cost.parametersAfter < report.structure.cost.parametersBefore);
    assert.ok(
      report.totals.fileBytesAfter < report.totals.fileBytesBefore / 2.5,
      `${report.totals.fileBytesBefore} → ${report.totals.fileBytesAfter}`,
    );
    const s = await session(report.output);
    const x = new Float32Array(3 * 48 * 192).fill(0.5);
    const out = await s.run({
      [s.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, 48, 192]),
    });
    assert.ok(Object.values(out)[0].data.every(Number.isFinite));
  });

  it('an amount outside (0, 1) is a usage error and nothing is written', async () => {
    const input = join(work, 'amount.onnx');
    copyFileSync(join(ZOO_MODELS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), input);
    for (const amount of ['0', '1', '1.5', '-0.2']) {
      const r = await cli('compress', input, '--method', 'channels', '--amount', amount);
      assert.equal(r.code, 2, `--amount ${amount}: exit ${r.code}`);
      assert.match(r.stderr, /--amount must be between 0 and 1/);
    }
    assert.deepEqual(
      readdirSync(work).filter((f) => f.startsWith('amount.')),
      ['amount.onnx'],
    );
  });
});
