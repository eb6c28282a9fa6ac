/**
 * ggml tensor types as GGUF files number them (ggml.h `enum ggml_type`), with their block
 * layouts from ggml-common.h: `blockSize` elements take `typeSize` bytes.
 */
export interface GgmlType {
  readonly id: number;
  readonly name: string;
  readonly blockSize: number;
  readonly typeSize: number;
  /** ONNX dtype code for element types stored plainly; undefined for block formats. */
  readonly plain?: number;
}

const QK_K = 256;

const TYPES: GgmlType[] = [
  { id: 0, name: 'F32', blockSize: 1, typeSize: 4, plain: 1 },
  { id: 1, name: 'F16', blockSize: 1, typeSize: 2, plain: 10 },
  { id: 2, name: 'Q4_0', blockSize: 32, typeSize: 2 + 16 },
  { id: 3, name: 'Q4_1', blockSize: 32, typeSize: 4 + 16 },
  { id: 6, name: 'Q5_0', blockSize: 32, typeSize: 2 + 4 + 16 },
  { id: 7, name: 'Q5_1', blockSize: 32, typeSize: 4 + 4 + 16 },
  { id: 8, name: 'Q8_0', blockSize: 32, typeSize: 2 + 32 },
  { id: 9, name: 'Q8_1', blockSize: 32, typeSize: 4 + 32 },
  { id: 10, name: 'Q2_K', blockSize: QK_K, typeSize: QK_K / 16 + QK_K / 4 + 4 },
  { id: 11, name: 'Q3_K', blockSize: QK_K, typeSize: QK_K / 8 + QK_K / 4 + 12 + 2 },
  { id: 12, name: 'Q4_K', blockSize: QK_K, typeSize: 4 + 12 + QK_K / 2 },
  { id: 13, name: 'Q5_K', blockSize: QK_K, typeSize: 4 + 12 + QK_K / 8 + QK_K / 2 },
  { id: 14, name: 'Q6_K', blockSize: QK_K, typeSize: QK_K / 2 + QK_K / 4 + QK_K / 16 + 2 },
  { id: 15, name: 'Q8_K', blockSize: QK_K, typeSize: 4 + QK_K + (QK_K / 16) * 2 },
  { id: 16, name: 'IQ2_XXS', blockSize: QK_K, typeSize: 2 + QK_K / 4 },
  { id: 17, name: 'IQ2_XS', blockSize: QK_K, typeSize: 2 + QK_K / 4 + QK_K / 32 },
  { id: 18, name: 'IQ3_XXS', blockSize: QK_K, typeSize: 2 + (3 * QK_K) / 8 },
  { id: 19, name: 'IQ1_S', blockSize: QK_K, typeSize: 2 + QK_K / 8 + QK_K / 16 },
  { id: 20, name: 'IQ4_NL', blockSize: 32, typeSize: 2 + 16 },
  { id: 21, name: 'IQ3_S', blockSize: QK_K, typeSize: 2 + 13 * (QK_K / 32) + QK_K / 64 },
  { id: 22, name: 'IQ2_S', blockSize: QK_K, typeSize: 2 + QK_K / 4 + QK_K / 16 },
  { id: 23, name: 'IQ4_XS', blockSize: QK_K, typeSize: 2 + 2 + QK_K / 64 + QK_K / 2 },
  { id: 24, name: 'I8', blockSize: 1, typeSize: 1, plain: 3 },
  { id: 25, name: 'I16', blockSize: 1, typeSize: 2, plain: 5 },
  { id: 26, name: 'I32', blockSize: 1, typeSize: 4, plain: 6 },
  { id: 27, name: 'I64', blockSize: 1, typeSize: 8, plain: 7 },
  { id: 28, name: 'F64', blockSize: 1, typeSize: 8, plain: 11 },
  { id: 29, name: 'IQ1_M', blockSize: QK_K, typeSize: QK_K / 8 + QK_K / 16 + QK_K / 32 },
  { id: 30, name: 'BF16', blockSize: 1, typeSize: 2, plain: 16 },
  {
    id: 34,
    name: 'TQ1_0',
    blockSize: QK_K,
    typeSize: 2 + QK_K / 64 + (QK_K - (4 * QK_K) / 64) / 5,
  },
  { id: 35, name: 'TQ2_0', blockSize: QK_K, typeSize: 2 + QK_K / 4 },
  { id: 39, name: 'MXFP4', blockSize: 32, typeSize: 1 + 16 },
  { id: 40, name: 'NVFP4', blockSize: 64, typeSize: 4 + 32 },
  { id: 41, name: 'Q1_0', blockSize: 128, typeSize: 2 + 16 },
];

const byId = new Map(TYPES.map((t) => [t.id, t]));

export function ggmlType(id: number): GgmlType | undefined {
  return byId.get(id);
}

export const GGML_TYPE = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, BF16: 30 } as const;

/** Storage bits per element: e.g. 4.5 for Q4_0 (18 bytes per 32 weights). */
export function bitsPerWeight(t: GgmlType): number {
  return (t.typeSize * 8) / t.blockSize;
}
