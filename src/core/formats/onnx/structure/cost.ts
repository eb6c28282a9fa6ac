/** What a graph costs to run: parameters and multiply-adds of its compute layers, from activation shapes. */

import type { TensorRef } from '../../../model';
import type { GraphNode } from '../nodes';

export interface LayerCost {
  name: string;
  op: string;
  parameters: number;
  /** Multiply-adds for one run on the shapes measured; undefined where the output shape is not known. */
  macs?: number;
}

export interface GraphCost {
  layers: LayerCost[];
  parameters: number;
  macs: number;
  /** Layers whose output shape was not known (their multiply-adds are not in `macs`). */
  unknown: number;
}

const FLOAT_DTYPES = new Set([1, 10, 11, 16]);
const count = (dims: readonly number[]) => dims.reduce((n, d) => n * d, 1);

/**
 * Parameters are the float constants each Conv/ConvTranspose/Gemm/MatMul reads; multiply-adds are
 * output elements × the products summed into each (Conv: Cin/group · kernel; ConvTranspose: per
 * input element, Cout/group · kernel; Gemm/MatMul: the inner dimension).
 */
export function graphCost(
  nodes: readonly GraphNode[],
  constants: ReadonlyMap<string, TensorRef>,
  shapes: ReadonlyMap<string, readonly number[]>,
): GraphCost {
  const layers: LayerCost[] = [];
  let unknown = 0;
  for (const n of nodes) {
    if (n.op !== 'Conv' && n.op !== 'ConvTranspose' && n.op !== 'Gemm' && n.op !== 'MatMul')
      continue;
    const w = constants.get(n.inputs[1]);
    if (!w || !FLOAT_DTYPES.has(w.dtype)) continue;
    const parameters = n.inputs.slice(1).reduce((p, i) => {
      const t = i ? constants.get(i) : undefined;
      return p + (t && FLOAT_DTYPES.has(t.dtype) ? t.count : 0);
    }, 0);
    const out = shapes.get(n.outputs[0]);
    const input = shapes.get(n.inputs[0]);
    let macs: number | undefined;
    if (n.op === 'Conv' && out) macs = count(out) * count(w.dims.slice(1));
    else if (n.op === 'ConvTranspose' && input) macs = count(input) * count(w.dims.slice(1));
    else if (n.op === 'Gemm' && out)
      macs = count(out) * ((n.ints.transB ?? 0) === 1 ? w.dims[1] : w.dims[0]);
    else if (n.op === 'MatMul' && out)
      macs = count(out) * (w.dims.length > 1 ? w.dims[w.dims.length - 2] : w.dims[0]);
    if (macs === undefined) unknown++;
    layers.push({
      name: n.name || n.outputs[0],
      op: n.op,
      parameters,
      ...(macs !== undefined ? { macs } : {}),
    });
  }
  return {
    layers,
    parameters: layers.reduce((s, l) => s + l.parameters, 0),
    macs: layers.reduce((s, l) => s + (l.macs ?? 0), 0),
    unknown,
  };
}
