import { invalid } from '../../errors';
import type { RandomAccessSource } from '../../io/source';
import { float16Table } from '../../stats/elements';
import { ggmlType } from './types';

/**
 * Dequantization of ggml block formats, transcribed from ggml-quants.c `dequantize_row_*`.
 * ggml computes in float32; every product and sum here is rounded to float32 the same way
 * (Math.fround), so each value equals the reference's bit for bit.
 */

const f = Math.fround;

/** Decodes one block at `b[o]` into `out[at .. at + blockSize)`. */
type BlockDecoder = (b: Uint8Array, o: number, out: Float64Array, at: number, dv: DataView) => void;

function h(b: Uint8Array, o: number): number {
  return float16Table()[b[o] | (b[o + 1] << 8)];
}

function q4_0(b: Uint8Array, o: number, out: Float64Array, at: number): void {
  const d = h(b, o);
  for (let j = 0; j < 16; j++) {
    const q = b[o + 2 + j];
    out[at + j] = f(((q & 0x0f) - 8) * d);
    out[at + j + 16] = f(((q >> 4) - 8) * d);
  }
}

function q4_1(b: Uint8Array, o: number, out: Float64Array, at: number): void {
  const d = h(b, o);
  const m = h(b, o + 2);
  for (let j = 0; j < 16; j++) {
    const q = b[o + 4 + j];
    out[at + j] = f(f((q & 0x0f) * d) + m);
    out[at + j + 16] = f(f((q >> 4) * d) + m);
  }
}

function q5_0(b: Uint8Array, o: number, out: Float64Array, at: number): void {
  const d = h(b, o);
  const qh = (b[o + 2] | (b[o + 3] << 8) | (b[o + 4] << 16) | (b[o + 5] << 24)) >>> 0;
  for (let j = 0; j < 16; j++) {
    const q = b[o + 6 + j];
    const xh0 = ((qh >>> j) << 4) & 0x10;
    const xh1 = (qh >>> (j + 12)) & 0x10;
    out[at + j] = f((((q & 0x0f) | xh0) - 16) * d);
    out[at + j + 16] = f((((q >> 4) | xh1) - 16) * d);
  }
}

function q5_1(b: Uint8Array, o: number, out: Float64Array, at: number): void {
  const d = h(b, o);
  const m = h(b, o + 2);
  const qh = (b[o + 4] | (b[o + 5] << 8) | (b[o + 6] << 16) | (b[o + 7] << 24)) >>> 0;
  for (let j = 0; j < 16; j++) {
    const q = b[o + 8 + j];
    const xh0 = ((qh >>> j) << 4) & 0x10;
    const xh1 = (qh >>> (j + 12)) & 0x10;
    out[at + j] = f(f(((q & 0x0f) | xh0) * d) + m);
    out[at + j + 16] = f(f(((q >> 4) | xh1) * d) + m);
  }
}

function q8_0(b: Uint8Array, o: number, out: Float64Array, at: number): void {
  const d = h(b, o);
  for (let j = 0; j < 32; j++) out[at + j] = f(((b[o + 2 + j] << 24) >> 24) * d);
}

function q2_K(b: Uint8Array, o: number, out: Float64Array, at: number): void {
  // scales[16] | qs[64] | d | dmin
  const d = h(b, o + 80);
  const min = h(b, o + 82);
  let y = at;
  let is = 0;
  for (let n = 0; n < 2; n++) {
    const q = o + 16 + n * 32;
    for (let shift = 0; shift < 8; shift += 2) {
      for (let half = 0; half < 2; half++) {
        const sc = b[o + is++];
        const dl = f(d * (sc & 0xf));
        const ml = f(min * (sc >> 4));
        for (let l = 0; l < 16; l++)
          out[y++] = f(f(dl * ((b[q + half * 16 + l] >> shift) & 3)) - ml);
      }
    }
  }
}

