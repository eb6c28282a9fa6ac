/**
 * selectWeights on weights that reach their compute op through ops keeping their axes (Identity,
 * Slice, Concat, Unsqueeze, Squeeze, Transpose), as PyTorch exports an LSTM's gates: the layout each
 * tensor gets, and the paths it must not follow. Every model is built here and only read, not run
 * (compressZoo.test.ts's routed.onnx runs every method on such weights).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectWeights } from '../../src/core/compress/weights';
import { readModel } from '../../src/core/formats';
import { MemorySource } from '../../src/core/io/source';
import type { Model } from '../../src/core/model';
import {
  DT,
  constant,
  encodeModel,
  graph,
  mulberry32,
  node,
  tensor,
  valueInfo,
  weights,
  type ModelSpec,
} from '../fixtures/onnxBuilder';

const F = DT.FLOAT;
const rng = mulberry32(7);
const w = (name: string, dims: number[]) =>
  tensor(
    name,
    F,
    dims,
    weights(
      rng,
      dims.reduce((a, b) => a * b, 1),
      0.2,
    ),
  );
const i64 = (name: string, values: number[]) => tensor(name, DT.INT64, [values.length], values);
const read = (spec: ModelSpec): Model =>
  readModel(new MemorySource(encodeModel(spec)), 'test.onnx');

/** What selectWeights made of each tensor: [op, node, outputAxis, inputAxis] or the reason it was skipped ('left: …' when by scope). */
function outcome(
  model: Model,
  half = false,
): Record<string, [string, string, number, number] | string> {
  const { weights: chosen, skipped } = selectWeights(model, { half });
  return Object.fromEntries([
    ...chosen.map((c) => [c.tensor.name, [c.op, c.layer, c.layout.outputAxis, c.layout.inputAxis]]),
    ...skipped.map((s) => [s.name, `${s.left ? 'left: ' : ''}${s.reason}`]),
  ]);
}

/**
 * An If whose then-branch declares an LSTM's weights as Constants and nests another If: its then-branch
 * slices the gate rows, concatenates and unsqueezes them into the LSTM (opset 13: axes as an input);
 * its else-branch reuses the names of those values for values of its own, and slices `lone.w` into a
 * value only the then-branch reads under the same name. Names in sibling branches are different values,
 * and so is a name a nested graph declares again ('z', which the outer branch makes of `hidden.w`).
 */
function nestedLstm(): ModelSpec {
  const H = 16;
  const slice = (from: string, gate: number, to: string) =>
    node('Slice', [from, `start${gate}`, `end${gate}`, 'axis0'], [to], {}, { name: `${to}/Slice` });
  const innerThen = graph({
    name: 'inner_then',
    nodes: [
      ...[0, 1, 2, 3].map((g) => slice('w_ih', g, `wi.${g}`)),
      node(
        'Concat',
        ['wi.3', 'wi.0', 'wi.1', 'wi.2'],
        ['wi'],
        { axis: { i: 0 } },
        { name: 'wi/Concat' },
      ),
      node('Unsqueeze', ['wi', 'axis0'], ['W'], {}, { name: 'W/Unsqueeze' }),
      node('Identity', ['w_hh'], ['wh'], {}, { name: 'wh/Identity' }),
      node('Unsqueeze', ['wh', 'axis0'], ['R'], {}, { name: 'R/Unsqueeze' }),
      node('Concat', ['b_ih', 'b_hh'], ['b'], { axis: { i: 0 } }, { name: 'b/Concat' }),
      node('Unsqueeze', ['b', 'axis0'], ['B'], {}, { name: 'B/Unsqueeze' }),
      node('LSTM', ['x', 'W', 'R', 'B'], ['y'], { hidden_size: { i: H } }, { name: 'lstm' }),
      node('Identity', ['x2'], ['v'], {}, { name: 'v/Identity' }),
      node('MatMul', ['x2', 'v'], ['y2'], {}, { name: 'v/MatMul' }),
      node('Identity', ['x2'], ['z'], {}, { name: 'z/Identity' }),
      node('MatMul', ['x2', 'z'], ['y3'], {}, { name: 'z/MatMul' }),
    ],
    outputs: [valueInfo('y', F, []), valueInfo('y2', F, []), valueInfo('y3', F, [])],
  });
  const innerElse = graph({
    name: 'inner_else',
    nodes: [
      node('Identity', ['x'], ['wi'], {}, { name: 'else/wi' }),
      node('Mul', ['wi', 'wi'], ['y'], {}, { name: 'else/Mul' }),
      slice('lone.w', 0, 'v'),
      node('Identity', ['x2'], ['y3'], {}, { name: 'else/y3' }),
    ],
    outputs: [valueInfo('y', F, []), valueInfo('v', F, []), valueInfo('y3', F, [])],
  });
  const then = graph({
    name: 'then',
    nodes: [
      constant(w('w_ih', [4 * H, 16])),
      constant(w('w_hh', [4 * H, H])),
      constant(w('b_ih', [4 * H])),
      constant(w('b_hh', [4 * H])),
      constant(w('lone.w', [16, 24])),
      constant(w('hidden.w', [16, 24])),
      node('Identity', ['hidden.w'], ['z'], {}, { name: 'hidden/Identity' }),
      node(
        'If',
        ['cond2'],
        ['out', 'out2', 'out3'],
        { then_branch: { g: innerThen }, else_branch: { g: innerElse } },
        { name: 'inner' },
      ),
    ],
    outputs: [valueInfo('out', F, []), valueInfo('out2', F, []), valueInfo('out3', F, [])],
  });
  const pass = (out: string) => node('Identity', ['x'], [out], {}, { name: `pass/${out}` });
  const other = graph({
    name: 'else',
    nodes: ['out', 'out2', 'out3'].map(pass),
    outputs: ['out', 'out2', 'out3'].map((o) => valueInfo(o, F, [])),
  });
  return {
    irVersion: 8,
    opsets: { '': 13 },
    graph: graph({
      name: 'nested',
      nodes: [
        node(
          'If',
          ['cond'],
          ['y', 'y2', 'y3'],
          { then_branch: { g: then }, else_branch: { g: other } },
          { name: 'outer' },
        ),
      ],
      inputs: [
        valueInfo('x', F, [2, 1, 16]),
        valueInfo('x2', F, [3, 16]),
        valueInfo('cond', DT.BOOL, []),
        valueInfo('cond2', DT.BOOL, []),
      ],
      outputs: ['y', 'y2', 'y3'].map((o) => valueInfo(o, F, [])),
      initializers: [
        i64('axis0', [0]),
        ...[0, 1, 2, 3].flatMap((g) => [i64(`start${g}`, [g * H]), i64(`end${g}`, [(g + 1) * H])]),
      ],
    }),
  };
}

