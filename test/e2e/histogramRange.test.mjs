// The inspector's clipped whole-model histogram on real models: the range robustRange() picks from
// `model-lens inspect --json` statistics, and the outliers it counts, checked value for value against
// numpy on the same weights (outliers_numpy.py). Needs `node scripts/build.mjs` (dist/cli.js).
// Env: MODEL_LENS_ZOO_DIR (default .cache/zoo/models, filled by scripts/zoo-fetch.mjs; a missing model fails),
//      MODEL_LENS_PYTHON (default /usr/bin/python3, Debian's onnx + numpy).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ZOO = process.env.MODEL_LENS_ZOO_DIR ?? join(ROOT, '.cache/zoo/models');
const PYTHON = process.env.MODEL_LENS_PYTHON ?? '/usr/bin/python3';

const bundled = await esbuild.build({
  stdin: {
    contents: "export * from './webview/rebin'; export { dtypeInfo } from './src/core/dtypes';",
    resolveDir: ROOT,
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  format: 'esm',
  write: false,
});
const { robustRange, combineHistograms, dtypeInfo } = await import(
  `data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString('base64')}`
);

/** The float tensors' statistics as the webview builds its sources from them (webview/main.ts). */
function sources(report) {
  return report.tensors.flatMap((t, id) =>
    t.min === null || t.min === undefined || !dtypeInfo(t.dtypeCode).float
      ? []
      : [
          {
            histogram: { ...t.histogram, counts: Uint32Array.from(t.histogram.counts) },
            min: t.min,
            max: t.max,
            id,
          },
        ],
  );
}

// The models that found the problem (BatchNorm variances up to 9.8e7 and 6.5e3), and two that must stay unclipped.
const CASES = [
  { file: 'ch_PP-OCRv4_det_infer.onnx', clipped: true },
  { file: 'ch_PP-OCRv4_rec_infer.onnx', clipped: true },
  { file: 'silero_vad_v5.onnx', clipped: true },
  { file: 'timer_v0.1.onnx', clipped: false },
  { file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', clipped: false },
];

describe('whole-model histogram range on real models', () => {
  for (const { file, clipped } of CASES) {
    const model = join(ZOO, file);
    it(file, () => {
      assert.ok(existsSync(model), `${model} missing: run node scripts/zoo-fetch.mjs`);
      const report = JSON.parse(
        execFileSync('node', [join(ROOT, 'dist/cli.js'), 'inspect', model, '--json'], {
          maxBuffer: 1 << 28,
        }),
      );
      const src = sources(report);
      const range = robustRange(src);
      if (!clipped) {
        assert.equal(range, null, `${file}: expected the full range, got ${JSON.stringify(range)}`);
        return;
      }
      assert.ok(range, `${file}: expected a clipped range`);
      const names = [...new Set(src.map((s) => report.tensors[s.id].name))];
      const oracle = JSON.parse(
        execFileSync(PYTHON, [join(ROOT, 'test/e2e/outliers_numpy.py'), model], {
          input: JSON.stringify({ lo: range.lo, hi: range.hi, names }),
          maxBuffer: 1 << 26,
        }),
      ).tensors;
      // Ours, per tensor name, as [below, above]; a tensor left out whole counts all its values.
      const ours = new Map();
      const theirs = new Map();
      for (const o of range.sources) {
        const name = report.tensors[o.id].name;
        const [b, a] = ours.get(name) ?? [0, 0];
        ours.set(name, o.aside ? [b, a + o.aside] : [b + o.below, a + o.above]);
      }
      const aside = new Set(
        range.sources.filter((o) => o.aside).map((o) => report.tensors[o.id].name),
      );
      for (const [name, [b, a, inside]] of Object.entries(oracle)) {
        if (aside.has(name)) theirs.set(name, [0, b + a + inside]);
        else if (b + a > 0) theirs.set(name, [b, a]);
      }
      assert.deepEqual(
        Object.fromEntries([...ours].sort()),
        Object.fromEntries([...theirs].sort()),
      );
      const sum = (i) =>
        Object.entries(oracle).reduce((s, [name, c]) => s + (aside.has(name) ? 0 : c[i]), 0);
      assert.equal(range.below, sum(0));
      assert.equal(range.above, sum(1));
      // What the chart draws is exactly the rest: every value inside [lo, hi) and nothing else.
      const drawn = combineHistograms(range.drawn, 256, range);
      assert.ok(
        Math.abs(drawn.total - sum(2)) < 1e-6,
        `${file}: drawn ${drawn.total}, numpy inside ${sum(2)}`,
      );
      // The bulk fills the chart: the robust quantiles span at least a fifth of it.
      assert.ok((range.qHigh - range.qLow) / (range.hi - range.lo) > 0.2, JSON.stringify(range));
      console.log(
        `${file}: [${range.lo.toPrecision(4)}, ${range.hi.toPrecision(4)}) from p0.1 ${range.qLow.toPrecision(4)} p99.9 ${range.qHigh.toPrecision(4)}; ` +
          `${range.below} below, ${range.above} above, ${range.aside} left out, in ${range.sources.length} tensors: ` +
          range.sources
            .slice(0, 4)
            .map((o) => `${report.tensors[o.id].name} ${o.below + o.above + o.aside}`)
            .join(', '),
      );
    });
  }
});
