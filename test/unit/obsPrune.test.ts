/**
 * Second-order pruning math: Gram accumulation, the factor of H⁻¹, OBS saliency and SparseGPT
 * compensation against direct computations; im2col against onnxruntime-node running the same
 * Conv with one-hot weights (each output channel then is one im2col column).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyMask, pruneCount, pruneMagnitude } from '../../src/core/compress/methods';
import {
  accumulateConv,
  accumulateRows,
  convGeometry,
  factorHessian,
  Gram,
  obsPrune,
  outputErrors,
  sampleRows,
  weightRows,
  type RowSampling,
} from '../../src/core/compress/methods/obs';
import type { WeightLayout } from '../../src/core/compress/types';
import { readGraphNodes } from '../../src/core/formats/onnx/nodes';
import { MemorySource } from '../../src/core/io/source';
import { Rng } from '../../src/core/verify/random';
import { CONV_CASES, convModel, correlatedMlp } from '../fixtures/hessian';
import { mulberry32, weights } from '../fixtures/onnxBuilder';
import { loadOrt } from './compressZoo.test';

/** Rows of `latent`-dimensional noise spread over n features by a fixed mixing matrix, plus a little independent noise. */
function correlatedRows(rows: number, n: number, latent: number, seed: number): Float64Array {
  const rng = mulberry32(seed);
  const mix = weights(rng, latent * n, 1, 0);
  const z = weights(rng, rows * latent, 1, 0);
  const noise = weights(rng, rows * n, 0.05, 0);
  const x = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < n; j++) {
      let s = noise[r * n + j];
      for (let k = 0; k < latent; k++) s += z[r * latent + k] * mix[k * n + j];
      x[r * n + j] = s;
    }
  return x;
}

function gramOf(x: Float64Array, n: number): Gram {
  const g = new Gram(n);
  accumulateRows(g, x, [x.length / n, n], 1);
  return g;
}

/** ‖X(W − W')‖_F / ‖XW‖_F computed directly, W of layout [n, out] (MatMul X·W). */
function directError(
  x: Float64Array,
  n: number,
  w: Float32Array,
  pruned: Float32Array,
  out: number,
): number {
  let noise = 0;
  let signal = 0;
  for (let r = 0; r < x.length / n; r++) {
    for (let o = 0; o < out; o++) {
      let y = 0;
      let d = 0;
      for (let i = 0; i < n; i++) {
        y += x[r * n + i] * w[i * out + o];
        d += x[r * n + i] * (w[i * out + o] - pruned[i * out + o]);
      }
      signal += y * y;
      noise += d * d;
    }
  }
  return Math.sqrt(noise / signal);
}

describe('Gram and factor', () => {
  it('accumulates XᵀX from rows along any feature axis', () => {
    const x = correlatedRows(5, 4, 2, 1);
    const g = gramOf(x, 4);
    const h = g.matrix();
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++) {
        let s = 0;
        for (let r = 0; r < 5; r++) s += x[r * 4 + i] * x[r * 4 + j];
        assert.ok(
          Math.abs(h[i * 4 + j] - s) < 1e-12,
          `H[${i},${j}] = ${h[i * 4 + j]}, expected ${s}`,
        );
      }
    // The same rows as the columns of W·X (feature axis second to last) give the same H.
    const t = new Float64Array(20);
    for (let r = 0; r < 5; r++) for (let i = 0; i < 4; i++) t[i * 5 + r] = x[r * 4 + i];
    const g2 = new Gram(4);
    accumulateRows(g2, t, [4, 5], 0);
    assert.deepEqual(Array.from(g2.matrix()), Array.from(h));
    assert.equal(g2.rows, 5);
  });

  it('U is the upper Cholesky factor of the damped H⁻¹', () => {
    const n = 7;
    const g = gramOf(correlatedRows(4, n, 3, 2), n);
    const f = factorHessian(g)!;
    const h = g.matrix();
    const u = f.u!;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < i; j++) assert.equal(u[i * n + j], 0, 'U is upper triangular');
    // (H + λI)·UᵀU = I
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) {
          let inv = 0;
          for (let m = 0; m < n; m++) inv += u[m * n + k] * u[m * n + j];
          s += (h[i * n + k] + (i === k ? f.damping : 0)) * inv;
        }
        assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-8, `(H+λI)H⁻¹ [${i},${j}] = ${s}`);
      }
    }
    let mean = 0;
    for (let i = 0; i < n; i++) mean += h[i * n + i] / n;
    assert.ok(Math.abs(f.damping - 0.01 * mean) < 1e-12 * mean, 'λ = 0.01·mean(diag H)');
  });

  it('dead inputs are uncoupled and their weights pruned first', () => {
    const n = 6;
    const x = correlatedRows(20, n, 3, 3);
    for (let r = 0; r < 20; r++) x[r * n + 2] = 0;
    const f = factorHessian(gramOf(x, n))!;
    assert.equal(f.dead, 1);
    assert.equal(f.diagonal[2], 0);
    for (let j = 3; j < n; j++) assert.equal(Math.abs(f.u![2 * n + j]), 0);
    // The largest weight sits on the dead input: it goes first, and moves no other weight.
    const w = Float32Array.from([0.1, 0.2, 9, 0.3, 0.4, 0.5]);
    for (const compensate of [false, true]) {
      const pruned = obsPrune(
        w,
        weightRows({ dims: [1, n], outputAxis: 0, inputAxis: 1 }),
        [f],
        1 / 6,
        compensate,
      );
      assert.deepEqual(
        Array.from(pruned),
        [0.1, 0.2, 0, 0.3, 0.4, 0.5].map(Math.fround),
        `compensate ${compensate}`,
      );
    }
  });

  it('refuses non-finite activations', () => {
    const g = new Gram(2);
    g.addRow([Infinity, 1]);
    assert.equal(factorHessian(g), undefined);
  });
});