/** Opset 11: Unsqueeze/Squeeze axes as attributes, Transpose with and without perm, a Conv weight given a kernel axis. */
function attributes(): ModelSpec {
  const mm = (weight: string, out: string) =>
    node('MatMul', ['x', weight], [out], {}, { name: `${out}/MatMul` });
  return {
    irVersion: 6,
    opsets: { '': 11 },
    graph: graph({
      name: 'attributes',
      nodes: [
        node('Unsqueeze', ['a.w'], ['a3'], { axes: { ints: [0] } }, { name: 'a/Unsqueeze' }),
        node('Squeeze', ['a3'], ['a2'], { axes: { ints: [-3] } }, { name: 'a/Squeeze' }),
        mm('a2', 'ya'),
        node('Transpose', ['t.w'], ['tt'], { perm: { ints: [1, 0] } }, { name: 't/Transpose' }),
        mm('tt', 'yt'),
        node('Transpose', ['d.w'], ['dt'], {}, { name: 'd/Transpose' }),
        mm('dt', 'yd'),
        node('Unsqueeze', ['k.w'], ['k4'], { axes: { ints: [3] } }, { name: 'k/Unsqueeze' }),
        node('Conv', ['img', 'k4'], ['yk'], {}, { name: 'k/Conv' }),
        // The inserted axis is where MatMul reads output channels from: no channel of the tensor's own.
        node('Unsqueeze', ['ins.w'], ['ins3'], { axes: { ints: [-1] } }, { name: 'ins/Unsqueeze' }),
        node('MatMul', ['x3', 'ins3'], ['yi'], {}, { name: 'ins/MatMul' }),
      ],
      inputs: [
        valueInfo('x', F, [3, 16]),
        valueInfo('x3', F, [16, 2, 24]),
        valueInfo('img', F, [1, 8, 8, 8]),
      ],
      outputs: ['ya', 'yt', 'yd', 'yk', 'yi'].map((o) => valueInfo(o, F, [])),
      initializers: [
        w('a.w', [16, 24]),
        w('t.w', [24, 16]),
        w('d.w', [24, 16]),
        w('k.w', [16, 8, 3]),
        w('ins.w', [16, 24]),
      ],
    }),
  };
}

