import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyMask,
  blockwiseScaleDims,
  dequantizeClusters,
  dequantizeFixed,
  dequantizeLinear,
  fromBfloat16,
  fromFloat16,
  kmeans1d,
  meanAbs,
  pruneGlobalMagnitude,
  pruneGlobalRandom,
  pruneMagnitude,
  pruneMean,
  pruneNM,
  pruneRandom,
  pruneThreshold,
  quantizeBlockwise,
  quantizeFixed,
  quantizeLinear,
  quantizeTernary,
  roundHalfEven,
  toBfloat16,
  toFloat16,
} from '../../src/core/compress/methods';
import type { LinearQuantized, WeightLayout } from '../../src/core/compress/types';
import { float16Table } from '../../src/core/stats/elements';
import { mulberry32, weights } from '../fixtures/onnxBuilder';

const f32 = (xs: number[]) => Float32Array.from(xs);
const zeros = (a: ArrayLike<number>) =>
  Array.prototype.filter.call(a, (x: number) => x === 0).length;

/** Channel index of element i along `axis` of a row-major tensor. */
function channelOf(dims: number[], axis: number, i: number): number {
  let inner = 1;
  for (let a = axis + 1; a < dims.length; a++) inner *= dims[a];
  return Math.floor(i / inner) % dims[axis];
}

/** Per-element bound for linear methods: half a step, plus float32 rounding of the division and product. */
function assertWithinHalfStep(w: Float32Array, y: Float32Array, stepOf: (i: number) => number) {
  for (let i = 0; i < w.length; i++) {
    const bound = (stepOf(i) / 2) * (1 + 1e-6) + Math.abs(w[i]) * 2 ** -22;
    assert.ok(Math.abs(w[i] - y[i]) <= bound, `element ${i}: |${w[i]} - ${y[i]}| > ${bound}`);
  }
}

/** Scale index of element i of a blockwise result. */
function blockScaleIndex(dims: number[], axis: number, bs: number, i: number): number {
  let inner = 1;
  for (let a = axis + 1; a < dims.length; a++) inner *= dims[a];
  const size = dims[axis];
  const r = i % inner;
  const c = Math.floor(i / inner) % size;
  const o = Math.floor(i / (inner * size));
  return (o * Math.ceil(size / bs) + Math.floor(c / bs)) * inner + r;
}

describe('roundHalfEven', () => {
  it('rounds ties to the even neighbour and everything else to nearest', () => {
    const cases: [number, number][] = [
      [0.5, 0],
      [1.5, 2],
      [2.5, 2],
      [-0.5, 0],
      [-1.5, -2],
      [-2.5, -2],
      [2.5000001, 3],
      [-3.4999, -3],
      [4503599627370495.5, 4503599627370496],
      [2 ** 40 + 0.5, 2 ** 40],
    ];
    for (const [x, want] of cases) assert.equal(roundHalfEven(x), want, `round(${x})`);
  });
});