describe('OBS pruning', () => {
  const n = 24;
  const out = 10;
  const layouts: WeightLayout[] = [
    { dims: [n, out], outputAxis: 1, inputAxis: 0 },
    { dims: [out, n], outputAxis: 0, inputAxis: 1 },
  ];

  it('with H = I picks exactly the magnitude mask, compensated or not (one block of columns)', () => {
    const g = new Gram(n);
    const e = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      e.fill(0);
      e[i] = 1;
      g.addRow(e);
    }
    const f = factorHessian(g)!;
    const w = weights(mulberry32(4), n * out, 1, 0.05);
    for (const layout of layouts) {
      for (const s of [0.3, 0.5, 0.9]) {
        const expected = applyMask(w, pruneMagnitude(w, s));
        for (const compensate of [false, true]) {
          assert.deepEqual(
            Array.from(obsPrune(w, weightRows(layout), [f], s, compensate)),
            Array.from(expected),
            `layout ${layout.dims}, sparsity ${s}, compensate ${compensate}`,
          );
        }
      }
    }
  });

  it('prunes exactly round(s·count) weights; the Hessian mask beats magnitude in ‖XΔW‖ and compensation beats both', () => {
    const x = correlatedRows(200, n, 5, 5);
    const g = gramOf(x, n);
    const f = factorHessian(g)!;
    const w = weights(mulberry32(6), n * out, 1, 0);
    const view = weightRows(layouts[0]);
    for (const s of [0.5, 0.7]) {
      const masked = obsPrune(w, view, [f], s, false);
      const compensated = obsPrune(w, view, [f], s, true);
      const magnitude = applyMask(w, pruneMagnitude(w, s));
      for (const p of [masked, compensated])
        assert.equal(p.filter((v) => v === 0).length, pruneCount(w.length, s));
      const [em, ec, eg] = outputErrors(w, [masked, compensated, magnitude], view, [g]).errors;
      // outputErrors from H agrees with ‖XΔW‖/‖XW‖ computed from X.
      for (const [e, p] of [
        [em, masked],
        [ec, compensated],
        [eg, magnitude],
      ] as const) {
        const d = directError(x, n, w, p, out);
        assert.ok(Math.abs(e - d) < 1e-9 * d, `from H ${e}, from X ${d}`);
      }
      assert.ok(
        ec < em && em < eg,
        `sparsity ${s}: compensated ${ec}, w²Hᵢᵢ mask ${em}, magnitude ${eg}`,
      );
    }
  });

  it('shares the count exactly over several blocks of columns', () => {
    const wide = 300;
    const x = correlatedRows(400, wide, 20, 8);
    const g = gramOf(x, wide);
    const w = weights(mulberry32(9), wide * 3, 1, 0);
    const view = weightRows({ dims: [3, wide], outputAxis: 0, inputAxis: 1 });
    const p = obsPrune(w, view, [factorHessian(g)!], 0.6, true);
    assert.equal(p.filter((v) => v === 0).length, pruneCount(w.length, 0.6));
    const [ec, eg] = outputErrors(w, [p, applyMask(w, pruneMagnitude(w, 0.6))], view, [g]).errors;
    assert.ok(ec < eg / 2, `compensated ${ec}, magnitude ${eg}`);
  });

  it('keeps NaN weights and counts exact zeros first', () => {
    const g = gramOf(correlatedRows(50, 4, 2, 7), 4);
    const w = Float32Array.from([NaN, 0, 3, 0.5, 0, 2, 1, 4]);
    const p = obsPrune(
      w,
      weightRows({ dims: [2, 4], outputAxis: 0, inputAxis: 1 }),
      [factorHessian(g)!],
      0.25,
      true,
    );
    assert.ok(Number.isNaN(p[0]));
    assert.equal(p[1], 0);
    assert.equal(p[4], 0);
    assert.equal(p.filter((v) => v === 0).length, 2);
  });

  it('uses each Conv group its own Hessian', () => {
    // Group 0 sees only input 0, group 1 only input 1: each prunes the weight on its dead input.
    const g0 = new Gram(2);
    const g1 = new Gram(2);
    g0.addRow([1, 0]);
    g1.addRow([0, 1]);
    const w = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const p = obsPrune(
      w,
      weightRows({ dims: [4, 2, 1, 1], outputAxis: 0, inputAxis: 1 }, 2),
      [factorHessian(g0)!, factorHessian(g1)!],
      0.5,
      false,
    );
    assert.deepEqual(Array.from(p), [1, 0, 3, 0, 0, 6, 0, 8]);
  });
});

