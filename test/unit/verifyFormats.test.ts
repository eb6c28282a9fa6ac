import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { onnx } from 'onnx-proto';
import { parseNpy, parseNpz } from '../../src/core/verify/npy';
import { VerifyError } from '../../src/core/verify/tensor';
import { parseTensorProto } from '../../src/core/verify/tensorProto';
import { crc32, readZip } from '../../src/core/verify/zip';

/** A .npy file as numpy writes it: magic, version, header dict padded to 64 bytes with a newline, data. */
function npy(
  descr: string,
  shape: number[],
  data: Uint8Array,
  opts: { fortran?: boolean; version?: 1 | 2 } = {},
): Uint8Array {
  const version = opts.version ?? 1;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const prefix = version === 1 ? 10 : 12;
  header += ' '.repeat(63 - ((prefix + header.length) % 64)) + '\n';
  const out = new Uint8Array(prefix + header.length + data.length);
  out.set([0x93, ...Buffer.from('NUMPY'), version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), prefix);
  out.set(data, prefix + header.length);
  return out;
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

interface ZipMember {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  zip64?: boolean;
  badCrc?: boolean;
}

/**
 * A zip archive built field by field from the PKWARE spec (APPNOTE 4.3): local headers, central
 * directory, end record; `zip64` members saturate their 32-bit sizes and carry the 64-bit ones in extra field 0x0001.
 */
function zip(members: ZipMember[], comment = ''): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const m of members) {
    const name = Buffer.from(m.name);
    const body = m.deflate ? new Uint8Array(deflateRawSync(m.data)) : m.data;
    const crc = m.badCrc ? 0xdeadbeef : crc32Reference(m.data);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);
    local.setUint16(8, m.deflate ? 8 : 0, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, body.length, true);
    local.setUint32(22, m.data.length, true);
    local.setUint16(26, name.length, true);
    parts.push(new Uint8Array(local.buffer), name, body);
    const extra = new DataView(new ArrayBuffer(m.zip64 ? 28 : 0));
    if (m.zip64) {
      extra.setUint16(0, 1, true);
      extra.setUint16(2, 24, true);
      extra.setBigUint64(4, BigInt(m.data.length), true);
      extra.setBigUint64(12, BigInt(body.length), true);
      extra.setBigUint64(20, BigInt(offset), true);
    }
    const c = new DataView(new ArrayBuffer(46));
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 45, true);
    c.setUint16(6, 45, true);
    c.setUint16(10, m.deflate ? 8 : 0, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, m.zip64 ? 0xffffffff : body.length, true);
    c.setUint32(24, m.zip64 ? 0xffffffff : m.data.length, true);
    c.setUint16(28, name.length, true);
    c.setUint16(30, extra.byteLength, true);
    c.setUint32(42, m.zip64 ? 0xffffffff : offset, true);
    central.push(new Uint8Array(c.buffer), name, new Uint8Array(extra.buffer));
    offset += 30 + name.length + body.length;
  }
  const cdSize = central.reduce((n, p) => n + p.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, members.length, true);
  end.setUint16(10, members.length, true);
  end.setUint32(12, cdSize, true);
  end.setUint32(16, offset, true);
  end.setUint16(20, comment.length, true);
  return Buffer.concat([...parts, ...central, new Uint8Array(end.buffer), Buffer.from(comment)]);
}

