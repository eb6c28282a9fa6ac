/**
 * Second-order (Optimal Brain Surgeon) pruning from calibration activations, as in SparseGPT:
 * H = XᵀX over a layer's input rows, saliency w²/[H⁻¹]ᵢᵢ, and compensation of the surviving
 * weights of each row through the upper Cholesky factor of H⁻¹. All in Float64.
 */

import type { WeightLayout } from '../types';
import { checkFraction, checkLayout, splitAt } from './layout';
import { pruneCount } from './prune';

/** Dampening λ = DAMP · mean(diag H), SparseGPT's default: keeps the factorisation stable when X is rank-deficient. */
export const DAMP = 0.01;

/** Σ xxᵀ over activation rows: the full n×n matrix, or only its diagonal when n is too large for one. */
export class Gram {
  readonly h: Float64Array;
  /** Rows accumulated so far. */
  rows = 0;
  private symmetric = true;

  constructor(
    readonly n: number,
    readonly diagonalOnly = false,
  ) {
    this.h = new Float64Array(diagonalOnly ? n : n * n);
  }

  /** Adds the row x[off .. off+n). Only the upper triangle is updated; `matrix()` mirrors it. */
  addRow(x: ArrayLike<number>, off = 0): void {
    const n = this.n;
    const h = this.h;
    this.rows++;
    if (this.diagonalOnly) {
      for (let i = 0; i < n; i++) h[i] += x[off + i] * x[off + i];
      return;
    }
    this.symmetric = false;
    for (let i = 0; i < n; i++) {
      const xi = x[off + i];
      // ReLU outputs and im2col padding are mostly zeros: their outer products add nothing.
      if (xi === 0) continue;
      const base = i * n - off;
      for (let j = off + i; j < off + n; j++) h[base + j] += xi * x[j];
    }
  }

  /** The full symmetric matrix (or the diagonal). */
  matrix(): Float64Array {
    if (!this.symmetric) {
      const n = this.n;
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) this.h[j * n + i] = this.h[i * n + j];
      this.symmetric = true;
    }
    return this.h;
  }

  diagonal(): Float64Array {
    if (this.diagonalOnly) return this.h;
    const d = new Float64Array(this.n);
    for (let i = 0; i < this.n; i++) d[i] = this.h[i * this.n + i];
    return d;
  }
}

/**
 * Adds the rows of an activation tensor whose feature axis is `axis` (the last one for X·W, the
 * second to last for W·X): every position of the other axes is one row of length dims[axis].
 */
export function accumulateRows(gram: Gram, x: ArrayLike<number>, dims: readonly number[], axis: number): void {
  const { outer, size, inner } = splitAt({ dims: [...dims], outputAxis: axis, inputAxis: axis }, axis, x.length);
  if (size !== gram.n) throw new RangeError(`activation has ${size} features along axis ${axis}, the weight takes ${gram.n}`);
  const n = gram.n;
  if (inner === 1) {
    for (let o = 0; o < outer; o++) gram.addRow(x, o * n);
    return;
  }
  const row = new Float64Array(n);
  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < inner; r++) {
      for (let k = 0; k < n; k++) row[k] = x[(o * n + k) * inner + r];
      gram.addRow(row);
    }
  }
}

/** Conv attributes as ONNX states them (absent ones undefined). */
export interface ConvAttributes {
  kernel_shape?: number[];
  strides?: number[];
  dilations?: number[];
  pads?: number[];
  auto_pad?: string;
  group?: number;
}

/** Where each output position of a Conv reads its input: everything im2col needs. */
export interface ConvGeometry {
  group: number;
  /** Input channels per group. */
  groupChannels: number;
  kernel: number[];
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  /** Output spatial size. */
  out: number[];
}

