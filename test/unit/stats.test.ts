import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemorySource } from '../../src/core/io/source';
import type { TensorRef } from '../../src/core/model';
import {
  HistogramBuilder,
  binEdges,
  computeTensorStats,
  histogramEntropy,
} from '../../src/core/stats/compute';
import { onnx } from 'onnx-proto';
import { CHUNK_ELEMENTS, readRawFloat32, streamElements } from '../../src/core/stats/decode';
import { float16Table, smallFloatLookup } from '../../src/core/stats/elements';
import { FloatScratch } from '../../src/core/scratch';
import { mulberry32 } from '../fixtures/onnxBuilder';

function rawTensor(values: Float32Array): { source: MemorySource; ref: TensorRef } {
  const bytes = new Uint8Array(values.buffer.slice(0));
  return {
    source: new MemorySource(bytes),
    ref: {
      name: 't',
      dtype: 1,
      dims: [values.length],
      count: values.length,
      bytes: bytes.length,
      origin: 'test',
      scope: '',
      storage: { kind: 'range', offset: 0, length: bytes.length },
    },
  };
}

/** A float32 TensorProto holding `values` as `field` (9 raw_data, 4 float_data), `pieces` occurrences of it, packed or not. */
function protoTensor(
  values: Float32Array,
  field: 4 | 9,
  pieces = 1,
  packed = true,
): { source: MemorySource; ref: TensorRef } {
  const parts: Uint8Array[] = [
    onnx.TensorProto.encode({ name: 't', dataType: 1, dims: [values.length] }).finish(),
  ];
  const per = Math.ceil(values.length / pieces);
  for (let at = 0; at < values.length; at += per) {
    const v = values.subarray(at, at + per);
    if (!packed) {
      for (const x of v)
        parts.push(Uint8Array.of((field << 3) | 5), new Uint8Array(Float32Array.of(x).buffer));
      continue;
    }
    const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    const length: number[] = [];
    for (let n = bytes.length; ; n >>>= 7) {
      length.push(n >= 0x80 ? (n & 0x7f) | 0x80 : n);
      if (n < 0x80) break;
    }
    parts.push(Uint8Array.of((field << 3) | 2, ...length), bytes);
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (all.set(p, at), at + p.length), 0);
  const storage = {
    kind: 'proto' as const,
    start: 0,
    end: all.length,
    field,
    wire: field === 9 ? ('bytes' as const) : ('f32' as const),
  };
  return {
    source: new MemorySource(all),
    ref: {
      name: 't',
      dtype: 1,
      dims: [values.length],
      count: values.length,
      bytes: values.length * 4,
      origin: 'test',
      scope: '',
      storage,
    },
  };
}

describe('stats engine', () => {
  it('reads one raw_data or packed float_data field of a TensorProto straight into the array, and declines other layouts', () => {
    const rng = mulberry32(12);
    const v = Float32Array.from({ length: 3000 }, () => rng() - 0.5);
    v[7] = NaN;
    const layouts: [string, ReturnType<typeof protoTensor>, boolean][] = [
      ['raw_data', protoTensor(v, 9), true],
      ['packed float_data', protoTensor(v, 4), true],
      ['raw_data split over two fields', protoTensor(v, 9, 2), false],
      ['unpacked float_data', protoTensor(v, 4, 1, false), false],
    ];
    for (const [label, { source, ref }, direct] of layouts) {
      const into = new Float32Array(v.length);
      assert.equal(
        readRawFloat32(source, ref, () => assert.fail(), into),
        direct,
        label,
      );
      if (direct) assert.deepEqual(into, v, label);
      const streamed = new Float32Array(v.length);
      let at = 0;
      streamElements(
        source,
        ref,
        () => assert.fail(),
        (chunk, n) => {
          for (let i = 0; i < n; i++) streamed[at++] = chunk[i];
        },
      );
      assert.deepEqual(streamed, v, `${label}: streamed`);
    }
  });

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
    assert.ok(
      Math.abs(s.std! - Math.sqrt(m2 / n)) / Math.sqrt(m2 / n) < 1e-6,
      'std keeps precision when mean >> std',
    );
    assert.equal(s.min, 0);
    assert.equal(s.zeros, 1);
    assert.equal(
      s.histogram.counts.reduce((a, b) => a + b, 0),
      n,
    );
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
    assert.deepEqual(
      computeTensorStats(counting, ref, () => assert.fail(), options, {
        scratch,
        limit: ref.bytes,
      }),
      streamed,
    );
    assert.equal(bytesRead, ref.bytes, 'within the limit the tensor is read once');
    bytesRead = 0;
    assert.deepEqual(
      computeTensorStats(counting, ref, () => assert.fail(), options, {
        scratch,
        limit: ref.bytes - 4,
      }),
      streamed,
    );
    assert.equal(bytesRead, 2 * ref.bytes, 'past the limit the second pass reads the tensor again');
  });

  it('keeps small values next to huge ones in the mean (compensated summation)', () => {
    const bytes = new Uint8Array(Float64Array.from([1e100, 1, -1e100, 2]).buffer);
    const ref: TensorRef = {
      name: 'd',
      dtype: 11,
      dims: [4],
      count: 4,
      bytes: 32,
      origin: 'test',
      scope: '',
      storage: { kind: 'range', offset: 0, length: 32 },
    };
    assert.equal(
      computeTensorStats(new MemorySource(bytes), ref, () => assert.fail(), {
        bins: 8,
        nearZero: 0,
      }).mean,
      0.75,
    );
  });

  it('near-zero threshold counts small magnitudes as zeros', () => {
    const { source, ref } = rawTensor(Float32Array.from([0, 1e-4, -1e-4, 0.5, -0.5]));
    assert.equal(
      computeTensorStats(source, ref, () => assert.fail(), { bins: 8, nearZero: 1e-3 }).zeros,
      3,
    );
    assert.equal(
      computeTensorStats(source, ref, () => assert.fail(), { bins: 8, nearZero: 0 }).zeros,
      1,
    );
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
    for (const [lo, hi] of [
      [1e6, 1e6 + 1e-3],
      [-1, 1],
      [0.1, 0.10000001],
      [-3e38, 3e38],
    ]) {
      const h = new HistogramBuilder(lo, hi, 256);
      const edges = binEdges(lo, hi, 256);
      const values = Float64Array.from({ length: 20000 }, (_, i) =>
        i % 4 === 0 ? edges[i % 257] : lo + rng() * (hi - lo),
      );
      h.add(values, values.length);
      // Reference: numpy's rule straight from the edges (the last bin is closed).
      const expected = new Uint32Array(256);
      for (const x of values) {
        let b = 0;
        while (b < 255 && x >= edges[b + 1]) b++;
        expected[b]++;
      }
      assert.deepEqual(
        Array.from(h.histogram().counts),
        Array.from(expected),
        `range [${lo}, ${hi}]`,
      );
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
