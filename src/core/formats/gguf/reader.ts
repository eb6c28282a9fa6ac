import { checkedNumber, invalid } from '../../errors';
import type { RandomAccessSource } from '../../io/source';
import { MAX_TENSOR_ELEMENTS, MAX_TENSOR_RANK, MAX_TENSORS } from '../../limits';
import type { Model, TensorRef, TensorStorage } from '../../model';
import { weightsOnlyModel } from '../layers';
import { canDequantize } from './dequant';
import { bitsPerWeight, ggmlType } from './types';

/**
 * GGUF v2/v3 (ggml docs/gguf.md): magic, version, tensor_count u64, kv_count u64, key/value
 * pairs, tensor infos, padding to `general.alignment`, tensor data. Little-endian only.
 */

/** Key/value pairs: each takes at least 13 bytes, but a cap bounds the metadata list itself. */
export const MAX_GGUF_KV = 1_000_000;
/** A key or tensor name: the spec caps keys at 65535 bytes. */
export const MAX_GGUF_NAME_BYTES = 65535;
/** A string value read into memory (chat templates run to kilobytes; vocabularies are arrays). */
export const MAX_GGUF_STRING_BYTES = 16 * 1024 * 1024;
/** Nested arrays (arrays of arrays): stops stack exhaustion by deep recursion. */
export const MAX_GGUF_ARRAY_DEPTH = 8;
/** Elements of one metadata array, across nesting: bounds the time spent walking a vocabulary. */
export const MAX_GGUF_ARRAY_ELEMENTS = 64 * 1024 * 1024;
/** Characters of a string value kept for display; the rest is summarised by its size. */
const DISPLAY_CHARS = 2048;
/** Arrays up to this many numbers are shown in full. */
const DISPLAY_ELEMENTS = 16;

const DEFAULT_ALIGNMENT = 32;
const WINDOW = 64 * 1024;
const utf8 = new TextDecoder('utf-8', { fatal: false });

export const GGUF_VALUE_TYPES = [
  'u8',
  'i8',
  'u16',
  'i16',
  'u32',
  'i32',
  'f32',
  'bool',
  'string',
  'array',
  'u64',
  'i64',
  'f64',
] as const;
/** Bytes of each fixed-size value type (string and array have none). */
const VALUE_BYTES = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];
const T_STRING = 8;
const T_ARRAY = 9;

/** Sequential little-endian reads through a window onto the source. */
export class GgufCursor {
  pos: number;
  private buf = new Uint8Array(WINDOW);
  private dv = new DataView(this.buf.buffer);
  private bufStart = 0;
  private bufLen = 0;

  constructor(
    readonly source: RandomAccessSource,
    start = 0,
  ) {
    this.pos = start;
  }

  /** Bytes left in the file from the cursor: every declared size is checked against this. */
  get remaining(): number {
    return this.source.size() - this.pos;
  }

  private need(n: number): number {
    if (n > this.remaining)
      invalid(
        `truncated GGUF: need ${n} bytes at offset ${this.pos}, the file ends at ${this.source.size()}`,
      );
    if (this.pos < this.bufStart || this.pos + n > this.bufStart + this.bufLen) {
      if (n > this.buf.length) {
        this.buf = new Uint8Array(Math.max(n, WINDOW));
        this.dv = new DataView(this.buf.buffer);
      }
      const want = Math.min(this.buf.length, this.remaining);
      let got = 0;
      while (got < want) {
        const k = this.source.read(this.pos + got, this.buf.subarray(got, want));
        if (k <= 0) break;
        got += k;
      }
      if (got < n) invalid(`unexpected end of ${this.source.name} at offset ${this.pos + got}`);
      this.bufStart = this.pos;
      this.bufLen = got;
    }
    const at = this.pos - this.bufStart;
    this.pos += n;
    return at;
  }

  u8(): number {
    return this.buf[this.need(1)];
  }
  i8(): number {
    return this.dv.getInt8(this.need(1));
  }
  u16(): number {
    return this.dv.getUint16(this.need(2), true);
  }
  i16(): number {
    return this.dv.getInt16(this.need(2), true);
  }
  u32(): number {
    return this.dv.getUint32(this.need(4), true);
  }
  i32(): number {
    return this.dv.getInt32(this.need(4), true);
  }
  f32(): number {
    return this.dv.getFloat32(this.need(4), true);
  }
  f64(): number {
    return this.dv.getFloat64(this.need(8), true);
  }
  u64(): bigint {
    return this.dv.getBigUint64(this.need(8), true);
  }
  i64(): bigint {
    return this.dv.getBigInt64(this.need(8), true);
  }

  bytes(n: number): Uint8Array {
    const at = this.need(n);
    return this.buf.slice(at, at + n);
  }