/** Resolves a Conv's geometry for an input of `inputDims` [N, C, ...spatial] and a weight of `weightDims` [M, C/group, ...kernel]. */
export function convGeometry(a: ConvAttributes, inputDims: readonly number[], weightDims: readonly number[]): ConvGeometry {
  const r = weightDims.length - 2;
  if (r < 1 || inputDims.length !== r + 2) throw new RangeError(`Conv input of rank ${inputDims.length} does not match a weight of rank ${weightDims.length}`);
  const group = a.group ?? 1;
  const groupChannels = weightDims[1];
  if (!(group >= 1) || inputDims[1] !== groupChannels * group || weightDims[0] % group !== 0) {
    throw new RangeError(`Conv with ${inputDims[1]} input channels, group ${group} and weight [${weightDims.join(', ')}] is inconsistent`);
  }
  const kernel = weightDims.slice(2);
  if (a.kernel_shape && a.kernel_shape.some((k, d) => k !== kernel[d])) throw new RangeError(`kernel_shape [${a.kernel_shape.join(', ')}] differs from the weight's [${kernel.join(', ')}]`);
  const strides = a.strides ?? kernel.map(() => 1);
  const dilations = a.dilations ?? kernel.map(() => 1);
  const spatial = inputDims.slice(2);
  const padsBegin: number[] = [];
  const out: number[] = [];
  const mode = a.auto_pad ?? 'NOTSET';
  for (let d = 0; d < r; d++) {
    const extent = (kernel[d] - 1) * dilations[d] + 1;
    if (mode === 'SAME_UPPER' || mode === 'SAME_LOWER') {
      const o = Math.ceil(spatial[d] / strides[d]);
      const total = Math.max(0, (o - 1) * strides[d] + extent - spatial[d]);
      padsBegin.push(mode === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2));
      out.push(o);
    } else if (mode === 'VALID' || mode === 'NOTSET') {
      const begin = mode === 'VALID' ? 0 : a.pads?.[d] ?? 0;
      const end = mode === 'VALID' ? 0 : a.pads?.[d + r] ?? 0;
      padsBegin.push(begin);
      out.push(Math.floor((spatial[d] + begin + end - extent) / strides[d]) + 1);
    } else throw new RangeError(`unknown auto_pad '${mode}'`);
  }
  if (out.some((o) => !(o >= 1))) throw new RangeError(`Conv output would be empty for input [${inputDims.join(', ')}]`);
  return { group, groupChannels, kernel, strides, dilations, padsBegin, out };
}

/**
 * im2col into one accumulator per group: every output position of every image gives, for group g,
 * the row of its receptive field over the group's channels, ordered (channel, kernel position)
 * exactly as the weight's row W[o] is; padding contributes zeros.
 */
export function accumulateConv(grams: readonly Gram[], x: ArrayLike<number>, inputDims: readonly number[], geo: ConvGeometry): void {
  const r = geo.kernel.length;
  const spatial = inputDims.slice(2);
  const cg = geo.groupChannels;
  let kSize = 1;
  for (const k of geo.kernel) kSize *= k;
  const n = cg * kSize;
  if (grams.length !== geo.group || grams.some((g) => g.n !== n)) throw new RangeError(`im2col rows of ${n} need ${geo.group} accumulators of that size`);
  let plane = 1;
  for (const s of spatial) plane *= s;
  let positions = 1;
  for (const o of geo.out) positions *= o;
  // Input offset (within one channel plane) of each kernel tap relative to the window origin, or -1 where it falls in padding, per output position.
  const offsets = new Int32Array(kSize);
  const pos = new Array<number>(r).fill(0);
  const tap = new Array<number>(r).fill(0);
  const row = new Float64Array(n);
  for (let p = 0; p < positions; p++) {
    let rest = p;
    for (let d = r - 1; d >= 0; d--) {
      pos[d] = rest % geo.out[d];
      rest = Math.floor(rest / geo.out[d]);
    }
    for (let k = 0; k < kSize; k++) {
      let kr = k;
      for (let d = r - 1; d >= 0; d--) {
        tap[d] = kr % geo.kernel[d];
        kr = Math.floor(kr / geo.kernel[d]);
      }
      let off = 0;
      for (let d = 0; d < r; d++) {
        const at = pos[d] * geo.strides[d] - geo.padsBegin[d] + tap[d] * geo.dilations[d];
        if (at < 0 || at >= spatial[d]) {
          off = -1;
          break;
        }
        off = off * spatial[d] + at;
      }
      offsets[k] = off;
    }
    for (let b = 0; b < inputDims[0]; b++) {
      for (let g = 0; g < geo.group; g++) {
        const base = (b * inputDims[1] + g * cg) * plane;
        for (let c = 0; c < cg; c++) {
          for (let k = 0; k < kSize; k++) row[c * kSize + k] = offsets[k] < 0 ? 0 : x[base + c * plane + offsets[k]];
        }
        grams[g].addRow(row);
      }
    }
  }
}

