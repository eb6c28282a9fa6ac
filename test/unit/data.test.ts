/**
 * The pure parts of calibration data: WAV parsing, PNG/JPEG refusal of hostile or unsupported
 * files, model preprocessing (imageTensor, resizeBilinear) and audio (toMono, resample, chunks)
 * against analytic references. Real pictures and speech are checked against PIL, numpy and sox in
 * test/e2e/dataDecode.test.mjs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import { chunks, resample, toMono } from '../../src/core/data/audio';
import { imageTensor, resizeBilinear } from '../../src/core/data/image';
import { DataError, type DecodedImage } from '../../src/core/data/types';
import { decodeImage, decodeWav } from '../../src/node/data/decode';

const refused = (file: string, reason: string) => (e: unknown) => {
  assert.ok(e instanceof DataError, String(e));
  assert.equal(e.file, file);
  assert.equal(e.message, `${file}: ${reason}`);
  return true;
};

// ---------------------------------------------------------------- WAV

function riff(chunks: [string, Uint8Array][]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [id, body] of chunks) {
    const head = Buffer.alloc(8);
    head.write(id, 0, 'latin1');
    head.writeUInt32LE(body.length, 4);
    parts.push(head, body, new Uint8Array(body.length & 1));
  }
  const body = Buffer.concat([Buffer.from('WAVE'), ...parts]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return new Uint8Array(Buffer.concat([head, body]));
}

function fmt(
  format: number,
  channels: number,
  rate: number,
  bits: number,
  subFormat?: number,
): Uint8Array {
  const b = Buffer.alloc(subFormat === undefined ? 16 : 40);
  const frame = (channels * bits) / 8;
  b.writeUInt16LE(format, 0);
  b.writeUInt16LE(channels, 2);
  b.writeUInt32LE(rate, 4);
  b.writeUInt32LE(rate * frame, 8);
  b.writeUInt16LE(frame, 12);
  b.writeUInt16LE(bits, 14);
  if (subFormat !== undefined) {
    b.writeUInt16LE(22, 16);
    b.writeUInt16LE(bits, 18);
    b.writeUInt16LE(subFormat, 24);
  }
  return new Uint8Array(b);
}

describe('decodeWav', () => {
  it('de-interleaves 16-bit stereo and scales by 2^15', () => {
    const d = Buffer.alloc(8);
    [1000, -1000, 32767, -32768].forEach((v, i) => d.writeInt16LE(v, 2 * i));
    const a = decodeWav(
      riff([
        ['fmt ', fmt(1, 2, 16000, 16)],
        ['data', d],
      ]),
      's.wav',
    );
    assert.equal(a.rate, 16000);
    assert.deepEqual(
      a.channels.map((c) => Array.from(c)),
      [
        [1000 / 32768, 32767 / 32768],
        [-1000 / 32768, -1],
      ],
    );
  });

  it('reads 8-bit as unsigned and 24-bit as signed', () => {
    const u8 = decodeWav(
      riff([
        ['fmt ', fmt(1, 1, 8000, 8)],
        ['data', Uint8Array.from([0, 128, 255])],
      ]),
      'u.wav',
    );
    assert.deepEqual(Array.from(u8.channels[0]), [-1, 0, 127 / 128]);
    const s24 = decodeWav(
      riff([
        ['fmt ', fmt(1, 1, 8000, 24)],
        ['data', Uint8Array.from([0, 0, 0x80, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff])],
      ]),
      's.wav',
    );
    assert.deepEqual(Array.from(s24.channels[0]), [
      -1,
      Math.fround((2 ** 23 - 1) / 2 ** 23),
      Math.fround(-1 / 2 ** 23),
    ]);
  });

  it('takes the format from WAVE_FORMAT_EXTENSIBLE, skips other chunks (odd sizes padded)', () => {
    const d = Buffer.alloc(8);
    d.writeFloatLE(0.25, 0);
    d.writeFloatLE(-1.5, 4);
    const bytes = riff([
      ['LIST', new Uint8Array(5)],
      ['fmt ', fmt(0xfffe, 1, 44100, 32, 3)],
      ['fact', new Uint8Array(4)],
      ['data', d],
    ]);
    const a = decodeWav(bytes, 'f.wav');
    assert.equal(a.rate, 44100);
    assert.deepEqual(
      Array.from(a.channels[0]),
      [0.25, -1.5],
      'float samples are kept as stored, even past ±1',
    );
  });

  it('reads a data chunk that claims more than the file holds as far as whole frames go', () => {
    const bytes = riff([
      ['fmt ', fmt(1, 2, 8000, 16)],
      ['data', new Uint8Array(10)],
    ]);
    new DataView(bytes.buffer).setUint32(bytes.length - 14, 1 << 30, true);
    assert.equal(decodeWav(bytes, 'cut.wav').channels[0].length, 2);
  });

  it('refuses what it cannot read, in one line naming the file', () => {
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(Buffer.from('hello, this is text')), 'not a WAV (RIFF/WAVE) file'],
      [new Uint8Array(Buffer.from('RF64\0\0\0\0WAVE')), 'RF64 WAV is not supported'],
      [riff([['data', new Uint8Array(4)]]), 'corrupt WAV (no fmt chunk)'],
      [riff([['fmt ', fmt(1, 1, 8000, 16)]]), 'corrupt WAV (no data chunk)'],
      [
        riff([
          ['fmt ', fmt(1, 1, 8000, 12)],
          ['data', new Uint8Array(4)],
        ]),
        '12-bit PCM is not supported',
      ],
      [
        riff([
          ['fmt ', fmt(7, 1, 8000, 8)],
          ['data', new Uint8Array(4)],
        ]),
        'µ-law WAV is not supported; convert it to PCM',
      ],
      [
        riff([
          ['fmt ', fmt(3, 1, 8000, 16)],
          ['data', new Uint8Array(4)],
        ]),
        '16-bit float WAV is not supported',
      ],
      [
        riff([
          ['fmt ', fmt(1, 1, 0, 16)],
          ['data', new Uint8Array(4)],
        ]),
        'corrupt WAV (sample rate 0)',
      ],
      [
        riff([
          ['fmt ', fmt(1, 2, 8000, 16)],
          ['data', new Uint8Array(3)],
        ]),
        'no audio samples (empty data chunk)',
      ],
      [
        riff([
          ['fmt ', fmt(3, 1, 8000, 32)],
          ['data', new Uint8Array(Float32Array.from([0, NaN]).buffer)],
        ]),
        'float WAV holds NaN or infinite samples',
      ],
    ];
    for (const [bytes, reason] of cases)
      assert.throws(() => decodeWav(bytes, 'a.wav'), refused('a.wav', reason));
  });
});

// ---------------------------------------------------------------- PNG and JPEG refusals

function png(
  ihdr: { w: number; h: number; depth?: number; type?: number },
  rows: number[][],
  extra: [string, Uint8Array][] = [],
): Uint8Array {
  const chunk = (type: string, data: Uint8Array): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const h = Buffer.alloc(13);
  h.writeUInt32BE(ihdr.w, 0);
  h.writeUInt32BE(ihdr.h, 4);
  h[8] = ihdr.depth ?? 8;
  h[9] = ihdr.type ?? 2;
  const idat = zlib.deflateSync(Uint8Array.from(rows.flat()));
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', h),
      ...extra.map(([t, d]) => chunk(t, d)),
      chunk('IDAT', idat),
      chunk('IEND', new Uint8Array(0)),
    ]),
  );
}

describe('decodeImage: PNG edge cases', () => {
  it('decodes a filtered 2×2 RGB image', () => {
    // Row 0 unfiltered; row 1 with the Up filter (each byte adds the one above).
    const img = decodeImage(
      png({ w: 2, h: 2 }, [
        [0, 10, 20, 30, 40, 50, 60],
        [2, 1, 1, 1, 255, 255, 255],
      ]),
      'a.png',
    );
    assert.deepEqual(
      { ...img, data: Array.from(img.data) },
      { width: 2, height: 2, channels: 3, data: [10, 20, 30, 40, 50, 60, 11, 21, 31, 39, 49, 59] },
    );
  });

  it('maps palette indices past the palette to black', () => {
    const img = decodeImage(
      png({ w: 2, h: 1, type: 3 }, [[0, 0, 5]], [['PLTE', Uint8Array.from([9, 8, 7])]]),
      'p.png',
    );
    assert.deepEqual(Array.from(img.data), [9, 8, 7, 0, 0, 0]);
  });

  it('refuses corrupt and hostile files in one line', () => {
    const good = png({ w: 2, h: 1 }, [[0, 1, 2, 3, 4, 5, 6]]);
    const badCrc = good.slice();
    badCrc[30] ^= 1;
    const cases: [Uint8Array, string][] = [
      [badCrc, 'corrupt PNG (CRC mismatch in IHDR)'],
      [good.subarray(0, good.length - 12), 'truncated PNG (no IEND chunk)'],
      [good.subarray(0, 45), 'truncated PNG (IDAT chunk runs past the end of the file)'],
      [png({ w: 2, h: 1 }, [[7, 1, 2, 3, 4, 5, 6]]), 'corrupt PNG (row filter type 7)'],
      [png({ w: 2, h: 2 }, [[0, 1, 2, 3, 4, 5, 6]]), 'truncated PNG image data (7 of 14 bytes)'],
      [
        png({ w: 1, h: 1 }, [[0, 1, 2, 3, 4, 5, 6]]),
        'corrupt PNG image data (inflates past the 4 bytes its header implies)',
      ],
      [png({ w: 100000, h: 100000 }, []), `100000×100000 image is larger than ${2 ** 26} pixels`],
      [png({ w: 2, h: 1, depth: 4 }, []), 'corrupt PNG (bit depth 4 with color type 2)'],
      [
        png({ w: 2, h: 1, type: 3 }, [[0, 0]]),
        'corrupt PNG (palette image without a valid PLTE chunk)',
      ],
      [new Uint8Array(Buffer.from('GIF89a....')), 'not a PNG or JPEG file'],
    ];
    for (const [bytes, reason] of cases)
      assert.throws(() => decodeImage(bytes, 'p.png'), refused('p.png', reason));
  });
});

describe('decodeImage: JPEG refusals', () => {
  const seg = (marker: number, body: number[]): number[] => [
    0xff,
    marker,
    (body.length + 2) >> 8,
    (body.length + 2) & 255,
    ...body,
  ];
  const jpeg = (...segments: number[][]): Uint8Array =>
    Uint8Array.from([0xff, 0xd8, ...segments.flat()]);
  const sof = (marker: number, precision: number, comps: number) =>
    seg(marker, [
      precision,
      0,
      8,
      0,
      8,
      comps,
      ...Array.from({ length: comps }, (_, i) => [i + 1, 0x11, 0]).flat(),
    ]);

  it('names what is not supported', () => {
    const cases: [Uint8Array, string][] = [
      [jpeg(sof(0xc0, 12, 1)), '12-bit JPEG is not supported'],
      [jpeg(sof(0xc9, 8, 3)), 'arithmetic-coded JPEG is not supported'],
      [jpeg(sof(0xc3, 8, 3)), 'lossless JPEG is not supported'],
      [jpeg(sof(0xc0, 8, 4)), 'CMYK JPEG is not supported'],
      [jpeg(seg(0xe0, [0x4a, 0x46])), 'truncated JPEG (no end-of-image marker)'],
      [jpeg([0xff, 0xd9]), 'corrupt JPEG (no frame header)'],
      [
        jpeg(sof(0xc0, 8, 1), seg(0xda, [1, 1, 0, 0, 63, 0]), [0xff, 0xd9]),
        'corrupt JPEG (missing quantisation table)',
      ],
      [
        jpeg(seg(0xc0, [8, 0x40, 0, 0x40, 0, 1, 1, 0x11, 0])),
        `16384×16384 image is larger than ${2 ** 26} pixels`,
      ],
    ];
    for (const [bytes, reason] of cases)
      assert.throws(() => decodeImage(bytes, 'j.jpg'), refused('j.jpg', reason));
  });
});

// ---------------------------------------------------------------- preprocessing

const image = (
  width: number,
  height: number,
  channels: DecodedImage['channels'],
  values: number[],
): DecodedImage => ({ width, height, channels, data: Float32Array.from(values) });

describe('resizeBilinear', () => {
  it('keeps a constant image constant and an unchanged size unchanged', () => {
    const flat = resizeBilinear(image(5, 3, 1, new Array(15).fill(77)), 13, 2);
    assert.ok(flat.data.every((v) => Math.abs(v - 77) < 1e-4));
    const img = image(2, 2, 3, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert.deepEqual(resizeBilinear(img, 2, 2), img);
  });

  it('averages when shrinking (antialiased, as PIL): stripes 0/255 halve to 127.5', () => {
    const stripes = image(8, 1, 1, [0, 255, 0, 255, 0, 255, 0, 255]);
    const out = resizeBilinear(stripes, 4, 1);
    // The kernel widens to 2 source pixels each side: weights ¼ ¾ ¾ ¼, clipped and renormalised at the
    // edges (PIL gives 109 128 128 146, rounded).
    assert.deepEqual(
      Array.from(out.data, (v) => Math.round(v * 100) / 100),
      [109.29, 127.5, 127.5, 145.71],
    );
  });

  it('does not bleed the colour of transparent pixels', () => {
    const img = image(2, 1, 4, [255, 0, 0, 0, 0, 0, 255, 255]);
    const out = resizeBilinear(img, 1, 1);
    assert.deepEqual(Array.from(out.data), [0, 0, 255, 127.5]);
  });
});

describe('imageTensor', () => {
  const rgb = image(2, 1, 3, [10, 20, 30, 40, 50, 60]);

  it('lays out NCHW or NHWC, RGB or BGR, with scale, mean and std per channel', () => {
    const nchw = imageTensor(rgb, {
      width: 2,
      height: 1,
      scale: 1,
      mean: [0, 10, 20],
      std: [1, 2, 4],
    });
    assert.deepEqual(nchw.dims, [1, 3, 1, 2]);
    assert.deepEqual(Array.from(nchw.data), [10, 40, 5, 20, 2.5, 10]);
    const bgr = imageTensor(rgb, { width: 2, height: 1, scale: 1, order: 'BGR', layout: 'NHWC' });
    assert.deepEqual(bgr.dims, [1, 1, 2, 3]);
    assert.deepEqual(Array.from(bgr.data), [30, 20, 10, 60, 50, 40]);
    assert.ok(
      Math.abs(imageTensor(rgb, { width: 2, height: 1 }).data[0] - 10 / 255) < 1e-7,
      'default scale is 1/255',
    );
  });

  it('replicates gray to three channels and takes ITU-R 601 luma for grayscale', () => {
    const gray = imageTensor(image(1, 1, 1, [90]), { width: 1, height: 1, scale: 1 });
    assert.deepEqual(Array.from(gray.data), [90, 90, 90]);
    const luma = imageTensor(image(1, 1, 3, [255, 0, 0]), {
      width: 1,
      height: 1,
      scale: 1,
      grayscale: true,
    });
    assert.deepEqual(luma.dims, [1, 1, 1, 1]);
    assert.ok(Math.abs(luma.data[0] - 0.299 * 255) < 1e-4);
  });

  it('composites alpha over white', () => {
    const t = imageTensor(image(1, 1, 4, [0, 0, 0, 51]), { width: 1, height: 1, scale: 1 });
    assert.deepEqual(Array.from(t.data, Math.round), [204, 204, 204]);
  });

  it("fit 'pad' keeps the aspect, fits the height (or the width) and fills the rest with padValue", () => {
    const line = image(4, 2, 1, new Array(8).fill(255));
    const wide = imageTensor(line, {
      width: 6,
      height: 2,
      fit: 'pad',
      scale: 1,
      padValue: -1,
      grayscale: true,
    });
    assert.deepEqual(
      Array.from(wide.data),
      [255, 255, 255, 255, -1, -1, 255, 255, 255, 255, -1, -1],
    );
    const tall = imageTensor(line, { width: 2, height: 3, fit: 'pad', scale: 1, grayscale: true });
    assert.deepEqual(
      Array.from(tall.data),
      [255, 255, 0, 0, 0, 0],
      'a picture wider than the box fits the width and pads the bottom',
    );
    const stretched = imageTensor(line, { width: 6, height: 2, scale: 1, grayscale: true });
    assert.ok(stretched.data.every((v) => Math.abs(v - 255) < 1e-3));
  });

  it('refuses a mean or std of the wrong length', () => {
    assert.throws(
      () => imageTensor(rgb, { width: 2, height: 1, mean: [1, 2] }),
      /mean has 2 values for 3 channels/,
    );
  });
});

// ---------------------------------------------------------------- audio

const sine = (n: number, rate: number, hz: number, phase = 0): Float32Array =>
  Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * hz * i) / rate + phase));

/** Largest |a − b| over the middle, away from the edges where the filter sees zeros. */
function middleError(a: Float32Array, b: Float32Array, margin: number): number {
  let max = 0;
  for (let i = margin; i < Math.min(a.length, b.length) - margin; i++)
    max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function rms(a: Float32Array, margin: number): number {
  let s = 0;
  for (let i = margin; i < a.length - margin; i++) s += a[i] ** 2;
  return Math.sqrt(s / (a.length - 2 * margin));
}

describe('resample', () => {
  it('gives ⌈n·to/from⌉ samples and copies when the rates are equal', () => {
    assert.equal(resample(new Float32Array(22050), 22050, 16000).length, 16000);
    assert.equal(
      resample(new Float32Array(1001), 22050, 16000).length,
      Math.ceil((1001 * 16000) / 22050),
    );
    const x = sine(100, 16000, 440);
    assert.deepEqual(resample(x, 16000, 16000), x);
    assert.throws(() => resample(x, 16000.5, 8000), /positive integers/);
  });

  it('keeps in-band tones: 1 kHz 22050 → 16000, 440 Hz 8000 → 16000, 3 kHz 44101 → 16000 (interpolated phases)', () => {
    for (const [from, to, hz] of [
      [22050, 16000, 1000],
      [8000, 16000, 440],
      [44101, 16000, 3000],
    ]) {
      const out = resample(sine(from, from, hz, 0.3), from, to);
      assert.ok(middleError(out, sine(out.length, to, hz, 0.3), 200) < 2e-4, `${from} → ${to}`);
    }
  });

  it('removes what the new rate cannot hold: 9 kHz at 22050 → 16000 is 90 dB down, not aliased to 7 kHz', () => {
    const out = resample(sine(22050, 22050, 9000), 22050, 16000);
    assert.ok(20 * Math.log10(rms(out, 200) / Math.SQRT1_2) < -90);
  });

  it('keeps a constant exactly constant away from the edges', () => {
    const out = resample(new Float32Array(5000).fill(0.5), 22050, 16000);
    assert.ok(middleError(out, new Float32Array(out.length).fill(0.5), 200) < 1e-6);
  });
});

describe('toMono and chunks', () => {
  it('averages channels', () => {
    assert.deepEqual(
      Array.from(
        toMono({
          rate: 8000,
          channels: [Float32Array.from([1, 0.5]), Float32Array.from([0, -0.5])],
        }),
      ),
      [0.5, 0],
    );
  });

  it('cuts whole chunks only, with hop and scale', () => {
    const x = Float32Array.from({ length: 10 }, (_, i) => i / 10);
    assert.deepEqual(
      chunks(x, 4).map((c) => Array.from(c)),
      [[0, 0.1, 0.2, 0.3].map(Math.fround), [0.4, 0.5, 0.6, 0.7].map(Math.fround)],
    );
    assert.equal(chunks(x, 4, { hop: 2 }).length, 4);
    assert.deepEqual(Array.from(chunks(x, 2, { scale: 10 })[1]), [2, 3]);
    assert.deepEqual(
      chunks(x, 11),
      [],
      'a clip shorter than one chunk gives none; the caller says so',
    );
    assert.throws(() => chunks(x, 0), /positive integer/);
  });
});
