/** Statistics of one tensor's decoded values, accumulated in float64. */
export interface Histogram {
  /** Lower edge of the first bin. */
  min: number;
  /** Upper edge of the last bin (inclusive, as numpy's last bin is). */
  max: number;
  counts: Uint32Array;
}

export interface TensorStats {
  /** Elements in the tensor (including NaN/Inf). */
  count: number;
  /** Min/max/mean/std are over the finite values; null when there are none. */
  min: number | null;
  max: number | null;
  mean: number | null;
  /** Population standard deviation (numpy's default ddof=0). */
  std: number | null;
  /** Elements with |x| <= the near-zero threshold (exact zeros by default). */
  zeros: number;
  /** zeros / count. */
  sparsity: number;
  nan: number;
  inf: number;
  histogram: Histogram;
  /** Percentiles interpolated inside the histogram bin: accurate to one bin width. */
  p1: number | null;
  p50: number | null;
  p99: number | null;
  /** Shannon entropy of the histogram in bits per weight. */
  entropy: number;
}

export interface StatsOptions {
  bins: number;
  nearZero: number;
}

export const DEFAULT_STATS_OPTIONS: StatsOptions = { bins: 256, nearZero: 0 };

/** The statistics of one tensor of a model, or why it has none. */
export interface StatsResult {
  /** Index into Model.tensors. */
  index: number;
  stats?: TensorStats;
  /** Why this tensor has no statistics (undecodable type, read error). */
  error?: string;
}
