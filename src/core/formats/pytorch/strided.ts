import { invalid } from '../../errors';
import type { RandomAccessSource } from '../../io/source';
import { MAX_STRIDED_SPAN_BYTES } from '../../limits';
import type { TensorStorage } from '../../model';

type Strided = Extract<TensorStorage, { kind: 'strided' }>;

/** Runs at least this long are read straight from the file; shorter ones are picked out of a window. */
const DIRECT_RUN_BYTES = 4096;
/** The forward-moving window used when a view's span exceeds MAX_STRIDED_SPAN_BYTES. */
const SLIDING_WINDOW_BYTES = 4 * 1024 * 1024;

/** Reads exactly `len` bytes at `offset` into `into` at `at`. */
function fill(
  source: RandomAccessSource,
  offset: number,
  into: Uint8Array,
  at: number,
  len: number,
): void {
  let got = 0;
  while (got < len) {
    const n = source.read(offset + got, into.subarray(at + got, at + len));
    if (n <= 0) invalid(`unexpected end of ${source.name} at offset ${offset + got}`);
    got += n;
  }
}

/**
 * Gathers a strided view's elements in row-major order into contiguous little-endian bytes and
 * hands them to `emit` at most `chunkElements` at a time; returns the element count.
 * Contiguous innermost runs are copied whole. Short runs come from one read of the view's span,
 * or, for spans over MAX_STRIDED_SPAN_BYTES, from a window that only moves forward, which needs
 * addresses that never decrease (slices, steps, expands); other large views (big transposes) are refused.
 */
export function gatherStrided(
  source: RandomAccessSource,
  s: Strided,
  elementBytes: number,
  chunkElements: number,
  emit: (bytes: Uint8Array, length: number) => void,
): number {
  const { dims, strides } = s;
  const eb = elementBytes;
  if (!Number.isInteger(eb) || eb < 1)
    invalid('strided views of sub-byte element types are not supported');
  if (dims.length !== strides.length)
    invalid(`strided view has ${dims.length} dimensions but ${strides.length} strides`);
  const count = dims.reduce((a, d) => a * d, 1);
  if (count === 0) return 0;
  // Innermost dimensions laid out contiguously form one run.
  let k = dims.length;
  let run = 1;
  while (k > 0 && (dims[k - 1] === 1 || strides[k - 1] === run)) run *= dims[--k];
  let last = 0;
  for (let i = 0; i < dims.length; i++) last += (dims[i] - 1) * strides[i];
  const span = (last + 1) * eb;
  if (span > s.length) invalid(`strided view reaches byte ${span} of a ${s.length}-byte storage`);
  const runBytes = run * eb;
  const direct = runBytes >= DIRECT_RUN_BYTES;
  let windowBytes = Math.min(span, MAX_STRIDED_SPAN_BYTES);
  if (!direct && span > MAX_STRIDED_SPAN_BYTES) {
    // Each outer step must land at or after the previous run's start for a forward window to serve it.
    for (let i = 0; i < k; i++) {
      let inner = 0;
      for (let j = i + 1; j < k; j++) inner += (dims[j] - 1) * strides[j];
      if (dims[i] > 1 && strides[i] < inner) {
        invalid(
          `non-contiguous view spans ${span} bytes in a scattered order; views over ${MAX_STRIDED_SPAN_BYTES} bytes must keep element order`,
        );
      }
    }
    windowBytes = SLIDING_WINDOW_BYTES;
  }
  const window = direct ? new Uint8Array(0) : new Uint8Array(windowBytes);
  let winStart = 0;
  let winLen = 0;
  const staging = new Uint8Array(chunkElements * eb);
  let filled = 0;
  const idx = new Array<number>(k).fill(0);
  const outer = count / run;
  let address = 0;
  for (let r = 0; r < outer; r++) {
    let src = address * eb;
    let left = runBytes;
    while (left > 0) {
      const take = Math.min(left, staging.length - filled);
      if (direct) fill(source, s.offset + src, staging, filled, take);
      else {
        if (src < winStart || src + take > winStart + winLen) {
          winStart = src;
          winLen = Math.min(window.length, span - src);
          fill(source, s.offset + winStart, window, 0, winLen);
        }
        const from = src - winStart;
        if (take <= 16) for (let b = 0; b < take; b++) staging[filled + b] = window[from + b];
        else staging.set(window.subarray(from, from + take), filled);
      }
      filled += take;
      src += take;
      left -= take;
      if (filled === staging.length) {
        emit(staging, filled);
        filled = 0;
      }
    }
    // Odometer over the outer dimensions.
    for (let d = k - 1; d >= 0; d--) {
      address += strides[d];
      if (++idx[d] < dims[d]) break;
      address -= strides[d] * dims[d];
      idx[d] = 0;
    }
  }
  if (filled) emit(staging, filled);
  return count;
}
