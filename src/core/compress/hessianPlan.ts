/**
 * Which activations the Hessian criterion needs: for every prunable weight, the inputs of the
 * MatMul/Gemm/Conv nodes that read it (their H = XᵀX), or why it falls back to magnitude.
 */

import type { GraphNode } from '../formats/onnx/nodes';
import type { Model } from '../model';
import type { ConvAttributes } from './methods/obs';
import type { WeightLayout } from './types';
import { findWeights } from './weights';

/** The ops whose weights get a Hessian: their outputs are linear in the weight given the input. */
export const HESSIAN_OPS: ReadonlySet<string> = new Set(['MatMul', 'Gemm', 'Conv']);

/**
 * Inputs per row above which only the diagonal of H is kept: a full n×n Float64 matrix and its
 * O(n³) factorisation (2 · 128 MiB and ~20 s in JavaScript at 4096) stop paying off past this.
 */
export const MAX_FULL_HESSIAN_INPUTS = 4096;

/** Bytes all full Hessians together may hold; the largest weights beyond it use the diagonal. */
export const MAX_HESSIAN_BYTES = 2 ** 31;

/** One node's reading of the weight: where its activation rows come from. */
export interface Tap {
  /** The graph value feeding the node's data input. */
  activation: string;
  node: string;
  /** MatMul/Gemm: the activation's feature axis; negative counts from the end (MatMul's X·W: -1, W·X: -2). */
  axis?: number;
  conv?: ConvAttributes;
}

export interface WeightPlan {
  index: number;
  name: string;
  dtype: number;
  layout: WeightLayout;
  /** Inputs per output row. */
  n: number;
  /** Hessians: Conv groups, else 1. */
  groups: number;
  taps: Tap[];
  /** Only the diagonal of H is kept (too many inputs, or over the memory budget). */
  diagonal: boolean;
  /** Set when the weight is pruned by magnitude instead: why. */
  fallback?: string;
  note?: string;
}

function tapFor(node: GraphNode, slot: number, dims: number[]): Tap | string {
  const label = `${node.op} '${node.name || node.outputs[0] || '?'}'`;
  if (node.op === 'Conv') {
    if (slot !== 1 || dims.length < 3) return `${label} reads it as its data input`;
    return { activation: node.inputs[0], node: node.name, conv: convAttributes(node) };
  }
  if (dims.length !== 2)
    return `${label} reads it with rank ${dims.length} (only 2-D MatMul/Gemm weights get a Hessian)`;
  if (node.op === 'MatMul')
    return slot === 1
      ? { activation: node.inputs[0], node: node.name, axis: -1 }
      : { activation: node.inputs[1], node: node.name, axis: -2 };
  if (slot === 1)
    return { activation: node.inputs[0], node: node.name, axis: node.ints.transA ? 0 : 1 };
  return { activation: node.inputs[1], node: node.name, axis: node.ints.transB ? 1 : 0 };
}

