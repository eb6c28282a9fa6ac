/**
 * Linear (affine) quantization with ONNX QuantizeLinear/DequantizeLinear semantics:
 * q = saturate(round_half_even(x / scale) + zeroPoint), y = (q - zeroPoint) · scale.
 * Divisions and products are rounded to float32 exactly as onnxruntime's float kernels round them,
 * so codes match what QuantizeLinear would produce for the same scale.
 */

import type { LinearQuantized, Reconstruction, WeightLayout } from '../types';
import { WASM_MIN, wasmKernels, type Values, type WasmKernels } from '../../wasm/kernels';
import { compareTail, finishComparison, startComparison, type ReportComparison } from '../metrics';
import {
  FLOAT32_MIN_SUBNORMAL,
  checkInt,
  checkLayout,
  roundHalfEven,
  splitAt,
  type AxisSplit,
} from './layout';
import { fromFloat16, toFloat16 } from './half';

const fround = Math.fround;

export interface LinearOptions {
  /** Bits per code, 2..8 (default 8). */
  bits?: number;
  /** Signed codes in ±(2^(bits-1) - 1) with no zero point (default), or unsigned codes with a zero point. */
  symmetric?: boolean;
  /** One scale per output channel along layout.outputAxis (default), or one for the whole tensor. */
  perChannel?: boolean;
}

export interface BlockwiseOptions {
  /** Bits per code, 2..8 (default 4). */
  bits?: number;
  /** Consecutive elements along layout.inputAxis sharing one scale (default 32). */
  blockSize?: number;
  /**
   * Round the scales to float16 (unless the largest is beyond its range or below its normal range) and quantize against the rounded
   * ones (`scaleHalf` in the result): 16 bits of scale per block instead of 32, so int4 at blocks of 32
   * takes 4.5 bits a weight instead of 5. A relative change of at most 2⁻¹¹ in a normal scale is far
   * below the code step of 1/7 of the block's range.
   */
  halfScales?: boolean;
}

/**
 * Scale for a symmetric range ±maxAbs over ±qmax. An all-zero group gets scale 1 so it dequantizes to
 * exact zeros (never 0/0); a range so small that maxAbs/qmax underflows float32 gets the smallest subnormal.
 */
function symmetricScale(maxAbs: number, qmax: number): number {
  const s = fround(maxAbs / qmax);
  return s > 0 ? s : maxAbs > 0 ? FLOAT32_MIN_SUBNORMAL : 1;
}

/** The tensor around its output axis (per channel), or as one channel of all n values. */
function channelSplit(layout: WeightLayout, n: number, perChannel: boolean): AxisSplit {
  if (perChannel) return splitAt(layout, layout.outputAxis, n);
  checkLayout(layout, n);
  return { outer: 1, size: 1, inner: n };
}

/**
 * Quantizes to `bits`-bit codes, per output channel or per tensor.
 * Symmetric: scale = max|w| / (2^(bits-1) - 1) and codes are clamped to ±(2^(bits-1) - 1) (int8: -127..127,
 * never -128) so the grid is symmetric and zero is exactly representable.
 * Asymmetric (uint codes, as onnxruntime's quantizer does): the range is widened to include 0
 * (rmin = min(min, 0), rmax = max(max, 0)), scale = (rmax - rmin) / (2^bits - 1),
 * zeroPoint = clamp(round(-rmin / scale)), so 0 maps exactly to the zero point.
 * Non-finite values do not widen the range; ±Inf saturate and NaN maps to the code of 0.
 */
