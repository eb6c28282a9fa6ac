/**
 * Pairs the tensors of an original model with those of a variant, for the Compare view. Pure.
 * The compression writer keeps a weight's graph name and stores its new form in derived tensors
 * named `<name>::<part>` (`::q`, `::scale`, ...), so a weight maps to its own name plus those.
 */
import { dtypeInfo } from '../core/dtypes';
import type { Model, TensorRef } from '../core/model';
import type { CompressReport } from '../core/compress/report';
import {
  toWire,
  type CompareRowView,
  type CompareSideView,
  type PairedHistogramView,
  type TensorSideView,
} from '../shared/reportProtocol';

const DERIVED = '::';

type Tensorish = Pick<TensorRef, 'name' | 'dtype' | 'dims' | 'count' | 'bytes' | 'scope'>;
type ModelLike = Pick<Model, 'fileBytes' | 'metadata'> & {
  tensors: Tensorish[];
  layers: Model['layers'];
};

const key = (t: Pick<TensorRef, 'scope' | 'name'>) => `${t.scope}\0${t.name}`;

export function sideView(path: string, model: ModelLike): CompareSideView {
  const sep = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return {
    name: path.slice(sep + 1),
    folder: path.slice(0, Math.max(0, sep)),
    fileBytes: model.fileBytes,
    tensors: model.tensors.length,
    parameters: model.tensors.reduce((a, t) => a + t.count, 0),
    opsets: model.metadata.opsets
      .map((o) => `${o.domain === '' ? 'ai.onnx' : o.domain}:${o.version}`)
      .join(', '),
  };
}

/** The first layer using each tensor: where the table says it lives. */
function usage(model: ModelLike): Map<number, { layer: string; op: string }> {
  const used = new Map<number, { layer: string; op: string }>();
  for (const layer of model.layers)
    for (const i of layer.tensors)
      if (!used.has(i)) used.set(i, { layer: layer.name, op: layer.op });
  return used;
}

const isFloat = (dtype: number) => dtypeInfo(dtype).float;

export interface CompareRows {
  rows: CompareRowView[];
  /** Report mode: each compressed tensor's before/after histograms, by row. */
  histograms: PairedHistogramView[];
}

/**
 * One row per original tensor (in file order), then one per variant tensor that neither keeps an
 * original name nor derives from one. With a report, compressed and skipped tensors carry its
 * method, metrics, reasons and paired histograms.
 */
export function compareRows(
  original: ModelLike,
  variant: ModelLike,
  report?: Pick<CompressReport, 'tensors' | 'skipped'>,
): CompareRows {
  const byKey = new Map<string, number>();
  variant.tensors.forEach((t, i) => {
    if (!byKey.has(key(t))) byKey.set(key(t), i);
  });
  const originalKeys = new Set(original.tensors.map(key));
  const derived = new Map<string, number[]>();
  variant.tensors.forEach((t, i) => {
    const at = t.name.lastIndexOf(DERIVED);
    if (at <= 0 || originalKeys.has(key(t))) return;
    const base = key({ scope: t.scope, name: t.name.slice(0, at) });
    if (!originalKeys.has(base)) return;
    derived.set(base, [...(derived.get(base) ?? []), i]);
  });

  const results = new Map<string, CompressReport['tensors'][number]>();
  for (const r of report?.tensors ?? []) if (!results.has(r.name)) results.set(r.name, r);
  const skipped = new Map<number, string>();
  for (const s of report?.skipped ?? []) skipped.set(s.index, s.reason);

  const used = usage(original);
  const claimed = new Set<number>();
  const rows: CompareRowView[] = [];
  const histograms: PairedHistogramView[] = [];

  original.tensors.forEach((t, index) => {
    const k = key(t);
    const same = byKey.get(k);
    const parts = derived.get(k) ?? [];
    const holders = [...(same === undefined ? [] : [same]), ...parts];
    for (const h of holders) claimed.add(h);
    const where = used.get(index) ?? { layer: '', op: '' };
    const orig: TensorSideView = {
      dtype: t.dtype,
      dims: t.dims,
      bytes: t.bytes,
      storedAs: [t.name],
      statsIndex: isFloat(t.dtype) ? index : null,
    };
    let side: TensorSideView | null = null;
    if (holders.length) {
      // The largest holder is the stored form (codes, indices, half floats); scales and codebooks are small.
      const main = holders.reduce((a, b) =>
        variant.tensors[b].bytes > variant.tensors[a].bytes ? b : a,
      );
      const m = variant.tensors[main];
      const comparable = isFloat(m.dtype) && m.count === t.count ? main : null;
      side = {
        dtype: m.dtype,
        dims: m.dims,
        bytes: holders.reduce((a, h) => a + variant.tensors[h].bytes, 0),
        storedAs: holders.map((h) => variant.tensors[h].name),
        statsIndex: comparable,
      };
    }
    const row: CompareRowView = {
      name: t.name,
      layer: where.layer,
      op: where.op,
      status: 'same',
      original: orig,
      variant: side,
    };
    if (!side) row.status = 'removed';
    else if (parts.length || side.dtype !== t.dtype || side.bytes !== t.bytes)
      row.status = 'changed';
    // Report entries carry names only: the first tensor of that name (file order, main graph first) takes it.
    const result = results.get(t.name);
    if (result && side) {
      results.delete(t.name);
      row.status = 'compressed';
      row.method = result.method;
      row.metrics = {
        mse: toWire(result.mse),
        sqnrDb: toWire(result.sqnrDb),
        maxAbs: toWire(result.maxAbs),
        cosine: toWire(result.cosine),
        sparsity: toWire(result.sparsity),
      };
      if (result.note) row.note = result.note;
      const h = result.histograms;
      histograms.push({
        row: rows.length,
        min: h.min,
        max: h.max,
        original: Uint32Array.from(h.original),
        variant: Uint32Array.from(h.compressed),
      });
    } else if (skipped.has(index)) {
      row.status = 'skipped';
      row.note = skipped.get(index);
    }
    rows.push(row);
  });

  const vUsed = usage(variant);
  variant.tensors.forEach((t, i) => {
    if (claimed.has(i)) return;
    const where = vUsed.get(i) ?? { layer: '', op: '' };
    rows.push({
      name: t.name,
      layer: where.layer,
      op: where.op,
      status: 'added',
      original: null,
      variant: {
        dtype: t.dtype,
        dims: t.dims,
        bytes: t.bytes,
        storedAs: [t.name],
        statsIndex: isFloat(t.dtype) ? i : null,
      },
    });
  });
  return { rows, histograms };
}