/** Bitwise CRC-32 (no table), independent of the implementation under test. */
function crc32Reference(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

const inflate = (data: Uint8Array, expected: number) =>
  new Uint8Array(inflateRawSync(data, { maxOutputLength: Math.max(1, expected) }));

describe('verify: .npy', () => {
  it('reads a little-endian float32 matrix', () => {
    const values = Float32Array.from([1, -2.5, 3, 0, 5e-8, -1e30]);
    const t = parseNpy(npy('<f4', [2, 3], bytesOf(values)));
    assert.equal(t.dtype, 1);
    assert.deepEqual(t.dims, [2, 3]);
    assert.deepEqual(Array.from(t.data as Float32Array), Array.from(values));
  });

  it('reads scalars, vectors and format version 2 headers', () => {
    const scalar = parseNpy(npy('<f8', [], bytesOf(Float64Array.of(Math.PI))));
    assert.deepEqual(scalar.dims, []);
    assert.equal(scalar.dtype, 11);
    assert.equal((scalar.data as Float64Array)[0], Math.PI);
    const v = parseNpy(npy('<i4', [3], bytesOf(Int32Array.of(-1, 0, 7)), { version: 2 }));
    assert.deepEqual(v.dims, [3]);
    assert.deepEqual(Array.from(v.data as Int32Array), [-1, 0, 7]);
  });

  it('maps numpy dtypes to ONNX ones: int64 to BigInt64Array, bool, float16 bits', () => {
    const i64 = parseNpy(npy('<i8', [2], bytesOf(BigInt64Array.of(-5n, 2n ** 40n))));
    assert.equal(i64.dtype, 7);
    assert.deepEqual(Array.from(i64.data as BigInt64Array), [-5n, 2n ** 40n]);
    const b = parseNpy(npy('|b1', [3], Uint8Array.of(1, 0, 1)));
    assert.equal(b.dtype, 9);
    const h = parseNpy(npy('<f2', [1], bytesOf(Uint16Array.of(0x3c00))));
    assert.equal(h.dtype, 10);
    assert.equal((h.data as Uint16Array)[0], 0x3c00);
    assert.equal(parseNpy(npy('|u1', [1], Uint8Array.of(200))).dtype, 2);
  });

  it('swaps big-endian elements', () => {
    const be = new DataView(new ArrayBuffer(8));
    be.setInt32(0, -123456, false);
    be.setInt32(4, 7, false);
    const t = parseNpy(npy('>i4', [2], new Uint8Array(be.buffer)));
    assert.deepEqual(Array.from(t.data as Int32Array), [-123456, 7]);
  });

  it('reorders Fortran-ordered arrays into C order', () => {
    // Column-major [2, 3, 2]: element (i, j, k) sits at i + 2j + 6k.
    const dims = [2, 3, 2];
    const f = Float32Array.from({ length: 12 }, (_, n) => n);
    const t = parseNpy(npy('<f4', dims, bytesOf(f), { fortran: true }));
    const expected: number[] = [];
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++) for (let k = 0; k < 2; k++) expected.push(i + 2 * j + 6 * k);
    assert.deepEqual(Array.from(t.data as Float32Array), expected);
  });

  it('refuses what it cannot read, saying why', () => {
    const err = (re: RegExp) => (e: unknown) => e instanceof VerifyError && re.test(e.message);
    assert.throws(() => parseNpy(Buffer.from('not numpy at all')), err(/not a \.npy file/));
    assert.throws(
      () => parseNpy(npy('<f4', [2, 3], new Uint8Array(20))),
      err(/20 bytes of data, but shape \(2, 3\) of <f4 needs 24/),
    );
    assert.throws(
      () => parseNpy(npy('<c8', [1], new Uint8Array(8))),
      err(/unsupported dtype '<c8'/),
    );
    const structured = npy('<f4', [1], new Uint8Array(4));
    Buffer.from(structured.buffer).write("[('a', '<f4')]", 21, 'latin1');
    assert.throws(() => parseNpy(structured), err(/unsupported dtype/));
    const huge = npy('<f4', [2 ** 20, 2 ** 20], new Uint8Array(0));
    assert.throws(() => parseNpy(huge), err(/more than the verifier's limit/));
  });
});

describe('verify: zip and .npz', () => {
  it('computes the standard CRC-32 check value', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7919) & 0xff);
    assert.equal(crc32(data), crc32Reference(data));
  });

  it('reads stored, deflated and zip64 members, after an archive comment', () => {
    const a = Buffer.from('stored member');
    const b = Buffer.from('deflated '.repeat(100));
    const c = Buffer.from('zip64 sizes');
    const entries = readZip(
      zip(
        [
          { name: 'a.txt', data: a },
          { name: 'dir/b.txt', data: b, deflate: true },
          { name: 'c', data: c, zip64: true, deflate: true },
        ],
        'a comment',
      ),
      inflate,
    );
    assert.deepEqual(
      entries.map((e) => e.name),
      ['a.txt', 'dir/b.txt', 'c'],
    );
    assert.deepEqual(Buffer.from(entries[0].data), a);
    assert.deepEqual(Buffer.from(entries[1].data), b);
    assert.deepEqual(Buffer.from(entries[2].data), c);
  });

  it('refuses corrupt archives', () => {
    const err = (re: RegExp) => (e: unknown) => e instanceof VerifyError && re.test(e.message);
    assert.throws(
      () => readZip(Buffer.from('PK but not really a zip file at all'), inflate),
      err(/not a zip archive/),
    );
    assert.throws(
      () => readZip(zip([{ name: 'x', data: Buffer.from('abc'), badCrc: true }]), inflate),
      err(/'x' fails its CRC-32 check/),
    );
    const truncated = zip([{ name: 'x', data: Buffer.alloc(100) }]);
    truncated.copyWithin(40, 140);
    assert.throws(
      () => readZip(truncated.subarray(0, truncated.length - 60), inflate),
      VerifyError,
    );
  });

  it('reads np.savez archives: arrays named by member, .npy suffix dropped', () => {
    const x = npy('<f4', [2], bytesOf(Float32Array.of(1, 2)));
    const ids = npy('<i8', [1, 3], bytesOf(BigInt64Array.of(4n, 5n, 6n)));
    const arrays = parseNpz(
      zip([
        { name: 'x.npy', data: x },
        { name: 'ids.npy', data: ids, deflate: true },
      ]),
      inflate,
    );
    assert.deepEqual(
      arrays.map((a) => a.name),
      ['x', 'ids'],
    );
    assert.deepEqual(Array.from(arrays[0].tensor.data as Float32Array), [1, 2]);
    assert.deepEqual(arrays[1].tensor.dims, [1, 3]);
    assert.deepEqual(Array.from(arrays[1].tensor.data as BigInt64Array), [4n, 5n, 6n]);
  });
});

