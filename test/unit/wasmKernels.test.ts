import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HistogramBuilder, Moments } from '../../src/core/stats/compute';
import { float32AtMost, setWasmKernels, wasmKernels } from '../../src/core/wasm/kernels';
import { mulberry32 } from '../fixtures/onnxBuilder';

/** Runs `f` with the WebAssembly kernels on and then off; returns both results. */
function bothPaths<T>(f: () => T): { wasm: T; js: T } {
  assert.ok(wasmKernels(), 'WebAssembly SIMD kernels load in this Node.js');
  const wasm = f();
  setWasmKernels(false);
  try {
    return { wasm, js: f() };
  } finally {
    setWasmKernels(true);
  }
}

/** Arrays that take every branch: edges, ±0, NaN and ±Inf, values on bin edges, odd lengths, long runs. */
function cases(): { name: string; v: Float32Array }[] {
  const rng = mulberry32(21);
  const gauss = (n: number, scale: number, shift = 0) => Float32Array.from({ length: n }, () => shift + scale * (rng() + rng() + rng() - 1.5));
  const onEdges = Float32Array.from({ length: 5003 }, (_, i) => -1 + (2 * (i % 257)) / 256);
  const special = gauss(4099, 0.05);
  special[3] = NaN;
  special[100] = Infinity;
  special[2000] = -Infinity;
  special[7] = -0;
  const zeros = gauss(70001, 1);
  for (let i = 0; i < zeros.length; i += 3) zeros[i] = 0;
  zeros[5] = -0;
  const tiny = Float32Array.from({ length: 4097 }, (_, i) => (i % 5 === 0 ? 1e-8 * (i % 7) : (i % 2 ? 1 : -1) * 3e-39));
  return [
    { name: 'gaussian, several stages', v: gauss(3 * 65536 + 5, 0.02) },
    { name: 'offset far from zero (second pass)', v: gauss(20000, 1e-3, 1000) },
    { name: 'values on numpy bin edges', v: onEdges },
    { name: 'NaN, ±Inf, -0', v: special },
    { name: 'a third zeros', v: zeros },
    { name: 'denormals and near-zero values', v: tiny },
    { name: 'all equal', v: new Float32Array(2048).fill(0.75) },
    { name: 'huge magnitudes', v: Float32Array.from({ length: 1030 }, (_, i) => (i % 2 ? 3e38 : -3e38) * (i % 3 ? 1 : 0.5)) },
  ];
}

describe('WebAssembly SIMD kernels', () => {
  it('give the same moments as the JavaScript loops, bit for bit', () => {
    for (const { name, v } of cases()) {
      for (const nearZero of [0, 1e-8, 0.01, 1e300]) {
        const run = () => {
          const m = new Moments(nearZero);
          // Uneven chunk lengths: lanes and the tail must continue the way the loop's do.
          for (let at = 0, k = 1021; at < v.length; at += k, k = k * 3 + 7) m.add(v.subarray(at, Math.min(v.length, at + k)), Math.min(k, v.length - at));
          return { ...m };
        };
        const { wasm, js } = bothPaths(run);
        assert.deepEqual(wasm, js, `${name}, nearZero ${nearZero}`);
      }
    }
  });

  it('give the same histogram counts as the JavaScript loops', () => {
    for (const { name, v } of cases()) {
      for (const bins of [1, 7, 256, 4096]) {
        const finite = v.filter((x) => Number.isFinite(x));
        const lo = Math.min(...finite.slice(0, 50000)), hi = Math.max(...finite.slice(0, 50000));
        for (const [first, last] of [[lo, hi], [lo / 2, hi / 2], [-1, 1]]) {
          const { wasm, js } = bothPaths(() => {
            const h = new HistogramBuilder(first, last, bins);
            for (let at = 0; at < v.length; at += 65536) h.add(v.subarray(at, Math.min(v.length, at + 65536)), Math.min(65536, v.length - at));
            return h.histogram();
          });
          assert.deepEqual(wasm, js, `${name}, ${bins} bins over [${first}, ${last}]`);
        }
      }
    }
  });

  it('count zeros by the float32 just under a float64 threshold', () => {
    assert.equal(float32AtMost(0), 0);
    assert.equal(float32AtMost(0.5), 0.5);
    const t = 0.1; // not a float32: fround rounds it up
    const f = float32AtMost(t);
    assert.ok(f <= t && Math.fround(f) === f);
    const next = new Float32Array([f]);
    new Uint32Array(next.buffer)[0]++;
    assert.ok(next[0] > t, 'no float32 lies between');
    assert.equal(float32AtMost(1e300), 3.4028234663852886e38);
    assert.equal(float32AtMost(Infinity), Infinity);
  });
});