describe('linear int8', () => {
  it('symmetric per channel along axis 0: scale = max|w|/127, error ≤ scale/2, zero exact, extremes ±127', () => {
    const layout: WeightLayout = { dims: [8, 33], outputAxis: 0, inputAxis: 1 };
    const w = weights(mulberry32(1), 8 * 33, 0.05, 0.1);
    const r = quantizeLinear(w, layout);
    assert.equal(r.signed, true);
    assert.equal(r.axis, 0);
    assert.equal(r.zeroPoint, undefined);
    assert.ok(r.q instanceof Int8Array);
    for (let c = 0; c < 8; c++) {
      let m = 0;
      for (let j = 0; j < 33; j++) m = Math.max(m, Math.abs(w[c * 33 + j]));
      assert.equal(r.scale[c], Math.fround(m / 127), `scale ${c}`);
    }
    const y = dequantizeLinear(r, layout);
    assertWithinHalfStep(w, y, (i) => r.scale[channelOf(layout.dims, 0, i)]);
    for (let i = 0; i < w.length; i++) {
      assert.ok(r.q[i] >= -127 && r.q[i] <= 127);
      if (w[i] === 0) assert.ok(r.q[i] === 0 && Object.is(y[i], 0), 'zero maps to exactly 0');
    }
    for (let c = 0; c < 8; c++) {
      const row: number[] = Array.from(r.q.subarray(c * 33, c * 33 + 33), Math.abs);
      assert.equal(Math.max(...row), 127, `channel ${c} uses the full range`);
    }
  });

  it('per channel along axis 1 (MatMul [in, out]) takes each column its own scale', () => {
    const dims = [6, 4];
    const layout: WeightLayout = { dims, outputAxis: 1, inputAxis: 0 };
    const w = new Float32Array(24);
    const rng = mulberry32(2);
    for (let i = 0; i < 24; i++) w[i] = (rng() - 0.5) * 10 ** (i % 4);
    w[4 * 3 + 2] = 70; // column 2's maximum
    const r = quantizeLinear(w, layout);
    assert.equal(r.axis, 1);
    assert.equal(r.scale.length, 4);
    for (let c = 0; c < 4; c++) {
      let m = 0;
      for (let row = 0; row < 6; row++) m = Math.max(m, Math.abs(w[row * 4 + c]));
      assert.equal(r.scale[c], Math.fround(m / 127));
    }
    assert.equal(r.scale[2], Math.fround(70 / 127));
    assert.equal(r.q[4 * 3 + 2], 127);
    assertWithinHalfStep(w, dequantizeLinear(r, layout), (i) => r.scale[i % 4]);
  });

  it('per channel on a 4-D conv weight [O, I, kh, kw] along axis 0', () => {
    const dims = [3, 2, 3, 3];
    const layout: WeightLayout = { dims, outputAxis: 0, inputAxis: 1 };
    const w = weights(mulberry32(3), 54, 1);
    for (let i = 18; i < 36; i++) w[i] *= 100;
    const r = quantizeLinear(w, layout);
    assert.ok(r.scale[1] > 20 * r.scale[0] && r.scale[1] > 20 * r.scale[2]);
    assertWithinHalfStep(w, dequantizeLinear(r, layout), (i) => r.scale[channelOf(dims, 0, i)]);
  });

  it('per tensor: one scale, axis null', () => {
    const layout: WeightLayout = { dims: [5, 7], outputAxis: 0, inputAxis: 1 };
    const w = weights(mulberry32(4), 35, 0.2);
    const r = quantizeLinear(w, layout, { perChannel: false });
    assert.equal(r.axis, null);
    assert.equal(r.scale.length, 1);
    assert.equal(r.scale[0], Math.fround(Math.max(...Array.from(w, Math.abs)) / 127));
    assertWithinHalfStep(w, dequantizeLinear(r, layout), () => r.scale[0]);
  });

  it('rounds exact ties to even as QuantizeLinear does', () => {
    const layout: WeightLayout = { dims: [7], outputAxis: 0, inputAxis: 0 };
    const r = quantizeLinear(f32([127, 0.5, 1.5, 2.5, -2.5, -3.5, -127]), layout, {
      perChannel: false,
    });
    assert.equal(r.scale[0], 1);
    assert.deepEqual(Array.from(r.q), [127, 0, 2, 2, -2, -4, -127]);
  });

  it('asymmetric uint8: range widened to include 0, zero point rounds, zero exact, error ≤ scale/2', () => {
    const layout: WeightLayout = { dims: [4, 50], outputAxis: 0, inputAxis: 1 };
    const rng = mulberry32(5);
    const w = new Float32Array(200);
    for (let i = 0; i < 200; i++) w[i] = rng() * 3 - 1; // [-1, 2)
    for (let j = 0; j < 50; j++) w[50 + j] = 0.5 + rng(); // channel 1 all positive
    w[150] = 0;
    const r = quantizeLinear(w, layout, { symmetric: false });
    assert.equal(r.signed, false);
    assert.ok(r.q instanceof Uint8Array && r.zeroPoint instanceof Uint8Array);
    for (let c = 0; c < 4; c++) {
      const row = Array.from(w.subarray(c * 50, c * 50 + 50));
      const lo = Math.min(0, ...row);
      const hi = Math.max(0, ...row);
      const s = Math.fround(Math.fround(hi - lo) / 255);
      assert.equal(r.scale[c], s, `scale ${c}`);
      assert.ok(r.zeroPoint![c] === roundHalfEven(Math.fround(-lo / s)), `zero point ${c}`);
    }
    assert.equal(r.zeroPoint![1], 0, 'an all-positive channel has zero point 0');
    const y = dequantizeLinear(r, layout);
    assertWithinHalfStep(w, y, (i) => r.scale[Math.floor(i / 50)]);
    assert.equal(r.q[150], r.zeroPoint![3]);
    assert.ok(Object.is(y[150], 0));
    const qs = Array.from(r.q);
    assert.equal(Math.max(...qs), 255);
    assert.equal(Math.min(...qs.slice(0, 50)), 0);
  });

  it('an all-zero channel gets scale 1 and dequantizes to zeros, never NaN', () => {
    const layout: WeightLayout = { dims: [2, 3], outputAxis: 0, inputAxis: 1 };
    const w = f32([0, 0, 0, 1, -2, 3]);
    for (const symmetric of [true, false]) {
      const r = quantizeLinear(w, layout, { symmetric });
      assert.equal(r.scale[0], 1);
      const y = dequantizeLinear(r, layout);
      assert.deepEqual(Array.from(y.subarray(0, 3)), [0, 0, 0]);
      assert.ok(y.every((v) => Number.isFinite(v)));
    }
  });

  it('ignores non-finite values for the range; Inf saturates, NaN codes as zero', () => {
    const layout: WeightLayout = { dims: [5], outputAxis: 0, inputAxis: 0 };
    const w = f32([1, -0.25, Infinity, -Infinity, NaN]);
    const s = quantizeLinear(w, layout, { perChannel: false });
    assert.equal(s.scale[0], Math.fround(1 / 127));
    assert.deepEqual(Array.from(s.q), [127, -32, 127, -127, 0]);
    const a = quantizeLinear(w, layout, { symmetric: false, perChannel: false });
    assert.equal(a.q[2], 255);
    assert.equal(a.q[3], 0);
    assert.equal(a.q[4], a.zeroPoint![0]);
  });

  it('rejects a layout that does not match the values', () => {
    assert.throws(
      () => quantizeLinear(new Float32Array(6), { dims: [2, 4], outputAxis: 0, inputAxis: 1 }),
      RangeError,
    );
    assert.throws(
      () => quantizeLinear(new Float32Array(6), { dims: [2, 3], outputAxis: 2, inputAxis: 1 }),
      RangeError,
    );
    assert.throws(
      () =>
        quantizeLinear(
          new Float32Array(6),
          { dims: [2, 3], outputAxis: 0, inputAxis: 1 },
          { bits: 9 },
        ),
      RangeError,
    );
  });
});

