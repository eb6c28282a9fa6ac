// Image and audio decoding (src/core/data, src/node/data) against independent references made by
// data_ref.py from Debian's PIL (libjpeg-turbo, zlib), numpy and sox, on pictures and speech the
// test renders itself (text and shapes in DejaVu Sans, espeak-ng voices). Tolerances, and why:
//   PNG, WAV: exact (lossless formats; same scaling formula).
//   JPEG: exact — the decoder runs libjpeg's own integer arithmetic (islow IDCT, fancy upsampling, fixed-point YCbCr).
//   resize: |Δ| ≤ 1 of 255 — PIL rounds to 8 bits after each pass and uses 22-bit fixed-point weights; we keep floats.
//     RGBA: ≤ 2 on alpha-premultiplied values — PIL also rounds when it premultiplies and unpremultiplies.
//   resample 22050 → 16000 (and → 44100) vs sox's rate: SNR ≥ 40 dB, correlation ≥ 0.9999 — both are linear-phase
//     band-limited filters; measured, they agree to −120 dB below 7 kHz and differ only in the transition band
//     (7–8 kHz, where the two designs roll off differently and espeak's speech holds −28 dB of its energy).
// Bundles the modules itself with esbuild, so it needs no prior build.
// Env: MODEL_LENS_PYTHON (default /usr/bin/python3, Debian's numpy and PIL).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PYTHON = process.env.MODEL_LENS_PYTHON ?? '/usr/bin/python3';

const bundled = await esbuild.build({
  stdin: {
    contents: `export * from './src/node/data/decode'; export * from './src/core/data/image'; export * from './src/core/data/audio';
      export { DataError } from './src/core/data/types'; export { parseNpy } from './src/core/verify/npy';`,
    resolveDir: ROOT,
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  format: 'esm',
  write: false,
});
const m = await import(
  `data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString('base64')}`
);

let dir;
let cases;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'model-lens-data-'));
  cases = JSON.parse(
    execFileSync(PYTHON, [join(ROOT, 'test/e2e/data_ref.py'), join(dir, 'data')], {
      encoding: 'utf8',
    }),
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

const bytes = (name) => new Uint8Array(readFileSync(join(dir, 'data', name)));
const ref = (name) => m.parseNpy(bytes(name), name);

/** Largest |a − b| and how many elements differ at all. */
function diff(a, b) {
  assert.equal(a.length, b.length);
  let max = 0;
  let differ = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > max) max = d;
    if (d > 0) differ++;
  }
  return { max, differ };
}

/** The reference's [H, W] or [H, W, C] against a decoded image. */
function assertShape(img, r, name) {
  const [h, w, c = 1] = r.dims;
  assert.deepEqual([img.height, img.width, img.channels], [h, w, c], `${name}: size and channels`);
}

describe('PNG decoding equals PIL (or the written samples) exactly', () => {
  it('every colour type, bit depth, tRNS and Adam7 case', () => {
    assert.ok(cases.png.length >= 20);
    for (const c of cases.png) {
      const img = m.decodeImage(bytes(c.file), c.file);
      const r = ref(c.ref);
      assertShape(img, r, c.file);
      const { max, differ } = diff(img.data, r.data);
      assert.equal(differ, 0, `${c.file} (${c.note}): ${differ} values differ, max |Δ| ${max}`);
    }
  });
});

describe('JPEG decoding equals PIL (libjpeg-turbo)', () => {
  it('baseline, progressive, 4:2:0/4:2:2/4:4:4, gray, odd sizes, optimized tables', () => {
    for (const c of cases.jpeg) {
      const img = m.decodeImage(bytes(c.file), c.file);
      const r = ref(c.ref);
      assertShape(img, r, c.file);
      const { max, differ } = diff(img.data, r.data);
      assert.equal(
        differ,
        0,
        `${c.file} (${c.note}): ${differ} of ${r.data.length} values differ, max |Δ| ${max}`,
      );
    }
  });
});

describe('resizeBilinear matches PIL resize(BILINEAR)', () => {
  it('downscale (antialiased), upscale, gray: |Δ| ≤ 1 of 255; RGBA premultiplied ≤ 2', () => {
    for (const c of cases.resize) {
      const img = m.decodeImage(bytes(c.file), c.file);
      const out = m.resizeBilinear(img, c.width, c.height);
      const r = ref(c.ref);
      assertShape(out, r, c.file);
      let ours = out.data;
      let theirs = r.data;
      let tolerance = 1;
      if (out.channels === 4) {
        tolerance = 2;
        // PIL unpremultiplies in 8 bits, which is coarse where alpha is small: compare what compositing sees.
        const pre = (d) => d.map((v, i) => (i % 4 === 3 ? v : (v * d[i - (i % 4) + 3]) / 255));
        ours = pre(ours);
        theirs = pre(Float32Array.from(theirs));
      }
      const { max } = diff(ours, theirs);
      assert.ok(
        max <= tolerance + 1e-3,
        `${c.file} → ${c.width}×${c.height} (${c.note}): max |Δ| ${max}`,
      );
    }
  });

  it('imageTensor gives PaddleOCR-normalised [1,3,48,192] within 1/255·2 of PIL-resized pixels', () => {
    const c = cases.resize.find((x) => x.file === 'line.png' && x.width === 192);
    const t = m.imageTensor(m.decodeImage(bytes(c.file), c.file), {
      width: 192,
      height: 48,
      mean: [0.5],
      std: [0.5],
    });
    assert.deepEqual(t.dims, [1, 3, 48, 192]);
    const r = ref(c.ref);
    const want = new Float32Array(t.data.length);
    for (let k = 0; k < 3; k++)
      for (let p = 0; p < 48 * 192; p++)
        want[k * 48 * 192 + p] = (r.data[p * 3 + k] / 255 - 0.5) / 0.5;
    assert.ok(diff(t.data, want).max <= 2 / 255 + 1e-6);
  });
});

