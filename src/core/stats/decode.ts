import { dtypeInfo } from '../dtypes';
import { invalid } from '../errors';
import { readInto, type RandomAccessSource } from '../io/source';
import { WireReader } from '../io/wire';
import type { TensorRef, TensorStorage } from '../model';
import { streamGgml } from '../formats/gguf/dequant';
import { gatherStrided } from '../formats/pytorch/strided';
import { bfloat16ToNumber, float16Table, smallFloatLookup } from './elements';

/** Elements decoded per chunk: small enough to stay in cache, large enough to amortise calls. */
export const CHUNK_ELEMENTS = 64 * 1024;

/** Decoded elements: float64, or float32 as stored (read without a widening copy). */
export type Elements = Float64Array | Float32Array;

export type ChunkSink = (values: Elements, n: number) => void;

/** Opens data files a tensor names (external data); the format reader has already vetted them. */
export type SourceOpener = (file: string) => RandomAccessSource;

/**
 * Streams a tensor's stored elements as float64 chunks. For sparse storage only the stored
 * values are streamed; the caller accounts for the implicit zeros. Returns elements streamed.
 */
export function streamElements(
  source: RandomAccessSource,
  ref: TensorRef,
  openFile: SourceOpener,
  sink: ChunkSink,
): number {
  const storage = ref.storage.kind === 'sparse' ? ref.storage.values : ref.storage;
  const expected = ref.storage.kind === 'sparse' ? ref.storage.valueCount : ref.count;
  const n = streamStorage(source, storage, ref.dtype, expected, openFile, sink);
  if (n !== expected)
    invalid(`tensor '${ref.name}' holds ${n} elements but its shape needs ${expected}`);
  return n;
}

/**
 * Reads a float32 tensor whose bytes lie plainly in a file straight into `into` (its `count`
 * floats): no chunk buffer and no copy. That includes an ONNX TensorProto whose elements are one
 * raw_data (or packed float_data) field, little-endian as stored. False for any other type,
 * storage or a byte length that does not match the shape, which streamElements then decodes or reports.
 */
export function readRawFloat32(
  source: RandomAccessSource,
  ref: TensorRef,
  openFile: SourceOpener,
  into: Float32Array,
): boolean {
  const reader = into.length === ref.count ? float32Reader(source, ref, openFile) : undefined;
  reader?.read(0, into);
  return reader !== undefined;
}

/**
 * A float32 tensor stored as plain bytes (as readRawFloat32 reads them), as a reader of any run of
 * its values: read(from, into) fills `into` with values [from, from + into.length). Undefined
 * for any other type or storage.
 */
export function float32Reader(
  source: RandomAccessSource,
  ref: TensorRef,
  openFile: SourceOpener,
): { length: number; read(from: number, into: Float32Array): void } | undefined {
  if (ref.dtype !== 1) return undefined;
  const place = plainBytes(source, ref.storage, openFile);
  if (!place || place.length !== ref.count * 4) return undefined;
  return {
    length: ref.count,
    read(from: number, into: Float32Array): void {
      if (from < 0 || from + into.length > ref.count)
        throw new RangeError(`values ${from}..${from + into.length} outside ${ref.count}`);
      readInto(
        place.from,
        place.offset + from * 4,
        new Uint8Array(into.buffer, into.byteOffset, into.length * 4),
      );
    },
  };
}

/** Where a tensor's float32 bytes lie as one plain range, if they do (see readRawFloat32). */
function plainBytes(
  source: RandomAccessSource,
  st: TensorStorage,
  openFile: SourceOpener,
): { from: RandomAccessSource; offset: number; length: number } | undefined {
  if (st.kind === 'range') return { from: source, offset: st.offset, length: st.length };
  if (st.kind === 'external')
    return { from: openFile(st.file), offset: st.offset, length: st.length };
  if (st.kind !== 'proto' || (st.wire !== 'bytes' && st.wire !== 'f32')) return undefined;
  // Only the message's one data field: several would be concatenated by streamProto, unpacked floats decoded one by one.
  const r = new WireReader(source, st.start, st.end);
  let found = undefined as { offset: number; length: number } | undefined;
  const reachedEnd = r.fields(st.end, (field, wt) => {
    if (field !== st.field) return;
    if (wt !== 2 || found) return false;
    const length = r.length(st.end);
    found = { offset: r.pos, length };
    r.skip(length);
  });
  return reachedEnd ? found && { from: source, ...found } : undefined;
}