describe('blockwise int4', () => {
  it('MatMul [in, out]: blocks run down each column, scale dims [ceil(in/bs), out], codes in -7..7', () => {
    const dims = [70, 5];
    const layout: WeightLayout = { dims, outputAxis: 1, inputAxis: 0 };
    const w = weights(mulberry32(6), 350, 0.1, 0.05);
    const r = quantizeBlockwise(w, layout, { blockSize: 32 });
    assert.deepEqual(blockwiseScaleDims(dims, 0, 32), [3, 5]);
    assert.equal(r.scale.length, 15);
    assert.equal(r.axis, 0);
    assert.equal(r.blockSize, 32);
    assert.equal(r.bits, 4);
    for (let b = 0; b < 3; b++) {
      for (let col = 0; col < 5; col++) {
        let m = 0;
        for (let row = b * 32; row < Math.min(70, b * 32 + 32); row++)
          m = Math.max(m, Math.abs(w[row * 5 + col]));
        assert.equal(r.scale[b * 5 + col], Math.fround(m / 7), `block ${b} column ${col}`);
      }
    }
    const y = dequantizeLinear(r, layout);
    assertWithinHalfStep(w, y, (i) => r.scale[blockScaleIndex(dims, 0, 32, i)]);
    for (let i = 0; i < 350; i++) {
      assert.ok(r.q[i] >= -7 && r.q[i] <= 7);
      if (w[i] === 0) assert.ok(Object.is(y[i], 0));
    }
  });

  it('Gemm [out, in] with inputAxis 1: blocks run along each row, tail block shorter', () => {
    const dims = [3, 20];
    const layout: WeightLayout = { dims, outputAxis: 0, inputAxis: 1 };
    const w = weights(mulberry32(7), 60, 1);
    w[19] = 50; // alone in row 0's tail block (elements 16..19)
    const r = quantizeBlockwise(w, layout, { blockSize: 8 });
    assert.equal(r.scale.length, 9);
    assert.equal(r.scale[2], Math.fround(50 / 7));
    assert.ok(r.scale[0] < 1, 'the outlier does not spoil the other blocks of its row');
    assertWithinHalfStep(
      w,
      dequantizeLinear(r, layout),
      (i) => r.scale[blockScaleIndex(dims, 1, 8, i)],
    );
  });

  it('a 4-D conv weight blocks along axis 1 per (o, kh, kw) position', () => {
    const dims = [2, 10, 2, 2];
    const layout: WeightLayout = { dims, outputAxis: 0, inputAxis: 1 };
    const w = weights(mulberry32(8), 80, 1);
    const r = quantizeBlockwise(w, layout, { blockSize: 4, bits: 4 });
    assert.deepEqual(blockwiseScaleDims(dims, 1, 4), [2, 3, 2, 2]);
    assert.equal(r.scale.length, 24);
    for (let s = 0; s < 24; s++) {
      let m = 0;
      for (let i = 0; i < 80; i++)
        if (blockScaleIndex(dims, 1, 4, i) === s) m = Math.max(m, Math.abs(w[i]));
      assert.equal(r.scale[s], Math.fround(m / 7));
    }
    assertWithinHalfStep(
      w,
      dequantizeLinear(r, layout),
      (i) => r.scale[blockScaleIndex(dims, 1, 4, i)],
    );
  });

  it('float16 scales: each the float16 nearest max|w|/7, codes made against it; subnormal for tiny blocks, never 0; float32 when the largest overflows or is subnormal', () => {
    const layout: WeightLayout = { dims: [4, 8], outputAxis: 0, inputAxis: 1 };
    // Row 0 ordinary, row 1 tiny (a subnormal float16 scale), row 2 far below float16 (rounds to 0), row 3 zeros.
    const w = Float32Array.from(
      { length: 32 },
      (_, i) => [0.3, 2e-6, 1e-9, 0][i >> 3] * Math.sin(i + 1),
    );
    const r = quantizeBlockwise(w, layout, { blockSize: 8, halfScales: true });
    assert.ok(r.scaleHalf, 'stored as float16');
    for (let s = 0; s < 4; s++) {
      let m = 0;
      for (let i = 8 * s; i < 8 * s + 8; i++) m = Math.max(m, Math.abs(w[i]));
      const exact = m > 0 ? Math.fround(m / 7) : 1;
      assert.equal(
        r.scale[s],
        fromFloat16(r.scaleHalf!.subarray(s, s + 1))[0],
        'scale holds the stored float16 values',
      );
      if (s === 2)
        assert.equal(
          r.scale[s],
          2 ** -24,
          'a scale below half the smallest subnormal becomes 2^-24, not 0',
        );
      else
        assert.equal(
          r.scaleHalf![s],
          toFloat16(Float32Array.of(exact)).bits[0],
          `row ${s}: the nearest float16`,
        );
    }
    const back = dequantizeLinear(r, layout);
    for (let i = 0; i < 32; i++) {
      const s = r.scale[i >> 3];
      assert.equal(
        back[i],
        Math.fround(Math.max(-7, Math.min(7, Math.round(w[i] / s))) * s) + 0,
        `code ${i} made against the rounded scale`,
      );
      assert.ok(Math.abs(back[i] - w[i]) <= s / 2 + 1e-12, `weight ${i} within half a step`);
    }
    const tiny = quantizeBlockwise(
      w.subarray(8, 16),
      { dims: [1, 8], outputAxis: 0, inputAxis: 1 },
      { blockSize: 8, halfScales: true },
    );
    assert.equal(
      tiny.scaleHalf,
      undefined,
      "a tensor whose largest scale is below float16's normal range keeps float32 scales",
    );
    const huge = quantizeBlockwise(
      Float32Array.of(1e6, 1, 2, 3, 4, 5, 6, 7),
      { dims: [1, 8], outputAxis: 0, inputAxis: 1 },
      { blockSize: 8, halfScales: true },
    );
    assert.equal(huge.scaleHalf, undefined, 'a scale beyond 65504 keeps float32 scales');
    assert.equal(huge.scale[0], Math.fround(1e6 / 7));
  });
});

