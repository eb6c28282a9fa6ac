import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compareReconstruction,
  entropyEstimate,
  errorMetrics,
  huffmanCodebookBytes,
  huffmanCodeLengths,
} from '../../src/core/compress/metrics';
import {
  dequantizeLinear,
  dequantizeLinearRuns,
  quantizeLinear,
} from '../../src/core/compress/methods';
import { mulberry32 } from '../fixtures/onnxBuilder';

const f32 = (xs: number[]) => Float32Array.from(xs);
const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

describe('errorMetrics', () => {
  it('hand case: one element off by one', () => {
    const m = errorMetrics(f32([1, 2, 3, 4]), f32([1, 2, 3, 5]));
    close(m.mse, 0.25, 'mse');
    close(m.sqnrDb, 10 * Math.log10(30 / 1), 'sqnr');
    assert.equal(m.maxAbs, 1);
    close(m.cosine, 34 / Math.sqrt(30 * 39), 'cosine');
    assert.equal(m.sparsity, 0);
  });

  it('exact reconstruction: SQNR Infinity, cosine 1, sparsity counts exact zeros', () => {
    const w = f32([0, -1.5, 0, 2, -0]);
    const m = errorMetrics(w, w.slice());
    assert.equal(m.mse, 0);
    assert.equal(m.sqnrDb, Infinity);
    assert.equal(m.maxAbs, 0);
    assert.equal(m.cosine, 1);
    assert.equal(m.sparsity, 3 / 5);
  });

  it('zero vectors: both zero, only the original zero, only the reconstruction zero', () => {
    const both = errorMetrics(new Float32Array(3), new Float32Array(3));
    assert.equal(both.sqnrDb, Infinity);
    assert.equal(both.cosine, 1);
    assert.equal(both.sparsity, 1);
    const noise = errorMetrics(new Float32Array(2), f32([0, 0.5]));
    assert.equal(noise.sqnrDb, -Infinity);
    assert.equal(noise.cosine, 0);
    const gone = errorMetrics(f32([3, 4]), new Float32Array(2));
    assert.equal(gone.sqnrDb, 0, 'noise equals signal');
    assert.equal(gone.cosine, 0);
    assert.equal(gone.maxAbs, 4);
    const empty = errorMetrics(new Float32Array(0), new Float32Array(0));
    assert.deepEqual(empty, { mse: 0, sqnrDb: Infinity, maxAbs: 0, cosine: 1, sparsity: 0 });
  });

  it('float64 accumulation: a uniform 1e-4 relative error on a million values gives 80 dB', () => {
    const n = 1_000_000;
    const rng = mulberry32(1);
    const w = new Float32Array(n);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      w[i] = 0.5 + rng();
      y[i] = w[i] * (1 + 1e-4 * (i % 2 ? 1 : -1));
    }
    const m = errorMetrics(w, y);
    assert.ok(Math.abs(m.sqnrDb - 80) < 0.01, `${m.sqnrDb}`);
    assert.ok(m.cosine > 0.99999999 && m.cosine <= 1);
  });

  it('matching non-finite values count as exact; a NaN where the original was finite poisons the error', () => {
    const ok = errorMetrics(f32([Infinity, NaN, 1]), f32([Infinity, NaN, 1.5]));
    close(ok.mse, 0.25 / 3, 'mse');
    close(ok.sqnrDb, 10 * Math.log10(1 / 0.25), 'sqnr');
    assert.ok(Number.isNaN(errorMetrics(f32([1, 2]), f32([NaN, 2])).mse));
    assert.ok(Number.isNaN(errorMetrics(f32([1, 2]), f32([NaN, 2])).maxAbs));
  });

  it('rejects arrays of different lengths', () => {
    assert.throws(() => errorMetrics(new Float32Array(2), new Float32Array(3)), RangeError);
  });
});

describe('compareReconstruction', () => {
  it('gives the same report from run-by-run dequantization as from the whole array, for every layout', () => {
    const rng = mulberry32(21);
    const w = Float32Array.from({ length: 70000 * 3 }, () => (rng() - 0.5) * 0.2);
    w[5] = NaN;
    w[99] = Infinity;
    for (const [dims, outputAxis] of [
      [[3, 70000], 0],
      [[3, 70000], 1],
      [[70000, 3], 1],
      [[600, 350], 1],
      [[210000], 0],
    ] as const) {
      const layout = {
        dims: [...dims],
        outputAxis,
        inputAxis: dims.length > 1 ? 1 - outputAxis : 0,
      };
      for (const options of [{}, { symmetric: false }, { perChannel: false }]) {
        const q = quantizeLinear(w, layout, options);
        const whole = dequantizeLinear(q, layout);
        const gathered = new Float32Array(w.length);
        dequantizeLinearRuns(q, layout)((from, chunk) => gathered.set(chunk, from));
        assert.deepEqual(
          gathered,
          whole,
          `${JSON.stringify(dims)} ${JSON.stringify(options)}: same values`,
        );
        assert.deepEqual(
          compareReconstruction(w, dequantizeLinearRuns(q, layout)),
          compareReconstruction(w, whole),
        );
      }
    }
  });

  it('rejects runs that do not cover the original exactly once', () => {
    const w = Float32Array.of(1, 2, 3);
    assert.throws(
      () => compareReconstruction(w, (visit) => visit(0, Float32Array.of(1, 2))),
      RangeError,
    );
    assert.throws(
      () =>
        compareReconstruction(
          w,
          (visit) => (visit(1, Float32Array.of(2, 3)), visit(0, Float32Array.of(1))),
        ),
      RangeError,
    );
  });
});

