/**
 * Low-rank factorisation of an ONNX graph's layers: which MatMul/Gemm/Conv weights can be factored,
 * their weight as a K×N matrix (X·W convention), and the two nodes each becomes:
 * MatMul(X, W) → MatMul(MatMul(X, U), V); Gemm(A, B, C) → Gemm(MatMul(A, α·U), V, C);
 * Conv(X, W, B) (group 1, k×k) → Conv₁ₓ₁(Conv_k×k(X, Uᵀ as r filters), Vᵀ, B).
 */

import { onnx } from 'onnx-proto';
import { maxSavingRank } from '../../../compress/methods/svd';
import type { TensorRef } from '../../../model';
import type { GraphNode } from '../nodes';
import type { NewTensor } from '../writer';
import { encodeFloats, SLICEABLE_DTYPES } from './remove';

/** A layer whose weight can be factored: W [K, N] with K inputs per output and N outputs. */
export interface Factorable {
  node: GraphNode;
  weight: TensorRef;
  kind: 'MatMul' | 'Gemm' | 'Conv';
  K: number;
  N: number;
}

/** Layers that stay as they are, with the reason. */
export interface NotFactorable {
  node: string;
  weight: string;
  reason: string;
}

const label = (n: GraphNode) => n.name || n.outputs[0] || '?';

/**
 * The main graph's MatMul (constant 2-D right operand), Gemm (constant 2-D B, transA 0) and Conv
 * (group 1, constant float weight) whose weight no other node, subgraph or graph output reads and
 * whose shape leaves a rank that saves parameters (K·N/(K+N) > 1).
 */
export function findFactorable(
  nodes: readonly GraphNode[],
  constants: ReadonlyMap<string, TensorRef>,
  outputs: readonly string[],
): { layers: Factorable[]; skipped: NotFactorable[] } {
  const readers = new Map<string, number>();
  for (const n of nodes)
    for (const name of [...n.inputs, ...(n.subgraphInputs ?? [])])
      readers.set(name, (readers.get(name) ?? 0) + 1);
  for (const o of outputs) readers.set(o, (readers.get(o) ?? 0) + 1);
  const layers: Factorable[] = [];
  const skipped: NotFactorable[] = [];
  for (const node of nodes) {
    if (node.op !== 'MatMul' && node.op !== 'Gemm' && node.op !== 'Conv') continue;
    const name = node.inputs[1];
    const weight = name ? constants.get(name) : undefined;
    if (!weight) continue;
    const skip = (reason: string) => skipped.push({ node: label(node), weight: name, reason });
    if (!SLICEABLE_DTYPES.has(weight.dtype)) {
      skip(`ONNX dtype ${weight.dtype} is not a float type`);
      continue;
    }
    if ((readers.get(name) ?? 0) > 1) {
      skip('the weight is read by more than one node');
      continue;
    }
    const d = weight.dims;
    let K: number;
    let N: number;
    if (node.op === 'Conv') {
      if ((node.ints.group ?? 1) !== 1) {
        skip(`grouped convolution (group ${node.ints.group})`);
        continue;
      }
      if (d.length < 3) {
        skip(`weight of rank ${d.length}`);
        continue;
      }
      N = d[0];
      K = weight.count / d[0];
    } else {
      if (d.length !== 2) {
        skip(`weight of rank ${d.length}`);
        continue;
      }
      if (node.op === 'Gemm' && node.ints.transA) {
        skip('Gemm with transA');
        continue;
      }
      const transB = node.op === 'Gemm' && Boolean(node.ints.transB);
      [K, N] = transB ? [d[1], d[0]] : [d[0], d[1]];
    }
    if (maxSavingRank(K, N) < 1) {
      skip(`${K}×${N}: no rank saves parameters`);
      continue;
    }
    layers.push({ node, weight, kind: node.op, K, N });
  }
  return { layers, skipped };
}

/** The layer's weight values as W [K, N] row-major (transposing Gemm's transB and Conv's [O, C·k…]). */
export function weightMatrix(layer: Factorable, values: Float64Array): Float64Array {
  const { K, N } = layer;
  const transposed =
    layer.kind === 'Conv' || (layer.kind === 'Gemm' && Boolean(layer.node.ints.transB));
  if (!transposed) return values;
  const out = new Float64Array(K * N);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[k * N + n] = values[n * K + k];
  return out;
}