export function quantizeLinear(
  values: Float32Array,
  layout: WeightLayout,
  options: LinearOptions = {},
): LinearQuantized {
  const bits = checkInt('bits', options.bits ?? 8, 2, 8);
  const symmetric = options.symmetric ?? true;
  const perChannel = options.perChannel ?? true;
  const n = values.length;
  const split = channelSplit(layout, n, perChannel);
  const { outer, size, inner } = split;

  const scale = new Float32Array(size);
  const axis = perChannel ? layout.outputAxis : null;
  if (symmetric) {
    const qmax = 2 ** (bits - 1) - 1;
    const q = new Int8Array(n);
    const wasm = n >= WASM_MIN ? wasmKernels() : undefined;
    if (wasm) {
      scale.set(symmetricScalesWasm(wasm, values, split, qmax).scale);
      wasm.withTables([spreadLanes(scale, inner)], ([at]) =>
        forEachRun(outer, size, inner, (from, to, c) =>
          wasm.quantizeSymmetric(values, from, to, ...channelTable(size, c, at), qmax, q),
        ),
      );
    } else {
      // The ranges include 0, so max(-lo, hi) is the largest finite |w|; codes are the unsigned loops' with zero point 0.
      const { lo, hi } = ranges(values, split);
      for (let c = 0; c < size; c++) scale[c] = symmetricScale(Math.max(-lo[c], hi[c]), qmax);
      const zero = new Uint8Array(size);
      forEachRun(outer, size, inner, (from, to, c) =>
        c < 0
          ? quantizeRows(values, q, from, to, scale, zero, -qmax, qmax)
          : quantizeRun(values, q, from, to, scale[c], 0, -qmax, qmax),
      );
    }
    return { q, signed: true, bits, scale, axis };
  }
  const { lo, hi } = ranges(values, split);
  const qmax = 2 ** bits - 1;
  const zeroPoint = new Uint8Array(size);
  for (let c = 0; c < size; c++) {
    const sc = fround(fround(hi[c] - lo[c]) / qmax);
    scale[c] = sc > 0 ? sc : hi[c] > lo[c] ? FLOAT32_MIN_SUBNORMAL : 1;
    const z = roundHalfEven(fround(-lo[c] / scale[c]));
    zeroPoint[c] = z > qmax ? qmax : z < 0 ? 0 : z;
  }
  const q = new Uint8Array(n);
  forEachRun(outer, size, inner, (from, to, c) =>
    c < 0
      ? quantizeRows(values, q, from, to, scale, zeroPoint, 0, qmax)
      : quantizeRun(values, q, from, to, scale[c], zeroPoint[c], 0, qmax),
  );
  return { q, signed: false, bits, scale, zeroPoint, axis };
}

/**
 * Symmetric scales in WebAssembly: max |w| per channel of the split, then symmetricScale. With
 * `range` (finite [min, max], folded into) it also tracks the values' finite range on the same
 * staging, and `finite` tells whether every value was finite (only then; otherwise it is false).
 */
function symmetricScalesWasm(
  wasm: WasmKernels,
  values: Values,
  { outer, size, inner }: AxisSplit,
  qmax: number,
  range?: number[],
): { scale: Float32Array; finite: boolean } {
  const table = new Float32Array(size * channelLanes(inner));
  const lanes = Float32Array.of(
    Infinity,
    Infinity,
    Infinity,
    Infinity,
    -Infinity,
    -Infinity,
    -Infinity,
    -Infinity,
  );
  let finite = range !== undefined;
  wasm.withTables([table, lanes], ([at, acc]) =>
    forEachRun(outer, size, inner, (from, to, c) => {
      if (!range) wasm.maxAbs(values, from, to, ...channelTable(size, c, at));
      else if (!wasm.maxAbsRange(values, from, to, ...channelTable(size, c, at), acc))
        finite = false;
    }),
  );
  if (range) {
    range[0] = Math.min(range[0], ...lanes.subarray(0, 4));
    range[1] = Math.max(range[1], ...lanes.subarray(4));
  }
  const scale = new Float32Array(size);
  for (let c = 0; c < size; c++)
    scale[c] = symmetricScale(
      inner === 1
        ? table[c]
        : Math.max(table[4 * c], table[4 * c + 1], table[4 * c + 2], table[4 * c + 3]),
      qmax,
    );
  return { scale, finite };
}

/** A symmetric quantization together with what compareReconstruction and entropyEstimate would report of it. */
export interface MeasuredQuantization {
  quantized: LinearQuantized;
  comparison: ReportComparison;
  /** How often each byte value occurs among the codes (entropyEstimate's byteCounts). */
  byteCounts: Float64Array;
}

/**
 * quantizeLinear (symmetric), compareReconstruction of `values` against the dequantized codes and
 * the codes' byte counts, in two passes with WebAssembly instead of five: the first finds the
 * scales and the finite range, the second stages each piece once for codes, counts, dequantization
 * and comparison. The same codes, scales, byte counts, histograms and sums as the separate calls
 * (the pieces are the runs they use). `values` may be a reader instead of an array: each pass then
 * reads the weight from its file piece by piece and no array of it is ever made. Undefined for
 * tensors too small for the kernels or where WebAssembly SIMD is unavailable: then the caller
 * makes the separate calls (with an array).
 */
