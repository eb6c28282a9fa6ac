/**
 * Channel dependency analysis on an ONNX graph (the DepGraph idea of Torch-Pruning, on the file):
 * which output channels of which layers must be removed together, and every tensor slice, attribute
 * and shape constant that removing them touches.
 *
 * Each prunable producer (Conv, ConvTranspose, Gemm, MatMul by a constant) opens a *channel space*.
 * The analysis walks the graph in order, carrying for every activation the spaces laid along its
 * channel axis (a Concat lays several side by side; a Flatten widens each channel to a block of
 * features). Ops that keep channels apart pass the layout on; ops that combine two activations
 * channel by channel (residual Add, squeeze-excitation Mul) tie their spaces into one group; ops
 * that read channels as a whole (graph outputs, Shape, attention MatMul, unknown ops) make a group
 * unprunable, with the reason. Nothing is guessed: what the walk does not understand stays whole.
 */

import type { TensorRef } from '../../../model';
import type { GraphNode } from '../nodes';

/** Channel c of a space covers indices [offset + c·block, offset + (c+1)·block) along `axis` of a tensor. */
export interface Slice {
  tensor: string;
  axis: number;
  offset: number;
  block: number;
  /** What the slice is: a producer's filters or bias, a consumer's inputs, a norm's parameters (gamma: its scale), a per-channel constant. */
  role: 'filters' | 'inputs' | 'bias' | 'norm' | 'gamma' | 'scale';
  /** For a consumer's inputs: the activation it reads and that activation's feature axis (indexed like the weight's `axis`). */
  activation?: { name: string; axis: number };
}

/** An integer in a shape constant that counts channels (a Reshape target's channel dimension). */
export interface DimEdit {
  tensor: string;
  index: number;
  block: number;
}

/** A node attribute that counts channels: a depthwise Conv's `group`. */
export interface GroupEdit {
  node: number;
  block: number;
}

/** Channels that must go together: every producer's filters, every consumer's inputs, every per-channel parameter. */
export interface ChannelGroup {
  id: number;
  size: number;
  /** The layers whose outputs the group's channels are (Conv/Gemm names), in graph order. */
  producers: string[];
  slices: Slice[];
  dims: DimEdit[];
  groups: GroupEdit[];
  /** Activations whose channel axis shrinks (their value_info goes stale). */
  values: string[];
  /** Set when the group must stay whole. */
  unsafe?: string;
}

export interface ChannelAnalysis {
  groups: ChannelGroup[];
}

/** What the analysis needs to know about the graph's values beyond the nodes. */
export interface GraphFacts {
  nodes: GraphNode[];
  /** Main-graph constants (initializers and Constant outputs) by name. */
  constants: Map<string, TensorRef>;
  /** The model's own inputs and outputs. */
  inputs: string[];
  outputs: string[];
  /** Shapes of activations, where known (from one run of the model). */
  shapes: Map<string, readonly number[]>;
}

interface Seg {
  space: number;
  block: number;
}

/** Where an activation's channels are: the axis (counted from the end, so broadcasting aligns) and the spaces along it. */
interface Layout {
  rank: number;
  axis: number;
  segs: Seg[];
}

const UNARY = new Set([
  'Relu',
  'LeakyRelu',
  'Sigmoid',
  'HardSigmoid',
  'HardSwish',
  'Tanh',
  'Elu',
  'Selu',
  'Celu',
  'Softplus',
  'Softsign',
  'Exp',
  'Log',
  'Sqrt',
  'Neg',
  'Abs',
  'Erf',
  'Gelu',
  'Identity',
  'Dropout',
  'Cast',
  'Floor',
  'Ceil',
  'Round',
  'Mish',
  'Sin',
  'Cos',
  'Reciprocal',
  'ThresholdedRelu',
  'Sign',
  'Clip',
]);
/** Elementwise ops over several inputs (a per-channel constant is sliced; two activations tie their spaces). */
const BINARY = new Set(['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Sum', 'Mean', 'PRelu', 'Pow']);
const SPATIAL = new Set([
  'MaxPool',
  'AveragePool',
  'LpPool',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'GlobalLpPool',
  'Resize',
  'Upsample',
  'SpaceToDepth',
]);
const NORMS = new Set(['BatchNormalization', 'InstanceNormalization']);

/** Size of one channel's block for a layout segment list. */
function width(segs: Seg[], sizes: number[]): number {
  return segs.reduce((n, s) => n + sizes[s.space] * s.block, 0);
}

