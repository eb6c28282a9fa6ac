/**
 * Safe writes: originals are never modified, and on cancel, error, disk full or a killed process
 * no partial output remains under the final name; temp files of a killed run go at the next start.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CancelledError } from '../../src/core/errors';
import { TEMP_PREFIX, writeAtomically } from '../../src/node/atomicWrite';
import { compressFile } from '../../src/node/compress';
import { floatModel } from '../fixtures/gguf';
import { writeFixtures } from '../fixtures/models';
import { serializeSafetensors, shardedModel, singleModel } from '../fixtures/safetensors';
import { distFile } from './helpers';

const root = mkdtempSync(join(tmpdir(), 'model-lens-safewrite-'));
after(() => rmSync(root, { recursive: true, force: true }));

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const listing = (dir: string): string[] => readdirSync(dir).sort();
const temps = (dir: string): string[] => readdirSync(dir).filter((f) => f.startsWith(TEMP_PREFIX));
const FP16 = { methods: ['fp16' as const], options: {} };

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [distFile('cli.js'), ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A float32 safetensors file of about `mb` MB (one tensor per MB), values a simple ramp. */
function bigSafetensors(file: string, mb: number): void {
  const tensors = Array.from({ length: mb }, (_, i) => {
    const values = Float32Array.from({ length: 1 << 18 }, (_, j) => ((j % 1000) - 500) / 250 + i);
    return {
      name: `layer.${i}.weight`,
      dtype: 'F32',
      shape: [512, 512],
      data: new Uint8Array(values.buffer),
    };
  });
  writeFileSync(file, serializeSafetensors(tensors));
}

