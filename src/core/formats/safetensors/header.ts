import { invalid } from '../../errors';
import { readExactly, type RandomAccessSource } from '../../io/source';
import { MAX_TENSOR_ELEMENTS, MAX_TENSOR_RANK, MAX_TENSORS } from '../../limits';

/**
 * The safetensors layout: an 8-byte little-endian u64 N, N bytes of UTF-8 JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}`, then the
 * data buffer, whose offsets the header gives relative to its start.
 */

/** Header JSON size cap, as the reference implementation: stops a length field that asks for gigabytes of JSON. */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;

export interface SafetensorsDType {
  /** The name in the header, e.g. 'BF16'. */
  name: string;
  /** ONNX data type code, 0 where ONNX has none (listed, not decoded). */
  code: number;
  /** Bits per element. */
  bits: number;
}

const DTYPES: SafetensorsDType[] = [
  { name: 'BOOL', code: 9, bits: 8 },
  { name: 'U8', code: 2, bits: 8 },
  { name: 'I8', code: 3, bits: 8 },
  { name: 'F8_E5M2', code: 19, bits: 8 },
  { name: 'F8_E4M3', code: 17, bits: 8 },
  { name: 'F8_E8M0', code: 24, bits: 8 },
  { name: 'F8_E4M3FNUZ', code: 18, bits: 8 },
  { name: 'F8_E5M2FNUZ', code: 20, bits: 8 },
  { name: 'I16', code: 5, bits: 16 },
  { name: 'U16', code: 4, bits: 16 },
  { name: 'F16', code: 10, bits: 16 },
  { name: 'BF16', code: 16, bits: 16 },
  { name: 'I32', code: 6, bits: 32 },
  { name: 'U32', code: 12, bits: 32 },
  { name: 'F32', code: 1, bits: 32 },
  { name: 'F64', code: 11, bits: 64 },
  { name: 'I64', code: 7, bits: 64 },
  { name: 'U64', code: 13, bits: 64 },
  { name: 'C64', code: 14, bits: 64 },
  // Two 4-bit elements per byte, first in the low bits (as ONNX packs FLOAT4E2M1).
  { name: 'F4', code: 23, bits: 4 },
  { name: 'F6_E2M3', code: 0, bits: 6 },
  { name: 'F6_E3M2', code: 0, bits: 6 },
];

/** A Map, not an object: header text like "constructor" must not find inherited properties. */
const BY_NAME = new Map(DTYPES.map((d) => [d.name, d]));
const BY_CODE = new Map(DTYPES.filter((d) => d.code).map((d) => [d.code, d]));

export function safetensorsDType(name: string): SafetensorsDType | undefined {
  return BY_NAME.get(name);
}

/** The header name for an ONNX dtype code, for writers. */
export function safetensorsDTypeName(code: number): string {
  const d = BY_CODE.get(code);
  if (!d) invalid(`data type ${code} has no safetensors equivalent`);
  return d.name;
}

export interface HeaderEntry {
  name: string;
  dtype: SafetensorsDType;
  dims: number[];
  count: number;
  /** Offsets relative to the data buffer. */
  begin: number;
  end: number;
}

