import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareReconstruction, entropyEstimate } from '../../src/core/compress/metrics';
import {
  dequantizeLinear,
  dequantizeLinearRuns,
  quantizeLinear,
  quantizeSymmetricMeasured,
} from '../../src/core/compress/methods/linear';
import type { WeightLayout } from '../../src/core/compress/types';
import { compressTensor } from '../../src/core/formats/onnx/compress';
import type { TensorJob } from '../../src/core/compress/report';
import { normaliseSpec } from '../../src/core/compress/spec';
import { MemorySource } from '../../src/core/io/source';
import type { TensorRef } from '../../src/core/model';
import { FloatScratch } from '../../src/core/scratch';
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
  const gauss = (n: number, scale: number, shift = 0) =>
    Float32Array.from({ length: n }, () => shift + scale * (rng() + rng() + rng() - 1.5));
  const onEdges = Float32Array.from({ length: 5003 }, (_, i) => -1 + (2 * (i % 257)) / 256);
  const special = gauss(4099, 0.05);
  special[3] = NaN;
  special[100] = Infinity;
  special[2000] = -Infinity;
  special[7] = -0;
  const zeros = gauss(70001, 1);
  for (let i = 0; i < zeros.length; i += 3) zeros[i] = 0;
  zeros[5] = -0;
  const tiny = Float32Array.from({ length: 4097 }, (_, i) =>
    i % 5 === 0 ? 1e-8 * (i % 7) : (i % 2 ? 1 : -1) * 3e-39,
  );
  return [
    { name: 'gaussian, several stages', v: gauss(3 * 65536 + 5, 0.02) },
    { name: 'offset far from zero (second pass)', v: gauss(20000, 1e-3, 1000) },
    { name: 'values on numpy bin edges', v: onEdges },
    { name: 'NaN, ±Inf, -0', v: special },
    { name: 'a third zeros', v: zeros },
    { name: 'denormals and near-zero values', v: tiny },
    { name: 'all equal', v: new Float32Array(2048).fill(0.75) },
    {
      name: 'huge magnitudes',
      v: Float32Array.from({ length: 1030 }, (_, i) => (i % 2 ? 3e38 : -3e38) * (i % 3 ? 1 : 0.5)),
    },
  ];
}

