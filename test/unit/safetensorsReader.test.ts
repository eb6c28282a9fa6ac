import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InvalidModelError } from '../../src/core/errors';
import { readModel } from '../../src/core/formats';
import { MAX_SAFETENSORS_HEADER_BYTES } from '../../src/core/formats/safetensors/header';
import { naturalCompare, SHARD_OF_PROPERTY } from '../../src/core/formats/safetensors/reader';
import { MemorySource } from '../../src/core/io/source';
import type { Model, TensorRef } from '../../src/core/model';
import { streamElements } from '../../src/core/stats/decode';
import { FileSource, FolderResolver } from '../../src/node/fileSource';
import {
  bf16Values,
  dtypeTensors,
  int8Model,
  rawSafetensors,
  serializeSafetensors,
  shardedModel,
  singleModel,
  ST_KNOWN,
  ST_METADATA,
  writeSafetensorsFixtures,
} from '../fixtures/safetensors';
import { openModel } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'ml-safetensors-'));
writeSafetensorsFixtures(dir);
after(() => rmSync(dir, { recursive: true, force: true }));
const st = (rel: string) => join(dir, 'safetensors', rel);

function values(file: string, ref: TensorRef): number[] {
  const source = new FileSource(file);
  const resolver = new FolderResolver(file);
  try {
    const out: number[] = [];
    streamElements(
      source,
      ref,
      (f) => resolver.open(f),
      (v, n) => out.push(...v.subarray(0, n)),
    );
    return out;
  } finally {
    source.close();
    resolver.close();
  }
}

function open(file: string): Model {
  const m = openModel(file);
  m.close();
  return m.model;
}

function memory(bytes: Uint8Array, name = 'x.safetensors'): Model {
  return readModel(new MemorySource(bytes, name), name);
}

function refuses(bytes: Uint8Array, pattern: RegExp, name = 'x.safetensors'): void {
  assert.throws(
    () => memory(bytes, name),
    (err: unknown) => {
      assert.ok(err instanceof InvalidModelError, `expected InvalidModelError, got ${String(err)}`);
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes('\n'), 'one-line message');
      return true;
    },
  );
}