describe('float16', () => {
  const table = float16Table();

  it('round-trips all 65,536 float16 patterns exactly (NaN stays NaN, -0 stays -0)', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const r = toFloat16(fromFloat16(all));
    for (let h = 0; h < 65536; h++) {
      if (Number.isNaN(table[h])) assert.ok(Number.isNaN(table[r.bits[h]]), `NaN ${h}`);
      else assert.equal(r.bits[h], h, `pattern ${h.toString(16)}`);
    }
    assert.equal(r.clipped, 0);
    assert.equal(r.flushedToZero, 0);
    assert.equal(r.subnormal, 2 * 1023);
  });

  it('rounds every midpoint between neighbours to the even one, and a float32 ulp off it to the nearer', () => {
    const mids: number[] = [];
    const expect: number[] = [];
    for (let h = 0; h < 0x7bff; h++) {
      const mid = (table[h] + table[h + 1]) / 2;
      assert.equal(Math.fround(mid), mid, 'midpoints are float32 values');
      const even = h % 2 === 0 ? h : h + 1;
      mids.push(mid, -mid);
      expect.push(even, even | 0x8000);
      const below = f32([mid]);
      new Uint32Array(below.buffer)[0] -= 1;
      const above = f32([mid]);
      new Uint32Array(above.buffer)[0] += 1;
      mids.push(below[0], above[0]);
      expect.push(h, h + 1);
    }
    const r = toFloat16(f32(mids));
    for (let i = 0; i < mids.length; i++) assert.equal(r.bits[i], expect[i], `value ${mids[i]}`);
  });

  it('hand cases: ties, clipping, underflow, infinities, NaN', () => {
    const values = f32([
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      65504,
      65505,
      1e6,
      -1e6,
      3.4e38,
      Infinity,
      -Infinity,
      NaN,
      2 ** -25,
      2 ** -25 * 1.0000001,
      2 ** -24,
      2 ** -30,
      -0,
      2 ** -14,
    ]);
    const r = toFloat16(values);
    assert.deepEqual(
      Array.from(r.bits.subarray(0, 9)),
      [0x3c00, 0x3c02, 0x7bff, 0x7bff, 0x7bff, 0xfbff, 0x7bff, 0x7c00, 0xfc00],
    );
    assert.ok(Number.isNaN(table[r.bits[9]]));
    assert.deepEqual(Array.from(r.bits.subarray(10)), [0, 1, 1, 0, 0x8000, 0x0400]);
    assert.equal(r.clipped, 4);
    assert.equal(r.flushedToZero, 2);
    assert.equal(r.subnormal, 2);
  });

  it('matches an independent nearest-value search on random float32 bit patterns', () => {
    // Reference: binary search over the sorted positive finite float16 values; ties go to the even pattern.
    const pos = Array.from({ length: 0x7c00 }, (_, h) => table[h]);
    const ref = (v: number): number => {
      const a = Math.abs(v);
      const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
      if (a > 65504) return sign | 0x7bff;
      let lo = 0;
      let hi = pos.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (pos[mid] <= a) lo = mid;
        else hi = mid;
      }
      const dl = a - pos[lo];
      const dh = pos[hi] - a;
      return sign | (dl < dh ? lo : dh < dl ? hi : lo % 2 === 0 ? lo : hi);
    };
    const rng = mulberry32(9);
    const u = new Uint32Array(200_000);
    for (let i = 0; i < u.length; i++) {
      // Mostly exponents near the float16 range, so rounding (not only clipping) is exercised.
      const exp = i % 4 === 0 ? Math.floor(rng() * 255) : 97 + Math.floor(rng() * 48);
      u[i] = ((rng() < 0.5 ? 1 : 0) << 31) | (exp << 23) | Math.floor(rng() * 0x800000);
    }
    const v = new Float32Array(u.buffer);
    const r = toFloat16(v);
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) continue;
      assert.equal(r.bits[i], ref(v[i]), `value ${v[i]} (bits ${u[i].toString(16)})`);
    }
  });
});

describe('bfloat16', () => {
  it('rounds to nearest even, clips beyond the largest finite value, keeps NaN and Inf', () => {
    const values = f32([
      1 + 2 ** -8,
      1 + 3 * 2 ** -8,
      1 + 2 ** -8 + 2 ** -20,
      -(1 + 2 ** -8),
      3.4028235e38,
      -3.4e38,
      Infinity,
      NaN,
      -NaN,
      0,
      -0,
      1e-45,
    ]);
    const r = toBfloat16(values);
    assert.deepEqual(
      Array.from(r.bits.subarray(0, 7)),
      [0x3f80, 0x3f82, 0x3f81, 0xbf80, 0x7f7f, 0xff7f, 0x7f80],
    );
    assert.ok(Number.isNaN(fromBfloat16(r.bits.subarray(7, 8))[0]));
    assert.equal(r.bits[7] & 0x7fc0, 0x7fc0, 'quiet NaN');
    assert.deepEqual(Array.from(r.bits.subarray(9)), [0, 0x8000, 0]);
    assert.equal(r.clipped, 2);
    assert.equal(r.flushedToZero, 1);
  });

  it('round-trips every bfloat16 pattern and matches a nearest-value reference on random patterns', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = toBfloat16(fromBfloat16(all));
    for (let h = 0; h < 65536; h++) {
      const nan = (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
      if (!nan) assert.equal(back.bits[h], h);
    }
    const rng = mulberry32(10);
    const u = new Uint32Array(200_000).map(() => Math.floor(rng() * 2 ** 32));
    const v = new Float32Array(u.buffer);
    const r = toBfloat16(v);
    const hv = fromBfloat16(r.bits);
    for (let i = 0; i < v.length; i++) {
      const a = Math.abs(v[i]);
      if (!Number.isFinite(a) || a > 3.3895313892515355e38) continue;
      const t = u[i] >>> 16;
      const down = fromBfloat16(Uint16Array.of(t))[0];
      const up = fromBfloat16(Uint16Array.of(t + 1))[0];
      const dd = Math.abs(v[i] - down);
      const du = Math.abs(up - v[i]);
      const want = dd < du ? down : du < dd ? up : t % 2 === 0 ? down : up;
      assert.equal(hv[i], want, `value ${v[i]}`);
    }
  });
});