class Spaces {
  readonly parent: number[] = [];
  readonly size: number[] = [];
  readonly unsafe: (string | undefined)[] = [];
  readonly producers: string[][] = [];
  readonly slices: Slice[][] = [];
  readonly dims: DimEdit[][] = [];
  readonly groups: GroupEdit[][] = [];
  readonly values: string[][] = [];

  open(size: number, producer: string): number {
    const id = this.parent.length;
    this.parent.push(id);
    this.size.push(size);
    this.unsafe.push(undefined);
    this.producers.push([producer]);
    this.slices.push([]);
    this.dims.push([]);
    this.groups.push([]);
    this.values.push([]);
    return id;
  }

  find(a: number): number {
    while (this.parent[a] !== a) a = this.parent[a] = this.parent[this.parent[a]];
    return a;
  }

  tie(a: number, b: number, why: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return;
    if (this.size[ra] !== this.size[rb]) {
      this.block(ra, `${why} joins ${this.size[ra]} channels with ${this.size[rb]}`);
      this.block(rb, `${why} joins ${this.size[rb]} channels with ${this.size[ra]}`);
      return;
    }
    const [keep, gone] = ra < rb ? [ra, rb] : [rb, ra];
    this.parent[gone] = keep;
    this.unsafe[keep] ??= this.unsafe[gone];
    for (const key of ['producers', 'slices', 'dims', 'groups', 'values'] as const)
      (this[key][keep] as unknown[]).push(...this[key][gone]);
  }

  block(space: number, why: string): void {
    const r = this.find(space);
    this.unsafe[r] ??= why;
  }
}

/** Normalises a possibly negative axis against `rank`. */
function axisOf(a: number, rank: number): number {
  return a < 0 ? a + rank : a;
}

/** The integer elements of a small constant (axes, pads, shapes), when the reader kept them. */
function ints(facts: GraphFacts, name: string | undefined): number[] | undefined {
  return name ? facts.constants.get(name)?.values : undefined;
}