describe('safetensors reader: single file', () => {
  it('lists tensors in data order with ONNX dtype codes, metadata and dotted-prefix layers', () => {
    const model = open(st('model.safetensors'));
    const { tensors } = singleModel();
    assert.equal(model.format, 'safetensors');
    assert.equal(model.fileBytes, readFileSync(st('model.safetensors')).length);
    assert.deepEqual(
      model.tensors.map((t) => t.name),
      tensors.map((t) => t.name),
    );
    assert.deepEqual(
      model.tensors.map((t) => t.dtype),
      [1, 16, 10, 1, 1, 1, 1, 1],
    );
    assert.deepEqual(model.tensors[0].dims, [32, 16]);
    assert.equal(model.tensors[0].count, 512);
    assert.equal(model.tensors[0].bytes, 2048);
    assert.equal(model.tensors[0].file, undefined, 'one-file models leave file unset');
    assert.deepEqual(
      model.metadata.properties,
      Object.entries(ST_METADATA).map(([key, value]) => ({ key, value })),
    );
    assert.equal(model.nodeCount, 0);
    assert.deepEqual(model.warnings, []);
    assert.deepEqual(
      model.layers.map((l) => l.name),
      [
        'known',
        'lm_head',
        'model.embed_tokens',
        'model.layers.0.input_layernorm',
        'model.layers.0.mlp.up_proj',
        'model.layers.0.self_attn.q_proj',
        'model.layers.2.mlp.down_proj',
        'model.layers.10.mlp.down_proj',
      ],
    );
    for (const l of model.layers) {
      assert.equal(l.op, '');
      assert.deepEqual(
        l.slots,
        l.tensors.map(() => -1),
      );
      for (const i of l.tensors) assert.ok(model.tensors[i].name.startsWith(l.name + '.'));
    }
  });

  it('gives exact statistics for known values, bf16 and fp16', () => {
    const m = openModel(st('model.safetensors'));
    try {
      const s = m.stats(ST_KNOWN.name);
      assert.equal(s.min, ST_KNOWN.min);
      assert.equal(s.max, ST_KNOWN.max);
      assert.ok(Math.abs(s.mean! - ST_KNOWN.mean) < 1e-12);
      assert.ok(Math.abs(s.std! - ST_KNOWN.std) < 1e-12);
      assert.equal(s.zeros, ST_KNOWN.zeros);
      const { tensors } = singleModel();
      const q = tensors[1];
      const qv = bf16Values(
        new Uint16Array(q.data.buffer.slice(q.data.byteOffset, q.data.byteOffset + q.data.length)),
      );
      const sq = m.stats(q.name);
      assert.equal(sq.min, Math.min(...qv));
      assert.equal(sq.max, Math.max(...qv));
      const up = m.stats('model.layers.0.mlp.up_proj.weight');
      assert.equal(up.count, 512);
      assert.equal(up.nan + up.inf, 0);
    } finally {
      m.close();
    }
  });

  it('decodes every dtype, and lists complex and 6-bit floats without statistics', () => {
    const file = st('dtypes.safetensors');
    const model = open(file);
    const byName = new Map(model.tensors.map((t) => [t.name, t]));
    assert.equal(model.tensors.length, dtypeTensors().length);
    const expect: Record<string, number[]> = {
      f64: [0, -0, 1.5, -2.25, 1e150, -1e-310, Infinity, -Infinity, NaN, 3],
      f32: [0, 1, -1, 3.4028234663852886e38, Math.fround(1e-45), NaN, -Infinity, Math.fround(0.1)],
      f16: [0, 1, -2, 65504, 2 ** -24, Infinity, -Infinity, NaN, -0],
      bf16: [0, 1, -3, 3.3895313892515355e38, 9.183549615799121e-41, Infinity, NaN, -0],
      i64: [0, -1, 9007199254740991, -9007199254740991, 123],
      u64: [0, 1, 9007199254740991, 42],
      i32: [-2147483648, 2147483647, 0, -5, 7, 0],
      u32: [0, 4294967295, 17],
      i16: [-32768, 32767, 0, -1, 300],
      u16: [0, 65535, 1000],
      i8: [-128, 127, 0, -1, 5, 0],
      u8: [0, 255, 128, 1],
      bool: [1, 0, 1, 1, 0, 0],
      f8_e4m3: [0, 1, -1, 448, NaN, 2 ** -9, -0, 3],
      f8_e5m2: [0, 1, -1, 57344, Infinity, -Infinity, NaN, 2 ** -16],
      f8_e8m0: [1, 2 ** -127, 2 ** 127, NaN, 2, 0.5],
      f4: [0.5, 1, 6, -0, -6, 0],
      scalar: [-7.5],
      empty: [],
    };
    const codes: Record<string, number> = {
      f64: 11,
      f32: 1,
      f16: 10,
      bf16: 16,
      i64: 7,
      u64: 13,
      i32: 6,
      u32: 12,
      i16: 5,
      u16: 4,
      i8: 3,
      u8: 2,
      bool: 9,
      f8_e4m3: 17,
      f8_e5m2: 19,
      f8_e8m0: 24,
      f4: 23,
      c64: 14,
      f6: 0,
    };
    for (const [name, code] of Object.entries(codes))
      assert.equal(byName.get(name)!.dtype, code, name);
    for (const [name, want] of Object.entries(expect)) {
      assert.deepEqual(values(file, byName.get(name)!), want, name);
    }
    for (const name of ['c64', 'f6']) {
      const t = byName.get(name)!;
      assert.equal(t.storage.kind, 'none', name);
      assert.throws(
        () => values(file, t),
        /C64 elements have no numeric statistics|F6_E2M3 elements are not decoded/,
      );
    }
  });
});

