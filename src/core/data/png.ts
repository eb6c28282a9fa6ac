import { MAX_IMAGE_PIXELS } from '../limits';
import { crc32 } from '../io/zip';
import { dataError, type DecodedImage } from './types';

/**
 * Inflates one zlib stream (RFC 1950) given in consecutive parts (a PNG's IDAT chunks); it must
 * not produce more than `maxBytes` and throws on corrupt or over-long data. The caller knows the
 * exact size from the header, so a bomb stops there.
 */
export type Inflate = (parts: Uint8Array[], maxBytes: number) => Uint8Array;

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);
}

/** Samples per pixel and the bit depths PNG allows, by color type. */
const COLOR_TYPES: Record<number, { samples: number; depths: number[] }> = {
  0: { samples: 1, depths: [1, 2, 4, 8, 16] },
  2: { samples: 3, depths: [8, 16] },
  3: { samples: 1, depths: [1, 2, 4, 8] },
  4: { samples: 2, depths: [8, 16] },
  6: { samples: 4, depths: [8, 16] },
};

/** Adam7 passes as [x0, y0, dx, dy]; a plain image is the single pass [0, 0, 1, 1]. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

interface Header {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlaced: boolean;
}

/**
 * Decodes a PNG: every color type and bit depth, Adam7 interlacing, palettes with tRNS. A tRNS
 * chunk becomes an alpha channel (gray+tRNS → 2 channels, RGB or palette+tRNS → 4), as libpng's
 * tRNS-to-alpha does; gamma and colour-space chunks are ignored, as PIL ignores them.
 */
export function decodePng(bytes: Uint8Array, file: string, inflate: Inflate): DecodedImage {
  if (!isPng(bytes)) dataError(file, 'not a PNG file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: Header | undefined;
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  for (let at = 8; !ended;) {
    if (at + 8 > bytes.length) dataError(file, 'truncated PNG (no IEND chunk)');
    const length = view.getUint32(at);
    const type = String.fromCharCode(bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]);
    const start = at + 8;
    const end = start + length;
    if (end + 4 > bytes.length)
      dataError(file, `truncated PNG (${type} chunk runs past the end of the file)`);
    const critical = type === 'IHDR' || type === 'PLTE' || type === 'IDAT' || type === 'tRNS';
    if (critical && crc32(bytes.subarray(at + 4, end)) !== view.getUint32(end))
      dataError(file, `corrupt PNG (CRC mismatch in ${type})`);
    const data = bytes.subarray(start, end);
    if (type === 'IHDR') header = readHeader(data, file);
    else if (!header) dataError(file, 'corrupt PNG (IHDR is not the first chunk)');
    else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') ended = true;
    at = end + 4;
  }
  if (!header) dataError(file, 'corrupt PNG (no IHDR chunk)');
  if (idat.length === 0) dataError(file, 'corrupt PNG (no IDAT chunk)');
  if (header.colorType === 3 && (!palette || palette.length % 3 !== 0 || palette.length === 0)) {
    dataError(file, 'corrupt PNG (palette image without a valid PLTE chunk)');
  }

  const { width, height, depth, colorType } = header;
  const samples = COLOR_TYPES[colorType].samples;
  const passes = (header.interlaced ? ADAM7 : [[0, 0, 1, 1]]).map(([x0, y0, dx, dy]) => ({
    x0,
    y0,
    dx,
    dy,
    w: Math.ceil((width - x0) / dx),
    h: Math.ceil((height - y0) / dy),
  }));
  const rowBytes = (w: number): number => Math.ceil((w * samples * depth) / 8);
  let expected = 0;
  for (const p of passes) if (p.w > 0 && p.h > 0) expected += p.h * (1 + rowBytes(p.w));

  let raw: Uint8Array;
  try {
    raw = inflate(idat, expected);
  } catch (err) {
    dataError(file, `corrupt PNG image data (${(err as Error).message.split('\n')[0]})`);
  }
  if (raw.length < expected)
    dataError(file, `truncated PNG image data (${raw.length} of ${expected} bytes)`);

  const out = pixelMapper(header, palette, trns, file);
  const data = new Float32Array(width * height * out.channels);
  const bpp = Math.max(1, (samples * depth) >> 3);
  const rowSamples = new Uint16Array(width * samples);
  let offset = 0;
  for (const p of passes) {
    if (p.w === 0 || p.h === 0) continue;
    const n = rowBytes(p.w);
    let prev = new Uint8Array(n);
    for (let r = 0; r < p.h; r++) {
      const row = raw.slice(offset + 1, offset + 1 + n);
      unfilter(raw[offset], row, prev, bpp, file);
      offset += 1 + n;
      readSamples(row, depth, p.w * samples, rowSamples);
      const y = p.y0 + r * p.dy;
      for (let i = 0; i < p.w; i++) {
        out.write(rowSamples, i * samples, data, (y * width + p.x0 + i * p.dx) * out.channels);
      }
      prev = row;
    }
  }
  return { width, height, channels: out.channels, data };
}

