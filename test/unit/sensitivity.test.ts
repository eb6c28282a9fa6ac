/**
 * Accuracy-aware compression: the greedy planner's choices on hand-made ladders, per-tensor
 * overrides in the pipeline, and on sensitive_mlp.onnx (one outlier layer on dead inputs) the
 * whole loop: the scan finds the layer, the fidelity search meets its target on held-out inputs,
 * and onnxruntime-node, on inputs neither search saw, agrees.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as Ort from 'onnxruntime-node';
import {
  raiseForTarget,
  raiseWithinBudget,
  rankLayers,
  weightShape,
  type LayerLadder,
  type LayerSensitivity,
} from '../../src/core/compress/sensitivity';
import { normaliseSpec, SpecError, variantSuffix } from '../../src/core/compress/spec';
import { analyseSensitivity, compressForFidelity } from '../../src/node/calibrate';
import { afterWrite, compressFile } from '../../src/node/compress';
import { CancelledError } from '../../src/core/errors';
import { SENSITIVE_LAYER, sensitiveMlp } from '../fixtures/accuracy';
import { mulberry32 } from '../fixtures/onnxBuilder';
import { loadOrt } from './compressZoo.test';
import { fixtures } from './helpers';

const WASM = join(__dirname, '..', '..', 'ort');
const ort: typeof Ort = loadOrt();

let dir = '';
let model = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'model-lens-sensitivity-'));
  model = join(dir, 'sensitive_mlp.onnx');
  writeFileSync(model, sensitiveMlp());
});
after(() => rmSync(dir, { recursive: true, force: true }));

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const ladder = (tensor: string, rungs: [number, number][]): LayerLadder => ({
  tensor,
  rungs: rungs.map(([bytes, damage], i) => ({
    choice: i === 0 ? null : i === rungs.length - 1 ? 'float' : 'int8',
    bytes,
    damage,
  })),
});

describe('planner', () => {
  it('weightShape gives range, σ, max|w|/σ and excess kurtosis', () => {
    const s = weightShape(Float32Array.of(1, -1, 1, -1, NaN));
    assert.deepEqual([s.min, s.max, s.std, s.outlierRatio, s.kurtosis], [-1, 1, 1, 1, -2]);
    // One spike in many small values: heavy tail.
    const spiky = new Float32Array(1000).fill(0.01);
    spiky[0] = 10;
    assert.ok(weightShape(spiky).kurtosis > 900 && weightShape(spiky).outlierRatio > 30);
  });

  it('raises the layer that buys the most damage per byte, and stops once under the allowed damage', () => {
    const ladders = [
      ladder('a', [
        [100, 0.01],
        [200, 0.001],
        [400, 0],
      ]),
      ladder('b', [
        [100, 0.05],
        [200, 0.002],
        [400, 0],
      ]),
      ladder('c', [
        [1000, 0.02],
        [2000, 0],
        [4000, 0],
      ]),
    ];
    // b saves 0.048 for 100 bytes; a 0.009 for 100; c 0.02 for 1000.
    assert.deepEqual(raiseForTarget(ladders, [0, 0, 0], 0.035), [0, 1, 0]);
    // Total damage 0.081 must come under 0.005: b, a, then c.
    const at = raiseForTarget(ladders, [0, 0, 0], 0.005);
    assert.ok(ladders.reduce((s, l, i) => s + l.rungs[at[i]].damage, 0) <= 0.005, `rungs ${at}`);
    assert.deepEqual(at.slice(0, 2), [1, 1]);
  });

  it('moves at least one layer even when the prediction says it is already good enough', () => {
    const ladders = [
      ladder('a', [
        [100, 0],
        [300, 0],
        [400, 0],
      ]),
      ladder('b', [
        [100, 0],
        [150, 0],
        [400, 0],
      ]),
    ];
    assert.deepEqual(raiseForTarget(ladders, [0, 0], 0.01), [0, 1]);
    assert.deepEqual(raiseForTarget(ladders, [2, 2], 0.01), [2, 2]);
  });

  it('keeps within a byte budget', () => {
    const ladders = [
      ladder('a', [
        [100, 0.01],
        [200, 0.001],
        [400, 0],
      ]),
      ladder('b', [
        [100, 0.05],
        [200, 0.002],
        [400, 0],
      ]),
    ];
    assert.deepEqual(raiseWithinBudget(ladders, 0), [0, 0]);
    assert.deepEqual(raiseWithinBudget(ladders, 150), [0, 1]);
    assert.deepEqual(raiseWithinBudget(ladders, 200), [1, 1]);
  });

  it('ranks measured layers first, worst output cosine first, then the rest by weight SQNR', () => {
    const l = (tensor: string, sqnrDb: number, cosine?: number): LayerSensitivity => ({
      tensor,
      layer: tensor,
      op: 'MatMul',
      count: 1,
      bytesBefore: 4,
      bytesAfter: 1,
      weight: { sqnrDb, mse: 0, cosine: 1 },
      shape: weightShape(Float32Array.of(1)),
      ...(cosine === undefined ? {} : { output: { cosine, relL2: 0 } }),
    });
    assert.deepEqual(
      rankLayers([l('p', 10), l('q', 30, 0.99), l('r', 40, 0.9), l('s', 5)]).map((x) => x.tensor),
      ['r', 'q', 's', 'p'],
    );
  });
});

describe('overrides in the pipeline', () => {
  it('leaves float tensors alone, stores overridden ones their way, and names the variant mixed', () => {
    const mlp = join(fixtures(), 'mlp.onnx');
    const spec = normaliseSpec({
      methods: ['int4'],
      options: {},
      overrides: { 'fc1.weight': 'float', 'fc2.weight': 'fp16' },
    });
    assert.equal(variantSuffix(spec), 'int4.mixed');
    const out = join(dir, 'mlp.mixed.onnx');
    const r = compressFile(mlp, spec, { output: out }).report;
    assert.deepEqual(
      r.tensors.map((t) => [t.name, t.method.split(' ')[0]]),
      [
        ['fc2.weight', 'fp16'],
        ['fc_known.weight', 'int4'],
      ],
    );
    const only = compressFile(
      mlp,
      normaliseSpec({ methods: ['int8'], options: {}, only: ['fc2.weight'] }),
      { output: join(dir, 'mlp.only.onnx') },
    ).report;
    assert.deepEqual(
      only.tensors.map((t) => t.name),
      ['fc2.weight'],
    );
  });

  it('refuses unknown choices and the Hessian criterion without calibration', () => {
    assert.throws(
      () => normaliseSpec({ methods: ['int8'], options: {}, overrides: { w: 'int3' as never } }),
      SpecError,
    );
    // Options from command arguments are checked as the CLI parser would check them.
    assert.throws(
      () => normaliseSpec({ methods: ['fp16'], options: { include: 'all' as never } }),
      /--include takes names/,
    );
    assert.throws(
      () => normaliseSpec({ methods: ['fp16'], options: { allowClip: 'yes' as never } }),
      /--allow-clip is a switch/,
    );
    const mlp = join(fixtures(), 'mlp.onnx');
    assert.throws(
      () =>
        compressFile(
          mlp,
          { methods: ['prune'], options: { sparsity: 0.5, criterion: 'hessian' } },
          { output: join(dir, 'h.onnx') },
        ),
      /calibration activations/,
    );
  });
});

/** Cosine of the logits of `a` and `b` on `rows` random input rows drawn from `seed`, run by onnxruntime-node. */
async function nodeCosine(a: string, b: string, rows: number, seed: number): Promise<number> {
  const rng = mulberry32(seed);
  const x = Float32Array.from(
    { length: rows * 64 },
    () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng()),
  );
  const run = async (f: string) => {
    const s = await ort.InferenceSession.create(f);
    const out = (await s.run({ input: new ort.Tensor('float32', x, [rows, 64]) })).logits
      .data as Float32Array;
    await s.release();
    return out;
  };
  const [ya, yb] = [await run(a), await run(b)];
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < ya.length; i++) {
    ab += ya[i] * yb[i];
    aa += ya[i] * ya[i];
    bb += yb[i] * yb[i];
  }
  return ab / Math.sqrt(aa * bb);
}

