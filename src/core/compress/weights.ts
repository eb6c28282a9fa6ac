import type { Layer, Model, TensorRef } from '../model';
import type { WeightLayout } from './types';

/** float32, float16, float64, bfloat16: the types weights are stored in before compression. */
const FLOAT_WEIGHT_TYPES = [1, 10, 11, 16];

/** Elements below which compressing a tensor cannot pay off: scales and node overhead eat the gain. */
export const MIN_COMPRESSIBLE_ELEMENTS = 256;

/** Elements below which half precision is not worth a Cast node. */
const MIN_HALF_ELEMENTS = 16;

export interface WeightCandidate {
  index: number;
  tensor: TensorRef;
  /** The first consumer that gives it a layout (op and node name), for the report. */
  op: string;
  layer: string;
  layout: WeightLayout;
  /** Included by name or op type though no compute op lays it out: one scale for the whole tensor. */
  placeholder?: boolean;
}

export interface SkippedTensor {
  index: number;
  name: string;
  reason: string;
  /** Left alone by the default scope rather than by an obstacle: `include` would convert it. */
  left?: boolean;
}

/** The input slots of each op that hold weights, and the layout each implies. */
function layoutFor(layer: Layer, slot: number, dims: number[]): WeightLayout | null {
  const rank = dims.length;
  const domain = layer.domain === '' || layer.domain === 'ai.onnx';
  if (!domain) return null;
  switch (layer.op) {
    case 'Conv':
      return slot === 1 && rank >= 3 ? { dims, outputAxis: 0, inputAxis: 1 } : null;
    case 'ConvTranspose':
      return slot === 1 && rank >= 3 ? { dims, outputAxis: 1, inputAxis: 0 } : null;
    case 'Gemm': {
      if (rank !== 2) return null;
      if (slot === 1) return layer.attributes?.transB ? { dims, outputAxis: 0, inputAxis: 1 } : { dims, outputAxis: 1, inputAxis: 0 };
      if (slot === 0) return layer.attributes?.transA ? { dims, outputAxis: 1, inputAxis: 0 } : { dims, outputAxis: 0, inputAxis: 1 };
      return null;
    }
    case 'MatMul':
      if (rank < 2) return null;
      if (slot === 1) return { dims, outputAxis: rank - 1, inputAxis: rank - 2 };
      if (slot === 0) return { dims, outputAxis: rank - 2, inputAxis: rank - 1 };
      return null;
    case 'LSTM':
    case 'GRU':
    case 'RNN':
      return (slot === 1 || slot === 2) && rank === 3 ? { dims, outputAxis: 1, inputAxis: 2 } : null;
    case 'Gather':
      return slot === 0 && rank === 2 ? { dims, outputAxis: 0, inputAxis: 1 } : null;
    default:
      return null;
  }
}

/** Normalisation ops: their statistics (scale, bias, mean, variance) move every output they feed. */
const NORMALISATION_OPS = new Set(['BatchNormalization', 'InstanceNormalization', 'LayerNormalization', 'GroupNormalization', 'LpNormalization', 'RMSNormalization', 'SimplifiedLayerNormalization', 'SkipLayerNormalization', 'SkipSimplifiedLayerNormalization']);

/** The bias input of a compute op (fp16/bf16 store biases with the weights they go with). */
function isBias(layer: Layer, slot: number): boolean {
  if (layer.domain !== '' && layer.domain !== 'ai.onnx') return false;
  switch (layer.op) {
    case 'Conv':
    case 'ConvTranspose':
    case 'Gemm':
      return slot === 2;
    case 'LSTM':
    case 'GRU':
    case 'RNN':
      return slot === 3;
    default:
      return false;
  }
}

/** Why the default scope leaves a tensor alone, by what consumes it (the report groups by this). */
function leftReason(layer: Layer, slot: number): string {
  if (isBias(layer, slot)) return `biases of ${layer.op}: small, and they shift every output (--include to convert)`;
  if (NORMALISATION_OPS.has(layer.op)) return `${layer.op} statistics: normalisation statistics change every output (--include to convert)`;
  return `constants of ${layer.op}: scales and other constants, not weights of a compute op (--include to convert)`;
}