/**
 * What pruning needs from a Hessian: its diagonal (the cost wᵢ²Hᵢᵢ of zeroing one weight while
 * the rest stay) and, for compensation, the upper Cholesky factor U of the damped H⁻¹
 * (H⁻¹ = UᵀU), row-major n×n; absent when only the diagonal was accumulated.
 */
export interface HessianFactor {
  n: number;
  /** diag H, undamped: 0 marks a dead input (zero on every calibration row). */
  diagonal: Float64Array;
  u?: Float64Array;
  /** λ added to the diagonal (after any retries). */
  damping: number;
  /** Inputs that were zero on every calibration row: their weights cost nothing to prune. */
  dead: number;
}

/**
 * Factors a Gram matrix: dead inputs (zero diagonal) get Hᵢᵢ = 1 (they are uncoupled), λ = DAMP·mean(diag)
 * is added, then H = RRᵀ with R upper triangular (Cholesky taken from the last index down) and U = R⁻¹,
 * which is the upper Cholesky factor of H⁻¹ SparseGPT uses: H⁻¹ = R⁻ᵀR⁻¹ = UᵀU. When the factorisation
 * fails (a pivot ≤ 0 from rounding) λ grows tenfold, a few times. Returns undefined if H is not finite.
 */
export function factorHessian(gram: Gram): HessianFactor | undefined {
  const n = gram.n;
  const diagonal = gram.diagonal();
  let dead = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(diagonal[i])) return undefined;
    if (diagonal[i] === 0) dead++;
    sum += diagonal[i] === 0 ? 1 : diagonal[i];
  }
  let damping = n ? (DAMP * sum) / n : 0;
  if (gram.diagonalOnly) return { n, diagonal, damping, dead };
  const h = gram.matrix();
  const a = new Float64Array(n * n);
  for (let attempt = 0; attempt < 6; attempt++, damping *= 10) {
    for (let i = 0; i < n * n; i++) a[i] = h[i];
    for (let i = 0; i < n; i++) a[i * n + i] = (diagonal[i] === 0 ? 1 : diagonal[i]) + damping;
    if (choleskyUpperLower(a, n) && invertUpper(a, n)) return { n, diagonal, u: a, damping, dead };
  }
  return undefined;
}

