/** Fixed-point quantization: q = round(w · 2^f) in a signed word, one fraction length f per tensor. */

import { checkInt, roundHalfEven } from './layout';

export interface FixedOptions {
  /** Word length in bits, 2..16 (default 8). Codes use the full two's-complement range. */
  bits?: number;
}

export interface FixedQuantized {
  /** Int8Array for words up to 8 bits, Int16Array above. */
  q: Int8Array | Int16Array;
  bits: number;
  /** f: w ≈ q · 2^-f. Negative for ranges wider than the word. */
  fractionBits: number;
  /** 2^-f, exactly representable as a float32 (f is kept in -127..126 so the scale is a normal float32). */
  scale: number;
}

const MIN_FRACTION_BITS = -127;
const MAX_FRACTION_BITS = 126;

/**
 * Chooses the largest f for which every finite value rounds into the word (round(max·2^f) ≤ 2^(b-1)-1 and
 * round(min·2^f) ≥ -2^(b-1)), then stores q = round_half_even(w·2^f). An all-zero tensor gets f = 0.
 * Non-finite values do not affect f; ±Inf saturate and NaN is stored as 0.
 */
export function quantizeFixed(values: Float32Array, options: FixedOptions = {}): FixedQuantized {
  const bits = checkInt('bits', options.bits ?? 8, 2, 16);
  const qmax = 2 ** (bits - 1) - 1;
  const qmin = -qmax - 1;
  const n = values.length;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v < lo) {
      if (v !== -Infinity) lo = v;
    } else if (v > hi) {
      if (v !== Infinity) hi = v;
    }
  }
  const fits = (f: number) =>
    roundHalfEven(hi * 2 ** f) <= qmax && roundHalfEven(lo * 2 ** f) >= qmin;
  let f = 0;
  const peak = Math.max(hi, -lo);
  if (peak > 0) {
    // log2 can be off by one near powers of two: start above the estimate and step down to the first fit.
    f = Math.min(
      MAX_FRACTION_BITS,
      Math.max(MIN_FRACTION_BITS, Math.floor(Math.log2((qmax + 1) / peak)) + 1),
    );
    while (f > MIN_FRACTION_BITS && !fits(f)) f--;
  }
  const m = 2 ** f;
  const q = bits <= 8 ? new Int8Array(n) : new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const r = roundHalfEven(values[i] * m);
    // NaN falls through both tests and is stored as 0 by the typed array.
    q[i] = r > qmax ? qmax : r < qmin ? qmin : r;
  }
  return { q, bits, fractionBits: f, scale: 2 ** -f };
}

/** w ≈ float32(q · 2^-f). */
export function dequantizeFixed(result: FixedQuantized): Float32Array {
  const { q, scale } = result;
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = Math.fround(q[i] * scale);
  return out;
}
