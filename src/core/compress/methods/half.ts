/** Half-precision storage: float32 → float16 / bfloat16 bit patterns with round-to-nearest-even, and back. */

import { float16Table } from '../../stats/elements';
import { bitsOf, roundHalfEven } from './layout';

export interface HalfResult {
  bits: Uint16Array;
  /** Finite values with |w| above the format's largest finite value, stored as ±max instead of ±Inf. */
  clipped: number;
  /** Nonzero values that became ±0 (below half the smallest subnormal). */
  flushedToZero: number;
  /** Results that are subnormal in the target format (precision below the format's normal 11 or 8 bits). */
  subnormal: number;
}

/**
 * float32 → IEEE float16 with round-to-nearest-even. Finite values beyond ±65504 are clipped to ±65504
 * (onnxconverter-common does the same) rather than becoming ±Inf; ±Inf stay ±Inf; NaN stays a quiet NaN
 * with its sign and top payload bits; -0 stays -0.
 */
export function toFloat16(values: Float32Array): HalfResult {
  const n = values.length;
  const src = bitsOf(values);
  const bits = new Uint16Array(n);
  let clipped = 0;
  let flushedToZero = 0;
  let subnormal = 0;
  for (let i = 0; i < n; i++) {
    const x = src[i];
    const a = x & 0x7fffffff;
    let h: number;
    if (a >= 0x38800000) {
      // |w| ≥ 2^-14, the smallest normal float16.
      if (a <= 0x477fe000) {
        // Re-bias the exponent (127 → 15) and round the 13 dropped mantissa bits to nearest, ties to even.
        h = (a - 0x38000000 + 0xfff + ((a >>> 13) & 1)) >>> 13;
      } else if (a < 0x7f800000) {
        h = 0x7bff;
        clipped++;
      } else if (a === 0x7f800000) h = 0x7c00;
      else h = 0x7e00 | ((a >>> 13) & 0x3ff);
    } else if (a > 0x33000000) {
      // 2^-25 < |w| < 2^-14: a multiple of 2^-24; the product below is exact, so rounding it is RNE.
      h = roundHalfEven(Math.abs(values[i]) * 16777216);
      if (h < 0x400) subnormal++;
    } else {
      // |w| ≤ 2^-25: exactly half the smallest subnormal ties to the even neighbour, 0.
      h = 0;
      if (a !== 0) flushedToZero++;
    }
    bits[i] = ((x >>> 16) & 0x8000) | h;
  }
  return { bits, clipped, flushedToZero, subnormal };
}

/**
 * float32 → bfloat16 (the top 16 bits of float32) with round-to-nearest-even. As for float16, finite
 * values above the largest finite bfloat16 (≈3.3895e38) are clipped to it instead of rounding to Inf;
 * NaN stays a quiet NaN with its sign.
 */
export function toBfloat16(values: Float32Array): HalfResult {
  const n = values.length;
  const src = bitsOf(values);
  const bits = new Uint16Array(n);
  let clipped = 0;
  let flushedToZero = 0;
  let subnormal = 0;
  for (let i = 0; i < n; i++) {
    const x = src[i];
    const a = x & 0x7fffffff;
    let h: number;
    if (a <= 0x7f7f0000) {
      h = (a + 0x7fff + ((a >>> 16) & 1)) >>> 16;
      if (h < 0x80) {
        if (h === 0) {
          if (a !== 0) flushedToZero++;
        } else subnormal++;
      }
    } else if (a < 0x7f800000) {
      h = 0x7f7f;
      clipped++;
    } else if (a === 0x7f800000) h = 0x7f80;
    else h = 0x7fc0 | ((a >>> 16) & 0x7f);
    bits[i] = ((x >>> 16) & 0x8000) | h;
  }
  return { bits, clipped, flushedToZero, subnormal };
}

/** float16 bit patterns → float32 (exact). */
export function fromFloat16(bits: Uint16Array): Float32Array {
  const table = float16Table();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

/** bfloat16 bit patterns → float32 (exact: the patterns are the top half of float32). */
export function fromBfloat16(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const dst = bitsOf(out);
  for (let i = 0; i < bits.length; i++) dst[i] = bits[i] << 16;
  return out;
}
