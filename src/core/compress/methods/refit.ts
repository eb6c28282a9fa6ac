/**
 * Layer-wise reconstruction (He et al. 2017, ThiNet): after channels are removed, refit a layer so that,
 * fed the student's own inputs X, it reproduces the teacher's outputs Y of that layer on the channels
 * it kept: min ‖X·W − Y‖² + λ‖W‖², weights and bias together (X gains a column of ones), solved from
 * the normal equations (XᵀX + λI)·W = XᵀY with λ = DAMP · mean(diag XᵀX), as obs.ts damps. All in Float64.
 */

import { DAMP, forEachConvRow, Gram, sampleRows, type ConvGeometry, type RowSampling } from './obs';

/** XᵀX (n×n), XᵀY (n×m) and ‖Y‖² of one least-squares problem, accumulated row by row. */
export class LeastSquares {
  readonly gram: Gram;
  readonly xty: Float64Array;
  yy = 0;

  constructor(
    /** Inputs per row, the bias column included. */
    readonly n: number,
    /** Outputs per row. */
    readonly m: number,
  ) {
    this.gram = new Gram(n);
    this.xty = new Float64Array(n * m);
  }

  get rows(): number {
    return this.gram.rows;
  }

  /** Adds weight·(xxᵀ, xyᵀ, yᵀy) for x[xOff .. xOff+n) and y (read through `yAt(j)`, j < m). */
  addRow(x: ArrayLike<number>, xOff: number, y: ArrayLike<number>, weight = 1): void {
    const { n, m, xty } = this;
    this.gram.addRow(x, xOff, weight);
    for (let j = 0; j < m; j++) this.yy += weight * y[j] * y[j];
    for (let i = 0; i < n; i++) {
      const xi = weight * x[xOff + i];
      if (xi === 0) continue;
      const at = i * m;
      for (let j = 0; j < m; j++) xty[at + j] += xi * y[j];
    }
  }
}

/**
 * Rows of a Conv: im2col of the student's input `x` (obs.ts forEachConvRow) against the teacher's output
 * `y` [N, Mt, ...out] at the same position, on the teacher channels `outChannels` (one per student output
 * channel, in order). One problem per group (group g: student outputs [g·m, (g+1)·m)); with `bias`, every
 * x row ends in a 1.
 */
export function accumulateConvFit(
  fits: readonly LeastSquares[],
  x: ArrayLike<number>,
  xDims: readonly number[],
  geo: ConvGeometry,
  y: ArrayLike<number>,
  yDims: readonly number[],
  outChannels: readonly number[],
  bias: boolean,
  sampling?: RowSampling,
): void {
  const patch = geo.groupChannels * geo.kernel.reduce((a, b) => a * b, 1);
  const n = patch + (bias ? 1 : 0);
  const m = outChannels.length / geo.group;
  if (fits.length !== geo.group || fits.some((f) => f.n !== n || f.m !== m))
    throw new RangeError(`a Conv with ${geo.group} groups of ${n}×${m} needs that many problems`);
  const plane = yDims.slice(2).reduce((a, b) => a * b, 1);
  const positions = geo.out.reduce((a, b) => a * b, 1);
  if (plane !== positions || yDims[0] !== xDims[0])
    throw new RangeError(
      `the teacher's output [${yDims.join(', ')}] does not match the student's ${positions} positions`,
    );
  if (outChannels.some((c) => !(c >= 0 && c < yDims[1])))
    throw new RangeError(`a kept channel is outside the teacher's ${yDims[1]}`);
  const row = new Float64Array(n);
  if (bias) row[patch] = 1;
  const yRow = new Float64Array(m);
  forEachConvRow(x, xDims, geo, sampling, (r, g, b, p, weight) => {
    row.set(r);
    for (let j = 0; j < m; j++) yRow[j] = y[(b * yDims[1] + outChannels[g * m + j]) * plane + p];
    fits[g].addRow(row, 0, yRow, weight);
  });
  for (const f of fits) f.gram.flush();
}

/**
 * Rows of X·W (MatMul, Gemm): every position of the leading axes of `x` (features last) against the same
 * row of the teacher's output `y` (features last), on the teacher features `outChannels`.
 */