export function analyseChannels(facts: GraphFacts): ChannelAnalysis {
  const sp = new Spaces();
  const layouts = new Map<string, Layout>();
  const outputs = new Set(facts.outputs);
  const isConst = (name: string) => facts.constants.has(name);
  const shapeOf = (name: string): readonly number[] | undefined =>
    facts.constants.get(name)?.dims ?? facts.shapes.get(name);

  // Names read inside subgraphs (If/Loop/Scan bodies) cannot be followed: whatever they carry stays whole.
  const hidden = new Set(facts.nodes.flatMap((n) => n.subgraphInputs ?? []));
  const blockAll = (l: Layout | undefined, why: string) =>
    l?.segs.forEach((s) => sp.block(s.space, why));
  const setLayout = (name: string | undefined, l: Layout) => {
    if (!name) return;
    layouts.set(name, l);
    for (const s of l.segs) sp.values[sp.find(s.space)].push(name);
    if (outputs.has(name))
      blockAll(l, `it reaches the model's output '${name}', whose shape stays`);
    if (hidden.has(name)) blockAll(l, `a subgraph of the model reads '${name}'`);
  };
  /** Per-segment slices of one tensor along `axis` (offsets follow the segments). */
  const sliceAlong = (
    l: Layout,
    tensor: string,
    axis: number,
    role: Slice['role'],
    activation?: string,
  ) => {
    let offset = 0;
    for (const s of l.segs) {
      sp.slices[sp.find(s.space)].push({
        tensor,
        axis,
        offset,
        block: s.block,
        role,
        ...(activation ? { activation: { name: activation, axis: l.axis } } : {}),
      });
      offset += sp.size[sp.find(s.space)] * s.block;
    }
  };

  for (const node of facts.nodes) {
    const where = `${node.op} '${node.name || node.outputs[0]}'`;
    const ins = node.inputs.map((i) => (i ? layouts.get(i) : undefined));
    const laidIn = ins.findIndex(Boolean);
    const x = ins[0];
    const out0 = node.outputs[0];

    // Producers: a weight from a constant opens a new space for the node's output channels.
    if (node.op === 'Conv' || node.op === 'ConvTranspose') {
      const w = facts.constants.get(node.inputs[1]);
      const b = node.inputs[2];
      const group = node.ints.group ?? 1;
      if (!w || w.dims.length < 3 || ins.slice(1).some(Boolean) || (b && !isConst(b))) {
        ins.forEach((l) => blockAll(l, `${where} has weights that are not constants`));
        continue;
      }
      const transpose = node.op === 'ConvTranspose';
      const cin = transpose ? w.dims[0] : w.dims[1] * group;
      const cout = transpose ? w.dims[1] * group : w.dims[0];
      if (group === 1) {
        if (x) {
          if (x.axis !== 1 || width(x.segs, sp.size) !== cin)
            blockAll(x, `${where} reads channels on another axis`);
          else sliceAlong(x, w.name, transpose ? 0 : 1, 'inputs', node.inputs[0]);
        }
        const s = sp.open(cout, node.name || out0);
        sp.slices[s].push({
          tensor: w.name,
          axis: transpose ? 1 : 0,
          offset: 0,
          block: 1,
          role: 'filters',
        });
        if (b) sp.slices[s].push({ tensor: b, axis: 0, offset: 0, block: 1, role: 'bias' });
        setLayout(out0, {
          rank: x?.rank ?? w.dims.length,
          axis: 1,
          segs: [{ space: s, block: 1 }],
        });
      } else if (
        !transpose &&
        group === cin &&
        cout === cin &&
        w.dims[1] === 1 &&
        x &&
        x.axis === 1
      ) {
        // Depthwise: channel c in is channel c out; its filters and bias shrink with the input's spaces.
        sliceAlong(x, w.name, 0, 'filters');
        if (b) sliceAlong(x, b, 0, 'bias');
        for (const s of x.segs)
          sp.groups[sp.find(s.space)].push({ node: node.index, block: s.block });
        setLayout(out0, x);
      } else blockAll(x, `${where} is a grouped convolution (group ${group})`);
      continue;
    }
    if (node.op === 'Gemm' || node.op === 'MatMul') {
      const w = facts.constants.get(node.inputs[1]);
      const transB = node.op === 'Gemm' && (node.ints.transB ?? 0) === 1;
      const rankA = x?.rank ?? shapeOf(node.inputs[0])?.length;
      const okA = node.op === 'MatMul' || (node.ints.transA ?? 0) === 0;
      if (!w || w.dims.length !== 2 || ins[1] || !okA || ins[2] !== undefined) {
        ins.forEach((l) => blockAll(l, `${where} multiplies two activations`));
        continue;
      }
      const [k, n] = transB ? [w.dims[1], w.dims[0]] : w.dims;
      if (x) {
        if (x.axis !== x.rank - 1 || width(x.segs, sp.size) !== k)
          blockAll(x, `${where} reads features on another axis`);
        else sliceAlong(x, w.name, transB ? 1 : 0, 'inputs', node.inputs[0]);
      }
      const s = sp.open(n, node.name || out0);
      sp.slices[s].push({
        tensor: w.name,
        axis: transB ? 0 : 1,
        offset: 0,
        block: 1,
        role: 'filters',
      });
      const c = node.op === 'Gemm' ? node.inputs[2] : undefined;
      if (c) {
        const cd = facts.constants.get(c)?.dims;
        if (!cd) sp.block(s, `${where} adds a bias that is not a constant`);
        else if (cd.length && cd[cd.length - 1] === n && cd.slice(0, -1).every((d) => d === 1))
          sp.slices[s].push({ tensor: c, axis: cd.length - 1, offset: 0, block: 1, role: 'bias' });
        else if (cd.some((d) => d !== 1))
          sp.block(s, `${where} adds a bias of shape [${cd.join(', ')}]`);
      }
      if (rankA === undefined) sp.block(s, `the rank of ${where}'s input is not known`);
      setLayout(out0, { rank: rankA ?? 2, axis: (rankA ?? 2) - 1, segs: [{ space: s, block: 1 }] });
      continue;
    }

    if (laidIn < 0) continue;
    const laid = ins.filter((l): l is Layout => Boolean(l));

    if (UNARY.has(node.op) && laidIn === 0) {
      // Clip's min/max and Pow's exponent must be scalars for the op to act channel by channel.
      const extraOk = node.inputs
        .slice(1)
        .every((i) => !i || (isConst(i) && facts.constants.get(i)!.count === 1));
      if (!extraOk) blockAll(x, `${where} takes per-element parameters`);
      else setLayout(out0, x!);
      continue;
    }
    if (BINARY.has(node.op)) {
      const rank = Math.max(...node.inputs.map((i, j) => ins[j]?.rank ?? shapeOf(i)?.length ?? 0));
      const ref = laid[0];
      const fromEnd = ref.rank - ref.axis;
      let ok = true;
      node.inputs.forEach((name, j) => {
        const l = ins[j];
        if (l) {
          if (
            l.rank - l.axis !== fromEnd ||
            l.segs.length !== ref.segs.length ||
            l.segs.some((s, k) => s.block !== ref.segs[k].block)
          ) {
            ok = false;
            return;
          }
          l.segs.forEach((s, k) => sp.tie(ref.segs[k].space, s.space, where));
          return;
        }
        const dims = shapeOf(name);
        if (!dims) {
          ok = false;
          return;
        }
        const at = dims.length - fromEnd;
        if (at < 0 || dims[at] === 1) return;
        if (!isConst(name)) {
          ok = false;
          return;
        }
        if (dims[at] === width(ref.segs, sp.size))
          sliceAlong(ref, name, at, node.op === 'Add' || node.op === 'Sub' ? 'bias' : 'scale');
        else ok = false;
      });
      if (!ok) {
        blockAll(ref, `${where} combines it with a tensor whose channels do not line up`);
        laid.forEach((l) =>
          blockAll(l, `${where} combines it with a tensor whose channels do not line up`),
        );
        continue;
      }
      setLayout(out0, { rank, axis: rank - fromEnd, segs: ref.segs });
      continue;
    }
    if (NORMS.has(node.op)) {
      if (laidIn !== 0 || x!.axis !== 1) {
        laid.forEach((l) => blockAll(l, `${where} normalises another axis`));
        continue;
      }
      const params = node.inputs.slice(1).filter(Boolean);
      if (!params.every(isConst)) {
        blockAll(x, `${where} has parameters that are not constants`);
        continue;
      }
      params.forEach((p, i) => sliceAlong(x!, p, 0, i === 0 ? 'gamma' : 'norm'));
      setLayout(out0, x!);
      continue;
    }
    if (node.op === 'LayerNormalization') {
      const axis = axisOf(node.ints.axis ?? -1, x?.rank ?? 0);
      if (
        laidIn !== 0 ||
        axis !== x!.rank - 1 ||
        x!.axis !== x!.rank - 1 ||
        !node.inputs.slice(1).filter(Boolean).every(isConst)
      ) {
        laid.forEach((l) => blockAll(l, `${where} normalises over more than its channel axis`));
        continue;
      }
      for (const p of node.inputs.slice(1).filter(Boolean)) sliceAlong(x!, p, 0, 'norm');
      setLayout(out0, x!);
      continue;
    }
    if (SPATIAL.has(node.op)) {
      if (laidIn !== 0 || x!.axis !== 1) {
        laid.forEach((l) => blockAll(l, `${where} works on another axis`));
        continue;
      }
      if (node.op === 'Resize' && node.inputs[3]) {
        // Target sizes name the channel count; scales (1 on the channel axis) do not.
        blockAll(x, `${where} resizes to fixed sizes`);
        continue;
      }
      setLayout(out0, x!);
      continue;
    }
    if (node.op === 'Concat') {
      const axis = axisOf(node.ints.axis ?? 0, laid[0].rank);
      if (laid.length !== node.inputs.length || laid.some((l) => l.axis !== axis)) {
        laid.forEach((l) =>
          blockAll(l, `${where} joins it with tensors whose channels are not tracked`),
        );
        continue;
      }
      setLayout(out0, { rank: laid[0].rank, axis, segs: laid.flatMap((l) => l.segs) });
      continue;
    }
    if (node.op === 'Transpose') {
      const perm = node.lists.perm ?? [...Array(x!.rank).keys()].reverse();
      setLayout(out0, { rank: x!.rank, axis: perm.indexOf(x!.axis), segs: x!.segs });
      continue;
    }
    if (
      node.op === 'Flatten' ||
      node.op === 'Reshape' ||
      node.op === 'Squeeze' ||
      node.op === 'Unsqueeze'
    ) {
      const next = reshaped(node, x!, facts, shapeOf, sp, where);
      if (typeof next === 'string') blockAll(x, next);
      else setLayout(out0, next);
      continue;
    }
    if (node.op === 'Pad') {
      const pads = ints(facts, node.inputs[1]) ?? node.lists.pads;
      const r = x!.rank;
      if (!pads || pads[x!.axis] !== 0 || pads[x!.axis + r] !== 0)
        blockAll(x, `${where} may pad the channel axis`);
      else setLayout(out0, x!);
      continue;
    }
    if (node.op.startsWith('Reduce') && laidIn === 0) {
      const axes = (ints(facts, node.inputs[1]) ?? node.lists.axes)?.map((a) => axisOf(a, x!.rank));
      const keep = (node.ints.keepdims ?? 1) === 1;
      if (!axes || axes.includes(x!.axis)) {
        // A reduction over the channels (a hand-built LayerNorm's mean) reads whatever channels remain.
        if (!keep) blockAll(x, `${where} removes the channel axis`);
        continue;
      }
      const shift = keep ? 0 : axes.filter((a) => a < x!.axis).length;
      setLayout(out0, {
        rank: keep ? x!.rank : x!.rank - axes.length,
        axis: x!.axis - shift,
        segs: x!.segs,
      });
      continue;
    }
    if (node.op === 'Softmax' || node.op === 'LogSoftmax') {
      // Before opset 13 the default axis is 1 and everything from the axis on is normalised together:
      // only an explicit axis past the channels is safe under both meanings.
      const axis = node.ints.axis === undefined ? undefined : axisOf(node.ints.axis, x!.rank);
      if (axis === undefined || axis <= x!.axis) blockAll(x, `${where} normalises across channels`);
      else setLayout(out0, x!);
      continue;
    }
    laid.forEach((l) => blockAll(l, `${where} is not understood by channel removal`));
  }

  // A constant shared by two places (one bias tensor feeding two Adds) may only shrink one way.
  const owner = new Map<string, number>();
  for (let s = 0; s < sp.parent.length; s++) {
    if (sp.find(s) !== s) continue;
    for (const sl of sp.slices[s]) {
      const key = `${sl.tensor}\u0000${sl.axis}\u0000${sl.offset}`;
      const other = owner.get(key);
      if (other !== undefined && other !== s) {
        sp.block(other, `'${sl.tensor}' is shared with another group of channels`);
        sp.block(s, `'${sl.tensor}' is shared with another group of channels`);
      } else owner.set(key, s);
    }
  }

  const groups: ChannelGroup[] = [];
  for (let s = 0; s < sp.parent.length; s++) {
    if (sp.find(s) !== s) continue;
    groups.push({
      id: groups.length,
      size: sp.size[s],
      producers: sp.producers[s],
      slices: sp.slices[s],
      dims: sp.dims[s],
      groups: sp.groups[s],
      values: [...new Set(sp.values[s])],
      unsafe: sp.unsafe[s],
    });
  }
  return { groups };
}