describe('fixed point', () => {
  it('chooses the largest fraction length that fits, negative for wide ranges', () => {
    const cases: [number[], number, number][] = [
      [[0.9, -0.3], 8, 7],
      [[1000, -5], 8, -3],
      [[-1, 0.5], 8, 7],
      [[-1.0039, 0.5], 8, 7], // round(-1.0039·128) = -128 still fits
      [[0.25], 16, 16],
      [[3e38], 8, -121],
    ];
    for (const [xs, bits, f] of cases)
      assert.equal(quantizeFixed(f32(xs), { bits }).fractionBits, f, `${xs} at ${bits} bits`);
  });

  it('f is maximal, every value within half a step, word type by width', () => {
    for (const bits of [4, 8, 12, 16]) {
      const w = weights(mulberry32(bits), 5000, 0.3);
      const r = quantizeFixed(w, { bits });
      assert.ok(bits <= 8 ? r.q instanceof Int8Array : r.q instanceof Int16Array);
      assert.equal(r.scale, 2 ** -r.fractionBits);
      const qmax = 2 ** (bits - 1) - 1;
      const big = 2 ** (r.fractionBits + 1);
      assert.ok(
        w.some((x) => roundHalfEven(x * big) > qmax || roundHalfEven(x * big) < -qmax - 1),
        'f + 1 would overflow',
      );
      const y = dequantizeFixed(r);
      for (let i = 0; i < w.length; i++)
        assert.ok(Math.abs(w[i] - y[i]) <= r.scale / 2 + Math.abs(w[i]) * 2 ** -23);
    }
  });

  it('rounds half to even; all zeros give f = 0', () => {
    const r = quantizeFixed(f32([0.5, 1.5, 2.5, -2.5, 100]));
    assert.equal(r.fractionBits, 0);
    assert.deepEqual(Array.from(r.q), [0, 2, 2, -2, 100]);
    const z = quantizeFixed(new Float32Array(4));
    assert.equal(z.fractionBits, 0);
    assert.deepEqual(Array.from(dequantizeFixed(z)), [0, 0, 0, 0]);
  });
});

describe('ternary / sign', () => {
  it('hand case: Δ = 0.7·mean|w|, scale = mean |w| of the nonzero codes', () => {
    const layout: WeightLayout = { dims: [2, 4], outputAxis: 0, inputAxis: 1 };
    const r = quantizeTernary(f32([1, -2, 0.1, 0.5, 0, 0, 0, 0]), layout);
    // Row 0: mean|w| = 0.9, Δ = 0.63: codes [1, -1, 0, 0], a = (1 + 2) / 2.
    assert.deepEqual(Array.from(r.q), [1, -1, 0, 0, 0, 0, 0, 0]);
    assert.equal(r.scale[0], 1.5);
    assert.equal(r.scale[1], 1, 'an all-zero channel gets scale 1');
    assert.deepEqual(Array.from(dequantizeLinear(r, layout)), [1.5, -1.5, 0, 0, 0, 0, 0, 0]);
  });

  it('per output channel along axis 1, with a custom threshold', () => {
    const dims = [50, 3];
    const layout: WeightLayout = { dims, outputAxis: 1, inputAxis: 0 };
    const w = weights(mulberry32(11), 150, 1);
    for (let i = 0; i < 150; i++) w[i] *= 10 ** (i % 3);
    const r = quantizeTernary(w, layout, { threshold: 0.5 });
    for (let c = 0; c < 3; c++) {
      const col = Array.from({ length: 50 }, (_, row) => w[row * 3 + c]);
      const delta = (0.5 * col.reduce((s, x) => s + Math.abs(x), 0)) / 50;
      const kept = col.filter((x) => Math.abs(x) > delta);
      for (let row = 0; row < 50; row++) {
        const x = col[row];
        assert.equal(r.q[row * 3 + c], Math.abs(x) > delta ? Math.sign(x) : 0);
      }
      assert.ok(
        Math.abs(r.scale[c] - kept.reduce((s, x) => s + Math.abs(x), 0) / kept.length) <=
          1e-6 * r.scale[c],
      );
    }
    assert.ok(r.scale[2] > 50 * r.scale[0]);
  });

  it('threshold 0 is pure sign quantization: nonzero → ±1, zeros stay 0', () => {
    const layout: WeightLayout = { dims: [1, 6], outputAxis: 0, inputAxis: 1 };
    const w = f32([0.3, -0.1, 0, 1e-30, -0, -2]);
    const r = quantizeTernary(w, layout, { threshold: 0 });
    assert.deepEqual(Array.from(r.q), [1, -1, 0, 1, 0, -1]);
    assert.equal(r.scale[0], Math.fround((w[0] - w[1] + w[3] - w[5]) / 4));
  });
});

/** Magnitude order with deterministic ties: all pruned entries come before all kept ones in (|w|, position) order. */
function assertMagnitudeOrder(tensors: Float32Array[], masks: Uint8Array[]) {
  let maxPruned = -1;
  let minKept = Infinity;
  for (let t = 0; t < tensors.length; t++) {
    for (let i = 0; i < tensors[t].length; i++) {
      const a = Math.abs(tensors[t][i]);
      if (masks[t][i]) minKept = Math.min(minKept, a);
      else maxPruned = Math.max(maxPruned, a);
    }
  }
  assert.ok(maxPruned <= minKept, `pruned ${maxPruned} > kept ${minKept}`);
  // At the threshold magnitude, pruned entries precede kept ones.
  let seenKeptAtTie = false;
  for (let t = 0; t < tensors.length; t++) {
    for (let i = 0; i < tensors[t].length; i++) {
      if (Math.abs(tensors[t][i]) !== maxPruned) continue;
      if (masks[t][i]) seenKeptAtTie = true;
      else assert.ok(!seenKeptAtTie, 'ties are pruned in order');
    }
  }
}

