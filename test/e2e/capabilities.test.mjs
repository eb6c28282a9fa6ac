// The format capability table (src/core/formats/capabilities.ts) tells the truth: on a generated
// model of each format, every method it lists writes a variant with the CLI and every other is
// refused in one line; only runnable formats can be verified.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = process.env.MODEL_LENS_DIST ?? join(ROOT, 'dist');
const CLI = join(DIST, 'cli.js');
const work = mkdtempSync(join(tmpdir(), 'model-lens-caps-'));
after(() => rmSync(work, { recursive: true, force: true }));

const SAMPLE = {
  onnx: 'mlp.onnx',
  safetensors: 'safetensors/model.safetensors',
  gguf: 'tiny-float.gguf',
  pytorch: 'pytorch/state_dict.pt',
};
let caps;
let samples;

before(async () => {
  samples = process.env.MODEL_LENS_SAMPLES ?? join(work, 'samples');
  if (!process.env.MODEL_LENS_SAMPLES)
    execFileSync(process.execPath, [join(DIST, 'test/fixtures/generate.js'), samples]);
  const bundle = join(work, 'caps.cjs');
  await esbuild.build({
    entryPoints: [join(ROOT, 'src/core/formats/capabilities.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: bundle,
    logLevel: 'warning',
  });
  caps = createRequire(import.meta.url)(bundle);
});

describe('format capabilities', () => {
  for (const format of Object.keys(SAMPLE)) {
    it(`${format}: the methods the table lists compress, the others are refused`, () => {
      const c = caps.FORMATS[format];
      for (const method of ['int8', 'int4', 'fp16', 'bf16', 'fixed', 'sign', 'prune', 'cluster']) {
        const input = join(samples, SAMPLE[format]);
        const r = spawnSync(
          process.execPath,
          [
            CLI,
            'compress',
            input,
            '--method',
            method,
            '-o',
            join(
              work,
              `${format}-${method}${input.endsWith('.json') ? '.safetensors.index.json' : input.slice(input.lastIndexOf('.'))}`,
            ),
            '--force',
            '--no-verify',
          ],
          { encoding: 'utf8' },
        );
        if (c.methods.includes(method))
          assert.equal(r.status, 0, `${format} ${method}: ${r.stderr}`);
        else {
          assert.equal(r.status, 1, `${format} ${method} should be refused: ${r.stdout}`);
          assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        }
      }
    });
  }

  it('file names map to formats, the longest ending first; only ONNX is runnable', () => {
    assert.equal(caps.formatOfFileName('a/b/model.safetensors.index.json'), 'safetensors');
    assert.equal(caps.formatOfFileName('M.ONNX'), 'onnx');
    assert.equal(caps.formatOfFileName('notes.json'), undefined);
    assert.deepEqual(
      Object.entries(caps.FORMATS)
        .filter(([, c]) => c.runnable)
        .map(([f]) => f),
      ['onnx'],
    );
    // --min-cosine needs a run: refused up front for a weights-only file.
    const r = spawnSync(
      process.execPath,
      [CLI, 'compress', join(samples, SAMPLE.gguf), '--method', 'int8', '--min-cosine', '0.9'],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--min-cosine needs an ONNX model/);
  });
});