  skip(n: number): void {
    if (n > this.remaining)
      invalid(`truncated GGUF: ${n} bytes at offset ${this.pos} run past the end of the file`);
    this.pos += n;
  }

  /** A string's length, checked against the file and `max` before anything is read. */
  stringLength(max: number, what: string): number {
    const len = this.u64();
    if (len > BigInt(this.remaining))
      invalid(`${what} of ${len} bytes at offset ${this.pos - 8} runs past the end of the file`);
    if (len > BigInt(max)) invalid(`${what} of ${len} bytes exceeds the ${max}-byte limit`);
    return Number(len);
  }

  string(max: number, what: string): string {
    return utf8.decode(this.bytes(this.stringLength(max, what)));
  }
}

export interface GgufKv {
  key: string;
  type: number;
  /** Byte range of the whole pair (key, type, value) in the file. */
  span: [number, number];
  /** The value as shown: numbers, booleans, strings (shortened), arrays summarised. */
  display: string;
  /** Integer value of integer scalars (alignment, file type), else undefined. */
  int?: bigint;
  /** Element type and count of arrays. */
  array?: { type: number; count: bigint };
}

export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] is the row length (contiguous elements). */
  dims: number[];
  type: number;
  /** Offset relative to the data section. */
  offset: number;
  count: number;
  /** Bytes of data, or -1 for an unknown type. */
  bytes: number;
}

export interface GgufHeader {
  version: number;
  alignment: number;
  kvs: GgufKv[];
  tensors: GgufTensorInfo[];
  /** File offset of the data section (after the tensor infos, aligned). */
  dataStart: number;
  warnings: string[];
}

export function sniffGguf(source: RandomAccessSource): boolean {
  if (source.size() < 4) return false;
  const head = new Uint8Array(4);
  source.read(0, head);
  return head[0] === 0x47 && head[1] === 0x47 && head[2] === 0x55 && head[3] === 0x46;
}

/** Shortest decimal that reads back as the same float32 (1e-5 rather than 9.999999747378752e-6). */
export function formatFloat32(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  for (let p = 1; p < 9; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === v) return String(s);
  }
  return String(v);
}

function shorten(s: string, bytes: number): string {
  if (s.length <= DISPLAY_CHARS) return s;
  return `${s.slice(0, DISPLAY_CHARS)}… (${bytes} bytes)`;
}

interface ValueOut {
  display: string;
  int?: bigint;
}

function readScalar(c: GgufCursor, type: number): ValueOut {
  switch (type) {
    case 0:
      return intOut(BigInt(c.u8()));
    case 1:
      return intOut(BigInt(c.i8()));
    case 2:
      return intOut(BigInt(c.u16()));
    case 3:
      return intOut(BigInt(c.i16()));
    case 4:
      return intOut(BigInt(c.u32()));
    case 5:
      return intOut(BigInt(c.i32()));
    case 6:
      return { display: formatFloat32(c.f32()) };
    case 7: {
      const b = c.u8();
      if (b > 1) invalid(`boolean value ${b} at offset ${c.pos - 1} is neither 0 nor 1`);
      return { display: b ? 'true' : 'false' };
    }
    case 10:
      return intOut(c.u64());
    case 11:
      return intOut(c.i64());
    case 12:
      return { display: String(c.f64()) };
    default:
      invalid(`unknown metadata value type ${type} at offset ${c.pos - 4}`);
  }
}

function intOut(v: bigint): ValueOut {
  return { display: v.toString(), int: v };
}

/** Walks an array value; returns its display (values in full when short, else a summary). */
function readArray(
  c: GgufCursor,
  depth: number,
  budget: { left: number },
): { display: string; type: number; count: bigint } {
  if (depth > MAX_GGUF_ARRAY_DEPTH)
    invalid(`metadata arrays nested deeper than ${MAX_GGUF_ARRAY_DEPTH}`);
  const type = c.u32();
  const count = c.u64();
  if (type > 12) invalid(`unknown array element type ${type} at offset ${c.pos - 12}`);
  // Every element takes at least one byte (strings 8): refuse counts the file cannot hold before walking them.
  const minBytes = type === T_STRING ? 8 : type === T_ARRAY ? 12 : VALUE_BYTES[type];
  if (count * BigInt(minBytes) > BigInt(c.remaining))
    invalid(
      `array of ${count} ${GGUF_VALUE_TYPES[type]} at offset ${c.pos - 12} runs past the end of the file`,
    );
  if (count > BigInt(budget.left))
    invalid(`metadata arrays hold more than ${MAX_GGUF_ARRAY_ELEMENTS} elements`);
  const n = Number(count);
  budget.left -= n;
  const typeName =
    type === T_STRING ? 'strings' : type === T_ARRAY ? 'arrays' : GGUF_VALUE_TYPES[type];
  if (type !== T_STRING && type !== T_ARRAY) {
    if (n > DISPLAY_ELEMENTS) {
      c.skip(n * VALUE_BYTES[type]);
      return { display: `[${n} ${typeName}]`, type, count };
    }
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(readScalar(c, type).display);
    return { display: `[${parts.join(', ')}]`, type, count };
  }
  if (type === T_STRING && n <= DISPLAY_ELEMENTS) {
    const items: string[] = [];
    for (let i = 0; i < n; i++) items.push(c.string(MAX_GGUF_STRING_BYTES, 'string in an array'));
    const shown = JSON.stringify(items);
    return { display: shown.length <= DISPLAY_CHARS ? shown : `[${n} ${typeName}]`, type, count };
  }
  for (let i = 0; i < n; i++) {
    if (type === T_STRING) c.skip(c.stringLength(MAX_GGUF_STRING_BYTES, 'string in an array'));
    else readArray(c, depth + 1, budget);
  }
  return { display: `[${n} ${typeName}]`, type, count };
}