/** Paths not followed, and one tensor whose two paths disagree on its output axis. */
function deadEnds(): ModelSpec {
  const mm = (weight: string, out: string) =>
    node('MatMul', ['x', weight], [out], {}, { name: `${out}/MatMul` });
  return {
    irVersion: 8,
    opsets: { '': 13 },
    graph: graph({
      name: 'dead_ends',
      nodes: [
        node('Slice', ['mul.w', 'start', 'end', 'axis0'], ['ms'], {}, { name: 'mul/Slice' }),
        node('Mul', ['ms', 'two'], ['m2'], {}, { name: 'mul/Mul' }),
        mm('m2', 'ym'),
        node('Reshape', ['rs.w', 'shape'], ['rs'], {}, { name: 'rs/Reshape' }),
        mm('rs', 'yr'),
        node('Identity', ['out.w'], ['out_w'], {}, { name: 'out/Identity' }),
        node('Squeeze', ['sqz.w'], ['sq'], {}, { name: 'sqz/Squeeze' }),
        mm('sq', 'ys'),
        mm('both.w', 'yb1'),
        node(
          'Transpose',
          ['both.w'],
          ['bt'],
          { perm: { ints: [1, 0] } },
          { name: 'both/Transpose' },
        ),
        mm('bt', 'yb2'),
      ],
      inputs: [valueInfo('x', F, [3, 16])],
      outputs: ['ym', 'yr', 'out_w', 'ys', 'yb1', 'yb2'].map((o) => valueInfo(o, F, [])),
      initializers: [
        w('mul.w', [32, 24]),
        w('rs.w', [24, 16]),
        w('out.w', [16, 24]),
        w('sqz.w', [1, 16, 24]),
        w('both.w', [16, 16]),
        tensor('two', F, [], [2]),
        i64('start', [0]),
        i64('end', [16]),
        i64('axis0', [0]),
        i64('shape', [16, 24]),
      ],
    }),
  };
}

describe('selectWeights follows a weight through ops that keep its axes', () => {
  it("an LSTM's gates sliced, concatenated and unsqueezed in a nested branch: rows are the output channels", () => {
    const model = read(nestedLstm());
    const got = outcome(model);
    assert.deepEqual(got.w_ih, ['LSTM', 'lstm', 0, 1]);
    assert.deepEqual(got.w_hh, ['LSTM', 'lstm', 0, 1]);
    // Biases are half precision's only; other methods leave them, by what they are.
    assert.match(String(got.b_ih), /^left: biases of LSTM/);
    assert.match(String(got.b_hh), /^left: biases of LSTM/);
    // Read only in the else-branch, whose 'v' is that branch's output: the then-branch's MatMul reads its own 'v'.
    assert.match(String(got['lone.w']), /^left: constants of Slice/);
    // Its 'z' is read by nobody: the nested MatMul reads the nested graph's own 'z'.
    assert.match(String(got['hidden.w']), /^left: constants of Identity/);
    const half = selectWeights(model, { half: true }).weights.map((c) => [
      c.tensor.name,
      c.op,
      Boolean(c.placeholder),
    ]);
    assert.deepEqual(
      half.filter(([name]) => name !== 'lone.w' && name !== 'hidden.w'),
      [
        ['w_ih', 'LSTM', false],
        ['w_hh', 'LSTM', false],
        ['b_ih', 'LSTM', true],
        ['b_hh', 'LSTM', true],
      ],
    );
  });

  it('axes as attributes (opset 11), Transpose with and without perm, an inserted kernel axis', () => {
    const got = outcome(read(attributes()));
    assert.deepEqual(got['a.w'], ['MatMul', 'ya/MatMul', 1, 0]);
    assert.deepEqual(got['t.w'], ['MatMul', 'yt/MatMul', 0, 1]);
    assert.deepEqual(got['d.w'], ['MatMul', 'yd/MatMul', 0, 1]);
    assert.deepEqual(got['k.w'], ['Conv', 'k/Conv', 0, 1]);
    assert.match(String(got['ins.w']), /^left: constants of Unsqueeze/);
  });

  it('leaves alone what goes through another op, out of the graph, or through a Squeeze of unnamed axes; disagreeing paths are skipped', () => {
    const got = outcome(read(deadEnds()));
    assert.match(String(got['mul.w']), /^left: constants of Slice/);
    assert.match(String(got['rs.w']), /^left: constants of Reshape/);
    assert.match(String(got['out.w']), /^left: constants of Identity/);
    assert.match(String(got['sqz.w']), /^left: constants of Squeeze/);
    assert.equal(got['both.w'], 'consumers disagree on its output-channel axis');
    // Half precision needs no layout: the disagreement does not matter there.
    assert.deepEqual(outcome(read(deadEnds()), true)['both.w'], ['MatMul', 'yb1/MatMul', 1, 0]);
  });

  it('walks a value read twice by each of a chain of Concats once per reader, not once per path (2^n)', () => {
    const n = 40;
    const nodes = Array.from({ length: n }, (_, k) =>
      node('Concat', [`c${k}`, `c${k}`], [`c${k + 1}`], { axis: { i: 0 } }, { name: `c${k + 1}` }),
    );
    const model = read({
      irVersion: 8,
      opsets: { '': 13 },
      graph: graph({
        name: 'fan',
        nodes: [
          node('Identity', ['fan.w'], ['c0'], {}, { name: 'start' }),
          ...nodes,
          node('MatMul', ['x', `c${n}`], ['y'], {}, { name: 'mm' }),
        ],
        inputs: [valueInfo('x', F, [2, 16])],
        outputs: [valueInfo('y', F, [])],
        initializers: [w('fan.w', [16, 16])],
      }),
    });
    assert.deepEqual(outcome(model)['fan.w'], ['MatMul', 'mm', 1, 0]);
  });
});
