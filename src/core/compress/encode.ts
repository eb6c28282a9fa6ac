import type { NewNode, NewTensor, TensorEdit } from '../formats/onnx/writer';
import type { TensorRef } from '../model';

/**
 * ONNX encodings of compressed weights: each edit removes the original declaration and adds
 * stored tensors plus nodes that recompute a float tensor under the original name, so consumers
 * are untouched. Each picks ops the model's default-domain opset already has.
 */

export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A name for a derived tensor that is unique enough not to collide with the graph's own. */
export function derived(t: TensorRef, suffix: string): string {
  return `${t.name}::${suffix}`;
}

export interface LinearStorage {
  /** Stored integers: int8, uint8 or int16 elements (dtype code 3, 2 or 5). */
  q: Int8Array | Uint8Array | Int16Array;
  qDtype: 2 | 3 | 5;
  /** Per tensor (length 1) or per channel along `axis`. */
  scale: Float32Array;
  zeroPoint?: Int8Array | Uint8Array;
  axis: number | null;
}

/**
 * Linear dequantization x = (q - zp) * scale: DequantizeLinear where the opset has the needed
 * form (per-axis from opset 13, per-tensor from 10, 16-bit from 21), otherwise Cast, Sub and Mul
 * with the scale shaped to broadcast along the channel axis (any opset from 7).
 */
export function linearEdit(t: TensorRef, s: LinearStorage, opset: number): TensorEdit {
  const qName = derived(t, 'q');
  const scaleName = derived(t, 'scale');
  const zpName = derived(t, 'zero_point');
  const perAxis = s.axis !== null && s.scale.length > 1;
  const useDq = t.dtype === 1 && (s.qDtype === 5 ? opset >= 21 : perAxis ? opset >= 13 : opset >= 10);
  const initializers: NewTensor[] = [{ name: qName, dtype: s.qDtype, dims: t.dims, data: bytesOf(s.q) }];
  const nodes: NewNode[] = [];
  if (useDq) {
    const scaleDims = perAxis ? [s.scale.length] : [];
    initializers.push({ name: scaleName, dtype: 1, dims: scaleDims, data: bytesOf(s.scale) });
    const inputs = [qName, scaleName];
    if (s.zeroPoint) {
      initializers.push({ name: zpName, dtype: s.qDtype, dims: scaleDims, data: bytesOf(s.zeroPoint) });
      inputs.push(zpName);
    }
    nodes.push({ name: derived(t, 'dequantize'), op: 'DequantizeLinear', inputs, outputs: [t.name], attributes: perAxis ? [{ name: 'axis', i: s.axis! }] : [] });
    return { tensor: t, initializers, nodes };
  }
  // Broadcast shape: the channel count on its axis, 1 elsewhere.
  const bdims = perAxis ? t.dims.map((d, i) => (i === s.axis ? d : 1)) : [];
  initializers.push({ name: scaleName, dtype: 1, dims: bdims, data: bytesOf(s.scale) });
  const floatQ = derived(t, 'q_float');
  nodes.push({ name: derived(t, 'cast'), op: 'Cast', inputs: [qName], outputs: [floatQ], attributes: [{ name: 'to', i: 1 }] });
  let centred = floatQ;
  if (s.zeroPoint) {
    const zpFloat = Float32Array.from(s.zeroPoint);
    initializers.push({ name: zpName, dtype: 1, dims: bdims, data: bytesOf(zpFloat) });
    centred = derived(t, 'q_centred');
    nodes.push({ name: derived(t, 'sub_zero_point'), op: 'Sub', inputs: [floatQ, zpName], outputs: [centred] });
  }
  const product = t.dtype === 1 ? t.name : derived(t, 'dequantized');
  nodes.push({ name: derived(t, 'mul_scale'), op: 'Mul', inputs: [centred, scaleName], outputs: [product] });
  if (product !== t.name) nodes.push({ name: derived(t, 'cast_back'), op: 'Cast', inputs: [product], outputs: [t.name], attributes: [{ name: 'to', i: t.dtype }] });
  return { tensor: t, initializers, nodes };
}

