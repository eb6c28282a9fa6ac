/**
 * What compression reports and the hooks it takes: the contract between the format compressors
 * (ONNX in pipeline.ts, GGUF, safetensors), their callers (node, CLI, extension) and the summary.
 * Types only, so every format's compressor can share them without importing another's code.
 */

import type { ByteSink, TensorEdit } from '../formats/onnx/writer';
import type { RandomAccessSource } from '../io/source';
import type { Model } from '../model';
import type { SourceOpener } from '../stats/decode';
import type { HessianComparison } from './hessianPlan';
import type { PairedHistograms } from './metrics';
import type { FidelityResult } from './sensitivity';
import type { CompressSpec } from './spec';
import type { ErrorMetrics, MethodName } from './types';
import type { SkippedTensor, WeightCandidate } from './weights';

export interface TensorResult extends ErrorMetrics {
  name: string;
  layer: string;
  op: string;
  /** What was done, e.g. 'prune+int8 (per-channel, axis 0)'. */
  method: string;
  bytesBefore: number;
  bytesAfter: number;
  note?: string;
  /** Histograms of the original and reconstructed values over the same bins (for overlays). */
  histograms: PairedHistograms;
}

export interface CompressReport {
  methods: MethodName[];
  suffix: string;
  options: CompressSpec['options'];
  tensors: TensorResult[];
  skipped: SkippedTensor[];
  totals: {
    fileBytesBefore: number;
    fileBytesAfter: number;
    /** before / after. */
    ratio: number;
    weightBytesBefore: number;
    weightBytesAfter: number;
    /** Parameters whose storage changed. */
    parameters: number;
  };
  /** Deep Compression's entropy-coding estimate over the compressed tensors' stored symbols. */
  entropy: { bitsPerWeight: number; huffmanBytes: number; huffmanFileBytes: number };
  warnings: string[];
  /** Set when a fidelity goal chose the precision of each layer (node/calibrate.ts). */
  fidelity?: FidelityResult;
  /** Hessian pruning's comparison with magnitude pruning at the same sparsity (set by the caller that calibrated). */
  hessian?: HessianComparison;
  /** What a structural method changed (node/channels.ts, node/lowrank.ts). */
  structure?: StructureReport;
}

export type StructureReport = ChannelsReport | LowRankReport;

/** What every structural method measures: the cost to run, before and after. */
export interface StructuralCost {
  /** Parameters and multiply-adds of the compute layers (Conv, ConvTranspose, Gemm, MatMul), on the shapes of the first sample. */
  cost?: {
    parametersBefore: number;
    parametersAfter: number;
    macsBefore: number;
    macsAfter: number;
    layers: {
      name: string;
      op: string;
      parametersBefore: number;
      parametersAfter: number;
      macsBefore?: number;
      macsAfter?: number;
    }[];
  };
  /** Median time of one inference on the first sample, teacher and student measured in turns in one process. */
  latency?: { beforeMs: number; afterMs: number; runs: number; runtime: string };
}

/** Channel removal: the groups of tied channels, how many each kept, and those left whole with the reason. */
export interface ChannelsReport extends StructuralCost {
  method: 'channels';
  amount: number;
  /** How channels were ranked (see ChannelCriterion) and whether across the model or within each group. */
  importance: 'l2' | 'bn' | 'activation';
  scope: 'layer' | 'global';
  parametersBefore: number;
  parametersAfter: number;
  /** Channels in the groups that could be cut, before and after. */
  channelsBefore: number;
  channelsAfter: number;
  groups: { producers: string[]; channels: number; kept: number; whole?: string }[];
  /** The refit of the changed layers to the original's outputs (absent with --no-reconstruct). */
  reconstruction?: ReconstructionReport;
}

/**
 * Layer-wise reconstruction after a channel cut: each changed layer refit by least squares so that, on the
 * student's own inputs, it gives the original's outputs of that layer on the channels it kept.
 */
export interface ReconstructionReport {
  /** Calibration samples the layers were fit on, and the held-out ones the outputs were compared on. */
  samples: number;
  heldOut: number;
  /** 'held-out' when the comparison used samples the fit did not see; 'calibration' when there was only one. */
  evaluation: 'held-out' | 'calibration';
  inputs: 'data' | 'files' | 'random';
  measuredOn: string;
  /** Activation rows per layer per sample the fit used at most (a seeded subset of positions). */
  rowBudget: number;
  /** Rounds of runs: every layer of a round was fit on inputs from the student as the earlier rounds left it. */
  stages: number;
  /** Per layer: ‖X·W − Y‖²/‖Y‖² on the calibration rows with the cut weights and with the refit ones (absent when it was not fit). */
  layers: {
    name: string;
    op: string;
    before?: number;
    after?: number;
    refit: boolean;
    note?: string;
  }[];
  /** Output cosine to the original on the held-out samples: the plain cut and the reconstructed variant. */
  outputs: { name: string; plainCosine: number; cosine: number }[];
  elapsedMs: number;
}

