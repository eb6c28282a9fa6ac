/**
 * Second-order (Optimal Brain Surgeon) pruning from calibration activations, as in SparseGPT:
 * H = XᵀX over a layer's input rows, saliency w²/[H⁻¹]ᵢᵢ, and compensation of the surviving
 * weights of each row through the upper Cholesky factor of H⁻¹. All in Float64.
 */

import type { Rng } from '../../verify/random';
import type { WeightLayout } from '../types';
import { checkFraction, checkLayout, splitAt } from './layout';
import { pruneCount } from './prune';

/** Dampening λ = DAMP · mean(diag H), SparseGPT's default: keeps the factorisation stable when X is rank-deficient. */
export const DAMP = 0.01;

/** Rows a Gram buffers before folding them into H: one pass over H per block instead of per row is what makes it fast. */
const GRAM_BLOCK = 128;

/** Σ xxᵀ over activation rows: the full n×n matrix, or only its diagonal when n is too large for one. */
export class Gram {
  private readonly h: Float64Array;
  /** Rows accumulated so far. */
  rows = 0;
  private symmetric = true;
  /** Rows not yet in h (row-major), their weights, and how many; allocated while rows arrive, dropped by flush(). */
  private block?: Float64Array;
  private blockWeights?: Float64Array;
  private pending = 0;

  constructor(
    readonly n: number,
    readonly diagonalOnly = false,
  ) {
    this.h = new Float64Array(diagonalOnly ? n : n * n);
  }

  /** Adds weight·xxᵀ for the row x[off .. off+n). Only the upper triangle is updated; `matrix()` mirrors it. */
  addRow(x: ArrayLike<number>, off = 0, weight = 1): void {
    const n = this.n;
    this.rows++;
    if (this.diagonalOnly) {
      for (let i = 0; i < n; i++) this.h[i] += weight * x[off + i] * x[off + i];
      return;
    }
    this.symmetric = false;
    this.block ??= new Float64Array(GRAM_BLOCK * n);
    this.blockWeights ??= new Float64Array(GRAM_BLOCK);
    const at = this.pending * n;
    for (let i = 0; i < n; i++) this.block[at + i] = x[off + i];
    this.blockWeights[this.pending++] = weight;
    if (this.pending === GRAM_BLOCK) this.fold();
  }

  /** Folds the buffered rows into H and frees the buffer (accumulations call it when they finish). */
  flush(): void {
    this.fold();
    this.block = undefined;
    this.blockWeights = undefined;
  }

  /**
   * h[i, j≥i] += Σ_r w_r·x_r[i]·x_r[j] over the buffered rows, eight rows per pass over row i of H.
   * ReLU outputs and im2col padding are mostly zeros: rows with x_r[i] = 0 add nothing to row i and are skipped.
   */
  private fold(): void {
    const count = this.pending;
    if (!count) return;
    const { n, h } = this;
    const x = this.block!;
    const w = this.blockWeights!;
    const coef = new Float64Array(count);
    const row = new Int32Array(count);
    for (let i = 0; i < n; i++) {
      let m = 0;
      for (let r = 0; r < count; r++) {
        const xi = w[r] * x[r * n + i];
        if (xi === 0) continue;
        coef[m] = xi;
        row[m++] = r * n;
      }
      const hi = i * n;
      let t = 0;
      for (; t + 8 <= m; t += 8) {
        const a0 = coef[t],
          a1 = coef[t + 1],
          a2 = coef[t + 2],
          a3 = coef[t + 3],
          a4 = coef[t + 4],
          a5 = coef[t + 5],
          a6 = coef[t + 6],
          a7 = coef[t + 7];
        const o0 = row[t],
          o1 = row[t + 1],
          o2 = row[t + 2],
          o3 = row[t + 3],
          o4 = row[t + 4],
          o5 = row[t + 5],
          o6 = row[t + 6],
          o7 = row[t + 7];
        for (let j = i; j < n; j++)
          h[hi + j] +=
            a0 * x[o0 + j] +
            a1 * x[o1 + j] +
            a2 * x[o2 + j] +
            a3 * x[o3 + j] +
            a4 * x[o4 + j] +
            a5 * x[o5 + j] +
            a6 * x[o6 + j] +
            a7 * x[o7 + j];
      }
      for (; t < m; t++) {
        const a = coef[t];
        const o = row[t];
        for (let j = i; j < n; j++) h[hi + j] += a * x[o + j];
      }
    }
    this.pending = 0;
  }

  /** The full symmetric matrix (or the diagonal). */
  matrix(): Float64Array {
    this.flush();
    if (!this.symmetric) {
      const n = this.n;
      for (let i = 0; i < n; i++)
        for (let j = i + 1; j < n; j++) this.h[j * n + i] = this.h[i * n + j];
      this.symmetric = true;
    }
    return this.h;
  }

