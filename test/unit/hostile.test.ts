/**
 * Hostile files through the CLI, one test per case: `inspect` exits 1 with exactly one line
 * `model-lens: FILE: reason` and no stack trace within seconds, `compress` writes nothing, and the
 * file itself is never modified. Reader-level tests (onnxReader, ggufReader, ...) cover the
 * messages in detail; these cover the front door and the cases they leave out.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { invalid, InvalidModelError } from '../../src/core/errors';
import { readModel } from '../../src/core/formats';
import { MemorySource } from '../../src/core/io/source';
import { computeTensorStats } from '../../src/core/stats/compute';
import { DEFAULT_STATS_OPTIONS } from '../../src/core/stats/types';
import { floatModel, GGML } from '../fixtures/gguf';
import { buildGguf } from '../fixtures/ggufBuilder';
import { DT, encodeModel, graph, node, tensor, valueInfo, varint } from '../fixtures/onnxBuilder';
import { writePytorchFixtures } from '../fixtures/pytorch';
import { storage, tensorOf, torchSave, type Spec } from '../fixtures/pytorchBuilder';
import { int8Model, rawSafetensors, singleModel } from '../fixtures/safetensors';
import { distFile, fixturePath } from './helpers';

const root = mkdtempSync(join(tmpdir(), 'model-lens-hostile-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Messages of JS engine failures: a refusal must name the problem in the file, not leak one of these. */
const ENGINE_ERRORS =
  /Maximum call stack|Invalid typed array length|Array buffer allocation|Invalid array length|Cannot read prop|is not a function|is not iterable|undefined|out of memory|RangeError|TypeError/;