describe('pruning', () => {
  it('magnitude: exactly round(s·n) pruned, smallest first, ties in index order', () => {
    const rng = mulberry32(12);
    // Few distinct magnitudes: the threshold always lands on a run of ties.
    const w = Float32Array.from({ length: 10_001 }, () => (Math.floor(rng() * 9) - 4) * 0.125);
    for (const s of [0, 0.1, 0.25, 0.5, 0.77, 0.9999, 1]) {
      const mask = pruneMagnitude(w, s);
      assert.equal(zeros(mask), Math.round(s * 10_001), `sparsity ${s}`);
      assertMagnitudeOrder([w], [mask]);
    }
  });

  it('existing zeros count toward the target', () => {
    const w = weights(mulberry32(13), 10_000, 1, 0.3);
    const z = zeros(w);
    assert.ok(z > 2500 && z < 3500);
    const half = applyMask(w, pruneMagnitude(w, 0.5));
    assert.equal(zeros(half), 5000);
    const low = pruneMagnitude(w, 0.2);
    assert.equal(zeros(low), 2000);
    assert.equal(
      zeros(applyMask(w, low)),
      z,
      'no nonzero weight pruned when the zeros already exceed the target',
    );
  });

  it('magnitude selection distinguishes values inside one top-16-bit bucket', () => {
    // 1 + k·2^-23 share their top 16 bits; only the second-level histogram separates them.
    const w = Float32Array.from(
      { length: 1000 },
      (_, i) => (i % 2 ? -1 : 1) * (1 + ((i * 7919) % 1000) * 2 ** -23),
    );
    const mask = pruneMagnitude(w, 0.333);
    assert.equal(zeros(mask), 333);
    assertMagnitudeOrder([w], [mask]);
  });

  it('global scope: one threshold across tensors, exact total, same set as a full sort', () => {
    const rng = mulberry32(14);
    const tensors = [weights(rng, 3000, 0.01), weights(rng, 500, 1), weights(rng, 7000, 0.1, 0.2)];
    tensors[1][3] = -0;
    tensors[2][5] = NaN;
    const masks = pruneGlobalMagnitude(tensors, 0.6);
    const total = 10_500;
    assert.equal(
      masks.reduce((s, m) => s + zeros(m), 0),
      Math.round(0.6 * total),
    );
    assertMagnitudeOrder(
      tensors.map((t) => t.map((x) => (Number.isNaN(x) ? Infinity : x))),
      masks,
    );
    assert.equal(masks[2][5], 1, 'NaN is never pruned by magnitude');
    // Reference: stable sort of (|w|, tensor, index).
    const all: [number, number, number][] = [];
    tensors.forEach((t, ti) =>
      t.forEach((x, i) => all.push([Number.isNaN(x) ? Infinity : Math.abs(x), ti, i])),
    );
    all.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
    for (let j = 0; j < all.length; j++)
      assert.equal(masks[all[j][1]][all[j][2]], j < 6300 ? 0 : 1);
    // The small-magnitude tensor loses far more than its share.
    assert.ok(zeros(masks[0]) > 0.95 * 3000 && zeros(masks[1]) < 0.1 * 500);
  });

  it('absolute and mean thresholds prune |w| strictly below them', () => {
    const w = f32([0.1, -0.2, 0.3, -0.4, 0.5, 0, NaN]);
    assert.deepEqual(Array.from(pruneThreshold(w, 0.3)), [0, 0, 1, 1, 1, 0, 1]);
    const v = f32([1, -2, 3, -4, 0]);
    assert.equal(meanAbs(v), 2);
    assert.deepEqual(Array.from(pruneMean(v)), [0, 1, 1, 1, 0]);
  });

  it('N:M along inputAxis 1 (Gemm [out, in]): n largest of every m, tail keeps proportionally', () => {
    const dims = [4, 10];
    const layout: WeightLayout = { dims, outputAxis: 0, inputAxis: 1 };
    const w = weights(mulberry32(15), 40, 1, 0);
    w[0] = w[1] = w[2] = w[3] = 0.5; // a group of ties: the first two are kept
    const mask = pruneNM(w, layout, { n: 2, m: 4 });
    assert.deepEqual(Array.from(mask.subarray(0, 4)), [1, 1, 0, 0]);
    for (let row = 0; row < 4; row++) {
      for (const [g, len, keep] of [
        [0, 4, 2],
        [4, 4, 2],
        [8, 2, 1],
      ]) {
        const idx = Array.from({ length: len }, (_, j) => row * 10 + g + j);
        assert.equal(idx.filter((i) => mask[i]).length, keep, `row ${row} group at ${g}`);
        const keptMin = Math.min(...idx.filter((i) => mask[i]).map((i) => Math.abs(w[i])));
        const prunedMax = Math.max(...idx.filter((i) => !mask[i]).map((i) => Math.abs(w[i])));
        assert.ok(keptMin >= prunedMax);
      }
    }
  });

  it('N:M along inputAxis 0 (MatMul [in, out]) groups run down the columns', () => {
    const dims = [16, 3];
    const layout: WeightLayout = { dims, outputAxis: 1, inputAxis: 0 };
    const w = weights(mulberry32(16), 48, 1, 0);
    const mask = pruneNM(w, layout, { n: 1, m: 8 });
    for (let col = 0; col < 3; col++) {
      for (let g = 0; g < 16; g += 8) {
        const idx = Array.from({ length: 8 }, (_, j) => (g + j) * 3 + col);
        const kept = idx.filter((i) => mask[i]);
        assert.equal(kept.length, 1);
        assert.equal(Math.abs(w[kept[0]]), Math.max(...idx.map((i) => Math.abs(w[i]))));
      }
    }
    assert.equal(zeros(mask), 48 - 6);
  });

  it('random: exact count, seeded and deterministic, zeros first, spread uniformly', () => {
    const w = weights(mulberry32(17), 20_000, 1, 0.1);
    const z = zeros(w);
    const a = pruneRandom(w, 0.5, 42);
    assert.equal(zeros(a), 10_000);
    assert.deepEqual(a, pruneRandom(w, 0.5, 42));
    assert.notDeepEqual(a, pruneRandom(w, 0.5, 43));
    for (let i = 0; i < w.length; i++)
      if (w[i] === 0) assert.equal(a[i], 0, 'zeros are pruned first');
    const firstHalf = zeros(a.subarray(0, 10_000));
    assert.ok(Math.abs(firstHalf - 5000) < 300, `first half pruned ${firstHalf}`);
    // Not magnitude-based: pruned weights include large ones.
    assert.ok(Array.from(w).some((x, i) => !a[i] && Math.abs(x) > 2));
    assert.equal(zeros(pruneRandom(w, Math.floor(z / 2) / 20_000, 1)), Math.floor(z / 2));
    const g = pruneGlobalRandom([w.subarray(0, 5000), w.subarray(5000)], 0.3, 7);
    assert.equal(zeros(g[0]) + zeros(g[1]), 6000);
  });

  it('rejects bad options', () => {
    assert.throws(() => pruneMagnitude(new Float32Array(4), 1.5), RangeError);
    assert.throws(
      () =>
        pruneNM(new Float32Array(4), { dims: [4], outputAxis: 0, inputAxis: 0 }, { n: 3, m: 2 }),
      RangeError,
    );
    assert.throws(() => applyMask(new Float32Array(4), new Uint8Array(3)), RangeError);
  });
});

