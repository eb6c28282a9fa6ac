/**
 * ggml's reference quantizers (ggml-quants.c `quantize_row_q8_0_ref`, `quantize_row_q4_0_ref`),
 * transcribed with float32 rounding at every step so the blocks equal llama.cpp's byte for byte.
 */

const f = Math.fround;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function bitsOf(x: number): number {
  f32[0] = x;
  return u32[0];
}

function fromBits(w: number): number {
  u32[0] = w >>> 0;
  return f32[0];
}

/** ggml_compute_fp32_to_fp16: round to nearest even; overflow becomes infinity, NaN stays NaN. */
export function fp32ToFp16(x: number): number {
  let base = f(f(Math.abs(x) * 2 ** 112) * 2 ** -110);
  const w = bitsOf(x);
  const shl1 = (w * 2) % 2 ** 32;
  const sign = w & 0x80000000;
  let bias = shl1 - (shl1 % 2 ** 24);
  if (bias < 0x71000000) bias = 0x71000000;
  base = f(fromBits(bias / 2 + 0x07800000) + base);
  const bits = bitsOf(base);
  const nonsign = ((bits >>> 13) & 0x7c00) + (bits & 0x0fff);
  return ((sign >>> 16) | (shl1 > 0xff000000 ? 0x7e00 : nonsign)) & 0xffff;
}

/** C's roundf: halves away from zero. */
function roundf(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

export const Q8_0_BYTES = 34;
export const Q4_0_BYTES = 18;

/**
 * Q8_0: per 32 values, d = amax / 127 (as fp16) and q = round(x / d). Writes into `out` at `o`
 * and the codes into `codes` (for entropy estimates) when given.
 */
export function quantizeQ8_0(x: Float32Array, out: Uint8Array, codes?: Int8Array): void {
  if (x.length % 32) throw new RangeError('Q8_0 needs a multiple of 32 values');
  for (let i = 0; i < x.length / 32; i++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[i * 32 + j]));
    const d = f(amax / 127);
    const id = d ? f(1 / d) : 0;
    const h = fp32ToFp16(d);
    const o = i * Q8_0_BYTES;
    out[o] = h & 0xff;
    out[o + 1] = h >> 8;
    for (let j = 0; j < 32; j++) {
      const q = roundf(f(x[i * 32 + j] * id));
      out[o + 2 + j] = q & 0xff;
      if (codes) codes[i * 32 + j] = q;
    }
  }
}

/**
 * Q4_0: per 32 values, d = max / -8 where max is the value of largest magnitude, and
 * q = min(15, trunc(x / d + 8.5)); element j and j + 16 share byte j (low, high nibble).
 */
export function quantizeQ4_0(x: Float32Array, out: Uint8Array, codes?: Uint8Array): void {
  if (x.length % 32) throw new RangeError('Q4_0 needs a multiple of 32 values');
  for (let i = 0; i < x.length / 32; i++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[i * 32 + j];
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = f(max / -8);
    const id = d ? f(1 / d) : 0;
    const h = fp32ToFp16(d);
    const o = i * Q4_0_BYTES;
    out[o] = h & 0xff;
    out[o + 1] = h >> 8;
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(15, Math.trunc(f(f(x[i * 32 + j] * id) + 8.5)));
      const q1 = Math.min(15, Math.trunc(f(f(x[i * 32 + 16 + j] * id) + 8.5)));
      out[o + 2 + j] = q0 | (q1 << 4);
      if (codes) {
        codes[i * 32 + j] = q0;
        codes[i * 32 + 16 + j] = q1;
      }
    }
  }
}