let caseNo = 0;
/** Writes `files` (name → bytes) into a fresh folder; returns the folder. */
function folder(files: Record<string, Uint8Array | string>): string {
  const dir = join(root, `case${caseNo++}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), bytes);
  }
  return dir;
}

function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), `${rel}${e.name}/`);
      else
        out.set(
          `${rel}${e.name}`,
          e.isSymbolicLink()
            ? 'link'
            : createHash('sha256')
                .update(readFileSync(join(d, e.name)))
                .digest('hex'),
        );
    }
  };
  walk(dir, '');
  return out;
}

function cli(...args: string[]): {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
} {
  const started = performance.now();
  const r = spawnSync(process.execPath, [distFile('cli.js'), ...args], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - started };
}

/** The contract of every hostile case; returns the reason for case-specific checks. */
function refusedByCli(dir: string, file: string, reason: RegExp): string {
  const path = join(dir, file);
  const before = tree(dir);
  const r = cli('inspect', path);
  assert.equal(r.code, 1, `inspect exits 1 (stdout: ${r.stdout.slice(0, 200)})`);
  assert.ok(r.ms < 5000, `answered in ${r.ms.toFixed(0)} ms`);
  const lines = r.stderr.split('\n');
  assert.equal(lines.length, 2, `one stderr line, got: ${r.stderr}`);
  const prefix = `model-lens: ${path}: `;
  assert.ok(lines[0].startsWith(prefix), lines[0]);
  const message = lines[0].slice(prefix.length);
  assert.match(message, reason);
  assert.doesNotMatch(message, ENGINE_ERRORS);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  const c = cli('compress', path, '--method', 'fp16');
  assert.equal(c.code, 1, `compress exits 1: ${c.stderr}`);
  assert.equal(c.stderr.split('\n').length, 2, c.stderr);
  assert.deepEqual(tree(dir), before, 'compress wrote nothing and modified nothing');
  return message;
}

/** Protobuf field with a length prefix. */
function field(no: number, payload: Uint8Array): Uint8Array {
  const key = varint((no << 3) | 2);
  const len = varint(payload.length);
  const out = new Uint8Array(key.length + len.length + payload.length);
  out.set(key);
  out.set(len, key.length);
  out.set(payload, key.length + len.length);
  return out;
}
const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
/** ModelProto header: ir_version 8, opset 13, then the graph. */
const onnxModel = (graphBytes: Uint8Array): Uint8Array =>
  cat(Uint8Array.of(0x08, 0x08), field(8, Uint8Array.of(0x10, 13)), field(7, graphBytes));

/** `depth` If nodes each holding the next graph in then_branch, built from the inside out. */
function nestedIfs(depth: number): Uint8Array {
  let g = field(2, text('leaf'));
  for (let i = 0; i < depth; i++) {
    const attr = cat(field(1, text('then_branch')), Uint8Array.of(0xa0, 0x01, 0x05), field(6, g));
    g = field(1, cat(field(4, text('If')), field(5, attr)));
  }
  return onnxModel(g);
}

/** A graph input whose type is sequence(sequence(...(tensor))) `depth` levels deep. */
function nestedTypes(depth: number): Uint8Array {
  let t = field(1, Uint8Array.of(0x08, 0x01));
  for (let i = 0; i < depth; i++) t = field(4, field(1, t));
  return onnxModel(field(11, cat(field(1, text('x')), field(2, t))));
}

const gguf = (
  tensors = [{ name: 'w', dims: [32, 2], type: GGML.F32, data: new Uint8Array(256) }],
): Uint8Array =>
  buildGguf({ kvs: [['general.architecture', { t: 'string', v: 'llama' }]], tensors });
function setU64(bytes: Uint8Array, at: number, v: bigint): Uint8Array {
  const b = bytes.slice();
  new DataView(b.buffer).setBigUint64(at, v, true);
  return b;
}

function externalOnnx(location: string, offset = 0, length = 16): Uint8Array {
  const t = tensor('w', DT.FLOAT, [4], [0, 0, 0, 0]);
  t.rawData = undefined;
  t.dataLocation = 1;
  t.externalData = [
    { key: 'location', value: location },
    { key: 'offset', value: String(offset) },
    { key: 'length', value: String(length) },
  ];
  return encodeModel({
    irVersion: 8,
    opsets: { '': 13 },
    graph: graph({
      name: 'g',
      nodes: [node('Identity', ['w'], ['y'])],
      inputs: [],
      outputs: [valueInfo('y', DT.FLOAT, [4])],
      initializers: [t],
    }),
  });
}

describe('hostile files through the CLI', () => {
  it('empty file', () => {
    refusedByCli(folder({ 'empty.onnx': new Uint8Array(0) }), 'empty.onnx', /empty/);
  });
  for (const ext of ['onnx', 'safetensors', 'gguf', 'pt']) {
    it(`garbage named .${ext}`, () => {
      const bytes = Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24);
      refusedByCli(folder({ [`garbage.${ext}`]: bytes }), `garbage.${ext}`, /./);
    });
  }
  it('text file named .gguf', () => {
    refusedByCli(
      folder({ 'notes.gguf': 'GGUF is a model format, but this is prose.\n' }),
      'notes.gguf',
      /./,
    );
  });
  it('truncated safetensors named .onnx (wrong extension and cut)', () => {
    const file = singleModel().file;
    refusedByCli(
      folder({ 'model.onnx': file.subarray(0, file.length - 100) }),
      'model.onnx',
      /run past the data|runs past|truncated/,
    );
  });

  it('protobuf length past the end of the file', () => {
    refusedByCli(
      folder({ 'bomb.onnx': Uint8Array.of(0x08, 0x07, 0x3a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20) }),
      'bomb.onnx',
      /runs past/,
    );
  });
  it('ONNX dims whose product overflows', () => {
    const huge = tensor('h', DT.FLOAT, [1], [0]);
    huge.dims = [2 ** 31, 2 ** 31, 2 ** 31];
    const bytes = encodeModel({
      irVersion: 8,
      opsets: { '': 13 },
      graph: graph({ name: 'g', nodes: [], inputs: [], outputs: [], initializers: [huge] }),
    });
    refusedByCli(folder({ 'dims.onnx': bytes }), 'dims.onnx', /elements/);
  });
  it('5000 nested If subgraphs', () => {
    refusedByCli(folder({ 'deep.onnx': nestedIfs(5000) }), 'deep.onnx', /nest|deep/i);
  });
  it('20000 nested sequence types: read without descending them', () => {
    const r = cli('inspect', join(folder({ 'types.onnx': nestedTypes(20000) }), 'types.onnx'));
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.ms < 5000);
    assert.equal(r.stderr, '');
  });

  it('safetensors header length 2^60', () => {
    refusedByCli(
      folder({ 'h.safetensors': rawSafetensors('{}', [], 2n ** 60n) }),
      'h.safetensors',
      /header length/,
    );
  });
  it('safetensors shape whose product overflows', () => {
    const header = JSON.stringify({
      w: { dtype: 'F32', shape: [2 ** 32, 2 ** 32, 2 ** 32], data_offsets: [0, 4] },
    });
    refusedByCli(
      folder({ 's.safetensors': rawSafetensors(header, [new Uint8Array(4)]) }),
      's.safetensors',
      /shape|elements|bytes/,
    );
  });
  it('safetensors data_offsets of 2^60', () => {
    const header = `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,1152921504606846976]}}`;
    refusedByCli(
      folder({ 'o.safetensors': rawSafetensors(header, [new Uint8Array(4)]) }),
      'o.safetensors',
      /./,
    );
  });

  it('GGUF tensor count 2^60', () => {
    refusedByCli(folder({ 't.gguf': setU64(gguf(), 8, 2n ** 60n) }), 't.gguf', /tensor_count/);
  });
  it('GGUF KV count 2^60', () => {
    refusedByCli(folder({ 'k.gguf': setU64(gguf(), 16, 2n ** 60n) }), 'k.gguf', /kv_count/);
  });
  it('GGUF string length 2^60', () => {
    refusedByCli(
      folder({ 's.gguf': setU64(gguf(), 24, 2n ** 60n) }),
      's.gguf',
      /metadata key of \d+ bytes/,
    );
  });
  it('GGUF dims whose product overflows', () => {
    const bytes = gguf([
      { name: 'w', dims: [2 ** 32, 2 ** 32, 2 ** 32], type: GGML.F32, data: new Uint8Array(32) },
    ]);
    refusedByCli(folder({ 'd.gguf': bytes }), 'd.gguf', /elements/);
  });

  it('pickle shape whose product overflows', () => {
    const st = storage('0', 'FloatStorage', DT.FLOAT, [1, 2, 3, 4]);
    const bytes = torchSave({
      dict: [['w', tensorOf(st, [2 ** 31, 2 ** 31, 2 ** 31], [0, 0, 0])]],
    });
    // A refused tensor leaves a readable checkpoint with nothing to show; compress has nothing to do either.
    const dir = folder({ 'shape.pt': bytes });
    const r = cli('inspect', join(dir, 'shape.pt'));
    assert.ok(r.code === 1 || /elements|shape/.test(r.stdout), `${r.code} ${r.stdout} ${r.stderr}`);
    assert.doesNotMatch(r.stdout + r.stderr, ENGINE_ERRORS);
  });

  it('external data with an absolute location', () => {
    refusedByCli(
      folder({ 'm/model.onnx': externalOnnx('/etc/passwd') }),
      'm/model.onnx',
      /absolute/,
    );
  });
  it('external data escaping with ..', () => {
    refusedByCli(
      folder({ 'm/model.onnx': externalOnnx('../secret.bin'), 'secret.bin': new Uint8Array(16) }),
      'm/model.onnx',
      /leaves the model's folder/,
    );
  });
  it('external data through a symlink out of the folder', () => {
    const dir = folder({
      'm/model.onnx': externalOnnx('link.bin'),
      'secret.bin': new Uint8Array(16),
    });
    symlinkSync(join(dir, 'secret.bin'), join(dir, 'm', 'link.bin'));
    refusedByCli(dir, 'm/model.onnx', /outside the model's folder/);
  });
  it('external data offset past the end of the data file', () => {
    refusedByCli(
      folder({ 'm/model.onnx': externalOnnx('w.bin', 2 ** 40, 16), 'm/w.bin': new Uint8Array(16) }),
      'm/model.onnx',
      /past the end|outside/,
    );
  });
  it('sharded safetensors index naming a shard outside the folder', () => {
    const index = JSON.stringify({ weight_map: { w: '../outside.safetensors' } });
    const dir = folder({
      'm/model.safetensors.index.json': index,
      'outside.safetensors': int8Model().file,
    });
    refusedByCli(dir, 'm/model.safetensors.index.json', /folder|outside|leaves/);
  });
});

describe('hostile pickles', () => {
  /** Names that exist as real JS functions or dangerous Python ones: none may be resolved or run. */
  const GLOBALS: [string, string][] = [
    ['posix', 'system'],
    ['os', 'system'],
    ['builtins', 'eval'],
    ['builtins', 'exec'],
    ['builtins', 'Function'],
    ['builtins', 'constructor'],
    ['builtins', '__proto__'],
    ['globalThis', 'eval'],
    ['child_process', 'execSync'],
    ['subprocess', 'Popen'],
    ['torch._utils', 'constructor'],
    ['collections', 'hasOwnProperty'],
  ];

  it('every dangerous or JS-named global is a refused object, never resolved or run', () => {
    const dir = mkdtempSync(join(root, 'pickle-'));
    const sentinel = join(dir, 'pwned');
    const payload = `require('fs').writeFileSync(${JSON.stringify(sentinel)}, 'x'); touch ${sentinel}`;
    const calls: Spec[] = GLOBALS.map(([m, n]) => ({ call: [m, n], args: [payload] }));
    // __reduce__ trick: an object whose state names eval again, plus NEWOBJ of builtins.Function.
    const root_: Spec = {
      dict: [
        ['weight', tensorOf(storage('0', 'FloatStorage', DT.FLOAT, [1, 2, 3, 4]), [2, 2])],
        ['calls', calls],
        [
          'obj',
          {
            newobj: ['builtins', 'Function'],
            state: { dict: [['__reduce__', { global: ['builtins', 'eval'] }]] },
          },
        ],
      ],
    };
    writeFileSync(join(dir, 'evil.pt'), torchSave(root_));
    const hash = createHash('sha256')
      .update(readFileSync(join(dir, 'evil.pt')))
      .digest('hex');
    const r = cli('inspect', join(dir, 'evil.pt'), '--json');
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(
      doc.tensors.map((t: { name: string }) => t.name),
      ['weight'],
    );
    const opaque = JSON.stringify(doc);
    for (const [m, n] of GLOBALS)
      assert.ok(opaque.includes(`${m}.${n}`), `${m}.${n} listed as refused`);
    assert.deepEqual(readdirSync(dir), ['evil.pt'], 'nothing ran: no sentinel file');
    assert.equal(
      createHash('sha256')
        .update(readFileSync(join(dir, 'evil.pt')))
        .digest('hex'),
      hash,
    );
  });

  it('the pickle reader has no code path that can run code', () => {
    // Static proof next to the dynamic one: the sources never evaluate, import or look names up in a global object.
    const src = [
      ...['pickle', 'torch', 'reader', 'strided'].map((f) => ['formats', 'pytorch', f]),
      ['io', 'zip'],
    ]
      .map((parts) =>
        readFileSync(join(distFile(''), '..', 'src', 'core', ...parts) + '.ts', 'utf8'),
      )
      .join('\n');
    assert.doesNotMatch(
      src,
      /\beval\s*\(|new\s+Function|\brequire\s*\(|\bimport\s*\(|globalThis|\bprocess\./,
    );
  });

  it('the hostile.pt fixture is read and its payload refused, in the CLI', () => {
    const dir = mkdtempSync(join(root, 'fixture-'));
    writePytorchFixtures(dir);
    const r = cli('inspect', join(dir, 'pytorch', 'hostile.pt'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /posix\.system/);
  });

  it('100000 nested containers: no stack overflow', () => {
    // EMPTY_LIST and MARK n times, then APPEND and TUPLE n times: lists and tuples alternating.
    const n = 100_000;
    const ops: number[] = [];
    for (let i = 0; i < n; i++) ops.push(i % 2 ? 0x5d : 0x28);
    ops.push(0x4e);
    for (let i = n - 1; i >= 0; i--) ops.push(i % 2 ? 0x61 : 0x74);
    const dir = folder({
      'deep.pt': torchSave(null, { pickleBytes: Uint8Array.from([0x80, 0x02, ...ops, 0x2e]) }),
    });
    const r = cli('inspect', join(dir, 'deep.pt'));
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, ENGINE_ERRORS);
  });
});

/** Reads every prefix of `bytes`; only InvalidModelError may escape the reader or the statistics. */
function everyCut(bytes: Uint8Array, name: string, step = 1): number {
  let refused = 0;
  for (let cut = 0; cut < bytes.length; cut += step) {
    const source = new MemorySource(bytes.subarray(0, cut), name);
    try {
      const model = readModel(source, name);
      for (const ref of model.tensors) {
        try {
          computeTensorStats(
            source,
            ref,
            () => invalid('no external data in this test'),
            DEFAULT_STATS_OPTIONS,
          );
        } catch (err) {
          if (!(err instanceof InvalidModelError)) throw err;
        }
      }
    } catch (err) {
      if (!(err instanceof InvalidModelError))
        throw new Error(`${name} cut at ${cut}: ${(err as Error).stack}`);
      refused++;
    }
  }
  return refused;
}

describe('truncated at every cut point', () => {
  it('safetensors (model, int8)', () => {
    for (const [name, bytes] of [
      ['model.safetensors', singleModel().file],
      ['int8.safetensors', int8Model().file],
    ] as const) {
      assert.ok(
        everyCut(bytes, name) >= bytes.length - 1,
        `${name}: every proper prefix is refused`,
      );
    }
  });
  it('GGUF (every byte of the header, every 7th of the data)', () => {
    const bytes = floatModel();
    const headerEnd = 4096;
    everyCut(bytes.subarray(0, Math.min(bytes.length, headerEnd + 1)), 'f.gguf');
    assert.ok(everyCut(bytes, 'f.gguf', 7) > bytes.length / 7 - 2);
  });
  it('PyTorch (state_dict and hostile checkpoints)', () => {
    const dir = mkdtempSync(join(root, 'cuts-'));
    writePytorchFixtures(dir);
    for (const f of ['hostile.pt', 'state_dict.pt', 'zip64.pt']) {
      const bytes = new Uint8Array(readFileSync(join(dir, 'pytorch', f)));
      assert.ok(everyCut(bytes, f) >= bytes.length - 1, `${f}: every proper prefix is refused`);
    }
  });
  it('ONNX (external, sparse, function models)', () => {
    for (const f of ['external/model.onnx', 'sparse.onnx', 'function.onnx', 'constants.onnx']) {
      everyCut(new Uint8Array(readFileSync(fixturePath(f))), f.replace('external/', ''));
    }
  });
});
