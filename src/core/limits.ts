/**
 * Named limits for hostile files. Each stops a specific attack; a file over a limit is refused
 * with an InvalidModelError instead of exhausting memory, stack or time.
 */

/** Subgraph nesting (If/Loop/Scan inside each other): stops stack exhaustion by deep recursion. */
export const MAX_GRAPH_DEPTH = 64;
/** Protobuf message nesting overall (TypeProto can nest too): same threat as above. */
export const MAX_MESSAGE_DEPTH = 100;
/** A single structural (non-tensor-data) field read into memory: stops length bombs on strings. */
export const MAX_INLINE_FIELD_BYTES = 64 * 1024 * 1024;
/** Tensor rank: stops shape arrays of millions of dims. */
export const MAX_TENSOR_RANK = 64;
/** Element count of one tensor: stops shape products that overflow or promise absurd sizes. */
export const MAX_TENSOR_ELEMENTS = 2 ** 50;
/** Nodes in the whole model, across subgraphs and functions: bounds memory of the structure. */
export const MAX_NODES = 5_000_000;
/** Tensors reported for the whole model: bounds memory of the structure. */
export const MAX_TENSORS = 2_000_000;
/** Histogram bin count accepted from settings or the CLI: bounds per-tensor memory. */
export const MAX_HISTOGRAM_BINS = 4096;
/** Bytes of a scattered (e.g. transposed) tensor view read into memory at once to gather its elements. */
export const MAX_STRIDED_SPAN_BYTES = 256 * 1024 * 1024;
/** Pixels of one decoded image (a PNG or JPEG header may claim 2³² × 2³²): 2²⁶ is an 8k×8k photo, 1 GiB as RGBA float32. */
export const MAX_IMAGE_PIXELS = 2 ** 26;
