import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InvalidModelError } from '../../src/core/errors';
import { readModel } from '../../src/core/formats';
import { MAX_CONTAINER_DEPTH } from '../../src/core/formats/pytorch/reader';
import { MAX_PICKLE_STACK } from '../../src/core/formats/pytorch/pickle';
import { MemorySource, type RandomAccessSource } from '../../src/core/io/source';
import { MAX_STRIDED_SPAN_BYTES } from '../../src/core/limits';
import type { Model, TensorRef } from '../../src/core/model';
import { computeTensorStats } from '../../src/core/stats/compute';
import { streamElements } from '../../src/core/stats/decode';
import { DEFAULT_STATS_OPTIONS } from '../../src/core/stats/types';
import { DT } from '../fixtures/onnxBuilder';
import {
  HALF_VALUES,
  INT8_VALUES,
  KNOWN,
  dtypesStateDict,
  hostileCheckpoint,
  moduleCheckpoint,
  nestedCheckpoint,
  ordered,
  viewsStateDict,
} from '../fixtures/pytorch';
import {
  storage,
  tensorOf,
  torchSave,
  zipArchive,
  type SaveOptions,
  type Spec,
} from '../fixtures/pytorchBuilder';

function open(bytes: Uint8Array, name = 'model.pt'): { model: Model; source: MemorySource } {
  const source = new MemorySource(bytes, name);
  return { model: readModel(source, name), source };
}

function values(source: RandomAccessSource, ref: TensorRef): number[] {
  const out: number[] = [];
  streamElements(
    source,
    ref,
    () => assert.fail('no external files'),
    (v, n) => out.push(...v.subarray(0, n)),
  );
  return out;
}

function tensor(model: Model, name: string): TensorRef {
  const t = model.tensors.find((x) => x.name === name);
  assert.ok(t, `no tensor ${name}; have ${model.tensors.map((x) => x.name).join(', ')}`);
  return t;
}

function prop(model: Model, key: string): string | undefined {
  return model.metadata.properties.find((p) => p.key === key)?.value;
}

/** Saves `root` with its data.pkl replaced by raw pickle bytes (protocol header and STOP added). */
function withPickle(ops: number[], opts: SaveOptions = {}): Uint8Array {
  return torchSave(null, { ...opts, pickleBytes: Uint8Array.from([0x80, 0x02, ...ops, 0x2e]) });
}

function refuses(bytes: Uint8Array, pattern: RegExp, name = 'model.pt'): void {
  assert.throws(
    () => open(bytes, name),
    (e: Error) => e instanceof InvalidModelError && pattern.test(e.message),
    `expected ${pattern}`,
  );
}