describe('verify: TensorProto .pb', () => {
  const encode = (t: onnx.ITensorProto) => onnx.TensorProto.encode(t).finish();

  it('reads raw_data tensors with their name and dims', () => {
    const values = Float32Array.of(0.5, -1, 2, 3, 4, 5);
    const { name, tensor } = parseTensorProto(
      encode({ name: 'input', dims: [1, 2, 3], dataType: 1, rawData: bytesOf(values) }),
    );
    assert.equal(name, 'input');
    assert.deepEqual(tensor.dims, [1, 2, 3]);
    assert.deepEqual(Array.from(tensor.data as Float32Array), Array.from(values));
  });

  it('reads the typed fields: float_data, int64_data, int32_data (int8, float16, bool), uint64_data, double_data', () => {
    const f = parseTensorProto(
      encode({ dims: [3], dataType: 1, floatData: [1.5, -2, 1e-3] }),
    ).tensor;
    assert.deepEqual(
      Array.from(f.data as Float32Array),
      Array.from(Float32Array.of(1.5, -2, 1e-3)),
    );
    const i64 = parseTensorProto(
      encode({ dims: [2], dataType: 7, int64Data: [-3, '9007199254740993' as unknown as number] }),
    ).tensor;
    assert.deepEqual(Array.from(i64.data as BigInt64Array), [-3n, 9007199254740993n]);
    const i8 = parseTensorProto(encode({ dims: [2], dataType: 3, int32Data: [-128, 127] })).tensor;
    assert.deepEqual(Array.from(i8.data as Int8Array), [-128, 127]);
    const h = parseTensorProto(encode({ dims: [1], dataType: 10, int32Data: [0xc000] })).tensor;
    assert.equal((h.data as Uint16Array)[0], 0xc000);
    const b = parseTensorProto(encode({ dims: [2], dataType: 9, int32Data: [1, 0] })).tensor;
    assert.deepEqual(Array.from(b.data as Uint8Array), [1, 0]);
    const u32 = parseTensorProto(
      encode({ dims: [1], dataType: 12, uint64Data: [4294967295] }),
    ).tensor;
    assert.equal((u32.data as Uint32Array)[0], 4294967295);
    const d = parseTensorProto(encode({ dims: [], dataType: 11, doubleData: [Math.E] })).tensor;
    assert.deepEqual(d.dims, []);
    assert.equal((d.data as Float64Array)[0], Math.E);
  });

  it('refuses what it cannot feed, saying why', () => {
    const err = (re: RegExp) => (e: unknown) => e instanceof VerifyError && re.test(e.message);
    assert.throws(
      () => parseTensorProto(encode({ dims: [1], dataType: 8, stringData: [Buffer.from('a')] })),
      err(/string tensors are not supported/),
    );
    assert.throws(
      () => parseTensorProto(encode({ dims: [3], dataType: 1, floatData: [1, 2] })),
      err(/2 elements stored, but shape \[3\] needs 3/),
    );
    assert.throws(
      () => parseTensorProto(encode({ dims: [2], dataType: 1, rawData: new Uint8Array(7) })),
      err(/7 bytes of data/),
    );
    assert.throws(
      () =>
        parseTensorProto(
          encode({
            dims: [1],
            dataType: 1,
            dataLocation: 1,
            externalData: [{ key: 'location', value: 'x.bin' }],
          }),
        ),
      err(/external data/),
    );
    assert.throws(
      () => parseTensorProto(encode({ dims: [1], dataType: 16, rawData: new Uint8Array(2) })),
      err(/bfloat16 tensors are not supported/),
    );
    assert.throws(
      () => parseTensorProto(Uint8Array.of(0x0a, 0x50, 1)),
      err(/not a valid TensorProto/),
    );
  });
});
