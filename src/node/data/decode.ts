import * as zlib from 'node:zlib';
import { decodeJpeg, isJpeg } from '../../core/data/jpeg';
import { decodePng, isPng } from '../../core/data/png';
import { dataError, type DecodedImage } from '../../core/data/types';

export { decodeWav } from '../../core/data/wav';

/** node:zlib behind the pure PNG reader, capped at the size the header implies. */
function inflate(parts: Uint8Array[], maxBytes: number): Uint8Array {
  try {
    return zlib.inflateSync(Buffer.concat(parts), { maxOutputLength: Math.max(1, maxBytes) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw new Error(`inflates past the ${maxBytes} bytes its header implies`);
    throw err;
  }
}

/** Image formats by their leading bytes (never the file name: a .png may hold a JPEG). */
const IMAGE_FORMATS = [
  { sniff: isPng, decode: (bytes: Uint8Array, file: string) => decodePng(bytes, file, inflate) },
  { sniff: isJpeg, decode: decodeJpeg },
];

/** Decodes a PNG or JPEG held in memory; any problem is a DataError naming `file`. */
export function decodeImage(bytes: Uint8Array, file: string): DecodedImage {
  const format = IMAGE_FORMATS.find((f) => f.sniff(bytes));
  if (!format) dataError(file, 'not a PNG or JPEG file');
  return format.decode(bytes, file);
}
