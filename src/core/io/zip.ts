import { invalid } from '../errors';
import { readExactly, type RandomAccessSource } from './source';

/**
 * Zip archives read through ranged reads (torch.save checkpoints, np.savez archives): only the
 * central directory is held in memory; members stay in the source and are located by their local
 * headers on demand, read in place when stored, or inflated by the caller's raw-DEFLATE function.
 */

/** Members in one archive by default: bounds the central-directory walk. */
export const MAX_ZIP_ENTRIES = 65536;
/** The central directory is read whole: stops a forged size from allocating gigabytes. */
export const MAX_CENTRAL_DIRECTORY_BYTES = 256 * 1024 * 1024;

/**
 * Inflates a raw DEFLATE stream that must produce exactly `expectedBytes` (the caller refuses
 * more, so a zip bomb cannot grow past what the archive declared).
 */
export type InflateRaw = (data: Uint8Array, expectedBytes: number) => Uint8Array;

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const EOCD_BYTES = 22;
const MAX_COMMENT = 0xffff;

export interface ZipEntry {
  name: string;
  /** 0: stored; 8: deflate; others are whatever the writer used. */
  method: number;
  encrypted: boolean;
  compressedSize: number;
  size: number;
  localHeader: number;
  /** CRC-32 of the uncompressed bytes. */
  crc: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

export class ZipArchive {
  private readonly byName = new Map<string, ZipEntry>();
  private readonly dataOffsets = new Map<ZipEntry, number>();

  private constructor(
    readonly source: RandomAccessSource,
    readonly entries: ZipEntry[],
  ) {
    for (const e of entries) {
      if (this.byName.has(e.name)) invalid(`zip archive lists '${e.name}' twice`);
      this.byName.set(e.name, e);
    }
  }

  static open(source: RandomAccessSource, maxEntries = MAX_ZIP_ENTRIES): ZipArchive {
    const size = source.size();
    if (size < EOCD_BYTES)
      invalid(`not a zip archive: ${size} bytes is smaller than an end record`);
    const tailStart = Math.max(0, size - EOCD_BYTES - MAX_COMMENT);
    const tail = readExactly(source, tailStart, size - tailStart);
    const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
    // The end record is the last signature whose comment length reaches exactly to the end of the file.
    let eocd = -1;
    for (let at = tail.length - EOCD_BYTES; at >= 0; at--) {
      if (
        tv.getUint32(at, true) === EOCD &&
        at + EOCD_BYTES + tv.getUint16(at + 20, true) === tail.length
      ) {
        eocd = at;
        break;
      }
    }
    if (eocd < 0)
      invalid('not a zip archive: no end-of-central-directory record (truncated file?)');
    let count = tv.getUint16(eocd + 10, true);
    let cdSize = tv.getUint32(eocd + 12, true);
    let cdOffset = tv.getUint32(eocd + 16, true);
    const eocdAbs = tailStart + eocd;
    const locatorAt = eocdAbs - 20;
    const hasLocator =
      locatorAt >= 0 &&
      new DataView(readExactly(source, locatorAt, 4).buffer).getUint32(0, true) === ZIP64_LOCATOR;
    if (hasLocator) {
      const loc = new DataView(readExactly(source, locatorAt, 20).buffer);
      const z64At = u64(loc, 8, 'zip64 end record offset');
      if (z64At + 56 > locatorAt)
        invalid(`zip64 end record offset ${z64At} is not before its locator`);
      const z = new DataView(readExactly(source, z64At, 56).buffer);
      if (z.getUint32(0, true) !== ZIP64_EOCD) invalid(`no zip64 end record at offset ${z64At}`);
      count = u64(z, 32, 'zip64 entry count');
      cdSize = u64(z, 40, 'zip64 central directory size');
      cdOffset = u64(z, 48, 'zip64 central directory offset');
    } else if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      invalid('zip archive needs zip64 fields but has no zip64 locator');
    }
    if (count > maxEntries)
      invalid(`zip archive has ${count} members, more than the limit of ${maxEntries}`);
    if (cdSize > MAX_CENTRAL_DIRECTORY_BYTES)
      invalid(
        `zip central directory of ${cdSize} bytes exceeds the ${MAX_CENTRAL_DIRECTORY_BYTES}-byte limit`,
      );
    if (cdOffset + cdSize > size)
      invalid(
        `zip central directory (${cdSize} bytes at ${cdOffset}) runs past the end of the file (${size} bytes)`,
      );
    if (count * 46 > cdSize)
      invalid(`zip central directory of ${cdSize} bytes cannot hold ${count} members`);
    return new ZipArchive(source, parseCentral(readExactly(source, cdOffset, cdSize), count, size));
  }

