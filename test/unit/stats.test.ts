import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemorySource } from '../../src/core/io/source';
import type { TensorRef } from '../../src/core/model';
import { HistogramBuilder, binEdges, computeTensorStats, histogramEntropy } from '../../src/core/stats/compute';
import { CHUNK_ELEMENTS } from '../../src/core/stats/decode';
import { float16Table, smallFloatLookup } from '../../src/core/stats/elements';
import { FloatScratch } from '../../src/core/scratch';
import { mulberry32 } from '../fixtures/onnxBuilder';

function rawTensor(values: Float32Array): { source: MemorySource; ref: TensorRef } {
  const bytes = new Uint8Array(values.buffer.slice(0));
  return {
    source: new MemorySource(bytes),
    ref: { name: 't', dtype: 1, dims: [values.length], count: values.length, bytes: bytes.length, origin: 'test', scope: '', storage: { kind: 'range', offset: 0, length: bytes.length } },
  };
}

describe('stats engine', () => {
  it('matches a naive float64 two-pass computation across many chunks', () => {
    const rng = mulberry32(9);
    const n = CHUNK_ELEMENTS * 3 + 1234;
    const v = Float32Array.from({ length: n }, () => 1000 + (rng() - 0.5) * 0.001);
    v[17] = 0;
    const { source, ref } = rawTensor(v);
    const s = computeTensorStats(source, ref, () => assert.fail(), { bins: 64, nearZero: 0 });
    let sum = 0;
    for (const x of v) sum += x;
    const mean = sum / n;
    let m2 = 0;
    for (const x of v) m2 += (x - mean) ** 2;
    assert.equal(s.count, n);
    assert.ok(Math.abs(s.mean! - mean) / mean < 1e-12);
    assert.ok(Math.abs(s.std! - Math.sqrt(m2 / n)) / Math.sqrt(m2 / n) < 1e-6, 'std keeps precision when mean >> std');
    assert.equal(s.min, 0);
    assert.equal(s.zeros, 1);
    assert.equal(s.histogram.counts.reduce((a, b) => a + b, 0), n);
  });

  it('gives the same statistics when a thread keeps the values between passes, within its limit or not', () => {
    const rng = mulberry32(4);
    const v = Float32Array.from({ length: CHUNK_ELEMENTS * 2 + 77 }, () => (rng() - 0.5) * 0.1);
    v[5] = NaN;
    v[9] = Infinity;
    const { source, ref } = rawTensor(v);
    const options = { bins: 256, nearZero: 0 };
    const streamed = computeTensorStats(source, ref, () => assert.fail(), options);
    let bytesRead = 0;
    const counting = {
      name: 'counting',
      size: () => source.size(),
      read(offset: number, into: Uint8Array): number {
        const n = source.read(offset, into);
        bytesRead += n;
        return n;
      },
    };
    const scratch = new FloatScratch();
    assert.deepEqual(computeTensorStats(counting, ref, () => assert.fail(), options, { scratch, limit: ref.bytes }), streamed);
    assert.equal(bytesRead, ref.bytes, 'within the limit the tensor is read once');
    bytesRead = 0;
    assert.deepEqual(computeTensorStats(counting, ref, () => assert.fail(), options, { scratch, limit: ref.bytes - 4 }), streamed);
    assert.equal(bytesRead, 2 * ref.bytes, 'past the limit the second pass reads the tensor again');
  });

  it('keeps small values next to huge ones in the mean (compensated summation)', () => {
    const bytes = new Uint8Array(Float64Array.from([1e100, 1, -1e100, 2]).buffer);
    const ref: TensorRef = { name: 'd', dtype: 11, dims: [4], count: 4, bytes: 32, origin: 'test', scope: '', storage: { kind: 'range', offset: 0, length: 32 } };
    assert.equal(computeTensorStats(new MemorySource(bytes), ref, () => assert.fail(), { bins: 8, nearZero: 0 }).mean, 0.75);
  });

  it('near-zero threshold counts small magnitudes as zeros', () => {
    const { source, ref } = rawTensor(Float32Array.from([0, 1e-4, -1e-4, 0.5, -0.5]));
    assert.equal(computeTensorStats(source, ref, () => assert.fail(), { bins: 8, nearZero: 1e-3 }).zeros, 3);
    assert.equal(computeTensorStats(source, ref, () => assert.fail(), { bins: 8, nearZero: 0 }).zeros, 1);
  });

  it('bins like numpy.histogram: right edge closed, values on inner edges go right', () => {
    const h = new HistogramBuilder(0, 4, 4);
    h.add(Float64Array.from([0, 1, 2, 3, 4, 0.999999]), 6);
    assert.deepEqual(Array.from(h.histogram().counts), [2, 1, 1, 2]);
    const flat = new HistogramBuilder(3, 3, 2);
    assert.equal(flat.first, 2.5);
    assert.equal(flat.last, 3.5);
    assert.deepEqual(Array.from(binEdges(0, 1, 4)), [0, 0.25, 0.5, 0.75, 1]);
  });

  it('bins far-from-zero ranges and values on edges exactly as the edge table says', () => {
    const rng = mulberry32(3);
    for (const [lo, hi] of [[1e6, 1e6 + 1e-3], [-1, 1], [0.1, 0.10000001], [-3e38, 3e38]]) {
      const h = new HistogramBuilder(lo, hi, 256);
      const edges = binEdges(lo, hi, 256);
      const values = Float64Array.from({ length: 20000 }, (_, i) => (i % 4 === 0 ? edges[i % 257] : lo + rng() * (hi - lo)));
      h.add(values, values.length);
      // Reference: numpy's rule straight from the edges (the last bin is closed).
      const expected = new Uint32Array(256);
      for (const x of values) {
        let b = 0;
        while (b < 255 && x >= edges[b + 1]) b++;
        expected[b]++;
      }
      assert.deepEqual(Array.from(h.histogram().counts), Array.from(expected), `range [${lo}, ${hi}]`);
    }
  });

  it('entropy is log2 of the bins for a uniform histogram and 0 for one bin', () => {
    assert.equal(histogramEntropy(Uint32Array.from([5, 5, 5, 5])), 2);
    assert.equal(histogramEntropy(Uint32Array.from([0, 9, 0])), 0);
  });

  it('decodes narrow float formats to their defined values', () => {
    const f16 = float16Table();
    assert.equal(f16[0x3c00], 1);
    assert.equal(f16[0x7bff], 65504);
    assert.equal(f16[0x0001], 2 ** -24);
    assert.ok(Number.isNaN(f16[0x7e00]));
    const e4m3 = smallFloatLookup(17)!;
    assert.equal(e4m3[0x7e], 448);
    assert.ok(Number.isNaN(e4m3[0x7f]));
    assert.equal(e4m3[0x01], 2 ** -9);
    const e4m3fnuz = smallFloatLookup(18)!;
    assert.ok(Number.isNaN(e4m3fnuz[0x80]));
    assert.equal(e4m3fnuz[0x7f], 240);
    const e5m2 = smallFloatLookup(19)!;
    assert.equal(e5m2[0x7c], Infinity);
    assert.equal(e5m2[0x7b], 57344);
    const e5m2fnuz = smallFloatLookup(20)!;
    assert.equal(e5m2fnuz[0x7f], 57344);
    const f4 = smallFloatLookup(23)!;
    assert.deepEqual(Array.from(f4.subarray(0, 8)), [0, 0.5, 1, 1.5, 2, 3, 4, 6]);
  });
});
