/**
 * Removing channels: given the groups of `analyseChannels` and which channels of each to keep,
 * the new tensors (every slice of every member, consistently), shape constants and node attributes,
 * as a rewrite plan for `writeOnnx`.
 */

import { onnx } from 'onnx-proto';
import { toBfloat16, toFloat16 } from '../../../compress/methods/half';
import { readFloat64 } from '../../../compress/tensors';
import { invalid } from '../../../errors';
import type { RandomAccessSource } from '../../../io/source';
import type { TensorRef } from '../../../model';
import type { SourceOpener } from '../../../stats/decode';
import type { GraphNode } from '../nodes';
import type { NewTensor, RewritePlan, TensorEdit } from '../writer';
import type { ChannelGroup } from './channels';

/** Float dtypes whose weights can be sliced and written back exactly. */
export const SLICEABLE_DTYPES: ReadonlySet<number> = new Set([1, 10, 11, 16]);

/** The channels a group keeps, ascending. */
export interface ChannelCut {
  group: ChannelGroup;
  keep: number[];
}

/** Indices to drop along each axis of each tensor, integers to subtract from shape constants and node attributes. */
export interface Removal {
  slices: Map<string, Map<number, Set<number>>>;
  dims: Map<string, Map<number, number>>;
  groups: Map<number, number>;
  values: Set<string>;
}

export function removalOf(cuts: readonly ChannelCut[]): Removal {
  const r: Removal = { slices: new Map(), dims: new Map(), groups: new Map(), values: new Set() };
  for (const { group, keep } of cuts) {
    const kept = new Set(keep);
    const gone = [...Array(group.size).keys()].filter((c) => !kept.has(c));
    if (!gone.length) continue;
    for (const s of group.slices) {
      let axes = r.slices.get(s.tensor);
      if (!axes) r.slices.set(s.tensor, (axes = new Map()));
      let drop = axes.get(s.axis);
      if (!drop) axes.set(s.axis, (drop = new Set()));
      for (const c of gone) for (let k = 0; k < s.block; k++) drop.add(s.offset + c * s.block + k);
    }
    for (const d of group.dims) {
      let at = r.dims.get(d.tensor);
      if (!at) r.dims.set(d.tensor, (at = new Map()));
      at.set(d.index, (at.get(d.index) ?? 0) + gone.length * d.block);
    }
    for (const g of group.groups)
      r.groups.set(g.node, (r.groups.get(g.node) ?? 0) + gone.length * g.block);
    for (const v of group.values) r.values.add(v);
  }
  return r;
}

/** Row-major gather: the elements of `values` (of shape `dims`) whose index on each axis is not dropped. */
export function sliceValues(
  values: Float64Array,
  dims: readonly number[],
  drop: ReadonlyMap<number, ReadonlySet<number>>,
): { values: Float64Array; dims: number[] } {
  const keep = dims.map((d, axis) => {
    const gone = drop.get(axis);
    return gone ? [...Array(d).keys()].filter((i) => !gone.has(i)) : null;
  });
  const outDims = dims.map((d, axis) => keep[axis]?.length ?? d);
  const count = outDims.reduce((n, d) => n * d, 1);
  const out = new Float64Array(count);
  const strides = dims.map((_, axis) => dims.slice(axis + 1).reduce((n, d) => n * d, 1));
  const rank = dims.length;
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < count; o++) {
    let src = 0;
    for (let a = 0; a < rank; a++) src += (keep[a] ? keep[a]![idx[a]] : idx[a]) * strides[a];
    out[o] = values[src];
    for (let a = rank - 1; a >= 0; a--) {
      if (++idx[a] < outDims[a]) break;
      idx[a] = 0;
    }
  }
  return { values: out, dims: outDims };
}

/** Little-endian bytes of `values` in ONNX float dtype `dtype` (values already representable: they were read from it). */
export function encodeFloats(values: Float64Array, dtype: number): Uint8Array {
  if (dtype === 11) return new Uint8Array(values.buffer.slice(0));
  const f32 = Float32Array.from(values);
  if (dtype === 1) return new Uint8Array(f32.buffer);
  if (dtype === 10) return new Uint8Array(toFloat16(f32).bits.buffer);
  if (dtype === 16) return new Uint8Array(toBfloat16(f32).bits.buffer);
  invalid(`cannot slice tensors of ONNX dtype ${dtype}`);
}

function int64Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer);
}

/**
 * The rewrite plan for a removal: every sliced tensor, shape constant and changed node, and the
 * value_info entries the removal made stale.
 */
export function removalPlan(
  removal: Removal,
  nodes: readonly GraphNode[],
  constants: ReadonlyMap<string, TensorRef>,
  source: RandomAccessSource,
  openFile: SourceOpener,
  nodeBytes: (node: GraphNode) => Uint8Array,
): RewritePlan {
  const edits: TensorEdit[] = [];
  const replace = (ref: TensorRef, t: NewTensor) =>
    edits.push({ tensor: ref, initializers: [t], nodes: [] });
  for (const [name, drop] of removal.slices) {
    const ref = constants.get(name)!;
    if (!SLICEABLE_DTYPES.has(ref.dtype))
      invalid(`'${name}' holds ONNX dtype ${ref.dtype}, which channel removal does not slice`);
    const sliced = sliceValues(readFloat64(source, ref, openFile), ref.dims, drop);
    replace(ref, {
      name,
      dtype: ref.dtype,
      dims: sliced.dims,
      data: encodeFloats(sliced.values, ref.dtype),
    });
  }
  for (const [name, at] of removal.dims) {
    const ref = constants.get(name)!;
    const values = [...ref.values!];
    for (const [i, less] of at) values[i] -= less;
    replace(ref, {
      name,
      dtype: ref.dtype,
      dims: ref.dims,
      data: ref.dtype === 7 ? int64Bytes(values) : new Uint8Array(Int32Array.from(values).buffer),
    });
  }
  const nodeEdits = new Map<number, Uint8Array[]>();
  for (const [index, less] of removal.groups) {
    const node = nodes.find((n) => n.index === index)!;
    const proto = onnx.NodeProto.decode(nodeBytes(node));
    for (const a of proto.attribute) if (a.name === 'group') a.i = Number(a.i) - less;
    nodeEdits.set(node.span[0], [onnx.NodeProto.encode(proto).finish()]);
  }
  return { edits, nodes: nodeEdits, dropValueInfo: removal.values };
}