/** Low-rank factorisation: each factorable layer's rank and the share of its spectrum's energy kept. */
export interface LowRankReport extends StructuralCost {
  method: 'lowrank';
  amount: number;
  /** What was truncated: the SVD of W, or of S·W with SᵀS = XᵀX from calibration runs. */
  criterion: 'svd' | 'data';
  /** Calibration runs behind the data-aware criterion. */
  samples?: number;
  /** Float parameters of the whole graph. */
  parametersBefore: number;
  parametersAfter: number;
  /** Parameters of the factorable layers' weights, before and after. */
  layerParametersBefore: number;
  layerParametersAfter: number;
  layers: LowRankLayer[];
  /** Layers with a constant weight that were not candidates, and why. */
  skipped: { node: string; weight: string; reason: string }[];
}

export interface LowRankLayer {
  node: string;
  op: 'MatMul' | 'Gemm' | 'Conv';
  weight: string;
  /** W as [K, N]: K inputs per output (C·kh·kw for Conv), N outputs. */
  K: number;
  N: number;
  /** 0: left dense (no rank within the budget saved parameters). */
  rank: number;
  /** Largest rank that still saves parameters: r < K·N/(K+N). */
  maxRank: number;
  /** Σ kept σ² / Σ σ² of the truncated matrix (W, or S·W for the data criterion); 1 when dense. */
  energy: number;
  /** Why this layer used plain SVD under the data criterion, and the like. */
  note?: string;
}

export interface CompressHooks {
  cancelled?: () => boolean;
  progress?: (done: number, total: number, tensor: string) => void;
  /** Where a sharded variant (safetensors) writes its shards; the main sink gets its index. */
  shards?: ShardWriter;
  /**
   * Prunes one weight from outside the pure core (Hessian criterion: needs calibration runs).
   * Returns the pruned values, or undefined to fall back to the spec's own criterion.
   */
  prune?: (candidate: WeightCandidate, values: Float32Array) => Float32Array | undefined;
  /** Sees each weight before and after compression (sensitivity's activation-weighted error). */
  inspect?: (
    candidate: WeightCandidate,
    original: Float32Array,
    reconstructed: Float32Array,
  ) => void;
  /**
   * Runs tensor jobs elsewhere (worker threads, each with its own reader of the model) and yields
   * their outcomes in job order. Not used for global pruning (it needs every tensor at once) nor
   * when `prune` or `inspect` is set (a function cannot cross to another thread).
   */
  parallel?: (jobs: TensorJob[], cancelled: () => boolean) => Iterable<TensorOutcome>;
}

/** One weight to compress: everything a thread needs besides a reader of the model. */
export interface TensorJob {
  candidate: WeightCandidate;
  /** Position among the weights compressed (varies the seed of random pruning). */
  position: number;
  storage: MethodName | undefined;
  spec: CompressSpec;
  opset: number;
}

/** What compressing one weight yields: its edit, its report row and its share of the entropy estimate. */
export interface TensorOutcome {
  edit: TensorEdit;
  result: TensorResult;
  estimate?: SymbolEstimate;
}

/** The other files of a sharded variant, written next to the main output (the new index). */
export interface ShardWriter {
  /** File name of the main output: shards are named after it (`X.safetensors.index.json` → `X-00001-of-00002.safetensors`). */
  mainName: string;
  /** Writes file `name` next to the main output, whole or not at all; returns its size. */
  write(name: string, produce: (sink: ByteSink) => void): number;
}

/** One stored tensor's share of the Deep Compression estimate. */
export interface SymbolEstimate {
  /** Entropy × elements: bits an ideal coder would need for the symbols. */
  bits: number;
  /** Huffman-coded symbols plus the tensor's other stored bytes (scales, codebooks). */
  bytes: number;
  count: number;
}

/** A format's compressor: the model read from `source`, its variant streamed to `sink`. */
export type Compressor = (
  source: RandomAccessSource,
  model: Model,
  spec: CompressSpec,
  openFile: SourceOpener,
  sink: ByteSink,
  hooks: CompressHooks,
) => CompressReport;

/** A variant written to a file: where from, where to, how long it took and its report. */
export interface CompressFileResult {
  input: string;
  output: string;
  elapsedMs: number;
  report: CompressReport;
}
