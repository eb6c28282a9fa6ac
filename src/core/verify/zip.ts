import { verifyError } from './tensor';

/**
 * Inflates a raw DEFLATE stream that must produce exactly `expectedBytes` (the caller refuses
 * more, so a zip bomb cannot grow past what the archive declared).
 */
export type InflateRaw = (data: Uint8Array, expectedBytes: number) => Uint8Array;

export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

/** Members in one archive: bounds the central-directory walk. */
const MAX_ZIP_ENTRIES = 65536;
/** One member's uncompressed size: inputs are held in memory whole. */
const MAX_ZIP_ENTRY_BYTES = 2 ** 31;

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

const utf8 = new TextDecoder('utf-8');

/** Reads every member of a zip archive held in memory: stored and deflated members, zip64 included. */
export function readZip(bytes: Uint8Array, inflateRaw: InflateRaw, what = 'zip'): ZipEntry[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (at: number, field: string): number => {
    const n = v.getBigUint64(at, true);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) verifyError(`${what}: ${field} out of range`);
    return Number(n);
  };
  const need = (at: number, n: number, field: string) => {
    if (at < 0 || at + n > bytes.length) verifyError(`${what}: ${field} at offset ${at} runs past the end of the archive`);
  };
  // The end record sits in the last 22 bytes plus a comment of at most 65535 bytes.
  let eocd = -1;
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 65535); at--) {
    if (v.getUint32(at, true) === EOCD) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) verifyError(`${what}: not a zip archive (no end-of-central-directory record)`);
  let count = v.getUint16(eocd + 10, true);
  let cdSize = v.getUint32(eocd + 12, true);
  let cdOffset = v.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || v.getUint32(loc, true) !== ZIP64_LOCATOR) verifyError(`${what}: zip64 archive without a zip64 locator`);
    const z = u64(loc + 8, 'zip64 end record offset');
    need(z, 56, 'zip64 end record');
    if (v.getUint32(z, true) !== ZIP64_EOCD) verifyError(`${what}: bad zip64 end record`);
    count = u64(z + 32, 'entry count');
    cdSize = u64(z + 40, 'central directory size');
    cdOffset = u64(z + 48, 'central directory offset');
  }
  if (count > MAX_ZIP_ENTRIES) verifyError(`${what}: ${count} members, more than ${MAX_ZIP_ENTRIES}`);
  need(cdOffset, cdSize, 'central directory');
  const entries: ZipEntry[] = [];
  let at = cdOffset;
  for (let i = 0; i < count; i++) {
    need(at, 46, 'central directory entry');
    if (v.getUint32(at, true) !== CENTRAL) verifyError(`${what}: bad central directory entry ${i}`);
    const flags = v.getUint16(at + 8, true);
    const method = v.getUint16(at + 10, true);
    const crc = v.getUint32(at + 16, true);
    let compressed = v.getUint32(at + 20, true);
    let size = v.getUint32(at + 24, true);
    const nameLen = v.getUint16(at + 28, true);
    const extraLen = v.getUint16(at + 30, true);
    const commentLen = v.getUint16(at + 32, true);
    let local = v.getUint32(at + 42, true);
    need(at + 46, nameLen + extraLen + commentLen, 'central directory entry');
    const name = utf8.decode(bytes.subarray(at + 46, at + 46 + nameLen));
    // Zip64 extra field: 64-bit values only for the fields saturated at 0xffffffff, in this order.
    for (let e = at + 46 + nameLen; e + 4 <= at + 46 + nameLen + extraLen; ) {
      const id = v.getUint16(e, true);
      const len = v.getUint16(e + 2, true);
      if (id === 0x0001) {
        let p = e + 4;
        const take = (): number => {
          if (p + 8 > e + 4 + len) verifyError(`${what}: '${name}': short zip64 extra field`);
          const n = u64(p, 'zip64 size');
          p += 8;
          return n;
        };
        if (size === 0xffffffff) size = take();
        if (compressed === 0xffffffff) compressed = take();
        if (local === 0xffffffff) local = take();
      }
      e += 4 + len;
    }
    at += 46 + nameLen + extraLen + commentLen;
    if (flags & 1) verifyError(`${what}: '${name}' is encrypted`);
    if (size > MAX_ZIP_ENTRY_BYTES) verifyError(`${what}: '${name}' is ${size} bytes uncompressed, more than ${MAX_ZIP_ENTRY_BYTES}`);
    need(local, 30, `local header of '${name}'`);
    if (v.getUint32(local, true) !== LOCAL) verifyError(`${what}: bad local header for '${name}'`);
    const start = local + 30 + v.getUint16(local + 26, true) + v.getUint16(local + 28, true);
    need(start, compressed, `data of '${name}'`);
    const raw = bytes.subarray(start, start + compressed);
    let data: Uint8Array;
    if (method === 0) {
      if (compressed !== size) verifyError(`${what}: stored member '${name}' has compressed size ${compressed} but size ${size}`);
      data = raw;
    } else if (method === 8) {
      data = inflateRaw(raw, size);
      if (data.length !== size) verifyError(`${what}: '${name}' inflates to ${data.length} bytes, not the declared ${size}`);
    } else verifyError(`${what}: '${name}' uses compression method ${method}; only stored and deflate are read`);
    if (crc32(data) !== crc) verifyError(`${what}: '${name}' fails its CRC-32 check`);
    entries.push({ name, data });
  }
  return entries;
}

let crcTable: Uint32Array | undefined;

export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