describe('WebAssembly SIMD kernels', () => {
  it('give the same moments as the JavaScript loops, bit for bit', () => {
    for (const { name, v } of cases()) {
      for (const nearZero of [0, 1e-8, 0.01, 1e300]) {
        const run = () => {
          const m = new Moments(nearZero);
          // Uneven chunk lengths: lanes and the tail must continue the way the loop's do.
          for (let at = 0, k = 1021; at < v.length; at += k, k = k * 3 + 7)
            m.add(v.subarray(at, Math.min(v.length, at + k)), Math.min(k, v.length - at));
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
        const lo = Math.min(...finite.slice(0, 50000)),
          hi = Math.max(...finite.slice(0, 50000));
        for (const [first, last] of [
          [lo, hi],
          [lo / 2, hi / 2],
          [-1, 1],
        ]) {
          const { wasm, js } = bothPaths(() => {
            const h = new HistogramBuilder(first, last, bins);
            for (let at = 0; at < v.length; at += 65536)
              h.add(v.subarray(at, Math.min(v.length, at + 65536)), Math.min(65536, v.length - at));
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

  /** Weight tensors in both layouts, with odd channel counts (segments that end mid-group) and special values. */
  function weights(): { name: string; values: Float32Array; layout: WeightLayout }[] {
    const rng = mulberry32(5);
    const make = (dims: number[], outputAxis: number) => {
      const count = dims.reduce((a, b) => a * b, 1);
      const values = Float32Array.from(
        { length: count },
        () => (rng() - 0.5) * (rng() < 0.01 ? 10 : 0.1),
      );
      return { values, layout: { dims, outputAxis, inputAxis: 1 - outputAxis } };
    };
    const out: { name: string; values: Float32Array; layout: WeightLayout }[] = [];
    for (const [dims, axis] of [
      [[300, 257], 1],
      [[257, 300], 0],
      [[64, 4096], 1],
      [[3, 70001], 1],
      [[70001, 3], 0],
      [[1030, 1], 1],
    ] as [number[], number][]) {
      const w = make(dims, axis);
      out.push({ name: `[${dims}] output axis ${axis}`, ...w });
    }
    const odd = make([129, 67], 1);
    odd.values[5] = NaN;
    odd.values[77] = Infinity;
    odd.values[300] = -Infinity;
    odd.values[1000] = -0;
    odd.values[1001] = 3e-39;
    for (let i = 2000; i < 2100; i++) odd.values[i] = 0;
    out.push({ name: 'NaN, ±Inf, zeros, denormals', ...odd });
    return out;
  }

  it('quantize and dequantize exactly as the JavaScript loops', () => {
    for (const { name, values, layout } of weights()) {
      for (const options of [
        { bits: 8 },
        { bits: 4 },
        { bits: 8, perChannel: false },
        { bits: 8, symmetric: false },
        { bits: 3, symmetric: false, perChannel: false },
      ]) {
        const { wasm, js } = bothPaths(() => {
          const q = quantizeLinear(values, layout, options);
          const runs: Float32Array[] = [];
          dequantizeLinearRuns(
            q,
            layout,
          )((from, chunk) => runs.push(Float32Array.of(from, ...chunk)));
          return { q, all: dequantizeLinear(q, layout), runs };
        });
        assert.deepEqual(wasm, js, `${name} ${JSON.stringify(options)}`);
      }
    }
  });

  it('quantize and measure in two fused passes exactly as the separate calls', () => {
    const extremes = Float32Array.from(
      { length: 2051 },
      (_, i) => (i % 3 ? 3.4028234663852886e38 : -3.4e38) * (i % 5 ? 1 : 0.25),
    );
    const all = [
      ...weights(),
      {
        name: 'float32 extremes (dequantized values may overflow)',
        values: extremes,
        layout: { dims: [2051], outputAxis: 0, inputAxis: 0 },
      },
    ];
    for (const { name, values, layout } of all) {
      for (const options of [{ bits: 8 }, { bits: 8, perChannel: false }, { bits: 4 }]) {
        const label = `${name} ${JSON.stringify(options)}`;
        const measured = quantizeSymmetricMeasured(values, layout, options);
        assert.ok(measured, label);
        const q = quantizeLinear(values, layout, { ...options, symmetric: true });
        assert.deepEqual(measured.quantized, q, label);
        // The pieces are the runs compareReconstruction gets, so even the float64 sums agree bit for bit.
        assert.deepEqual(
          measured.comparison,
          compareReconstruction(values, dequantizeLinearRuns(q, layout)),
          label,
        );
        const counts = new Float64Array(256);
        for (const code of q.q) counts[code & 255]++;
        assert.deepEqual(measured.byteCounts, counts, label);
      }
    }
    setWasmKernels(false);
    try {
      assert.equal(
        quantizeSymmetricMeasured(extremes, { dims: [2051], outputAxis: 0, inputAxis: 0 }),
        undefined,
        'no kernels: the caller makes the separate calls',
      );
    } finally {
      setWasmKernels(true);
    }
  });

  it('int8 of a weight read piece by piece from its file gives what the whole array gives, and what the JavaScript loops give', () => {
    for (const { name, values, layout } of weights()) {
      for (const granularity of ['channel', 'tensor'] as const) {
        const bytes = new Uint8Array(values.buffer.slice(0));
        const source = new MemorySource(bytes);
        const tensor: TensorRef = {
          name,
          dtype: 1,
          dims: layout.dims,
          count: values.length,
          bytes: bytes.length,
          origin: 'initializer',
          scope: '',
          storage: { kind: 'range', offset: 0, length: bytes.length },
        };
        const job: TensorJob = {
          candidate: { index: 0, tensor, op: 'MatMul', layer: 'l', layout },
          position: 0,
          storage: 'int8',
          spec: normaliseSpec({ methods: ['int8'], options: { granularity } }),
          opset: 13,
        };
        const label = `${name}, per ${granularity}`;
        const noArray = {
          get: () => assert.fail(`${label}: an array of the whole weight was made`),
        } as unknown as FloatScratch;
        const streamed = compressTensor(source, () => assert.fail(), job, noArray);
        const fromArray = compressTensor(
          source,
          () => assert.fail(),
          job,
          new FloatScratch(),
          {},
          { read: { values, clipped: 0 }, pruned: values },
        );
        assert.deepEqual(streamed, fromArray, label);
        setWasmKernels(false);
        let js: ReturnType<typeof compressTensor>;
        try {
          js = compressTensor(source, () => assert.fail(), job, new FloatScratch());
        } finally {
          setWasmKernels(true);
        }
        assert.deepEqual(streamed.edit, js.edit, label);
        assert.deepEqual(streamed.estimate, js.estimate, label);
        const [a, b] = [streamed.result, js.result];
        // The loops keep one running float64 sum per measure: relative error up to n·2^-53 (2.9e-11 for 2^18 values).
        const tolerance = values.length * 2 ** -53;
        for (const m of ['mse', 'sqnrDb', 'cosine'] as const)
          assert.ok(
            Math.abs(a[m] - b[m]) <= tolerance * Math.abs(b[m]) || Object.is(a[m], b[m]),
            `${label} ${m}: ${a[m]} vs ${b[m]}`,
          );
        assert.deepEqual(
          { ...a, mse: 0, sqnrDb: 0, cosine: 0 },
          { ...b, mse: 0, sqnrDb: 0, cosine: 0 },
          label,
        );
      }
    }
  });

  it('measure the same error, histograms and entropy as the JavaScript loops', () => {
    for (const { name, values, layout } of weights()) {
      const q = quantizeLinear(values, layout, { bits: 4 });
      const reconstructed = dequantizeLinear(q, layout);
      reconstructed[9] = NaN; // NaN against a finite original: max |w-ŵ| becomes NaN in both
      const { wasm, js } = bothPaths(() => ({
        fromArray: compareReconstruction(values, reconstructed),
        fromRuns: compareReconstruction(values, dequantizeLinearRuns(q, layout)),
        entropy: entropyEstimate(q.q, 256),
      }));
      for (const k of ['fromArray', 'fromRuns'] as const) {
        const [a, b] = [wasm[k], js[k]];
        // Sums in four lanes against one running sum: the same to float64 rounding, not bit for bit.
        for (const m of ['mse', 'sqnrDb', 'cosine'] as const)
          assert.ok(
            Math.abs(a[m] - b[m]) <= 1e-12 * Math.abs(b[m]) || Object.is(a[m], b[m]),
            `${name} ${k} ${m}: ${a[m]} vs ${b[m]}`,
          );
        assert.deepEqual(
          { ...a, mse: 0, sqnrDb: 0, cosine: 0 },
          { ...b, mse: 0, sqnrDb: 0, cosine: 0 },
          `${name} ${k}`,
        );
      }
      assert.ok(Number.isNaN(wasm.fromArray.maxAbs));
      assert.deepEqual(wasm.entropy, js.entropy, name);
    }
    // Same non-finite values on both sides count as exact; a symbol outside the alphabet is refused either way.
    const w = new Float32Array(4096).fill(0.5);
    w[3] = Infinity;
    w[6] = NaN;
    const { wasm, js } = bothPaths(() => compareReconstruction(w, w));
    assert.deepEqual(wasm, js);
    assert.equal(wasm.mse, 0);
    const bad = new Int8Array(2048).fill(1);
    bad[100] = 9;
    bothPaths(() =>
      assert.throws(() => entropyEstimate(bad, 16), /symbol 9 outside an alphabet of 16/),
    );
  });
});