/** In place: the upper triangle of `a` becomes R with RRᵀ = A (A symmetric positive definite). False on a non-positive pivot. */
function choleskyUpperLower(a: Float64Array, n: number): boolean {
  for (let j = n - 1; j >= 0; j--) {
    const rj = j * n;
    let s = a[rj + j];
    for (let k = j + 1; k < n; k++) s -= a[rj + k] * a[rj + k];
    if (!(s > 0)) return false;
    const d = Math.sqrt(s);
    a[rj + j] = d;
    for (let i = 0; i < j; i++) {
      const ri = i * n;
      let t = a[ri + j];
      for (let k = j + 1; k < n; k++) t -= a[ri + k] * a[rj + k];
      a[ri + j] = t / d;
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[i * n + j] = 0;
  return true;
}

/** In place: the upper-triangular `a` becomes its inverse, row by row from the bottom. False if the result is not finite. */
function invertUpper(a: Float64Array, n: number): boolean {
  const row = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    const ri = i * n;
    row.fill(0);
    for (let k = i + 1; k < n; k++) {
      const r = a[ri + k];
      if (r === 0) continue;
      const rk = k * n;
      for (let j = k; j < n; j++) row[j] += r * a[rk + j];
    }
    const inv = 1 / a[ri + i];
    a[ri + i] = inv;
    for (let j = i + 1; j < n; j++) {
      a[ri + j] = -row[j] * inv;
      if (!Number.isFinite(a[ri + j])) return false;
    }
  }
  return true;
}

/** A weight seen as output rows of n inputs: element (o, i) of the tensor is at o·rowStride + i·colStride. */
export interface WeightRows {
  rows: number;
  n: number;
  rowStride: number;
  colStride: number;
  /** Rows per Hessian: output channels of one Conv group (all rows for MatMul/Gemm). */
  rowsPerGroup: number;
}

/**
 * Rows of a MatMul/Gemm weight (rank 2, either axis the output) or of a Conv weight [M, C/g, ...kernel]
 * (a row is W[o] flattened, matching im2col's order). `groups` Hessians share the rows evenly.
 */
export function weightRows(layout: WeightLayout, groups = 1): WeightRows {
  const { dims, outputAxis } = layout;
  let count = 1;
  for (const d of dims) count *= d;
  checkLayout(layout, count);
  const rows = dims[outputAxis];
  if (!(rows > 0) || rows % groups !== 0) throw new RangeError(`${rows} output rows cannot be split into ${groups} groups`);
  const n = count / rows;
  if (dims.length === 2 && outputAxis === 1) return { rows, n, rowStride: 1, colStride: rows, rowsPerGroup: rows / groups };
  if (outputAxis !== 0) throw new RangeError(`a weight of rank ${dims.length} with outputs on axis ${outputAxis} has no row view`);
  return { rows, n, rowStride: n, colStride: 1, rowsPerGroup: rows / groups };
}

/** Columns per mask decision in compensated pruning (SparseGPT's default block size). */
export const MASK_BLOCK = 128;

/**
 * Prunes one weight to `sparsity` from its Hessians (one per row group): exactly round(sparsity·count)
 * weights, the count magnitude pruning takes, plus any further exact zeros; NaN is never chosen.
 *
 * Without `compensate` the others stay as they are, so zeroing wᵢ costs wᵢ²Hᵢᵢ in ‖XΔw‖², and the
 * smallest such costs over the whole tensor go. With `compensate` (SparseGPT): columns are taken in
 * blocks of MASK_BLOCK; for each block the OBS saliency w²/[H_F⁻¹]ᵢᵢ = w²/Uᵢᵢ² (F: the columns not yet
 * fixed) of the current weights picks the block's share jointly over all rows; then each pruned wᵢ,
 * column by column, adds −(wᵢ/Uᵢᵢ)·U[i, i+1..] to the later weights of its row, the update that
 * minimises the row's output error with the earlier columns fixed. Needs full factors (with `u`).
 */
export function obsPrune(values: Float32Array, view: WeightRows, factors: readonly HessianFactor[], sparsity: number, compensate: boolean): Float32Array {
  checkFraction('sparsity', sparsity);
  const { rows, n, rowStride, colStride, rowsPerGroup } = view;
  if (rows * n !== values.length) throw new RangeError(`${rows}×${n} rows for ${values.length} values`);
  if (factors.length * rowsPerGroup !== rows || factors.some((f) => f.n !== n)) throw new RangeError(`${factors.length} Hessians do not cover ${rows} rows of ${n}`);
  if (compensate && factors.some((f) => !f.u)) throw new RangeError('compensation needs full Hessian factors');
  const k = pruneCount(values.length, sparsity);
  const out = new Float32Array(values.length);
  const factorOf = (o: number) => factors[Math.floor(o / rowsPerGroup)];
  if (!compensate) {
    const cost = new Float64Array(values.length);
    for (let o = 0; o < rows; o++) {
      const d = factorOf(o).diagonal;
      for (let i = 0; i < n; i++) {
        const at = o * rowStride + i * colStride;
        cost[at] = values[at] * values[at] * d[i];
      }
    }
    const prune = smallest(cost, k);
    for (let i = 0; i < values.length; i++) out[i] = prune[i] || values[i] === 0 ? 0 : values[i];
    return out;
  }
  // Row-major working copy [row][input] in float64: updates accumulate over many columns.
  const w = new Float64Array(rows * n);
  for (let o = 0; o < rows; o++) for (let i = 0; i < n; i++) w[o * n + i] = values[o * rowStride + i * colStride];
  const pruned = new Uint8Array(rows * n);
  for (let b0 = 0; b0 < n; b0 += MASK_BLOCK) {
    const b1 = Math.min(n, b0 + MASK_BLOCK);
    const width = b1 - b0;
    // Each block's share rounds cumulatively, so the shares add up to exactly k.
    const share = Math.round((k * b1) / n) - Math.round((k * b0) / n);
    const saliency = new Float64Array(rows * width);
    for (let o = 0; o < rows; o++) {
      const f = factorOf(o);
      for (let i = b0; i < b1; i++) {
        const x = w[o * n + i];
        const uii = f.u![i * n + i];
        saliency[o * width + i - b0] = f.diagonal[i] === 0 ? 0 : (x * x) / (uii * uii);
      }
    }
    const chosen = smallest(saliency, share);
    for (let o = 0; o < rows; o++) {
      const u = factorOf(o).u!;
      const row = o * n;
      for (let i = b0; i < b1; i++) {
        if (!chosen[o * width + i - b0] && w[row + i] !== 0) continue;
        pruned[row + i] = 1;
        const e = w[row + i] / u[i * n + i];
        w[row + i] = 0;
        if (e === 0) continue;
        for (let j = i + 1; j < n; j++) w[row + j] -= e * u[i * n + j];
      }
    }
  }
  for (let o = 0; o < rows; o++) for (let i = 0; i < n; i++) out[o * rowStride + i * colStride] = pruned[o * n + i] ? 0 : w[o * n + i];
  return out;
}

/** Marks the k smallest values (ties in index order; NaN sorts last, so it is never chosen). */
function smallest(values: Float64Array, k: number): Uint8Array {
  const mask = new Uint8Array(values.length);
  if (k === 0) return mask;
  const sorted = Float64Array.from(values).sort();
  const threshold = sorted[k - 1];
  let ties = k;
  for (let i = 0; i < k; i++) if (sorted[i] < threshold) ties--;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < threshold) mask[i] = 1;
    else if (values[i] === threshold && ties > 0) {
      mask[i] = 1;
      ties--;
    }
  }
  return mask;
}

