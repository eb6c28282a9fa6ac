import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  caseInput,
  FORMATS,
  GuardedSource,
  loadSeeds,
  OutOfBoundsRead,
  runCase,
} from '../../src/fuzz/harness';

/** A short seeded run per format; `npm run fuzz` runs the long campaigns with the same harness. */
const CASES = 2000;
const CASE_LIMIT_MS = 2000;

describe('fuzz (short seeded run)', () => {
  for (const format of FORMATS) {
    test(`${format}: ${CASES} mutated fixtures are read or refused with InvalidModelError`, () => {
      const seeds = loadSeeds(format);
      assert.ok(seeds.length >= 2, `${format} has fixtures to mutate`);
      const failures: string[] = [];
      let refused = 0;
      for (let i = 0; i < CASES; i++) {
        const input = caseInput(format, seeds, 20240601, i);
        const started = performance.now();
        const outcome = runCase(input.files, input.seed.main);
        const ms = performance.now() - started;
        if (outcome.kind === 'failure')
          failures.push(`case ${i} ${input.what}: ${outcome.message}`);
        if (ms > CASE_LIMIT_MS) failures.push(`case ${i} ${input.what}: took ${ms.toFixed(0)} ms`);
        if (outcome.kind === 'invalid') refused++;
      }
      assert.deepEqual(failures, []);
      // Both outcomes occur: the mutations neither leave files intact nor only produce garbage.
      assert.ok(refused > CASES / 10 && refused < CASES, `${refused} of ${CASES} refused`);
    });
  }

  test('mutations are deterministic in (seed, index), so a saved failure can be replayed', () => {
    const seeds = loadSeeds('gguf');
    const a = caseInput('gguf', seeds, 5, 123);
    const b = caseInput('gguf', seeds, 5, 123);
    assert.equal(a.what, b.what);
    assert.deepEqual([...a.files.entries()], [...b.files.entries()]);
    assert.notDeepEqual(
      [...caseInput('gguf', seeds, 5, 124).files.entries()],
      [...a.files.entries()],
    );
  });

  test('the guarded source reports reads outside the file and oversized reads as bugs', () => {
    const src = new GuardedSource(new Uint8Array(100), 'x');
    assert.equal(src.read(90, new Uint8Array(20)), 10);
    assert.equal(src.read(100, new Uint8Array(4)), 0);
    assert.throws(() => src.read(-1, new Uint8Array(4)), OutOfBoundsRead);
    assert.throws(() => src.read(101, new Uint8Array(4)), OutOfBoundsRead);
    assert.throws(() => src.read(2 ** 60, new Uint8Array(4)), OutOfBoundsRead);
    assert.throws(() => src.read(0, new Uint8Array(1 << 20)), OutOfBoundsRead);
  });

  test('runCase counts an exception other than InvalidModelError as a failure', () => {
    const files = new Map([['m.onnx', new Uint8Array([0x0a, 0x05, 0x01])]]);
    assert.equal(runCase(files, 'm.onnx').kind, 'invalid');
    const poisoned = new Map(files);
    // A Map whose get() throws a TypeError simulates a reader bug escaping as a non-InvalidModelError.
    poisoned.get = () => {
      throw new TypeError('boom');
    };
    const outcome = runCase(poisoned, 'm.onnx');
    assert.equal(outcome.kind, 'failure');
    assert.match(outcome.kind === 'failure' ? outcome.message : '', /TypeError: boom/);
  });
});