export interface ParsedHeader {
  /** N: the JSON header's length in bytes. */
  headerBytes: number;
  /** Absolute offset of the data buffer: 8 + N. */
  dataStart: number;
  /** Tensors in data order. */
  entries: HeaderEntry[];
  /** `__metadata__` in header order. */
  metadata: { key: string; value: string }[];
  warnings: string[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads the 8-byte length; null when the bytes cannot be a safetensors header. */
function headerLength(source: RandomAccessSource): bigint | null {
  if (source.size() < 8) return null;
  const head = readExactly(source, 0, 8);
  return new DataView(head.buffer).getBigUint64(0, true);
}

/** True when the file is laid out as safetensors: a plausible header length followed by '{'. */
export function sniffSafetensors(source: RandomAccessSource): boolean {
  const n = headerLength(source);
  if (n === null || n < 2n || n > BigInt(Math.min(MAX_SAFETENSORS_HEADER_BYTES, source.size() - 8)))
    return false;
  return readExactly(source, 8, 1)[0] === 0x7b;
}

/** Parses JSON from the file, turning a syntax error into a one-line InvalidModelError. */
export function parseJson(bytes: Uint8Array, what: string): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    invalid(`${what} is not valid UTF-8`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    invalid(`${what} is not valid JSON: ${(err as Error).message.split('\n')[0]}`);
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function safeIntegers(v: unknown, what: string, field: string): number[] {
  if (!Array.isArray(v)) invalid(`${what}: ${field} is not an array`);
  for (const x of v) {
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0)
      invalid(`${what}: ${field} holds ${JSON.stringify(x)}, not a size`);
  }
  return v as number[];
}

/**
 * Reads and checks a safetensors header: length against the file and the cap, JSON, every
 * entry's dtype, shape and offsets, dtype×shape against the byte range, and the ranges against
 * each other (contiguous from 0, non-overlapping, inside the file). `where` prefixes messages.
 */
export function parseHeader(source: RandomAccessSource, where = ''): ParsedHeader {
  const at = where ? `${where}: ` : '';
  const size = source.size();
  const n = headerLength(source);
  if (n === null) invalid(`${at}file of ${size} bytes is too short for a safetensors header`);
  if (n > BigInt(MAX_SAFETENSORS_HEADER_BYTES))
    invalid(`${at}header length ${n} is over the ${MAX_SAFETENSORS_HEADER_BYTES}-byte limit`);
  if (n > BigInt(size - 8))
    invalid(`${at}header length ${n} runs past the end of the file (${size} bytes)`);
  const headerBytes = Number(n);
  const dataStart = 8 + headerBytes;
  const dataBytes = size - dataStart;
  const json = parseJson(readExactly(source, 8, headerBytes), `${at}header`);
  if (!isObject(json)) invalid(`${at}header is not a JSON object`);
  const entries: HeaderEntry[] = [];
  const metadata: { key: string; value: string }[] = [];
  const warnings: string[] = [];
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isObject(raw)) invalid(`${at}__metadata__ is not an object of strings`);
      for (const [key, value] of Object.entries(raw)) {
        if (typeof value !== 'string') warnings.push(`${at}__metadata__ '${key}' is not a string`);
        metadata.push({ key, value: typeof value === 'string' ? value : JSON.stringify(value) });
      }
      continue;
    }
    if (entries.length >= MAX_TENSORS) invalid(`${at}more than ${MAX_TENSORS} tensors`);
    const what = `${at}tensor '${name}'`;
    if (!isObject(raw)) invalid(`${what} is not an object`);
    if (typeof raw.dtype !== 'string') invalid(`${what} has no dtype`);
    const dtype = safetensorsDType(raw.dtype);
    if (!dtype) invalid(`${what} has unknown dtype '${raw.dtype.slice(0, 40)}'`);
    const dims = safeIntegers(raw.shape, what, 'shape');
    if (dims.length > MAX_TENSOR_RANK)
      invalid(`${what} has more than ${MAX_TENSOR_RANK} dimensions`);
    let count = 1;
    for (const d of dims) {
      count *= d;
      if (count > MAX_TENSOR_ELEMENTS)
        invalid(`${what} has more than ${MAX_TENSOR_ELEMENTS} elements`);
    }
    const offsets = safeIntegers(raw.data_offsets, what, 'data_offsets');
    if (offsets.length !== 2)
      invalid(`${what}: data_offsets needs [begin, end], got ${offsets.length} numbers`);
    const [begin, end] = offsets;
    if (end < begin) invalid(`${what}: data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataBytes)
      invalid(`${what}: data_offsets [${begin}, ${end}] run past the data (${dataBytes} bytes)`);
    const bits = count * dtype.bits;
    if (bits % 8)
      invalid(`${what}: ${count} ${dtype.name} elements are not a whole number of bytes`);
    if (end - begin !== bits / 8) {
      invalid(
        `${what}: ${dtype.name}[${dims.join(', ')}] needs ${bits / 8} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`,
      );
    }
    entries.push({ name, dtype, dims: [...dims], count, begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of entries) {
    if (e.begin < expected)
      invalid(
        `${at}tensor '${e.name}' [${e.begin}, ${e.end}] overlaps the tensor before it (ends at ${expected})`,
      );
    if (e.begin > expected)
      invalid(
        `${at}tensor '${e.name}' starts at ${e.begin}: ${e.begin - expected} bytes after ${expected} belong to no tensor`,
      );
    expected = e.end;
  }
  if (expected < dataBytes)
    warnings.push(`${at}${dataBytes - expected} bytes after the last tensor belong to no tensor`);
  return { headerBytes, dataStart, entries, metadata, warnings };
}
