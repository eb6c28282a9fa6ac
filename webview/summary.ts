/** Whole-model numbers for the header. Pure: unit-tested without a DOM. */
import type { TensorStats } from '../src/core/stats/types';
import type { TensorView } from '../src/shared/protocol';
import { dtypeInfo } from '../src/core/dtypes';
import { formatInt, formatNumber } from './format';
import { FENCE_SPANS, ROBUST_QUANTILES, type RobustRange } from './rebin';

export interface DtypeBytes {
  name: string;
  bytes: number;
  tensors: number;
}

export interface StructureSummary {
  /** Elements of floating-point tensors: the weights. */
  parameters: number;
  /** Largest first. */
  bytesByDtype: DtypeBytes[];
  totalBytes: number;
}

export function summarizeTensors(tensors: readonly TensorView[]): StructureSummary {
  let parameters = 0;
  let totalBytes = 0;
  const byDtype = new Map<string, DtypeBytes>();
  for (const t of tensors) {
    const info = dtypeInfo(t.dtype);
    if (info.float) parameters += t.count;
    totalBytes += t.bytes;
    const entry = byDtype.get(info.name) ?? { name: info.name, bytes: 0, tensors: 0 };
    entry.bytes += t.bytes;
    entry.tensors++;
    byDtype.set(info.name, entry);
  }
  const bytesByDtype = [...byDtype.values()].sort(
    (a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name),
  );
  return { parameters, bytesByDtype, totalBytes };
}

export interface SparsitySummary {
  zeros: number;
  count: number;
  /** Float tensors whose statistics have arrived. */
  tensors: number;
  /** zeros / count, or null before any float tensor has statistics. */
  sparsity: number | null;
}

/** Overall sparsity over the float tensors that have statistics so far. */
export function overallSparsity(
  tensors: readonly TensorView[],
  stats: readonly (TensorStats | undefined)[],
): SparsitySummary {
  let zeros = 0;
  let count = 0;
  let n = 0;
  for (let i = 0; i < tensors.length; i++) {
    const s = stats[i];
    if (!s || !dtypeInfo(tensors[i].dtype).float) continue;
    zeros += s.zeros;
    count += s.count;
    n++;
  }
  return { zeros, count, tensors: n, sparsity: count > 0 ? zeros / count : null };
}

/** Op types by count, most frequent first (ties by name). */
export function rankOps(opCounts: Record<string, number>): [string, number][] {
  return Object.entries(opCounts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** What the whole-model chart says about a robust range: a headline, and how the range was found. */
export function describeClip(r: RobustRange, full: boolean): { headline: string; how: string } {
  const beyond = r.below + r.above;
  const pct = (q: number) => `p${Number((q * 100).toPrecision(3))}`;
  const quantiles = `${pct(ROBUST_QUANTILES.low)}–${pct(ROBUST_QUANTILES.high)}`;
  const widened = FENCE_SPANS === 1 ? 'its width' : `${FENCE_SPANS}× its width`;
  const tensors = r.sources.length;
  const counted = [
    beyond ? `${formatInt(beyond)} value${beyond === 1 ? '' : 's'} beyond` : '',
    r.aside
      ? `${formatInt(r.aside)} left out with ${r.sources.filter((o) => o.aside).length === 1 ? 'its tensor' : 'their tensors'}`
      : '',
  ]
    .filter(Boolean)
    .join(', ');
  const range = `${quantiles} ± ${widened}, [${formatNumber(r.lo)}, ${formatNumber(r.hi)})`;
  const where = `in ${formatInt(tensors)} tensor${tensors === 1 ? '' : 's'}`;
  return {
    headline: full
      ? `Full range; the range ${range} would set apart ${counted}, ${where}`
      : `Range ${range}: ${counted}, ${where}`,
    how:
      `${quantiles} of all float weights is ${formatNumber(r.qLow)} … ${formatNumber(r.qHigh)}; widened by ${widened} on each side ` +
      'and moved out to the nearest per-tensor bin edges, so the values beyond are counted exactly (from the per-tensor histograms).' +
      (r.aside
        ? ' A tensor whose histogram bin spans the range and far beyond it cannot be split there: it is left out whole.'
        : ''),
  };
}
