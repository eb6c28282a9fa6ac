import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gguf } from '@huggingface/gguf';
import { InvalidModelError } from '../../src/core/errors';
import { readModel } from '../../src/core/formats';
import { formatFloat32, parseGgufHeader } from '../../src/core/formats/gguf/reader';
import { MemorySource } from '../../src/core/io/source';
import type { Model } from '../../src/core/model';
import { computeTensorStats } from '../../src/core/stats/compute';
import { streamElements } from '../../src/core/stats/decode';
import { DEFAULT_STATS_OPTIONS } from '../../src/core/stats/types';
import { GGML, TINY_VOCAB, tinyLlama, tinyLlamaKvs, tinyLlamaTensors } from '../fixtures/gguf';
import { buildGguf, type GgufSpec } from '../fixtures/ggufBuilder';

const noFiles = () => {
  throw new Error('GGUF has no external files');
};

function read(bytes: Uint8Array, name = 'test.gguf'): Model {
  return readModel(new MemorySource(bytes, name), name);
}

function values(bytes: Uint8Array, model: Model, name: string): Float64Array {
  const t = model.tensors.find((x) => x.name === name);
  assert.ok(t, name);
  const out = new Float64Array(t.count);
  let at = 0;
  streamElements(new MemorySource(bytes), t, noFiles, (v, n) => {
    out.set(v.subarray(0, n), at);
    at += n;
  });
  assert.equal(at, t.count);
  return out;
}

function prop(model: Model, key: string): string | undefined {
  return model.metadata.properties.find((p) => p.key === key)?.value;
}

const TINY = tinyLlama();

describe('GGUF reader: header and tensor table', () => {
  const model = read(TINY);

  it('shows the metadata a user looks for, long arrays summarised', () => {
    assert.equal(model.format, 'gguf');
    assert.equal(prop(model, 'gguf.version'), '3');
    assert.equal(prop(model, 'general.architecture'), 'llama');
    assert.equal(prop(model, 'llama.context_length'), '2048');
    assert.equal(prop(model, 'llama.embedding_length'), '256');
    assert.equal(prop(model, 'llama.attention.head_count'), '4');
    assert.equal(prop(model, 'llama.attention.head_count_kv'), '2');
    assert.equal(prop(model, 'general.quantization_version'), '2');
    assert.equal(
      prop(model, 'llama.attention.layer_norm_rms_epsilon'),
      '0.00001',
      'float32 shown by its shortest decimal',
    );
    assert.equal(prop(model, 'tokenizer.ggml.tokens'), `[${TINY_VOCAB} strings]`);
    assert.equal(prop(model, 'tokenizer.ggml.scores'), `[${TINY_VOCAB} f32]`);
    assert.equal(prop(model, 'general.tags'), '["test","fixture"]');
    assert.equal(prop(model, 'test.nested'), '[2 arrays]');
    assert.equal(prop(model, 'test.u64.big'), String(2n ** 63n + 5n), 'u64 beyond 2^53 kept exact');
    assert.equal(prop(model, 'test.i64'), String(-(2n ** 62n)));
    assert.equal(prop(model, 'llama.use_parallel_residual'), 'true');
    const template = prop(model, 'tokenizer.chat_template') ?? '';
    assert.match(template, /… \(\d+ bytes\)$/);
    assert.ok(template.length < 2100);
    assert.equal(model.metadata.properties.length, tinyLlamaKvs().length + 1);
    assert.deepEqual(model.warnings, []);
  });

  it('lists every tensor with its ggml type, bits per weight and byte size', () => {
    const plan = tinyLlamaTensors();
    assert.deepEqual(
      model.tensors.map((t) => t.name),
      plan.map((p) => p.name),
    );
    const byName = new Map(model.tensors.map((t) => [t.name, t]));
    const q4k = byName.get('blk.0.ffn_down.weight')!;
    assert.equal(q4k.storageType, 'Q4_K');
    assert.equal(q4k.bitsPerWeight, 4.5);
    assert.equal(q4k.dtype, 1, 'decodes to float32');
    assert.deepEqual(q4k.dims, [256, 24]);
    assert.equal(q4k.bytes, 24 * 144);
    assert.equal(byName.get('blk.0.attn_q.weight')!.bitsPerWeight, 4.5);
    assert.equal(byName.get('blk.0.ffn_up.weight')!.bitsPerWeight, 2.625);
    assert.equal(byName.get('blk.1.attn_k.weight')!.bitsPerWeight, 6.5625);
    assert.equal(byName.get('blk.1.attn_norm.weight')!.dtype, 10, 'F16 is plain float16 storage');
    assert.equal(byName.get('output_norm.weight')!.dtype, 16);
    const iq = byName.get('blk.1.ffn_gate.weight')!;
    assert.equal(iq.storageType, 'IQ2_XXS');
    assert.equal(iq.bytes, 4 * 66);
    assert.deepEqual(iq.storage, { kind: 'none', reason: 'IQ2_XXS is not decoded' });
  });

  it('groups layers by name prefix in file order', () => {
    const names = model.layers.map((l) => l.name);
    assert.equal(names[0], 'token_embd');
    assert.ok(
      names.includes('blk.0.attn_q') && names.includes('blk.1.ffn_up') && names.includes('output'),
    );
    assert.equal(names.length, model.tensors.length, 'one tensor per layer in this fixture');
    for (const l of model.layers)
      assert.deepEqual(
        l.slots,
        l.tensors.map(() => -1),
      );
  });

  it('agrees with @huggingface/gguf on metadata, tensor infos and the data offset', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ml-gguf-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'tiny.gguf');
    writeFileSync(file, TINY);
    const hf = await gguf(file, { allowLocalFile: true, typedMetadata: true });
    const header = parseGgufHeader(new MemorySource(TINY));
    assert.equal(BigInt(header.dataStart), hf.tensorDataOffset);
    assert.equal(header.version, hf.typedMetadata.version.value);
    const theirs = Object.entries(hf.typedMetadata).filter(
      ([k]) => !['version', 'tensor_count', 'kv_count'].includes(k),
    );
    assert.deepEqual(
      header.kvs.map((kv) => kv.key),
      theirs.map(([k]) => k),
    );
    for (const kv of header.kvs) {
      const t = hf.typedMetadata[kv.key] as { value: unknown; type: number; subType?: number };
      assert.equal(kv.type, t.type, kv.key);
      if (Array.isArray(t.value)) {
        assert.equal(kv.array?.count, BigInt(t.value.length), kv.key);
        assert.equal(kv.array?.type, t.subType, kv.key);
      } else if (t.type === 6) assert.equal(kv.display, formatFloat32(t.value as number), kv.key);
      else if (typeof t.value === 'string' && t.value.length > 2048)
        assert.ok(kv.display.startsWith(t.value.slice(0, 2048)), kv.key);
      else assert.equal(kv.display, String(t.value), kv.key);
    }
    assert.equal(header.tensors.length, hf.tensorInfos.length);
    header.tensors.forEach((t, i) => {
      const h = hf.tensorInfos[i];
      assert.equal(t.name, h.name);
      assert.deepEqual(t.dims.map(BigInt), h.shape);
      assert.equal(t.type, h.dtype);
      assert.equal(BigInt(t.offset), h.offset);
    });
  });
});

