import { MAX_IMAGE_PIXELS } from '../limits';
import { dataError, type DecodedImage } from './types';

/*
 * Baseline and progressive Huffman JPEG, 8-bit, gray or YCbCr/RGB. The arithmetic is libjpeg's
 * (what PIL, browsers' fallbacks and most tools run): the integer "islow" IDCT, the triangle-filter
 * ("fancy") chroma upsampling and the fixed-point YCbCr→RGB tables, so pixels come out as PIL's do.
 */

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/** Zigzag position → natural (row-major) index; 16 extra entries absorb runs past the block, as libjpeg's table does. */
const NATURAL = Int32Array.from([
  0,
  1,
  8,
  16,
  9,
  2,
  3,
  10,
  17,
  24,
  32,
  25,
  18,
  11,
  4,
  5,
  12,
  19,
  26,
  33,
  40,
  48,
  41,
  34,
  27,
  20,
  13,
  6,
  7,
  14,
  21,
  28,
  35,
  42,
  49,
  56,
  57,
  50,
  43,
  36,
  29,
  22,
  15,
  23,
  30,
  37,
  44,
  51,
  58,
  59,
  52,
  45,
  38,
  31,
  39,
  46,
  53,
  60,
  61,
  54,
  47,
  55,
  62,
  63,
  ...new Array<number>(16).fill(63),
]);

interface Huffman {
  /** 9-bit look-ahead: (length << 8) | symbol, 0 when the code is longer. */
  fast: Uint16Array;
  maxcode: Int32Array;
  valptr: Int32Array;
  mincode: Int32Array;
  values: Uint8Array;
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  /** Dequantisation table in natural order, latched at the component's first scan (as libjpeg does). */
  quant?: Int32Array;
  /** Blocks that hold image samples, and blocks allocated to whole MCUs. */
  blocksW: number;
  blocksH: number;
  blocksWMcu: number;
  blocksHMcu: number;
  /** Samples of the component that hold image data (libjpeg's downsampled_width/height). */
  width: number;
  height: number;
  coefs: Int16Array;
  pred: number;
}

interface Frame {
  progressive: boolean;
  width: number;
  height: number;
  components: Component[];
  maxH: number;
  maxV: number;
  mcusX: number;
  mcusY: number;
}

/**
 * Entropy-coded bits; past a marker they read as zeros, as in libjpeg. Running into the end of
 * the file instead is a cut-short file, refused at once (a claimed size must not cost a full decode).
 */
class BitReader {
  private buf = 0;
  private count = 0;
  constructor(
    private readonly bytes: Uint8Array,
    public pos: number,
    private readonly file: string,
  ) {}

  private fill(): void {
    const b = this.bytes;
    while (this.count <= 24) {
      let byte = 0;
      if (this.pos >= b.length) dataError(this.file, 'truncated JPEG (image data cut short)');
      else if (b[this.pos] !== 0xff) byte = b[this.pos++];
      else if (b[this.pos + 1] === 0) {
        byte = 0xff;
        this.pos += 2;
      }
      this.buf = (this.buf << 8) | byte;
      this.count += 8;
    }
  }

  bits(n: number): number {
    if (n === 0) return 0;
    if (this.count < n) this.fill();
    this.count -= n;
    return (this.buf >>> this.count) & ((1 << n) - 1);
  }

  /** A value of `n` bits, sign-extended the JPEG way (leading 0 means negative). */
  extend(n: number): number {
    if (n > 16) dataError(this.file, 'corrupt JPEG (a coefficient of more than 16 bits)');
    const v = this.bits(n);
    return v < 1 << (n - 1) ? v - (1 << n) + 1 : v;
  }

  decode(t: Huffman): number {
    if (this.count < 16) this.fill();
    const e = t.fast[(this.buf >>> (this.count - 9)) & 0x1ff];
    if (e) {
      this.count -= e >> 8;
      return e & 0xff;
    }
    for (let l = 10; l <= 16; l++) {
      const code = (this.buf >>> (this.count - l)) & ((1 << l) - 1);
      if (code <= t.maxcode[l]) {
        this.count -= l;
        return t.values[t.valptr[l] + code - t.mincode[l]];
      }
    }
    // A code no table holds: libjpeg warns and decodes a zero; so do we (the image is corrupt either way).
    this.count -= 16;
    return 0;
  }

