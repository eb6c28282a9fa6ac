import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gguf } from '@huggingface/gguf';
import { compressModel } from '../../src/core/compress/pipeline';
import type { CompressReport } from '../../src/core/compress/report';
import type { CompressSpec } from '../../src/core/compress/spec';
import type { MethodName } from '../../src/core/compress/types';
import { CancelledError, InvalidModelError } from '../../src/core/errors';
import { readModel } from '../../src/core/formats';
import { parseGgufHeader } from '../../src/core/formats/gguf/reader';
import { fp32ToFp16, quantizeQ4_0, quantizeQ8_0 } from '../../src/core/formats/gguf/quantize';
import { MemorySource } from '../../src/core/io/source';
import type { Model } from '../../src/core/model';
import { streamElements } from '../../src/core/stats/decode';
import { compressFile } from '../../src/node/compress';
import { floatModel } from '../fixtures/gguf';

const noFiles = () => {
  throw new Error('no external files');
};

const FLOAT = floatModel();

function compress(
  methods: MethodName[],
  options: CompressSpec['options'] = {},
  hooks = {},
): { bytes: Uint8Array; report: CompressReport } {
  const source = new MemorySource(FLOAT, 'tiny-float.gguf');
  const model = readModel(source, 'tiny-float.gguf');
  const parts: Uint8Array[] = [];
  const report = compressModel(
    source,
    model,
    { methods, options },
    noFiles,
    { write: (b) => parts.push(b.slice()) },
    hooks,
  );
  return { bytes: Buffer.concat(parts), report };
}

function valuesOf(bytes: Uint8Array, model: Model, name: string): Float32Array {
  const t = model.tensors.find((x) => x.name === name)!;
  const out = new Float32Array(t.count);
  let at = 0;
  streamElements(new MemorySource(bytes), t, noFiles, (v, n) => {
    for (let i = 0; i < n; i++) out[at + i] = v[i];
    at += n;
  });
  return out;
}

const kv = (bytes: Uint8Array, key: string) =>
  parseGgufHeader(new MemorySource(bytes)).kvs.find((k) => k.key === key)?.display;

describe('GGUF reference quantizers', () => {
  it('converts float32 to fp16 exactly as ggml: nearest even, overflow to infinity', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [65504, 0x7bff],
      [65519, 0x7bff],
      [65520, 0x7c00],
      [1e9, 0x7c00],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000],
      [-0, 0x8000],
      [NaN, 0x7e00],
      [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02],
    ];
    for (const [x, h] of cases) assert.equal(fp32ToFp16(Math.fround(x)), h, `${x}`);
  });

  it('Q8_0: d = amax / 127 in fp16, codes rounded half away from zero', () => {
    const x = Float32Array.from({ length: 32 }, (_, j) => (j - 16) * 0.5);
    x[3] = 0; // ties away from zero
    const out = new Uint8Array(34);
    const codes = new Int8Array(32);
    quantizeQ8_0(x, out, codes);
    assert.equal(out[0] | (out[1] << 8), fp32ToFp16(Math.fround(8 / 127)));
    assert.equal(codes[0], -127, 'the largest magnitude maps to ±127');
    assert.equal(codes[16], 0);
    assert.equal(codes[17], Math.round(0.5 / Math.fround(8 / 127)));
    assert.deepEqual(
      Array.from(out.subarray(2)),
      Array.from(codes, (c) => c & 0xff),
    );
  });

  it('Q4_0: d = max / -8 keeps the sign of the largest value, codes clipped to 15', () => {
    const x = Float32Array.from({ length: 32 }, (_, j) => j / 31);
    const out = new Uint8Array(18);
    const codes = new Uint8Array(32);
    quantizeQ4_0(x, out, codes);
    assert.equal(out[0] | (out[1] << 8), fp32ToFp16(-1 / 8));
    assert.equal(codes[31], 0, 'the maximum (positive) maps to code 0: -8 · d');
    assert.equal(codes[0], 8, 'zero maps to the middle code');
    assert.equal(out[2 + 15], codes[15] | (codes[31] << 4), 'element j and j + 16 share byte j');
  });
});

