/**
 * Low-rank factorisation: a thin SVD (eigen-decomposition of the smaller Gram matrix by cyclic
 * Jacobi), the truncation W ≈ U·V, and its data-aware variant (SVD-LLM): with H = XᵀX of the
 * layer's inputs and SᵀS = H (Cholesky), factor S·W so the truncation minimises ‖X(W − UV)‖.
 * All in Float64, row-major. W is [K, N] in the X·W convention (K inputs, N outputs).
 */

import { DAMP } from './obs';

/**
 * Eigenvalues (descending) and eigenvectors (the columns of `vectors`, [n, n]) of the symmetric
 * n×n matrix `a` (only read; a copy is rotated). Cyclic Jacobi: exact to rounding, O(n³) per sweep.
 */
export function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(a);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += A[i] * A[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p * n + q] * A[p * n + q];
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (apq === 0) continue;
        const app = A[p * n + p];
        const aqq = A[q * n + q];
        // Already negligible next to both diagonal entries: rotating would only add rounding.
        if (Math.abs(apq) < 1e-18 * Math.sqrt(Math.abs(app * aqq))) {
          A[p * n + q] = A[q * n + p] = 0;
          continue;
        }
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p];
          const akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        const rp = p * n;
        const rq = q * n;
        for (let k = 0; k < n; k++) {
          const apk = A[rp + k];
          const aqk = A[rq + k];
          A[rp + k] = c * apk - s * aqk;
          A[rq + k] = s * apk + c * aqk;
        }
        A[rp + q] = A[rq + p] = 0;
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p];
          const vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = [...Array(n).keys()].sort((i, j) => A[j * n + j] - A[i * n + i] || i - j);
  const values = Float64Array.from(order, (i) => A[i * n + i]);
  const vectors = new Float64Array(n * n);
  for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) vectors[k * n + j] = V[k * n + order[j]];
  return { values, vectors };
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
      for (let j = i; j < m; j++) {
        let d = 0;
        for (let c = 0; c < n; c++) d += a[i * n + c] * a[j * n + c];
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
      for (let c = 0; c < n; c++) {
        let d = 0;
        for (let r = 0; r < m; r++) d += a[r * n + c] * u[r * k + j];
        vt[j * n + c] = d / s[j];
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
 * Lower Cholesky factor L of H + λI (H = LLᵀ), λ = DAMP·mean(diag H) as the Hessian pruning damps
 * it, raised tenfold until positive definite; `diagonal` H (only its diagonal known) gives L = √H.
 */
export function choleskyDamped(h: Float64Array, n: number, diagonal = false): Float64Array | undefined {
  const diag = (i: number) => (diagonal ? h[i] : h[i * n + i]);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += diag(i);
  mean /= n;
  if (!Number.isFinite(mean)) return undefined;
  let damping = DAMP * (mean > 0 ? mean : 1);
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
  const cost = (i: number, r: number) => (r <= maxSavingRank(layers[i].K, layers[i].N) ? r * (layers[i].K + layers[i].N) : dense[i]);
  let spent = layers.reduce((n, _, i) => n + cost(i, 1), 0);
  const order: { layer: number; e: number }[] = [];
  layers.forEach((l, i) => {
    for (let j = 1; j < l.energies.length; j++) order.push({ layer: i, e: totals[i] > 0 ? l.energies[j] / totals[i] : 0 });
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