describe('sensitivity and fidelity goals on a model with one fragile layer', () => {
  const settings = { wasmDir: WASM, dims: { batch: 32 } };

  it('ranks the outlier layer worst although its weight SQNR is the best', async () => {
    const r = await analyseSensitivity(model, { methods: ['int4'], options: {} }, settings);
    assert.equal(r.layers[0].tensor, SENSITIVE_LAYER);
    assert.equal(r.layers.length, 5);
    const fragile = r.layers[0];
    const others = r.layers.slice(1);
    assert.ok(
      others.every((l) => l.output!.cosine - fragile.output!.cosine > 0.2),
      `fragile ${fragile.output!.cosine}, others ${others.map((l) => l.output!.cosine)}`,
    );
    assert.ok(
      others.every((l) => l.weight.sqnrDb < fragile.weight.sqnrDb),
      'the proxy alone would miss it',
    );
    assert.ok(
      fragile.shape.outlierRatio > 3 * Math.max(...others.map((l) => l.shape.outlierRatio)),
    );
    assert.ok(r.all!.cosine <= fragile.output!.cosine + 0.01);
    // The activation-weighted proxy ‖XΔW‖/‖XW‖ sees what the weight SQNR misses.
    const act = (l: LayerSensitivity) => l.weight.activationError!;
    assert.ok(
      act(fragile) > 5 * Math.max(...others.map(act)),
      `fragile ${act(fragile)}, others ${others.map(act)}`,
    );
    // So with one full run allowed, the proxy spends it on the fragile layer.
    const one = await analyseSensitivity(
      model,
      { methods: ['int4'], options: {} },
      { ...settings, fullRuns: 1 },
    );
    assert.deepEqual(
      one.layers.filter((l) => l.output).map((l) => l.tensor),
      [SENSITIVE_LAYER],
    );
    assert.equal(one.fullRuns, 1);
  });

  it('skips the activation proxy for a ranking by full runs unless it must choose which layers get one', async () => {
    const full = await analyseSensitivity(model, { methods: ['int4'], options: {} }, settings);
    const measured = await analyseSensitivity(
      model,
      { methods: ['int4'], options: {} },
      { ...settings, measuredOnly: true },
    );
    assert.ok(measured.layers.every((l) => l.weight.activationError === undefined));
    assert.deepEqual(
      measured.layers.map((l) => [l.tensor, l.output]),
      full.layers.map((l) => [l.tensor, l.output]),
    );
    // One run for five layers: the proxy is computed after all, and spends it on the fragile layer.
    const one = await analyseSensitivity(
      model,
      { methods: ['int4'], options: {} },
      { ...settings, fullRuns: 1, measuredOnly: true },
    );
    assert.deepEqual(
      one.layers.filter((l) => l.output).map((l) => l.tensor),
      [SENSITIVE_LAYER],
    );
    assert.ok(one.layers.every((l) => l.weight.activationError !== undefined));
  });

  for (const target of [0.99, 0.999]) {
    it(`reaches cosine ${target} on held-out inputs, smaller than all-fp16 (and than the hand fix where int4 can stay)`, async () => {
      const before = sha(model);
      const out = join(dir, `t${target}.onnx`);
      const result = await compressForFidelity(
        model,
        { methods: ['int4'], options: {} },
        { targetCosine: target },
        { ...settings, output: out },
      );
      const f = result.report.fidelity!;
      assert.ok(f.met && f.calibration.cosine >= target, `calibration ${f.calibration.cosine}`);
      assert.ok(f.heldOut && f.heldOut.cosine >= target, `held-out ${f.heldOut?.cosine}`);
      assert.match(
        f.heldOut.measuredOn,
        /^8 random samples \(seed 0, streams 8–15\): input float32\[/,
      );
      assert.notEqual(f.choices.find((c) => c.tensor === SENSITIVE_LAYER)!.choice, 'int4');
      const independent = await nodeCosine(model, out, 512, 99);
      assert.ok(independent >= target, `onnxruntime-node on 512 fresh rows: ${independent}`);
      assert.ok(
        statSync(out).size < statSync(model).size / 2,
        `${statSync(out).size} of ${statSync(model).size}`,
      );
      if (target === 0.99) {
        // The hand fix (fp16 for the fragile layer, int8 for the rest) is bigger: the search kept int4 where it could.
        const hand = compressFile(
          model,
          { methods: ['int8'], options: {}, overrides: { [SENSITIVE_LAYER]: 'fp16' } },
          { output: join(dir, 'hand.onnx') },
        );
        assert.ok(f.choices.some((c) => c.choice === 'int4'));
        assert.ok(
          statSync(out).size < statSync(hand.output).size,
          `${statSync(out).size} vs hand-picked ${statSync(hand.output).size}`,
        );
      }
      assert.equal(sha(model), before);
    });
  }

  it('gets the best cosine within a size budget, and says when the budget is impossible', async () => {
    const budget = 80_000;
    const out = join(dir, 'budget.onnx');
    const result = await compressForFidelity(
      model,
      { methods: ['int4'], options: {} },
      { sizeBudget: budget },
      { ...settings, output: out },
    );
    assert.ok(statSync(out).size <= budget, `${statSync(out).size}`);
    const f = result.report.fidelity!;
    const allInt4 = await analyseSensitivity(
      model,
      { methods: ['int4'], options: {} },
      { ...settings, fullRuns: 0 },
    );
    assert.ok(
      f.calibration.cosine > allInt4.all!.cosine + 0.1,
      `${f.calibration.cosine} vs all-int4 ${allInt4.all!.cosine}`,
    );
    await assert.rejects(
      compressForFidelity(
        model,
        { methods: ['int4'], options: {} },
        { sizeBudget: 1000 },
        { ...settings, output: join(dir, 'x.onnx') },
      ),
      /below the smallest variant/,
    );
  });

  it('removes a written variant and its data file when the checks after the write are cancelled', async () => {
    const out = join(dir, 'cancelled.onnx');
    compressFile(model, { methods: ['int8'], options: {} }, { output: out });
    writeFileSync(`${out}.data`, 'x');
    await assert.rejects(
      afterWrite(out, async () => {
        throw new CancelledError();
      }),
      CancelledError,
    );
    assert.ok(!existsSync(out) && !existsSync(`${out}.data`));
    assert.equal(await afterWrite(model, async () => 7), 7);
    assert.ok(existsSync(model));
  });

  it('splits a batch of user rows into calibration and held-out halves', async () => {
    const rows = 64;
    const rng = mulberry32(5);
    const x = Float32Array.from({ length: rows * 64 }, () => rng() * 4 - 2);
    const npy = join(dir, 'rows.npy');
    const header =
      `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, 64), }`.padEnd(117, ' ') + '\n';
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
    const result = await compressForFidelity(
      model,
      { methods: ['int8'], options: {} },
      { targetCosine: 0.999 },
      { ...settings, inputs: [npy], output: join(dir, 'rows.onnx') },
    );
    const f = result.report.fidelity!;
    assert.equal(
      f.calibration.measuredOn,
      '1 sample: input float32[32,64] from rows.npy rows 0–31',
    );
    assert.equal(f.heldOut!.measuredOn, '1 sample: input float32[32,64] from rows.npy rows 32–63');
    assert.ok(f.heldOut!.cosine >= 0.999, `${f.heldOut!.cosine}`);
  });
});