/** Narrow float storage (float16 or bfloat16 bits) plus a Cast back to the original type. */
export function castEdit(t: TensorRef, bits: Uint16Array, dtype: 10 | 16): TensorEdit {
  const stored = derived(t, dtype === 10 ? 'fp16' : 'bf16');
  return {
    tensor: t,
    initializers: [{ name: stored, dtype, dims: t.dims, data: bytesOf(bits) }],
    nodes: [{ name: derived(t, 'cast'), op: 'Cast', inputs: [stored], outputs: [t.name], attributes: [{ name: 'to', i: t.dtype }] }],
  };
}

/** The same tensor with new values in its own dtype (pruned weights stored densely). */
export function denseEdit(t: TensorRef, data: Uint8Array): TensorEdit {
  return { tensor: t, initializers: [{ name: t.name, dtype: t.dtype, dims: t.dims, data }], nodes: [] };
}

/** Weight sharing: uint8 indices into a float codebook, recombined by Gather (any opset). */
export function codebookEdit(t: TensorRef, indices: Uint8Array, codebook: Float32Array): TensorEdit {
  const idx = derived(t, 'indices');
  const book = derived(t, 'codebook');
  const initializers: NewTensor[] = [
    { name: idx, dtype: 2, dims: t.dims, data: bytesOf(indices) },
    { name: book, dtype: 1, dims: [codebook.length], data: bytesOf(codebook) },
  ];
  // Gather needs int32/int64 indices; the uint8 ones are widened at run time.
  const wide = derived(t, 'indices_i32');
  const gathered = t.dtype === 1 ? t.name : derived(t, 'gathered');
  const nodes: NewNode[] = [
    { name: derived(t, 'cast_indices'), op: 'Cast', inputs: [idx], outputs: [wide], attributes: [{ name: 'to', i: 6 }] },
    { name: derived(t, 'gather'), op: 'Gather', inputs: [book, wide], outputs: [gathered], attributes: [{ name: 'axis', i: 0 }] },
  ];
  if (gathered !== t.name) nodes.push({ name: derived(t, 'cast_back'), op: 'Cast', inputs: [gathered], outputs: [t.name], attributes: [{ name: 'to', i: t.dtype }] });
  return { tensor: t, initializers, nodes };
}

/** Two 4-bit codes per byte, first element in the low nibble, as ONNX packs INT4. */
export function packNibbles(q: Int8Array, offset: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(q.length / 2));
  for (let i = 0; i < q.length; i++) out[i >> 1] |= ((q[i] + offset) & 0xf) << ((i & 1) * 4);
  return out;
}

function int64Bytes(values: number[]): Uint8Array {
  return bytesOf(BigInt64Array.from(values.map((v) => BigInt(v))));
}

/**
 * Blockwise 4-bit storage. Opset 21+: DequantizeLinear on INT4 with block_size. Older opsets:
 * offset-binary nibbles in uint8, unpacked by Cast/Mod/Div/Concat/Reshape (opset 10+) and scaled
 * per block by a broadcast Mul; this needs an even element count and whole blocks. Returns null
 * when neither encoding fits, so the caller can store the codes another way.
 */