let n = 0;
const fresh = (): string => {
  const dir = join(root, `d${n++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};

describe('safe writes', () => {
  it('inspect and compress never modify the original, in any format', () => {
    const dir = fresh();
    writeFixtures(dir);
    mkdirSync(join(dir, 'st', 'sharded'), { recursive: true });
    writeFileSync(join(dir, 'st', 'model.safetensors'), singleModel().file);
    const sharded = shardedModel();
    for (const [f, t] of sharded.shards)
      writeFileSync(join(dir, 'st', 'sharded', f), serializeSafetensors(t, { format: 'pt' }));
    writeFileSync(join(dir, 'st', 'sharded', 'model.safetensors.index.json'), sharded.index);
    writeFileSync(join(dir, 'tiny.gguf'), floatModel());
    const cases: [string, string][] = [
      ['mlp.onnx', 'int8'],
      ['external/model.onnx', 'fp16'],
      ['st/model.safetensors', 'fp16'],
      ['st/sharded/model.safetensors.index.json', 'int8'],
      ['tiny.gguf', 'int8'],
    ];
    for (const [file, method] of cases) {
      const path = join(dir, file);
      const folder = join(path, '..');
      const before = new Map(
        listing(folder)
          .filter((f) => statSync(join(folder, f)).isFile())
          .map((f) => [f, sha(join(folder, f))]),
      );
      assert.equal(cli('inspect', path).code, 0, file);
      const r = cli('compress', path, '--method', method);
      assert.equal(r.code, 0, `${file}: ${r.stderr}`);
      for (const [f, h] of before) assert.equal(sha(join(folder, f)), h, `${file}: ${f} unchanged`);
      // Compressing again refuses to replace the variant and still leaves everything as it was.
      const again = cli('compress', path, '--method', method);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /already exists/);
      for (const [f, h] of before) assert.equal(sha(join(folder, f)), h);
      assert.deepEqual(temps(folder), []);
    }
  });

  it('cancel: nothing under the final name, no temp file', () => {
    const dir = fresh();
    const input = join(dir, 'big.safetensors');
    bigSafetensors(input, 4);
    const h = sha(input);
    let calls = 0;
    assert.throws(
      () => compressFile(input, FP16, { cancelled: () => ++calls > 3 }),
      CancelledError,
    );
    assert.deepEqual(listing(dir), ['big.safetensors']);
    assert.equal(sha(input), h);
  });

  it('error while writing: nothing under the final name, no temp file', () => {
    const dir = fresh();
    const target = join(dir, 'out.bin');
    assert.throws(
      () =>
        writeAtomically(target, { force: false }, (sink) => {
          sink.write(new Uint8Array(3 << 20));
          throw new Error('encoder failed');
        }),
      /encoder failed/,
    );
    assert.deepEqual(listing(dir), []);
    // With --force an existing file stays intact when the new one fails.
    writeFileSync(target, 'old');
    assert.throws(
      () => writeAtomically(target, { force: true }, () => assert.fail('boom')),
      /boom/,
    );
    assert.deepEqual(listing(dir), ['out.bin']);
    assert.equal(readFileSync(target, 'utf8'), 'old');
  });

  it('disk full (ENOSPC on a 1 MB tmpfs): one-line error, nothing left behind', (t) => {
    const dir = fresh();
    const full = join(dir, 'full');
    mkdirSync(full);
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', full], {
      encoding: 'utf8',
    });
    if (mount.status !== 0) {
      t.skip(`cannot mount a tmpfs here: ${mount.stderr.trim()}`);
      return;
    }
    try {
      const input = join(dir, 'big.safetensors');
      bigSafetensors(input, 4);
      const r = cli(
        'compress',
        input,
        '--method',
        'fp16',
        '-o',
        join(full, 'big.fp16.safetensors'),
      );
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^model-lens: .*: .*(ENOSPC|no space)/i);
      assert.equal(r.stderr.split('\n').length, 2, r.stderr);
      assert.deepEqual(listing(full), []);
    } finally {
      spawnSync('umount', [full]);
    }
  });

  it('killed mid-write: no output under the final name; the next run removes the stale temp file', async () => {
    const dir = fresh();
    const input = join(dir, 'big.safetensors');
    bigSafetensors(input, 96);
    const h = sha(input);
    const output = join(dir, 'big.fp16.safetensors');
    const child = spawn(
      process.execPath,
      [distFile('cli.js'), 'compress', input, '--method', 'fp16'],
      { stdio: 'ignore' },
    );
    // Kill as soon as the temp file holds some bytes: the writer is mid-stream.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const t = temps(dir);
      if (t.length && statSync(join(dir, t[0])).size > 0) break;
      if (Date.now() > deadline || child.exitCode !== null)
        assert.fail('the compression finished before it could be killed');
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.equal(existsSync(output), false, 'no partial output under the final name');
    const [stale] = temps(dir);
    assert.ok(stale, 'the killed run left its temp file');
    assert.equal(sha(input), h);
    // A live run's temp is spared for a minute; age the leftover like a crash long ago.
    const old = new Date(Date.now() - 5 * 60_000);
    utimesSync(join(dir, stale), old, old);
    const r = cli('compress', input, '--method', 'fp16');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(temps(dir), [], 'the stale temp file was removed');
    assert.ok(statSync(output).size > 0);
    assert.equal(sha(input), h);
  });

  it('two compressions of the same file at once: one wins, the other refuses, never a mixed file', async () => {
    const dir = fresh();
    const input = join(dir, 'big.safetensors');
    bigSafetensors(input, 16);
    const reference = join(dir, 'ref.safetensors');
    assert.equal(cli('compress', input, '--method', 'fp16', '-o', reference).code, 0);
    const run = () =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const c = spawn(
          process.execPath,
          [distFile('cli.js'), 'compress', input, '--method', 'fp16'],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
        let stderr = '';
        c.stderr.on('data', (d) => (stderr += d));
        c.on('exit', (code) => resolve({ code, stderr }));
      });
    const results = await Promise.all([run(), run()]);
    assert.deepEqual(results.map((r) => r.code).sort(), [0, 1], JSON.stringify(results));
    assert.match(results.find((r) => r.code === 1)!.stderr, /already exists/);
    assert.equal(
      sha(join(dir, 'big.fp16.safetensors')),
      sha(reference),
      'the winner wrote the whole, correct file',
    );
    assert.deepEqual(temps(dir), []);
  });

  it('model changed on disk mid-run: clear refusal, nothing written', () => {
    const dir = fresh();
    const input = join(dir, 'big.safetensors');
    bigSafetensors(input, 4);
    let touched = false;
    assert.throws(
      () =>
        compressFile(input, FP16, {
          progress: () => {
            if (touched) return;
            touched = true;
            // Another program rewrites the model while we read it (same size, new mtime).
            const later = new Date(Date.now() + 10_000);
            utimesSync(input, later, later);
          },
        }),
      /changed on disk/,
    );
    assert.ok(touched);
    assert.deepEqual(listing(dir), ['big.safetensors']);
  });
});