function streamStorage(
  source: RandomAccessSource,
  storage: TensorStorage,
  dtype: number,
  expected: number,
  openFile: SourceOpener,
  sink: ChunkSink,
): number {
  // Sized to the tensor: checkpoints hold tens of thousands of tiny tensors, and a 512 KiB buffer
  // each would spend the time in the allocator. 256 covers the largest ggml block.
  const out = new Float64Array(Math.min(CHUNK_ELEMENTS, Math.max(256, expected)));
  switch (storage.kind) {
    case 'none':
      if (expected === 0) return 0;
      invalid(storage.reason ?? 'tensor has no data');
    // falls through (invalid throws)
    case 'sparse':
      invalid('nested sparse storage');
    // falls through (invalid throws)
    case 'range':
      return streamRaw(source, storage.offset, storage.length, dtype, expected, out, sink);
    case 'external':
      return streamRaw(
        openFile(storage.file),
        storage.offset,
        storage.length,
        dtype,
        expected,
        out,
        sink,
      );
    case 'proto':
      return streamProto(source, storage, dtype, expected, out, sink);
    case 'strided':
      return gatherStrided(source, storage, dtypeInfo(dtype).bits / 8, out.length, (bytes, len) =>
        sink(out, decodeRaw(dtype, bytes, len, out, out.length)),
      );
    case 'ggml':
      return streamGgml(source, storage, expected, out, sink);
    case 'scaled':
      return streamScaled(source, storage, expected, openFile, sink);
  }
}

/** Codes times their row's scale: the scales (one per row, few) are read first, then codes stream. */
function streamScaled(
  source: RandomAccessSource,
  storage: Extract<TensorStorage, { kind: 'scaled' }>,
  expected: number,
  openFile: SourceOpener,
  sink: ChunkSink,
): number {
  const rowLength = storage.rowLength;
  if (!(rowLength > 0) || expected % rowLength)
    invalid(`${expected} elements do not split into rows of ${rowLength}`);
  const rows = expected / rowLength;
  const scales = new Float64Array(rows);
  let got = 0;
  streamStorage(source, storage.scales, storage.scaleType, rows, openFile, (v, n) => {
    scales.set(v.subarray(0, n), got);
    got += n;
  });
  if (got !== rows) invalid(`${got} scales stored for ${rows} rows`);
  let row = 0;
  let left = rowLength;
  return streamStorage(source, storage.values, storage.valueType, expected, openFile, (v, n) => {
    for (let i = 0; i < n; i++) {
      v[i] *= scales[row];
      if (--left === 0) {
        row++;
        left = rowLength;
      }
    }
    sink(v, n);
  });
}

/** Element bytes for raw decoding; sub-byte types are handled per byte. */
function rawElementBytes(dtype: number): number {
  return Math.max(1, dtypeInfo(dtype).bits / 8);
}

function streamRaw(
  source: RandomAccessSource,
  offset: number,
  length: number,
  dtype: number,
  expected: number,
  out: Float64Array,
  sink: ChunkSink,
): number {
  const eb = rawElementBytes(dtype);
  const chunkBytes = Math.min(
    Math.max(8, Math.floor((out.length * Math.max(1, dtypeInfo(dtype).bits)) / 8 / 8) * 8),
    Math.ceil(length / 8) * 8 || 8,
  );
  const buf = new Uint8Array(chunkBytes);
  let done = 0;
  let elements = 0;
  while (done < length) {
    const want = Math.min(chunkBytes, length - done);
    let got = 0;
    while (got < want) {
      const n = source.read(offset + done + got, buf.subarray(got, want));
      if (n <= 0) invalid(`unexpected end of ${source.name} at offset ${offset + done + got}`);
      got += n;
    }
    if (got % eb)
      invalid(`tensor bytes are not a whole number of ${dtypeInfo(dtype).name} elements`);
    if (dtype === 1) {
      // float32 goes to the sink as stored: widening every element to float64 first cost ~20%.
      const n = Math.min(got / 4, expected - elements);
      sink(new Float32Array(buf.buffer, buf.byteOffset, n), n);
      elements += n;
      done += got;
      continue;
    }
    const n = decodeRaw(dtype, buf, got, out, expected - elements);
    sink(out, n);
    elements += n;
    done += got;
  }
  return elements;
}