  diagonal(): Float64Array {
    if (this.diagonalOnly) return this.h;
    this.flush();
    const d = new Float64Array(this.n);
    for (let i = 0; i < this.n; i++) d[i] = this.h[i * this.n + i];
    return d;
  }
}

/**
 * A seeded subset of an activation tensor's rows: at most `budget` of them, drawn by `rng`. Each drawn
 * row counts total/budget times, so H stays an unbiased estimate of the full XᵀX (not only up to scale).
 */
export interface RowSampling {
  budget: number;
  rng: Rng;
}

/**
 * The rows [0, total) an accumulation takes, ascending with the weight of each: all of them at weight 1
 * when there is no sampling or the budget covers them, else `budget` distinct ones, every subset
 * equally likely (Floyd's algorithm, so the cost is the budget's, not the total's).
 */
export function sampleRows(
  total: number,
  sampling?: RowSampling,
): { rows: Int32Array | undefined; weight: number } {
  if (!sampling || sampling.budget >= total) return { rows: undefined, weight: 1 };
  const budget = sampling.budget;
  if (!(Number.isSafeInteger(budget) && budget >= 1))
    throw new RangeError(`a row budget of ${budget} is not a positive whole number`);
  const chosen = new Set<number>();
  for (let j = total - budget; j < total; j++) {
    const t = sampling.rng.int(0, j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return { rows: Int32Array.from(chosen).sort(), weight: total / budget };
}

/**
 * Adds the rows of an activation tensor whose feature axis is `axis` (the last one for X·W, the
 * second to last for W·X): every position of the other axes is one row of length dims[axis].
 * With `sampling`, a seeded subset of those rows (sampleRows).
 */
export function accumulateRows(
  gram: Gram,
  x: ArrayLike<number>,
  dims: readonly number[],
  axis: number,
  sampling?: RowSampling,
): void {
  const { outer, size, inner } = splitAt(
    { dims: [...dims], outputAxis: axis, inputAxis: axis },
    axis,
    x.length,
  );
  if (size !== gram.n)
    throw new RangeError(
      `activation has ${size} features along axis ${axis}, the weight takes ${gram.n}`,
    );
  const n = gram.n;
  const { rows, weight } = sampleRows(outer * inner, sampling);
  const count = rows ? rows.length : outer * inner;
  const row = inner === 1 ? undefined : new Float64Array(n);
  for (let s = 0; s < count; s++) {
    const q = rows ? rows[s] : s;
    if (!row) {
      gram.addRow(x, q * n, weight);
      continue;
    }
    const r = q % inner;
    const o = (q - r) / inner;
    for (let k = 0; k < n; k++) row[k] = x[(o * n + k) * inner + r];
    gram.addRow(row, 0, weight);
  }
  gram.flush();
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
export function convGeometry(
  a: ConvAttributes,
  inputDims: readonly number[],
  weightDims: readonly number[],
): ConvGeometry {
  const r = weightDims.length - 2;
  if (r < 1 || inputDims.length !== r + 2)
    throw new RangeError(
      `Conv input of rank ${inputDims.length} does not match a weight of rank ${weightDims.length}`,
    );
  const group = a.group ?? 1;
  const groupChannels = weightDims[1];
  if (!(group >= 1) || inputDims[1] !== groupChannels * group || weightDims[0] % group !== 0) {
    throw new RangeError(
      `Conv with ${inputDims[1]} input channels, group ${group} and weight [${weightDims.join(', ')}] is inconsistent`,
    );
  }
  const kernel = weightDims.slice(2);
  if (a.kernel_shape && a.kernel_shape.some((k, d) => k !== kernel[d]))
    throw new RangeError(
      `kernel_shape [${a.kernel_shape.join(', ')}] differs from the weight's [${kernel.join(', ')}]`,
    );
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
      const begin = mode === 'VALID' ? 0 : (a.pads?.[d] ?? 0);
      const end = mode === 'VALID' ? 0 : (a.pads?.[d + r] ?? 0);
      padsBegin.push(begin);
      out.push(Math.floor((spatial[d] + begin + end - extent) / strides[d]) + 1);
    } else throw new RangeError(`unknown auto_pad '${mode}'`);
  }
  if (out.some((o) => !(o >= 1)))
    throw new RangeError(`Conv output would be empty for input [${inputDims.join(', ')}]`);
  return { group, groupChannels, kernel, strides, dilations, padsBegin, out };
}

/**
 * im2col into one accumulator per group: every output position of every image gives, for group g,
 * the row of its receptive field over the group's channels, ordered (channel, kernel position)
 * exactly as the weight's row W[o] is; padding contributes zeros. With `sampling`, a seeded subset
 * of the (position, image) rows (sampleRows), the same ones for every group.
 */
export function accumulateConv(
  grams: readonly Gram[],
  x: ArrayLike<number>,
  inputDims: readonly number[],
  geo: ConvGeometry,
  sampling?: RowSampling,
): void {
  const n = geo.groupChannels * geo.kernel.reduce((a, b) => a * b, 1);
  if (grams.length !== geo.group || grams.some((g) => g.n !== n))
    throw new RangeError(`im2col rows of ${n} need ${geo.group} accumulators of that size`);
  forEachConvRow(x, inputDims, geo, sampling, (row, g, _b, _p, weight) =>
    grams[g].addRow(row, 0, weight),
  );
  for (const g of grams) g.flush();
}

/**
 * im2col, one row at a time: for every (sampled) output position p of every image b and every group g,
 * `each` gets the receptive field over the group's channels, ordered (channel, kernel position) as the
 * weight's row W[o] is (padding gives zeros), with the row's weight from sampleRows. The row buffer is
 * reused between calls.
 */
export function forEachConvRow(
  x: ArrayLike<number>,
  inputDims: readonly number[],
  geo: ConvGeometry,
  sampling: RowSampling | undefined,
  each: (row: Float64Array, group: number, image: number, position: number, weight: number) => void,
): void {
  const r = geo.kernel.length;
  const spatial = inputDims.slice(2);
  const cg = geo.groupChannels;
  let kSize = 1;
  for (const k of geo.kernel) kSize *= k;
  const n = cg * kSize;
  let plane = 1;
  for (const s of spatial) plane *= s;
  let positions = 1;
  for (const o of geo.out) positions *= o;
  // Input offset (within one channel plane) of each kernel tap relative to the window origin, or -1 where it falls in padding, per output position.
  const offsets = new Int32Array(kSize);
  const pos = new Array<number>(r).fill(0);
  const tap = new Array<number>(r).fill(0);
  const row = new Float64Array(n);
  const batch = inputDims[0];
  const { rows, weight } = sampleRows(positions * batch, sampling);
  const count = rows ? rows.length : positions * batch;
  // Row q is image q % batch at output position ⌊q / batch⌋: positions outermost, so one position's offsets serve its images.
  let at = -1;
  for (let s = 0; s < count; s++) {
    const q = rows ? rows[s] : s;
    const b = q % batch;
    const p = (q - b) / batch;
    if (p !== at) tapOffsets(p);
    at = p;
    for (let g = 0; g < geo.group; g++) {
      const base = (b * inputDims[1] + g * cg) * plane;
      for (let c = 0; c < cg; c++) {
        for (let k = 0; k < kSize; k++)
          row[c * kSize + k] = offsets[k] < 0 ? 0 : x[base + c * plane + offsets[k]];
      }
      each(row, g, b, p, weight);
    }
  }

  function tapOffsets(p: number): void {
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
  if (!(rows > 0) || rows % groups !== 0)
    throw new RangeError(`${rows} output rows cannot be split into ${groups} groups`);
  const n = count / rows;
  if (dims.length === 2 && outputAxis === 1)
    return { rows, n, rowStride: 1, colStride: rows, rowsPerGroup: rows / groups };
  if (outputAxis !== 0)
    throw new RangeError(
      `a weight of rank ${dims.length} with outputs on axis ${outputAxis} has no row view`,
    );
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
export function obsPrune(
  values: Float32Array,
  view: WeightRows,
  factors: readonly HessianFactor[],
  sparsity: number,
  compensate: boolean,
): Float32Array {
  checkFraction('sparsity', sparsity);
  const { rows, n, rowStride, colStride, rowsPerGroup } = view;
  if (rows * n !== values.length)
    throw new RangeError(`${rows}×${n} rows for ${values.length} values`);
  if (factors.length * rowsPerGroup !== rows || factors.some((f) => f.n !== n))
    throw new RangeError(`${factors.length} Hessians do not cover ${rows} rows of ${n}`);
  if (compensate && factors.some((f) => !f.u))
    throw new RangeError('compensation needs full Hessian factors');
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
  for (let o = 0; o < rows; o++)
    for (let i = 0; i < n; i++) w[o * n + i] = values[o * rowStride + i * colStride];
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
  for (let o = 0; o < rows; o++)
    for (let i = 0; i < n; i++)
      out[o * rowStride + i * colStride] = pruned[o * n + i] ? 0 : w[o * n + i];
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
export function outputErrors(
  original: Float32Array,
  pruned: readonly Float32Array[],
  view: WeightRows,
  grams: readonly Gram[],
): { errors: number[]; rows: number } {
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
      const h = gram.diagonal();
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
  return {
    errors: Array.from(noise, (e) =>
      signal > 0 ? Math.sqrt(Math.max(0, e) / signal) : e > 0 ? Infinity : 0,
    ),
    rows: measured,
  };
}
