/** The layer table's rows: building, filtering and sorting. Pure: unit-tested without a DOM. */
import type { Layer } from '../src/core/model';
import type { TensorStats } from '../src/core/stats/types';
import type { TensorView } from '../src/shared/protocol';
import { dtypeInfo } from '../src/core/dtypes';
import { capabilitiesOf } from '../src/core/formats/capabilities';

export const UNUSED_LAYER = '(unused)';

export interface Row {
  /** Index into ModelView.tensors. */
  tensor: number;
  layer: string;
  op: string;
  /** Lower-cased layer name, tensor name and op, for the filter box. */
  search: string;
}

export const COLUMN_IDS = [
  'layer',
  'op',
  'tensor',
  'dtype',
  'shape',
  'count',
  'bytes',
  'min',
  'max',
  'mean',
  'std',
  'zeros',
  'sparsity',
  'hist',
] as const;

export type ColumnId = (typeof COLUMN_IDS)[number];

export interface SortSpec {
  column: ColumnId;
  descending: boolean;
}

/**
 * One row per (layer, tensor) pair in model order, then tensors no layer uses. Weight-only
 * formats have no ops; for a sharded model the second column names each tensor's shard instead.
 */
export function buildRows(layers: readonly Layer[], tensors: readonly TensorView[]): Row[] {
  const rows: Row[] = [];
  const used = new Uint8Array(tensors.length);
  const push = (tensor: number, layer: string, op: string) => {
    const name = tensors[tensor].name;
    rows.push({ tensor, layer, op, search: `${layer}\n${name}\n${op}`.toLowerCase() });
  };
  for (const layer of layers) {
    for (const t of layer.tensors) {
      if (t < 0 || t >= tensors.length) continue;
      used[t] = 1;
      push(t, layer.name, layer.op || (tensors[t].file ?? ''));
    }
  }
  for (let t = 0; t < tensors.length; t++)
    if (!used[t]) push(t, UNUSED_LAYER, tensors[t].file ?? '');
  return rows;
}

/** What the second column holds: operator types for graphs, shard files for sharded weight files. */
export function secondColumnLabel(format: string, tensors: readonly TensorView[]): 'Op' | 'Shard' {
  return capabilitiesOf(format).sharded && tensors.some((t) => t.file !== undefined)
    ? 'Shard'
    : 'Op';
}

/** Indices of rows whose layer, tensor name or op contains `query` (case-insensitive). */
export function filterRows(rows: readonly Row[], query: string): number[] {
  const q = query.trim().toLowerCase();
  const out: number[] = [];
  for (let i = 0; i < rows.length; i++) if (q === '' || rows[i].search.includes(q)) out.push(i);
  return out;
}

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Per row set, each text column's rank order: computed once, so re-sorting 20,000 rows stays cheap. */
const rankCache = new WeakMap<readonly Row[], Map<ColumnId, Float64Array>>();

function textOf(column: ColumnId, tensors: readonly TensorView[]): ((r: Row) => string) | null {
  switch (column) {
    case 'layer':
      return (r) => r.layer;
    case 'op':
      return (r) => r.op;
    case 'tensor':
      return (r) => tensors[r.tensor].name;
    case 'dtype':
      return (r) => tensors[r.tensor].storageType ?? dtypeInfo(tensors[r.tensor].dtype).name;
    default:
      return null;
  }
}

/** Natural-order ranks of a text column; equal texts share a rank, empty text ranks NaN (sorts last). */
function textRanks(column: ColumnId, text: (r: Row) => string, rows: readonly Row[]): Float64Array {
  let byColumn = rankCache.get(rows);
  if (!byColumn) rankCache.set(rows, (byColumn = new Map()));
  const cached = byColumn.get(column);
  if (cached) return cached;
  const values = rows.map(text);
  const idx = values
    .map((_, i) => i)
    .sort((a, b) => collator.compare(values[a], values[b]) || a - b);
  const ranks = new Float64Array(rows.length);
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k];
    const prev = k > 0 ? idx[k - 1] : -1;
    ranks[i] =
      values[i] === ''
        ? NaN
        : prev >= 0 && collator.compare(values[i], values[prev]) === 0
          ? ranks[prev]
          : k;
  }
  byColumn.set(column, ranks);
  return ranks;
}

function statKey(s: TensorStats | undefined, column: ColumnId): number {
  if (!s) return NaN;
  switch (column) {
    case 'min':
      return s.min ?? NaN;
    case 'max':
      return s.max ?? NaN;
    case 'mean':
      return s.mean ?? NaN;
    case 'std':
      return s.std ?? NaN;
    case 'zeros':
      return s.zeros;
    case 'sparsity':
      return s.sparsity;
    case 'hist':
      return s.entropy;
    default:
      return NaN;
  }
}

function keysFor(
  column: ColumnId,
  rows: readonly Row[],
  tensors: readonly TensorView[],
  stats: readonly (TensorStats | undefined)[],
): Float64Array {
  const text = textOf(column, tensors);
  if (text) return textRanks(column, text, rows);
  switch (column) {
    case 'shape':
    case 'count':
      return Float64Array.from(rows, (r) => tensors[r.tensor].count);
    case 'bytes':
      return Float64Array.from(rows, (r) => tensors[r.tensor].bytes);
    default:
      return Float64Array.from(rows, (r) => statKey(stats[r.tensor], column));
  }
}

/**
 * Sorts row indices in place by `spec`. Missing values (stats not computed yet, or none) go last
 * in either direction; ties keep model order so the result is deterministic. Text sorts naturally
 * (layer2 before layer10).
 */
export function sortRows(
  indices: number[],
  rows: readonly Row[],
  tensors: readonly TensorView[],
  stats: readonly (TensorStats | undefined)[],
  spec: SortSpec,
): void {
  const v = keysFor(spec.column, rows, tensors, stats);
  const dir = spec.descending ? -1 : 1;
  indices.sort((a, b) => {
    const x = v[a];
    const y = v[b];
    const xn = Number.isNaN(x);
    const yn = Number.isNaN(y);
    if (xn || yn) return xn && yn ? a - b : xn ? 1 : -1;
    return x === y ? a - b : x < y ? -dir : dir;
  });
}
