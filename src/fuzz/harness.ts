/**
 * Fuzzing harness: mutates real fixture files and runs a format's reader plus the statistics
 * engine on the result. The only acceptable failure is InvalidModelError; anything else (another
 * exception, a read outside the file, a case over its time limit) is a bug in Model Lens.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { InvalidModelError, invalid } from '../core/errors';
import { readModel } from '../core/formats';
import {
  MemorySource,
  type ExternalDataResolver,
  type RandomAccessSource,
} from '../core/io/source';
import { computeTensorStats } from '../core/stats/compute';
import { DEFAULT_STATS_OPTIONS } from '../core/stats/types';
import { writeGgufFixtures } from '../../test/fixtures/gguf';
import { writeFixtures } from '../../test/fixtures/models';
import { writePytorchFixtures } from '../../test/fixtures/pytorch';
import { writeSafetensorsFixtures } from '../../test/fixtures/safetensors';
import { mulberry32 as rng } from '../core/random';

export { rng };

export const FORMATS = ['onnx', 'safetensors', 'gguf', 'pytorch'] as const;
export type FuzzFormat = (typeof FORMATS)[number];

/** One seed input: the model file plus the files next to it (external data, shards), by relative name. */
export interface Seed {
  name: string;
  main: string;
  files: Map<string, Uint8Array>;
}

/** Thrown by GuardedSource: a reader asked for bytes it had no business asking for. */
export class OutOfBoundsRead extends Error {
  override readonly name = 'OutOfBoundsRead';
}

/** A read larger than the file by more than this is an allocation driven by an unchecked length. */
const READ_SLACK = 64 * 1024;

/** An in-memory source that reports reads starting outside [0, size] or sized past the file as bugs. */
export class GuardedSource implements RandomAccessSource {
  private readonly inner: MemorySource;
  constructor(
    private readonly bytes: Uint8Array,
    readonly name: string,
  ) {
    this.inner = new MemorySource(bytes, name);
  }
  size(): number {
    return this.bytes.length;
  }
  read(offset: number, into: Uint8Array): number {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.bytes.length) {
      throw new OutOfBoundsRead(
        `read at ${offset} outside ${this.name} (${this.bytes.length} bytes)`,
      );
    }
    if (into.length > this.bytes.length + READ_SLACK) {
      throw new OutOfBoundsRead(
        `read of ${into.length} bytes from ${this.name} (${this.bytes.length} bytes)`,
      );
    }
    return this.inner.read(offset, into);
  }
}

/** Resolves sibling names against the in-memory file set, relative to the main file's folder. */
class MemoryResolver implements ExternalDataResolver {
  constructor(
    private readonly files: Map<string, Uint8Array>,
    private readonly dir: string,
  ) {}
  open(location: string): RandomAccessSource {
    const key = this.dir ? `${this.dir}/${location}` : location;
    const bytes = this.files.get(key);
    if (!bytes || location.includes('..') || location.startsWith('/'))
      invalid(`external data file '${location}' not found next to the model`);
    return new GuardedSource(bytes, key);
  }
}

export type Outcome =
  { kind: 'ok' } | { kind: 'invalid'; message: string } | { kind: 'failure'; message: string };

/** Reads `main` from `files` and computes statistics of every tensor; classifies what happened. */
export function runCase(files: Map<string, Uint8Array>, main: string): Outcome {
  const slash = main.lastIndexOf('/');
  const dir = slash >= 0 ? main.slice(0, slash) : '';
  const base = main.slice(slash + 1);
  try {
    const source = new GuardedSource(files.get(main)!, main);
    const resolver = new MemoryResolver(files, dir);
    const model = readModel(source, base, resolver);
    // Like the inspector, one tensor the statistics refuse does not stop the others.
    let refused: string | null = null;
    for (const ref of model.tensors) {
      try {
        computeTensorStats(source, ref, (f) => resolver.open(f), DEFAULT_STATS_OPTIONS);
      } catch (err) {
        if (!(err instanceof InvalidModelError)) throw err;
        refused ??= err.message;
      }
    }
    return refused === null ? { kind: 'ok' } : { kind: 'invalid', message: refused };
  } catch (err) {
    if (err instanceof InvalidModelError) return { kind: 'invalid', message: err.message };
    const e = err as Error;
    const where =
      e?.stack
        ?.split('\n')
        .slice(1, 3)
        .map((l) => l.trim())
        .join(' ') ?? '';
    return {
      kind: 'failure',
      message: `${e?.name ?? 'throw'}: ${e?.message ?? String(err)} ${where}`.trim(),
    };
  }
}

