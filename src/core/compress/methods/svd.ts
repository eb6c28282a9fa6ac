/**
 * Low-rank factorisation: a thin SVD (eigen-decomposition of the smaller Gram matrix by Householder
 * tridiagonalisation and implicit QL), the truncation W ≈ U·V, and its data-aware variant (SVD-LLM): with H = XᵀX of the
 * layer's inputs and SᵀS = H (Cholesky), factor S·W so the truncation minimises ‖X(W − UV)‖.
 * All in Float64, row-major. W is [K, N] in the X·W convention (K inputs, N outputs).
 */

import { DAMP } from './obs';

/**
 * Eigenvalues (descending) and eigenvectors (the columns of `vectors`, [n, n]) of the symmetric
 * n×n matrix `a` (only read). Householder tridiagonalisation then the implicit QL algorithm
 * (EISPACK's tred2/tql2, as JAMA has them): O(n³) with a small constant, 480×480 in well under a second.
 */
export function symmetricEigen(
  a: Float64Array,
  n: number,
): { values: Float64Array; vectors: Float64Array } {
  const V = Float64Array.from(a);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 0) return { values: d, vectors: V };
  tred2(V, d, e, n);
  // tql2 rotates pairs of eigenvectors: held as rows (Vᵀ) those are contiguous.
  const Vt = new Float64Array(n * n);
  for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) Vt[j * n + k] = V[k * n + j];
  tql2(Vt, d, e, n);
  const order = [...Array(n).keys()].sort((i, j) => d[j] - d[i] || i - j);
  const values = Float64Array.from(order, (i) => d[i]);
  const vectors = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const row = order[j] * n;
    for (let k = 0; k < n; k++) vectors[k * n + j] = Vt[row + k];
  }
  return { values, vectors };
}