describe('im2col', () => {
  const ort = loadOrt();

  for (const c of CONV_CASES) {
    it(`matches onnxruntime's Conv (${c.name})`, async () => {
      const groups = c.attrs.group ?? 1;
      const cg = c.weight[1];
      const k = c.weight.slice(2).reduce((a, b) => a * b, 1);
      const n = cg * k;
      // One-hot weights: output channel g·n + j is column j of group g's im2col matrix.
      const dims = [groups * n, cg, ...c.weight.slice(2)];
      const onehot = new Float32Array(groups * n * n);
      for (let g = 0; g < groups; g++) for (let j = 0; j < n; j++) onehot[(g * n + j) * n + j] = 1;
      const { bytes } = convModel({ ...c, weight: dims }, onehot);
      const x = weights(
        mulberry32(9),
        c.input.reduce((a, b) => a * b, 1),
        1,
        0.1,
      );
      const session = await ort.InferenceSession.create(bytes);
      const y = (await session.run({ x: new ort.Tensor('float32', x, c.input) })).y;
      await session.release();
      const geo = convGeometry(c.attrs, c.input, c.weight);
      assert.deepEqual(geo.out, y.dims.slice(2), 'output size');
      const grams = Array.from({ length: groups }, () => new Gram(n));
      accumulateConv(grams, x, c.input, geo);
      const yd = y.data as Float32Array;
      const positions = geo.out.reduce((a, b) => a * b, 1);
      for (let g = 0; g < groups; g++) {
        const h = grams[g].matrix();
        assert.equal(grams[g].rows, c.input[0] * positions);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let b = 0; b < c.input[0]; b++)
              for (let p = 0; p < positions; p++)
                s +=
                  yd[(b * groups * n + g * n + i) * positions + p] *
                  yd[(b * groups * n + g * n + j) * positions + p];
            assert.ok(
              Math.abs(h[i * n + j] - s) <= 1e-4 * (1 + Math.abs(s)),
              `group ${g} H[${i},${j}] = ${h[i * n + j]}, onnxruntime's columns give ${s}`,
            );
          }
      }
    });
  }

  it('refuses inconsistent geometry', () => {
    assert.throws(() => convGeometry({ group: 2 }, [1, 3, 5, 5], [4, 3, 3, 3]), /inconsistent/);
    assert.throws(
      () => convGeometry({ kernel_shape: [2, 2] }, [1, 3, 5, 5], [4, 3, 3, 3]),
      /kernel_shape/,
    );
  });
});

describe('main-graph nodes', () => {
  it('reads the MatMul/Gemm/Conv nodes with their inputs and attributes', () => {
    const mlp = readGraphNodes(new MemorySource(correlatedMlp()), new Set(['MatMul', 'Gemm']));
    assert.deepEqual(
      mlp.map((x) => [x.op, x.name, x.inputs.join(',')]),
      [
        ['MatMul', 'mix', 'input,mix.weight'],
        ['MatMul', 'fc1', 'mixed,fc1.weight'],
        ['Gemm', 'fc2', 'h1,fc2.weight,fc2.bias'],
        ['MatMul', 'fc3', 'h2,fc3.weight'],
      ],
    );
    const conv = CONV_CASES.find((c) => c.name === 'padded strided')!;
    const [node] = readGraphNodes(new MemorySource(convModel(conv).bytes), new Set(['Conv']));
    assert.deepEqual(node.lists, { strides: [2, 3], pads: [1, 0, 2, 1] });
    const same = readGraphNodes(
      new MemorySource(convModel(CONV_CASES.find((c) => c.name === 'grouped')!).bytes),
      new Set(['Conv']),
    )[0];
    assert.deepEqual([same.ints, same.lists], [{ group: 2 }, { pads: [1, 1, 1, 1] }]);
    assert.deepEqual(
      readGraphNodes(new MemorySource(convModel(CONV_CASES[3]).bytes), new Set(['Conv']))[0]
        .strings,
      { auto_pad: 'SAME_UPPER' },
    );
  });
});