describe('WAV decoding equals numpy exactly', () => {
  it('8/16/24/32-bit PCM, 32/64-bit float, stereo, 3 channels (WAVE_FORMAT_EXTENSIBLE)', () => {
    for (const c of cases.wav) {
      const a = m.decodeWav(bytes(c.file), c.file);
      const r = ref(c.ref);
      assert.equal(a.rate, c.rate, c.file);
      assert.deepEqual(
        [a.channels.length, a.channels[0].length],
        r.dims,
        `${c.file}: channels × frames`,
      );
      const flat = new Float32Array(r.data.length);
      a.channels.forEach((ch, i) => flat.set(ch, i * ch.length));
      const { max, differ } = diff(flat, r.data);
      assert.equal(differ, 0, `${c.file} (${c.note}): ${differ} samples differ, max |Δ| ${max}`);
    }
  });
});

describe('resample agrees with sox', () => {
  it('espeak-ng speech 22050 → 16000 and → 44100: SNR ≥ 40 dB, correlation ≥ 0.9999', () => {
    for (const c of cases.resample) {
      const mono = m.toMono(m.decodeWav(bytes(c.file), c.file));
      const ours = m.resample(mono, c.from, c.to);
      const theirs = ref(c.ref).data;
      assert.ok(
        Math.abs(ours.length - theirs.length) <= 1,
        `${c.note}: ${ours.length} vs ${theirs.length} samples`,
      );
      const n = Math.min(ours.length, theirs.length);
      let sig = 0,
        err = 0,
        ab = 0,
        aa = 0,
        bb = 0;
      for (let i = 0; i < n; i++) {
        sig += theirs[i] ** 2;
        err += (ours[i] - theirs[i]) ** 2;
        ab += ours[i] * theirs[i];
        aa += ours[i] ** 2;
        bb += theirs[i] ** 2;
      }
      const snr = 10 * Math.log10(sig / err);
      const corr = ab / Math.sqrt(aa * bb);
      console.log(
        `# ${c.note}: SNR ${snr.toFixed(1)} dB, correlation ${corr.toFixed(6)}, ${n} samples`,
      );
      assert.ok(snr >= 40, `${c.note}: SNR ${snr.toFixed(1)} dB`);
      assert.ok(corr >= 0.9999, `${c.note}: correlation ${corr}`);
    }
  });
});

describe('bad files give one DataError line naming the file', () => {
  it('truncated PNG/JPEG, text named .png, 12-bit and A-law WAV, empty data chunk', () => {
    for (const c of cases.bad) {
      const decode = c.kind === 'image' ? m.decodeImage : m.decodeWav;
      assert.throws(
        () => decode(bytes(c.file), c.file),
        (err) => {
          assert.ok(err instanceof m.DataError, `${c.file}: ${err}`);
          assert.ok(err.message.startsWith(`${c.file}: ${c.reason}`), err.message);
          assert.ok(!err.message.includes('\n'), err.message);
          return true;
        },
      );
    }
  });
});

describe('mutated files are decoded or refused with a DataError, nothing else', () => {
  it('random truncations and byte changes of PNG, JPEG and WAV files', () => {
    let state = 20240601;
    const random = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const seeds = [
      'rgb.png',
      'adam7_pal4_trns.png',
      'rgba16.png',
      'q90_420.jpg',
      'prog_444.jpg',
      'dri_420.jpg',
      'gray.jpg',
      'three24.wav',
      'f32.wav',
    ];
    const failures = [];
    let refused = 0;
    for (const seed of seeds) {
      const good = bytes(seed);
      const decode = seed.endsWith('.wav') ? m.decodeWav : m.decodeImage;
      for (let i = 0; i < 100; i++) {
        const b = good.slice(0, i % 2 ? Math.floor(random() * good.length) : good.length);
        if (i % 2 === 0)
          for (let k = 1 + random() * 8; k > 0; k--)
            b[Math.floor(random() * b.length)] = random() * 256;
        const started = performance.now();
        try {
          decode(b, seed);
        } catch (err) {
          if (err instanceof m.DataError) refused++;
          else failures.push(`${seed} case ${i}: ${err.stack}`);
        }
        if (performance.now() - started > 2000)
          failures.push(`${seed} case ${i}: took ${(performance.now() - started).toFixed(0)} ms`);
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(refused > 100, `${refused} of ${seeds.length * 100} refused`);
  });
});
