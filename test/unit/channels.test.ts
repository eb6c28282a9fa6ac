/**
 * Channel dependency analysis on small hand-built graphs: what ties channels together, what is
 * sliced where, and what leaves a group whole. Whole real models (and the exactness of the cut,
 * against an independent zeroing of the removed channels in the teacher) are in
 * test/e2e/channels.test.mjs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyseChannels, type GraphFacts } from '../../src/core/formats/onnx/structure/channels';
import {
  channelImportance,
  chooseCuts,
  keepTop,
  keptCount,
  squaresAlong,
} from '../../src/core/formats/onnx/structure/importance';
import { removalOf, sliceValues } from '../../src/core/formats/onnx/structure/remove';
import type { GraphNode } from '../../src/core/formats/onnx/nodes';
import type { TensorRef } from '../../src/core/model';

let index = 0;
function node(
  op: string,
  inputs: string[],
  outputs: string[],
  ints: Record<string, number> = {},
  lists: Record<string, number[]> = {},
): GraphNode {
  return {
    index: index++,
    span: [0, 0],
    name: outputs[0],
    op,
    inputs,
    outputs,
    ints,
    lists,
    strings: {},
  };
}

function constant(name: string, dims: number[], values?: number[]): TensorRef {
  return {
    name,
    dtype: values ? 7 : 1,
    dims,
    count: dims.reduce((a, b) => a * b, 1),
    bytes: 0,
    origin: 'initializer',
    scope: '',
    storage: { kind: 'none' },
    ...(values ? { values } : {}),
  };
}

function facts(
  nodes: GraphNode[],
  constants: TensorRef[],
  outputs: string[],
  shapes: Record<string, number[]> = {},
): GraphFacts {
  return {
    nodes,
    constants: new Map(constants.map((c) => [c.name, c])),
    inputs: ['x'],
    outputs,
    shapes: new Map(Object.entries(shapes)),
  };
}

/** conv(name): a 3×3 Conv from `cin` to `cout` channels with a bias. */
function conv(name: string, input: string, cin: number, cout: number, group = 1) {
  return {
    node: node('Conv', [input, `${name}.w`, `${name}.b`], [name], { group }),
    tensors: [constant(`${name}.w`, [cout, cin / group, 3, 3]), constant(`${name}.b`, [cout])],
  };
}