/**
 * An image-like activation [batch, c, size, size]: per channel a mix of a few smooth spatial waves shared
 * by all channels plus a little noise, through ReLU (sparse, correlated in space and across channels).
 */
function featureMap(batch: number, c: number, size: number, seed: number): Float32Array {
  const rng = mulberry32(seed);
  const waves = 6;
  const x = new Float32Array(batch * c * size * size);
  for (let b = 0; b < batch; b++) {
    const freq = Array.from({ length: waves }, () => [rng() * 0.5, rng() * 0.5, rng() * 6.3]);
    const mix = weights(rng, c * waves, 1, 0);
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < size; y++)
        for (let xx = 0; xx < size; xx++) {
          let v = 0.1 * (rng() - 0.5);
          for (let k = 0; k < waves; k++)
            v += mix[ch * waves + k] * Math.sin(freq[k][0] * y + freq[k][1] * xx + freq[k][2]);
          x[((b * c + ch) * size + y) * size + xx] = Math.max(0, v);
        }
  }
  return x;
}

/** Each output row rounded to 16 levels of max|w|/7 (a plain symmetric int4 grid), the error the proxy exists to weigh. */
function int4Rows(w: Float32Array, rows: number): Float32Array {
  const n = w.length / rows;
  const out = new Float32Array(w.length);
  for (let o = 0; o < rows; o++) {
    let max = 0;
    for (let i = 0; i < n; i++) max = Math.max(max, Math.abs(w[o * n + i]));
    const scale = max / 7 || 1;
    for (let i = 0; i < n; i++)
      out[o * n + i] = Math.max(-8, Math.min(7, Math.round(w[o * n + i] / scale))) * scale;
  }
  return out;
}

