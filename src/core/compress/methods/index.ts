/** The numeric compression methods: pure functions on float32 values and their weight layout. */

export {
  blockLayout,
  blockwiseScaleDims,
  dequantizeLinear,
  dequantizeLinearRuns,
  quantizeBlockwise,
  quantizeLinear,
  quantizeSymmetricMeasured,
  type BlockwiseOptions,
  type LinearOptions,
  type MeasuredQuantization,
} from './linear';
export { fromBfloat16, fromFloat16, toBfloat16, toFloat16, type HalfResult } from './half';
export { dequantizeFixed, quantizeFixed, type FixedOptions, type FixedQuantized } from './fixed';
export { quantizeTernary, type TernaryOptions } from './ternary';
export {
  applyMask,
  meanAbs,
  pruneCount,
  pruneGlobalMagnitude,
  pruneGlobalRandom,
  pruneMagnitude,
  pruneMean,
  pruneNM,
  pruneRandom,
  pruneThreshold,
} from './prune';
export { dequantizeClusters, kmeans1d, type ClusterOptions, type Clustered } from './cluster';
export { roundHalfEven } from './layout';
export {
  chooseRanks,
  choleskyDamped,
  maxSavingRank,
  shrinkage,
  svd,
  symmetricEigen,
  truncate,
  unwhiten,
  whiten,
  type LowRankFactors,
  type RankLayer,
  type Svd,
} from './svd';
