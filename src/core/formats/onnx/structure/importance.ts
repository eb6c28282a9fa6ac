/** Which channels of a group to keep: ranked by the norm of the filters that produce them. */

import type { ChannelGroup } from './channels';
import type { ChannelCut } from './remove';

/** Sum of squares of `values` (shape `dims`) for each index along `axis`. */
export function squaresAlong(values: Float64Array, dims: readonly number[], axis: number): Float64Array {
  const n = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, d) => a * d, 1);
  const out = new Float64Array(n);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[Math.floor(i / inner) % n] += v * v;
  }
  return out;
}

/**
 * Each channel's importance: the squared L2 norm of everything that produces it (every tied
 * producer's filters and biases), so a residual group ranks a channel by all the layers writing it.
 */
export function channelImportance(group: ChannelGroup, read: (tensor: string) => { values: Float64Array; dims: readonly number[] }): Float64Array {
  const score = new Float64Array(group.size);
  for (const s of group.slices) {
    if (s.role !== 'filters' && s.role !== 'bias') continue;
    const t = read(s.tensor);
    const sq = squaresAlong(t.values, t.dims, s.axis);
    for (let c = 0; c < group.size; c++) for (let k = 0; k < s.block; k++) score[c] += sq[s.offset + c * s.block + k];
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

/** Per-layer cuts: every prunable group loses `amount` of its channels, the least important first. */
export function chooseCuts(groups: readonly ChannelGroup[], amount: number, read: Parameters<typeof channelImportance>[1]): ChannelCut[] {
  return groups.filter((g) => !g.unsafe && g.size > 1).map((group) => ({ group, keep: keepTop(channelImportance(group, read), keptCount(group.size, amount)) }));
}