describe('PyTorch reader: state_dicts', () => {
  it('lists every tensor of an OrderedDict state_dict with dtype, shape and known values', () => {
    const { root, fc1 } = dtypesStateDict();
    const { model, source } = open(torchSave(root, { archive: 'state_dict' }));
    assert.equal(model.format, 'pytorch');
    assert.deepEqual(
      model.tensors.map((t) => [t.name, t.dtype, t.dims.join('x')]),
      [
        ['encoder.fc1.weight', DT.FLOAT, '16x8'],
        ['encoder.known', DT.FLOAT, '64x10'],
        ['half.weight', DT.FLOAT16, '4x5'],
        ['bf16.weight', DT.BFLOAT16, '5x4'],
        ['int8.weight', DT.INT8, '2x5'],
        ['bn.num_batches_tracked', DT.INT64, ''],
        ['mask', DT.BOOL, '4'],
        ['f64', DT.DOUBLE, '3'],
        ['empty', DT.FLOAT, '0x3'],
      ],
    );
    assert.deepEqual(values(source, tensor(model, 'encoder.fc1.weight')), Array.from(fc1));
    assert.deepEqual(values(source, tensor(model, 'half.weight')), HALF_VALUES);
    assert.deepEqual(values(source, tensor(model, 'bf16.weight')), HALF_VALUES);
    assert.deepEqual(values(source, tensor(model, 'int8.weight')), INT8_VALUES);
    assert.deepEqual(values(source, tensor(model, 'bn.num_batches_tracked')), [123456789012]);
    assert.deepEqual(values(source, tensor(model, 'mask')), [1, 0, 1, 1]);
    assert.deepEqual(values(source, tensor(model, 'f64')), [0.1, -2.5, 1e150]);
    assert.deepEqual(values(source, tensor(model, 'empty')), []);
    const s = computeTensorStats(
      source,
      tensor(model, 'encoder.known'),
      () => assert.fail(),
      DEFAULT_STATS_OPTIONS,
    );
    assert.equal(s.min, 0);
    assert.equal(s.max, 639 / 64);
    assert.ok(Math.abs(s.mean! - 319.5 / 64) < 1e-12);
    assert.ok(Math.abs(s.std! - Math.sqrt((640 * 640 - 1) / 12) / 64) < 1e-12);
    assert.equal(s.zeros, 1);
    assert.equal(tensor(model, 'encoder.known').bytes, KNOWN.length * 4);
    assert.equal(tensor(model, 'half.weight').bytes, 40);
  });

  it('reports the archive, serialization records and name-prefix layers', () => {
    const { model } = open(
      torchSave(dtypesStateDict().root, { archive: 'state_dict', byteorder: 'little' }),
    );
    assert.equal(prop(model, 'archive'), 'state_dict');
    assert.equal(prop(model, 'serialization version'), '3');
    assert.equal(prop(model, 'byteorder'), 'little');
    assert.equal(prop(model, 'pickle protocol'), '2');
    assert.equal(prop(model, 'state_dict path'), '(root)');
    assert.equal(prop(model, 'storages'), '9');
    assert.deepEqual(model.warnings, []);
    const fc1 = model.layers.find((l) => l.name === 'encoder.fc1');
    assert.deepEqual(
      fc1?.tensors.map((i) => model.tensors[i].name),
      ['encoder.fc1.weight'],
    );
    assert.deepEqual(fc1?.slots, [-1]);
    assert.equal(fc1?.op, '');
    assert.ok(
      model.layers.some((l) => l.name === 'mask' && l.tensors.length === 1),
      'a name without dots is its own layer',
    );
    assert.ok(model.tensors.every((t) => t.origin === 'state_dict' && t.scope === ''));
  });

  it('reads the same archive written with zip64 records', () => {
    const plain = open(torchSave(dtypesStateDict().root));
    const z64 = open(torchSave(dtypesStateDict().root, { zip64: true }));
    assert.deepEqual(
      z64.model.tensors.map((t) => values(z64.source, t)),
      plain.model.tensors.map((t) => values(plain.source, t)),
    );
  });

  it('decodes shared storages and non-contiguous views in row-major order', () => {
    const { root, views } = viewsStateDict();
    const { model, source } = open(torchSave(root));
    for (const [name, v] of Object.entries(views))
      assert.deepEqual(values(source, tensor(model, name)), v.values, name);
    assert.deepEqual(values(source, tensor(model, 'tied')), views.base.values);
    assert.equal(tensor(model, 'base').storage.kind, 'range');
    assert.equal(
      tensor(model, 'rows').storage.kind,
      'range',
      'a row slice is contiguous: plain range at its offset',
    );
    assert.equal(tensor(model, 't').storage.kind, 'strided');
    assert.equal(tensor(model, 'expand').storage.kind, 'strided');
    assert.equal(prop(model, 'non-contiguous tensors'), '8');
    assert.equal(prop(model, 'shared storages'), '1');
    assert.equal(prop(model, 'storages'), '4');
    const t = computeTensorStats(
      source,
      tensor(model, 't'),
      () => assert.fail(),
      DEFAULT_STATS_OPTIONS,
    );
    assert.equal(t.min, 0);
    assert.equal(t.max, 47);
    assert.equal(t.mean, 23.5);
  });

  it('refuses a view that reaches past its storage, tensor by tensor', () => {
    const st = storage('0', 'FloatStorage', DT.FLOAT, [1, 2, 3, 4]);
    const { model, source } = open(
      torchSave(
        ordered([
          ['ok', tensorOf(st, [2], [1], 2)],
          ['bad', tensorOf(st, [3, 2], [2, 1], 0)],
        ]),
      ),
    );
    assert.deepEqual(values(source, tensor(model, 'ok')), [3, 4]);
    assert.equal(tensor(model, 'bad').storage.kind, 'none');
    assert.match(
      model.warnings.join('\n'),
      /bad: view reaches element 5 of storage data\/0, which holds 4/,
    );
    assert.throws(() => values(source, tensor(model, 'bad')), /view reaches element 5/);
  });
});