/** Householder reduction of the symmetric V (row-major, in place) to tridiagonal d, e; V accumulates the transform. */
function tred2(V: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = V[(n - 1) * n + j];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
        V[j * n + i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        V[j * n + i] = f;
        g = e[j] + V[j * n + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[k * n + j] * d[k];
          e[k] += V[k * n + j] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) V[k * n + j] -= f * e[k] + g * d[k];
        d[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    V[(n - 1) * n + i] = V[i * n + i];
    V[i * n + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[k * n + i + 1] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[k * n + i + 1] * V[k * n + j];
        for (let k = 0; k <= i; k++) V[k * n + j] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) V[k * n + i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[(n - 1) * n + j];
    V[(n - 1) * n + j] = 0;
  }
  V[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/** Implicit QL on the tridiagonal d, e: d becomes the eigenvalues, the rows of Vt the eigenvectors. */
function tql2(Vt: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      for (let iter = 0; iter < 100; iter++) {
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.sqrt(p * p + 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.sqrt(p * p + e[i] * e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          const ri = i * n;
          const rj = ri + n;
          for (let k = 0; k < n; k++) {
            h = Vt[rj + k];
            const v = Vt[ri + k];
            Vt[rj + k] = s * v + c * h;
            Vt[ri + k] = c * v - s * h;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
        if (!(Math.abs(e[l]) > eps * tst1)) break;
      }
    }
    d[l] += f;
    e[l] = 0;
  }
}

/** A thin SVD of an m×n matrix: u [m, k], s [k] descending, vt [k, n], k = min(m, n). */
export interface Svd {
  u: Float64Array;
  s: Float64Array;
  vt: Float64Array;
  m: number;
  n: number;
  k: number;
}

/**
 * Thin SVD of the m×n row-major matrix `a`, through the eigen-decomposition of the smaller of AᵀA
 * and AAᵀ; the other side's vectors are A·v/σ. Singular vectors of σ ≈ 0 (below 1e-12·σ₁) are zero:
 * a truncation never keeps them.
 */
export function svd(a: Float64Array, m: number, n: number): Svd {
  const k = Math.min(m, n);
  const wide = n > m;
  // G = AᵀA (n×n) or AAᵀ (m×m).
  const g = new Float64Array(k * k);
  if (!wide) {
    for (let r = 0; r < m; r++) {
      const row = r * n;
      for (let i = 0; i < n; i++) {
        const x = a[row + i];
        if (x === 0) continue;
        const gi = i * n;
        for (let j = i; j < n; j++) g[gi + j] += x * a[row + j];
      }
    }
  } else {
    for (let i = 0; i < m; i++) {
      const ai = i * n;
      for (let j = i; j < m; j++) {
        const aj = j * n;
        let d = 0;
        for (let c = 0; c < n; c++) d += a[ai + c] * a[aj + c];
        g[i * m + j] = d;
      }
    }
  }
  for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) g[i * k + j] = g[j * k + i];
  const { values, vectors } = symmetricEigen(g, k);
  const s = Float64Array.from(values, (l) => Math.sqrt(Math.max(0, l)));
  const tiny = 1e-12 * (s[0] || 0);
  const u = new Float64Array(m * k);
  const vt = new Float64Array(k * n);
  if (!wide) {
    // V = eigenvectors, U = A·V/σ.
    for (let j = 0; j < k; j++) for (let c = 0; c < n; c++) vt[j * n + c] = vectors[c * k + j];
    for (let r = 0; r < m; r++) {
      for (let j = 0; j < k; j++) {
        if (!(s[j] > tiny)) continue;
        let d = 0;
        for (let c = 0; c < n; c++) d += a[r * n + c] * vt[j * n + c];
        u[r * k + j] = d / s[j];
      }
    }
  } else {
    for (let r = 0; r < m; r++) for (let j = 0; j < k; j++) u[r * k + j] = vectors[r * k + j];
    for (let j = 0; j < k; j++) {
      if (!(s[j] > tiny)) continue;
      const row = j * n;
      for (let r = 0; r < m; r++) {
        const x = u[r * k + j] / s[j];
        if (x === 0) continue;
        const ar = r * n;
        for (let c = 0; c < n; c++) vt[row + c] += a[ar + c] * x;
      }
    }
  }
  return { u, s, vt, m, n, k };
}

/** The two thin factors of a rank-r truncation, √σ on each side: U [K, r] and V [r, N]. */
export interface LowRankFactors {
  u: Float64Array;
  v: Float64Array;
  rank: number;
}

/** U = u_r·√Σ_r, V = √Σ_r·vtᵣ from an SVD of the K×N matrix. */
export function truncate(d: Svd, rank: number): LowRankFactors {
  const { m: K, n: N, k } = d;
  if (!(rank >= 1 && rank <= k)) throw new RangeError(`rank ${rank} outside 1..${k}`);
  const u = new Float64Array(K * rank);
  const v = new Float64Array(rank * N);
  for (let j = 0; j < rank; j++) {
    const w = Math.sqrt(d.s[j]);
    for (let r = 0; r < K; r++) u[r * rank + j] = d.u[r * k + j] * w;
    for (let c = 0; c < N; c++) v[j * N + c] = d.vt[j * N + c] * w;
  }
  return { u, v, rank };
}

/**
 * Lower Cholesky factor L of H + λI (H = LLᵀ), λ = damp·mean(diag H) (DAMP by default, as the Hessian
 * pruning damps it), raised tenfold until positive definite; `diagonal` H (only its diagonal known)
 * gives L = √(H + λ).
 */
export function choleskyDamped(
  h: Float64Array,
  n: number,
  diagonal = false,
  damp = DAMP,
): Float64Array | undefined {
  const diag = (i: number) => (diagonal ? h[i] : h[i * n + i]);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += diag(i);
  mean /= n;
  if (!Number.isFinite(mean)) return undefined;
  let damping = damp * (mean > 0 ? mean : 1);
  for (let attempt = 0; attempt < 8; attempt++, damping *= 10) {
    const L = new Float64Array(n * n);
    let ok = true;
    for (let j = 0; j < n && ok; j++) {
      let d = (diagonal ? h[j] : h[j * n + j]) + damping;
      for (let k = 0; k < j; k++) d -= L[j * n + k] * L[j * n + k];
      if (!(d > 0)) {
        ok = false;
        break;
      }
      const ljj = Math.sqrt(d);
      L[j * n + j] = ljj;
      if (diagonal) continue;
      for (let i = j + 1; i < n; i++) {
        let x = h[i * n + j];
        for (let k = 0; k < j; k++) x -= L[i * n + k] * L[j * n + k];
        L[i * n + j] = x / ljj;
      }
    }
    if (ok) return L;
  }
  return undefined;
}

/**
 * The damping for an H estimated from `rows` activation rows of `n` inputs: DAMP, or n/rows when
 * larger, i.e. the shrinkage (1 − α)·H + α·mean(diag H)·I with α = n/(n + rows). Well-sampled layers
 * (rows ≫ n) get plain SVD-LLM whitening; as the rows run out (H singular below n rows) the whitening
 * fades towards plain SVD instead of fitting the factors to the calibration rows. Measured on the zoo
 * (held-out random inputs): without it the wake-word heads (32 rows for 1536 inputs) lost to plain
 * SVD; α = n²/(n² + rows²) helped the embedding model and PP-OCRv4 rec a little but cost the direction
 * classifier at 50% (cosine 0.9955 against 0.99998); switching shrinkage on only below n rows (a jump
 * in α at rows = n) skewed the global rank budget (classifier at 50%: 0.968).
 */
export function shrinkage(n: number, rows: number): number {
  return rows > 0 ? Math.max(DAMP, n / rows) : Infinity;
}

/** The whitened weight S·W with S = Lᵀ (SᵀS = LLᵀ = H): [K, N]. */
export function whiten(w: Float64Array, K: number, N: number, L: Float64Array): Float64Array {
  const out = new Float64Array(K * N);
  // (LᵀW)[i, c] = Σ_{k ≥ i} L[k, i]·W[k, c].
  for (let i = 0; i < K; i++) {
    const o = i * N;
    for (let k = i; k < K; k++) {
      const l = L[k * K + i];
      if (l === 0) continue;
      const row = k * N;
      for (let c = 0; c < N; c++) out[o + c] += l * w[row + c];
    }
  }
  return out;
}

/** U = S⁻¹·U_s = L⁻ᵀ·U_s (back substitution on Lᵀ), in place on a copy: [K, r]. */
export function unwhiten(us: Float64Array, K: number, r: number, L: Float64Array): Float64Array {
  const x = Float64Array.from(us);
  for (let i = K - 1; i >= 0; i--) {
    for (let c = 0; c < r; c++) {
      let v = x[i * r + c];
      for (let k = i + 1; k < K; k++) v -= L[k * K + i] * x[k * r + c];
      x[i * r + c] = v / L[i * K + i];
    }
  }
  return x;
}

/** A layer the rank budget sees: its shape and the squared singular values (descending) of what is truncated. */
export interface RankLayer {
  K: number;
  N: number;
  energies: Float64Array;
}

/** The largest rank that still saves parameters and multiply-adds: r·(K+N) < K·N. */
export function maxSavingRank(K: number, N: number): number {
  return Math.ceil((K * N) / (K + N)) - 1;
}

/**
 * One global budget over all layers: keep components in descending order of their normalised
 * energy σᵢ²/Σσ² (each layer's spectrum sums to 1, so a big layer is not favoured for being big),
 * at least one per layer, until the parameters reach (1 − amount) of the layers' dense total.
 * A layer whose rank would pass maxSavingRank stays dense (rank 0 in the result).
 */
export function chooseRanks(layers: readonly RankLayer[], amount: number): number[] {
  const dense = layers.map((l) => l.K * l.N);
  const target = (1 - amount) * dense.reduce((a, b) => a + b, 0);
  const totals = layers.map((l) => l.energies.reduce((a, b) => a + b, 0));
  const ranks = layers.map(() => 1);
  const cost = (i: number, r: number) =>
    r <= maxSavingRank(layers[i].K, layers[i].N) ? r * (layers[i].K + layers[i].N) : dense[i];
  let spent = layers.reduce((n, _, i) => n + cost(i, 1), 0);
  const order: { layer: number; e: number }[] = [];
  layers.forEach((l, i) => {
    for (let j = 1; j < l.energies.length; j++)
      order.push({ layer: i, e: totals[i] > 0 ? l.energies[j] / totals[i] : 0 });
  });
  // Stable: equal energies keep the earlier layer's component first.
  order.sort((a, b) => b.e - a.e);
  for (const { layer } of order) {
    const next = spent - cost(layer, ranks[layer]) + cost(layer, ranks[layer] + 1);
    if (next > target) break;
    spent = next;
    ranks[layer]++;
  }
  return ranks.map((r, i) => (r <= maxSavingRank(layers[i].K, layers[i].N) ? r : 0));
}
