/** Pinned layers in a fidelity search: the user's choice is fixed, the greedy search works on the rest. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  pinLadders,
  raiseForTarget,
  raiseWithinBudget,
  type LayerLadder,
} from '../../src/core/compress/sensitivity';
import { compressForFidelity } from '../../src/node/calibrate';
import { SENSITIVE_LAYER, sensitiveMlp } from '../fixtures/accuracy';
import { distFile } from './helpers';

const ladder = (tensor: string, damage: number): LayerLadder => ({
  tensor,
  rungs: [
    { choice: null, bytes: 100, damage },
    { choice: 'int8', bytes: 200, damage: damage / 16 },
    { choice: 'float', bytes: 400, damage: 0 },
  ],
});

describe('pinLadders', () => {
  const ladders = [ladder('a', 0.1), ladder('b', 0.001), ladder('c', 0.01)];

  it('leaves a pinned layer one rung, its choice, so neither search can move it', () => {
    const pinned = pinLadders(ladders, { a: 'int4' }, 'int4', () =>
      assert.fail('the method rung exists'),
    );
    assert.deepEqual(pinned[0].rungs, [{ choice: null, bytes: 100, damage: 0.1 }]);
    // Without the pin the search raises 'a' first (most damage per byte); pinned, it must raise the others.
    assert.notEqual(raiseForTarget(ladders, [0, 0, 0], 0.05)[0], 0);
    const at = raiseForTarget(pinned, [0, 0, 0], 0.05);
    assert.equal(at[0], 0);
    assert.ok(at[1] > 0 || at[2] > 0);
    assert.equal(raiseWithinBudget(pinned, 10_000)[0], 0);
  });

  it('takes a pinned choice the ladder lacks from the callback, and keeps unpinned ladders as they were', () => {
    const asked: string[] = [];
    const pinned = pinLadders(ladders, { b: 'bf16', c: 'float' }, 'int4', (tensor, choice) => {
      asked.push(`${tensor}:${choice}`);
      return { choice, bytes: 210, damage: 0.0001 };
    });
    assert.deepEqual(asked, ['b:bf16']);
    assert.deepEqual(pinned[1].rungs, [{ choice: 'bf16', bytes: 210, damage: 0.0001 }]);
    assert.deepEqual(pinned[2].rungs, [{ choice: 'float', bytes: 400, damage: 0 }]);
    assert.equal(pinned[0], ladders[0]);
  });
});

describe('compressForFidelity with pins (sensitive_mlp.onnx, onnxruntime-web)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'model-lens-pins-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'sensitive_mlp.onnx');
  writeFileSync(file, sensitiveMlp());
  const options = { wasmDir: distFile('ort'), force: true };

  it('keeps a layer pinned to float and still reaches the target by raising the fragile layer', async () => {
    const r = await compressForFidelity(
      file,
      { methods: ['int4'], options: {}, overrides: { 'fc1.weight': 'float' } },
      { targetCosine: 0.999 },
      options,
    );
    const f = r.report.fidelity!;
    const choice = new Map(f.choices.map((c) => [c.tensor, c.choice]));
    assert.equal(choice.get('fc1.weight'), 'float');
    assert.notEqual(
      choice.get(SENSITIVE_LAYER),
      'int4',
      'the search did not raise the fragile layer',
    );
    assert.deepEqual(f.pinned, ['fc1.weight']);
    assert.ok(f.met && f.calibration.cosine >= 0.999, `cosine ${f.calibration.cosine}`);
    assert.match(r.output, /sensitive_mlp\.int4\.mixed\.onnx$/);
  });

  it('never raises a layer pinned to the method, even when that misses the target', async () => {
    const r = await compressForFidelity(
      file,
      { methods: ['int4'], options: {}, overrides: { [SENSITIVE_LAYER]: 'int4' } },
      { targetCosine: 0.999 },
      options,
    );
    const f = r.report.fidelity!;
    assert.equal(f.choices.find((c) => c.tensor === SENSITIVE_LAYER)?.choice, 'int4');
    assert.equal(
      f.met,
      false,
      `int4 on ${SENSITIVE_LAYER} should cost more than 0.001 of cosine (got ${f.calibration.cosine})`,
    );
    assert.ok(
      f.warnings.some((w) => /below the target/.test(w)),
      f.warnings.join('; '),
    );
  });

  it('counts pinned bytes in a size budget and says so when the budget is too small for them', async () => {
    await assert.rejects(
      compressForFidelity(
        file,
        {
          methods: ['int4'],
          options: {},
          overrides: { 'fc2.weight': 'float', 'fc3.weight': 'float' },
        },
        { sizeBudget: 100_000 },
        options,
      ),
      /below the smallest variant with int4 and the pinned layers/,
    );
  });
});