function formatOf(rel: string): FuzzFormat | null {
  if (/\.onnx$/i.test(rel)) return 'onnx';
  if (/\.safetensors$|\.safetensors\.index\.json$/i.test(rel)) return 'safetensors';
  if (/\.gguf$/i.test(rel)) return 'gguf';
  if (/\.(pt|pth|ckpt|bin)$/i.test(rel)) return 'pytorch';
  return null;
}

/** Generates every fixture into a temp folder and returns the seeds of one format, held in memory. */
export function loadSeeds(format: FuzzFormat): Seed[] {
  const dir = mkdtempSync(join(tmpdir(), 'model-lens-fuzz-'));
  try {
    const written = [
      ...writeFixtures(dir),
      ...writeGgufFixtures(dir),
      ...writeSafetensorsFixtures(dir),
      ...writePytorchFixtures(dir),
    ]
      .map((w) => relative(dir, w).split('\\').join('/'))
      .filter((w) => formatOf(w) !== null);
    const all = new Map<string, Uint8Array>();
    const walk = (d: string): void => {
      for (const e of readdirSync(d)) {
        const full = join(d, e);
        if (statSync(full).isDirectory()) walk(full);
        else all.set(relative(dir, full).split('\\').join('/'), new Uint8Array(readFileSync(full)));
      }
    };
    walk(dir);
    const seeds: Seed[] = [];
    for (const main of written) {
      if (formatOf(main) !== format) continue;
      const folder = main.includes('/') ? main.slice(0, main.lastIndexOf('/') + 1) : '';
      // Siblings: files in the same folder that are not models of their own (data files, shards).
      const files = new Map<string, Uint8Array>();
      for (const [rel, bytes] of all) {
        const sameFolder = folder
          ? rel.startsWith(folder) && !rel.slice(folder.length).includes('/')
          : !rel.includes('/');
        if (rel === main || (sameFolder && !written.includes(rel))) files.set(rel, bytes);
      }
      seeds.push({ name: main, main, files });
    }
    return seeds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const below = (r: Rand, n: number): number => Math.floor(r() * n);

/** Values that break length and count checks: zero, one, boundaries of u8/u16/u32/2^53/u64, near the file size. */
function interesting(r: Rand, size: number): bigint {
  const near = BigInt(Math.max(0, size + below(r, 17) - 8));
  return pick(r, [
    0n,
    1n,
    0x7fn,
    0x80n,
    0xffn,
    0xffffn,
    0x7fffffffn,
    0x80000000n,
    0xffffffffn,
    2n ** 32n,
    2n ** 53n - 1n,
    2n ** 53n + 1n,
    2n ** 60n,
    2n ** 63n - 1n,
    2n ** 64n - 1n,
    near,
    near * 4096n,
  ]);
}

function encodeVarint(v: bigint): number[] {
  const out: number[] = [];
  let x = BigInt.asUintN(64, v);
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x) b |= 0x80;
    out.push(b);
  } while (x);
  return out;
}

interface VarintAt {
  pos: number;
  len: number;
  /** A length prefix (editing it shifts framing) rather than a scalar value (dims, data_type, offsets). */
  length: boolean;
}

/** Positions of every varint (lengths of length-delimited fields and scalar values) in a protobuf message tree. */
function protobufVarints(
  b: Uint8Array,
  start: number,
  end: number,
  depth: number,
  out: VarintAt[],
): boolean {
  let p = start;
  const varint = (): bigint | null => {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (p >= end) return null;
      const byte = b[p++];
      v |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
    }
    return null;
  };
  const found: VarintAt[] = [];
  while (p < end) {
    const key = varint();
    if (key === null || key === 0n) return false;
    const wire = Number(key & 7n);
    if (wire === 0) {
      const at = p;
      if (varint() === null) return false;
      found.push({ pos: at, len: p - at, length: false });
    } else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else if (wire === 2) {
      const at = p;
      const n = varint();
      if (n === null || n > BigInt(end - p)) return false;
      found.push({ pos: at, len: p - at, length: true });
      const inner = p;
      p += Number(n);
      if (depth < 12) protobufVarints(b, inner, p, depth + 1, found);
    } else return false;
    if (p > end) return false;
  }
  out.push(...found);
  return true;
}

