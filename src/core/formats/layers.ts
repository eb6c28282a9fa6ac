import type { Layer, Model, ModelMetadata, TensorRef } from '../model';

/** The layer of a tensor in a format without a graph: its dotted prefix (`blk.3.ffn_up.weight` → `blk.3.ffn_up`); a name without a dot is its own layer. */
export function layerName(tensorName: string): string {
  const dot = tensorName.lastIndexOf('.');
  return dot > 0 ? tensorName.slice(0, dot) : tensorName;
}

/** One layer per dotted prefix, in the order the prefixes first appear, or sorted by `order`. */
export function groupLayersByPrefix(
  tensors: readonly TensorRef[],
  order?: (a: string, b: string) => number,
): Layer[] {
  const layers = new Map<string, Layer>();
  tensors.forEach((t, i) => {
    const name = layerName(t.name);
    let layer = layers.get(name);
    if (!layer) {
      layer = { name, op: '', domain: '', scope: '', tensors: [], slots: [] };
      layers.set(name, layer);
    }
    layer.tensors.push(i);
    layer.slots.push(-1);
  });
  const all = [...layers.values()];
  return order ? all.sort((a, b) => order(a.name, b.name)) : all;
}

/** A model of weights only (no graph): its layers grouped by prefix, in the order given or sorted by `order`. */
export function weightsOnlyModel(
  format: string,
  fileBytes: number,
  metadata: ModelMetadata,
  tensors: TensorRef[],
  warnings: string[],
  order?: (a: string, b: string) => number,
): Model {
  return {
    format,
    fileBytes,
    metadata,
    nodeCount: 0,
    opCounts: {},
    inputs: [],
    outputs: [],
    tensors,
    layers: groupLayersByPrefix(tensors, order),
    warnings,
  };
}