function readHeader(d: Uint8Array, file: string): Header {
  if (d.length !== 13) dataError(file, 'corrupt PNG (IHDR is not 13 bytes)');
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const width = v.getUint32(0);
  const height = v.getUint32(4);
  const [depth, colorType, compression, filter, interlace] = d.subarray(8);
  const type = COLOR_TYPES[colorType];
  if (!type) dataError(file, `corrupt PNG (color type ${colorType})`);
  if (!type.depths.includes(depth))
    dataError(file, `corrupt PNG (bit depth ${depth} with color type ${colorType})`);
  if (compression !== 0 || filter !== 0 || interlace > 1)
    dataError(file, 'corrupt PNG (unknown compression, filter or interlace method)');
  if (width === 0 || height === 0) dataError(file, `empty image (${width}×${height})`);
  if (width * height > MAX_IMAGE_PIXELS)
    dataError(file, `${width}×${height} image is larger than ${MAX_IMAGE_PIXELS} pixels`);
  return { width, height, depth, colorType, interlaced: interlace === 1 };
}

/** Undoes one row's filter in place; `prev` is the previous unfiltered row of the same pass (zeros first). */
function unfilter(
  type: number,
  row: Uint8Array,
  prev: Uint8Array,
  bpp: number,
  file: string,
): void {
  const n = row.length;
  switch (type) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) row[i] += row[i - bpp];
      return;
    case 2:
      for (let i = 0; i < n; i++) row[i] += prev[i];
      return;
    case 3:
      for (let i = 0; i < n; i++) row[i] += ((i >= bpp ? row[i - bpp] : 0) + prev[i]) >> 1;
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? row[i - bpp] : 0;
        const b = prev[i];
        const c = i >= bpp ? prev[i - bpp] : 0;
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        row[i] += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      return;
    default:
      dataError(file, `corrupt PNG (row filter type ${type})`);
  }
}

/** Unpacks `count` samples of `depth` bits (big-endian, MSB first within a byte) from an unfiltered row. */
function readSamples(row: Uint8Array, depth: number, count: number, out: Uint16Array): void {
  if (depth === 8) out.set(row.subarray(0, count));
  else if (depth === 16)
    for (let i = 0; i < count; i++) out[i] = (row[2 * i] << 8) | row[2 * i + 1];
  else {
    const mask = (1 << depth) - 1;
    for (let i = 0; i < count; i++) {
      const bit = i * depth;
      out[i] = (row[bit >> 3] >> (8 - depth - (bit & 7))) & mask;
    }
  }
}

/** How one pixel's raw samples become output values: palette look-up, scaling to 0..255, tRNS as alpha. */
function pixelMapper(
  h: Header,
  palette: Uint8Array | undefined,
  trns: Uint8Array | undefined,
  file: string,
): {
  channels: DecodedImage['channels'];
  write: (s: Uint16Array, at: number, out: Float32Array, to: number) => void;
} {
  if (h.colorType === 3) {
    const colors = palette!.length / 3;
    // Indices past the palette are black (libpng would refuse; PIL shows black): they are corrupt either way.
    const rgba = new Uint8Array(256 * 4);
    for (let i = 0; i < 256; i++) {
      if (i < colors) rgba.set(palette!.subarray(3 * i, 3 * i + 3), 4 * i);
      rgba[4 * i + 3] = trns && i < trns.length ? trns[i] : 255;
    }
    const channels = trns ? 4 : 3;
    return {
      channels,
      write: (s, at, out, to) => {
        const p = 4 * s[at];
        for (let c = 0; c < channels; c++) out[to + c] = rgba[p + c];
      },
    };
  }
  const samples = COLOR_TYPES[h.colorType].samples;
  const max = (1 << h.depth) - 1;
  let key: number[] | undefined;
  if (trns && (h.colorType === 0 || h.colorType === 2)) {
    if (trns.length !== 2 * samples) dataError(file, 'corrupt PNG (tRNS chunk has the wrong size)');
    // The key is stored as 16-bit values whatever the depth; only its low `depth` bits can match a sample.
    key = Array.from({ length: samples }, (_, c) => ((trns[2 * c] << 8) | trns[2 * c + 1]) & max);
  }
  const channels = (samples + (key ? 1 : 0)) as DecodedImage['channels'];
  return {
    channels,
    write: (s, at, out, to) => {
      let matches = key !== undefined;
      for (let c = 0; c < samples; c++) {
        out[to + c] = (s[at + c] * 255) / max;
        if (key && s[at + c] !== key[c]) matches = false;
      }
      if (key) out[to + samples] = matches ? 0 : 255;
    },
  };
}