/** Little-endian u32/u64 values that look like lengths, counts or offsets (small relative to the file). */
function lengthLike(b: Uint8Array, width: 4 | 8, limit: number): number[] {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let i = 0; i + width <= b.length && i < limit; i++) {
    const v = width === 8 ? view.getBigUint64(i, true) : BigInt(view.getUint32(i, true));
    if (v > 0n && v <= BigInt(b.length) && (width === 4 || view.getUint32(i + 4, true) === 0))
      out.push(i);
  }
  return out;
}

function writeLE(b: Uint8Array, at: number, width: number, v: bigint): void {
  for (let i = 0; i < width && at + i < b.length; i++)
    b[at + i] = Number((v >> BigInt(8 * i)) & 0xffn);
}

function splice(b: Uint8Array, at: number, remove: number, insert: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(b.length - remove + insert.length);
  out.set(b.subarray(0, at));
  out.set(insert, at);
  out.set(b.subarray(at + remove), at + insert.length);
  return out;
}

/** Replaces one number in a JSON text (safetensors header or index) with a hostile one. */
function editJsonNumber(r: Rand, b: Uint8Array, start: number, end: number): Uint8Array | null {
  const spans: [number, number][] = [];
  for (let i = start; i < end; i++) {
    if (b[i] >= 0x30 && b[i] <= 0x39 && !(b[i - 1] >= 0x30 && b[i - 1] <= 0x39)) {
      let j = i;
      while (j < end && b[j] >= 0x30 && b[j] <= 0x39) j++;
      spans.push([i, j]);
    }
  }
  if (!spans.length) return null;
  const [s, e] = pick(r, spans);
  const text = pick(r, [
    '-1',
    '0',
    '1e308',
    '1.5',
    '9007199254740993',
    '1152921504606846976',
    '18446744073709551615',
    String(b.length),
    'null',
    '[]',
    '{}',
    '"x"',
    String(interesting(r, b.length)),
  ]);
  return splice(b, s, e - s, new TextEncoder().encode(text));
}

/** One format-aware length edit, or null when the file has no field of that kind. */
function lengthEdit(r: Rand, format: FuzzFormat, name: string, b: Uint8Array): Uint8Array | null {
  if (name.endsWith('.json')) return editJsonNumber(r, b, 0, b.length);
  if (format === 'onnx' && !name.endsWith('.data')) {
    const at: VarintAt[] = [];
    protobufVarints(b, 0, b.length, 0, at);
    const scalars = at.filter((v) => !v.length);
    if (!at.length) return null;
    const v = pick(r, scalars.length && r() < 0.6 ? scalars : at);
    return splice(
      b,
      v.pos,
      v.len,
      encodeVarint(r() < 0.5 ? interesting(r, b.length) : BigInt(below(r, 300))),
    );
  }
  if (format === 'safetensors' && b.length >= 8) {
    const headerLen = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
    if (r() < 0.3 || headerLen > b.length) {
      const out = b.slice();
      writeLE(
        out,
        0,
        8,
        r() < 0.5 ? interesting(r, b.length) : BigInt(headerLen + below(r, 9) - 4),
      );
      return out;
    }
    return editJsonNumber(r, b, 8, 8 + headerLen);
  }
  const width = format === 'gguf' ? (r() < 0.8 ? 8 : 4) : r() < 0.7 ? 4 : 2;
  // GGUF lengths and counts live in the header; zip and pickle fields are everywhere.
  const candidates =
    width === 2 ? [] : lengthLike(b, width as 4 | 8, format === 'gguf' ? 8192 : b.length);
  const out = b.slice();
  const at = candidates.length ? pick(r, candidates) : below(r, Math.max(1, b.length - width));
  writeLE(out, at, width, interesting(r, b.length));
  return out;
}

/** The [start, end) byte range of the pickle inside a torch.save zip (stored, no CRC check), or null. */
function pickleRange(b: Uint8Array): [number, number] | null {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i + 30 <= b.length; i++) {
    if (view.getUint32(i, true) !== 0x04034b50) continue;
    const nameLen = view.getUint16(i + 26, true);
    const extraLen = view.getUint16(i + 28, true);
    const name = new TextDecoder().decode(b.subarray(i + 30, i + 30 + nameLen));
    if (!name.endsWith('data.pkl')) continue;
    const start = i + 30 + nameLen + extraLen;
    let end = start;
    while (
      end + 4 <= b.length &&
      view.getUint32(end, true) !== 0x04034b50 &&
      view.getUint32(end, true) !== 0x02014b50
    )
      end++;
    return end > start ? [start, end] : null;
  }
  return null;
}

