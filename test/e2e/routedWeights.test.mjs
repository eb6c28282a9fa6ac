// Weights that reach their compute op only through ops that keep their axes, on a real model: silero VAD v5
// (@ricky0123/vad-web, exported from PyTorch through spox) declares its LSTM's weight_ih/weight_hh [512, 128] and
// biases as Constants in an If branch, and slices their gate rows, concatenates them in ONNX's gate order and
// unsqueezes them into the LSTM inside a nested If. Every method's default scope takes them (the gate rows as
// output channels); the per-tensor fidelity matches the independent numpy simulation (zoo_ref.py, which follows
// such paths by its own code), and the variant runs in onnxruntime-node with the simulation's outputs.
// Needs `node scripts/build.mjs` first. Env: MODEL_LENS_DIST, MODEL_LENS_ZOO_DIR, MODEL_LENS_PYTHON.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cliJson, cosine, zooModel } from './realModels.mjs';
import { simulate } from './zoo-lib.mjs';

const ort = createRequire(import.meta.url)('onnxruntime-node');
const work = mkdtempSync(join(tmpdir(), 'model-lens-routed-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A 512-sample 16 kHz chunk: a 300 Hz tone with a slower 1.1 kHz one, the kind of band speech has. */
function chunk() {
  return Float32Array.from(
    { length: 512 },
    (_, i) =>
      0.3 * Math.sin((2 * Math.PI * 300 * i) / 16000) +
      0.1 * Math.sin((2 * Math.PI * 1100 * i) / 16000),
  );
}

async function run(file) {
  const s = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
  const out = await s.run({
    input: new ort.Tensor('float32', chunk(), [1, 512]),
    state: new ort.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]),
    sr: new ort.Tensor('int64', BigInt64Array.of(16000n), []),
  });
  await s.release();
  return Float32Array.from([...out.output.data, ...out.stateN.data]);
}

const LSTM_WEIGHTS = [
  'If_0_else_branch__Inline_0__decoder.rnn.weight_hh',
  'If_0_else_branch__Inline_0__decoder.rnn.weight_ih',
  'If_0_then_branch__Inline_0__decoder.rnn.weight_hh',
  'If_0_then_branch__Inline_0__decoder.rnn.weight_ih',
];
const LSTM_BIASES = LSTM_WEIGHTS.map((n) => n.replace('weight', 'bias'));

describe('silero VAD v5: LSTM weights reached through Slice, Concat and Unsqueeze', () => {
  const src = zooModel('silero_vad_v5.onnx');
  const original = run(src);

  for (const [method, sim, expected] of [
    ['int8', 'int8', LSTM_WEIGHTS],
    ['int4', 'int4:block=32', LSTM_WEIGHTS],
    ['fp16', 'fp16', [...LSTM_WEIGHTS, ...LSTM_BIASES]],
  ]) {
    it(`${method}: compressed with the gate rows as output channels, as the numpy simulation does`, async (t) => {
      const out = join(work, `v5.${method}.onnx`);
      const r = await cliJson(
        'compress',
        src,
        '--method',
        method,
        '-o',
        out,
        '--force',
        '--json',
        '--no-verify',
      );
      const lstm = r.tensors.filter((x) => x.name.includes('decoder.rnn.'));
      assert.deepEqual(lstm.map((x) => x.name).sort(), expected.sort());
      for (const x of lstm) {
        assert.equal(x.op, 'LSTM', x.name);
        assert.match(x.layer, /decoder\/rnn(_1)?\/LSTM$/, x.name);
      }
      if (method === 'int8')
        for (const x of lstm) assert.equal(x.method, 'int8 (per-channel, axis 0)', x.name);
      if (method === 'int4')
        for (const x of lstm)
          assert.match(x.method, /^int4 \(blocks of 32 along axis 1[,)]/, x.name);
      // The same tensors, each with the fidelity numpy's arithmetic gives it (float32 on both sides: agreement to rounding).
      const { [method]: s } = await simulate(src, work, { [method]: sim });
      assert.deepEqual(Object.keys(s.cosines).sort(), r.tensors.map((x) => x.name).sort());
      for (const x of lstm)
        assert.ok(
          Math.abs(x.cosine - s.cosines[x.name]) < 1e-6,
          `${x.name}: ours ${x.cosine}, numpy ${s.cosines[x.name]}`,
        );
      const [ours, numpy] = [await run(out), await run(s.path)];
      const [cOurs, cSim] = [cosine(await original, ours), cosine(await original, numpy)];
      assert.ok(
        cosine(ours, numpy) > 0.9999,
        `ours against the simulation: cosine ${cosine(ours, numpy)}`,
      );
      assert.ok(
        Math.abs(cOurs - cSim) < 1e-3,
        `cosine to the original: ours ${cOurs}, simulation ${cSim}`,
      );
      const ratio = statSync(out).size / statSync(src).size;
      t.diagnostic(
        `${method}: ${ratio.toFixed(3)} of the original, ${r.tensors.length} tensors (${lstm.length} of the LSTM's); output and state cosine to the original ${cOurs.toFixed(6)}, simulation ${cSim.toFixed(6)}, on a two-tone chunk`,
      );
    });
  }
});