/** Naive O(n·K) Lloyd with the same initialisation, tie and empty-cluster rules: the reference for kmeans1d. */
function naiveKmeans(values: Float32Array, K: number, fixedZero: boolean): Float32Array {
  const finite = Array.from(values).filter(Number.isFinite);
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  const c = new Float32Array(K);
  for (let j = 0; j < K; j++) c[j] = min + ((max - min) * j) / (K - 1);
  c[K - 1] = max;
  let fixed = -1;
  if (fixedZero && finite.includes(0)) {
    fixed = 0;
    for (let j = 1; j < K; j++) if (Math.abs(c[j]) < Math.abs(c[fixed])) fixed = j;
    c[fixed] = 0;
  }
  let prev = '';
  for (let it = 0; it < 1000; it++) {
    const idx = finite.map((v) => {
      let best = 0;
      for (let j = 1; j < K; j++) if (v > (c[j - 1] + c[j]) / 2) best = j;
      return best;
    });
    const key = idx.join(',');
    if (key === prev) break;
    prev = key;
    const sum = new Float64Array(K);
    const cnt = new Float64Array(K);
    idx.forEach((j, i) => {
      sum[j] += finite[i];
      cnt[j]++;
    });
    for (let j = 0; j < K; j++) if (j !== fixed && cnt[j] > 0) c[j] = sum[j] / cnt[j];
  }
  return c;
}

function assertNearest(values: Float32Array, r: { centroids: Float32Array; indices: Uint8Array }) {
  const c = r.centroids;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    const d = Math.abs(v - c[r.indices[i]]);
    for (let j = 0; j < c.length; j++)
      assert.ok(
        d <= Math.abs(v - c[j]),
        `value ${v}: centroid ${c[r.indices[i]]} but ${c[j]} is nearer`,
      );
  }
}