/** Multiply-adds per version that outputErrors spends at most: past it, it measures an even sample of the rows. */
export const ERROR_BUDGET = 2 ** 28;

/**
 * How much pruning moves a layer's output on the calibration rows, ‖XΔW‖_F / ‖XW‖_F =
 * √(Σ_rows ΔwᵀHΔw / Σ_rows wᵀHw), for several pruned versions at once (one pass over H's upper
 * triangle per row). Wide layers are measured on evenly spaced rows within ERROR_BUDGET; `rows`
 * says how many. With a diagonal-only Gram the cross terms are missing: an estimate.
 */
export function outputErrors(original: Float32Array, pruned: readonly Float32Array[], view: WeightRows, grams: readonly Gram[]): { errors: number[]; rows: number } {
  const { rows, n, rowStride, colStride, rowsPerGroup } = view;
  const k = pruned.length;
  const measured = Math.min(rows, Math.max(16, Math.floor(ERROR_BUDGET / (n * n))));
  const w = new Float64Array(n);
  const deltas = pruned.map(() => new Float64Array(n));
  let signal = 0;
  const noise = new Float64Array(k);
  // Σᵢ vᵢ(Hᵢᵢvᵢ + 2Σ_{j>i} Hᵢⱼvⱼ) = vᵀHv from the upper triangle alone.
  const quadratic = (h: Float64Array, v: Float64Array) => {
    let q = 0;
    for (let i = 0; i < n; i++) {
      const vi = v[i];
      if (vi === 0) continue;
      const hi = i * n;
      let s = 0;
      for (let j = i + 1; j < n; j++) s += h[hi + j] * v[j];
      q += vi * (h[hi + i] * vi + 2 * s);
    }
    return q;
  };
  for (let r = 0; r < measured; r++) {
    const o = Math.floor((r * rows) / measured);
    const gram = grams[Math.floor(o / rowsPerGroup)];
    const base = o * rowStride;
    for (let i = 0; i < n; i++) {
      const at = base + i * colStride;
      w[i] = original[at];
      for (let p = 0; p < k; p++) deltas[p][i] = original[at] - pruned[p][at];
    }
    if (gram.diagonalOnly) {
      const h = gram.h;
      for (let i = 0; i < n; i++) {
        signal += h[i] * w[i] * w[i];
        for (let p = 0; p < k; p++) noise[p] += h[i] * deltas[p][i] * deltas[p][i];
      }
      continue;
    }
    const h = gram.matrix();
    signal += quadratic(h, w);
    for (let p = 0; p < k; p++) noise[p] += quadratic(h, deltas[p]);
  }
  return { errors: Array.from(noise, (e) => (signal > 0 ? Math.sqrt(Math.max(0, e) / signal) : e > 0 ? Infinity : 0)), rows: measured };
}