/** Decodes `len` little-endian bytes of `dtype` from `buf` (offset 0) into `out`; at most `limit` elements. */
export function decodeRaw(
  dtype: number,
  buf: Uint8Array,
  len: number,
  out: Float64Array,
  limit: number,
): number {
  const bits = dtypeInfo(dtype).bits;
  if (bits < 8) return decodePacked(dtype, buf, len, out, limit);
  const count = Math.min(len / (bits / 8), limit);
  const dv = new DataView(buf.buffer, buf.byteOffset, len);
  switch (dtype) {
    case 1: {
      const a = new Float32Array(buf.buffer, buf.byteOffset, count);
      for (let i = 0; i < count; i++) out[i] = a[i];
      break;
    }
    case 11: {
      const a = new Float64Array(buf.buffer, buf.byteOffset, count);
      out.set(a);
      break;
    }
    case 10: {
      const t = float16Table();
      const a = new Uint16Array(buf.buffer, buf.byteOffset, count);
      for (let i = 0; i < count; i++) out[i] = t[a[i]];
      break;
    }
    case 16: {
      const a = new Uint16Array(buf.buffer, buf.byteOffset, count);
      for (let i = 0; i < count; i++) out[i] = bfloat16ToNumber(a[i]);
      break;
    }
    case 2:
      for (let i = 0; i < count; i++) out[i] = buf[i];
      break;
    case 3:
      for (let i = 0; i < count; i++) out[i] = (buf[i] << 24) >> 24;
      break;
    case 9:
      for (let i = 0; i < count; i++) out[i] = buf[i] ? 1 : 0;
      break;
    case 4:
      for (let i = 0; i < count; i++) out[i] = dv.getUint16(i * 2, true);
      break;
    case 5:
      for (let i = 0; i < count; i++) out[i] = dv.getInt16(i * 2, true);
      break;
    case 6:
      for (let i = 0; i < count; i++) out[i] = dv.getInt32(i * 4, true);
      break;
    case 12:
      for (let i = 0; i < count; i++) out[i] = dv.getUint32(i * 4, true);
      break;
    case 7:
      for (let i = 0; i < count; i++)
        out[i] = dv.getInt32(i * 8 + 4, true) * 0x100000000 + dv.getUint32(i * 8, true);
      break;
    case 13:
      for (let i = 0; i < count; i++)
        out[i] = dv.getUint32(i * 8 + 4, true) * 0x100000000 + dv.getUint32(i * 8, true);
      break;
    default: {
      const t = smallFloatLookup(dtype);
      if (!t || bits !== 8) invalid(`cannot decode ${dtypeInfo(dtype).name} elements`);
      for (let i = 0; i < count; i++) out[i] = t[buf[i]];
    }
  }
  return count;
}

/** Sub-byte types: elements packed low bits first within each byte. */
function decodePacked(
  dtype: number,
  buf: Uint8Array,
  len: number,
  out: Float64Array,
  limit: number,
): number {
  const bits = dtypeInfo(dtype).bits;
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  const signBit = 1 << (bits - 1);
  const count = Math.min(len * perByte, limit);
  const table = smallFloatLookup(dtype);
  const signed = dtype === 22 || dtype === 26;
  for (let i = 0; i < count; i++) {
    const v = (buf[(i / perByte) | 0] >> ((i % perByte) * bits)) & mask;
    out[i] = table ? table[v] : signed && v & signBit ? v - (1 << bits) : v;
  }
  return count;
}

/** Maps an integer from int32_data/int64_data/uint64_data to the element value for `dtype`. */
function typedIntToValue(dtype: number, lo: number, hi: number): number {
  switch (dtype) {
    case 7:
      return (hi | 0) * 0x100000000 + lo;
    case 12:
    case 13:
      return hi * 0x100000000 + lo;
    case 10:
      return float16Table()[lo & 0xffff];
    case 16:
      return bfloat16ToNumber(lo);
    case 9:
      return lo ? 1 : 0;
    case 2:
    case 4:
      return lo;
    default: {
      const t = smallFloatLookup(dtype);
      return t ? t[lo & 0xff] : lo | 0;
    }
  }
}

function streamProto(
  source: RandomAccessSource,
  storage: Extract<TensorStorage, { kind: 'proto' }>,
  dtype: number,
  expected: number,
  out: Float64Array,
  sink: ChunkSink,
): number {
  const r = new WireReader(source, storage.start, storage.end);
  const packedPerInt = dtypeInfo(dtype).bits < 8 ? 8 / dtypeInfo(dtype).bits : 1;
  let elements = 0;
  let n = 0;
  const flush = () => {
    if (n) sink(out, n);
    elements += n;
    n = 0;
  };
  const scalar =
    storage.wire === 'f32' ? 5 : storage.wire === 'f64' ? 1 : storage.wire === 'bytes' ? 2 : 0;
  const pushInt = () => {
    if (packedPerInt === 1) {
      out[n++] = typedIntToValue(dtype, r.lo, r.hi);
    } else {
      // Sub-byte types keep one packed byte per integer (as onnx's helper writes them).
      const one = new Uint8Array([r.lo & 0xff]);
      const tmp = new Float64Array(packedPerInt);
      const k = decodePacked(dtype, one, 1, tmp, expected - elements - n);
      for (let i = 0; i < k; i++) out[n++] = tmp[i];
    }
    if (n + packedPerInt > out.length) flush();
  };
  r.fields(storage.end, (field, wt) => {
    if (field !== storage.field) return;
    if (wt === 2) {
      const len = r.length(storage.end);
      const fEnd = r.pos + len;
      if (storage.wire === 'varint' || storage.wire === 'uvarint') {
        while (r.pos < fEnd) {
          r.varint64();
          pushInt();
        }
      } else {
        flush();
        const rawType = storage.wire === 'f32' ? 1 : storage.wire === 'f64' ? 11 : dtype;
        elements += streamRaw(source, r.pos, len, rawType, expected - elements, out, sink);
        r.pos = fEnd;
      }
    } else if (wt === scalar) {
      if (storage.wire === 'f32') out[n++] = r.f32();
      else if (storage.wire === 'f64') out[n++] = r.f64();
      else {
        r.varint64();
        pushInt();
        return;
      }
      if (n === out.length) flush();
    } else invalid(`tensor data field ${field} has unexpected wire type ${wt}`);
  });
  flush();
  return elements;
}