describe('GGUF dequantization: every decoded type round-trips its reference layout', () => {
  const model = read(TINY);
  /** Relative RMS error of the round trip: bounds how far each format may move the weights. */
  const RMS_BOUND: Record<string, number> = {
    Q8_0: 0.01,
    Q8_K: 0.01,
    Q6_K: 0.05,
    Q5_0: 0.06,
    Q5_1: 0.06,
    Q5_K: 0.06,
    Q4_0: 0.12,
    Q4_1: 0.12,
    Q4_K: 0.12,
    Q3_K: 0.3,
    Q2_K: 0.6,
    F16: 0.001,
    BF16: 0.005,
    F32: 0,
  };

  for (const plan of tinyLlamaTensors()) {
    if (!plan.expected) continue;
    it(`${plan.name} (${model.tensors.find((t) => t.name === plan.name)?.storageType})`, () => {
      const got = values(TINY, model, plan.name);
      const want = plan.expected!;
      for (let i = 0; i < want.length; i++) {
        if (got[i] !== want[i])
          assert.fail(`element ${i}: got ${got[i]}, the reference gives ${want[i]}`);
      }
      let err = 0;
      let energy = 0;
      for (let i = 0; i < want.length; i++) {
        err += (want[i] - plan.values![i]) ** 2;
        energy += plan.values![i] ** 2;
      }
      const type = model.tensors.find((t) => t.name === plan.name)!.storageType!;
      assert.ok(
        Math.sqrt(err / energy) <= RMS_BOUND[type],
        `${type}: relative RMS error ${Math.sqrt(err / energy)}`,
      );
    });
  }

  it('decodes hand-made Q4_0 and Q8_0 blocks to the documented values', () => {
    const q4 = new Uint8Array(18);
    q4[0] = 0x00;
    q4[1] = 0x38; // fp16 0.5
    for (let j = 0; j < 16; j++) q4[2 + j] = j | ((15 - j) << 4);
    const q8 = new Uint8Array(34);
    q8[1] = 0x3c; // fp16 1.0
    for (let j = 0; j < 32; j++) q8[2 + j] = (j * 8 - 128) & 0xff;
    const bytes = buildGguf({
      kvs: [['general.quantization_version', { t: 'u32', v: 2 }]],
      tensors: [
        { name: 'a', dims: [32], type: GGML.Q4_0, data: q4 },
        { name: 'b', dims: [32], type: GGML.Q8_0, data: q8 },
      ],
    });
    const m = read(bytes);
    const a = values(bytes, m, 'a');
    assert.deepEqual(
      Array.from(a.subarray(0, 16)),
      Array.from({ length: 16 }, (_, j) => (j - 8) * 0.5),
    );
    assert.deepEqual(
      Array.from(a.subarray(16)),
      Array.from({ length: 16 }, (_, j) => (7 - j) * 0.5),
    );
    assert.deepEqual(
      Array.from(values(bytes, m, 'b')),
      Array.from({ length: 32 }, (_, j) => j * 8 - 128),
    );
  });

  it('computes statistics of quantized tensors on the dequantized values', () => {
    const plan = tinyLlamaTensors().find((p) => p.name === 'blk.0.ffn_down.weight')!;
    const t = model.tensors.find((x) => x.name === plan.name)!;
    const s = computeTensorStats(new MemorySource(TINY), t, noFiles, DEFAULT_STATS_OPTIONS);
    const e = Array.from(plan.expected!);
    assert.equal(s.min, Math.min(...e));
    assert.equal(s.max, Math.max(...e));
    assert.equal(s.zeros, e.filter((v) => v === 0).length);
    assert.ok(s.zeros >= 256, 'the all-zero stretch stays zero');
  });

  it('refuses statistics of undecoded types with a clear reason', () => {
    const t = model.tensors.find((x) => x.storageType === 'TQ2_0')!;
    assert.throws(
      () => computeTensorStats(new MemorySource(TINY), t, noFiles, DEFAULT_STATS_OPTIONS),
      /TQ2_0 is not decoded/,
    );
  });
});

