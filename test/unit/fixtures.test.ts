import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import {
  FIXTURE_FILES,
  KNOWN_BIAS,
  KNOWN_WEIGHT,
  NEW_DTYPE_MIN,
  dtypeCases,
  writeFixtures,
} from '../fixtures/models';
import { DT, bf16Bits, f16Bits, rawBytes, tensor, varint } from '../fixtures/onnxBuilder';

/** A decoded message as protobufjs fills it: repeated fields [], scalars defaulted, sub-messages assumed present. */
type Decoded<T> = T extends Uint8Array
  ? T
  : T extends readonly (infer U)[]
    ? Decoded<NonNullable<U>>[]
    : T extends object
      ? { [K in keyof T]-?: Decoded<NonNullable<T[K]>> }
      : T;
type Model = Decoded<onnx.IModelProto>;

const decode = (path: string): Model =>
  onnx.ModelProto.decode(readFileSync(path)) as unknown as Model;
const initNames = (m: Model): string[] => m.graph.initializer.map((t) => t.name);

describe('fixture builder encodings', () => {
  it('converts to float16 bits with round-to-nearest-even, subnormals and specials', () => {
    assert.equal(f16Bits(1), 0x3c00);
    assert.equal(f16Bits(-2), 0xc000);
    assert.equal(f16Bits(65504), 0x7bff);
    assert.equal(f16Bits(65520), 0x7c00); // halfway above max rounds to even: infinity
    assert.equal(f16Bits(2 ** -24), 0x0001);
    assert.equal(f16Bits(2 ** -25), 0x0000); // tie to even: zero
    assert.equal(f16Bits(3 * 2 ** -25), 0x0002);
    assert.equal(f16Bits(-0), 0x8000);
    assert.equal(f16Bits(-Infinity), 0xfc00);
    assert.equal(f16Bits(NaN) & 0x7c00, 0x7c00);
    assert.notEqual(f16Bits(NaN) & 0x3ff, 0);
    assert.equal(f16Bits(1 + 2 ** -11), 0x3c00); // tie: mantissa stays even
    assert.equal(f16Bits(1 + 3 * 2 ** -11), 0x3c02);
  });

  it('converts to bfloat16 bits with round-to-nearest-even', () => {
    assert.equal(bf16Bits(1), 0x3f80);
    assert.equal(bf16Bits(-1.5), 0xbfc0);
    assert.equal(bf16Bits(1 + 2 ** -8), 0x3f80);
    assert.equal(bf16Bits(1 + 3 * 2 ** -8), 0x3f82);
    assert.equal(bf16Bits(Infinity), 0x7f80);
    assert.ok((bf16Bits(NaN) & 0x7f) !== 0 && (bf16Bits(NaN) & 0x7f80) === 0x7f80);
  });

  it('packs 4- and 2-bit elements low bits first, padding the last byte', () => {
    assert.deepEqual([...rawBytes(DT.INT4, [1, -1, 7])], [0xf1, 0x07]);
    assert.deepEqual([...rawBytes(DT.UINT4, [15, 0, 3])], [0x0f, 0x03]);
    assert.deepEqual([...rawBytes(DT.INT2, [-2, -1, 0, 1, 1])], [0b01001110, 0b01]);
  });

  it('writes little-endian 64-bit integers from bigints', () => {
    assert.deepEqual([...rawBytes(DT.INT64, [-1n])], [255, 255, 255, 255, 255, 255, 255, 255]);
    assert.deepEqual([...rawBytes(DT.UINT64, [2n ** 63n])], [0, 0, 0, 0, 0, 0, 0, 0x80]);
  });

  it('writes 64-bit typed fields exactly, beyond 2^53', () => {
    const wire = (dtype: number, v: bigint, tag: number): number[] => {
      const b = [
        ...onnx.TensorProto.encode(tensor('', dtype, [1], [v], { encoding: 'typed' })).finish(),
      ];
      const at = b.indexOf(tag); // dims and data_type come first and never hold these tag bytes
      return b.slice(at, at + 2 + b[at + 1]);
    };
    // int64_data = 7 (packed): tag 0x3a, length 10, the ten-byte varint of -2^63.
    assert.deepEqual(
      wire(DT.INT64, -(2n ** 63n), 0x3a),
      [0x3a, 10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
    );
    // uint64_data = 11 (packed): tag 0x5a, the ten-byte varint of 2^64 - 1.
    assert.deepEqual(
      wire(DT.UINT64, 2n ** 64n - 1n, 0x5a),
      [0x5a, 10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    );
  });

  it('encodes varints beyond 32 bits', () => {
    assert.deepEqual([...varint(300)], [0xac, 0x02]);
    assert.deepEqual([...varint(2 ** 35)], [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
  });
});

describe('generated fixtures', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ml-fixtures-'));
    writeFixtures(dir, { largeMB: 3 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('are byte-for-byte deterministic', () => {
    const again = mkdtempSync(join(tmpdir(), 'ml-fixtures-'));
    try {
      writeFixtures(again);
      for (const f of [...FIXTURE_FILES, 'external/model.onnx.data']) {
        assert.ok(readFileSync(join(dir, f)).equals(readFileSync(join(again, f))), f);
      }
    } finally {
      rmSync(again, { recursive: true, force: true });
    }
  });

  it('mlp.onnx holds the known weight exactly', () => {
    const m = decode(join(dir, 'mlp.onnx'));
    assert.deepEqual(initNames(m), [
      'fc1.weight',
      'fc1.bias',
      'fc2.weight',
      'fc2.bias',
      'fc_known.weight',
      'fc_known.bias',
    ]);
    const known = m.graph.initializer.find((t) => t.name === KNOWN_WEIGHT.name)!;
    assert.deepEqual(known.dims.map(Number), KNOWN_WEIGHT.dims);
    const raw = known.rawData;
    const values = new Float32Array(
      raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength),
    );
    assert.deepEqual([...values], [...KNOWN_WEIGHT.values]);
    const bias = m.graph.initializer.find((t) => t.name === 'fc_known.bias')!;
    assert.deepEqual(bias.floatData, [...KNOWN_BIAS]);
    assert.deepEqual(
      m.graph.node.map((n) => n.opType),
      ['MatMul', 'Add', 'Relu', 'MatMul', 'Add', 'Relu', 'MatMul', 'Add'],
    );
  });

  it('cnn.onnx is Conv/Relu/MaxPool/Conv/Relu/GlobalAveragePool/Flatten/Gemm', () => {
    const m = decode(join(dir, 'cnn.onnx'));
    assert.deepEqual(
      m.graph.node.map((n) => n.opType),
      ['Conv', 'Relu', 'MaxPool', 'Conv', 'Relu', 'GlobalAveragePool', 'Flatten', 'Gemm'],
    );
    assert.equal(m.graph.initializer.length, 6);
    const gemm = m.graph.node[7];
    assert.equal(Number(gemm.attribute.find((a) => a.name === 'transB')!.i), 1);
  });

  it('constants.onnx keeps every weight in Constant nodes', () => {
    const m = decode(join(dir, 'constants.onnx'));
    assert.equal(m.graph.initializer.length, 0);
    const consts = m.graph.node.filter((n) => n.opType === 'Constant');
    assert.deepEqual(
      consts.map((n) => n.output[0]),
      ['linear_0.w_0', 'linear_0.b_0', 'linear_1.w_0', 'linear_1.b_0'],
    );
    assert.ok(consts.every((n) => n.attribute[0].name === 'value' && n.attribute[0].t));
  });

  it('subgraph_if.onnx has Constant weights in both branches and an outer-scope initializer', () => {
    const m = decode(join(dir, 'subgraph_if.onnx'));
    const ifNode = m.graph.node[0];
    assert.equal(ifNode.opType, 'If');
    const branch = (name: string): Decoded<onnx.IGraphProto> =>
      ifNode.attribute.find((a) => a.name === name)!.g;
    assert.equal(branch('then_branch').node[0].output[0], 'then.w');
    assert.equal(branch('else_branch').node[0].output[0], 'else.w');
    assert.ok(branch('then_branch').node.some((n) => n.input.includes('shared.weight')));
    assert.deepEqual(initNames(m), ['shared.weight']);
  });

  it('external/model.onnx points into model.onnx.data at aligned, in-bounds ranges', () => {
    const m = decode(join(dir, 'external/model.onnx'));
    const dataSize = statSync(join(dir, 'external/model.onnx.data')).size;
    const ext = m.graph.initializer.filter(
      (t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL,
    );
    assert.deepEqual(
      ext.map((t) => t.name),
      ['ext.fc1.weight', 'ext.fc1.bias', 'ext.fc2.weight'],
    );
    for (const t of ext) {
      const kv = Object.fromEntries(t.externalData.map((e) => [e.key, e.value]));
      assert.equal(kv.location, 'model.onnx.data');
      const count = t.dims.reduce((a: number, d) => a * Number(d), 1);
      assert.equal(Number(kv.length), count * 4);
      assert.equal(Number(kv.offset) % 4096, 0);
      assert.ok(Number(kv.offset) + Number(kv.length) <= dataSize);
      assert.equal(t.rawData.length, 0);
    }
  });

  it('dtypes.onnx has every dtype case with its storage', () => {
    const m = decode(join(dir, 'dtypes.onnx'));
    const cases = dtypeCases();
    assert.deepEqual(
      initNames(m),
      cases.map((c) => c.name),
    );
    for (const [i, c] of cases.entries()) {
      const t = m.graph.initializer[i];
      assert.equal(t.dataType, c.dtype, c.name);
      assert.equal(t.rawData.length > 0, c.encoding === 'raw' && c.values.length > 0, c.name);
    }
    assert.ok(cases.some((c) => c.dtype >= NEW_DTYPE_MIN && c.encoding === 'typed'));
    assert.equal(m.graph.node.length, cases.length);
  });

  it('sparse.onnx has linear and coordinate sparse initializers', () => {
    const m = decode(join(dir, 'sparse.onnx'));
    const sp = m.graph.sparseInitializer;
    assert.deepEqual(
      sp.map((s) => s.values.name),
      ['sparse.w1', 'sparse.w2'],
    );
    assert.deepEqual(
      sp.map((s) => s.indices.dims.map(Number)),
      [[20], [6, 2]],
    );
  });

  it('function.onnx calls a local function whose body holds a Constant weight', () => {
    const m = decode(join(dir, 'function.onnx'));
    assert.equal(m.functions.length, 1);
    assert.equal(m.functions[0].node[0].opType, 'Constant');
    assert.equal(m.graph.node[0].domain, 'local');
  });

  it('big.onnx is streamed into a valid protobuf of about the requested size', () => {
    const path = join(dir, 'big.onnx');
    const m = decode(path);
    const bytes = m.graph.initializer.reduce((a, t) => a + t.rawData.length, 0);
    assert.ok(Math.abs(bytes - 3 * 2 ** 20) < 2 ** 20, `${bytes} bytes of weights`);
    for (const t of m.graph.initializer) {
      assert.equal(
        t.rawData.length,
        t.dims.reduce((a: number, d) => a * Number(d), 4),
        t.name,
      );
    }
    assert.ok(statSync(path).size > bytes);
    assert.equal(
      m.graph.node.filter((n) => n.opType === 'MatMul').length,
      m.graph.initializer.length / 2,
    );
  });
});