function readKv(c: GgufCursor, budget: { left: number }): GgufKv {
  const start = c.pos;
  const key = c.string(MAX_GGUF_NAME_BYTES, 'metadata key');
  const type = c.u32();
  if (type === T_STRING) {
    const len = c.stringLength(MAX_GGUF_STRING_BYTES, `string value of '${key}'`);
    const keep = Math.min(len, DISPLAY_CHARS * 4);
    const text = utf8.decode(c.bytes(keep));
    c.skip(len - keep);
    return { key, type, span: [start, c.pos], display: shorten(text, len) };
  }
  if (type === T_ARRAY) {
    const a = readArray(c, 1, budget);
    return {
      key,
      type,
      span: [start, c.pos],
      display: a.display,
      array: { type: a.type, count: a.count },
    };
  }
  const v = readScalar(c, type);
  return { key, type, span: [start, c.pos], ...v };
}

function align(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}

/** Parses everything before the tensor data; every count and size is checked against the file first. */
export function parseGgufHeader(source: RandomAccessSource): GgufHeader {
  const c = new GgufCursor(source);
  if (!sniffGguf(source)) invalid('not a GGUF file: magic is not "GGUF"');
  c.skip(4);
  const version = c.u32();
  if (version === 1)
    invalid(
      'GGUF v1 is not supported (v2 and v3 are); re-convert the model with a current llama.cpp',
    );
  // A big-endian file reads its version byte-swapped (0x03000000 for 3).
  if (version >= 0x01000000 && (version & 0xffff) === 0)
    invalid('big-endian GGUF is not supported');
  if (version !== 2 && version !== 3)
    invalid(`GGUF version ${version} is not supported (2 and 3 are)`);
  const tensorCount = c.u64();
  const kvCount = c.u64();
  // Minimum encoded sizes: a tensor info is ≥ 24 bytes (name length, n_dims, type, offset), a pair ≥ 13.
  if (tensorCount * 24n > BigInt(c.remaining))
    invalid(`tensor_count ${tensorCount} is more than the file can hold`);
  if (kvCount * 13n > BigInt(c.remaining))
    invalid(`kv_count ${kvCount} is more than the file can hold`);
  if (tensorCount > BigInt(MAX_TENSORS))
    invalid(`tensor_count ${tensorCount} exceeds the limit of ${MAX_TENSORS}`);
  if (kvCount > BigInt(MAX_GGUF_KV))
    invalid(`kv_count ${kvCount} exceeds the limit of ${MAX_GGUF_KV}`);
  const warnings: string[] = [];
  const kvs: GgufKv[] = [];
  const budget = { left: MAX_GGUF_ARRAY_ELEMENTS };
  const keys = new Set<string>();
  for (let i = 0n; i < kvCount; i++) {
    const kv = readKv(c, budget);
    if (keys.has(kv.key)) invalid(`metadata key '${kv.key}' appears twice`);
    keys.add(kv.key);
    kvs.push(kv);
  }
  let alignment = DEFAULT_ALIGNMENT;
  const a = kvs.find((kv) => kv.key === 'general.alignment');
  if (a) {
    if (a.type !== 4)
      invalid(`general.alignment must be a uint32, not ${GGUF_VALUE_TYPES[a.type] ?? a.type}`);
    const v = Number(a.int);
    if (v === 0 || (v & (v - 1)) !== 0) invalid(`general.alignment ${v} is not a power of two`);
    alignment = v;
  }
  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0n; i < tensorCount; i++) tensors.push(readTensorInfo(c, names));
  const dataStart = align(c.pos, alignment);
  if (tensors.length && dataStart > source.size())
    invalid(`the tensor data section (offset ${dataStart}) starts past the end of the file`);
  checkTensorRanges(tensors, dataStart, alignment, source.size());
  return { version, alignment, kvs, tensors, dataStart, warnings };
}