/** Overwrites 8 bytes at `at` with a little-endian u64. */
function setU64(bytes: Uint8Array, at: number, v: bigint): Uint8Array {
  const b = bytes.slice();
  new DataView(b.buffer).setBigUint64(at, v, true);
  return b;
}

function setU32(bytes: Uint8Array, at: number, v: number): Uint8Array {
  const b = bytes.slice();
  new DataView(b.buffer).setUint32(at, v, true);
  return b;
}

const tiny = (over: Partial<GgufSpec> = {}): Uint8Array =>
  buildGguf({
    kvs: [['general.architecture', { t: 'string', v: 'llama' }]],
    tensors: [{ name: 'w', dims: [32, 2], type: GGML.F32, data: new Uint8Array(256) }],
    ...over,
  });

function refuses(bytes: Uint8Array, pattern: RegExp): void {
  const started = performance.now();
  assert.throws(
    () => read(bytes),
    (e: unknown) => e instanceof InvalidModelError && pattern.test(e.message),
    `expected ${pattern}`,
  );
  assert.ok(performance.now() - started < 1000, 'refused at once, without walking or allocating');
}

describe('GGUF reader: hostile files', () => {
  // Layout of tiny(): magic 0, version 4, tensor_count 8, kv_count 16, first key length 24.
  const keyLen = 24;
  const valueType = keyLen + 8 + 'general.architecture'.length;

  it('refuses counts of 2^60 before allocating anything', () => {
    refuses(setU64(tiny(), 8, 2n ** 60n), /tensor_count .* more than the file can hold/);
    refuses(setU64(tiny(), 16, 2n ** 60n), /kv_count .* more than the file can hold/);
    refuses(setU64(tiny(), keyLen, 2n ** 60n), /metadata key of \d+ bytes .* runs past the end/);
    refuses(
      setU64(tiny(), valueType + 4, 2n ** 60n),
      /string value of 'general.architecture' of \d+ bytes/,
    );
  });

  it('refuses arrays longer than the file before walking them', () => {
    const bytes = buildGguf({ kvs: [['a', { t: 'array', of: 'u32', v: [1, 2, 3] }]], tensors: [] });
    const countAt = 24 + 8 + 1 + 4 + 4;
    refuses(setU64(bytes, countAt, 2n ** 60n), /array of \d+ u32 .* runs past the end/);
    const strings = buildGguf({
      kvs: [['a', { t: 'array', of: 'string', v: ['x', 'y'] }]],
      tensors: [],
    });
    refuses(setU64(strings, countAt, 2n ** 40n), /array of \d+ string .* runs past the end/);
    let nested: import('../fixtures/ggufBuilder').GgufValue = { t: 'array', of: 'u8', v: [1] };
    for (let i = 0; i < 9; i++) nested = { t: 'array', of: 'array', v: [nested] };
    refuses(buildGguf({ kvs: [['deep', nested]], tensors: [] }), /nested deeper than 8/);
  });

  it('refuses impossible tensor shapes, ranges and offsets', () => {
    refuses(
      tiny({
        tensors: [
          { name: 'w', dims: new Array(65).fill(1), type: GGML.F32, data: new Uint8Array(4) },
        ],
      }),
      /65 dimensions/,
    );
    refuses(
      tiny({
        tensors: [{ name: 'w', dims: [2 ** 40, 2 ** 40], type: GGML.F32, data: new Uint8Array(4) }],
      }),
      /more than \d+ elements/,
    );
    refuses(
      tiny({
        tensors: [{ name: 'w', dims: [32, 100], type: GGML.F32, data: new Uint8Array(256) }],
      }),
      /runs past the end of the file/,
    );
    refuses(
      tiny({ tensors: [{ name: 'w', dims: [100], type: GGML.Q4_K, data: new Uint8Array(144) }] }),
      /rows of 100 elements, not a multiple of its 256-element blocks/,
    );
    refuses(
      tiny({
        tensors: [
          { name: 'w', dims: [8], type: GGML.F32, data: new Uint8Array(32) },
          { name: 'w', dims: [8], type: GGML.F32, data: new Uint8Array(32) },
        ],
      }),
      /tensor 'w' appears twice/,
    );
    // Second tensor's offset (the last 8 bytes of its info) moved to 0: overlaps the first.
    const two = tiny({
      tensors: [
        { name: 'a', dims: [8], type: GGML.F32, data: new Uint8Array(32) },
        { name: 'b', dims: [8], type: GGML.F32, data: new Uint8Array(32) },
      ],
    });
    const header = parseGgufHeader(new MemorySource(two));
    assert.equal(header.tensors[1].offset, 32);
    // Infos follow the pairs: 'a' takes 8 + 1 + 4 + 8 + 4 + 8 bytes, then 'b' up to its offset field.
    const infoEnd = header.kvs[header.kvs.length - 1].span[1] + 33 + 25;
    refuses(setU64(two, infoEnd, 0n), /'a' and 'b' overlap/);
    refuses(setU64(two, infoEnd, 16n), /offset 16 is not a multiple of the alignment 32/);
  });

  it('refuses bad alignment, old and big-endian versions, truncation and duplicate keys', () => {
    refuses(
      tiny({ kvs: [['general.alignment', { t: 'u32', v: 24 }]] }),
      /alignment 24 is not a power of two/,
    );
    refuses(
      tiny({ kvs: [['general.alignment', { t: 'u64', v: 32n }]] }),
      /alignment must be a uint32/,
    );
    refuses(setU32(tiny(), 4, 1), /GGUF v1 is not supported/);
    refuses(setU32(tiny(), 4, 0x03000000), /big-endian GGUF is not supported/);
    refuses(setU32(tiny(), 4, 4), /GGUF version 4 is not supported/);
    refuses(tiny().subarray(0, 60), /truncated|runs past the end|unexpected end/);
    refuses(
      tiny({
        kvs: [
          ['k', { t: 'u8', v: 1 }],
          ['k', { t: 'u8', v: 2 }],
        ],
      }),
      /'k' appears twice/,
    );
    const bool = tiny({ kvs: [['b', { t: 'bool', v: 1 }]] });
    bool[24 + 8 + 1 + 4] = 2;
    refuses(bool, /boolean value 2/);
  });

  it('lists tensors of unknown ggml types with a warning instead of failing', () => {
    const m = read(
      tiny({ tensors: [{ name: 'odd', dims: [4], type: 99, data: new Uint8Array(32) }] }),
    );
    assert.equal(m.tensors[0].storageType, 'type 99');
    assert.equal(m.tensors[0].storage.kind, 'none');
    assert.match(m.warnings.join('\n'), /unknown ggml type \(99\)/);
  });
});
