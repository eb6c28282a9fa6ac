import { dtypeInfo } from './dtypes';
import type { Model } from './model';
import type { StatsResult } from './stats/types';

/** The document `model-lens inspect --json` prints and "Export Statistics" writes. */
export interface InspectReport {
  format: string;
  fileBytes: number;
  /** Total elements of all floating-point weight tensors. */
  parameters: number;
  metadata: Model['metadata'];
  nodeCount: number;
  opCounts: Record<string, number>;
  inputs: Model['inputs'];
  outputs: Model['outputs'];
  tensors: TensorReport[];
  layers: { name: string; op: string; scope: string; tensors: string[] }[];
  warnings: string[];
}

export interface TensorReport {
  name: string;
  dtype: string;
  dtypeCode: number;
  shape: number[];
  count: number;
  bytes: number;
  origin: string;
  scope: string;
  /** The shard holding it, for models that span several files. */
  file?: string;
  /** How the file stores it when that differs from `dtype` (e.g. GGUF 'Q4_K', decoded to float32). */
  storageType?: string;
  bitsPerWeight?: number;
  min?: number | null;
  max?: number | null;
  mean?: number | null;
  std?: number | null;
  zeros?: number;
  sparsity?: number;
  nan?: number;
  inf?: number;
  p1?: number | null;
  p50?: number | null;
  p99?: number | null;
  entropy?: number;
  histogram?: { min: number; max: number; counts: number[] };
  error?: string;
}

export function parameterCount(tensors: readonly { dtype: number; count: number }[]): number {
  let total = 0;
  for (const t of tensors) if (dtypeInfo(t.dtype).float) total += t.count;
  return total;
}

export function inspectReport(
  model: Model,
  results: readonly (StatsResult | undefined)[],
): InspectReport {
  const tensors = model.tensors.map((t, i): TensorReport => {
    const base: TensorReport = {
      name: t.name,
      dtype: dtypeInfo(t.dtype).name,
      dtypeCode: t.dtype,
      shape: t.dims,
      count: t.count,
      bytes: t.bytes,
      origin: t.origin,
      scope: t.scope,
      ...(t.file !== undefined ? { file: t.file } : {}),
      ...(t.storageType !== undefined ? { storageType: t.storageType } : {}),
      ...(t.bitsPerWeight !== undefined ? { bitsPerWeight: t.bitsPerWeight } : {}),
    };
    const r = results[i];
    if (!r?.stats) return { ...base, error: r?.error ?? 'statistics not computed' };
    const { histogram, ...s } = r.stats;
    return {
      ...base,
      ...s,
      histogram: { min: histogram.min, max: histogram.max, counts: Array.from(histogram.counts) },
    };
  });
  return {
    format: model.format,
    fileBytes: model.fileBytes,
    parameters: parameterCount(model.tensors),
    metadata: model.metadata,
    nodeCount: model.nodeCount,
    opCounts: model.opCounts,
    inputs: model.inputs,
    outputs: model.outputs,
    tensors,
    layers: model.layers.map((l) => ({
      name: l.name,
      op: l.op,
      scope: l.scope,
      tensors: l.tensors.map((i) => model.tensors[i].name),
    })),
    warnings: model.warnings,
  };
}

const CSV_COLUMNS = [
  'name',
  'dtype',
  'shape',
  'count',
  'bytes',
  'origin',
  'scope',
  'min',
  'max',
  'mean',
  'std',
  'zeros',
  'sparsity',
  'nan',
  'inf',
  'p1',
  'p50',
  'p99',
  'entropy',
  'layers',
  'error',
] as const;

function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One row per tensor with its scalar statistics and the layers that use it. */
export function reportCsv(report: InspectReport): string {
  const usedBy = new Map<string, string[]>();
  for (const l of report.layers)
    for (const t of l.tensors) usedBy.set(t, [...(usedBy.get(t) ?? []), l.name]);
  const lines = [CSV_COLUMNS.join(',')];
  for (const t of report.tensors) {
    const row: Record<string, unknown> = {
      ...t,
      shape: t.shape.join('x'),
      layers: (usedBy.get(t.name) ?? []).join(' '),
    };
    lines.push(CSV_COLUMNS.map((c) => csvCell(row[c])).join(','));
  }
  return lines.join('\n') + '\n';
}
