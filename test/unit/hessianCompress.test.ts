/**
 * `--criterion hessian` end to end: calibration through onnxruntime-web, the written variant, and
 * its fidelity measured independently with onnxruntime-node on inputs neither run has seen.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type * as Ort from 'onnxruntime-node';
import { readFloat32 } from '../../src/core/compress/tensors';
import type { CompressSpec } from '../../src/core/compress/spec';
import { readModel } from '../../src/core/formats';
import { MemorySource } from '../../src/core/io/source';
import { compressFile } from '../../src/node/compress';
import { compressFileHessian } from '../../src/node/hessianPrune';
import { CORRELATED, correlatedMlp } from '../fixtures/hessian';
import { mulberry32, weights } from '../fixtures/onnxBuilder';
import { loadOrt } from './compressZoo.test';
import { distFile, fixturePath } from './helpers';

const wasmDir = distFile('ort');
const dir = mkdtempSync(join(tmpdir(), 'model-lens-hessian-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const mlp = join(dir, 'mlp.onnx');
writeFileSync(mlp, correlatedMlp());

const spec = (
  sparsity: number,
  criterion: 'hessian' | 'magnitude',
  extra: Partial<CompressSpec['options']> = {},
): CompressSpec => ({
  methods: ['prune'],
  options: { sparsity, criterion, ...extra },
});

/** Mean relative L2 of the variant's logits against the original's, over 256 fresh rows run by onnxruntime-node. */
async function heldOutError(ort: typeof Ort, original: string, variant: string): Promise<number> {
  const rows = 256;
  const x = weights(mulberry32(12345), rows * CORRELATED.latent, 1, 0);
  const run = async (file: string) => {
    const s = await ort.InferenceSession.create(file);
    try {
      return (await s.run({ input: new ort.Tensor('float32', x, [rows, CORRELATED.latent]) }))
        .logits.data as Float32Array;
    } finally {
      await s.release();
    }
  };
  const a = await run(original);
  const b = await run(variant);
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    let d = 0;
    let n = 0;
    for (let c = 0; c < CORRELATED.classes; c++) {
      const k = r * CORRELATED.classes + c;
      d += (a[k] - b[k]) ** 2;
      n += a[k] ** 2;
    }
    sum += Math.sqrt(d / n);
  }
  return sum / rows;
}

function zerosOf(file: string): Record<string, number> {
  const source = new MemorySource(readFileSync(file));
  const model = readModel(source, file);
  const out: Record<string, number> = {};
  for (const t of model.tensors.filter((t) => t.name.endsWith('.weight')))
    out[t.name] = readFloat32(source, t, () => assert.fail('no external data')).filter(
      (v) => v === 0,
    ).length;
  return out;
}