describe('GGUF compression', () => {
  it('int8 writes Q8_0 for float matrices and keeps the rest byte for byte', () => {
    const { bytes, report } = compress(['int8']);
    const before = readModel(new MemorySource(FLOAT), 'a.gguf');
    const after = readModel(new MemorySource(bytes), 'b.gguf');
    const types = Object.fromEntries(after.tensors.map((t) => [t.name, t.storageType]));
    assert.deepEqual(types, {
      'token_embd.weight': 'Q8_0',
      'blk.0.attn_q.weight': 'Q8_0',
      'blk.0.attn_norm.weight': 'F32',
      'blk.0.ffn_up.weight': 'F32',
      'blk.0.ffn_down.weight': 'Q8_0',
      'blk.0.ffn_gate.weight': 'Q4_K',
      'output.weight': 'Q8_0',
    });
    for (const name of ['blk.0.attn_norm.weight', 'blk.0.ffn_up.weight', 'blk.0.ffn_gate.weight']) {
      assert.deepEqual(valuesOf(bytes, after, name), valuesOf(FLOAT, before, name), `${name} kept`);
    }
    const r = report.tensors.find((t) => t.name === 'output.weight')!;
    assert.equal(r.bytesAfter, (128 * 32 * 34) / 32);
    assert.ok(r.cosine > 0.9999, `cosine ${r.cosine}`);
    // Each value moves by at most half a step (amax/127), plus 127 codes times the scale's fp16 rounding (2^-11 relative).
    const orig = valuesOf(FLOAT, before, 'output.weight');
    const back = valuesOf(bytes, after, 'output.weight');
    for (let b = 0; b < orig.length / 32; b++) {
      const block = orig.subarray(b * 32, b * 32 + 32);
      const step = Math.max(...Array.from(block, Math.abs)) / 127;
      for (let j = 0; j < 32; j++)
        assert.ok(
          Math.abs(back[b * 32 + j] - block[j]) <= step * (0.5 + 127 * 2 ** -11),
          `block ${b} element ${j}`,
        );
    }
    assert.deepEqual(report.skipped.map((s) => s.name).sort(), [
      'blk.0.attn_norm.weight',
      'blk.0.ffn_gate.weight',
      'blk.0.ffn_up.weight',
    ]);
    assert.equal(report.totals.fileBytesAfter, bytes.length);
    assert.ok(report.totals.ratio > 2.4, `ratio ${report.totals.ratio}`);
  });

  it('updates general.file_type, adds general.quantization_version, keeps the rest of the metadata', () => {
    const original = parseGgufHeader(new MemorySource(FLOAT));
    for (const [method, fileType, qv] of [
      ['int8', '7', '2'],
      ['int4', '2', '2'],
      ['fp16', '1', undefined],
      ['bf16', '32', undefined],
    ] as const) {
      const { bytes } = compress([method]);
      const h = parseGgufHeader(new MemorySource(bytes));
      assert.equal(kv(bytes, 'general.file_type'), fileType, method);
      assert.equal(kv(bytes, 'general.quantization_version'), qv, method);
      assert.equal(h.version, 2, 'the GGUF version is kept');
      assert.equal(h.alignment, 64);
      for (const k of original.kvs)
        if (k.key !== 'general.file_type')
          assert.equal(kv(bytes, k.key), k.display, `${method} ${k.key}`);
      for (const t of h.tensors) assert.equal(t.offset % 64, 0);
    }
  });

  it('int4 gives Q4_0, fp16 and bf16 convert only float32 matrices', () => {
    const q4 = readModel(new MemorySource(compress(['int4']).bytes), 'x.gguf');
    assert.equal(q4.tensors.find((t) => t.name === 'output.weight')!.storageType, 'Q4_0');
    const { bytes, report } = compress(['fp16']);
    const h = readModel(new MemorySource(bytes), 'x.gguf');
    assert.equal(h.tensors.find((t) => t.name === 'output.weight')!.storageType, 'F16');
    assert.equal(
      h.tensors.find((t) => t.name === 'token_embd.weight')!.storageType,
      'F16',
      'was F16 already',
    );
    assert.equal(
      h.tensors.find((t) => t.name === 'blk.0.ffn_down.weight')!.storageType,
      'BF16',
      'bf16 is not narrowed again',
    );
    assert.ok(
      report.skipped.some(
        (s) => s.name === 'blk.0.ffn_down.weight' && /already 16-bit/.test(s.reason),
      ),
    );
    const b = readModel(new MemorySource(compress(['bf16']).bytes), 'x.gguf');
    assert.equal(b.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!.storageType, 'BF16');
  });

  it('refuses methods GGUF cannot store', () => {
    const refused = (methods: MethodName[], options: CompressSpec['options'], pattern: RegExp) =>
      assert.throws(
        () => compress(methods, options),
        (e: unknown) => e instanceof InvalidModelError && pattern.test(e.message),
      );
    refused(['prune'], { sparsity: 0.5 }, /int8 \(Q8_0\), int4 \(Q4_0\), fp16 or bf16, not prune/);
    refused(['cluster'], {}, /not cluster/);
    refused(['int8'], { asymmetric: true }, /Q8_0 is symmetric/);
    refused(['int4'], { blockSize: 64 }, /--block-size 64 does not apply/);
  });

  it('stops when cancelled', () => {
    let calls = 0;
    assert.throws(() => compress(['int8'], {}, { cancelled: () => ++calls > 2 }), CancelledError);
  });

  it('compressFile writes model.int8.gguf next to the original, readable by @huggingface/gguf', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ml-gguf-w-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const input = join(dir, 'model.gguf');
    writeFileSync(input, FLOAT);
    const r = compressFile(input, { methods: ['int8'], options: {} });
    assert.equal(r.output, join(dir, 'model.int8.gguf'));
    assert.deepEqual(readFileSync(input), Buffer.from(FLOAT), 'the original is untouched');
    assert.throws(() => compressFile(input, { methods: ['int8'], options: {} }), /already exists/);
    assert.deepEqual(
      readdirSync(dir).sort(),
      ['model.gguf', 'model.int8.gguf'],
      'no temp files left',
    );
    const hf = await gguf(r.output, { allowLocalFile: true });
    assert.deepEqual(
      hf.tensorInfos.map((t) => t.dtype),
      [8, 8, 0, 0, 8, 12, 8],
    );
    assert.equal((hf.metadata as Record<string, unknown>)['general.quantization_version'], 2);
    assert.ok(existsSync(r.output));
  });
});