/**
 * The layout after a Flatten, Reshape, Squeeze or Unsqueeze, or why it cannot be followed: only
 * reshapes that keep the channel axis whole are followed (merging the axes after it into blocks,
 * or adding/removing axes of 1 around it), checked against the activations' known shapes.
 */
function reshaped(
  node: GraphNode,
  x: Layout,
  facts: GraphFacts,
  shapeOf: (n: string) => readonly number[] | undefined,
  sp: Spaces,
  where: string,
): Layout | string {
  const inShape = shapeOf(node.inputs[0]);
  const outShape = shapeOf(node.outputs[0]);
  if (!inShape || !outShape) return `the shapes around ${where} are not known`;
  const a = x.axis;
  const before = inShape.slice(0, a);
  const c = inShape[a];
  const after = inShape.slice(a + 1).reduce((n, d) => n * d, 1);
  // Find the output axis holding the channels: the product before it must match and it must hold c·(merged tail).
  let prod = 1;
  let j = 0;
  const want = before.reduce((n, d) => n * d, 1);
  while (j < outShape.length && prod < want) prod *= outShape[j++];
  while (j < outShape.length && outShape[j] === 1 && prod === want && c !== 1) j++;
  if (prod !== want || j >= outShape.length) return `${where} splits the channel axis`;
  const rest = outShape.slice(j + 1).reduce((n, d) => n * d, 1);
  if (outShape[j] === c && rest === after) {
    if (node.op === 'Reshape') {
      const target = ints(facts, node.inputs[1]);
      if (!target) return `${where} takes its shape from another tensor`;
      if (target[j] !== 0 && target[j] !== -1) {
        if (target[j] !== c) return `${where} has a fixed shape that cannot shrink`;
        x.segs.forEach((s) =>
          sp.dims[sp.find(s.space)].push({ tensor: node.inputs[1], index: j, block: s.block }),
        );
      }
    }
    return { rank: outShape.length, axis: j, segs: x.segs };
  }
  if (outShape[j] === c * after && rest === 1 && x.segs.every((s) => s.block * after > 0)) {
    if (node.op === 'Reshape') {
      const target = ints(facts, node.inputs[1]);
      if (!target) return `${where} takes its shape from another tensor`;
      if (target[j] !== -1 && target[j] !== 0) {
        x.segs.forEach((s) =>
          sp.dims[sp.find(s.space)].push({
            tensor: node.inputs[1],
            index: j,
            block: s.block * after,
          }),
        );
      }
    }
    if (node.op === 'Squeeze' || node.op === 'Unsqueeze') return `${where} merges axes`;
    return {
      rank: outShape.length,
      axis: j,
      segs: x.segs.map((s) => ({ space: s.space, block: s.block * after })),
    };
  }
  return `${where} reshapes across the channel axis`;
}
