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
  /** The first consumer that gives it a layout (op and node name), for the report; past any pass-through ops it reaches it by. */
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

type Axes = Pick<WeightLayout, 'outputAxis' | 'inputAxis'>;

const isDefaultDomain = (layer: Layer) => layer.domain === '' || layer.domain === 'ai.onnx';

/** The input slots of each op that hold weights, and the axes each implies for a value of that rank. */
function axesFor(layer: Layer, slot: number, rank: number): Axes | null {
  if (!isDefaultDomain(layer)) return null;
  switch (layer.op) {
    case 'Conv':
      return slot === 1 && rank >= 3 ? { outputAxis: 0, inputAxis: 1 } : null;
    case 'ConvTranspose':
      return slot === 1 && rank >= 3 ? { outputAxis: 1, inputAxis: 0 } : null;
    case 'Gemm': {
      if (rank !== 2) return null;
      if (slot === 1)
        return layer.attributes?.transB
          ? { outputAxis: 0, inputAxis: 1 }
          : { outputAxis: 1, inputAxis: 0 };
      if (slot === 0)
        return layer.attributes?.transA
          ? { outputAxis: 1, inputAxis: 0 }
          : { outputAxis: 0, inputAxis: 1 };
      return null;
    }
    case 'MatMul':
      if (rank < 2) return null;
      if (slot === 1) return { outputAxis: rank - 1, inputAxis: rank - 2 };
      if (slot === 0) return { outputAxis: rank - 2, inputAxis: rank - 1 };
      return null;
    case 'LSTM':
    case 'GRU':
    case 'RNN':
      return (slot === 1 || slot === 2) && rank === 3 ? { outputAxis: 1, inputAxis: 2 } : null;
    case 'Gather':
      return slot === 0 && rank === 2 ? { outputAxis: 0, inputAxis: 1 } : null;
    default:
      return null;
  }
}

/** Normalisation ops: their statistics (scale, bias, mean, variance) move every output they feed. */
const NORMALISATION_OPS = new Set([
  'BatchNormalization',
  'InstanceNormalization',
  'LayerNormalization',
  'GroupNormalization',
  'LpNormalization',
  'RMSNormalization',
  'SimplifiedLayerNormalization',
  'SkipLayerNormalization',
  'SkipSimplifiedLayerNormalization',
]);

/** The bias input of a compute op (fp16/bf16 store biases with the weights they go with). */
function isBias(layer: Layer, slot: number): boolean {
  if (!isDefaultDomain(layer)) return false;
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
  if (isBias(layer, slot))
    return `biases of ${layer.op}: small, and they shift every output (--include to convert)`;
  if (NORMALISATION_OPS.has(layer.op))
    return `${layer.op} statistics: normalisation statistics change every output (--include to convert)`;
  return `constants of ${layer.op}: scales and other constants, not weights of a compute op (--include to convert)`;
}

/**
 * Where a tensor goes on its way to a compute op: an input of a node, and for each axis of the value
 * there, the axis of the tensor it is (-1: one a pass-through op inserted).
 */
interface Reading {
  node: Layer;
  slot: number;
  map: number[];
}

/**
 * Ops a weight is followed through to the op it feeds (PyTorch exports slice an LSTM's gates and
 * Concat them in ONNX's order, then Unsqueeze the direction axis): each keeps every axis of its
 * input whole or drops/inserts one of size 1, so the consumer's axes map back to the tensor's.
 * Reshape does not (it merges and splits axes).
 */
const PASS_THROUGH = new Set(['Identity', 'Slice', 'Concat', 'Unsqueeze', 'Squeeze', 'Transpose']);

/** Nodes a weight is followed through before it is left alone: a graph could fan a value out without end. */
const MAX_FOLLOW_STEPS = 1000;

/** Readers of every value name, and the scopes declaring each (node outputs, initializers; Constants are nodes). */
interface Wiring {
  readers: Map<string, { node: Layer; slot: number }[]>;
  declared: Map<string, string[]>;
}

function wiringOf(model: Model): Wiring {
  const readers = new Map<string, { node: Layer; slot: number }[]>();
  const declared = new Map<string, string[]>();
  const add = <T>(map: Map<string, T[]>, key: string, value: T) => {
    if (!map.has(key)) map.set(key, []);
    map.get(key)!.push(value);
  };
  for (const node of [...model.layers, ...(model.otherNodes ?? [])]) {
    node.inputs?.forEach((name, slot) => name && add(readers, name, { node, slot }));
    for (const name of node.outputs ?? []) if (name) add(declared, name, node.scope);
  }
  for (const t of model.tensors)
    if (t.origin === 'initializer' || t.origin === 'sparse_initializer')
      add(declared, t.name, t.scope);
  return { readers, declared };
}

