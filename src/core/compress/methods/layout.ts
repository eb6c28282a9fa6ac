/** Shared geometry and rounding helpers for the numeric methods (row-major tensors). */

import type { WeightLayout } from '../types';

/** A row-major tensor seen around one axis: element (o, c, r) sits at (o·size + c)·inner + r. */
export interface AxisSplit {
  outer: number;
  size: number;
  inner: number;
}

/** Checks that `layout` describes exactly `count` elements. */
export function checkLayout(layout: WeightLayout, count: number): void {
  const { dims } = layout;
  let total = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0)
      throw new RangeError(`bad dimension ${d} in [${dims.join(', ')}]`);
    total *= d;
  }
  if (total !== count)
    throw new RangeError(`layout [${dims.join(', ')}] holds ${total} elements, got ${count}`);
}

/** Checks that `layout` describes `count` elements and splits it around `axis`. */
export function splitAt(layout: WeightLayout, axis: number, count: number): AxisSplit {
  checkLayout(layout, count);
  const { dims } = layout;
  if (!Number.isInteger(axis) || axis < 0 || axis >= dims.length)
    throw new RangeError(`axis ${axis} out of range for rank ${dims.length}`);
  let outer = 1;
  for (let a = 0; a < axis; a++) outer *= dims[a];
  let inner = 1;
  for (let a = axis + 1; a < dims.length; a++) inner *= dims[a];
  return { outer, size: dims[axis], inner };
}

const TWO_51 = 2 ** 51;
const TWO_52 = 2 ** 52;
const ROUNDER = 1.5 * 2 ** 52;

/**
 * Round half to even, as ONNX QuantizeLinear and numpy.rint do. Adding 1.5·2^52 leaves no fraction bits,
 * so the addition itself rounds to nearest-even; this is several times faster in V8 than fixing up
 * Math.round (which rounds halves up). Zero results are +0.
 */
export function roundHalfEven(x: number): number {
  if (x < TWO_51 && x > -TWO_51) return x + ROUNDER - ROUNDER;
  // Beyond 2^52 every double is an integer; between 2^51 and 2^52 only halves remain, rounded with ±2^52.
  if (x >= TWO_52 || x <= -TWO_52 || x !== x) return x;
  return x > 0 ? x + TWO_52 - TWO_52 : x - TWO_52 + TWO_52;
}

/** Smallest positive float32 (subnormal): the scale used when a range underflows float32. */
export const FLOAT32_MIN_SUBNORMAL = 2 ** -149;

/** Integer in [lo, hi], or a RangeError naming the option. */
export function checkInt(name: string, value: number, lo: number, hi: number): number {
  if (!Number.isInteger(value) || value < lo || value > hi)
    throw new RangeError(`${name} must be an integer in ${lo}..${hi}, got ${value}`);
  return value;
}

/** Fraction in [0, 1], or a RangeError naming the option. */
export function checkFraction(name: string, value: number): number {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must be in 0..1, got ${value}`);
  return value;
}

/** The float32 bits of `values` without copying (a Float32Array is always 4-byte aligned). */
export function bitsOf(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}