export function quantizeSymmetricMeasured(
  values: Values,
  layout: WeightLayout,
  options: Omit<LinearOptions, 'symmetric'> = {},
): MeasuredQuantization | undefined {
  const bits = checkInt('bits', options.bits ?? 8, 2, 8);
  const perChannel = options.perChannel ?? true;
  const n = values.length;
  const wasm = n >= WASM_MIN ? wasmKernels() : undefined;
  if (!wasm) return undefined;
  const split = channelSplit(layout, n, perChannel);
  const { outer, size, inner } = split;
  const qmax = 2 ** (bits - 1) - 1;
  const range = [Infinity, -Infinity];
  const { scale, finite } = symmetricScalesWasm(wasm, values, split, qmax, range);
  const comparison = startComparison(n, range);
  // |code · scale| <= fround(qmax · scale): when that is finite for every scale, so is every dequantized value.
  const reconstructedFinite = finite && scale.every((sc) => Number.isFinite(fround(qmax * sc)));
  const q = new Int8Array(n);
  const byteCounts = new Float64Array(256);
  wasm.quantizeMeasured(
    values,
    (run) =>
      forEachRun(outer, size, inner, (from, to, c) => run(from, to, ...channelTable(size, c, 0))),
    spreadLanes(scale, inner),
    qmax,
    q,
    byteCounts,
    comparison,
    reconstructedFinite,
    (_, w, r) => compareTail(comparison, w, 0, r),
  );
  return {
    quantized: { q, signed: true, bits, scale, axis: perChannel ? layout.outputAxis : null },
    comparison: finishComparison(comparison),
    byteCounts,
  };
}

/** Elements per kernel call: often enough for V8 to optimize the kernels whole, long enough to amortise the call. */
const CHUNK = 1 << 16;

/**
 * Walks a row-major (outer, size, inner) tensor in cache-sized runs. inner > 1: runs of one
 * channel `c` (contiguous). inner = 1 (channels last, as MatMul weights are): runs of whole rows,
 * reported with c = -1, so a kernel walks every channel in turn instead of one element per call.
 */
function forEachRun(
  outer: number,
  size: number,
  inner: number,
  run: (from: number, to: number, c: number) => void,
): void {
  if (inner === 1) {
    const rows = Math.max(1, Math.floor(CHUNK / Math.max(1, size)));
    const n = outer * size;
    for (let from = 0; from < n; from += rows * size)
      run(from, Math.min(n, from + rows * size), -1);
    return;
  }
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < size; c++) {
      for (let end = i + inner; i < end; i += CHUNK) run(i, Math.min(end, i + CHUNK), c);
      i = (o * size + c + 1) * inner;
    }
  }
}

/**
 * The WebAssembly channel kernels walk channels-last rows with one table entry per channel; a run
 * of one channel (inner > 1) is walked as rows of four lanes, over four entries of that channel.
 */
function channelLanes(inner: number): number {
  return inner === 1 ? 1 : 4;
}

/** Each entry of a per-channel table repeated for its lanes (see channelLanes). */
function spreadLanes(table: Float32Array | Uint8Array | Int8Array, inner: number): Float32Array {
  const lanes = channelLanes(inner);
  const out = new Float32Array(table.length * lanes);
  for (let i = 0; i < out.length; i++) out[i] = table[Math.floor(i / lanes)];
  return out;
}

/** The (size, table offset) a channel kernel takes for forEachRun's run of channel c (c < 0: whole rows). */
function channelTable(size: number, c: number, at: number): [number, number] {
  return c < 0 ? [size, at] : [4, at + 16 * c];
}

/** Each channel's finite range, widened to include 0 (the zero point, and symmetric max |w|, need it). */
function ranges(
  values: Float32Array,
  { outer, size, inner }: AxisSplit,
): { lo: Float64Array; hi: Float64Array } {
  const lo = new Float64Array(size);
  const hi = new Float64Array(size);
  forEachRun(outer, size, inner, (from, to, c) =>
    c < 0 ? rangeRows(values, from, to, lo, hi) : rangeRun(values, from, to, lo, hi, c),
  );
  return { lo, hi };
}

/** Widens lo/hi of channel c by the finite values of one contiguous run. */
function rangeRun(
  values: Float32Array,
  from: number,
  to: number,
  lo: Float64Array,
  hi: Float64Array,
  c: number,
): void {
  let l = lo[c];
  let h = hi[c];
  for (let i = from; i < to; i++) {
    const v = values[i];
    if (v < l) {
      if (v !== -Infinity) l = v;
    } else if (v > h) {
      if (v !== Infinity) h = v;
    }
  }
  lo[c] = l;
  hi[c] = h;
}