/** Whether a node in graph `inner` sees the values of graph `outer`: the same graph, or one nested in it. */
function encloses(outer: string, inner: string): boolean {
  return (
    inner === outer ||
    (outer === '' ? !inner.startsWith('function ') : inner.startsWith(`${outer}/`))
  );
}

/**
 * The readers of value `name` declared in graph `scope`: nodes of that graph or of graphs nested in it,
 * unless a graph closer to the reader declares the name again (a sibling branch's value of the same name
 * is another value).
 */
function readersOf(wiring: Wiring, name: string, scope: string): { node: Layer; slot: number }[] {
  const others = (wiring.declared.get(name) ?? []).filter((s) => s !== scope && encloses(scope, s));
  return (wiring.readers.get(name) ?? []).filter(
    ({ node }) => encloses(scope, node.scope) && !others.some((s) => encloses(s, node.scope)),
  );
}

/** Unsqueeze/Squeeze axes: the attribute (opset < 13) or the constant second input (opset 13 on). */
function axesInput(model: Model, node: Layer): number[] | undefined {
  if (node.lists?.axes) return node.lists.axes;
  const i = node.slots.indexOf(1);
  return i >= 0 ? model.tensors[node.tensors[i]].values : undefined;
}

/** The axis map after a pass-through op the value enters at `slot`, or null where the op is not followed there. */
function passOn(model: Model, node: Layer, slot: number, map: number[]): number[] | null {
  switch (node.op) {
    case 'Identity':
    case 'Slice':
      return slot === 0 ? map : null;
    case 'Concat':
      return map;
    case 'Transpose': {
      const perm = node.lists?.perm ?? map.map((_, k) => map.length - 1 - k);
      const valid =
        perm.length === map.length &&
        new Set(perm).size === perm.length &&
        perm.every((p) => p >= 0 && p < map.length);
      return slot === 0 && valid ? perm.map((p) => map[p]) : null;
    }
    case 'Unsqueeze':
    case 'Squeeze': {
      // No axes (Squeeze of every size-1 axis) would need shapes this does not track.
      const axes = axesInput(model, node);
      if (slot !== 0 || !axes?.length) return null;
      const rank = node.op === 'Unsqueeze' ? map.length + axes.length : map.length;
      const at = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
      if (at.size !== axes.length || [...at].some((a) => a < 0 || a >= rank)) return null;
      if (node.op === 'Squeeze') return map.filter((_, k) => !at.has(k));
      let next = 0;
      return Array.from({ length: rank }, (_, k) => (at.has(k) ? -1 : map[next++]));
    }
    default:
      return null;
  }
}

/**
 * Where a float tensor read by a pass-through op ends up: the inputs of compute ops it reaches, each
 * with its axis map. Null when any path meets another op, an input it cannot follow, a value that
 * leaves its graph, or a compute op's input whose output or input axis the path inserted.
 */
function follow(model: Model, wiring: Wiring, start: Reading): Reading[] | null {
  const ends: Reading[] = [];
  const seen = new Map<Layer, Set<string>>();
  const stack = [start];
  for (let steps = 0; stack.length; steps++) {
    if (steps > MAX_FOLLOW_STEPS) return null;
    const at = stack.pop()!;
    const key = `${at.slot}:${at.map.join(',')}`;
    if (seen.get(at.node)?.has(key)) continue;
    seen.set(at.node, (seen.get(at.node) ?? new Set()).add(key));
    if (!isDefaultDomain(at.node) || !PASS_THROUGH.has(at.node.op)) {
      const axes = axesFor(at.node, at.slot, at.map.length);
      if (
        axes ? at.map[axes.outputAxis] < 0 || at.map[axes.inputAxis] < 0 : !isBias(at.node, at.slot)
      )
        return null;
      ends.push(at);
      continue;
    }
    const map = passOn(model, at.node, at.slot, at.map);
    const out = at.node.outputs?.[0];
    // No reader: a graph's output, which goes where this cannot see.
    const next = map && out ? readersOf(wiring, out, at.node.scope) : [];
    if (!next.length) return null;
    for (const r of next) stack.push({ ...r, map: map! });
  }
  return ends;
}