/** Q3_K's sixteen 6-bit scales: low 4 bits in bytes 0..7 (two per byte), high 2 bits in bytes 8..11. */
function q3Scale(b: Uint8Array, s: number, j: number): number {
  const low = j < 8 ? b[s + j] & 0xf : b[s + j - 8] >> 4;
  const high = (b[s + 8 + (j % 4)] >> (2 * ((j / 4) | 0))) & 3;
  return (low | (high << 4)) - 32;
}

function q3_K(b: Uint8Array, o: number, out: Float64Array, at: number): void {
  // hmask[32] | qs[64] | scales[12] | d
  const dAll = h(b, o + 108);
  let y = at;
  let is = 0;
  let m = 1;
  for (let n = 0; n < 2; n++) {
    const q = o + 32 + n * 32;
    for (let shift = 0; shift < 8; shift += 2) {
      for (let half = 0; half < 2; half++) {
        const dl = f(dAll * q3Scale(b, o + 96, is++));
        for (let l = 0; l < 16; l++) {
          const k = half * 16 + l;
          out[y++] = f(dl * (((b[q + k] >> shift) & 3) - (b[o + k] & m ? 0 : 4)));
        }
      }
      m <<= 1;
    }
  }
}

/** ggml's get_scale_min_k4: 6-bit scale and min `j` (0..7) of a Q4_K/Q5_K super-block. */
export function scaleMinK4(b: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [b[s + j] & 63, b[s + j + 4] & 63];
  return [
    (b[s + j + 4] & 0xf) | ((b[s + j - 4] >> 6) << 4),
    (b[s + j + 4] >> 4) | ((b[s + j] >> 6) << 4),
  ];
}

function q4_K(b: Uint8Array, o: number, out: Float64Array, at: number): void {
  // d | dmin | scales[12] | qs[128]
  kQuant45(b, o, out, at, false);
}

function q5_K(b: Uint8Array, o: number, out: Float64Array, at: number): void {
  // d | dmin | scales[12] | qh[32] | qs[128]
  kQuant45(b, o, out, at, true);
}

/**
 * Q4_K and Q5_K share everything but Q5_K's fifth bit: eight 32-weight groups, each with a 6-bit
 * scale and min (scaleMinK4), low nibbles for the even group and high nibbles for the odd one.
 */
function kQuant45(
  b: Uint8Array,
  o: number,
  out: Float64Array,
  at: number,
  fifthBit: boolean,
): void {
  const d = h(b, o);
  const min = h(b, o + 2);
  const qh = o + 16;
  const qs = fifthBit ? o + 48 : o + 16;
  let y = at;
  let u1 = 1;
  let u2 = 2;
  for (let j = 0; j < 4; j++) {
    const q = qs + j * 32;
    const [sc1, m1] = scaleMinK4(b, o + 4, 2 * j);
    const [sc2, m2] = scaleMinK4(b, o + 4, 2 * j + 1);
    const d1 = f(d * sc1);
    const mm1 = f(min * m1);
    const d2 = f(d * sc2);
    const mm2 = f(min * m2);
    for (let l = 0; l < 32; l++)
      out[y++] = f(f(d1 * ((b[q + l] & 0xf) + (fifthBit && b[qh + l] & u1 ? 16 : 0))) - mm1);
    for (let l = 0; l < 32; l++)
      out[y++] = f(f(d2 * ((b[q + l] >> 4) + (fifthBit && b[qh + l] & u2 ? 16 : 0))) - mm2);
    u1 <<= 2;
    u2 <<= 2;
  }
}