describe('PyTorch reader: checkpoints', () => {
  it('finds the state_dict under a key and keeps full paths for optimizer state', () => {
    const { model } = open(torchSave(nestedCheckpoint()), 'checkpoint.pth');
    assert.deepEqual(
      model.tensors.map((t) => `${t.name}:${t.origin}`),
      [
        'fc.weight:state_dict',
        'fc.bias:state_dict',
        'optimizer.state.0.step:checkpoint',
        'optimizer.state.0.exp_avg:checkpoint',
        'optimizer.state.0.exp_avg_sq:checkpoint',
      ],
    );
    assert.equal(prop(model, 'state_dict path'), 'model');
    assert.equal(prop(model, 'epoch'), '7');
    assert.equal(prop(model, 'note'), 'nested');
    assert.equal(prop(model, 'optimizer'), '{2 keys}');
    assert.deepEqual(model.warnings, []);
  });

  it('finds a Lightning state_dict split into sub-dicts, next to scalars', () => {
    const t = (k: string, n: number): Spec =>
      tensorOf(
        storage(
          k,
          'FloatStorage',
          DT.FLOAT,
          Array.from({ length: n }, (_, i) => i),
        ),
        [n],
      );
    const root: Spec = {
      dict: [
        ['epoch', 4],
        [
          'state_dict',
          {
            dict: [
              ['encoder', ordered([['w', t('0', 8)]])],
              ['decoder', ordered([['w', t('1', 4)]])],
            ],
          },
        ],
        [
          'optimizer_states',
          [
            {
              dict: [
                ['state', { dict: [[0, { dict: [['exp_avg', t('2', 64)]] }]] }],
                ['param_groups', []],
              ],
            },
          ],
        ],
      ],
    };
    const { model } = open(torchSave(root), 'last.ckpt');
    assert.deepEqual(
      model.tensors.map((x) => x.name),
      ['encoder.w', 'decoder.w', 'optimizer_states.0.state.0.exp_avg'],
    );
    assert.equal(prop(model, 'state_dict path'), 'state_dict');
  });

  it('names a pickled nn.Module by its state_dict keys and lists its classes as opaque', () => {
    const { model, source } = open(torchSave(moduleCheckpoint()));
    assert.deepEqual(
      model.tensors.map((t) => t.name),
      ['enc.weight', 'enc.bias', 'head.weight', 'head.bias'],
    );
    assert.deepEqual(values(source, tensor(model, 'head.bias')), [0, 1]);
    assert.equal(prop(model, 'opaque globals'), '__main__.Net, torch.nn.modules.linear.Linear');
    assert.match(
      model.warnings[0],
      /2 Python globals outside the state_dict allow-list; none was run/,
    );
  });

  it('shows os.system and eval as refused objects and still reads the tensors beside them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ml-pt-'));
    try {
      const sentinel = join(dir, 'pwned');
      const { model, source } = open(torchSave(hostileCheckpoint(sentinel)));
      assert.equal(prop(model, 'opaque globals'), 'posix.system, builtins.eval');
      assert.match(model.warnings.join('\n'), /none was run.*posix\.system, builtins\.eval/);
      assert.equal(prop(model, 'payload'), '<posix.system>');
      assert.deepEqual(
        model.tensors.map((t) => t.name),
        ['weight'],
      );
      assert.deepEqual(
        values(source, model.tensors[0]),
        Array.from({ length: 12 }, (_, i) => i),
      );
      assert.equal(existsSync(sentinel), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts a checkpoint without tensors and says so', () => {
    const { model } = open(torchSave({ dict: [['epoch', 1]] }));
    assert.deepEqual(model.tensors, []);
    assert.deepEqual(model.warnings, ['no tensors found in data.pkl']);
  });
});

