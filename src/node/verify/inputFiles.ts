import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { SuppliedTensor } from '../../core/verify/inputs';
import { parseNpy, parseNpz } from '../../core/verify/npy';
import { verifyError } from '../../core/verify/tensor';
import { parseTensorProto } from '../../core/verify/tensorProto';
import { describeFsError } from '../fileSource';

/** node:zlib behind the pure zip reader; output is capped at the size the archive declares. */
export function inflateRaw(data: Uint8Array, expectedBytes: number): Uint8Array {
  try {
    return zlib.inflateRawSync(data, { maxOutputLength: Math.max(1, expectedBytes) });
  } catch (err) {
    verifyError(`corrupt deflate data: ${(err as Error).message}`);
  }
}

/** File types `loadInputFiles` reads, without the dot: the extension's file picker offers these. */
export const INPUT_FILE_TYPES = ['npy', 'npz', 'pb'] as const;

/**
 * Reads user-supplied input tensors: `.npy` (one tensor, hinted by the file name), `.npz` (one per
 * array name) and ONNX TensorProto `.pb` (hinted by the tensor's name, else the file name).
 */
export function loadInputFiles(files: readonly string[]): SuppliedTensor[] {
  const out: SuppliedTensor[] = [];
  for (const file of files) {
    let bytes: Uint8Array;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      verifyError(`${file}: ${describeFsError(err)}`);
    }
    const base = path.basename(file);
    const stem = base.replace(/\.[^.]*$/, '');
    const ext = path.extname(file).toLowerCase();
    if (ext === '.npy') out.push({ name: stem, source: base, tensor: parseNpy(bytes, base) });
    else if (ext === '.npz') {
      for (const { name, tensor } of parseNpz(bytes, inflateRaw, base))
        out.push({ name, source: `${base}:${name}`, tensor });
    } else if (ext === '.pb') {
      const { name, tensor } = parseTensorProto(bytes, base);
      out.push({ name: name || stem, source: base, tensor });
    } else verifyError(`${file}: unknown input file type; use .npy, .npz or a TensorProto .pb`);
  }
  return out;
}
