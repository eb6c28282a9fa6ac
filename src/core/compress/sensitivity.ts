import type { Fidelity } from '../verify/calibration';
import type { InputReport } from '../verify/report';
import type { LayerChoice } from './spec';
import type { MethodName } from './types';

/** The shape of a weight's distribution: what makes a layer fragile under quantization. */
export interface WeightShape {
  min: number;
  max: number;
  std: number;
  /** max |w| / σ: a few large weights stretch a linear grid and starve the rest of levels. */
  outlierRatio: number;
  /** Excess kurtosis (0 for a Gaussian): heavy tails mean outliers. */
  kurtosis: number;
}

export function weightShape(values: Float32Array): WeightShape {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (x - x !== 0) continue;
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
    n++;
  }
  const mean = n ? sum / n : 0;
  let m2 = 0;
  let m4 = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (x - x !== 0) continue;
    const d = (x - mean) * (x - mean);
    m2 += d;
    m4 += d * d;
  }
  const variance = n ? m2 / n : 0;
  const std = Math.sqrt(variance);
  const absMax = n ? Math.max(Math.abs(min), Math.abs(max)) : 0;
  return {
    min: n ? min : 0,
    max: n ? max : 0,
    std,
    outlierRatio: std > 0 ? absMax / std : 0,
    kurtosis: variance > 0 ? m4 / n / (variance * variance) - 3 : 0,
  };
}

/**
 * Rows of each activation per calibration sample that the activation-weighted proxy's H = XᵀX is
 * estimated from (a seeded subset, each row weighted so H stays unbiased; all rows when fewer).
 */
export const PROXY_ROWS = 512;

/** One compressible weight, compressed alone, and what it did to the model. */
export interface LayerSensitivity {
  tensor: string;
  /** The node that consumes it, and its op. */
  layer: string;
  op: string;
  count: number;
  bytesBefore: number;
  bytesAfter: number;
  /**
   * What the method did to the weight itself: the cheap proxies. `activationError` is
   * ‖XΔW‖/‖XW‖ on the calibration activations X (from H = XᵀX, estimated on PROXY_ROWS sampled
   * rows per activation per sample), for MatMul/Gemm/Conv weights.
   */
  weight: { sqnrDb: number; mse: number; cosine: number; activationError?: number };
  shape: WeightShape;
  /** Model outputs with only this weight compressed; absent when the full run was not made. */
  output?: { cosine: number; relL2: number };
}

export interface SensitivityReport {
  file: string;
  /** Methods as given, e.g. ['int4'] or ['prune', 'int8']. */
  methods: MethodName[];
  suffix: string;
  samples: number;
  seed: number;
  inputs: InputReport[];
  /** What the output figures were measured on, in one line (core/verify/report.ts measuredOn). */
  measuredOn: string;
  /** Worst first: by output cosine where measured, then by weight SQNR. */
  layers: LayerSensitivity[];
  /** Every layer compressed together, for scale. */
  all?: { cosine: number; relL2: number; fileBytesAfter: number };
  fileBytesBefore: number;
  /** Layers given a full model run (the rest, least damaged by the proxy, were not run). */
  fullRuns: number;
  elapsedMs: number;
  runtime: string;
  warnings: string[];
}

/** Worst first: measured output damage ranks above the proxy; unmeasured layers follow by proxy. */
export function rankLayers(layers: LayerSensitivity[]): LayerSensitivity[] {
  return [...layers].sort((a, b) => {
    if (a.output && b.output)
      return a.output.cosine - b.output.cosine || a.weight.sqnrDb - b.weight.sqnrDb;
    if (a.output || b.output) return a.output ? -1 : 1;
    return proxyNoise(b) - proxyNoise(a);
  });
}

/**
 * The relative noise a layer puts in by the cheapest measure it has: ‖XΔW‖²/‖XW‖² where the
 * activations are known, else the weight's own 1/SQNR.
 */
export function proxyNoise(l: LayerSensitivity): number {
  const a = l.weight.activationError;
  return a !== undefined && Number.isFinite(a) ? a * a : 10 ** (-l.weight.sqnrDb / 10);
}

/** Layers to give a full model run: the `limit` worst by the proxy. */
export function pickForFullRuns(layers: LayerSensitivity[], limit: number): Set<string> {
  return new Set(
    [...layers]
      .sort((a, b) => proxyNoise(b) - proxyNoise(a))
      .slice(0, limit)
      .map((l) => l.tensor),
  );
}

/**
 * The precisions a layer can be raised to above the method's own, ending at untouched float:
 * int4 → int8 → fp16 → float, and so on. Each keeps more of the weight than the one before.
 */
export function upgradesFor(storage: MethodName | undefined): LayerChoice[] {
  switch (storage) {
    case 'int4':
    case 'sign':
    case 'cluster':
    case 'fixed':
      return ['int8', 'fp16', 'float'];
    case 'int8':
      return ['fp16', 'float'];
    default:
      // fp16/bf16, or prune alone: the layer keeps the method or is left as it is.
      return ['float'];
  }
}