function transpose(a: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

/** The names the factored layer introduces. */
export function factorNames(layer: Factorable): { u: string; v: string; mid: string } {
  const w = layer.weight.name;
  return { u: `${w}_lowrank_u`, v: `${w}_lowrank_v`, mid: `${layer.node.outputs[0]}_lowrank` };
}

/**
 * The two initializers and two nodes replacing a layer, from U [K, r] and V [r, N] (W ≈ U·V);
 * `nodeBytes` is the original NodeProto's content.
 */
export function factorLayer(
  layer: Factorable,
  u: Float64Array,
  v: Float64Array,
  rank: number,
  nodeBytes: Uint8Array,
): { initializers: NewTensor[]; nodes: Uint8Array[] } {
  const { K, N, weight, node } = layer;
  const names = factorNames(layer);
  const dtype = weight.dtype;
  const proto = onnx.NodeProto.decode(nodeBytes);
  const base = proto.name || node.outputs[0] || weight.name;
  const attr = (name: string) => proto.attribute.find((a) => a.name === name);
  const encode = (n: onnx.INodeProto) => onnx.NodeProto.encode(n).finish();
  // MatMul and Gemm both start with X·U as a plain MatMul.
  const firstProduct = encode({
    name: `${base}_lowrank_u`,
    opType: 'MatMul',
    input: [proto.input[0], names.u],
    output: [names.mid],
  });
  if (layer.kind === 'MatMul') {
    return {
      initializers: [
        { name: names.u, dtype, dims: [K, rank], data: encodeFloats(u, dtype) },
        { name: names.v, dtype, dims: [rank, N], data: encodeFloats(v, dtype) },
      ],
      nodes: [
        firstProduct,
        encode({ ...proto, name: `${base}_lowrank_v`, input: [names.mid, names.v] }),
      ],
    };
  }
  if (layer.kind === 'Gemm') {
    // α moves into U (the first product is a plain MatMul); the Gemm keeps β, C and transB with α = 1.
    const alpha = attr('alpha')?.f ?? 1;
    const scaled = alpha === 1 ? u : Float64Array.from(u, (x) => x * alpha);
    const transB = Boolean(node.ints.transB);
    const attributes = proto.attribute.filter((a) => a.name !== 'alpha');
    return {
      initializers: [
        { name: names.u, dtype, dims: [K, rank], data: encodeFloats(scaled, dtype) },
        transB
          ? {
              name: names.v,
              dtype,
              dims: [N, rank],
              data: encodeFloats(transpose(v, rank, N), dtype),
            }
          : { name: names.v, dtype, dims: [rank, N], data: encodeFloats(v, dtype) },
      ],
      nodes: [
        firstProduct,
        encode({
          ...proto,
          name: `${base}_lowrank_v`,
          input: [names.mid, names.v, ...proto.input.slice(2)],
          attribute: attributes,
        }),
      ],
    };
  }
  // Conv: r filters of the original kernel (Uᵀ [r, K] as [r, C, k…]), then a 1×…×1 Conv (Vᵀ [N, r]) with the bias.
  const spatial = weight.dims.length - 2;
  const first = proto.attribute.filter((a) => a.name !== 'group');
  const second = proto.attribute.filter(
    (a) =>
      a.name !== 'kernel_shape' &&
      a.name !== 'pads' &&
      a.name !== 'strides' &&
      a.name !== 'dilations' &&
      a.name !== 'auto_pad' &&
      a.name !== 'group',
  );
  if (attr('kernel_shape'))
    second.push(
      onnx.AttributeProto.create({
        name: 'kernel_shape',
        type: onnx.AttributeProto.AttributeType.INTS,
        ints: Array(spatial).fill(1),
      }),
    );
  return {
    initializers: [
      {
        name: names.u,
        dtype,
        dims: [rank, ...weight.dims.slice(1)],
        data: encodeFloats(transpose(u, K, rank), dtype),
      },
      {
        name: names.v,
        dtype,
        dims: [N, rank, ...Array(spatial).fill(1)],
        data: encodeFloats(transpose(v, rank, N), dtype),
      },
    ],
    nodes: [
      encode({
        ...proto,
        name: `${base}_lowrank_u`,
        input: [proto.input[0], names.u],
        output: [names.mid],
        attribute: first,
      }),
      encode({
        ...proto,
        name: `${base}_lowrank_v`,
        input: [names.mid, names.v, ...proto.input.slice(2)],
        attribute: second,
      }),
    ],
  };
}
