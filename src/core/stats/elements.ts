/** Conversions from stored bits to float64, one table per narrow type (built on first use). */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

let fp16Table: Float32Array | null = null;

/** All 65,536 float16 bit patterns as float32 (exact: every fp16 value is a float32). */
export function float16Table(): Float32Array {
  if (fp16Table) return fp16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 31) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  fp16Table = t;
  return t;
}

export function bfloat16ToNumber(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0];
}

/**
 * A small float format: sign bit, `e` exponent bits with `bias`, `m` mantissa bits.
 * `ieee`: all-ones exponent is Inf/NaN; `fn`: only all-ones exp+mantissa is NaN, no Inf;
 * `fnuz`: no Inf, no negative zero, the negative-zero pattern is NaN; `none`: every pattern finite.
 */
function smallFloatTable(
  e: number,
  m: number,
  bias: number,
  special: 'ieee' | 'fn' | 'fnuz' | 'none',
): Float64Array {
  const n = 1 << (1 + e + m);
  const t = new Float64Array(n);
  const expMax = (1 << e) - 1;
  const mantMax = (1 << m) - 1;
  for (let bits = 0; bits < n; bits++) {
    const sign = bits >> (e + m) ? -1 : 1;
    const exp = (bits >> m) & expMax;
    const mant = bits & mantMax;
    let v: number;
    if (exp === 0) v = sign * mant * 2 ** (1 - bias - m);
    else v = sign * (1 + mant / (1 << m)) * 2 ** (exp - bias);
    if (special === 'ieee' && exp === expMax) v = mant ? NaN : sign * Infinity;
    if (special === 'fn' && exp === expMax && mant === mantMax) v = NaN;
    if (special === 'fnuz' && bits === 1 << (e + m)) v = NaN;
    t[bits] = v;
  }
  return t;
}

const tables = new Map<number, Float64Array>();

/** Lookup table for 8-bit and 4-bit float dtype codes, or null for other types. */
export function smallFloatLookup(dtype: number): Float64Array | null {
  let t = tables.get(dtype);
  if (t) return t;
  switch (dtype) {
    case 17:
      t = smallFloatTable(4, 3, 7, 'fn');
      break;
    case 18:
      t = smallFloatTable(4, 3, 8, 'fnuz');
      break;
    case 19:
      t = smallFloatTable(5, 2, 15, 'ieee');
      break;
    case 20:
      t = smallFloatTable(5, 2, 16, 'fnuz');
      break;
    case 23:
      t = smallFloatTable(2, 1, 1, 'none');
      break;
    case 24:
      t = new Float64Array(256);
      for (let b = 0; b < 256; b++) t[b] = b === 255 ? NaN : 2 ** (b - 127);
      break;
    default:
      return null;
  }
  tables.set(dtype, t);
  return t;
}
