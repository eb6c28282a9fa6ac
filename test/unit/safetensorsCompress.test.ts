import assert from 'node:assert/strict';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  mkdirSync,
  cpSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CompressSpec } from '../../src/core/compress/spec';
import { CancelledError } from '../../src/core/errors';
import { compressFile } from '../../src/node/compress';
import { variantPath } from '../../src/node/atomicWrite';
import {
  bf16Values,
  rawSafetensors,
  serializeSafetensors,
  singleModel,
  writeSafetensorsFixtures,
  type StTensor,
} from '../fixtures/safetensors';
import { mulberry32, weights } from '../fixtures/onnxBuilder';
import { openModel } from './helpers';

const root = mkdtempSync(join(tmpdir(), 'ml-st-compress-'));
after(() => rmSync(root, { recursive: true, force: true }));
writeSafetensorsFixtures(join(root, 'fx'));
let counter = 0;

/** A fresh folder holding the single-file fixture. */
function single(): string {
  const dir = join(root, `s${counter++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'model.safetensors'), singleModel().file);
  return join(dir, 'model.safetensors');
}

interface RawTensor {
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
  bytes: Buffer;
}

/** Parses a safetensors file here, independently of the reader under test. */
function rawFile(path: string): {
  headerLength: number;
  metadata: Record<string, string>;
  tensors: Map<string, RawTensor>;
  order: string[];
} {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const metadata = header.__metadata__ ?? {};
  delete header.__metadata__;
  const tensors = new Map<string, RawTensor>();
  for (const [name, t] of Object.entries(header) as [
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] },
  ][]) {
    const [b, e] = t.data_offsets;
    tensors.set(name, {
      dtype: t.dtype,
      shape: t.shape,
      begin: b,
      end: e,
      bytes: buf.subarray(8 + n + b, 8 + n + e),
    });
  }
  const order = [...tensors.keys()].sort((a, b) => tensors.get(a)!.begin - tensors.get(b)!.begin);
  return { headerLength: n, metadata, tensors, order };
}

const SIZE: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I8: 1 };

function decode(t: { dtype: string; bytes: Uint8Array }): number[] {
  const b = new Uint8Array(t.bytes).slice();
  switch (t.dtype) {
    case 'F32':
      return Array.from(new Float32Array(b.buffer));
    case 'F64':
      return Array.from(new Float64Array(b.buffer));
    case 'BF16':
      return Array.from(bf16Values(new Uint16Array(b.buffer)));
    case 'I8':
      return Array.from(new Int8Array(b.buffer));
    case 'F16':
      return Array.from(new Uint16Array(b.buffer), (h) => {
        const e = (h >> 10) & 31;
        const m = h & 1023;
        const v = e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
        return h & 0x8000 ? -v : v;
      });
    default:
      throw new Error(`no decoder for ${t.dtype}`);
  }
}

function compress(
  input: string,
  spec: CompressSpec,
  extra: Parameters<typeof compressFile>[2] = {},
) {
  return compressFile(input, { methods: spec.methods, options: spec.options }, extra);
}

function checkLayout(path: string): void {
  const f = rawFile(path);
  assert.equal(f.headerLength % 8, 0, 'header padded to 8 bytes');
  let at = 0;
  for (const name of f.order) {
    const t = f.tensors.get(name)!;
    assert.equal(t.begin, at, `${name} follows the tensor before it`);
    assert.equal(
      (8 + f.headerLength + t.begin) % (SIZE[t.dtype] ?? 1),
      0,
      `${name} (${t.dtype}) is aligned to its element size`,
    );
    at = t.end;
  }
  assert.equal(8 + f.headerLength + at, statSync(path).size, 'data fills the file exactly');
}

const originals = () =>
  new Map(
    singleModel().tensors.map((t: StTensor) => [t.name, decode({ dtype: t.dtype, bytes: t.data })]),
  );

describe('safetensors compression: single files', () => {
  it('fp16 and bf16 round each float32 weight to nearest, keep 16-bit tensors and metadata', () => {
    for (const [method, dtype, mantissa] of [
      ['fp16', 'F16', 10],
      ['bf16', 'BF16', 7],
    ] as const) {
      const input = single();
      const r = compress(input, { methods: [method], options: {} });
      assert.equal(r.output, join(input, '..', `model.${method}.safetensors`));
      checkLayout(r.output);
      const out = rawFile(r.output);
      const src = rawFile(input);
      assert.deepEqual(out.metadata, {
        format: 'pt',
        producer: 'model-lens fixtures',
        'model_lens.compression': method,
      });
      const orig = originals();
      for (const [name, t] of src.tensors) {
        const o = out.tensors.get(name)!;
        if (t.dtype !== 'F32') {
          assert.ok(o.bytes.equals(t.bytes), `${name} (${t.dtype}) carried over byte for byte`);
          continue;
        }
        assert.equal(o.dtype, dtype, name);
        assert.deepEqual(o.shape, t.shape);
        const got = decode(o);
        orig.get(name)!.forEach((w, i) => {
          const halfUlp = w === 0 ? 0 : 2 ** (Math.floor(Math.log2(Math.abs(w))) - mantissa - 1);
          assert.ok(Math.abs(got[i] - w) <= halfUlp, `${name}[${i}]: ${got[i]} vs ${w}`);
        });
      }
      assert.deepEqual(r.report.skipped.map((s) => s.reason).sort(), [
        'already 16-bit (bfloat16)',
        'already 16-bit (float16)',
      ]);
      assert.equal(r.report.totals.fileBytesAfter, statSync(r.output).size);
    }
  });

  it('int8 writes codes and per-row float32 scales within half a step of every weight', () => {
    const input = single();
    const r = compress(input, { methods: ['int8'], options: {} });
    checkLayout(r.output);
    const out = rawFile(r.output);
    assert.equal(out.metadata['model_lens.quantization'], 'int8-per-row');
    const orig = originals();
    const src = rawFile(input);
    let quantized = 0;
    for (const [name, t] of src.tensors) {
      const o = out.tensors.get(name)!;
      if (t.shape.length < 2) {
        assert.ok(o.bytes.equals(t.bytes), `${name} kept`);
        assert.equal(out.tensors.has(`${name}.scale`), false);
        continue;
      }
      quantized++;
      assert.equal(o.dtype, 'I8');
      const scale = out.tensors.get(`${name}.scale`)!;
      assert.deepEqual([scale.dtype, scale.shape], ['F32', [t.shape[0]]]);
      const s = decode(scale);
      const q = decode(o);
      const w = orig.get(name)!;
      const cols = w.length / t.shape[0];
      for (let row = 0; row < t.shape[0]; row++) {
        const maxAbs = Math.max(...w.slice(row * cols, (row + 1) * cols).map(Math.abs));
        assert.ok(
          Math.abs(s[row] - maxAbs / 127) <= 1e-7 * maxAbs,
          `${name} row ${row} scale ${s[row]} vs ${maxAbs / 127}`,
        );
        for (let c = 0; c < cols; c++) {
          const i = row * cols + c;
          assert.ok(Math.abs(q[i]) <= 127);
          assert.ok(
            Math.abs(q[i] * s[row] - w[i]) <= s[row] / 2 + 1e-7 * Math.abs(w[i]),
            `${name}[${i}]`,
          );
        }
      }
    }
    assert.equal(quantized, 7);
    assert.equal(r.report.tensors.length, 7);
    for (const t of r.report.tensors)
      assert.equal(
        t.bytesAfter,
        out.tensors.get(t.name)!.bytes.length + out.tensors.get(`${t.name}.scale`)!.bytes.length,
      );
    const m = openModel(r.output);
    try {
      const known = m.stats('known.weight');
      assert.ok(Math.abs(known.max! - 639 / 64) <= 639 / 64 / 127 / 2, 'the reader dequantizes');
      assert.equal(m.model.tensors.length, 8, 'scales are folded into their weights');
    } finally {
      m.close();
    }
  });

  it('prune zeroes the smallest magnitudes and keeps the rest exactly, in the source dtype', () => {
    const input = single();
    const r = compress(input, { methods: ['prune'], options: { sparsity: 0.6 } });
    checkLayout(r.output);
    const out = rawFile(r.output);
    const src = rawFile(input);
    for (const [name, t] of src.tensors) {
      const o = out.tensors.get(name)!;
      assert.equal(o.dtype, t.dtype, `${name} stays ${t.dtype}`);
      if (t.shape.length < 2) continue;
      const w = decode(t);
      const p = decode(o);
      let zeros = 0;
      let maxPruned = 0;
      let minKept = Infinity;
      p.forEach((v, i) => {
        if (v === 0) {
          zeros++;
          maxPruned = Math.max(maxPruned, Math.abs(w[i]));
        } else {
          assert.equal(v, w[i], `${name}[${i}] kept exactly`);
          minKept = Math.min(minKept, Math.abs(w[i]));
        }
      });
      assert.ok(zeros >= Math.floor(0.6 * w.length), `${name}: ${zeros} of ${w.length} zero`);
      assert.ok(maxPruned <= minKept, `${name}: pruned ${maxPruned} > kept ${minKept}`);
    }
  });

  it('cluster stores at most K distinct values per tensor in the source dtype', () => {
    const input = single();
    const r = compress(input, { methods: ['cluster'], options: { clusters: 4 } });
    const out = rawFile(r.output);
    for (const t of r.report.tensors) {
      const o = out.tensors.get(t.name)!;
      assert.equal(o.dtype, rawFile(input).tensors.get(t.name)!.dtype);
      assert.ok(new Set(decode(o)).size <= 4, `${t.name}: ${new Set(decode(o)).size} values`);
      assert.match(t.method, /^cluster K=4 /);
    }
  });

  it('keeps every tensor aligned when new dtypes give odd byte counts', () => {
    const dir = join(root, `align-${counter++}`);
    mkdirSync(dir);
    const input = join(dir, 'odd.safetensors');
    const rng = mulberry32(5);
    writeFileSync(
      input,
      serializeSafetensors([
        {
          name: 'a.weight',
          dtype: 'F32',
          shape: [17, 19],
          data: new Uint8Array(weights(rng, 17 * 19, 1).buffer),
        },
        { name: 'b.weight', dtype: 'F16', shape: [3], data: new Uint8Array(6) },
        {
          name: 'c.weight',
          dtype: 'F64',
          shape: [16, 17],
          data: new Uint8Array(Float64Array.from(weights(rng, 16 * 17, 1)).buffer),
        },
        { name: 'd.weight', dtype: 'U8', shape: [5], data: Uint8Array.of(1, 2, 3, 4, 5) },
      ]),
    );
    for (const methods of [['int8'], ['fp16'], ['prune']] as const)
      checkLayout(compress(input, { methods: [...methods], options: {} }).output);
  });

  it('writes tensors named like object internals as ordinary keys', () => {
    const dir = join(root, `proto-${counter++}`);
    mkdirSync(dir);
    const input = join(dir, 'p.safetensors');
    const rng = mulberry32(9);
    const text = JSON.stringify({ __proto__x: 0 })
      .replace('__proto__x', '__proto__')
      .replace('0', '{"dtype": "F32", "shape": [16, 16], "data_offsets": [0, 1024]}');
    writeFileSync(input, rawSafetensors(text, [new Uint8Array(weights(rng, 256, 1).buffer)]));
    const r = compress(input, { methods: ['int8'], options: {} });
    assert.deepEqual([...rawFile(r.output).tensors.keys()].sort(), [
      '__proto__',
      '__proto__.scale',
    ]);
    checkLayout(r.output);
  });

  it('float64 weights keep float64 values when pruned', () => {
    const dir = join(root, `f64-${counter++}`);
    mkdirSync(dir);
    const values = Float64Array.from({ length: 16 * 32 }, (_, i) =>
      i % 7 === 0 ? 1000 + 2 ** -30 : -(i + 1) / 3,
    );
    const input = join(dir, 'm.safetensors');
    writeFileSync(
      input,
      serializeSafetensors([
        { name: 'w', dtype: 'F64', shape: [16, 32], data: new Uint8Array(values.buffer) },
      ]),
    );
    const r = compress(input, { methods: ['prune'], options: { sparsity: 0.5 } });
    const got = decode(rawFile(r.output).tensors.get('w')!);
    got.forEach((v, i) => assert.ok(v === 0 || v === values[i], `w[${i}] = ${v}`));
    assert.ok(got.includes(1000 + 2 ** -30), 'a value float32 cannot hold survives');
  });

  it('refuses methods safetensors cannot store, and name clashes with .scale', () => {
    const input = single();
    for (const m of ['int4', 'fixed', 'sign'] as const) {
      assert.throws(
        () => compress(input, { methods: [m], options: {} }),
        new RegExp(`${m} is not available for safetensors`),
      );
    }
    assert.throws(
      () => compress(input, { methods: ['int8'], options: { asymmetric: true } }),
      /asymmetric int8 is not available/,
    );
    assert.deepEqual(readdirSync(join(input, '..')), ['model.safetensors'], 'nothing written');
    const dir = join(root, `clash-${counter++}`);
    mkdirSync(dir);
    const clash = join(dir, 'c.safetensors');
    const rng = mulberry32(3);
    writeFileSync(
      clash,
      serializeSafetensors([
        {
          name: 'w',
          dtype: 'F32',
          shape: [16, 16],
          data: new Uint8Array(weights(rng, 256, 1).buffer),
        },
        {
          name: 'w.scale',
          dtype: 'F32',
          shape: [16, 16],
          data: new Uint8Array(weights(rng, 256, 1).buffer),
        },
      ]),
    );
    const r = compress(clash, { methods: ['int8'], options: {} });
    assert.deepEqual(r.report.skipped, [
      { index: 0, name: 'w', reason: "a tensor named 'w.scale' already exists" },
    ]);
    assert.deepEqual(
      r.report.tensors.map((t) => t.name),
      ['w.scale'],
    );
  });

  it("carries an int8 variant's codes and scales over when compressing it again", () => {
    const input = single();
    const first = compress(input, { methods: ['int8'], options: {} });
    const second = compress(first.output, { methods: ['fp16'], options: {} });
    const a = rawFile(first.output);
    const b = rawFile(second.output);
    for (const [name, t] of a.tensors)
      if (t.dtype === 'I8' || name.endsWith('.scale'))
        assert.ok(b.tensors.get(name)!.bytes.equals(t.bytes), name);
    assert.equal(b.metadata['model_lens.quantization'], 'int8-per-row');
    assert.equal(second.report.tensors.length, 1, 'only the float32 norm is left to convert');
    const m = openModel(second.output);
    try {
      assert.equal(m.model.tensors.filter((t) => t.storage.kind === 'scaled').length, 7);
    } finally {
      m.close();
    }
  });
});

describe('safetensors compression: sharded models', () => {
  const sharded = (): string => {
    const dir = join(root, `sh${counter++}`);
    cpSync(join(root, 'fx', 'safetensors', 'sharded'), dir, { recursive: true });
    return join(dir, 'model.safetensors.index.json');
  };

  it('writes one shard per input shard and a new index naming them', () => {
    const input = sharded();
    const r = compress(input, {
      methods: ['prune', 'int8'],
      options: { sparsity: 0.5, scope: 'global' },
    });
    assert.equal(r.output, join(input, '..', 'model.prune50.int8.safetensors.index.json'));
    const index = JSON.parse(readFileSync(r.output, 'utf8'));
    const names = [
      'model.prune50.int8-00001-of-00002.safetensors',
      'model.prune50.int8-00002-of-00002.safetensors',
    ];
    assert.deepEqual([...new Set(Object.values(index.weight_map))].sort(), names);
    const inIndex = JSON.parse(readFileSync(input, 'utf8')).weight_map as Record<string, string>;
    let total = 0;
    for (const [k, shard] of names.entries()) {
      checkLayout(join(input, '..', shard));
      const f = rawFile(join(input, '..', shard));
      for (const [name, t] of f.tensors) {
        assert.equal(index.weight_map[name], shard, `${name} is listed in the shard holding it`);
        const base = name.endsWith('.scale') ? name.slice(0, -6) : name;
        assert.equal(
          inIndex[base],
          `model-0000${k + 1}-of-00002.safetensors`,
          `${name} stays in shard ${k + 1}`,
        );
        total += t.end - t.begin;
      }
    }
    assert.equal(index.metadata.total_size, total);
    assert.equal(index.metadata['model_lens.compression'], 'prune50.int8');
    let bytes = statSync(r.output).size;
    for (const n of names) bytes += statSync(join(input, '..', n)).size;
    assert.equal(r.report.totals.fileBytesAfter, bytes);
    const m = openModel(r.output);
    try {
      assert.equal(m.model.tensors.length, 10);
      assert.equal(m.model.tensors.filter((t) => t.origin === 'int8 weight-only').length, 8);
      let zeros = 0;
      let count = 0;
      for (const t of r.report.tensors) {
        const s = m.stats(t.name);
        zeros += s.zeros;
        count += s.count;
      }
      assert.ok(Math.abs(zeros / count - 0.5) < 0.01, `global sparsity ${zeros / count}`);
    } finally {
      m.close();
    }
  });

  it('leaves nothing behind when a shard name is taken, or when cancelled at any point', () => {
    const input = sharded();
    const dir = join(input, '..');
    writeFileSync(join(dir, 'model.int8-00002-of-00002.safetensors'), 'mine');
    const before = readdirSync(dir).sort();
    assert.throws(
      () => compress(input, { methods: ['int8'], options: {} }),
      /model\.int8-00002-of-00002\.safetensors already exists/,
    );
    assert.deepEqual(readdirSync(dir).sort(), before);
    assert.equal(readFileSync(join(dir, 'model.int8-00002-of-00002.safetensors'), 'utf8'), 'mine');
    rmSync(join(dir, 'model.int8-00002-of-00002.safetensors'));
    let checks = 0;
    compress(
      input,
      { methods: ['fp16'], options: {} },
      { output: join(dir, 'count.safetensors.index.json'), cancelled: () => (checks++, false) },
    );
    assert.ok(checks > 10, `${checks} cancellation checks`);
    for (const f of readdirSync(dir)) if (f.startsWith('count')) rmSync(join(dir, f));
    const clean = readdirSync(dir).sort();
    for (let k = 0; k < checks; k += 3) {
      let n = 0;
      assert.throws(
        () => compress(input, { methods: ['fp16'], options: {} }, { cancelled: () => n++ >= k }),
        CancelledError,
      );
      assert.deepEqual(readdirSync(dir).sort(), clean, `cancelled after ${k} checks`);
    }
  });

  it('names variants of an index with its double extension', () => {
    assert.equal(
      variantPath('/m/model.safetensors.index.json', 'int8'),
      '/m/model.int8.safetensors.index.json',
    );
    assert.equal(variantPath('/m/model.safetensors', 'int8'), '/m/model.int8.safetensors');
    assert.throws(
      () =>
        compress(
          sharded(),
          { methods: ['int8'], options: {} },
          { output: join(root, 'x.safetensors') },
        ),
      /must be named \*\.safetensors\.index\.json/,
    );
  });
});