/** Widens lo/hi of every channel by whole rows (channels last). */
function rangeRows(
  values: Float32Array,
  from: number,
  to: number,
  lo: Float64Array,
  hi: Float64Array,
): void {
  const size = lo.length;
  for (let row = from; row < to; row += size) {
    for (let c = 0; c < size; c++) {
      const v = values[row + c];
      if (v < lo[c]) {
        if (v !== -Infinity) lo[c] = v;
      } else if (v > hi[c]) {
        if (v !== Infinity) hi[c] = v;
      }
    }
  }
}

/** Codes in [qmin, qmax] of one contiguous run with one scale and zero point; NaN takes the zero point. */
function quantizeRun(
  values: Float32Array,
  q: Uint8Array | Int8Array,
  from: number,
  to: number,
  s: number,
  z: number,
  qmin: number,
  qmax: number,
): void {
  for (let i = from; i < to; i++) {
    const v = values[i];
    const r = roundHalfEven(fround(v / s)) + z;
    q[i] = r > qmax ? qmax : r < qmin ? qmin : v !== v ? z : r;
  }
}

/** Codes of whole rows, channel c with scale[c] and zeroPoint[c] (channels last). */
function quantizeRows(
  values: Float32Array,
  q: Uint8Array | Int8Array,
  from: number,
  to: number,
  scale: Float32Array,
  zeroPoint: Uint8Array,
  qmin: number,
  qmax: number,
): void {
  const size = scale.length;
  for (let row = from; row < to; row += size) {
    for (let c = 0; c < size; c++) {
      const v = values[row + c];
      const z = zeroPoint[c];
      const r = roundHalfEven(fround(v / scale[c])) + z;
      q[row + c] = r > qmax ? qmax : r < qmin ? qmin : v !== v ? z : r;
    }
  }
}

/** Shape of the scale tensor of a blockwise quantization: `dims` with the block axis divided by blockSize, rounded up. */
export function blockwiseScaleDims(
  dims: readonly number[],
  axis: number,
  blockSize: number,
): number[] {
  return dims.map((d, a) => (a === axis ? Math.ceil(d / blockSize) : d));
}

/**
 * The layout blocks of `blockSize` run in. A Conv-like weight [O, I, k…] (outputs on axis 0, inputs
 * on 1) is seen as [O, I·k…], the same elements in the same order, so a block is a contiguous run of
 * one filter's inputs. A block never spans two filters: a short row (a depthwise filter's 9 weights)
 * gets its own scale, since filters differ in range (grouping rows saved 0.5% of the mobile classifier's
 * file and cost its output cosine 0.84 → 0.72 on text crops).
 */
export function blockLayout(layout: WeightLayout): WeightLayout {
  const { dims, outputAxis, inputAxis } = layout;
  return dims.length > 2 && outputAxis === 0 && inputAxis === 1
    ? { dims: [dims[0], dims.slice(1).reduce((a, d) => a * d, 1)], outputAxis: 0, inputAxis: 1 }
    : layout;
}

/**
 * Symmetric blockwise quantization (int4 by default): every `blockSize` consecutive elements along
 * layout.inputAxis, within one output position, share scale = max|w| / (2^(bits-1) - 1).
 * Codes are clamped to ±(2^(bits-1) - 1) (int4: -7..7; -8 is never used) so the grid is symmetric.
 * The last block along the axis may be shorter. Scales are laid out row-major in blockwiseScaleDims order,
 * which is what DequantizeLinear's blocked mode (axis, block_size) expects.
 */
