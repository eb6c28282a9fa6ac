import { dtypeInfo } from '../dtypes';
import { MAX_TENSOR_RANK } from '../limits';

/** Element storage of a HostTensor; which one is fixed by the dtype (see arrayTypeFor). */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/**
 * A dense tensor in memory, in C order. `dtype` is the ONNX code; float16 holds raw bit patterns
 * in a Uint16Array and bool holds 0/1 bytes, as onnxruntime expects them.
 */
export interface HostTensor {
  dtype: number;
  dims: number[];
  data: TensorData;
}

/** Verification failures a user can act on (bad inputs, mismatched models); reported as one line. */
export class VerifyError extends Error {
  override readonly name = 'VerifyError';
}

/** onnxruntime failed while running a model; `reason` is the first line of its message. */
export class InferenceError extends VerifyError {
  constructor(
    readonly label: string,
    readonly reason: string,
  ) {
    super(`${label}: inference failed: ${reason}`);
  }
}

/** The original model cannot run on the inputs chosen for it: other shapes, values or input files are needed, not another variant. */
export class InputsRejectedError extends VerifyError {
  constructor(
    message: string,
    /** The model that refused them, when known (a worker passes the message alone). */
    readonly file?: string,
  ) {
    super(message);
  }
}

export function verifyError(message: string): never {
  throw new VerifyError(message);
}

/** Elements one input or output may hold: 2^28 float32 is 1 GiB, beyond any sane verification run. */
export const MAX_VERIFY_ELEMENTS = 2 ** 28;

type ArrayCtor = {
  new (n: number): TensorData;
  new (b: ArrayBuffer): TensorData;
  BYTES_PER_ELEMENT: number;
};

/** The dtypes onnxruntime-web can feed and return, with their typed-array storage. */
const ARRAY_TYPES: Record<number, ArrayCtor> = {
  1: Float32Array,
  2: Uint8Array,
  3: Int8Array,
  4: Uint16Array,
  5: Int16Array,
  6: Int32Array,
  7: BigInt64Array,
  9: Uint8Array,
  10: Uint16Array,
  11: Float64Array,
  12: Uint32Array,
  13: BigUint64Array,
};

export function isSupportedDtype(dtype: number): boolean {
  return dtype in ARRAY_TYPES;
}

export function arrayTypeFor(dtype: number): ArrayCtor {
  const ctor = ARRAY_TYPES[dtype];
  if (!ctor) verifyError(`${dtypeInfo(dtype).name} tensors are not supported by the verifier`);
  return ctor;
}

export function isFloatDtype(dtype: number): boolean {
  return dtype === 1 || dtype === 10 || dtype === 11;
}

export function isIntDtype(dtype: number): boolean {
  return [2, 3, 4, 5, 6, 7, 12, 13].includes(dtype);
}

/** Checked element count of a shape. */
export function elementCount(dims: readonly number[], what: string): number {
  if (dims.length > MAX_TENSOR_RANK)
    verifyError(`${what} has more than ${MAX_TENSOR_RANK} dimensions`);
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) verifyError(`${what} has invalid dimension ${d}`);
    n *= d;
  }
  if (n > MAX_VERIFY_ELEMENTS)
    verifyError(
      `${what} has ${n} elements, more than the verifier's limit of ${MAX_VERIFY_ELEMENTS}`,
    );
  return n;
}

/** A new tensor whose elements are copied from little-endian bytes. */
export function tensorFromBytes(
  dtype: number,
  dims: number[],
  bytes: Uint8Array,
  what: string,
): HostTensor {
  const ctor = arrayTypeFor(dtype);
  const count = elementCount(dims, what);
  const need = count * ctor.BYTES_PER_ELEMENT;
  if (bytes.length !== need)
    verifyError(
      `${what}: ${bytes.length} bytes of data, but ${dtypeInfo(dtype).name} [${dims.join(',')}] needs ${need}`,
    );
  // A copy: the source may be unaligned for the element size, and the caller's buffer may be reused.
  const copy = new Uint8Array(need);
  copy.set(bytes);
  return { dtype, dims, data: new ctor(copy.buffer) };
}

export function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Round-to-nearest-even float16 bits of a number (overflow goes to infinity, as a cast does). */
export function numberToFloat16(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  if (a >= 65520) return sign | 0x7c00;
  // Subnormals are multiples of 2^-24; a carry into the exponent field is the right encoding too.
  if (a < 2 ** -14) return sign | roundHalfEven(a / 2 ** -24);
  let exp = Math.floor(Math.log2(a));
  if (2 ** exp > a) exp--;
  else if (2 ** (exp + 1) <= a) exp++;
  return sign | (((exp + 15) << 10) + roundHalfEven((a / 2 ** exp - 1) * 1024));
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  return rest > 0.5 || (rest === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
}

/** The elements as numbers: typed arrays that already hold numbers are returned as they are. */
export function numericValues(t: HostTensor): ArrayLike<number> {
  const d = t.data;
  if (t.dtype === 10) return Float32Array.from(d as Uint16Array, float16ToNumber);
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    const out = new Float64Array(d.length);
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
    return out;
  }
  return d as Exclude<TensorData, BigInt64Array | BigUint64Array>;
}

export function formatShape(dims: readonly (number | string | null)[]): string {
  return `[${dims.map((d) => d ?? '?').join(',')}]`;
}
