import { MAX_TENSOR_RANK } from '../limits';
import {
  arrayTypeFor,
  elementCount,
  tensorFromBytes,
  verifyError,
  type HostTensor,
} from './tensor';
import { readZip, type InflateRaw } from './zip';

/** A .npy header is a short dict literal; numpy itself refuses headers over 10 KiB by default. */
const MAX_NPY_HEADER = 1 << 20;

/** numpy dtype kind+size → ONNX dtype code. */
const NPY_DTYPES: Record<string, number> = {
  f4: 1,
  u1: 2,
  i1: 3,
  u2: 4,
  i2: 5,
  i4: 6,
  i8: 7,
  b1: 9,
  f2: 10,
  f8: 11,
  u4: 12,
  u8: 13,
};

const ascii = new TextDecoder('latin1');

/** Parses a NumPy .npy file (format versions 1–3) into a C-ordered tensor. */
export function parseNpy(bytes: Uint8Array, what = '.npy'): HostTensor {
  if (bytes.length < 10 || ascii.decode(bytes.subarray(0, 6)) !== '\x93NUMPY')
    verifyError(`${what}: not a .npy file (no \\x93NUMPY magic)`);
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) verifyError(`${what}: truncated header`);
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else verifyError(`${what}: unsupported .npy format version ${major}`);
  if (headerLen > MAX_NPY_HEADER || headerStart + headerLen > bytes.length)
    verifyError(`${what}: header length ${headerLen} runs past the file`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(headerStart, headerStart + headerLen),
  );
  const descr = /['"]descr['"]\s*:\s*['"]([<>|=])([a-z])(\d+)['"]/.exec(header);
  if (!descr)
    verifyError(
      `${what}: unsupported dtype (only plain numeric and bool arrays are read): ${header.trim()}`,
    );
  const [, order, kind, size] = descr;
  const dtype = NPY_DTYPES[kind + size];
  if (dtype === undefined) verifyError(`${what}: unsupported dtype '${order}${kind}${size}'`);
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header);
  if (!fortran) verifyError(`${what}: header has no fortran_order`);
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header);
  if (!shapeText) verifyError(`${what}: header has no shape`);
  const parts = shapeText[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (parts.length > MAX_TENSOR_RANK)
    verifyError(`${what}: more than ${MAX_TENSOR_RANK} dimensions`);
  const dims = parts.map((p) => {
    if (!/^\d+L?$/.test(p)) verifyError(`${what}: bad dimension '${p}' in shape`);
    return Number.parseInt(p, 10);
  });
  const count = elementCount(dims, what);
  const itemBytes = arrayTypeFor(dtype).BYTES_PER_ELEMENT;
  const dataStart = headerStart + headerLen;
  if (bytes.length - dataStart !== count * itemBytes) {
    verifyError(
      `${what}: ${bytes.length - dataStart} bytes of data, but shape (${dims.join(', ')}) of ${order}${kind}${size} needs ${count * itemBytes}`,
    );
  }
  let data = bytes.subarray(dataStart);
  if (order === '>' && itemBytes > 1) data = swapBytes(data, itemBytes);
  if (fortran[1] === 'True' && dims.length > 1) data = fortranToC(data, dims, itemBytes);
  return tensorFromBytes(dtype, dims, data, what);
}

/** Big-endian elements to little-endian, into a new buffer. */
function swapBytes(src: Uint8Array, itemBytes: number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += itemBytes) {
    for (let b = 0; b < itemBytes; b++) out[i + b] = src[i + itemBytes - 1 - b];
  }
  return out;
}

/** Reorders column-major elements into row-major (the layout every runtime expects). */
function fortranToC(src: Uint8Array, dims: number[], itemBytes: number): Uint8Array {
  const rank = dims.length;
  const fStrides = new Array<number>(rank);
  let s = 1;
  for (let k = 0; k < rank; k++) {
    fStrides[k] = s;
    s *= dims[k];
  }
  const out = new Uint8Array(src.length);
  const index = new Array<number>(rank).fill(0);
  let fOffset = 0;
  for (let c = 0; c < s; c++) {
    out.set(src.subarray(fOffset * itemBytes, (fOffset + 1) * itemBytes), c * itemBytes);
    // Advance the C-order index (last axis fastest), keeping the Fortran offset in step.
    for (let k = rank - 1; k >= 0; k--) {
      index[k]++;
      fOffset += fStrides[k];
      if (index[k] < dims[k]) break;
      fOffset -= fStrides[k] * dims[k];
      index[k] = 0;
    }
  }
  return out;
}

/** Parses a NumPy .npz archive (np.savez / np.savez_compressed): one tensor per member, named without '.npy'. */
export function parseNpz(
  bytes: Uint8Array,
  inflateRaw: InflateRaw,
  what = '.npz',
): { name: string; tensor: HostTensor }[] {
  const out: { name: string; tensor: HostTensor }[] = [];
  for (const entry of readZip(bytes, inflateRaw, what)) {
    if (entry.name.endsWith('/')) continue;
    const name = entry.name.endsWith('.npy') ? entry.name.slice(0, -4) : entry.name;
    out.push({ name, tensor: parseNpy(entry.data, `${what}:${entry.name}`) });
  }
  if (out.length === 0) verifyError(`${what}: the archive holds no arrays`);
  return out;
}