describe('safetensors reader: sharded models', () => {
  it('opens the index: every shard, tensors as external ranges with their shard', () => {
    const index = st('sharded/model.safetensors.index.json');
    const model = open(index);
    const { shards } = shardedModel();
    const names = [...shards.values()].flat().map((t) => t.name);
    assert.deepEqual(
      model.tensors.map((t) => t.name),
      names,
    );
    const files = [...shards.keys()];
    let total = readFileSync(index).length;
    for (const f of files) total += readFileSync(st(`sharded/${f}`)).length;
    assert.equal(model.fileBytes, total);
    for (const t of model.tensors) {
      assert.equal(t.storage.kind, 'external');
      assert.equal(t.file, (t.storage as { file: string }).file);
    }
    assert.equal(model.tensors[0].file, files[0]);
    assert.equal(model.tensors.at(-1)!.file, files[1]);
    assert.ok(model.metadata.properties.some((p) => p.key === 'shards' && p.value === '2'));
    assert.ok(
      model.metadata.properties.some((p) => p.key === 'format' && p.value === 'pt'),
      'shared shard metadata shown once',
    );
    assert.ok(model.metadata.properties.some((p) => p.key === 'total_size'));
    assert.deepEqual(model.warnings, []);
    const layer1 = model.layers.find((l) => l.name === 'model.layers.1.mlp.up_proj')!;
    assert.equal(model.tensors[layer1.tensors[0]].file, files[1]);
    const lm = model.tensors.find((t) => t.name === 'lm_head.weight')!;
    const want = bf16Values(new Uint16Array(shards.get(files[1])!.at(-1)!.data.slice().buffer));
    assert.deepEqual(values(index, lm), Array.from(want));
  });

  it('says a lone shard is part of a sharded model, and names the index', () => {
    const model = open(st('sharded/model-00002-of-00002.safetensors'));
    assert.equal(model.tensors.length, 5);
    assert.match(
      model.warnings[0],
      /^part of a sharded model: open model\.safetensors\.index\.json for the whole model$/,
    );
    assert.deepEqual(
      model.metadata.properties.find((p) => p.key === SHARD_OF_PROPERTY),
      { key: SHARD_OF_PROPERTY, value: 'model.safetensors.index.json' },
    );
  });

  it('does not claim a shard the sibling index does not list', () => {
    const d = mkdtempSync(join(tmpdir(), 'ml-st-shard-'));
    try {
      const { shards } = shardedModel();
      const [first, tensors] = [...shards][0];
      writeFileSync(join(d, first), serializeSafetensors(tensors));
      writeFileSync(
        join(d, 'model.safetensors.index.json'),
        JSON.stringify({ weight_map: { x: 'other.safetensors' } }),
      );
      assert.deepEqual(open(join(d, first)).warnings, []);
      writeFileSync(join(d, 'model.safetensors.index.json'), '{broken');
      assert.match(
        open(join(d, first)).warnings[0],
        /model\.safetensors\.index\.json next to this shard cannot be read: .*not valid JSON/,
      );
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('refuses shards outside the folder, duplicate tensors and malformed indexes; warns on stale entries', () => {
    const d = mkdtempSync(join(tmpdir(), 'ml-st-index-'));
    try {
      mkdirSync(join(d, 'm'));
      const shard = serializeSafetensors([
        { name: 'a', dtype: 'F32', shape: [1], data: new Uint8Array(4) },
      ]);
      writeFileSync(join(d, 'outside.safetensors'), shard);
      writeFileSync(join(d, 'm', 's1.safetensors'), shard);
      writeFileSync(join(d, 'm', 's2.safetensors'), shard);
      const idx = join(d, 'm', 'model.safetensors.index.json');
      const attempt = (json: unknown, pattern: RegExp) => {
        writeFileSync(idx, typeof json === 'string' ? json : JSON.stringify(json));
        assert.throws(
          () => open(idx),
          (e: unknown) => e instanceof InvalidModelError && pattern.test(e.message),
        );
      };
      attempt({ weight_map: { a: '../outside.safetensors' } }, /leaves the model's folder/);
      attempt({ weight_map: { a: join(d, 'outside.safetensors') } }, /is absolute/);
      attempt(
        { weight_map: { a: 's1.safetensors', b: 's2.safetensors' } },
        /tensor 'a' is in both 's1\.safetensors' and 's2\.safetensors'/,
      );
      attempt({ metadata: {} }, /no weight_map object/);
      attempt({ weight_map: { a: 5 } }, /weight_map entry 'a' does not name a file/);
      attempt({ weight_map: {} }, /lists no tensors/);
      attempt({ weight_map: { a: 'missing.safetensors' } }, /not found next to the model/);
      attempt('[1, 2', /index is not valid JSON/);
      truncateSync(idx, 64 * 1024 * 1024 + 1);
      assert.throws(() => open(idx), /index is 67108865 bytes, over the 67108864-byte limit/);
      writeFileSync(
        idx,
        JSON.stringify({ weight_map: { a: 's1.safetensors', ghost: 's1.safetensors' } }),
      );
      const model = open(idx);
      assert.match(
        model.warnings[0],
        /index lists 1 tensor where no shard holds them, e\.g\. 'ghost' in 's1\.safetensors'/,
      );
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('needs a resolver for shards', () => {
    const { index } = shardedModel();
    assert.throws(
      () => readModel(new MemorySource(index), 'model.safetensors.index.json'),
      /shards of a sharded model cannot be read from here/,
    );
  });
});

describe('safetensors reader: int8 weight-only layout', () => {
  it('folds <name>.scale into <name> and streams codes × row scale', () => {
    const file = st('int8.safetensors');
    const model = open(file);
    const { codes, scales, cols } = int8Model();
    assert.deepEqual(
      model.tensors.map((t) => t.name),
      ['layer.bias', 'layer.weight', 'raw.codes'],
    );
    const w = model.tensors[1];
    assert.equal(w.dtype, 3);
    assert.equal(w.origin, 'int8 weight-only');
    assert.equal(w.bytes, codes.length + scales.length * 4);
    const got = values(file, w);
    assert.deepEqual(
      got,
      Array.from(codes, (q, i) => q * scales[Math.floor(i / cols)]),
    );
    assert.deepEqual(values(file, model.tensors[2]), [1, -2, 3, -4]);
    assert.match(
      model.warnings.join('\n'),
      /int8 tensor 'raw\.codes' has no matching 'raw\.codes\.scale'/,
    );
    assert.deepEqual(
      model.layers.map((l) => l.name),
      ['layer', 'raw'],
    );
  });

  it('leaves int8 + scale pairs alone without the scheme key', () => {
    const { codes, scales } = int8Model();
    const bytes = serializeSafetensors([
      { name: 'w', dtype: 'I8', shape: [8, 40], data: new Uint8Array(codes.buffer) },
      { name: 'w.scale', dtype: 'F32', shape: [8], data: new Uint8Array(scales.buffer) },
    ]);
    assert.deepEqual(
      memory(bytes).tensors.map((t) => t.name),
      ['w', 'w.scale'],
    );
  });
});

describe('safetensors reader: hostile files', () => {
  const f32 = (n: number) => new Uint8Array(4 * n);

  it('checks the header length against the file and the cap before reading it', () => {
    refuses(
      rawSafetensors('{}', [], 1000n),
      /header length 1000 runs past the end of the file \(16 bytes\)/,
    );
    refuses(
      rawSafetensors('{}', [], BigInt(MAX_SAFETENSORS_HEADER_BYTES + 1)),
      /over the 100000000-byte limit/,
    );
    refuses(rawSafetensors('{}', [], 2n ** 64n - 1n), /over the 100000000-byte limit/);
    refuses(Uint8Array.of(1, 0, 0), /too short for a safetensors header/);
  });

  it('reports JSON, UTF-8 and shape errors in one line', () => {
    refuses(rawSafetensors('{"a": {"dtype": "F32", "shape": [1], '), /header is not valid JSON: /);
    refuses(rawSafetensors('[]'), /header is not a JSON object/);
    const bad = rawSafetensors('{"a":1}');
    bad[9] = 0xff;
    refuses(bad, /header is not valid UTF-8/);
    refuses(
      rawSafetensors('{"a": {"dtype": "F33", "shape": [1], "data_offsets": [0, 4]}}', [f32(1)]),
      /tensor 'a' has unknown dtype 'F33'/,
    );
    refuses(
      rawSafetensors('{"a": {"dtype": "constructor", "shape": [1], "data_offsets": [0, 4]}}', [
        f32(1),
      ]),
      /unknown dtype 'constructor'/,
    );
    refuses(
      rawSafetensors('{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}', [f32(1)]),
      /shape holds -1, not a size/,
    );
    refuses(
      rawSafetensors('{"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}', [f32(1)]),
      /shape holds 1\.5/,
    );
    refuses(
      rawSafetensors('{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}}', [f32(2)]),
      /needs \[begin, end\]/,
    );
    refuses(
      rawSafetensors(
        '{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 18446744073709551615]}}',
        [f32(1)],
      ),
      /data_offsets holds 18446744073709552000, not a size/,
    );
    refuses(
      rawSafetensors(
        '{"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}}',
        [f32(1)],
      ),
      /more than 1125899906842624 elements/,
    );
    refuses(
      rawSafetensors(
        '{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "__metadata__": [1]}',
        [f32(1)],
      ),
      /__metadata__ is not an object/,
    );
    refuses(rawSafetensors('{"a": "F32"}'), /tensor 'a' is not an object/);
  });

  it('requires dtype×shape to equal the byte range, and ranges contiguous, in bounds and disjoint', () => {
    refuses(
      rawSafetensors('{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}', [f32(1)]),
      /F32\[2\] needs 8 bytes but data_offsets \[0, 4\] hold 4/,
    );
    refuses(
      rawSafetensors('{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 8]}}', [f32(1)]),
      /run past the data \(4 bytes\)/,
    );
    refuses(
      rawSafetensors('{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}', [f32(1)]),
      /end before they begin/,
    );
    refuses(
      rawSafetensors(
        '{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}',
        [f32(2)],
      ),
      /tensor 'b' \[4, 8\] overlaps the tensor before it \(ends at 8\)/,
    );
    refuses(
      rawSafetensors(
        '{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}',
        [f32(3)],
      ),
      /tensor 'b' starts at 8: 4 bytes after 4 belong to no tensor/,
    );
    refuses(
      rawSafetensors('{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', [f32(2)]),
      /tensor 'a' starts at 4/,
    );
    refuses(
      rawSafetensors('{"a": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}', [
        new Uint8Array(2),
      ]),
      /3 F4 elements are not a whole number of bytes/,
    );
    const trailing = memory(
      rawSafetensors('{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', [f32(2)]),
    );
    assert.deepEqual(trailing.warnings, ['4 bytes after the last tensor belong to no tensor']);
  });

  it("accepts the reference writer's output and tensors in any header order", () => {
    // The reference implementation's own test vector (safetensors tensor.rs test_serialization).
    const ref = Uint8Array.from([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121,
      112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50,
      44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48,
      44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64,
      0, 0, 160, 64,
    ]);
    const m = readModel(new MemorySource(ref, 'no-extension'), 'no-extension');
    assert.equal(m.format, 'safetensors');
    assert.deepEqual(m.tensors[0].dims, [1, 2, 3]);
    const out: number[] = [];
    streamElements(
      new MemorySource(ref),
      m.tensors[0],
      () => {
        throw new Error('no files');
      },
      (v, n) => out.push(...v.subarray(0, n)),
    );
    assert.deepEqual(out, [0, 1, 2, 3, 4, 5]);
    const swapped = memory(
      rawSafetensors(
        '{"b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}',
        [f32(2)],
      ),
    );
    assert.deepEqual(
      swapped.tensors.map((t) => t.name),
      ['a', 'b'],
    );
  });

  it('sorts layer names numerically', () => {
    assert.deepEqual(['l.10', 'l.2', 'l.1.b', 'l.1'].sort(naturalCompare), [
      'l.1',
      'l.1.b',
      'l.2',
      'l.10',
    ]);
  });
});