describe('PyTorch reader: unsupported and broken archives', () => {
  it('refuses TorchScript, legacy, raw-pickle and big-endian files with a clear message', () => {
    const script = zipArchive([
      { name: 'm/data.pkl', data: Uint8Array.from([0x80, 2, 0x4e, 0x2e]) },
      { name: 'm/constants.pkl', data: Uint8Array.from([0x80, 2, 0x29, 0x2e]) },
      { name: 'm/code/__torch__.py', data: new TextEncoder().encode('class M: pass') },
    ]);
    refuses(script, /TorchScript archive \(torch\.jit\.save\): not supported/);
    const legacy = Uint8Array.from([
      0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
    ]);
    refuses(legacy, /legacy PyTorch checkpoint \(torch\.save before 1\.6/, 'old.bin');
    refuses(
      Uint8Array.from([0x80, 0x04, 0x4e, 0x2e]),
      /a raw pickle, not a torch\.save zip archive/,
    );
    refuses(new TextEncoder().encode('hello'), /not a PyTorch checkpoint/, 'notes.pth');
    refuses(torchSave(dtypesStateDict().root, { byteorder: 'big' }), /big-endian/);
  });

  it('recognises a checkpoint by its archive layout whatever its name, and leaves other zips alone', () => {
    const bytes = torchSave(dtypesStateDict().root);
    assert.equal(open(bytes, 'weights.data').model.format, 'pytorch');
    refuses(
      zipArchive([{ name: 'readme.txt', data: new Uint8Array(3) }]),
      /not a recognised model format/,
      'x.zip',
    );
    refuses(
      zipArchive([{ name: 'readme.txt', data: new Uint8Array(3) }]),
      /without data\.pkl/,
      'x.pt',
    );
  });

  it('refuses a deflated data.pkl and marks deflated or missing storages per tensor', () => {
    const root = dtypesStateDict().root;
    refuses(
      torchSave(root, { deflate: ['data.pkl'] }),
      /data\.pkl' is compressed \(deflate\); torch\.save stores members uncompressed/,
    );
    const { model, source } = open(torchSave(root, { deflate: ['data/2'], omit: ['3'] }));
    assert.equal(tensor(model, 'half.weight').storage.kind, 'none');
    assert.throws(() => values(source, tensor(model, 'half.weight')), /data\/2' is compressed/);
    assert.throws(() => values(source, tensor(model, 'bf16.weight')), /storage data\/3 is missing/);
    assert.equal(model.warnings.length, 2);
    assert.deepEqual(values(source, tensor(model, 'int8.weight')), INT8_VALUES);
  });

  it('refuses truncated and malformed zip archives', () => {
    const bytes = torchSave(dtypesStateDict().root);
    refuses(bytes.subarray(0, bytes.length - 30), /end-of-central-directory/);
    const badCd = bytes.slice();
    const v = new DataView(badCd.buffer);
    v.setUint32(badCd.length - 6, bytes.length, true); // central directory offset past the end
    refuses(badCd, /central directory .* runs past the end/);
    const badCount = bytes.slice();
    new DataView(badCount.buffer).setUint16(badCount.length - 12, 60000, true);
    refuses(badCount, /cannot hold 60000 members/);
  });
});

describe('PyTorch reader: the pickle machine', () => {
  it('refuses strings and lengths that run past data.pkl, unknown opcodes and missing memo entries', () => {
    refuses(
      withPickle([0x58, 0xff, 0xff, 0xff, 0x7f, 0x41]),
      /string of 2147483647 bytes runs past the end of the pickle/,
    );
    refuses(
      withPickle([0x8e, 0, 0, 0, 0, 0, 0, 0x10, 0]),
      /bytes of \d+ bytes runs past the end|out of range/,
    );
    refuses(withPickle([0x68, 0x05]), /memo has no entry 5/);
    refuses(withPickle([0xff]), /unknown pickle opcode 0xff/);
    refuses(withPickle([0x4e, 0x74]), /MARK missing/);
    refuses(withPickle([0x52]), /stack underflow/);
    refuses(
      torchSave(null, { pickleBytes: Uint8Array.from([0x80, 0x02, 0x4e]) }),
      /truncated|unexpected end/,
    );
    refuses(withPickle([0x97]), /out-of-band buffers/);
  });

  it('refuses a stack that grows past its limit, and appends half a million items to an opaque object', () => {
    refuses(
      withPickle(new Array(MAX_PICKLE_STACK + 1).fill(0x4e)),
      new RegExp(`stack exceeds ${MAX_PICKLE_STACK} entries`),
    );
    const n = 500_000;
    // GLOBAL x.Y, EMPTY_TUPLE, REDUCE (an opaque object), then MARK, n x NONE, APPENDS; same for a set with ADDITEMS.
    const opaque = [
      0x63,
      ...new TextEncoder().encode('x\nY\n'),
      0x29,
      0x52,
      0x28,
      ...new Array(n).fill(0x4e),
      0x65,
    ];
    assert.equal(open(withPickle(opaque)).model.tensors.length, 0);
    assert.equal(
      open(withPickle([0x8f, 0x28, ...new Array(n).fill(0x4e), 0x90])).model.tensors.length,
      0,
    );
  });

  it('reads 200000 nested lists and tuples without exhausting the stack, and a list holding itself', () => {
    const n = 200_000;
    const lists = [...new Array(n).fill(0x5d), ...new Array(n - 1).fill(0x61)];
    const { model } = open(withPickle(lists));
    assert.deepEqual(model.warnings, [
      `containers nested deeper than ${MAX_CONTAINER_DEPTH} levels were not searched for tensors`,
      'no tensors found in data.pkl',
    ]);
    const tuples = [...new Array(n).fill(0x28), ...new Array(n).fill(0x74)];
    assert.equal(open(withPickle(tuples)).model.tensors.length, 0);
    // ] BINPUT 0, BINGET 0, APPEND: a list containing itself.
    assert.deepEqual(open(withPickle([0x5d, 0x71, 0, 0x68, 0, 0x61])).model.warnings, [
      'no tensors found in data.pkl',
    ]);
  });

  it('decodes protocol 0-4 scalars and Python 2 names into the header', () => {
    const enc = (s: string) => [...new TextEncoder().encode(s)];
    const ops = [
      0x7d,
      0x28,
      ...[0x8c, 1, ...enc('a')],
      0x8a,
      9,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0x80, // -2^71 as LONG1
      ...[0x8c, 1, ...enc('b')],
      0x49,
      ...enc('00\n'), // I00 is False
      ...[0x8c, 1, ...enc('c')],
      0x4c,
      ...enc('-12345678901234567890L\n'),
      ...[0x8c, 1, ...enc('d')],
      0x56,
      ...enc('caf\\u00e9\n'),
      ...[0x8c, 1, ...enc('e')],
      0x53,
      ...enc("'it\\'s'\n"),
      ...[0x8c, 1, ...enc('f')],
      0x63,
      ...enc('__builtin__\nset\n'),
      0x5d,
      0x4b,
      1,
      0x61,
      0x85,
      0x52,
      ...[0x8c, 1, ...enc('g')],
      0x46,
      ...enc('2.5\n'),
      ...[0x8c, 1, ...enc('h')],
      0x8c,
      5,
      ...enc('torch'),
      0x8c,
      6,
      ...enc('device'),
      0x93,
      0x8c,
      4,
      ...enc('cuda'),
      0x4b,
      1,
      0x86,
      0x52,
      0x75,
    ];
    const { model } = open(withPickle(ops));
    const h = Object.fromEntries(model.metadata.properties.map((p) => [p.key, p.value]));
    assert.equal(h.a, String(-(2n ** 71n)));
    assert.equal(h.b, 'false');
    assert.equal(h.c, '-12345678901234567890');
    assert.equal(h.d, 'café');
    assert.equal(h.e, "it's");
    assert.equal(h.f, '<set>');
    assert.equal(h.g, '2.5');
    assert.equal(h.h, 'cuda:1');
    assert.equal(
      prop(model, 'opaque globals'),
      undefined,
      'builtins.set and torch.device are on the allow-list',
    );
  });

  it('interprets _rebuild_tensor_v3 on an untyped storage, tensor subclasses and meta tensors', () => {
    const bytes = storage('0', 'UntypedStorage', DT.FLOAT, [1.5, -2, 0, 8]);
    const untyped = { ...bytes, numel: bytes.data.length };
    const pid = { persistent: untyped };
    const v3: Spec = {
      call: ['torch._utils', '_rebuild_tensor_v3'],
      args: [
        pid,
        1,
        { tuple: [3] },
        { tuple: [1] },
        false,
        ordered([]),
        { global: ['torch', 'float32'] },
      ],
    };
    const v2: Spec = {
      call: ['torch._utils', '_rebuild_tensor_v2'],
      args: [pid, 0, { tuple: [2, 2] }, { tuple: [1, 2] }, false, ordered([])],
    };
    const sub: Spec = {
      call: ['torch._tensor', '_rebuild_from_type_v2'],
      args: [
        { global: ['torch._utils', '_rebuild_tensor_v3'] },
        { global: ['torch.nn.parameter', 'Parameter'] },
        { tuple: (v3 as { args: Spec[] }).args },
        { dict: [] },
      ],
    };
    const meta: Spec = {
      call: ['torch._utils', '_rebuild_meta_tensor_no_storage'],
      args: [{ global: ['torch', 'half'] }, { tuple: [2, 3] }, { tuple: [3, 1] }, false],
    };
    const { model, source } = open(
      torchSave(
        ordered([
          ['v3', v3],
          ['bytes', v2],
          ['sub', sub],
          ['meta', meta],
        ]),
      ),
    );
    assert.deepEqual(values(source, tensor(model, 'v3')), [-2, 0, 8]);
    assert.equal(tensor(model, 'bytes').dtype, DT.UINT8, 'an untyped storage holds bytes');
    assert.deepEqual(
      values(source, tensor(model, 'bytes')),
      [0, 0xc0, 0, 0x3f],
      'bytes of 1.5 (00 00 c0 3f), transposed',
    );
    assert.deepEqual(values(source, tensor(model, 'sub')), [-2, 0, 8]);
    const m = tensor(model, 'meta');
    assert.deepEqual(
      [m.dtype, m.dims, m.storage],
      [DT.FLOAT16, [2, 3], { kind: 'none', reason: 'meta tensor: saved without data' }],
    );
    assert.deepEqual(model.warnings, []);
  });

  it('refuses tensors with malformed rebuild arguments', () => {
    const st = storage('0', 'FloatStorage', DT.FLOAT, [1, 2]);
    refuses(
      torchSave(ordered([['x', tensorOf(st, new Array(65).fill(1))]])),
      /65 dimensions, more than 64/,
    );
    refuses(torchSave(ordered([['x', tensorOf(st, [2], [1, 1])]])), /1 dimensions but 2 strides/);
  });
});

describe('PyTorch strided views over large storages', () => {
  /** A virtual file whose 4-byte word at offset 4i holds i: views decode to their element indices. */
  class Counting implements RandomAccessSource {
    readonly name = 'counting';
    bytesRead = 0;
    constructor(private readonly bytes: number) {}
    size(): number {
      return this.bytes;
    }
    read(offset: number, into: Uint8Array): number {
      const n = Math.min(into.length, this.bytes - offset);
      for (let i = 0; i < n; i++) {
        const at = offset + i;
        into[i] = (Math.floor(at / 4) >>> ((at % 4) * 8)) & 0xff;
      }
      this.bytesRead += n;
      return n;
    }
  }
  const big = 2 ** 29;
  const ref = (dims: number[], strides: number[], offset = 0): TensorRef => ({
    name: 'v',
    dtype: DT.UINT32,
    dims,
    count: dims.reduce((a, d) => a * d, 1),
    bytes: 0,
    origin: '',
    scope: '',
    storage: { kind: 'strided', offset: offset * 4, length: big - offset * 4, dims, strides },
  });
  const stride = 40_000_000;

  it('streams a stepped view spanning more than MAX_STRIDED_SPAN_BYTES through a forward window', () => {
    assert.ok(2 * stride * 4 > MAX_STRIDED_SPAN_BYTES);
    const src = new Counting(big);
    const got = values(src, ref([3, 5], [stride, 1], 7));
    assert.deepEqual(
      got,
      [0, 1, 2].flatMap((i) => [0, 1, 2, 3, 4].map((j) => 7 + i * stride + j)),
    );
    assert.ok(src.bytesRead <= 3 * 4 * 1024 * 1024, `read ${src.bytesRead} bytes`);
  });

  it('reads long contiguous runs directly, whatever the span', () => {
    const src = new Counting(big);
    const got = values(src, ref([2, 3000], [stride * 3, 1]));
    assert.equal(got.length, 6000);
    assert.equal(got[2999], 2999);
    assert.equal(got[3000], stride * 3);
    assert.equal(src.bytesRead, 6000 * 4);
  });

  it('refuses a scattered (transposed) view over the span limit instead of reading it element by element', () => {
    assert.throws(
      () => values(new Counting(big), ref([5, 3], [1, stride])),
      /scattered order; views over \d+ bytes must keep element order/,
    );
  });
});