describe('Hessian pruning', () => {
  const ort = loadOrt();

  for (const sparsity of [0.5, 0.7]) {
    it(`beats magnitude pruning in output error at ${sparsity * 100}% on an MLP with correlated inputs`, async () => {
      const hess = await compressFileHessian(mlp, spec(sparsity, 'hessian'), {
        wasmDir,
        force: true,
      });
      const masked = await compressFileHessian(
        mlp,
        spec(sparsity, 'hessian', { compensate: false }),
        { wasmDir, force: true, output: join(dir, `masked${sparsity}.onnx`) },
      );
      const mag = compressFile(mlp, spec(sparsity, 'magnitude'), { force: true });
      assert.deepEqual(zerosOf(hess.output), zerosOf(mag.output), 'same zeros per tensor');
      const [h, m, k] = await Promise.all(
        [hess.output, mag.output, masked.output].map((f) => heldOutError(ort, mlp, f)),
      );
      assert.ok(
        h < 0.75 * m,
        `held-out rel L2 (onnxruntime-node): hessian ${h.toFixed(4)}, magnitude ${m.toFixed(4)} (hessian mask alone ${k.toFixed(4)})`,
      );
      // The report says the same, from its own runs.
      const r = hess.report.hessian!;
      assert.equal(r.evaluation, 'held-out');
      assert.equal(r.samples, 32);
      const [out] = r.outputs;
      assert.ok(
        out.relL2 < 0.75 * out.magnitudeRelL2,
        `reported rel L2: hessian ${out.relL2}, magnitude ${out.magnitudeRelL2}`,
      );
      assert.deepEqual(
        r.tensors.map((t) => [t.name, t.hessian]),
        [
          ['fc1.weight', 'full'],
          ['fc2.weight', 'full'],
          ['fc3.weight', 'full'],
        ],
      );
      for (const t of r.tensors)
        assert.ok(
          t.outputError! < t.magnitudeOutputError!,
          `${t.name}: ${t.outputError} vs ${t.magnitudeOutputError}`,
        );
      assert.ok(
        hess.report.tensors.every((t) => t.method.startsWith('hessian prune, compensated')),
        hess.report.tensors.map((t) => t.method).join(', '),
      );
      assert.ok(
        masked.report.tensors.every((t) => t.method.startsWith('hessian prune (')),
        masked.report.tensors.map((t) => t.method).join(', '),
      );
    });
  }

  it('calibrates Conv layers by im2col and chains with int8', async () => {
    const cnn = fixturePath('cnn.onnx');
    const r = await compressFileHessian(
      cnn,
      { methods: ['prune', 'int8'], options: { sparsity: 0.5, criterion: 'hessian' } },
      { wasmDir, force: true, output: join(dir, 'cnn.onnx'), calibration: { samples: 4 } },
    );
    const h = r.report.hessian!;
    // conv1 (216 weights) is below the compressible size.
    const convs = h.tensors.filter((t) => t.name.startsWith('conv'));
    assert.deepEqual(
      convs.map((t) => t.name),
      ['conv2.weight'],
    );
    for (const t of convs) {
      assert.equal(t.hessian, 'full', `${t.name}: ${t.note}`);
      assert.ok(
        t.outputError! < t.magnitudeOutputError!,
        `${t.name}: ${t.outputError} vs ${t.magnitudeOutputError}`,
      );
    }
    assert.ok(
      r.report.tensors.some((t) => t.method.startsWith('hessian prune, compensated + int8')),
      r.report.tensors.map((t) => t.method).join(', '),
    );
    const s = await ort.InferenceSession.create(r.output);
    await s.release();
  });

  it('takes calibration inputs from files and then evaluates on them', async () => {
    const rows = 64;
    const x = weights(mulberry32(3), rows * CORRELATED.latent, 1, 0);
    const npy = join(dir, 'input.npy');
    const header =
      `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${CORRELATED.latent}), }`.padEnd(
        117,
      ) + '\n';
    writeFileSync(
      npy,
      Buffer.concat([
        Buffer.from([0x93]),
        Buffer.from('NUMPY'),
        Buffer.from([1, 0, 118, 0]),
        Buffer.from(header),
        Buffer.from(x.buffer),
      ]),
    );
    const r = await compressFileHessian(mlp, spec(0.5, 'hessian'), {
      wasmDir,
      force: true,
      output: join(dir, 'files.onnx'),
      calibration: { inputs: [npy] },
    });
    const h = r.report.hessian!;
    assert.deepEqual([h.inputs, h.evaluation, h.samples], ['files', 'calibration', 1]);
    assert.ok(h.outputs[0].relL2 < h.outputs[0].magnitudeRelL2);
  });

  it('is on the command line, with its comparison in the text and the JSON', () => {
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [distFile('cli.js'), ...args], { encoding: 'utf8' });
    const out = join(dir, 'cli.onnx');
    const text = cli(
      'compress',
      mlp,
      '--method',
      'prune',
      '--sparsity',
      '0.6',
      '--criterion',
      'hessian',
      '--samples',
      '16',
      '-o',
      out,
      '--force',
    );
    assert.equal(text.status, 0, text.stderr);
    assert.match(
      text.stdout,
      /Hessian vs magnitude pruning at 60% \(with compensation; 16 calibration runs on random inputs\)/,
    );
    assert.match(text.stdout, /fc1\.weight\s+full\s+[\d.]+%\s+[\d.]+%/);
    assert.match(text.stdout, /logits\s+hessian cosine/);
    const json = JSON.parse(
      cli(
        'compress',
        mlp,
        '--method',
        'prune',
        '--criterion',
        'hessian',
        '--no-compensate',
        '--json',
        '-o',
        out,
        '--force',
      ).stdout,
    );
    assert.equal(json.suffix, 'prunehess50');
    assert.equal(json.options.compensate, false);
    assert.equal(json.hessian.tensors.length, 3);
    for (const bad of [
      ['--criterion', 'fisher'],
      ['--compensate'],
      ['--samples', '4', '--no-verify'],
      ['--criterion', 'hessian', '--threshold', '0.1'],
    ]) {
      const r = cli('compress', mlp, '--method', 'prune', ...bad, '-o', out);
      assert.equal(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
    }
  });
});