  /**
   * Drops the buffered bits (a segment's padding) and moves to the next marker, stepping past it if
   * it is RSTn: where a restart interval ends, and at the end of a scan (a stray RSTn is skipped).
   */
  align(): void {
    this.buf = 0;
    this.count = 0;
    const b = this.bytes;
    for (let p = this.pos; p + 1 < b.length; p++) {
      if (b[p] === 0xff && b[p + 1] >= 0xd0 && b[p + 1] <= 0xd7) {
        this.pos = p + 2;
        return;
      }
      if (b[p] === 0xff && b[p + 1] !== 0 && b[p + 1] !== 0xff) return;
    }
  }
}

/** Decodes a JPEG to 1 (gray) or 3 (RGB) channels. */
export function decodeJpeg(bytes: Uint8Array, file: string): DecodedImage {
  if (!isJpeg(bytes)) dataError(file, 'not a JPEG file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const quant: (Int32Array | undefined)[] = [];
  const dc: (Huffman | undefined)[] = [];
  const ac: (Huffman | undefined)[] = [];
  let frame: Frame | undefined;
  let restartInterval = 0;
  let jfif = false;
  let adobeTransform = -1;
  let pos = 2;
  for (;;) {
    // Markers may be preceded by fill bytes (0xFF); anything else between segments is skipped, as libjpeg does.
    while (pos < bytes.length && bytes[pos] !== 0xff) pos++;
    while (pos < bytes.length && bytes[pos] === 0xff) pos++;
    if (pos >= bytes.length) dataError(file, 'truncated JPEG (no end-of-image marker)');
    const marker = bytes[pos++];
    if (marker === 0xd9) break;
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue;
    const length = pos + 2 <= bytes.length ? view.getUint16(pos) : 0;
    if (length < 2 || pos + length > bytes.length)
      dataError(file, 'truncated JPEG (a segment runs past the end of the file)');
    const seg = bytes.subarray(pos + 2, pos + length);
    pos += length;
    switch (marker) {
      case 0xe0:
        if (seg.length >= 5 && String.fromCharCode(...seg.subarray(0, 5)) === 'JFIF\0') jfif = true;
        break;
      case 0xee:
        if (seg.length >= 12 && String.fromCharCode(...seg.subarray(0, 5)) === 'Adobe')
          adobeTransform = seg[11];
        break;
      case 0xdb:
        readQuant(seg, quant, file);
        break;
      case 0xc4:
        readHuffman(seg, dc, ac, file);
        break;
      case 0xdd:
        if (seg.length < 2) dataError(file, 'corrupt JPEG (short DRI segment)');
        restartInterval = (seg[0] << 8) | seg[1];
        break;
      case 0xc0:
      case 0xc1:
      case 0xc2:
        if (frame) dataError(file, 'corrupt JPEG (two frames)');
        frame = readFrame(seg, marker === 0xc2, file);
        break;
      case 0xda: {
        if (!frame) dataError(file, 'corrupt JPEG (scan before frame header)');
        const reader = new BitReader(bytes, pos, file);
        decodeScan(seg, frame, quant, dc, ac, restartInterval, reader, file);
        pos = reader.pos;
        break;
      }
      default:
        if (
          marker >= 0xc3 &&
          marker <= 0xcf &&
          marker !== 0xc4 &&
          marker !== 0xc8 &&
          marker !== 0xcc
        ) {
          const kind =
            marker >= 0xc9 ? 'arithmetic-coded' : marker === 0xc3 ? 'lossless' : 'hierarchical';
          dataError(file, `${kind} JPEG is not supported`);
        }
    }
  }
  if (!frame) dataError(file, 'corrupt JPEG (no frame header)');
  return toImage(frame, jfif, adobeTransform, file);
}

function readQuant(seg: Uint8Array, quant: (Int32Array | undefined)[], file: string): void {
  for (let p = 0; p < seg.length;) {
    const precision = seg[p] >> 4;
    const id = seg[p] & 15;
    const size = precision ? 128 : 64;
    if (id > 3 || p + 1 + size > seg.length)
      dataError(file, 'corrupt JPEG (bad quantisation table)');
    const t = new Int32Array(64);
    for (let k = 0; k < 64; k++)
      t[NATURAL[k]] = precision ? (seg[p + 1 + 2 * k] << 8) | seg[p + 2 + 2 * k] : seg[p + 1 + k];
    quant[id] = t;
    p += 1 + size;
  }
}

function readHuffman(
  seg: Uint8Array,
  dc: (Huffman | undefined)[],
  ac: (Huffman | undefined)[],
  file: string,
): void {
  for (let p = 0; p < seg.length;) {
    const cls = seg[p] >> 4;
    const id = seg[p] & 15;
    if (cls > 1 || id > 3 || p + 17 > seg.length)
      dataError(file, 'corrupt JPEG (bad Huffman table)');
    const counts = seg.subarray(p + 1, p + 17);
    const total = counts.reduce((a, b) => a + b, 0);
    if (total > 256 || p + 17 + total > seg.length)
      dataError(file, 'corrupt JPEG (bad Huffman table)');
    const values = seg.slice(p + 17, p + 17 + total);
    const t: Huffman = {
      fast: new Uint16Array(512),
      maxcode: new Int32Array(18).fill(-1),
      valptr: new Int32Array(17),
      mincode: new Int32Array(17),
      values,
    };
    let code = 0;
    let k = 0;
    for (let l = 1; l <= 16; l++) {
      t.valptr[l] = k;
      t.mincode[l] = code;
      for (let i = 0; i < counts[l - 1]; i++, k++, code++) {
        if (l <= 9) t.fast.fill((l << 8) | values[k], code << (9 - l), (code + 1) << (9 - l));
      }
      if (code > 1 << l) dataError(file, 'corrupt JPEG (bad Huffman table)');
      t.maxcode[l] = counts[l - 1] ? code - 1 : -1;
      code <<= 1;
    }
    (cls ? ac : dc)[id] = t;
    p += 17 + total;
  }
}

function readFrame(seg: Uint8Array, progressive: boolean, file: string): Frame {
  if (seg.length < 6) dataError(file, 'corrupt JPEG (short frame header)');
  const precision = seg[0];
  const height = (seg[1] << 8) | seg[2];
  const width = (seg[3] << 8) | seg[4];
  const n = seg[5];
  if (precision !== 8) dataError(file, `${precision}-bit JPEG is not supported`);
  if (width === 0 || height === 0)
    dataError(file, `JPEG with ${width}×${height} pixels (a DNL height is not supported)`);
  if (width * height > MAX_IMAGE_PIXELS)
    dataError(file, `${width}×${height} image is larger than ${MAX_IMAGE_PIXELS} pixels`);
  if (n !== 1 && n !== 3)
    dataError(
      file,
      n === 4 ? 'CMYK JPEG is not supported' : `JPEG with ${n} components is not supported`,
    );
  if (seg.length < 6 + 3 * n) dataError(file, 'corrupt JPEG (short frame header)');
  const factors = Array.from({ length: n }, (_, i) => ({
    id: seg[6 + 3 * i],
    h: seg[7 + 3 * i] >> 4,
    v: seg[7 + 3 * i] & 15,
    tq: seg[8 + 3 * i] & 3,
  }));
  if (factors.some(({ h, v }) => h < 1 || h > 4 || v < 1 || v > 4))
    dataError(file, 'corrupt JPEG (sampling factor outside 1..4)');
  const maxH = Math.max(...factors.map((c) => c.h));
  const maxV = Math.max(...factors.map((c) => c.v));
  const mcusX = Math.ceil(width / (8 * maxH));
  const mcusY = Math.ceil(height / (8 * maxV));
  const components = factors.map((f): Component => {
    const cw = Math.ceil((width * f.h) / maxH);
    const ch = Math.ceil((height * f.v) / maxV);
    const blocksWMcu = mcusX * f.h;
    const blocksHMcu = mcusY * f.v;
    return {
      ...f,
      width: cw,
      height: ch,
      blocksW: Math.ceil(cw / 8),
      blocksH: Math.ceil(ch / 8),
      blocksWMcu,
      blocksHMcu,
      coefs: new Int16Array(blocksWMcu * blocksHMcu * 64),
      pred: 0,
    };
  });
  return { progressive, width, height, components, maxH, maxV, mcusX, mcusY };
}

function decodeScan(
  seg: Uint8Array,
  frame: Frame,
  quant: (Int32Array | undefined)[],
  dcTables: (Huffman | undefined)[],
  acTables: (Huffman | undefined)[],
  restartInterval: number,
  r: BitReader,
  file: string,
): void {
  const n = seg[0];
  if (n < 1 || n > 4 || seg.length < 4 + 2 * n) dataError(file, 'corrupt JPEG (bad scan header)');
  const comps: { c: Component; dc?: Huffman; ac?: Huffman }[] = [];
  for (let i = 0; i < n; i++) {
    const c = frame.components.find((x) => x.id === seg[1 + 2 * i]);
    if (!c) dataError(file, 'corrupt JPEG (scan names an unknown component)');
    if (!c.quant) {
      const q = quant[c.tq];
      if (!q) dataError(file, 'corrupt JPEG (missing quantisation table)');
      c.quant = q.slice();
    }
    comps.push({ c, dc: dcTables[seg[2 + 2 * i] >> 4], ac: acTables[seg[2 + 2 * i] & 15] });
  }
  const ss = seg[1 + 2 * n];
  const se = seg[2 + 2 * n];
  const ah = seg[3 + 2 * n] >> 4;
  const al = seg[3 + 2 * n] & 15;
  if (frame.progressive) {
    if (ss > 63 || se > 63 || ss > se || (ss === 0 && se !== 0) || (ss > 0 && n !== 1) || al > 13)
      dataError(file, 'corrupt JPEG (bad progressive scan parameters)');
  } else if (ss !== 0 || se !== 63 || ah !== 0 || al !== 0)
    dataError(file, 'corrupt JPEG (bad sequential scan parameters)');
  for (const { dc, ac } of comps) {
    const needDc = ss === 0 && ah === 0;
    const needAc = se > 0;
    if ((needDc && !dc) || (needAc && !ac)) dataError(file, 'corrupt JPEG (missing Huffman table)');
  }

  let eobrun = 0;
  const block = (
    c: Component,
    dc: Huffman | undefined,
    ac: Huffman | undefined,
    at: number,
  ): void => {
    const z = c.coefs;
    if (!frame.progressive) {
      const t = r.decode(dc!);
      c.pred += t ? r.extend(t) : 0;
      z[at] = c.pred;
      for (let k = 1; k < 64; k++) {
        const rs = r.decode(ac!);
        const s = rs & 15;
        if (s === 0) {
          if (rs !== 0xf0) break;
          k += 15;
          continue;
        }
        k += rs >> 4;
        z[at + NATURAL[k]] = r.extend(s);
      }
    } else if (ss === 0) {
      if (ah === 0) {
        const t = r.decode(dc!);
        c.pred += t ? r.extend(t) : 0;
        z[at] = c.pred * (1 << al);
      } else if (r.bits(1)) z[at] |= 1 << al;
    } else if (ah === 0) {
      if (eobrun > 0) {
        eobrun--;
        return;
      }
      for (let k = ss; k <= se; k++) {
        const rs = r.decode(ac!);
        const s = rs & 15;
        const run = rs >> 4;
        if (s) {
          k += run;
          z[at + NATURAL[k]] = r.extend(s) * (1 << al);
        } else if (run === 15) k += 15;
        else {
          eobrun = (1 << run) - 1 + r.bits(run);
          break;
        }
      }
    } else refineAc(z, at, ac!);
  };

  // Successive approximation of AC coefficients (libjpeg's decode_mcu_AC_refine, step for step).
  const refineAc = (z: Int16Array, at: number, ac: Huffman): void => {
    const p1 = 1 << al;
    const m1 = -1 << al;
    const correct = (i: number): void => {
      if (r.bits(1) && (z[i] & p1) === 0) z[i] += z[i] >= 0 ? p1 : m1;
    };
    let k = ss;
    if (eobrun === 0) {
      for (; k <= se; k++) {
        const rs = r.decode(ac);
        let run = rs >> 4;
        let s = rs & 15;
        if (s) s = r.bits(1) ? p1 : m1;
        else if (run !== 15) {
          eobrun = (1 << run) + r.bits(run);
          break;
        }
        do {
          const i = at + NATURAL[k];
          if (z[i] !== 0) correct(i);
          else if (--run < 0) break;
          k++;
        } while (k <= se);
        if (s) z[at + NATURAL[k]] = s;
      }
    }
    if (eobrun > 0) {
      for (; k <= se; k++) {
        const i = at + NATURAL[k];
        if (z[i] !== 0) correct(i);
      }
      eobrun--;
    }
  };

  const single = n === 1;
  // A one-component scan covers that component's own blocks in raster order, not whole MCUs.
  const units = single ? comps[0].c.blocksW * comps[0].c.blocksH : frame.mcusX * frame.mcusY;
  for (const { c } of comps) c.pred = 0;
  for (let u = 0; u < units; u++) {
    if (restartInterval && u > 0 && u % restartInterval === 0) {
      r.align();
      for (const { c } of comps) c.pred = 0;
      eobrun = 0;
    }
    if (single) {
      const { c, dc, ac } = comps[0];
      const row = Math.floor(u / c.blocksW);
      const col = u % c.blocksW;
      block(c, dc, ac, 64 * (row * c.blocksWMcu + col));
    } else {
      const mx = u % frame.mcusX;
      const my = Math.floor(u / frame.mcusX);
      for (const { c, dc, ac } of comps) {
        for (let by = 0; by < c.v; by++) {
          for (let bx = 0; bx < c.h; bx++) {
            block(c, dc, ac, 64 * ((my * c.v + by) * c.blocksWMcu + mx * c.h + bx));
          }
        }
      }
    }
  }
  r.align();
}

function toImage(frame: Frame, jfif: boolean, adobeTransform: number, file: string): DecodedImage {
  const { width, height, components } = frame;
  const planes = components.map((c) => upsample(c, samples(c), frame, file));
  const n = width * height;
  if (planes.length === 1)
    return { width, height, channels: 1, data: Float32Array.from(planes[0]) };
  const data = new Float32Array(n * 3);
  const [a, b, c] = planes;
  // libjpeg's rule for which 3-component files are stored as RGB rather than YCbCr.
  const ids = components.map((x) => x.id).join();
  const rgb = !jfif && (adobeTransform === 0 || (adobeTransform < 0 && ids === '82,71,66'));
  if (rgb) {
    for (let i = 0; i < n; i++) {
      data[3 * i] = a[i];
      data[3 * i + 1] = b[i];
      data[3 * i + 2] = c[i];
    }
    return { width, height, channels: 3, data };
  }
  const t = yccTables();
  for (let i = 0; i < n; i++) {
    const y = a[i];
    const cb = b[i];
    const cr = c[i];
    data[3 * i] = clamp255(y + t.crR[cr]);
    data[3 * i + 1] = clamp255(y + ((t.cbG[cb] + t.crG[cr]) >> 16));
    data[3 * i + 2] = clamp255(y + t.cbB[cb]);
  }
  return { width, height, channels: 3, data };
}

const clamp255 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

let ycc: { crR: Int32Array; cbB: Int32Array; crG: Int32Array; cbG: Int32Array } | undefined;

/** jdcolor.c's build_ycc_rgb_table: 16-bit fixed point, rounding folded into the tables. */
function yccTables(): NonNullable<typeof ycc> {
  if (ycc) return ycc;
  const fix = (x: number): number => Math.floor(x * 65536 + 0.5);
  const t = {
    crR: new Int32Array(256),
    cbB: new Int32Array(256),
    crG: new Int32Array(256),
    cbG: new Int32Array(256),
  };
  for (let i = 0; i < 256; i++) {
    const x = i - 128;
    t.crR[i] = (fix(1.402) * x + 32768) >> 16;
    t.cbB[i] = (fix(1.772) * x + 32768) >> 16;
    t.crG[i] = -fix(0.71414) * x;
    t.cbG[i] = -fix(0.34414) * x + 32768;
  }
  return (ycc = t);
}

/** IDCT output → sample, as libjpeg's range-limit table maps it (values are taken modulo 1024 first). */
const RANGE_LIMIT = Uint8Array.from({ length: 1024 }, (_, x) => {
  const v = (x < 512 ? x : x - 1024) + 128;
  return v < 0 ? 0 : v > 255 ? 255 : v;
});

/** Every block of a component through the islow IDCT into a plane of blocksW·8 × blocksH·8 samples. */
function samples(c: Component): Uint8Array {
  const stride = c.blocksW * 8;
  const plane = new Uint8Array(stride * c.blocksH * 8);
  const ws = new Int32Array(64);
  const q = c.quant ?? new Int32Array(64);
  for (let by = 0; by < c.blocksH; by++) {
    for (let bx = 0; bx < c.blocksW; bx++) {
      idctIslow(
        c.coefs,
        64 * (by * c.blocksWMcu + bx),
        q,
        ws,
        plane,
        by * 8 * stride + bx * 8,
        stride,
      );
    }
  }
  return plane;
}

// jidctint.c's constants: FIX(x) = round(x · 2¹³).
const F0_298 = 2446,
  F0_390 = 3196,
  F0_541 = 4433,
  F0_765 = 6270,
  F0_899 = 7373,
  F1_175 = 9633;
const F1_501 = 12299,
  F1_847 = 15137,
  F1_961 = 16069,
  F2_053 = 16819,
  F2_562 = 20995,
  F3_072 = 25172;

/** jidctint.c's jpeg_idct_islow: two 1-D passes in 32-bit fixed point (13 fraction bits, 2 extra in between). */
function idctIslow(
  coef: Int16Array,
  at: number,
  q: Int32Array,
  ws: Int32Array,
  out: Uint8Array,
  to: number,
  stride: number,
): void {
  for (let col = 0; col < 8; col++) {
    const i = at + col;
    // Columns with no AC terms (most of them) are flat; libjpeg's shortcut gives the same values.
    if (
      coef[i + 8] === 0 &&
      coef[i + 16] === 0 &&
      coef[i + 24] === 0 &&
      coef[i + 32] === 0 &&
      coef[i + 40] === 0 &&
      coef[i + 48] === 0 &&
      coef[i + 56] === 0
    ) {
      const dc = (coef[i] * q[col]) << 2;
      for (let r = 0; r < 8; r++) ws[r * 8 + col] = dc;
      continue;
    }
    const v = idct1d(
      coef[i] * q[col],
      coef[i + 8] * q[col + 8],
      coef[i + 16] * q[col + 16],
      coef[i + 24] * q[col + 24],
      coef[i + 32] * q[col + 32],
      coef[i + 40] * q[col + 40],
      coef[i + 48] * q[col + 48],
      coef[i + 56] * q[col + 56],
    );
    for (let r = 0; r < 8; r++) ws[r * 8 + col] = (v[r] + 1024) >> 11;
  }
  for (let row = 0; row < 8; row++) {
    const w = row * 8;
    const o = to + row * stride;
    if (
      ws[w + 1] === 0 &&
      ws[w + 2] === 0 &&
      ws[w + 3] === 0 &&
      ws[w + 4] === 0 &&
      ws[w + 5] === 0 &&
      ws[w + 6] === 0 &&
      ws[w + 7] === 0
    ) {
      out.fill(RANGE_LIMIT[((ws[w] + 16) >> 5) & 1023], o, o + 8);
      continue;
    }
    const v = idct1d(
      ws[w],
      ws[w + 1],
      ws[w + 2],
      ws[w + 3],
      ws[w + 4],
      ws[w + 5],
      ws[w + 6],
      ws[w + 7],
    );
    for (let c = 0; c < 8; c++) out[o + c] = RANGE_LIMIT[((v[c] + (1 << 17)) >> 18) & 1023];
  }
}

const idctOut = new Float64Array(8);

/** One 1-D islow IDCT (the even part's rotator, then the odd part's), before descaling; exact integers. */
function idct1d(
  x0: number,
  x1: number,
  x2: number,
  x3: number,
  x4: number,
  x5: number,
  x6: number,
  x7: number,
): Float64Array {
  const z = (x2 + x6) * F0_541;
  const e2 = z - x6 * F1_847;
  const e3 = z + x2 * F0_765;
  const e0 = (x0 + x4) * 8192;
  const e1 = (x0 - x4) * 8192;
  const t10 = e0 + e3;
  const t13 = e0 - e3;
  const t11 = e1 + e2;
  const t12 = e1 - e2;
  const z1 = x7 + x1;
  const z2 = x5 + x3;
  const z3 = x7 + x3;
  const z4 = x5 + x1;
  const z5 = (z3 + z4) * F1_175;
  const a = -z1 * F0_899;
  const b = -z2 * F2_562;
  const c = -z3 * F1_961 + z5;
  const d = -z4 * F0_390 + z5;
  const o0 = x7 * F0_298 + a + c;
  const o1 = x5 * F2_053 + b + d;
  const o2 = x3 * F3_072 + b + c;
  const o3 = x1 * F1_501 + a + d;
  const v = idctOut;
  v[0] = t10 + o3;
  v[7] = t10 - o3;
  v[1] = t11 + o2;
  v[6] = t11 - o2;
  v[2] = t12 + o1;
  v[5] = t12 - o1;
  v[3] = t13 + o0;
  v[4] = t13 - o0;
  return v;
}

/**
 * One component at full image size. 2:1 factors use libjpeg's triangle filter (its default
 * "fancy" upsampling, 3/4 nearer + 1/4 further sample, with its rounding biases; edges repeat the
 * last real sample); other integral factors replicate, as libjpeg's int_upsample does.
 */
function upsample(c: Component, plane: Uint8Array, frame: Frame, file: string): Uint8Array {
  const { width, height, maxH, maxV } = frame;
  const stride = c.blocksW * 8;
  const out = new Uint8Array(width * height);
  const hx = maxH / c.h;
  const vx = maxV / c.v;
  if (!Number.isInteger(hx) || !Number.isInteger(vx))
    dataError(file, `JPEG sampling factors ${c.h}×${c.v} of ${maxH}×${maxV} are not supported`);
  const last = c.height - 1;
  const rowAt = (r: number): number => (r < 0 ? 0 : r > last ? last : r) * stride;
  if (hx === 2 && vx === 2 && c.width > 2) {
    const sums = new Int32Array(c.width);
    for (let y = 0; y < height; y++) {
      const near = rowAt(y >> 1);
      const far = rowAt(y & 1 ? (y >> 1) + 1 : (y >> 1) - 1);
      for (let i = 0; i < c.width; i++) sums[i] = plane[near + i] * 3 + plane[far + i];
      const o = y * width;
      for (let i = 0; i < c.width; i++) {
        const x = 2 * i;
        const s = sums[i];
        if (x < width) out[o + x] = i === 0 ? (s * 4 + 8) >> 4 : (s * 3 + sums[i - 1] + 8) >> 4;
        if (x + 1 < width)
          out[o + x + 1] = i === c.width - 1 ? (s * 4 + 7) >> 4 : (s * 3 + sums[i + 1] + 7) >> 4;
      }
    }
  } else if (hx === 2 && vx === 1 && c.width > 2) {
    for (let y = 0; y < height; y++) {
      const r = y * stride;
      const o = y * width;
      for (let i = 0; i < c.width; i++) {
        const x = 2 * i;
        const s = plane[r + i] * 3;
        if (x < width) out[o + x] = i === 0 ? plane[r] : (s + plane[r + i - 1] + 1) >> 2;
        if (x + 1 < width)
          out[o + x + 1] = i === c.width - 1 ? plane[r + i] : (s + plane[r + i + 1] + 2) >> 2;
      }
    }
  } else if (hx === 1 && vx === 2) {
    for (let y = 0; y < height; y++) {
      const near = rowAt(y >> 1);
      const far = rowAt(y & 1 ? (y >> 1) + 1 : (y >> 1) - 1);
      const o = y * width;
      const bias = 1 + (y & 1);
      for (let x = 0; x < width; x++)
        out[o + x] = (plane[near + x] * 3 + plane[far + x] + bias) >> 2;
    }
  } else {
    for (let y = 0; y < height; y++) {
      const r = Math.floor(y / vx) * stride;
      const o = y * width;
      for (let x = 0; x < width; x++) out[o + x] = plane[r + Math.floor(x / hx)];
    }
  }
  return out;
}
