// Cross-checks the numeric compression methods (src/core/compress) against an independent numpy oracle
// (compress_math.py): codes, scales and dequantized values bit for bit where onnxruntime's float32
// arithmetic defines them, numpy's own float16 conversion, stable-sort pruning, numpy Lloyd, heapq Huffman.
// Bundles the methods itself with esbuild, so it needs no prior build.
// Env: MODEL_LENS_PYTHON (default /usr/bin/python3, Debian's numpy).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { watPlugin } from '../../scripts/wat.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ORACLE = join(ROOT, 'test/e2e/compress_math.py');
const PYTHON = process.env.MODEL_LENS_PYTHON ?? '/usr/bin/python3';

/** src/core/random.ts's generator, taken from the bundle runCases builds (all callers run after it). */
let mulberry32;

/** Weight-like values: normal(0, std) with some exact zeros and, optionally, values snapped to a grid (ties). */
function weights(seed, n, std, { zeros = 0.02, grid = 0 } = {}) {
  const rng = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (rng() < zeros) continue;
    const v = std * Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
    out[i] = grid ? Math.round(v / grid) * grid : v;
  }
  return out;
}

/** Runs every method on generated data, saves inputs and outputs to `dir`, and returns the oracle's verdicts. */
async function runCases(dir) {
  const cases = [];
  {
    const bundle = join(dir, 'methods.cjs');
    await esbuild.build({
      stdin: {
        contents:
          "export * from './src/core/compress/methods/index.ts'; export * from './src/core/compress/metrics.ts'; export { mulberry32 } from './src/core/random.ts';",
        resolveDir: ROOT,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: bundle,
      logLevel: 'warning',
      plugins: [watPlugin],
    });
    const m = createRequire(import.meta.url)(bundle);
    ({ mulberry32 } = m);

    let files = 0;
    const save = (array, shape) => {
      const file = `a${files++}.bin`;
      writeFileSync(
        join(dir, file),
        new Uint8Array(array.buffer, array.byteOffset, array.byteLength),
      );
      const dtype = {
        Float64Array: '<f8',
        Float32Array: '<f4',
        Int8Array: 'i1',
        Uint8Array: 'u1',
        Int16Array: '<i2',
        Uint16Array: '<u2',
      }[array.constructor.name];
      return shape ? { file, dtype, shape } : { file, dtype };
    };

    const linearCase = (name, w, dims, outputAxis, opts) => {
      const layout = { dims, outputAxis, inputAxis: 1 - outputAxis };
      const r = m.quantizeLinear(w, layout, opts);
      cases.push({
        name,
        kind: 'linear',
        params: { axis: r.axis, symmetric: r.signed, bits: r.bits },
        w: save(w, dims),
        scale: save(r.scale),
        q: save(r.q),
        ...(r.zeroPoint ? { zeroPoint: save(r.zeroPoint) } : {}),
        y: save(m.dequantizeLinear(r, layout)),
      });
      return { r, layout };
    };
    const w = weights(1, 300 * 64, 0.05);
    linearCase('int8 symmetric per channel, MatMul [in, out]', w, [300, 64], 1, {});
    const { r: int8 } = linearCase('int8 symmetric per channel, [out, in]', w, [64, 300], 0, {});
    linearCase('int8 symmetric per tensor', w, [64, 300], 0, { perChannel: false });
    linearCase('uint8 asymmetric per tensor', w, [64, 300], 0, {
      symmetric: false,
      perChannel: false,
    });
    // Halves of integers up to 127 with a 127 present: scale 1, so half the codes are exact ties.
    const tieRng = mulberry32(11);
    const ties = Float32Array.from({ length: 4096 }, (_, i) =>
      i === 0 ? 127 : (Math.floor(tieRng() * 509) - 254) / 2,
    );
    linearCase('int8 per tensor on exact ties', ties, [64, 64], 0, { perChannel: false });
    const shifted = w.map((x, i) => x + (i % 64) * 0.01);
    linearCase('uint8 asymmetric per channel, MatMul [in, out]', shifted, [300, 64], 1, {
      symmetric: false,
    });

    for (const [dims, inputAxis, blockSize, halfScales] of [
      [[300, 64], 0, 32, false],
      [[64, 300], 1, 16, false],
      [[300, 64], 0, 32, true],
    ]) {
      const r = m.quantizeBlockwise(
        w,
        { dims, outputAxis: 1 - inputAxis, inputAxis },
        { blockSize, halfScales },
      );
      if (halfScales) assert.ok(r.scaleHalf, 'float16 scales');
      cases.push({
        name: `int4 blocks of ${blockSize} along axis ${inputAxis}${halfScales ? ', float16 scales' : ''}`,
        kind: 'blockwise',
        params: { axis: inputAxis, blockSize, bits: 4, halfScales },
        w: save(w, dims),
        scale: save(r.scale),
        q: save(r.q),
      });
    }

    const rng = mulberry32(2);
    const patterns = new Uint32Array(100_000).map(
      () =>
        (Math.floor(rng() * 2) << 31) |
        ((90 + Math.floor(rng() * 60)) << 23) |
        Math.floor(rng() * 0x800000),
    );
    // Midpoints between neighbouring float16 values, normal and subnormal: every one is a tie.
    const midpoints = Float32Array.from({ length: 20_000 }, () => {
      const e = Math.floor(rng() * 40) - 24;
      return (rng() < 0.5 ? -1 : 1) * 2 ** e * (1 + (2 * Math.floor(rng() * 1024) + 1) / 2048);
    });
    const half = Float32Array.from([
      ...weights(3, 50_000, 1000, { zeros: 0.05 }),
      ...new Float32Array(patterns.buffer),
      ...midpoints,
    ]);
    const h = m.toFloat16(half);
    cases.push({
      name: 'float16 bits, clipping and underflow counts',
      kind: 'fp16',
      w: save(half),
      bits: save(h.bits),
      clipped: h.clipped,
      flushedToZero: h.flushedToZero,
    });

    // Multiples of 2^-8 below 1 at 8 bits: f = 7, so odd multiples are exact ties.
    const fixedTies = Float32Array.from(
      { length: 4096 },
      () => (Math.floor(tieRng() * 511) - 255) / 256,
    );
    const ft = m.quantizeFixed(fixedTies, { bits: 8 });
    cases.push({
      name: 'fixed point on exact ties',
      kind: 'fixed',
      params: { bits: 8 },
      w: save(fixedTies),
      q: save(ft.q),
      fractionBits: ft.fractionBits,
    });
    for (const [bits, std] of [
      [8, 0.05],
      [12, 30],
      [4, 1e-3],
    ]) {
      const x = weights(4 + bits, 20_000, std);
      const r = m.quantizeFixed(x, { bits });
      cases.push({
        name: `fixed point ${bits} bits`,
        kind: 'fixed',
        params: { bits },
        w: save(x),
        q: save(r.q),
        fractionBits: r.fractionBits,
      });
    }

    for (const threshold of [0.7, 0]) {
      const r = m.quantizeTernary(
        w,
        { dims: [300, 64], outputAxis: 1, inputAxis: 0 },
        { threshold },
      );
      cases.push({
        name: `ternary threshold ${threshold}`,
        kind: 'ternary',
        params: { axis: 1, threshold },
        w: save(w, [300, 64]),
        q: save(r.q),
        scale: save(r.scale),
      });
    }

    const tied = weights(5, 40_000, 0.1, { zeros: 0.1, grid: 0.01 });
    for (const sparsity of [0.3, 0.5, 0.9]) {
      cases.push({
        name: `magnitude prune ${sparsity} with ties`,
        kind: 'prune_magnitude',
        params: { sparsity },
        tensors: [save(tied)],
        masks: [save(m.pruneMagnitude(tied, sparsity))],
      });
    }
    const group = [
      weights(6, 5000, 0.01),
      weights(7, 20_000, 0.2, { grid: 0.001 }),
      weights(8, 999, 1),
    ];
    cases.push({
      name: 'global magnitude prune 0.7 over three tensors',
      kind: 'prune_magnitude',
      params: { sparsity: 0.7 },
      tensors: group.map((t) => save(t)),
      masks: m.pruneGlobalMagnitude(group, 0.7).map((x) => save(x)),
    });
    for (const [dims, inputAxis, n, mm] of [
      [[64, 302], 1, 2, 4],
      [[300, 64], 0, 2, 8],
    ]) {
      const x = weights(9, dims[0] * dims[1], 1, { grid: 0.05 });
      const mask = m.pruneNM(x, { dims, outputAxis: 1 - inputAxis, inputAxis }, { n, m: mm });
      cases.push({
        name: `${n}:${mm} along axis ${inputAxis}`,
        kind: 'prune_nm',
        params: { n, m: mm, axis: inputAxis },
        w: save(x, dims),
        mask: save(mask),
      });
    }

    for (const [K, zeros, n] of [
      [16, 0, 30_000],
      [32, 0.4, 30_000],
      [64, 0.1, 100_000],
    ]) {
      const x = weights(10 + K, n, 0.05, { zeros });
      const r = m.kmeans1d(x, { clusters: K });
      cases.push({
        name: `k-means K=${K}, zeros ${zeros}, ${n} values`,
        kind: 'kmeans',
        params: { clusters: K },
        w: save(x),
        centroids: save(r.centroids),
        indices: save(r.indices),
        iterations: r.iterations,
      });
    }

    const y = m.dequantizeLinear(int8, { dims: [64, 300], outputAxis: 0, inputAxis: 1 });
    cases.push({
      name: 'error metrics of int8',
      kind: 'metrics',
      w: save(w),
      y: save(y),
      metrics: m.errorMetrics(w, y),
    });
    for (const [symbols, alphabet, offset] of [
      [int8.q, 256, 128],
      [m.quantizeTernary(w, { dims: [64, 300], outputAxis: 0, inputAxis: 1 }).q, 3, 1],
      [h.bits, 65536, 0],
    ]) {
      const e = m.entropyEstimate(symbols, alphabet);
      cases.push({
        name: `entropy of ${alphabet}-symbol codes`,
        kind: 'entropy',
        symbols: save(symbols),
        alphabet,
        offset,
        ...e,
      });
    }

    // Low-rank: the thin SVD (Jacobi on the smaller Gram) and its truncation, plain and whitened by XᵀX.
    const matrix = (seed, rows, cols, rank = 0) => {
      const g = (n) => Float64Array.from(weights(seed + n, n, 1, { zeros: 0 }));
      if (!rank) return g(rows * cols);
      // rows×rank · rank×cols: exactly rank-deficient, with a decaying spectrum.
      const a = g(rows * rank);
      const b = g(rank * cols);
      const out = new Float64Array(rows * cols);
      for (let i = 0; i < rows; i++)
        for (let k = 0; k < rank; k++)
          for (let j = 0; j < cols; j++)
            out[i * cols + j] += (a[i * rank + k] * b[k * cols + j]) / (k + 1);
      return out;
    };
    for (const [rows, cols, deficient, r] of [
      [64, 16, 0, 5],
      [16, 64, 0, 7],
      [200, 48, 0, 12],
      [96, 96, 0, 30],
      [50, 40, 6, 6],
      [1536, 32, 0, 9],
    ]) {
      const a = matrix(rows * 7 + cols, rows, cols, deficient);
      const d = m.svd(a, rows, cols);
      const f = m.truncate(d, r);
      cases.push({
        name: `svd ${rows}x${cols}${deficient ? ` of rank ${deficient}` : ''}, truncated to ${r}`,
        kind: 'svd',
        a: save(a, [rows, cols]),
        s: save(d.s),
        u: save(d.u, [rows, d.k]),
        vt: save(d.vt, [d.k, cols]),
        fu: save(f.u, [rows, r]),
        fv: save(f.v, [r, cols]),
        rank: r,
      });
    }
    {
      const [K, N, r, rows] = [48, 20, 6, 300];
      // Correlated inputs: X = Z·B with a few strong directions, so whitening changes the answer.
      const z = matrix(5, rows, K);
      const mix = matrix(6, K, K);
      const x = new Float64Array(rows * K);
      for (let i = 0; i < rows; i++)
        for (let k = 0; k < K; k++)
          for (let j = 0; j < K; j++)
            x[i * K + j] += z[i * K + k] * mix[k * K + j] * (k < 4 ? 3 : 0.1);
      const h = new Float64Array(K * K);
      for (let i = 0; i < rows; i++)
        for (let p = 0; p < K; p++)
          for (let q = 0; q < K; q++) h[p * K + q] += x[i * K + p] * x[i * K + q];
      const w = matrix(7, K, N);
      const L = m.choleskyDamped(h, K);
      const d = m.svd(m.whiten(w, K, N, L), K, N);
      const f = m.truncate(d, r);
      const u = m.unwhiten(f.u, K, r, L);
      cases.push({
        name: `whitened svd ${K}x${N} truncated to ${r}`,
        kind: 'svd_data',
        x: save(x, [rows, K]),
        w: save(w, [K, N]),
        u: save(u, [K, r]),
        v: save(f.v, [r, N]),
        rank: r,
      });
    }

    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(cases));
  }
  const results = JSON.parse(
    execFileSync(PYTHON, [ORACLE, dir], { encoding: 'utf8', maxBuffer: 1 << 26 }),
  );
  return cases.map((c) => ({ name: c.name, errors: results[c.name] }));
}

const dir = mkdtempSync(join(tmpdir(), 'model-lens-compress-math-'));
let verdicts;
try {
  verdicts = await runCases(dir);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

describe('compression math vs numpy', () => {
  it('covers every method', () => assert.ok(verdicts.length >= 20, `${verdicts.length} cases`));
  for (const { name, errors } of verdicts) {
    it(name, () => assert.deepEqual(errors, []));
  }
});
