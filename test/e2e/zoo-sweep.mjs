// Measurements to choose defaults from (`node test/e2e/zoo-sweep.mjs`, after `npm run test:zoo` has fetched,
// built and written the recipe inputs): over every zoo model, prune 50% with --scope layer vs global and
// int4 with --block-size 16/32/64/128, each through the CLI and through the independent simulation, on the
// recipe inputs. Prints a table and writes test-artifacts/zoo-sweep.md. The CLI's cluster has no granularity
// option (one codebook per tensor), so there is nothing to sweep there.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  compress,
  loadSamples,
  MODELS,
  outputsOn,
  pool,
  ROOT,
  scratchCopy,
  simulate,
  worstCosine,
} from './zoo-lib.mjs';

const SETTINGS = [
  {
    id: 'prune 50% layer',
    flags: ['--method', 'prune', '--sparsity', '0.5', '--scope', 'layer'],
    sim: 'prune:sparsity=0.5,scope=layer',
  },
  {
    id: 'prune 50% global',
    flags: ['--method', 'prune', '--sparsity', '0.5', '--scope', 'global'],
    sim: 'prune:sparsity=0.5,scope=global',
  },
  ...[16, 32, 64, 128].map((b) => ({
    id: `int4 block ${b}`,
    flags: ['--method', 'int4', '--block-size', String(b)],
    sim: `int4:block=${b}`,
  })),
];

const started = performance.now();
const work = mkdtempSync(join(tmpdir(), 'model-lens-zoo-sweep-'));
const lines = [
  '| model | setting | size ÷ original | cosine (CLI) | cosine (simulation) |',
  '|---|---|---|---|---|',
];
try {
  for (const model of MODELS) {
    const dir = join(work, model.file.replace(/\.onnx$/, ''));
    mkdirSync(dir);
    const original = scratchCopy(model, dir);
    const samples = loadSamples(model);
    const reference = await outputsOn(original, samples);
    const simulated = simulate(
      original,
      dir,
      Object.fromEntries(SETTINGS.map((s, k) => [`sim${k}`, s.sim])),
    );
    const variants = await pool(
      SETTINGS.map((s, k) => () => compress(original, join(dir, `variant${k}.onnx`), s.flags)),
    );
    const sims = await simulated;
    for (const [k, s] of SETTINGS.entries()) {
      const v = variants[k];
      const sim = worstCosine(reference, await outputsOn(sims[`sim${k}`].path, samples)).cosine;
      const ours = v.ok
        ? worstCosine(
            reference,
            await outputsOn(join(dir, `variant${k}.onnx`), samples),
          ).cosine.toFixed(4)
        : `failed: ${v.error}`;
      const size = v.ok ? (v.bytes / statSync(original).size).toFixed(3) : '—';
      const line = `| ${model.file} | ${s.id} | ${size} | ${ours} | ${sim.toFixed(4)} |`;
      lines.push(line);
      console.log(line);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
writeFileSync(join(ROOT, 'test-artifacts/zoo-sweep.md'), lines.join('\n') + '\n');
console.log(`zoo sweep: ${((performance.now() - started) / 1000).toFixed(0)} s`);
