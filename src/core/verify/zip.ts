import { InvalidModelError } from '../errors';
import { MemorySource } from '../io/source';
import { ZipArchive, type InflateRaw } from '../io/zip';
import { verifyError } from './tensor';

export type { InflateRaw };
export { crc32 } from '../io/zip';

export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

/** One member's uncompressed size: inputs are held in memory whole. */
const MAX_ZIP_ENTRY_BYTES = 2 ** 31;

/** Reads every member of a zip archive held in memory (an .npz): stored and deflated members, zip64 included. */
export function readZip(bytes: Uint8Array, inflateRaw: InflateRaw, what = 'zip'): ZipEntry[] {
  try {
    const zip = ZipArchive.open(new MemorySource(bytes, what));
    return zip.entries.map((e) => ({
      name: e.name,
      data: zip.read(e, inflateRaw, MAX_ZIP_ENTRY_BYTES),
    }));
  } catch (err) {
    // An input file is the user's data, not a model: the verifier's error, with the file named.
    if (err instanceof InvalidModelError) verifyError(`${what}: ${err.message}`);
    throw err;
  }
}