/**
 * Weights a method may touch (fp16/bf16 with `half`): by default the float tensors feeding the
 * weight input of Conv, ConvTranspose, Gemm, MatMul, LSTM/GRU/RNN or Gather (and, for half
 * precision, their biases), directly or through Identity, Slice, Concat, Unsqueeze, Squeeze and
 * Transpose, declared where a writer can replace them. `include` widens the scope:
 * 'all', op types or tensor names; a tensor no compute op lays out gets `placeholder`. Float
 * tensors left out are listed with `left` set and the reason grouped by consumer; those in scope
 * that cannot be compressed are listed with the obstacle.
 */
export function selectWeights(
  model: Model,
  { half = false, include = [] }: { half?: boolean; include?: readonly string[] } = {},
): { weights: WeightCandidate[]; skipped: SkippedTensor[] } {
  const wanted = new Set(include);
  const uses = new Map<
    number,
    {
      layout: WeightLayout | null;
      op: string;
      layer: string;
      inScope: boolean;
      included: boolean;
      reason: string;
    }[]
  >();
  let wiring: Wiring | undefined;
  for (const layer of model.layers) {
    layer.tensors.forEach((index, i) => {
      const t = model.tensors[index];
      const slot = layer.slots[i];
      const included = wanted.has('all') || wanted.has(layer.op) || wanted.has(t.name);
      const direct: Reading = { node: layer, slot, map: t.dims.map((_, k) => k) };
      const through =
        slot >= 0 &&
        isDefaultDomain(layer) &&
        PASS_THROUGH.has(layer.op) &&
        FLOAT_WEIGHT_TYPES.includes(t.dtype);
      const readings = (through && follow(model, (wiring ??= wiringOf(model)), direct)) || [direct];
      if (!uses.has(index)) uses.set(index, []);
      for (const { node, slot, map } of readings) {
        const axes = slot >= 0 ? axesFor(node, slot, map.length) : null;
        const layout = axes && {
          dims: t.dims,
          outputAxis: map[axes.outputAxis],
          inputAxis: map[axes.inputAxis],
        };
        const inScope = layout !== null || (half && slot >= 0 && isBias(node, slot));
        uses.get(index)!.push({
          layout,
          op: node.op,
          layer: node.name,
          inScope,
          included,
          reason:
            slot >= 0 ? leftReason(node, slot) : `attributes of ${node.op} (--include to convert)`,
        });
      }
    });
  }
  const weights: WeightCandidate[] = [];
  const skipped: SkippedTensor[] = [];
  for (const [index, all] of uses) {
    const t = model.tensors[index];
    if (!FLOAT_WEIGHT_TYPES.includes(t.dtype)) continue;
    const skip = (reason: string, left?: boolean) =>
      skipped.push({ index, name: t.name, reason, ...(left ? { left } : {}) });
    if (!all.some((u) => u.inScope || u.included)) {
      skip(all[0].reason, true);
      continue;
    }
    const laid = all.filter((u) => u.layout);
    const first = laid[0] ?? all.find((u) => u.inScope) ?? all[0];
    // A tensor no compute op lays out (a bias, or one included by name) is taken whole: half precision needs no layout, the others one scale.
    const layout = first.layout ?? {
      dims: t.dims,
      outputAxis: 0,
      inputAxis: Math.max(0, t.dims.length - 1),
    };
    if (
      !half &&
      laid.some(
        (u) =>
          u.layout!.outputAxis !== layout.outputAxis || u.layout!.inputAxis !== layout.inputAxis,
      )
    ) {
      skip('consumers disagree on its output-channel axis');
    } else if (t.scope.startsWith('function '))
      skip('inside a model-local function (no initializers there)');
    else if (t.origin !== 'initializer' && t.origin !== 'Constant') skip(`declared as ${t.origin}`);
    else if (t.storage.kind === 'none') skip(t.storage.reason ?? 'no data');
    else if (t.count < (half ? MIN_HALF_ELEMENTS : MIN_COMPRESSIBLE_ELEMENTS))
      skip(`too small to pay off (${t.count} elements)`);
    else
      weights.push({
        index,
        tensor: t,
        op: first.op,
        layer: first.layer,
        layout,
        ...(first.layout ? {} : { placeholder: true }),
      });
  }
  weights.sort((a, b) => a.index - b.index);
  skipped.sort((a, b) => a.index - b.index);
  return { weights, skipped };
}

/** The default-scope weights with a channel layout (Hessian plans, overrides in half-precision runs). */
export function findWeights(model: Model): {
  weights: WeightCandidate[];
  skipped: SkippedTensor[];
} {
  return selectWeights(model);
}