  get(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /** Where the member's bytes start: after its local header, whose extra field may differ from the central one (torch pads it to align data). */
  dataOffset(entry: ZipEntry): number {
    const known = this.dataOffsets.get(entry);
    if (known !== undefined) return known;
    const h = new DataView(readExactly(this.source, entry.localHeader, 30).buffer);
    if (h.getUint32(0, true) !== LOCAL)
      invalid(`zip member '${entry.name}' has no local header at offset ${entry.localHeader}`);
    const start = entry.localHeader + 30 + h.getUint16(26, true) + h.getUint16(28, true);
    if (start + entry.compressedSize > this.source.size()) {
      invalid(
        `zip member '${entry.name}' (${entry.compressedSize} bytes at ${start}) runs past the end of the file`,
      );
    }
    this.dataOffsets.set(entry, start);
    return start;
  }

  /**
   * The member's bytes, whole: stored ones as they are, deflated ones through `inflateRaw`, each
   * checked against its CRC-32. `maxBytes` bounds what a member may claim to hold.
   */
  read(entry: ZipEntry, inflateRaw: InflateRaw, maxBytes: number): Uint8Array {
    if (entry.encrypted) invalid(`zip member '${entry.name}' is encrypted`);
    if (entry.size > maxBytes)
      invalid(
        `zip member '${entry.name}' is ${entry.size} bytes uncompressed, more than ${maxBytes}`,
      );
    const raw = readExactly(this.source, this.dataOffset(entry), entry.compressedSize);
    let data: Uint8Array;
    if (entry.method === 0) {
      if (entry.compressedSize !== entry.size)
        invalid(
          `stored zip member '${entry.name}' declares ${entry.compressedSize} stored but ${entry.size} actual bytes`,
        );
      data = raw;
    } else if (entry.method === 8) {
      data = inflateRaw(raw, entry.size);
      if (data.length !== entry.size)
        invalid(
          `zip member '${entry.name}' inflates to ${data.length} bytes, not the declared ${entry.size}`,
        );
    } else
      invalid(
        `zip member '${entry.name}' uses compression method ${entry.method}; only stored and deflate are read`,
      );
    if (crc32(data) !== entry.crc) invalid(`zip member '${entry.name}' fails its CRC-32 check`);
    return data;
  }

  /** Why the member's bytes cannot be used in place, or undefined when they can (stored, not encrypted). */
  unreadable(entry: ZipEntry): string | undefined {
    if (entry.encrypted) return `zip member '${entry.name}' is encrypted`;
    if (entry.method !== 0) {
      const how = entry.method === 8 ? 'deflate' : `method ${entry.method}`;
      return `zip member '${entry.name}' is compressed (${how}); torch.save stores members uncompressed, so re-save the checkpoint with torch.save`;
    }
    if (entry.compressedSize !== entry.size)
      invalid(
        `stored zip member '${entry.name}' declares ${entry.compressedSize} stored but ${entry.size} actual bytes`,
      );
    return undefined;
  }
}

function u64(v: DataView, at: number, what: string): number {
  const n = v.getBigUint64(at, true);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) invalid(`${what} out of range: ${n}`);
  return Number(n);
}

function parseCentral(cd: Uint8Array, count: number, fileSize: number): ZipEntry[] {
  const v = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 46 > cd.length || v.getUint32(at, true) !== CENTRAL)
      invalid(`zip central directory entry ${i} is malformed at offset ${at}`);
    const flags = v.getUint16(at + 8, true);
    const method = v.getUint16(at + 10, true);
    const crc = v.getUint32(at + 16, true);
    let compressedSize = v.getUint32(at + 20, true);
    let size = v.getUint32(at + 24, true);
    const nameLen = v.getUint16(at + 28, true);
    const extraLen = v.getUint16(at + 30, true);
    const commentLen = v.getUint16(at + 32, true);
    let localHeader = v.getUint32(at + 42, true);
    const nameAt = at + 46;
    const extraAt = nameAt + nameLen;
    const next = extraAt + extraLen + commentLen;
    if (next > cd.length) invalid(`zip central directory entry ${i} runs past the directory`);
    const name = utf8.decode(cd.subarray(nameAt, extraAt));
    // Zip64 extra field: 64-bit values only for the fields saturated at 0xffffffff, in this order.
    for (let e = extraAt; e + 4 <= extraAt + extraLen;) {
      const id = v.getUint16(e, true);
      const len = v.getUint16(e + 2, true);
      const end = e + 4 + len;
      if (end > extraAt + extraLen) invalid(`zip member '${name}' has a malformed extra field`);
      if (id === 1) {
        let p = e + 4;
        const take = (what: string): number => {
          if (p + 8 > end)
            invalid(`zip member '${name}' has a short zip64 extra field (missing ${what})`);
          const n = u64(v, p, `zip member '${name}' ${what}`);
          p += 8;
          return n;
        };
        if (size === 0xffffffff) size = take('size');
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
        if (localHeader === 0xffffffff) localHeader = take('local header offset');
      }
      e = end;
    }
    if (localHeader + 30 > fileSize)
      invalid(`zip member '${name}' has its local header past the end of the file`);
    if (compressedSize > fileSize)
      invalid(`zip member '${name}' claims ${compressedSize} bytes, more than the file holds`);
    entries.push({
      name,
      method,
      encrypted: (flags & 1) !== 0,
      compressedSize,
      size,
      localHeader,
      crc,
    });
    at = next;
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
