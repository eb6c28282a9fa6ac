import type { Layer, Model, TensorRef } from '../model';
import type { WeightLayout } from './types';

/** float32, float16, float64, bfloat16: the types weights are stored in before compression. */
const FLOAT_WEIGHT_TYPES = [1, 10, 11, 16];

/** Elements below which compressing a tensor cannot pay off: scales and node overhead eat the gain. */
export const MIN_COMPRESSIBLE_ELEMENTS = 256;

export interface WeightCandidate {
  index: number;
  tensor: TensorRef;
  /** The first consumer that gives it a layout (op and node name), for the report. */
  op: string;
  layer: string;
  layout: WeightLayout;
}

export interface SkippedTensor {
  index: number;
  name: string;
  reason: string;
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

/**
 * Weights a quantizer may touch: float tensors feeding the weight input of Conv, ConvTranspose,
 * Gemm, MatMul, LSTM/GRU/RNN or Gather, declared where a writer can replace them. Everything
 * else float and consumed is reported as skipped with the reason.
 */
export function findWeights(model: Model): { weights: WeightCandidate[]; skipped: SkippedTensor[] } {
  const layouts = new Map<number, { layout: WeightLayout; op: string; layer: string }[]>();
  for (const layer of model.layers) {
    layer.tensors.forEach((index, i) => {
      const t = model.tensors[index];
      const layout = layer.slots[i] >= 0 ? layoutFor(layer, layer.slots[i], t.dims) : null;
      if (!layouts.has(index)) layouts.set(index, []);
      if (layout) layouts.get(index)!.push({ layout, op: layer.op, layer: layer.name });
    });
  }
  const weights: WeightCandidate[] = [];
  const skipped: SkippedTensor[] = [];
  for (const [index, uses] of layouts) {
    const t = model.tensors[index];
    const skip = (reason: string) => skipped.push({ index, name: t.name, reason });
    if (!FLOAT_WEIGHT_TYPES.includes(t.dtype)) continue;
    if (!uses.length) continue;
    const first = uses[0];
    if (uses.some((u) => u.layout.outputAxis !== first.layout.outputAxis || u.layout.inputAxis !== first.layout.inputAxis)) {
      skip('consumers disagree on its output-channel axis');
    } else if (t.scope.startsWith('function ')) skip('inside a model-local function (no initializers there)');
    else if (t.origin !== 'initializer' && t.origin !== 'Constant') skip(`declared as ${t.origin}`);
    else if (t.storage.kind === 'none') skip(t.storage.reason ?? 'no data');
    else if (t.count < MIN_COMPRESSIBLE_ELEMENTS) skip(`too small to pay off (${t.count} elements)`);
    else weights.push({ index, tensor: t, op: first.op, layer: first.layer, layout: first.layout });
  }
  weights.sort((a, b) => a.index - b.index);
  skipped.sort((a, b) => a.index - b.index);
  return { weights, skipped };
}

/**
 * Float tensors for half-precision storage: every float initializer or Constant a node consumes
 * (biases and norms too; fp16 keeps them close enough), above the size where it pays off. Those
 * already 16-bit are returned too, for the caller to report as skipped.
 */
export function findFloatTensors(model: Model): { weights: WeightCandidate[]; skipped: SkippedTensor[] } {
  const consumed = new Map<number, Layer>();
  for (const layer of model.layers) for (const i of layer.tensors) if (!consumed.has(i)) consumed.set(i, layer);
  const weights: WeightCandidate[] = [];
  const skipped: SkippedTensor[] = [];
  for (const [index, layer] of consumed) {
    const t = model.tensors[index];
    if (!FLOAT_WEIGHT_TYPES.includes(t.dtype)) continue;
    const skip = (reason: string) => skipped.push({ index, name: t.name, reason });
    if (t.scope.startsWith('function ')) skip('inside a model-local function (no initializers there)');
    else if (t.origin !== 'initializer' && t.origin !== 'Constant') skip(`declared as ${t.origin}`);
    else if (t.storage.kind === 'none') skip(t.storage.reason ?? 'no data');
    else if (t.count < 16) skip(`too small to pay off (${t.count} elements)`);
    else weights.push({ index, tensor: t, op: layer.op, layer: layer.name, layout: { dims: t.dims, outputAxis: 0, inputAxis: Math.max(0, t.dims.length - 1) } });
  }
  weights.sort((a, b) => a.index - b.index);
  skipped.sort((a, b) => a.index - b.index);
  return { weights, skipped };
}