describe('channel analysis', () => {
  it('slices a Conv chain: filters and bias of the producer, input channels of the consumer, BatchNorm parameters between', () => {
    const a = conv('a', 'x', 3, 8);
    const b = conv('b', 'a_bn', 8, 4);
    const bn = node('BatchNormalization', ['a', 's', 'o', 'm', 'v'], ['a_bn']);
    const g = analyseChannels(
      facts(
        [a.node, bn, b.node],
        [...a.tensors, ...b.tensors, ...['s', 'o', 'm', 'v'].map((n) => constant(n, [8]))],
        ['b'],
      ),
    );
    const first = g.groups.find((x) => x.producers[0] === 'a')!;
    assert.equal(first.size, 8);
    assert.equal(first.unsafe, undefined);
    assert.deepEqual(first.slices.map((s) => `${s.tensor}@${s.axis}:${s.role}`).sort(), [
      'a.b@0:bias',
      'a.w@0:filters',
      'b.w@1:inputs',
      'm@0:norm',
      'o@0:norm',
      's@0:gamma',
      'v@0:norm',
    ]);
    const last = g.groups.find((x) => x.producers[0] === 'b')!;
    assert.match(last.unsafe!, /reaches the model's output 'b'/);
  });

  it('ties the two producers of a residual Add into one group', () => {
    const a = conv('a', 'x', 3, 8);
    const b = conv('b', 'a', 8, 8);
    const add = node('Add', ['a', 'b'], ['sum']);
    const c = conv('c', 'sum', 8, 2);
    const g = analyseChannels(
      facts([a.node, b.node, add, c.node], [...a.tensors, ...b.tensors, ...c.tensors], ['c']),
    );
    const tied = g.groups.find((x) => x.producers.includes('a'))!;
    assert.deepEqual(tied.producers.sort(), ['a', 'b']);
    assert.ok(
      tied.slices.some((s) => s.tensor === 'b.w' && s.axis === 1),
      "b's inputs are a's channels too",
    );
    assert.ok(tied.slices.some((s) => s.tensor === 'c.w' && s.axis === 1));
  });

  it('passes a depthwise Conv through, shrinking its group count with the channels', () => {
    const a = conv('a', 'x', 3, 8);
    const dw = conv('dw', 'a', 8, 8, 8);
    const c = conv('c', 'dw', 8, 2);
    const g = analyseChannels(
      facts([a.node, dw.node, c.node], [...a.tensors, ...dw.tensors, ...c.tensors], ['c']),
    );
    const group = g.groups.find((x) => x.producers[0] === 'a')!;
    assert.deepEqual(group.groups, [{ node: dw.node.index, block: 1 }]);
    assert.ok(
      group.slices.some((s) => s.tensor === 'dw.w' && s.axis === 0 && s.role === 'filters'),
    );
    assert.equal(g.groups.length, 2, 'the depthwise Conv opens no space of its own');
  });

  it('lays Concat inputs side by side: the consumer slices each at its offset', () => {
    const a = conv('a', 'x', 3, 4);
    const b = conv('b', 'x', 3, 6);
    const cat = node('Concat', ['a', 'b'], ['cat'], { axis: 1 });
    const c = conv('c', 'cat', 10, 2);
    const g = analyseChannels(
      facts([a.node, b.node, cat, c.node], [...a.tensors, ...b.tensors, ...c.tensors], ['c']),
    );
    const inA = g.groups
      .find((x) => x.producers[0] === 'a')!
      .slices.find((s) => s.tensor === 'c.w')!;
    const inB = g.groups
      .find((x) => x.producers[0] === 'b')!
      .slices.find((s) => s.tensor === 'c.w')!;
    assert.deepEqual([inA.offset, inB.offset], [0, 4]);
  });

  it('widens a channel to a block of features through Flatten into Gemm', () => {
    const a = conv('a', 'x', 3, 4);
    const flat = node('Flatten', ['a'], ['f'], { axis: 1 });
    const gemm = node('Gemm', ['f', 'W', 'B'], ['y'], { transB: 1 });
    const g = analyseChannels(
      facts(
        [a.node, flat, gemm],
        [...a.tensors, constant('W', [5, 4 * 9]), constant('B', [5])],
        ['y'],
        { x: [1, 3, 5, 5], a: [1, 4, 3, 3], f: [1, 36] },
      ),
    );
    const s = g.groups.find((x) => x.producers[0] === 'a')!.slices.find((t) => t.tensor === 'W')!;
    assert.deepEqual({ axis: s.axis, block: s.block }, { axis: 1, block: 9 });
  });

  it('ties squeeze-excitation: the scale branch ends in the channels it multiplies', () => {
    const a = conv('a', 'x', 3, 8);
    const pool = node('GlobalAveragePool', ['a'], ['p']);
    const r = {
      node: node('Conv', ['p', 'r.w', 'r.b'], ['r'], { group: 1 }),
      tensors: [constant('r.w', [2, 8, 1, 1]), constant('r.b', [2])],
    };
    const e = {
      node: node('Conv', ['r', 'e.w', 'e.b'], ['e'], { group: 1 }),
      tensors: [constant('e.w', [8, 2, 1, 1]), constant('e.b', [8])],
    };
    const sig = node('HardSigmoid', ['e'], ['s']);
    const mul = node('Mul', ['a', 's'], ['m']);
    const c = conv('c', 'm', 8, 2);
    const g = analyseChannels(
      facts(
        [a.node, pool, r.node, e.node, sig, mul, c.node],
        [...a.tensors, ...r.tensors, ...e.tensors, ...c.tensors],
        ['c'],
      ),
    );
    assert.deepEqual(g.groups.find((x) => x.producers.includes('a'))!.producers.sort(), ['a', 'e']);
    assert.equal(
      g.groups.find((x) => x.producers[0] === 'r')!.unsafe,
      undefined,
      'the bottleneck is its own group',
    );
  });

  it('leaves a group whole, with the reason, when an op it does not understand reads it', () => {
    const a = conv('a', 'x', 3, 8);
    const shape = node('Shape', ['a'], ['sh']);
    const c = conv('c', 'a', 8, 2);
    const g = analyseChannels(
      facts([a.node, shape, c.node], [...a.tensors, ...c.tensors], ['c', 'sh']),
    );
    assert.match(
      g.groups.find((x) => x.producers[0] === 'a')!.unsafe!,
      /Shape 'sh' is not understood/,
    );
  });

  it('leaves whole a constant shared by two groups, and what a subgraph reads', () => {
    const a = conv('a', 'x', 3, 8);
    const b = conv('b', 'x', 3, 8);
    const addA = node('Add', ['a', 'k'], ['ka']);
    const addB = node('Add', ['b', 'k'], ['kb']);
    const c = conv('c', 'ka', 8, 2);
    const d = conv('d', 'kb', 8, 2);
    const iff = { ...node('If', ['cond'], ['z']), subgraphInputs: ['d'] };
    const g = analyseChannels(
      facts(
        [a.node, b.node, addA, addB, c.node, d.node, iff],
        [...a.tensors, ...b.tensors, ...c.tensors, ...d.tensors, constant('k', [1, 8, 1, 1])],
        ['z'],
      ),
    );
    assert.match(g.groups.find((x) => x.producers[0] === 'a')!.unsafe!, /'k' is shared/);
    assert.match(
      g.groups.find((x) => x.producers[0] === 'd')!.unsafe!,
      /subgraph of the model reads 'd'/,
    );
  });

  it('edits a Reshape whose target names the channel count', () => {
    const a = conv('a', 'x', 3, 4);
    const rs = node('Reshape', ['a', 'shape'], ['r']);
    const mm = node('MatMul', ['r', 'W'], ['y']);
    const g = analyseChannels(
      facts(
        [a.node, rs, mm],
        [...a.tensors, constant('shape', [2], [1, 36]), constant('W', [36, 5])],
        ['y'],
        { x: [1, 3, 5, 5], a: [1, 4, 3, 3], r: [1, 36] },
      ),
    );
    const group = g.groups.find((x) => x.producers[0] === 'a')!;
    assert.deepEqual(group.dims, [{ tensor: 'shape', index: 1, block: 9 }]);
    const cut = removalOf([{ group, keep: [0, 2, 3] }]);
    assert.equal(cut.dims.get('shape')!.get(1), 9);
    assert.deepEqual(
      [...cut.slices.get('W')!.get(0)!].sort((p, q) => p - q),
      [9, 10, 11, 12, 13, 14, 15, 16, 17],
    );
  });
});

describe('choosing and cutting channels', () => {
  it('keeps the channels whose filters have the largest norm, at least one', () => {
    assert.deepEqual(
      [...squaresAlong(Float64Array.from([1, 2, 3, 4, 5, 6]), [3, 2], 0)],
      [5, 25, 61],
    );
    assert.deepEqual([...squaresAlong(Float64Array.from([1, 2, 3, 4, 5, 6]), [3, 2], 1)], [35, 56]);
    assert.deepEqual(keepTop(Float64Array.from([3, 1, 2, 5]), 2), [0, 3]);
    assert.equal(keptCount(8, 0.25), 6);
    assert.equal(keptCount(2, 0.9), 1);
    const a = conv('a', 'x', 1, 3);
    const c = conv('c', 'a', 3, 1);
    const g = analyseChannels(facts([a.node, c.node], [...a.tensors, ...c.tensors], ['c']));
    const w = {
      'a.w': Float64Array.from([...Array(9).fill(1), ...Array(9).fill(0.1), ...Array(9).fill(2)]),
      'a.b': new Float64Array(3),
    } as Record<string, Float64Array>;
    const cuts = chooseCuts(g.groups, 0.34, {
      read: (n: string) => ({ values: w[n], dims: n === 'a.w' ? [3, 1, 3, 3] : [3] }),
    });
    assert.deepEqual(
      cuts.map((x) => x.keep),
      [[0, 2]],
    );
  });

  it('activation importance: the energy a channel feeds its consumers, ‖W[:, c]‖² · E[x_c²]', () => {
    const a = conv('a', 'x', 1, 3);
    const c = conv('c', 'a', 3, 1);
    const g = analyseChannels(facts([a.node, c.node], [...a.tensors, ...c.tensors], ['c']));
    // Producer filters say channel 2 matters most; the consumer never reads channel 2's (zero) activations.
    const w: Record<string, Float64Array> = {
      'a.w': Float64Array.from([...Array(9).fill(1), ...Array(9).fill(0.5), ...Array(9).fill(2)]),
      'a.b': new Float64Array(3),
      'c.w': Float64Array.from([...Array(9).fill(1), ...Array(9).fill(1), ...Array(9).fill(1)]),
    };
    const read = (n: string) => ({
      values: w[n],
      dims: n === 'a.w' ? [3, 1, 3, 3] : n === 'c.w' ? [1, 3, 3, 3] : [3],
    });
    const energy = (name: string) => (name === 'a' ? Float64Array.from([1, 4, 0]) : undefined);
    assert.deepEqual(
      [...channelImportance(g.groups[0], { read, energy }, 'activation')],
      [9, 36, 0],
    );
    assert.deepEqual(
      chooseCuts(g.groups, 0.34, { read, energy }, 'activation').map((x) => x.keep),
      [[0, 1]],
    );
    assert.deepEqual(
      chooseCuts(g.groups, 0.34, { read, energy }, 'l2').map((x) => x.keep),
      [[0, 2]],
    );
  });

  it('global scope ranks channels across groups by score over the group mean, each group keeping a tenth', () => {
    const a = conv('a', 'x', 1, 10);
    const b = conv('b', 'a', 10, 10);
    const c = conv('c', 'b', 10, 1);
    const g = analyseChannels(
      facts([a.node, b.node, c.node], [...a.tensors, ...b.tensors, ...c.tensors], ['c']),
    );
    // Group a: channel scores 1..10 (times 1000: the scale must not matter); group b: all equal.
    const filters = (scale: (k: number) => number) =>
      Float64Array.from({ length: 10 * 9 * (1 + 0) }, (_, i) =>
        Math.sqrt(scale(Math.floor(i / 9)) / 9),
      );
    const w: Record<string, Float64Array> = {
      'a.w': filters((k) => 1000 * (k + 1)),
      'a.b': new Float64Array(10),
      'b.w': Float64Array.from({ length: 900 }, () => 1),
      'b.b': new Float64Array(10),
    };
    const read = (n: string) => ({
      values: w[n],
      dims: n === 'a.w' ? [10, 1, 3, 3] : n === 'b.w' ? [10, 10, 3, 3] : [10],
    });
    const cuts = chooseCuts(g.groups, 0.5, { read }, 'l2', 'global');
    const kept = Object.fromEntries(cuts.map((x) => [x.group.producers[0], x.keep]));
    // 10 of 20 channels go: a's below-mean ones (1..5 of mean 5.5) first, then b's ties in order.
    assert.deepEqual(kept.a, [5, 6, 7, 8, 9]);
    assert.equal(kept.b.length, 5);
    const most = chooseCuts(g.groups, 0.95, { read }, 'l2', 'global');
    assert.deepEqual(
      most.map((x) => x.keep.length),
      [1, 1],
      'a tenth of each group stays',
    );
  });

  it('gathers the kept indices of every axis in row-major order', () => {
    const v = Float64Array.from({ length: 24 }, (_, i) => i);
    const out = sliceValues(
      v,
      [2, 3, 4],
      new Map([
        [1, new Set([1])],
        [2, new Set([0, 3])],
      ]),
    );
    assert.deepEqual(out.dims, [2, 2, 2]);
    assert.deepEqual([...out.values], [1, 2, 9, 10, 13, 14, 21, 22]);
  });
});