function readTensorInfo(c: GgufCursor, names: Set<string>): GgufTensorInfo {
  const name = c.string(MAX_GGUF_NAME_BYTES, 'tensor name');
  if (names.has(name)) invalid(`tensor '${name}' appears twice`);
  names.add(name);
  const rank = c.u32();
  if (rank > MAX_TENSOR_RANK)
    invalid(`tensor '${name}' has ${rank} dimensions (limit ${MAX_TENSOR_RANK})`);
  const dims: number[] = [];
  let count = 1n;
  for (let d = 0; d < rank; d++) {
    const n = c.u64();
    count *= n;
    if (count > BigInt(MAX_TENSOR_ELEMENTS))
      invalid(`tensor '${name}' has more than ${MAX_TENSOR_ELEMENTS} elements`);
    dims.push(checkedNumber(n, `dimension ${d} of '${name}'`));
  }
  const type = c.u32();
  const offset = checkedNumber(c.u64(), `data offset of '${name}'`);
  const t = ggmlType(type);
  const elements = Number(count);
  let bytes = -1;
  if (t) {
    if (t.blockSize > 1 && rank > 0 && dims[0] % t.blockSize)
      invalid(
        `tensor '${name}' (${t.name}) has rows of ${dims[0]} elements, not a multiple of its ${t.blockSize}-element blocks`,
      );
    if (elements % t.blockSize)
      invalid(
        `tensor '${name}' (${t.name}) has ${elements} elements, not a multiple of its ${t.blockSize}-element blocks`,
      );
    bytes = (elements / t.blockSize) * t.typeSize;
  }
  return { name, dims, type, offset, count: elements, bytes };
}

/** Data ranges must be aligned, inside the file and disjoint. */
function checkTensorRanges(
  tensors: GgufTensorInfo[],
  dataStart: number,
  alignment: number,
  fileSize: number,
): void {
  for (const t of tensors) {
    if (t.offset % alignment)
      invalid(
        `tensor '${t.name}' data offset ${t.offset} is not a multiple of the alignment ${alignment}`,
      );
    if (t.bytes >= 0 && dataStart + t.offset + t.bytes > fileSize) {
      invalid(
        `tensor '${t.name}' data [${dataStart + t.offset}, ${dataStart + t.offset + t.bytes}) runs past the end of the file (${fileSize} bytes)`,
      );
    }
  }
  const known = tensors.filter((t) => t.bytes > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < known.length; i++) {
    const prev = known[i - 1];
    if (prev.offset + prev.bytes > known[i].offset)
      invalid(`tensors '${prev.name}' and '${known[i].name}' overlap in the data section`);
  }
}

function tensorRef(t: GgufTensorInfo, dataStart: number): TensorRef {
  const type = ggmlType(t.type);
  const offset = dataStart + t.offset;
  let storage: TensorStorage;
  let dtype = 1;
  if (!type) storage = { kind: 'none', reason: `unknown ggml type ${t.type}: not decoded` };
  else if (type.plain !== undefined) {
    dtype = type.plain;
    storage = { kind: 'range', offset, length: t.bytes };
  } else if (canDequantize(type.id))
    storage = { kind: 'ggml', offset, length: t.bytes, ggmlType: type.id };
  else storage = { kind: 'none', reason: `${type.name} is not decoded` };
  return {
    name: t.name,
    dtype,
    dims: t.dims,
    count: t.count,
    bytes: Math.max(0, t.bytes),
    origin: 'tensor',
    scope: '',
    storage,
    storageType: type?.name ?? `type ${t.type}`,
    ...(type ? { bitsPerWeight: bitsPerWeight(type) } : {}),
  };
}

export function readGguf(source: RandomAccessSource): Model {
  const header = parseGgufHeader(source);
  const tensors = header.tensors.map((t) => tensorRef(t, header.dataStart));
  const warnings = [...header.warnings];
  const unknown = header.tensors.filter((t) => !ggmlType(t.type));
  if (unknown.length)
    warnings.push(
      `${unknown.length} tensor${unknown.length === 1 ? ' has' : 's have'} an unknown ggml type (${[...new Set(unknown.map((t) => t.type))].join(', ')}): their size is unknown`,
    );
  const quantized = header.tensors.some((t) => ggmlType(t.type)?.plain === undefined);
  if (quantized && !header.kvs.some((kv) => kv.key === 'general.quantization_version'))
    warnings.push('quantized tensors but no general.quantization_version');
  const properties = [
    { key: 'gguf.version', value: String(header.version) },
    ...header.kvs.map((kv) => ({ key: kv.key, value: kv.display })),
  ];
  return weightsOnlyModel('gguf', source.size(), { opsets: [], properties }, tensors, warnings);
}