describe('row sampling', () => {
  const sampling = (budget: number, seed: number, stream = 0): RowSampling => ({
    budget,
    rng: new Rng(seed, stream),
  });

  it('draws `budget` distinct rows, ascending, the same ones for the same seed', () => {
    const a = sampleRows(1000, sampling(100, 5));
    assert.equal(a.rows!.length, 100);
    assert.equal(a.weight, 10);
    for (let i = 1; i < 100; i++)
      assert.ok(a.rows![i] > a.rows![i - 1], 'strictly ascending, so distinct');
    assert.ok(a.rows![0] >= 0 && a.rows![99] < 1000);
    assert.deepEqual(Array.from(sampleRows(1000, sampling(100, 5)).rows!), Array.from(a.rows!));
    assert.notDeepEqual(Array.from(sampleRows(1000, sampling(100, 6)).rows!), Array.from(a.rows!));
    assert.notDeepEqual(
      Array.from(sampleRows(1000, sampling(100, 5, 1)).rows!),
      Array.from(a.rows!),
    );
    assert.deepEqual(sampleRows(100, sampling(100, 5)), { rows: undefined, weight: 1 });
    assert.throws(() => sampleRows(10, sampling(0, 5)), /budget/);
  });

  it('draws every row equally often', () => {
    // 4000 draws of 5 rows in 20: each row's count is Binomial(4000, 1/4), σ ≈ 27.
    const counts = new Array<number>(20).fill(0);
    const rng = new Rng(3);
    for (let t = 0; t < 4000; t++)
      for (const r of sampleRows(20, { budget: 5, rng }).rows!) counts[r]++;
    for (const c of counts)
      assert.ok(Math.abs(c - 1000) < 5 * 27, `row drawn ${c} times, expected 1000`);
  });

  it('equals the full accumulation when the budget covers every row', () => {
    for (const c of CONV_CASES) {
      const x = weights(
        mulberry32(4),
        c.input.reduce((a, b) => a * b, 1),
        1,
        0.1,
      );
      const geo = convGeometry(c.attrs, c.input, c.weight);
      const rows = c.input[0] * geo.out.reduce((a, b) => a * b, 1);
      const n = c.weight.slice(1).reduce((a, b) => a * b, 1);
      const full = Array.from({ length: geo.group }, () => new Gram(n));
      const covered = Array.from({ length: geo.group }, () => new Gram(n));
      accumulateConv(full, x, c.input, geo);
      accumulateConv(covered, x, c.input, geo, sampling(rows, 1));
      for (let g = 0; g < geo.group; g++)
        assert.deepEqual(
          Array.from(covered[g].matrix()),
          Array.from(full[g].matrix()),
          `${c.name} group ${g}`,
        );
    }
    const t = Float64Array.from(correlatedRows(5, 4, 2, 1));
    const full = new Gram(4);
    const covered = new Gram(4);
    accumulateRows(full, t, [4, 5], 0);
    accumulateRows(covered, t, [4, 5], 0, sampling(5, 1));
    assert.deepEqual(Array.from(covered.matrix()), Array.from(full.matrix()));
  });

  it('is an unbiased estimate of XᵀX, on rows and through im2col', () => {
    const x = correlatedRows(60, 5, 2, 8);
    const full = gramOf(x, 5).matrix();
    const mean = new Float64Array(25);
    const rng = new Rng(2);
    const draws = 3000;
    for (let t = 0; t < draws; t++) {
      const g = new Gram(5);
      accumulateRows(g, x, [60, 5], 1, { budget: 6, rng });
      const h = g.matrix();
      for (let i = 0; i < 25; i++) mean[i] += h[i] / draws;
    }
    let scale = 0;
    for (let i = 0; i < 5; i++) scale += full[i * 5 + i] / 5;
    for (let i = 0; i < 25; i++)
      assert.ok(
        Math.abs(mean[i] - full[i]) < 0.03 * scale,
        `mean H[${i}] = ${mean[i]}, full ${full[i]}`,
      );
    const c = CONV_CASES.find((k) => k.name === 'grouped')!;
    const xc = weights(
      mulberry32(6),
      c.input.reduce((a, b) => a * b, 1),
      1,
      0.1,
    );
    const geo = convGeometry(c.attrs, c.input, c.weight);
    const n = c.weight.slice(1).reduce((a, b) => a * b, 1);
    const exact = Array.from({ length: 2 }, () => new Gram(n));
    accumulateConv(exact, xc, c.input, geo);
    const sums = Array.from({ length: 2 }, () => new Float64Array(n * n));
    for (let t = 0; t < draws; t++) {
      const grams = Array.from({ length: 2 }, () => new Gram(n));
      accumulateConv(grams, xc, c.input, geo, { budget: 10, rng });
      grams.forEach((g, k) => g.matrix().forEach((v, i) => (sums[k][i] += v / draws)));
    }
    for (let k = 0; k < 2; k++) {
      const h = exact[k].matrix();
      let trace = 0;
      for (let i = 0; i < n; i++) trace += h[i * n + i] / n;
      for (let i = 0; i < n * n; i++)
        assert.ok(
          Math.abs(sums[k][i] - h[i]) < 0.05 * trace,
          `group ${k} mean H[${i}] = ${sums[k][i]}, full ${h[i]}`,
        );
    }
  });

  it('estimates the int4 error ratio ‖XΔW‖/‖XW‖ of a Conv on image-like activations within 5% from 1/16 of the positions', () => {
    // 4 images of 16 channels, 48×48, into a 3×3 Conv with 24 outputs: 2304 positions each, 144 sampled.
    const input = [4, 16, 48, 48];
    const x = featureMap(input[0], input[1], input[2], 12);
    const dims = [24, 16, 3, 3];
    const w = weights(
      mulberry32(13),
      dims.reduce((a, b) => a * b, 1),
      0.2,
      0,
    );
    const q = int4Rows(w, dims[0]);
    const geo = convGeometry({ pads: [1, 1, 1, 1] }, input, dims);
    const view = weightRows({ dims, outputAxis: 0, inputAxis: 1 });
    const full = [new Gram(view.n)];
    accumulateConv(full, x, input, geo);
    const exact = outputErrors(w, [q], view, full).errors[0];
    for (let seed = 0; seed < 8; seed++) {
      const sampled = [new Gram(view.n)];
      // One draw per image, as collectHessians makes one per calibration run.
      for (let b = 0; b < input[0]; b++) {
        const one = x.subarray(b * 16 * 48 * 48, (b + 1) * 16 * 48 * 48);
        accumulateConv(sampled, one, [1, 16, 48, 48], geo, sampling(144, seed, b));
      }
      const estimate = outputErrors(w, [q], view, sampled).errors[0];
      assert.ok(
        Math.abs(estimate / exact - 1) < 0.05,
        `seed ${seed}: ${estimate} against ${exact} from every position`,
      );
    }
  });
});