function q6_K(b: Uint8Array, o: number, out: Float64Array, at: number): void {
  // ql[128] | qh[64] | scales[16] (int8) | d
  const d = h(b, o + 208);
  for (let n = 0; n < 2; n++) {
    const ql = o + n * 64;
    const qh = o + 128 + n * 32;
    const sc = o + 192 + n * 8;
    const y = at + n * 128;
    for (let l = 0; l < 32; l++) {
      const is = (l / 16) | 0;
      const hb = b[qh + l];
      const q1 = ((b[ql + l] & 0xf) | ((hb & 3) << 4)) - 32;
      const q2 = ((b[ql + l + 32] & 0xf) | (((hb >> 2) & 3) << 4)) - 32;
      const q3 = ((b[ql + l] >> 4) | (((hb >> 4) & 3) << 4)) - 32;
      const q4 = ((b[ql + l + 32] >> 4) | (((hb >> 6) & 3) << 4)) - 32;
      out[y + l] = f(f(d * ((b[sc + is] << 24) >> 24)) * q1);
      out[y + l + 32] = f(f(d * ((b[sc + is + 2] << 24) >> 24)) * q2);
      out[y + l + 64] = f(f(d * ((b[sc + is + 4] << 24) >> 24)) * q3);
      out[y + l + 96] = f(f(d * ((b[sc + is + 6] << 24) >> 24)) * q4);
    }
  }
}

function q8_K(b: Uint8Array, o: number, out: Float64Array, at: number, dv: DataView): void {
  // d (float32) | qs[256] | bsums[16] (int16, unused here)
  const d = dv.getFloat32(o, true);
  for (let j = 0; j < 256; j++) out[at + j] = f(d * ((b[o + 4 + j] << 24) >> 24));
}

const DECODERS = new Map<number, BlockDecoder>([
  [2, q4_0],
  [3, q4_1],
  [6, q5_0],
  [7, q5_1],
  [8, q8_0],
  [10, q2_K],
  [11, q3_K],
  [12, q4_K],
  [13, q5_K],
  [14, q6_K],
  [15, q8_K],
]);

export function canDequantize(type: number): boolean {
  return DECODERS.has(type);
}

/** Dequantizes `blocks` whole blocks of `bytes` into `out` (float32 values held as float64). */
export function dequantizeBlocks(
  type: number,
  bytes: Uint8Array,
  blocks: number,
  out: Float64Array,
): void {
  const t = ggmlType(type);
  const decode = DECODERS.get(type);
  if (!t || !decode) invalid(`ggml type ${t?.name ?? type} is not decoded`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < blocks; i++) decode(bytes, i * t.typeSize, out, i * t.blockSize, dv);
}

/**
 * Streams the dequantized elements of a block-quantized range in chunks of whole blocks that
 * fit `out`. Returns the number of elements streamed.
 */
export function streamGgml(
  source: RandomAccessSource,
  storage: { offset: number; length: number; ggmlType: number },
  expected: number,
  out: Float64Array,
  sink: (values: Float64Array, n: number) => void,
): number {
  const t = ggmlType(storage.ggmlType);
  if (!t || !DECODERS.has(t.id)) invalid(`ggml type ${t?.name ?? storage.ggmlType} is not decoded`);
  if (storage.length % t.typeSize)
    invalid(
      `${t.name} data of ${storage.length} bytes is not a whole number of ${t.typeSize}-byte blocks`,
    );
  const blocksPerChunk = Math.max(1, Math.floor(out.length / t.blockSize));
  if (blocksPerChunk * t.blockSize > out.length)
    invalid(`chunk of ${out.length} elements cannot hold a ${t.name} block`);
  const buf = new Uint8Array(blocksPerChunk * t.typeSize);
  let done = 0;
  let elements = 0;
  while (done < storage.length) {
    const want = Math.min(buf.length, storage.length - done);
    let got = 0;
    while (got < want) {
      const n = source.read(storage.offset + done + got, buf.subarray(got, want));
      if (n <= 0)
        invalid(`unexpected end of ${source.name} at offset ${storage.offset + done + got}`);
      got += n;
    }
    const blocks = want / t.typeSize;
    dequantizeBlocks(t.id, buf.subarray(0, want), blocks, out);
    const n = Math.min(blocks * t.blockSize, expected - elements);
    sink(out, n);
    elements += n;
    done += want;
  }
  return elements;
}