describe('entropyEstimate and Huffman', () => {
  it('CLRS example: code lengths 1,3,3,3,4,4 and 224 bits', () => {
    // a:45 b:13 c:12 d:16 e:9 f:5 (thousands) → a=0, b=101, c=100, d=111, e=1101, f=1100.
    const lengths = huffmanCodeLengths(Float64Array.from([45, 13, 12, 16, 9, 5]));
    assert.deepEqual(Array.from(lengths), [1, 3, 3, 3, 4, 4]);
    const symbols = new Uint8Array(100);
    let i = 0;
    [45, 13, 12, 16, 9, 5].forEach((count, s) => symbols.fill(s, i, (i += count)));
    const e = entropyEstimate(symbols, 6);
    assert.equal(e.huffmanBytes, 224 / 8 + huffmanCodebookBytes(6, 6));
    // Few distinct 16-bit symbols pay for (symbol, length) pairs, not a 65,536-entry table.
    assert.equal(
      entropyEstimate(Uint16Array.from([7, 7, 9, 65535]), 65536).huffmanBytes,
      Math.ceil(6 / 8) + 3 * 3,
    );
    const p = [0.45, 0.13, 0.12, 0.16, 0.09, 0.05];
    close(e.bitsPerWeight, -p.reduce((s, x) => s + x * Math.log2(x), 0), 'entropy');
  });

  it('uniform symbols: entropy log2(k) bits, Huffman exactly that', () => {
    const s = new Uint8Array(1024).map((_, i) => i % 16);
    const e = entropyEstimate(s, 256);
    close(e.bitsPerWeight, 4, 'entropy');
    // 16 used symbols as (symbol, length) pairs: 32 bytes beat a 256-byte length table.
    assert.equal(e.huffmanBytes, 512 + 16 * 2);
  });

  it('signed symbols are centred on the alphabet: ternary codes with 3, int4 with 16', () => {
    const t = Int8Array.from([-1, 0, 0, 1, 0, 0, 0, 0]);
    const e = entropyEstimate(t, 3);
    const p = [1 / 8, 6 / 8, 1 / 8];
    close(e.bitsPerWeight, -p.reduce((s, x) => s + x * Math.log2(x), 0), 'entropy');
    // Lengths 1 (zero), 2, 2: 6 + 2 + 2 = 10 bits → 2 bytes.
    assert.equal(e.huffmanBytes, 2 + 3);
    assert.doesNotThrow(() => entropyEstimate(Int8Array.from([-8, 7]), 16));
    assert.throws(() => entropyEstimate(Int8Array.from([-2]), 3), RangeError);
    assert.throws(() => entropyEstimate(Uint8Array.from([16]), 16), RangeError);
  });

  it('one symbol costs one bit each plus its header entry; no symbols cost nothing', () => {
    const e = entropyEstimate(new Uint8Array(17), 4);
    assert.equal(e.bitsPerWeight, 0);
    assert.equal(e.huffmanBytes, 3 + 2);
    assert.deepEqual(entropyEstimate(new Uint16Array(0), 2), { bitsPerWeight: 0, huffmanBytes: 0 });
  });

  it('Huffman average length lies within [entropy, entropy + 1) and the code is complete (Kraft sum 1)', () => {
    const rng = mulberry32(2);
    for (let trial = 0; trial < 20; trial++) {
      const k = 2 + Math.floor(rng() * 300);
      const freq = Float64Array.from({ length: k }, () =>
        rng() < 0.2 ? 0 : Math.floor(rng() ** 4 * 1e6) + 1,
      );
      freq[0] = 1;
      freq[1] = 1e7;
      const lengths = huffmanCodeLengths(freq);
      const total = freq.reduce((a, b) => a + b, 0);
      let avg = 0;
      let h = 0;
      let kraft = 0;
      for (let s = 0; s < k; s++) {
        if (freq[s] === 0) {
          assert.equal(lengths[s], 0);
          continue;
        }
        const p = freq[s] / total;
        avg += p * lengths[s];
        h -= p * Math.log2(p);
        kraft += 2 ** -lengths[s];
      }
      assert.ok(avg >= h - 1e-9 && avg < h + 1, `trial ${trial}: ${avg} vs ${h}`);
      close(kraft, 1, 'Kraft sum');
    }
  });

  it('16-bit symbols (fp16 patterns) with a 65,536-symbol alphabet', () => {
    const s = Uint16Array.from([0x3c00, 0x3c00, 0xbc00, 0]);
    const e = entropyEstimate(s, 65536);
    close(e.bitsPerWeight, 1.5, 'entropy');
    assert.equal(e.huffmanBytes, 1 + 3 * 3);
  });
});
