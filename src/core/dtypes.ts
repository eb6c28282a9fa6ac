/** Element types, keyed by ONNX TensorProto.DataType codes (other formats map onto these). */
export interface DTypeInfo {
  readonly code: number;
  readonly name: string;
  /** Bits per element in raw storage. */
  readonly bits: number;
  /** Counts toward `parameters` and gets statistics as a weight. */
  readonly float: boolean;
  /** Has numeric statistics at all (strings and complex numbers do not). */
  readonly numeric: boolean;
}

const table: DTypeInfo[] = [
  { code: 1, name: 'float32', bits: 32, float: true, numeric: true },
  { code: 2, name: 'uint8', bits: 8, float: false, numeric: true },
  { code: 3, name: 'int8', bits: 8, float: false, numeric: true },
  { code: 4, name: 'uint16', bits: 16, float: false, numeric: true },
  { code: 5, name: 'int16', bits: 16, float: false, numeric: true },
  { code: 6, name: 'int32', bits: 32, float: false, numeric: true },
  { code: 7, name: 'int64', bits: 64, float: false, numeric: true },
  { code: 8, name: 'string', bits: 0, float: false, numeric: false },
  { code: 9, name: 'bool', bits: 8, float: false, numeric: true },
  { code: 10, name: 'float16', bits: 16, float: true, numeric: true },
  { code: 11, name: 'float64', bits: 64, float: true, numeric: true },
  { code: 12, name: 'uint32', bits: 32, float: false, numeric: true },
  { code: 13, name: 'uint64', bits: 64, float: false, numeric: true },
  { code: 14, name: 'complex64', bits: 64, float: false, numeric: false },
  { code: 15, name: 'complex128', bits: 128, float: false, numeric: false },
  { code: 16, name: 'bfloat16', bits: 16, float: true, numeric: true },
  { code: 17, name: 'float8e4m3fn', bits: 8, float: true, numeric: true },
  { code: 18, name: 'float8e4m3fnuz', bits: 8, float: true, numeric: true },
  { code: 19, name: 'float8e5m2', bits: 8, float: true, numeric: true },
  { code: 20, name: 'float8e5m2fnuz', bits: 8, float: true, numeric: true },
  { code: 21, name: 'uint4', bits: 4, float: false, numeric: true },
  { code: 22, name: 'int4', bits: 4, float: false, numeric: true },
  { code: 23, name: 'float4e2m1', bits: 4, float: true, numeric: true },
  { code: 24, name: 'float8e8m0', bits: 8, float: true, numeric: true },
  { code: 25, name: 'uint2', bits: 2, float: false, numeric: true },
  { code: 26, name: 'int2', bits: 2, float: false, numeric: true },
];

const byCode = new Map(table.map((t) => [t.code, t]));

export function dtypeInfo(code: number): DTypeInfo {
  return byCode.get(code) ?? { code, name: `type${code}`, bits: 0, float: false, numeric: false };
}

/** Bytes needed for `count` packed elements of the type (sub-byte types round up). */
export function storageBytes(code: number, count: number): number {
  return Math.ceil((count * dtypeInfo(code).bits) / 8);
}