export function quantizeBlockwise(
  values: Float32Array,
  layout: WeightLayout,
  options: BlockwiseOptions = {},
): LinearQuantized {
  const bits = checkInt('bits', options.bits ?? 4, 2, 8);
  const blockSize = checkInt('blockSize', options.blockSize ?? 32, 1, 2 ** 30);
  const n = values.length;
  const { outer, size, inner } = splitAt(layout, layout.inputAxis, n);
  const blocks = Math.ceil(size / blockSize);
  const maxAbs = new Float64Array(outer * blocks * inner);
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let b = 0; b < blocks; b++) {
      const base = (o * blocks + b) * inner;
      for (let c = b * blockSize, cEnd = Math.min(size, c + blockSize); c < cEnd; c++) {
        for (let r = 0; r < inner; r++, i++) {
          const v = values[i];
          const a = v < 0 ? -v : v;
          if (a > maxAbs[base + r] && a !== Infinity) maxAbs[base + r] = a;
        }
      }
    }
  }
  const qmax = 2 ** (bits - 1) - 1;
  let scale: Float32Array = new Float32Array(maxAbs.length);
  for (let s = 0; s < scale.length; s++) scale[s] = symmetricScale(maxAbs[s], qmax);
  const scaleHalf = options.halfScales ? halfScalesOf(scale) : undefined;
  if (scaleHalf) scale = fromFloat16(scaleHalf);
  const q = new Int8Array(n);
  i = 0;
  for (let o = 0; o < outer; o++) {
    for (let b = 0; b < blocks; b++) {
      const base = (o * blocks + b) * inner;
      for (let c = b * blockSize, cEnd = Math.min(size, c + blockSize); c < cEnd; c++) {
        for (let r = 0; r < inner; r++, i++) {
          const x = roundHalfEven(fround(values[i] / scale[base + r]));
          q[i] = x > qmax ? qmax : x < -qmax ? -qmax : x;
        }
      }
    }
  }
  return {
    q,
    signed: true,
    bits,
    scale,
    axis: layout.inputAxis,
    blockSize,
    ...(scaleHalf ? { scaleHalf } : {}),
  };
}

/**
 * The scales as float16 bit patterns, or undefined when the tensor's largest scale is beyond
 * float16's range (a weight above 458528) or below its normal range (every weight under
 * 7·2⁻¹⁴ ≈ 4.3e-4: the whole tensor would lose precision). A smaller block's scale may round to a
 * subnormal, as ggml's Q4_0 scales do; the codes are made against the rounded scale, and that
 * rounding moves a decoded weight by at most 7·2⁻²⁵ ≈ 2e-7, no more than float16 rounding moves the
 * largest block's weights. One too small even for a subnormal becomes 2⁻²⁴, never 0.
 */
function halfScalesOf(scale: Float32Array): Uint16Array | undefined {
  let top = 0;
  for (let s = 0; s < scale.length; s++) if (scale[s] > top) top = scale[s];
  if (!(top >= 2 ** -14)) return undefined;
  const h = toFloat16(scale);
  if (h.clipped) return undefined;
  for (let s = 0; s < h.bits.length; s++) if (h.bits[s] === 0) h.bits[s] = 1;
  return h.bits;
}

/**
 * DequantizeLinear: y = float32((q - zeroPoint) · scale) for per-tensor (axis null), per-axis,
 * and blocked (blockSize set) results alike. Only layout.dims is read; the axis comes from the result.
 */
export function dequantizeLinear(result: LinearQuantized, layout: WeightLayout): Float32Array {
  const { q, scale, zeroPoint, blockSize } = result;
  const n = q.length;
  const out = new Float32Array(n);
  const runs = scaleRuns(result, layout);
  if (runs) {
    walkDequantized(
      runs,
      q,
      out,
      () => 0,
      () => undefined,
    );
    return out;
  }
  const { outer, size, inner } = splitAt(layout, result.axis!, n);
  const blocks = Math.ceil(size / blockSize!);
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < size; c++) {
      const base = (o * blocks + Math.floor(c / blockSize!)) * inner;
      for (let r = 0; r < inner; r++, i++)
        out[i] = fround((q[i] - (zeroPoint ? zeroPoint[base + r] : 0)) * scale[base + r]);
    }
  }
  return out;
}

/**
 * dequantizeLinear run by run into one cache-sized buffer, for a reader that needs each value
 * once (the report's error metrics): no array of the whole tensor, which for a large weight costs
 * more in page faults and memory traffic than the arithmetic.
 */
export function dequantizeLinearRuns(
  result: LinearQuantized,
  layout: WeightLayout,
): Reconstruction {
  const runs = scaleRuns(result, layout);
  if (!runs) {
    const all = dequantizeLinear(result, layout);
    return (visit) => visit(0, all);
  }
  const { q } = result;
  return (visit) => {
    const buffer = new Float32Array(Math.min(q.length, Math.max(CHUNK, runs.scale.length)));
    walkDequantized(
      runs,
      q,
      buffer,
      (from) => from,
      (from, to) => visit(from, buffer.subarray(0, to - from)),
    );
  };
}

/**
 * Dequantizes run by run into `out` (run [from, to) at out[from - shift(from)]), calling `done`
 * after each: the WebAssembly kernel for byte codes of a large enough tensor, the loops otherwise.
 */