/**
 * Weights a method may touch (fp16/bf16 with `half`): by default the float tensors feeding the
 * weight input of Conv, ConvTranspose, Gemm, MatMul, LSTM/GRU/RNN or Gather (and, for half
 * precision, their biases), declared where a writer can replace them. `include` widens the scope:
 * 'all', op types or tensor names; a tensor no compute op lays out gets `placeholder`. Float
 * tensors left out are listed with `left` set and the reason grouped by consumer; those in scope
 * that cannot be compressed are listed with the obstacle.
 */
export function selectWeights(model: Model, { half = false, include = [] }: { half?: boolean; include?: readonly string[] } = {}): { weights: WeightCandidate[]; skipped: SkippedTensor[] } {
  const wanted = new Set(include);
  const uses = new Map<number, { layout: WeightLayout | null; op: string; layer: string; inScope: boolean; included: boolean; reason: string }[]>();
  for (const layer of model.layers) {
    layer.tensors.forEach((index, i) => {
      const t = model.tensors[index];
      const slot = layer.slots[i];
      const layout = slot >= 0 ? layoutFor(layer, slot, t.dims) : null;
      const inScope = layout !== null || (half && slot >= 0 && isBias(layer, slot));
      const included = wanted.has('all') || wanted.has(layer.op) || wanted.has(t.name);
      if (!uses.has(index)) uses.set(index, []);
      uses.get(index)!.push({ layout, op: layer.op, layer: layer.name, inScope, included, reason: slot >= 0 ? leftReason(layer, slot) : `attributes of ${layer.op} (--include to convert)` });
    });
  }
  const weights: WeightCandidate[] = [];
  const skipped: SkippedTensor[] = [];
  for (const [index, all] of uses) {
    const t = model.tensors[index];
    if (!FLOAT_WEIGHT_TYPES.includes(t.dtype)) continue;
    const skip = (reason: string, left?: boolean) => skipped.push({ index, name: t.name, reason, ...(left ? { left } : {}) });
    if (!all.some((u) => u.inScope || u.included)) {
      skip(all[0].reason, true);
      continue;
    }
    const laid = all.filter((u) => u.layout);
    const first = laid[0] ?? all.find((u) => u.inScope) ?? all[0];
    // A tensor no compute op lays out (a bias, or one included by name) is taken whole: half precision needs no layout, the others one scale.
    const layout = first.layout ?? { dims: t.dims, outputAxis: 0, inputAxis: Math.max(0, t.dims.length - 1) };
    if (!half && laid.some((u) => u.layout!.outputAxis !== layout.outputAxis || u.layout!.inputAxis !== layout.inputAxis)) {
      skip('consumers disagree on its output-channel axis');
    } else if (t.scope.startsWith('function ')) skip('inside a model-local function (no initializers there)');
    else if (t.origin !== 'initializer' && t.origin !== 'Constant') skip(`declared as ${t.origin}`);
    else if (t.storage.kind === 'none') skip(t.storage.reason ?? 'no data');
    else if (t.count < (half ? MIN_HALF_ELEMENTS : MIN_COMPRESSIBLE_ELEMENTS)) skip(`too small to pay off (${t.count} elements)`);
    else weights.push({ index, tensor: t, op: first.op, layer: first.layer, layout, ...(first.layout ? {} : { placeholder: true }) });
  }
  weights.sort((a, b) => a.index - b.index);
  skipped.sort((a, b) => a.index - b.index);
  return { weights, skipped };
}

/** The default-scope weights with a channel layout (Hessian plans, overrides in half-precision runs). */
export function findWeights(model: Model): { weights: WeightCandidate[]; skipped: SkippedTensor[] } {
  return selectWeights(model);
}