/** Pickle opcodes worth planting: containers, memo, globals, reduce/build, ints, strings, stop. */
const PICKLE_OPS = [
  0x28, 0x29, 0x5d, 0x7d, 0x71, 0x68, 0x58, 0x63, 0x93, 0x52, 0x62, 0x73, 0x75, 0x65, 0x61, 0x74,
  0x85, 0x86, 0x87, 0x4b, 0x4a, 0x4d, 0x8a, 0x2e, 0x30, 0x32, 0x31, 0x94, 0x95, 0x8c, 0x80, 0x81,
  0x92, 0x42, 0x43,
];

/** Size-preserving edits inside the pickle, so the zip around it stays valid and the unpickler is reached. */
function pickleEdit(r: Rand, b: Uint8Array): Uint8Array | null {
  const range = pickleRange(b);
  if (!range) return null;
  const [start, end] = range;
  const out = b.slice();
  for (let i = 1 + below(r, 3); i > 0; i--) {
    const at = start + below(r, end - start);
    const k = below(r, 3);
    if (k === 0) out[at] = pick(r, PICKLE_OPS);
    else if (k === 1) out[at] ^= 1 << below(r, 8);
    else writeLE(out, at, Math.min(4, end - at), interesting(r, b.length));
  }
  return out;
}

const MUTATIONS = [
  'bitflip',
  'byteset',
  'truncate',
  'length',
  'length',
  'splice',
  'insert',
  'delete',
  'structure',
  'structure',
] as const;

/** Mutates one file of the seed; returns the edited file set and a one-word description. */
export function mutate(
  r: Rand,
  format: FuzzFormat,
  seed: Seed,
  seeds: Seed[],
): { files: Map<string, Uint8Array>; what: string } {
  const files = new Map(seed.files);
  // Mostly the model file; sometimes a sibling (external data, a shard), which readers must check too.
  const names = [...files.keys()];
  const target =
    names.length > 1 && r() < 0.25
      ? pick(
          r,
          names.filter((n) => n !== seed.main),
        )
      : seed.main;
  let b = files.get(target)!;
  const steps: string[] = [];
  const rounds = pick(r, [1, 1, 1, 2, 2, 3]);
  for (let k = 0; k < rounds; k++) {
    const m = pick(r, MUTATIONS);
    steps.push(m);
    if (b.length === 0) break;
    switch (m) {
      case 'bitflip': {
        b = b.slice();
        for (let i = 1 + below(r, 8); i > 0; i--) b[below(r, b.length)] ^= 1 << below(r, 8);
        break;
      }
      case 'byteset': {
        b = b.slice();
        for (let i = 1 + below(r, 4); i > 0; i--)
          b[below(r, b.length)] = pick(r, [0, 0xff, 0x7f, 0x80, 0x01, below(r, 256)]);
        break;
      }
      case 'truncate':
        b = b.slice(0, below(r, b.length));
        break;
      case 'length':
        b = lengthEdit(r, format, target, b) ?? b;
        break;
      case 'structure':
        b = (format === 'pytorch' ? pickleEdit(r, b) : lengthEdit(r, format, target, b)) ?? b;
        break;
      case 'splice': {
        const donorSeed = pick(r, seeds);
        const donor = donorSeed.files.get(donorSeed.main)!;
        const cut = below(r, b.length);
        const from = below(r, donor.length);
        b = splice(b, cut, b.length - cut, donor.subarray(from));
        break;
      }
      case 'insert': {
        const at = below(r, b.length);
        const n = 1 + below(r, 16);
        b = splice(
          b,
          at,
          0,
          Array.from({ length: n }, () => below(r, 256)),
        );
        break;
      }
      case 'delete': {
        const at = below(r, b.length);
        b = splice(b, at, Math.min(b.length - at, 1 + below(r, 16)), []);
        break;
      }
    }
  }
  files.set(target, b);
  return { files, what: `${target}:${steps.join('+')}` };
}

/** The input of case `index` of a campaign: deterministic in (seed, index), so any case can be replayed. */
export function caseInput(
  format: FuzzFormat,
  seeds: Seed[],
  seed: number,
  index: number,
): { seed: Seed; files: Map<string, Uint8Array>; what: string } {
  const r = rng((seed * 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b));
  const s = seeds[index % seeds.length];
  return { seed: s, ...mutate(r, format, s, seeds) };
}

/** Content hash of a case's mutated files, used to name the saved failure. */
export function caseHash(files: Map<string, Uint8Array>): string {
  const h = createHash('sha256');
  for (const [name, bytes] of [...files].sort(([a], [b]) => (a < b ? -1 : 1)))
    h.update(name).update(bytes);
  return h.digest('hex').slice(0, 16);
}
