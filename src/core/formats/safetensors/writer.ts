import { invalid } from '../../errors';
import type { RandomAccessSource } from '../../io/source';
import type { ByteSink } from '../onnx/writer';

/** A tensor of the file being written: its size is known before its bytes are produced. */
export interface OutTensor {
  name: string;
  /** safetensors dtype name, e.g. 'F32'. */
  dtype: string;
  /** Bits per element, for ordering (widest first keeps every tensor aligned to its element size). */
  bits: number;
  dims: number[];
  bytes: number;
  /** Writes exactly `bytes` bytes. */
  write(sink: ByteSink): void;
}

/** Copy buffer for tensors carried over unchanged. */
const COPY_CHUNK = 1 << 20;

/** An OutTensor carried over byte for byte from `source` [offset, offset + length). */
export function copiedTensor(
  name: string,
  dtype: string,
  bits: number,
  dims: number[],
  source: () => RandomAccessSource,
  offset: number,
  length: number,
): OutTensor {
  return {
    name,
    dtype,
    bits,
    dims,
    bytes: length,
    write(sink) {
      const from = source();
      const buf = new Uint8Array(Math.min(COPY_CHUNK, length));
      for (let done = 0; done < length;) {
        const want = Math.min(buf.length, length - done);
        let got = 0;
        while (got < want) {
          const n = from.read(offset + done + got, buf.subarray(got, want));
          if (n <= 0) invalid(`unexpected end of ${from.name} at ${offset + done + got}`);
          got += n;
        }
        sink.write(got === buf.length ? buf : buf.subarray(0, got));
        done += got;
      }
    },
  };
}

/**
 * Widest elements first, stable otherwise (the reference writer's rule): with the header padded
 * to 8 bytes every tensor then starts at a multiple of its element size, as mmap readers need.
 */
export function layoutOrder(tensors: OutTensor[]): OutTensor[] {
  return tensors
    .map((t, i) => ({ t, i }))
    .sort((a, b) => b.t.bits - a.t.bits || a.i - b.i)
    .map((x) => x.t);
}

/** The 8-byte length and the JSON header (space-padded to a multiple of 8) for tensors in this order. */
export function headerBytes(tensors: OutTensor[], metadata: Record<string, string>): Uint8Array {
  // No prototype: a tensor named "__proto__" must become a key, not replace the object's prototype.
  const header: Record<string, unknown> = Object.create(null);
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || Object.prototype.hasOwnProperty.call(header, t.name))
      invalid(`tensor name '${t.name}' appears twice`);
    header[t.name] = { dtype: t.dtype, shape: t.dims, data_offsets: [offset, offset + t.bytes] };
    offset += t.bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) {
    const padded = new Uint8Array(json.length + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

/**
 * Streams a safetensors file: the header first (every size is known up front), then each
 * tensor in `layoutOrder`, checking each writes the bytes its header entry promised.
 */
export function writeSafetensors(
  tensors: OutTensor[],
  metadata: Record<string, string>,
  sink: ByteSink,
): number {
  const ordered = layoutOrder(tensors);
  const header = headerBytes(ordered, metadata);
  sink.write(header);
  let total = header.length;
  for (const t of ordered) {
    let written = 0;
    t.write({
      write(b) {
        written += b.length;
        sink.write(b);
      },
    });
    if (written !== t.bytes)
      throw new Error(
        `tensor '${t.name}' wrote ${written} bytes, its header entry says ${t.bytes}`,
      );
    total += written;
  }
  return total;
}
