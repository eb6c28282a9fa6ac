/** Which channels of a group to keep: ranked by the norm of the filters that produce them. */

import type { ChannelGroup, Slice } from './channels';
import type { ChannelCut } from './remove';

/** Sum of squares of `values` (shape `dims`) for each index along `axis`. */
export function squaresAlong(
  values: Float64Array,
  dims: readonly number[],
  axis: number,
): Float64Array {
  const n = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, d) => a * d, 1);
  const out = new Float64Array(n);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[Math.floor(i / inner) % n] += v * v;
  }
  return out;
}

/** How channels are ranked: producer filter norm, BatchNorm scale |γ|, or the energy each channel carries into its consumers on calibration data. */
export type ChannelCriterion = 'l2' | 'bn' | 'activation';
export const CHANNEL_CRITERIA: readonly ChannelCriterion[] = ['l2', 'bn', 'activation'];

export interface ImportanceInputs {
  read: (tensor: string) => { values: Float64Array; dims: readonly number[] };
  /** Mean square of each feature of an activation along its feature axis, over the calibration samples ('activation'). */
  energy?: (activation: string) => Float64Array | undefined;
}

/**
 * Each channel's importance under `criterion`. 'l2': the squared L2 norm of everything producing it
 * (every tied producer's filters and biases), so a residual group ranks a channel by all the layers
 * writing it. 'bn': |γ| of the BatchNorms scaling it (network slimming), l2 where it has none.
 * 'activation': Σ over its consumers of ‖W[:, c]‖² · E[x_c²], the output energy it feeds them (l2
 * where no consumer's input was measured).
 */
export function channelImportance(
  group: ChannelGroup,
  inputs: ImportanceInputs,
  criterion: ChannelCriterion = 'l2',
): Float64Array {
  const score = new Float64Array(group.size);
  const add = (s: Slice, per: (index: number) => number) => {
    for (let c = 0; c < group.size; c++)
      for (let k = 0; k < s.block; k++) score[c] += per(s.offset + c * s.block + k);
  };
  if (criterion === 'bn') {
    for (const s of group.slices.filter((x) => x.role === 'gamma')) {
      const g = inputs.read(s.tensor).values;
      add(s, (i) => Math.abs(g[i]));
    }
  } else if (criterion === 'activation' && inputs.energy) {
    for (const s of group.slices) {
      if (s.role !== 'inputs' || !s.activation) continue;
      const e = inputs.energy(s.activation.name);
      if (!e) continue;
      const t = inputs.read(s.tensor);
      const sq = squaresAlong(t.values, t.dims, s.axis);
      add(s, (i) => sq[i] * e[i]);
    }
  }
  if (score.some((v) => v > 0)) return score;
  for (const s of group.slices) {
    if (s.role !== 'filters' && s.role !== 'bias') continue;
    const t = inputs.read(s.tensor);
    const sq = squaresAlong(t.values, t.dims, s.axis);
    add(s, (i) => sq[i]);
  }
  return score;
}

/** How many channels of `size` stay after removing `amount` of them (at least one). */
export function keptCount(size: number, amount: number): number {
  return Math.max(1, size - Math.round(size * amount));
}

/** The `count` most important channels, ascending; ties keep the earlier channel. */
export function keepTop(score: Float64Array, count: number): number[] {
  const order = [...score.keys()].sort((a, b) => score[b] - score[a] || a - b);
  return order.slice(0, count).sort((a, b) => a - b);
}

/** A group keeps at least this share of its channels under a global ranking, so no layer is emptied. */
export const GLOBAL_MIN_KEEP = 0.1;

/**
 * The cuts: per layer, every prunable group loses `amount` of its channels, the least important
 * first; globally, `amount` of all prunable channels go, ranked across groups by their score over
 * the group's mean score (scores of different layers are on different scales), each group keeping
 * at least GLOBAL_MIN_KEEP of its channels.
 */
export function chooseCuts(
  groups: readonly ChannelGroup[],
  amount: number,
  inputs: ImportanceInputs,
  criterion: ChannelCriterion = 'l2',
  scope: 'layer' | 'global' = 'layer',
): ChannelCut[] {
  const open = groups.filter((g) => !g.unsafe && g.size > 1);
  const scores = open.map((g) => channelImportance(g, inputs, criterion));
  if (scope === 'layer')
    return open.map((group, i) => ({
      group,
      keep: keepTop(scores[i], keptCount(group.size, amount)),
    }));
  const all: { g: number; c: number; v: number }[] = [];
  scores.forEach((s, g) => {
    const mean = s.reduce((a, b) => a + b, 0) / s.length || 1;
    s.forEach((v, c) => all.push({ g, c, v: v / mean }));
  });
  all.sort((a, b) => a.v - b.v || a.g - b.g || a.c - b.c);
  const removed = open.map(() => 0);
  const floor = open.map((g) => Math.max(1, Math.ceil(g.size * GLOBAL_MIN_KEEP)));
  let target = Math.round(all.length * amount);
  const gone = open.map(() => new Set<number>());
  for (const x of all) {
    if (target <= 0) break;
    if (open[x.g].size - removed[x.g] <= floor[x.g]) continue;
    gone[x.g].add(x.c);
    removed[x.g]++;
    target--;
  }
  return open.map((group, g) => ({
    group,
    keep: [...Array(group.size).keys()].filter((c) => !gone[g].has(c)),
  }));
}