/** A plan per prunable weight (keyed by tensor index); `nodes` are the main graph's HESSIAN_OPS nodes. */
export function planHessian(model: Model, nodes: readonly GraphNode[]): Map<number, WeightPlan> {
  const plans = new Map<number, WeightPlan>();
  const constants = new Set(model.tensors.filter((t) => t.scope === '').map((t) => t.name));
  const full: WeightPlan[] = [];
  for (const c of findWeights(model).weights) {
    const t = c.tensor;
    const dims = t.dims;
    const conv = dims.length >= 3;
    const n = conv ? t.count / dims[0] : dims[c.layout.inputAxis];
    const plan: WeightPlan = {
      index: c.index,
      name: t.name,
      dtype: t.dtype,
      layout: c.layout,
      n,
      groups: 1,
      taps: [],
      diagonal: false,
    };
    plans.set(c.index, plan);
    const other = model.layers.find(
      (l) =>
        l.tensors.includes(c.index) &&
        (l.scope !== '' || !HESSIAN_OPS.has(l.op) || (l.domain !== '' && l.domain !== 'ai.onnx')),
    );
    if (t.scope !== '') plan.fallback = 'declared inside a subgraph';
    // A weight reached through pass-through ops (Slice, Transpose, …) is read by the first of them, not by its compute op.
    else if (other)
      plan.fallback = `read by ${other.op} '${other.name}'${model.layers.some((l) => l.name === c.layer && l.tensors.includes(c.index)) ? ' too' : ''}, which has no Hessian`;
    else if (t.dtype === 16)
      plan.fallback = 'bfloat16 activations cannot be read back from onnxruntime-web';
    if (plan.fallback) continue;
    const groups = new Set<number>();
    for (const node of nodes) {
      node.inputs.forEach((name, slot) => {
        if (name !== t.name || plan.fallback) return;
        const tap = tapFor(node, slot, dims);
        if (typeof tap === 'string') plan.fallback = tap;
        else if (constants.has(tap.activation))
          plan.fallback = `its ${node.op} input '${tap.activation}' is a constant`;
        else {
          plan.taps.push(tap);
          groups.add(tap.conv?.group ?? 1);
        }
      });
    }
    if (!plan.fallback && !plan.taps.length)
      plan.fallback = 'no MatMul, Gemm or Conv of the main graph reads it';
    if (!plan.fallback && groups.size > 1)
      plan.fallback = `its Conv readers disagree on the group count (${[...groups].join(', ')})`;
    if (plan.fallback) {
      plan.taps = [];
      continue;
    }
    plan.groups = [...groups][0];
    if (plan.groups < 1 || dims[0] % plan.groups !== 0)
      plan.fallback = `group ${plan.groups} does not divide its ${dims[0]} output channels`;
    else if (n > MAX_FULL_HESSIAN_INPUTS) {
      plan.diagonal = true;
      plan.note = `${n} inputs per row: diagonal Hessian approximation (w²·Hᵢᵢ), no compensation`;
    } else full.push(plan);
  }
  // Budget: the smallest Hessians stay full, so the most weights get the exact treatment.
  full.sort((a, b) => a.groups * a.n * a.n - b.groups * b.n * b.n);
  let bytes = 0;
  for (const p of full) {
    bytes += p.groups * p.n * p.n * 8;
    if (bytes > MAX_HESSIAN_BYTES) {
      p.diagonal = true;
      p.note = `all full Hessians together would pass ${MAX_HESSIAN_BYTES / 2 ** 30} GiB: diagonal approximation, no compensation`;
    }
  }
  return plans;
}

/** One weight in the Hessian-vs-magnitude comparison of the report. */
export interface HessianTensorComparison {
  name: string;
  layer: string;
  /** What ranked it: the full H, its diagonal, or magnitude (a fallback; `note` says why). */
  hessian: 'full' | 'diagonal' | 'magnitude';
  /** ‖XΔW‖ / ‖XW‖ on the calibration rows (X: the layer's inputs), Hessian-pruned and magnitude-pruned at the same sparsity. */
  outputError?: number;
  magnitudeOutputError?: number;
  note?: string;
}

/** One model output, Hessian-pruned and magnitude-pruned variants each against the original. */
export interface HessianOutputComparison {
  name: string;
  cosine: number;
  relL2: number;
  magnitudeCosine: number;
  magnitudeRelL2: number;
}

/** The report card's comparison of Hessian pruning with magnitude pruning at the same sparsity. */
export interface HessianComparison {
  sparsity: number;
  compensate: boolean;
  /** Calibration runs, and the activation rows they gave the largest Hessian. */
  samples: number;
  inputs: 'random' | 'files';
  /** What the model outputs below were measured on, in one line (core/verify/report.ts measuredOn). */
  measuredOn: string;
  tensors: HessianTensorComparison[];
  /** Model outputs on inputs the calibration did not see ('held-out'), or on the calibration inputs when every input comes from files. */
  evaluation: 'held-out' | 'calibration';
  outputs: HessianOutputComparison[];
  elapsedMs: number;
}

/** A Conv node's geometry attributes, as im2col (convGeometry) takes them. */
export function convAttributes(node: GraphNode): ConvAttributes {
  return {
    group: node.ints.group,
    kernel_shape: node.lists.kernel_shape,
    strides: node.lists.strides,
    dilations: node.lists.dilations,
    pads: node.lists.pads,
    auto_pad: node.strings.auto_pad,
  };
}