function walkDequantized(
  runs: ScaleRuns,
  q: Int8Array | Uint8Array,
  out: Float32Array,
  shift: (from: number) => number,
  done: (from: number, to: number) => void,
): void {
  const wasm = q.length >= WASM_MIN ? wasmKernels() : undefined;
  if (wasm) {
    wasm.withTables(
      [spreadLanes(runs.scale, runs.inner), spreadLanes(runs.zeroPoint, runs.inner)],
      ([s, z]) =>
        runs.walk((from, to, c) => {
          const [size, sAt] = channelTable(runs.scale.length, c, s);
          wasm.dequantize(
            q,
            from,
            to,
            size,
            sAt,
            channelTable(runs.scale.length, c, z)[1],
            out,
            shift(from),
          );
          done(from, to);
        }),
    );
    return;
  }
  runs.walk((from, to, c) => {
    if (c < 0) dequantizeRows(q, out, from, to, runs.scale, runs.zeroPoint, shift(from));
    else dequantizeRun(q, out, from, to, runs.scale[c], runs.zeroPoint[c], shift(from));
    done(from, to);
  });
}

/** A result's values as runs sharing one scale and zero point (scaleRuns). */
interface ScaleRuns {
  walk: (run: (from: number, to: number, c: number) => void) => void;
  scale: Float32Array;
  zeroPoint: Int8Array | Uint8Array;
  /** Elements per run of one channel (1: runs are whole rows, channels last). */
  inner: number;
}

/**
 * A per-tensor or per-axis result's values as runs sharing scale[c] and zeroPoint[c] (c = -1:
 * whole rows, channels last; see forEachRun), after checking its scales fit the layout.
 * Undefined for blocked results, whose scale changes along a run.
 */
function scaleRuns(result: LinearQuantized, layout: WeightLayout): ScaleRuns | undefined {
  const { q, scale, zeroPoint, axis, blockSize } = result;
  const n = q.length;
  if (axis === null) {
    checkLayout(layout, n);
    if (scale.length !== 1) throw new RangeError(`per-tensor result has ${scale.length} scales`);
    // One channel: runs of it (inner > 1) even when n is 1.
    return {
      walk: (run) => forEachRun(1, 1, n, (from, to) => run(from, to, 0)),
      scale,
      zeroPoint: zeroPoint ?? new Uint8Array(1),
      inner: Math.max(2, n),
    };
  }
  const { outer, size, inner } = splitAt(layout, axis, n);
  const blocks = blockSize === undefined ? 0 : Math.ceil(size / blockSize);
  const expected = blockSize === undefined ? size : outer * blocks * inner;
  if (scale.length !== expected)
    throw new RangeError(`expected ${expected} scales, got ${scale.length}`);
  if (blockSize !== undefined) return undefined;
  return {
    walk: (run) => forEachRun(outer, size, inner, run),
    scale,
    zeroPoint: zeroPoint ?? new Uint8Array(size),
    inner,
  };
}

/** y = float32((q - z) · s) over one contiguous run, written at out[i - shift]. */
function dequantizeRun(
  q: Int8Array | Uint8Array,
  out: Float32Array,
  from: number,
  to: number,
  s: number,
  z: number,
  shift: number,
): void {
  for (let i = from; i < to; i++) out[i - shift] = fround((q[i] - z) * s);
}

/** y = float32((q - z[c]) · s[c]) over whole rows (channels last), written at out[i - shift]. */
function dequantizeRows(
  q: Int8Array | Uint8Array,
  out: Float32Array,
  from: number,
  to: number,
  scale: Float32Array,
  zeroPoint: Int8Array | Uint8Array,
  shift: number,
): void {
  const size = scale.length;
  for (let row = from; row < to; row += size)
    for (let c = 0; c < size; c++)
      out[row + c - shift] = fround((q[row + c] - zeroPoint[c]) * scale[c]);
}

/**
 * Runs the kernels once on a small tensor that takes every branch, both layouts and both code
 * types: V8 would otherwise compile a kernel's loop on its first long call, before its rare
 * branches ran, and bail out of that code again on every later call that reaches one.
 */
function warmUp(): void {
  const values = Float32Array.of(0, 1, -1, NaN, Infinity, -Infinity, 0.5, -0.25, 2, 3e-39, -7, 4);
  for (const outputAxis of [0, 1]) {
    const layout = { dims: [3, 4], outputAxis, inputAxis: 1 - outputAxis };
    for (const symmetric of [true, false]) {
      for (const perChannel of [true, false]) {
        const q = quantizeLinear(values, layout, { symmetric, perChannel });
        dequantizeLinear(q, layout);
        dequantizeLinearRuns(q, layout)(() => undefined);
      }
    }
  }
}
warmUp();