export function int4Edit(t: TensorRef, codes: Int8Array, scale: Float32Array, axis: number, blockSize: number, opset: number): TensorEdit | null {
  const nb = Math.ceil(t.dims[axis] / blockSize);
  if (opset >= 21 && t.dtype === 1) {
    const qName = derived(t, 'q4');
    const scaleName = derived(t, 'scale');
    return {
      tensor: t,
      initializers: [
        { name: qName, dtype: 22, dims: t.dims, data: packNibbles(codes, 0) },
        { name: scaleName, dtype: 1, dims: t.dims.map((d, i) => (i === axis ? nb : d)), data: bytesOf(scale) },
      ],
      nodes: [{ name: derived(t, 'dequantize'), op: 'DequantizeLinear', inputs: [qName, scaleName], outputs: [t.name], attributes: [{ name: 'axis', i: axis }, { name: 'block_size', i: blockSize }] }],
    };
  }
  if (opset < 10 || codes.length % 2 !== 0 || t.dims[axis] % blockSize !== 0) return null;
  const half = codes.length / 2;
  const split = [...t.dims.slice(0, axis), nb, blockSize, ...t.dims.slice(axis + 1)];
  const scaleDims = [...t.dims.slice(0, axis), nb, 1, ...t.dims.slice(axis + 1)];
  const n = (s: string) => derived(t, s);
  const initializers: NewTensor[] = [
    { name: n('q4_packed'), dtype: 2, dims: [half], data: packNibbles(codes, 8) },
    { name: n('sixteen'), dtype: 6, dims: [], data: bytesOf(Int32Array.of(16)) },
    { name: n('eight'), dtype: 1, dims: [], data: bytesOf(Float32Array.of(8)) },
    { name: n('pairs_shape'), dtype: 7, dims: [2], data: int64Bytes([half, 1]) },
    { name: n('blocks_shape'), dtype: 7, dims: [split.length], data: int64Bytes(split) },
    { name: n('shape'), dtype: 7, dims: [t.dims.length], data: int64Bytes(t.dims) },
    { name: n('scale'), dtype: 1, dims: scaleDims, data: bytesOf(scale) },
  ];
  const out = t.dtype === 1 ? t.name : n('dequantized');
  const nodes: NewNode[] = [
    { name: n('widen'), op: 'Cast', inputs: [n('q4_packed')], outputs: [n('bytes')], attributes: [{ name: 'to', i: 6 }] },
    { name: n('low'), op: 'Mod', inputs: [n('bytes'), n('sixteen')], outputs: [n('lo')] },
    { name: n('high'), op: 'Div', inputs: [n('bytes'), n('sixteen')], outputs: [n('hi')] },
    { name: n('low_column'), op: 'Reshape', inputs: [n('lo'), n('pairs_shape')], outputs: [n('lo2')] },
    { name: n('high_column'), op: 'Reshape', inputs: [n('hi'), n('pairs_shape')], outputs: [n('hi2')] },
    { name: n('interleave'), op: 'Concat', inputs: [n('lo2'), n('hi2')], outputs: [n('pairs')], attributes: [{ name: 'axis', i: 1 }] },
    { name: n('to_blocks'), op: 'Reshape', inputs: [n('pairs'), n('blocks_shape')], outputs: [n('codes')] },
    { name: n('to_float'), op: 'Cast', inputs: [n('codes')], outputs: [n('codes_f')], attributes: [{ name: 'to', i: 1 }] },
    { name: n('centre'), op: 'Sub', inputs: [n('codes_f'), n('eight')], outputs: [n('centred')] },
    { name: n('mul_scale'), op: 'Mul', inputs: [n('centred'), n('scale')], outputs: [n('scaled')] },
    { name: n('to_shape'), op: 'Reshape', inputs: [n('scaled'), n('shape')], outputs: [out] },
  ];
  if (out !== t.name) nodes.push({ name: n('cast_back'), op: 'Cast', inputs: [out], outputs: [t.name], attributes: [{ name: 'to', i: t.dtype }] });
  return { tensor: t, initializers, nodes };
}

/** Pruned weights as a sparse initializer (values + int64 linear indices) under the original name. */
export function sparseEdit(t: TensorRef, values: Float32Array): TensorEdit {
  const at: number[] = [];
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) at.push(i);
  const nz = Float32Array.from(at, (i) => values[i]);
  return {
    tensor: t,
    initializers: [],
    sparseInitializers: [{ name: t.name, dtype: 1, dims: t.dims, nnz: at.length, values: bytesOf(nz), indices: int64Bytes(at) }],
    nodes: [],
  };
}

/** Bytes a sparse initializer of `nnz` float32 values takes (values + int64 indices). */
export function sparseBytes(nnz: number): number {
  return nnz * 12;
}