/** One rung of a layer's ladder: its stored bytes and predicted damage (1 − output cosine) there. */
export interface Rung {
  /** null: the spec's own method (rung 0); otherwise the override. */
  choice: LayerChoice | null;
  bytes: number;
  damage: number;
}

export interface LayerLadder {
  tensor: string;
  rungs: Rung[];
}

/**
 * Ladders with the user's pins applied: a pinned layer keeps only the rung of its pinned choice
 * (`pinnedRung` supplies it when the ladder has none), so no search can move it.
 */
export function pinLadders(
  ladders: LayerLadder[],
  pinned: Record<string, LayerChoice>,
  storage: MethodName | undefined,
  pinnedRung: (tensor: string, choice: LayerChoice) => Rung,
): LayerLadder[] {
  return ladders.map((l) => {
    const want = pinned[l.tensor];
    if (want === undefined) return l;
    const choice = want === storage ? null : want;
    return {
      tensor: l.tensor,
      rungs: [l.rungs.find((r) => r.choice === choice) ?? pinnedRung(l.tensor, want)],
    };
  });
}

/**
 * The best upgrade across layers: the one that removes the most predicted damage per byte it
 * adds. Any higher rung counts, not only the next, so a rung that buys little is jumped over.
 */
function bestUpgrade(
  ladders: LayerLadder[],
  at: number[],
  fits: (extraBytes: number) => boolean,
): { layer: number; rung: number } | undefined {
  let best: { layer: number; rung: number; gain: number } | undefined;
  ladders.forEach((l, i) => {
    const cur = l.rungs[at[i]];
    for (let j = at[i] + 1; j < l.rungs.length; j++) {
      const r = l.rungs[j];
      const extra = r.bytes - cur.bytes;
      const saved = cur.damage - r.damage;
      if (saved <= 0 || !fits(extra)) continue;
      const gain = saved / Math.max(extra, 1);
      if (!best || gain > best.gain) best = { layer: i, rung: j, gain };
    }
  });
  return best;
}

export function predictedDamage(ladders: LayerLadder[], at: number[]): number {
  return ladders.reduce((s, l, i) => s + l.rungs[at[i]].damage, 0);
}

/**
 * Raises layers, best damage-per-byte first, until the predicted damage (the per-layer damages
 * summed: small output errors add up roughly independently) is at most `allowed`. Starts from
 * `at` (the caller's current rungs) and returns the new rungs; at least one layer moves if any can.
 */
export function raiseForTarget(ladders: LayerLadder[], at: number[], allowed: number): number[] {
  const next = [...at];
  let moved = false;
  while (!moved || predictedDamage(ladders, next) > allowed) {
    const up = bestUpgrade(ladders, next, () => true) ?? forcedUpgrade(ladders, next);
    if (!up) break;
    next[up.layer] = up.rung;
    moved = true;
  }
  return next;
}

/** When every remaining upgrade is predicted to save nothing, the measurement disagrees: raise the cheapest layer still compressed. */
function forcedUpgrade(
  ladders: LayerLadder[],
  at: number[],
): { layer: number; rung: number } | undefined {
  let best: { layer: number; rung: number; extra: number } | undefined;
  ladders.forEach((l, i) => {
    if (at[i] + 1 >= l.rungs.length) return;
    const extra = l.rungs[at[i] + 1].bytes - l.rungs[at[i]].bytes;
    if (!best || extra < best.extra) best = { layer: i, rung: at[i] + 1, extra };
  });
  return best;
}

/** Raises layers, best damage-per-byte first, while the total stays within `budgetExtra` bytes above the all-compressed size. */
export function raiseWithinBudget(ladders: LayerLadder[], budgetExtra: number): number[] {
  const at = ladders.map(() => 0);
  let used = 0;
  for (;;) {
    const up = bestUpgrade(ladders, at, (extra) => used + extra <= budgetExtra);
    if (!up) return at;
    used += ladders[up.layer].rungs[up.rung].bytes - ladders[up.layer].rungs[at[up.layer]].bytes;
    at[up.layer] = up.rung;
  }
}

/** What a fidelity-driven run decided and measured: goes into the report card. */
export interface FidelityResult {
  goal: { targetCosine?: number; sizeBudget?: number };
  /** Fidelity on the inputs the choices were tuned on. */
  calibration: Fidelity & { measuredOn: string };
  /** Fidelity on inputs the search never saw (absent when none were available). */
  heldOut?: Fidelity & { measuredOn: string };
  /** Per-tensor choice for every compressible tensor: the override, or the method's storage (e.g. 'cluster'; the variant suffix when it only prunes). */
  choices: { tensor: string; choice: string }[];
  /** Tensors the user fixed (the spec's overrides): the search kept their choice. */
  pinned?: string[];
  /** Full model runs the search took (sensitivity scan plus checks). */
  runs: number;
  /** Whether the goal was reached on the calibration inputs. */
  met: boolean;
  warnings: string[];
}
