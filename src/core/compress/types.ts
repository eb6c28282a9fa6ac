/**
 * Contracts of the compression engine. Methods are pure functions on float values; the format
 * writer turns their results into stored tensors and graph nodes.
 */

export type MethodName =
  | 'int8'
  | 'int4'
  | 'fp16'
  | 'bf16'
  | 'fixed'
  | 'sign'
  | 'prune'
  | 'cluster'
  | 'channels'
  | 'lowrank';

export interface MethodOptions {
  /** int8: per output channel (default) or one scale for the whole tensor. */
  granularity?: 'channel' | 'tensor';
  /** int8: uint8 + zero point over [min, max] instead of symmetric int8. */
  asymmetric?: boolean;
  /** int4: elements per block along the input dimension (default 32). */
  blockSize?: number;
  /** fixed: word length in bits (default 8, 2..16). */
  bits?: number;
  /** prune: fraction of prunable weights to zero (0..1). */
  sparsity?: number;
  /** prune: magnitude threshold, or 'mean' for the mean |w| of each tensor. sign: zero band as a fraction of mean |w|. */
  threshold?: number | 'mean';
  /** prune: rank magnitudes across all tensors ('global') or within each ('layer', default). channels: the same across groups. */
  scope?: 'global' | 'layer';
  /** prune: N:M structured sparsity (keep N largest of every M consecutive along the input dimension). */
  pattern?: { n: number; m: number };
  /** prune: seeded random selection instead of magnitude (a baseline for comparison). */
  random?: boolean;
  /**
   * prune: rank by |w| ('magnitude', default) or by second-order saliency w²/[H⁻¹]ᵢᵢ from
   * calibration activations ('hessian'; the caller supplies it through CompressHooks.prune).
   * lowrank: truncate the SVD of W ('svd') or of S·W with SᵀS = XᵀX from calibration activations ('data', default).
   */
  criterion?: 'magnitude' | 'hessian' | 'svd' | 'data';
  /** prune, Hessian criterion: update each row's surviving weights to make up for the pruned ones (SparseGPT; default true). */
  compensate?: boolean;
  seed?: number;
  /** prune: write sparse initializers when smaller than dense. */
  store?: 'dense' | 'sparse';
  /** channels: fraction of each prunable group's channels to remove; lowrank: of the factorable layers' parameters. In (0, 1). */
  amount?: number;
  /** channels: how channels are ranked (filter norm, BatchNorm |γ|, or energy fed to consumers on calibration data). */
  importance?: 'l2' | 'bn' | 'activation';
  /** channels: refit each changed layer to the original's outputs on calibration data (layer-wise distillation; default true). */
  reconstruct?: boolean;
  /** cluster: codebook size K (2..256, default 16). */
  clusters?: number;
  /**
   * Every method: tensors to compress beyond the compute ops' weights (the default scope): 'all',
   * op types (e.g. BatchNormalization) or tensor names.
   */
  include?: string[];
  /** fp16/bf16 (and float64 weights read as float32): clip values the target type cannot hold instead of leaving the tensor as it is. */
  allowClip?: boolean;
}

/** How a weight is laid out for its consumer: which axis holds output channels, which holds inputs. */
export interface WeightLayout {
  dims: number[];
  /** Axis of output channels (per-channel scales run along it). */
  outputAxis: number;
  /** Axis of input features (int4 blocks and N:M groups run along it). */
  inputAxis: number;
}

/** Linear quantization result: q = round(w / scale) + zeroPoint, per channel along `axis` or per tensor. */
export interface LinearQuantized {
  /** int8 (symmetric) or uint8 (asymmetric), or int4 values in -8..7 held one per byte (packing is the writer's job). */
  q: Int8Array | Uint8Array;
  signed: boolean;
  bits: number;
  /** One per channel along `axis`, or one per block (blockwise: shape = dims with inputAxis divided by blockSize, rounded up). */
  scale: Float32Array;
  zeroPoint?: Int8Array | Uint8Array;
  /** null: per tensor. */
  axis: number | null;
  blockSize?: number;
  /** Blockwise with float16 scales: `scale` as float16 bit patterns (`scale` holds the same values widened). */
  scaleHalf?: Uint16Array;
}

/** Per-tensor error metrics of reconstructed vs original values. */
export interface ErrorMetrics {
  mse: number;
  /** 10·log10(signal power / noise power); Infinity when exact. */
  sqnrDb: number;
  maxAbs: number;
  cosine: number;
  /** Fraction of exact zeros after the transform. */
  sparsity: number;
}

/** Entropy-coding estimate (Deep Compression): what Huffman coding the stored symbols would take. */
export interface EntropyEstimate {
  /** Shannon entropy of the stored symbols, bits per weight. */
  bitsPerWeight: number;
  /** Size of a Huffman code of the symbols, bytes (code lengths from the actual frequencies). */
  huffmanBytes: number;
}

/**
 * Reconstructed values delivered run by run: `visit(from, chunk)` receives positions
 * [from, from + chunk.length) in order, covering the tensor once; a chunk is valid only during its visit.
 */
export type Reconstruction = (visit: (from: number, chunk: Float32Array) => void) => void;
