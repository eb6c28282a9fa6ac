import { invalid } from '../errors';
import { MAX_INLINE_FIELD_BYTES } from '../limits';
import type { RandomAccessSource } from './source';

const WINDOW = 64 * 1024;
const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * Protocol-buffer wire reader over ranged reads: a sliding window onto the source, so a message
 * of any size is walked without holding it, and big fields are skipped rather than read.
 */
export class WireReader {
  pos: number;
  /** Low and high 32 bits of the last varint64(). */
  lo = 0;
  hi = 0;
  private buf: Uint8Array<ArrayBuffer> = new Uint8Array(WINDOW);
  private bufStart = 0;
  private bufLen = 0;

  constructor(
    readonly source: RandomAccessSource,
    start = 0,
    readonly limit = source.size(),
  ) {
    this.pos = start;
  }

  /** Makes [pos, pos + need) available in the window. */
  private fill(need: number): void {
    if (this.pos + need > this.limit)
      invalid(`truncated: need ${need} bytes at offset ${this.pos} of ${this.source.name}`);
    if (this.pos >= this.bufStart && this.pos + need <= this.bufStart + this.bufLen) return;
    if (need > this.buf.length) this.buf = new Uint8Array(Math.max(need, WINDOW));
    const want = Math.min(this.buf.length, this.limit - this.pos);
    let got = 0;
    while (got < want) {
      const n = this.source.read(this.pos + got, this.buf.subarray(got, want));
      if (n <= 0) break;
      got += n;
    }
    if (got < need) invalid(`unexpected end of ${this.source.name} at offset ${this.pos + got}`);
    this.bufStart = this.pos;
    this.bufLen = got;
  }

  byte(): number {
    if (this.pos < this.bufStart || this.pos >= this.bufStart + this.bufLen) this.fill(1);
    return this.buf[this.pos++ - this.bufStart];
  }

  /** A varint that must fit a JS number exactly (tags, lengths, sizes). */
  varint(): number {
    this.varint64();
    if (this.hi > 0x1fffff)
      invalid(`varint too large at offset ${this.pos} of ${this.source.name}`);
    return this.hi * 0x100000000 + this.lo;
  }

  /** Decodes a 64-bit varint into `lo`/`hi` (unsigned halves) without allocating. */
  varint64(): void {
    let lo = 0;
    let hi = 0;
    let b: number;
    for (let shift = 0; shift < 28; shift += 7) {
      b = this.byte();
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) return this.setVarint(lo, 0);
    }
    b = this.byte();
    lo |= (b & 0x7f) << 28;
    hi = (b & 0x7f) >> 4;
    if (b < 0x80) return this.setVarint(lo, hi);
    for (let shift = 3; shift < 32; shift += 7) {
      b = this.byte();
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) return this.setVarint(lo, hi);
    }
    invalid(`malformed varint at offset ${this.pos} of ${this.source.name}`);
  }

  private setVarint(lo: number, hi: number): void {
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  /** The last varint64() as a signed 64-bit value, rounded to the nearest double. */
  get int64(): number {
    return (this.hi | 0) * 0x100000000 + this.lo;
  }

  /** The last varint64() as an unsigned 64-bit value, rounded to the nearest double. */
  get uint64(): number {
    return this.hi * 0x100000000 + this.lo;
  }

  /** Reads a length prefix and checks that the field fits inside `end`. */
  length(end: number): number {
    const n = this.varint();
    if (this.pos + n > end)
      invalid(
        `field length ${n} at offset ${this.pos} runs past its message (ends at ${end}) in ${this.source.name}`,
      );
    return n;
  }

  /** Reads a length prefix and returns where the field ends (checked against `end`). */
  fieldEnd(end: number): number {
    const n = this.length(end);
    return this.pos + n;
  }

  bytes(n: number): Uint8Array {
    if (n > MAX_INLINE_FIELD_BYTES)
      invalid(
        `field of ${n} bytes at offset ${this.pos} exceeds the ${MAX_INLINE_FIELD_BYTES}-byte limit`,
      );
    this.fill(n);
    const start = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.slice(start, start + n);
  }

  string(n: number): string {
    return utf8.decode(this.bytes(n));
  }

  f32(): number {
    this.fill(4);
    const v = new DataView(this.buf.buffer, this.pos - this.bufStart, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  f64(): number {
    this.fill(8);
    const v = new DataView(this.buf.buffer, this.pos - this.bufStart, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  skip(n: number): void {
    if (this.pos + n > this.limit)
      invalid(
        `truncated: skip of ${n} at offset ${this.pos} passes the end of ${this.source.name}`,
      );
    this.pos += n;
  }

  /**
   * Walks the fields of the message that runs from pos to `end`: for each one reads the tag and calls
   * `visit(field, wireType)` with pos at the field's payload. A field the visitor leaves unread (pos
   * where it was) is skipped; one it reads it must read whole. The visitor returns false to stop the
   * walk there (pos after what it read), and then so does fields(); true means the walk reached `end`.
   * TypeScript does not see the visitor run, so a variable it assigns needs a type that is not narrowed
   * by the initial value (`let found = null as T | null`).
   */
  fields(end: number, visit: (field: number, wireType: number) => boolean | void): boolean {
    while (this.pos < end) {
      const tag = this.varint();
      const at = this.pos;
      if (visit(tag >>> 3, tag & 7) === false) return false;
      if (this.pos === at) this.skipField(tag & 7, end);
    }
    return true;
  }

  /** Skips a field's payload given its wire type, staying inside `end`. */
  skipField(wireType: number, end: number): void {
    switch (wireType) {
      case 0:
        this.varint64();
        return;
      case 1:
        return this.skipBounded(8, end);
      case 2:
        this.skip(this.length(end));
        return;
      case 5:
        return this.skipBounded(4, end);
      default:
        invalid(
          `unsupported protobuf wire type ${wireType} at offset ${this.pos} of ${this.source.name}`,
        );
    }
  }

  private skipBounded(n: number, end: number): void {
    if (this.pos + n > end)
      invalid(`field at offset ${this.pos} runs past its message in ${this.source.name}`);
    this.pos += n;
  }
}