export function accumulateRowsFit(
  fit: LeastSquares,
  x: ArrayLike<number>,
  xDims: readonly number[],
  y: ArrayLike<number>,
  yDims: readonly number[],
  outChannels: readonly number[],
  bias: boolean,
  sampling?: RowSampling,
): void {
  const k = xDims[xDims.length - 1];
  const mt = yDims[yDims.length - 1];
  const total = x.length / k;
  const n = k + (bias ? 1 : 0);
  if (fit.n !== n || fit.m !== outChannels.length)
    throw new RangeError(
      `rows of ${n}→${outChannels.length} do not fit a ${fit.n}×${fit.m} problem`,
    );
  if (y.length / mt !== total)
    throw new RangeError(
      `the teacher's output [${yDims.join(', ')}] has a different number of rows than the student's input [${xDims.join(', ')}]`,
    );
  const { rows, weight } = sampleRows(total, sampling);
  const count = rows ? rows.length : total;
  const row = new Float64Array(n);
  if (bias) row[k] = 1;
  const yRow = new Float64Array(outChannels.length);
  for (let s = 0; s < count; s++) {
    const q = rows ? rows[s] : s;
    for (let i = 0; i < k; i++) row[i] = x[q * k + i];
    for (let j = 0; j < outChannels.length; j++) yRow[j] = y[q * mt + outChannels[j]];
    fit.addRow(row, 0, yRow, weight);
  }
  fit.gram.flush();
}

/**
 * The ridge solution W (n×m, row-major: input i, output j) of (XᵀX + λI)·W = XᵀY + λ·W₀, λ = DAMP·mean(diag XᵀX)
 * (an input that was zero on every row counts 1 there, as factorHessian does): min ‖XW − Y‖² + λ‖W − W₀‖², pulled
 * towards `prior` W₀ (the cut weights) where the rows do not pin W down, towards 0 without one.
 * Undefined when the statistics are not finite or the system cannot be factored.
 */
export function solveLeastSquares(
  fit: LeastSquares,
  damp = DAMP,
  prior?: ArrayLike<number>,
): Float64Array | undefined {
  const { n, m } = fit;
  const h = fit.gram.matrix();
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const d = h[i * n + i];
    if (!Number.isFinite(d)) return undefined;
    sum += d === 0 ? 1 : d;
  }
  let lambda = n ? (damp * sum) / n : 0;
  const a = new Float64Array(n * n);
  for (let attempt = 0; attempt < 6; attempt++, lambda *= 10) {
    a.set(h);
    for (let i = 0; i < n; i++) a[i * n + i] = (h[i * n + i] === 0 ? 1 : h[i * n + i]) + lambda;
    if (!cholesky(a, n)) continue;
    const w = Float64Array.from(fit.xty);
    if (prior)
      for (let i = 0; i < n; i++)
        for (let j = 0; j < m; j++) w[i * m + j] += lambda * prior[i * m + j];
    // L·Z = B, then Lᵀ·W = Z, column block by column block (all m at once, row-major).
    for (let i = 0; i < n; i++) {
      const wi = i * m;
      for (let k = 0; k < i; k++) {
        const l = a[i * n + k];
        if (l === 0) continue;
        const wk = k * m;
        for (let j = 0; j < m; j++) w[wi + j] -= l * w[wk + j];
      }
      const d = a[i * n + i];
      for (let j = 0; j < m; j++) w[wi + j] /= d;
    }
    for (let i = n - 1; i >= 0; i--) {
      const wi = i * m;
      for (let k = i + 1; k < n; k++) {
        const l = a[k * n + i];
        if (l === 0) continue;
        const wk = k * m;
        for (let j = 0; j < m; j++) w[wi + j] -= l * w[wk + j];
      }
      const d = a[i * n + i];
      for (let j = 0; j < m; j++) w[wi + j] /= d;
    }
    if (w.every(Number.isFinite)) return w;
  }
  return undefined;
}

/** In place: the lower triangle of `a` becomes L with LLᵀ = A. False on a non-positive pivot. */
function cholesky(a: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let s = a[rj + j];
    for (let k = 0; k < j; k++) s -= a[rj + k] * a[rj + k];
    if (!(s > 0)) return false;
    const d = Math.sqrt(s);
    a[rj + j] = d;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let t = a[ri + j];
      for (let k = 0; k < j; k++) t -= a[ri + k] * a[rj + k];
      a[ri + j] = t / d;
    }
  }
  return true;
}

/**
 * ‖X·W − Y‖² / ‖Y‖² from the accumulated statistics: (tr(WᵀXᵀXW) − 2·tr(WᵀXᵀY) + ‖Y‖²) / ‖Y‖²
 * (0 when Y is all zeros and so is the fit).
 */
export function relativeError(fit: LeastSquares, w: ArrayLike<number>): number {
  const { n, m } = fit;
  const h = fit.gram.matrix();
  let quad = 0;
  let cross = 0;
  const hw = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    hw.fill(0);
    const hi = i * n;
    for (let k = 0; k < n; k++) {
      const hik = h[hi + k];
      if (hik === 0) continue;
      const wk = k * m;
      for (let j = 0; j < m; j++) hw[j] += hik * w[wk + j];
    }
    const wi = i * m;
    for (let j = 0; j < m; j++) {
      quad += w[wi + j] * hw[j];
      cross += w[wi + j] * fit.xty[wi + j];
    }
  }
  const err = Math.max(0, quad - 2 * cross + fit.yy);
  return fit.yy > 0 ? err / fit.yy : err > 0 ? Infinity : 0;
}
