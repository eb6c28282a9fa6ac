/** Whole-model numbers for the header. Pure: unit-tested without a DOM. */
import type { TensorStats } from '../src/core/stats/types';
import type { TensorView } from '../src/shared/protocol';
import { dtypeInfo } from '../src/core/dtypes';

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
  const bytesByDtype = [...byDtype.values()].sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name));
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
