/**
 * The format-neutral model: structure only. Tensor bytes stay in the file; a TensorRef says
 * where, so statistics can stream them later. Everything here is plain data (structured-clone
 * safe) so it crosses worker and webview boundaries unchanged.
 */

/** Where a tensor's elements live. Offsets are absolute in the model file unless `file` is set. */
export type TensorStorage =
  /**
   * Inside a protobuf message [start, end) of the model file: every occurrence of `field`
   * holds elements, packed or not, encoded as `wire` (ONNX typed fields, raw_data, attribute lists).
   */
  | { kind: 'proto'; start: number; end: number; field: number; wire: WireEncoding }
  /** A byte range of a data file next to the model (ONNX external data), already vetted. */
  | { kind: 'external'; file: string; offset: number; length: number }
  /** Plain little-endian bytes of the model file itself (safetensors, GGUF, ...). */
  | { kind: 'range'; offset: number; length: number }
  /** Sparse: only `values` are stored; the rest of `count` elements are zeros. */
  | { kind: 'sparse'; values: TensorStorage; valueCount: number }
  /**
   * Integer codes times one scale per row (safetensors int8 weight-only): element i is
   * values[i] * scales[floor(i / rowLength)]; each part is raw storage of its own dtype.
   */
  | {
      kind: 'scaled';
      values: TensorStorage;
      valueType: number;
      scales: TensorStorage;
      scaleType: number;
      rowLength: number;
    }
  /** ggml block-quantized data of the model file (GGUF Q4_0, Q4_K, ...): `ggmlType` is the ggml type id. */
  | { kind: 'ggml'; offset: number; length: number; ggmlType: number }
  /**
   * A non-row-major view onto plain little-endian bytes of the model file (PyTorch tensors): the
   * element at index (i0, i1, ...) lies at offset + (i0*strides[0] + i1*strides[1] + ...) * elementBytes,
   * inside `length` bytes; elements stream in row-major order of `dims`.
   */
  | { kind: 'strided'; offset: number; length: number; dims: number[]; strides: number[] }
  /** No data (zero elements, or a type we list but cannot decode). */
  | { kind: 'none'; reason?: string };

/**
 * How elements are encoded in a protobuf field. 'bytes': little-endian raw storage of the dtype
 * (raw_data); 'f32'/'f64': fixed floats; 'varint': (u)int varints whose low bits carry the
 * element (int32_data with fp16 bits, int64_data); 'fixed32'/'fixed64' unused by ONNX today.
 */
export type WireEncoding = 'bytes' | 'f32' | 'f64' | 'varint' | 'uvarint';

export interface TensorRef {
  /** The name the graph uses: initializer name or the Constant node's output name. */
  name: string;
  /** ONNX data type code (see dtypes.ts). */
  dtype: number;
  dims: number[];
  count: number;
  /** Bytes the elements take in storage (raw size of the dtype, as a file of them would hold). */
  bytes: number;
  /** Where it is declared: 'initializer', 'sparse_initializer', 'Constant', 'attribute'. */
  origin: string;
  /** Graph path: '' for the main graph, e.g. 'If_0/then_branch', 'function local:MyFn'. */
  scope: string;
  storage: TensorStorage;
  /** The format's own storage type when it says more than `dtype` (GGUF 'Q4_K': dtype is what it decodes to). */
  storageType?: string;
  /** Stored bits per element, for block formats whose scales make it fractional (Q4_0: 4.5). */
  bitsPerWeight?: number;
  /** The file holding it when a model spans several (a safetensors shard); unset for one-file models. */
  file?: string;
  /** The elements of a small integer tensor (ONNX int32/int64 of at most MAX_TENSOR_RANK: axes, perms, shapes), read with the structure. */
  values?: number[];
  /**
   * Byte range of the declaring message's content in the file: the TensorProto (initializer,
   * attribute), SparseTensorProto, or the Constant NodeProto. Writers replace exactly this.
   */
  span?: [number, number];
}

export interface Layer {
  /** Node name, or `<op>_<index>` when the node has none. */
  name: string;
  op: string;
  domain: string;
  scope: string;
  /** Indices into Model.tensors. */
  tensors: number[];
  /** For each entry of `tensors`, the node input position it feeds (-1: held in an attribute). */
  slots: number[];
  /** The node's integer attributes (e.g. Gemm transB, Conv group), where it has any. */
  attributes?: Record<string, number>;
  /** Its integer-list attributes of at most MAX_TENSOR_RANK entries (Transpose perm, Unsqueeze axes), where it has any. */
  lists?: Record<string, number[]>;
  /** Value names of the node's inputs ('' for an omitted one) and outputs (ONNX); names resolve through enclosing scopes. */
  inputs?: string[];
  outputs?: string[];
}

export interface ValueInfo {
  name: string;
  dtype: number;
  /** Dimension sizes, or symbolic names, or null where unknown. */
  shape: (number | string | null)[] | null;
}

export interface ModelMetadata {
  irVersion?: number;
  opsets: { domain: string; version: number }[];
  producer?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  graphName?: string;
  docString?: string;
  properties: { key: string; value: string }[];
}

export interface Model {
  format: string;
  fileBytes: number;
  metadata: ModelMetadata;
  nodeCount: number;
  opCounts: Record<string, number>;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  tensors: TensorRef[];
  layers: Layer[];
  /** The nodes that read no tensor (ONNX), for their value names: the path from a weight to the op it feeds may pass them. */
  otherNodes?: Layer[];
  /** Non-fatal oddities found while reading (shown in the header). */
  warnings: string[];
}

/** Metadata property a lone shard of a sharded model carries: the file name of the model's index. */
export const SHARD_OF_PROPERTY = 'shard of';