describe('k-means weight sharing', () => {
  it('converges, is deterministic, keeps centroids sorted, maps each value to its nearest centroid', () => {
    // Above 65,536 values: the radix sort and per-bucket assignment tables are used.
    const w = weights(mulberry32(18), 100_000, 0.05, 0);
    const r = kmeans1d(w, { clusters: 16 });
    assert.ok(r.converged, `not converged after ${r.iterations}`);
    assert.ok(r.iterations > 1);
    for (let j = 1; j < 16; j++) assert.ok(r.centroids[j] > r.centroids[j - 1], 'strictly sorted');
    assertNearest(w, r);
    // Lloyd fixpoint: every centroid is the mean of its members.
    const sum = new Float64Array(16);
    const cnt = new Float64Array(16);
    w.forEach((v, i) => {
      sum[r.indices[i]] += v;
      cnt[r.indices[i]]++;
    });
    for (let j = 0; j < 16; j++)
      if (cnt[j])
        assert.ok(
          Math.abs(r.centroids[j] - sum[j] / cnt[j]) <= 1e-6 * Math.abs(r.centroids[j]) + 1e-12,
          `centroid ${j}`,
        );
    const again = kmeans1d(w, { clusters: 16 });
    assert.deepEqual(again.centroids, r.centroids);
    assert.deepEqual(again.indices, r.indices);
    const small = kmeans1d(w.subarray(0, 1000), { clusters: 16 });
    assertNearest(w.subarray(0, 1000), small);
  });

  it('large inputs: non-finite values and signed zeros go through the bucket tables correctly', () => {
    const w = weights(mulberry32(24), 200_000, 1, 0.01);
    w.set([NaN, Infinity, -Infinity, -0, -NaN, 3.4e38, -3.4e38], 100);
    const r = kmeans1d(w, { clusters: 8 });
    const zero = r.centroids.indexOf(0);
    assert.ok(zero >= 0);
    assert.deepEqual(Array.from(r.indices.subarray(100, 107)), [zero, 7, 0, zero, zero, 7, 0]);
    assert.ok(
      r.centroids[7] > 3e38 && r.centroids[0] < -3e38,
      'the extremes are finite values and get their own centroids',
    );
    assertNearest(w, r);
  });

  it('agrees with a naive O(n·K) Lloyd from the same linear initialisation', () => {
    const rng = mulberry32(19);
    for (const [n, K, zeroFraction] of [
      [2000, 4, 0],
      [3000, 16, 0.3],
      [1500, 64, 0.05],
    ]) {
      const w = weights(rng, n, 1, zeroFraction);
      const r = kmeans1d(w, { clusters: K, maxIterations: 1000 });
      const ref = naiveKmeans(w, K, true);
      assert.ok(r.converged);
      for (let j = 0; j < K; j++)
        assert.ok(
          Math.abs(r.centroids[j] - ref[j]) <= 1e-6 * Math.abs(ref[j]) + 1e-7,
          `K=${K} centroid ${j}: ${r.centroids[j]} vs ${ref[j]}`,
        );
    }
  });

  it('after pruning, zeros map to a centroid fixed at exactly 0', () => {
    const w = weights(mulberry32(20), 20_000, 0.1, 0);
    const pruned = applyMask(w, pruneMagnitude(w, 0.6));
    const r = kmeans1d(pruned, { clusters: 16 });
    const zeroIdx = r.centroids.indexOf(0);
    assert.ok(zeroIdx >= 0 && Object.is(r.centroids[zeroIdx], 0));
    const y = dequantizeClusters(r);
    for (let i = 0; i < w.length; i++) if (pruned[i] === 0) assert.ok(Object.is(y[i], 0));
    assertNearest(pruned, r);
    assert.ok(zeros(y) >= 12_000);
  });

  it('incidental zeros pin a centroid at 0 only with preserveZeros', () => {
    const w = weights(mulberry32(23), 20_000, 0.1, 0.02);
    const pinned = kmeans1d(w, { clusters: 8 });
    assert.ok(pinned.centroids.includes(0));
    assertNearest(w, pinned);
    assert.equal(zeros(dequantizeClusters(pinned)) >= zeros(w), true);
    const free = kmeans1d(w, { clusters: 8, preserveZeros: false });
    assert.ok(
      !free.centroids.includes(0),
      'the cluster around 0 also holds nonzero weights, so its mean is not 0',
    );
    assert.equal(zeros(dequantizeClusters(free)), 0);
  });

  it('linear initialisation spans [min, max]; fewer distinct values than K are reproduced exactly', () => {
    const init = kmeans1d(f32([-1, 3, 0.5, 2]), { clusters: 5, maxIterations: 0 });
    assert.deepEqual(Array.from(init.centroids), [-1, 0, 1, 2, 3]);
    assert.equal(init.iterations, 0);
    assert.equal(init.converged, false);
    const few = f32([0.25, -3, 0.25, 7, -3, 7, 7]);
    const r = kmeans1d(few, { clusters: 16 });
    assert.ok(r.converged);
    assert.deepEqual(Array.from(dequantizeClusters(r)), Array.from(few));
    const constant = kmeans1d(new Float32Array(10).fill(2.5), { clusters: 4 });
    assert.deepEqual(Array.from(dequantizeClusters(constant)), new Array(10).fill(2.5));
  });

  it('K = 256 uses indices up to 255; non-finite values take no part in the centroids', () => {
    const w = weights(mulberry32(21), 30_000, 1, 0);
    const r = kmeans1d(w, { clusters: 256 });
    assert.equal(Math.max(...r.indices), 255);
    assert.equal(Math.min(...r.indices), 0);
    assertNearest(w, r);
    const odd = f32([1, 2, 3, 4, Infinity, -Infinity, NaN, -4]);
    const s = kmeans1d(odd, { clusters: 2 });
    assert.deepEqual(Array.from(s.centroids), [-4, 2.5]);
    assert.deepEqual(Array.from(s.indices), [1, 1, 1, 1, 1, 0, 1, 0]);
  });
});

/** Throughput on 16M weight-like values (MODEL_LENS_BENCH_ELEMENTS overrides; 0 skips). Printed, not asserted. */
describe('throughput', () => {
  const n = Number(process.env.MODEL_LENS_BENCH_ELEMENTS ?? 16 * 1024 * 1024);
  it(`16M-element passes (${n} elements)`, { skip: n === 0 }, (t) => {
    const w = weights(mulberry32(22), n, 0.02, 0.01);
    const cols = 4096;
    const layout: WeightLayout = { dims: [n / cols, cols], outputAxis: 1, inputAxis: 0 };
    const time = (name: string, fn: () => unknown) => {
      const t0 = performance.now();
      fn();
      const ms = performance.now() - t0;
      t.diagnostic(
        `${name.padEnd(28)} ${ms.toFixed(0).padStart(6)} ms  ${((n / ms) * 1e-3).toFixed(0).padStart(5)} M elements/s`,
      );
    };
    let q: LinearQuantized | undefined;
    time('int8 symmetric per-channel', () => (q = quantizeLinear(w, layout)));
    time('int8 dequantize', () => dequantizeLinear(q!, layout));
    time('uint8 asymmetric per-tensor', () =>
      quantizeLinear(w, layout, { symmetric: false, perChannel: false }),
    );
    time('int4 blockwise (32)', () => quantizeBlockwise(w, layout));
    time('fp16', () => toFloat16(w));
    time('bf16', () => toBfloat16(w));
    time('fixed 8-bit', () => quantizeFixed(w));
    time('ternary', () => quantizeTernary(w, layout));
    time('prune magnitude 50%', () => pruneMagnitude(w, 0.5));
    time('prune 2:4', () => pruneNM(w, layout, { n: 2, m: 4 }));
    time('prune random 50%', () => pruneRandom(w, 0.5, 1));
    time('k-means K=16', () => kmeans1d(w, { clusters: 16 }));
    time('k-means K=256', () => kmeans1d(w, { clusters: 256 }));
  });
});
