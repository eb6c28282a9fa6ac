/**
 * Models and method settings shared by the compression tests (compressPipeline.test.ts and
 * test/e2e/compress.test.mjs): the generated fixtures plus models built here so every weight layout
 * (Gemm transB 0/1, MatMul 2-D and batched, Conv groups, ConvTranspose, Gather, LSTM, and weights reached
 * through Slice/Concat/Unsqueeze/Squeeze/Transpose), every opset
 * path of the encodings (9, 10, 11, 13, 21), subgraphs, float16/float64 weights and untouched extras
 * (doc strings, value_info, unknown fields) meet every method. The layouts below come from the ONNX
 * operator definitions, written down independently of src/core/compress/weights.ts.
 * Run directly (node --test) it checks that the originals themselves load and run in onnxruntime.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import type * as Ort from 'onnxruntime-node';
import type { CompressSpec } from '../../src/core/compress/spec';
import { writeFixtures } from '../fixtures/models';
import {
  DT,
  constant,
  encodeModel,
  graph,
  modelProto,
  mulberry32,
  node,
  tensor,
  valueInfo,
  varint,
  weights,
  type ModelSpec,
} from '../fixtures/onnxBuilder';

const F = DT.FLOAT;

export type FeedType = 'float32' | 'float64' | 'float16' | 'int64' | 'bool';
export interface Feed {
  type: FeedType;
  dims: number[];
  data: Float32Array | Float64Array | Uint16Array | BigInt64Array | Uint8Array;
}
export type Feeds = Record<string, Feed>;

export interface ZooModel {
  /** Path relative to the folder writeZoo filled. */
  file: string;
  /** Default-domain opset. */
  opset: number;
  /** False where onnxruntime cannot load even the original (dtypes.onnx uses types it has no kernels for). */
  runnable: boolean;
  /** Seeded inputs; more than one where control flow branches. */
  feeds: Feeds[];
  /** Weights the quantizing methods must compress: [outputAxis, inputAxis] as the consuming op defines them. */
  weights: Record<string, [number, number]>;
  /** Every float tensor fp16/bf16 with --include all must convert: consumed float32/float64 initializers and Constants of ≥ 16 elements. */
  floats: string[];
  /** Those of `floats` the default scope leaves (consumed by no compute op's weight or bias input: biases added by Add, constants). */
  leftByScope?: string[];
  /** Tensors with values float32 cannot hold (every method keeps them), or fp16 cannot (fp16 keeps them): the range rule. */
  beyond?: { float32?: string[]; fp16?: string[] };
  /** Tensors declared inside a subgraph: they cannot be made graph outputs, so only the model outputs see them. */
  nested: string[];
}

/** One method setting: the engine spec and the same thing as CLI flags. */
export interface MethodCase {
  id: string;
  spec: CompressSpec;
  cli: string[];
}

const mc = (
  id: string,
  methods: CompressSpec['methods'],
  options: CompressSpec['options'],
  cli: string[],
): MethodCase => ({ id, spec: { methods, options }, cli: ['--method', methods.join(','), ...cli] });

export const METHOD_CASES: MethodCase[] = [
  mc('int8', ['int8'], {}, []),
  mc('int8-tensor', ['int8'], { granularity: 'tensor' }, ['--granularity', 'tensor']),
  mc('uint8', ['int8'], { asymmetric: true }, ['--asymmetric']),
  mc('int4', ['int4'], {}, []),
  mc('int4-b16', ['int4'], { blockSize: 16 }, ['--block-size', '16']),
  mc('fp16', ['fp16'], {}, []),
  mc('bf16', ['bf16'], {}, []),
  mc('fp16-all', ['fp16'], { include: ['all'] }, ['--include', 'all']),
  mc('fixed8', ['fixed'], { bits: 8 }, ['--bits', '8']),
  mc('fixed12', ['fixed'], { bits: 12 }, ['--bits', '12']),
  mc('sign', ['sign'], {}, []),
  mc('prune50', ['prune'], { sparsity: 0.5 }, ['--sparsity', '0.5']),
  mc('prune70-global', ['prune'], { sparsity: 0.7, scope: 'global' }, [
    '--sparsity',
    '0.7',
    '--scope',
    'global',
  ]),
  mc('prune-t0.05', ['prune'], { threshold: 0.05 }, ['--threshold', '0.05']),
  mc('prune-mean', ['prune'], { threshold: 'mean' }, ['--threshold', 'mean']),
  mc('prune-2:4', ['prune'], { pattern: { n: 2, m: 4 } }, ['--pattern', '2:4']),
  mc('prune-random', ['prune'], { sparsity: 0.3, random: true, seed: 7 }, [
    '--sparsity',
    '0.3',
    '--random',
    '--seed',
    '7',
  ]),
  mc('prune80-sparse', ['prune'], { sparsity: 0.8, store: 'sparse' }, [
    '--sparsity',
    '0.8',
    '--store',
    'sparse',
  ]),
  mc('cluster', ['cluster'], {}, []),
  mc('cluster4', ['cluster'], { clusters: 4 }, ['--clusters', '4']),
  mc('prune+int8', ['prune', 'int8'], { sparsity: 0.5 }, ['--sparsity', '0.5']),
  mc('prune+cluster', ['prune', 'cluster'], { sparsity: 0.5 }, ['--sparsity', '0.5']),
];

/** Seeded normal(0, 1) values for an input. */
function normal(seed: number, count: number): Float32Array {
  return weights(mulberry32(seed), count, 1, 0);
}

const f32Feed = (seed: number, dims: number[]): Feed => ({
  type: 'float32',
  dims,
  data: normal(
    seed,
    dims.reduce((a, b) => a * b, 1),
  ),
});

/** float16 bits of an input, rounded through Math.fround then truncated to the nearest fp16 below 2^-14 being irrelevant here. */
function f16Feed(seed: number, dims: number[]): Feed {
  const v = normal(
    seed,
    dims.reduce((a, b) => a * b, 1),
  );
  const bits = new Uint16Array(v.length);
  const u = new Uint32Array(v.buffer);
  // |v| < 8 and never below 2^-14 in practice: a plain round-to-nearest of the mantissa is enough for an input.
  for (let i = 0; i < v.length; i++) {
    const x = u[i];
    const a = x & 0x7fffffff;
    bits[i] = ((x >>> 16) & 0x8000) | (a < 0x38800000 ? 0 : (a - 0x38000000 + 0x1000) >>> 13);
  }
  return { type: 'float16', dims, data: bits };
}

/**
 * Multiplies the weights of output channel c by 2^((c mod 7) - 3): channel ranges then differ 64-fold,
 * as they do in trained layers, so a per-channel scale applied along the wrong axis shows.
 */
function spread(values: Float32Array, dims: number[], axis: number): Float32Array {
  let inner = 1;
  for (let a = axis + 1; a < dims.length; a++) inner *= dims[a];
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++)
    out[i] = values[i] * 2 ** (((Math.floor(i / inner) % dims[axis]) % 7) - 3);
  return out;
}

function w(
  rng: () => number,
  name: string,
  dims: number[],
  outAxis: number,
  std: number,
  opts: Parameters<typeof tensor>[4] = {},
): onnx.ITensorProto {
  const n = dims.reduce((a, b) => a * b, 1);
  return tensor(name, F, dims, spread(weights(rng, n, std), dims, outAxis), opts);
}

/** Gemm both ways, MatMul 2-D and batched, Conv with groups, ConvTranspose, Gather and LSTM in one opset-13 model. */
function layouts(): Uint8Array {
  const rng = mulberry32(101);
  const inits = [
    w(rng, 'gemmN.w', [48, 40], 1, 0.15),
    w(rng, 'gemmT.w', [40, 48], 0, 0.15),
    w(rng, 'sq.w', [40, 40], 1, 0.15),
    w(rng, 'bmm.w', [2, 32, 24], 2, 0.2),
    w(rng, 'emb.w', [50, 16], 0, 0.5),
    w(rng, 'deconv.w', [8, 6, 3, 3], 1, 0.2),
    w(rng, 'gconv.w', [12, 4, 3, 3], 0, 0.2),
    w(rng, 'lstm.W', [1, 32, 16], 1, 0.25),
    w(rng, 'lstm.R', [1, 32, 8], 1, 0.25),
    w(rng, 'lhs.w', [24, 48], 0, 0.15),
    tensor('gemmN.b', F, [40], weights(rng, 40, 0.05, 0)),
  ];
  const nodes = [
    node('Gemm', ['x', 'gemmN.w', 'gemmN.b'], ['g1'], {}, { name: 'gemm_plain' }),
    node('Gemm', ['x', 'gemmT.w'], ['g2'], { transB: { i: 1 } }, { name: 'gemm_transB' }),
    node('MatMul', ['g1', 'sq.w'], ['m1'], {}, { name: 'square' }),
    node('Add', ['m1', 'g2'], ['dense_out'], {}, { name: 'join' }),
    node('MatMul', ['x3', 'bmm.w'], ['batched_out'], {}, { name: 'batched' }),
    node('Gather', ['emb.w', 'ids'], ['emb_out'], { axis: { i: 0 } }, { name: 'embedding' }),
    node('ConvTranspose', ['img', 'deconv.w'], ['deconv_out'], {}, { name: 'deconv' }),
    node('Conv', ['img', 'gconv.w'], ['gconv_out'], { group: { i: 2 } }, { name: 'grouped' }),
    node(
      'LSTM',
      ['seq', 'lstm.W', 'lstm.R'],
      ['lstm_out'],
      { hidden_size: { i: 8 } },
      { name: 'lstm' },
    ),
    node('MatMul', ['lhs.w', 'xt'], ['lhs_out'], {}, { name: 'weight_on_the_left' }),
  ];
  return encodeModel({
    irVersion: 8,
    opsets: { '': 13 },
    graph: graph({
      name: 'layouts',
      nodes,
      inputs: [
        valueInfo('x', F, [2, 48]),
        valueInfo('x3', F, [2, 4, 32]),
        valueInfo('ids', DT.INT64, [2, 5]),
        valueInfo('img', F, [1, 8, 5, 5]),
        valueInfo('seq', F, [4, 1, 16]),
        valueInfo('xt', F, [48, 3]),
      ],
      outputs: [
        valueInfo('dense_out', F, [2, 40]),
        valueInfo('batched_out', F, [2, 4, 24]),
        valueInfo('emb_out', F, [2, 5, 16]),
        valueInfo('deconv_out', F, [1, 6, 7, 7]),
        valueInfo('gconv_out', F, [1, 12, 3, 3]),
        valueInfo('lstm_out', F, [4, 1, 1, 8]),
        valueInfo('lhs_out', F, [24, 3]),
      ],
      initializers: inits,
    }),
  });
}

/** An If whose branches hold Constant weights, one branch nesting another If, plus an outer initializer used inside. */
function branches(): Uint8Array {
  const rng = mulberry32(102);
  const innerThen = graph({
    name: 'inner_then',
    nodes: [
      constant(w(rng, 'inner.w', [16, 24], 1, 0.3)),
      node('MatMul', ['x', 'inner.w'], ['inner.out'], {}, { name: 'inner/MatMul' }),
    ],
    outputs: [valueInfo('inner.out', F, [1, 24])],
  });
  const innerElse = graph({
    name: 'inner_else',
    nodes: [
      constant(w(rng, 'else.w', [16, 24], 1, 0.3)),
      node('MatMul', ['x', 'else.w'], ['else.out'], {}, { name: 'else/MatMul' }),
    ],
    outputs: [valueInfo('else.out', F, [1, 24])],
  });
  const thenBranch = graph({
    name: 'then_body',
    nodes: [
      constant(w(rng, 'then.w', [32, 24], 1, 0.2)),
      node('MatMul', ['x', 'outer.w'], ['then.h'], {}, { name: 'then/MatMul_outer' }),
      node('MatMul', ['then.h', 'then.w'], ['then.out'], {}, { name: 'then/MatMul' }),
    ],
    outputs: [valueInfo('then.out', F, [1, 24])],
  });
  const elseBranch = graph({
    name: 'else_body',
    nodes: [
      node(
        'If',
        ['cond2'],
        ['nested.out'],
        { then_branch: { g: innerThen }, else_branch: { g: innerElse } },
        { name: 'If_inner' },
      ),
    ],
    outputs: [valueInfo('nested.out', F, [1, 24])],
  });
  return encodeModel({
    irVersion: 8,
    opsets: { '': 13 },
    graph: graph({
      name: 'branches',
      nodes: [
        node(
          'If',
          ['cond'],
          ['y'],
          { then_branch: { g: thenBranch }, else_branch: { g: elseBranch } },
          { name: 'If_outer' },
        ),
      ],
      inputs: [
        valueInfo('x', F, [1, 16]),
        valueInfo('cond', DT.BOOL, []),
        valueInfo('cond2', DT.BOOL, []),
      ],
      outputs: [valueInfo('y', F, [1, 24])],
      initializers: [w(rng, 'outer.w', [16, 32], 1, 0.25)],
    }),
  });
}

/** float16 and float64 weights feeding MatMul in their own precision (the engine casts its results back). */
function halfweights(): Uint8Array {
  const rng = mulberry32(103);
  const h = spread(weights(rng, 32 * 24, 0.2), [32, 24], 1);
  // Full float64 precision: values float32 cannot hold, so a float32 round trip shows.
  const d = Float64Array.from(
    spread(weights(rng, 32 * 24, 0.2), [32, 24], 1),
    (v) => v * (1 + 2 ** -30),
  );
  return encodeModel({
    irVersion: 8,
    opsets: { '': 13 },
    graph: graph({
      name: 'halfweights',
      nodes: [
        node('MatMul', ['xh', 'h.w'], ['yh'], {}, { name: 'half/MatMul' }),
        node('Cast', ['yh'], ['half_out'], { to: { i: F } }, { name: 'half/Cast' }),
        node('MatMul', ['xd', 'd.w'], ['yd'], {}, { name: 'double/MatMul' }),
        node('Cast', ['yd'], ['double_out'], { to: { i: F } }, { name: 'double/Cast' }),
      ],
      inputs: [valueInfo('xh', DT.FLOAT16, [2, 32]), valueInfo('xd', DT.DOUBLE, [2, 32])],
      outputs: [valueInfo('half_out', F, [2, 24]), valueInfo('double_out', F, [2, 24])],
      initializers: [tensor('h.w', DT.FLOAT16, [32, 24], h), tensor('d.w', DT.DOUBLE, [32, 24], d)],
    }),
  });
}

/**
 * Weights at the edges of the methods' ranges: all zeros, one repeated value, values in float16's
 * subnormal range, one outlier beyond float16's range, and weights shared by two consumers that agree
 * (MatMul twice) or disagree (MatMul [in, out] and Gemm transB [out, in]) on the output-channel axis.
 */
function edge(): Uint8Array {
  const rng = mulberry32(106);
  const outlier = weights(rng, 512, 0.1);
  outlier[77] = 1e5;
  const mm = (w: string, x: string, out: string) =>
    node('MatMul', [x, w], [out], {}, { name: `${w}/MatMul` });
  return encodeModel({
    irVersion: 8,
    opsets: { '': 13 },
    graph: graph({
      name: 'edge',
      nodes: [
        mm('zeros.w', 'x', 'zeros_out'),
        mm('same.w', 'x', 'same_out'),
        mm('tiny.w', 'x', 'tiny_out'),
        mm('outlier.w', 'x', 'outlier_out'),
        mm('agree.w', 'x16', 'agree_a'),
        node('MatMul', ['agree_a', 'agree.w'], ['agree_out'], {}, { name: 'agree.w/MatMul_2' }),
        mm('disagree.w', 'x16', 'disagree_a'),
        node(
          'Gemm',
          ['x16', 'disagree.w'],
          ['disagree_b'],
          { transB: { i: 1 } },
          { name: 'disagree.w/Gemm' },
        ),
        node('Add', ['disagree_a', 'disagree_b'], ['disagree_out'], {}, { name: 'disagree/Add' }),
      ],
      inputs: [valueInfo('x', F, ['batch', 32]), valueInfo('x16', F, ['batch', 16])],
      outputs: [
        'zeros_out',
        'same_out',
        'tiny_out',
        'outlier_out',
        'agree_out',
        'disagree_out',
      ].map((o) => valueInfo(o, F, ['batch', 16])),
      initializers: [
        tensor('zeros.w', F, [32, 16], new Float32Array(512)),
        tensor('same.w', F, [32, 16], new Float32Array(512).fill(0.3)),
        tensor('tiny.w', F, [32, 16], weights(rng, 512, 1e-6)),
        tensor('outlier.w', F, [32, 16], outlier),
        tensor('agree.w', F, [16, 16], weights(rng, 256, 0.3)),
        tensor('disagree.w', F, [16, 16], weights(rng, 256, 0.3)),
      ],
    }),
  });
}

/**
 * Weights that reach their op only through ops that keep their axes, as PyTorch exports them: an LSTM's
 * gate rows sliced from [4H, I] and concatenated into ONNX's gate order, then unsqueezed to [1, 4H, I]
 * (axes as an input, opset 13), its biases likewise; a Linear weight [out, in] transposed into MatMul; a
 * [1, in, out] weight squeezed into MatMul. One more goes through a Mul on the way: not a weight by default.
 */
function routed(): Uint8Array {
  const rng = mulberry32(108);
  const H = 8;
  const i64 = (name: string, values: number[]) => tensor(name, DT.INT64, [values.length], values);
  // PyTorch's gates (input, forget, cell, output) in ONNX's order (input, output, forget, cell).
  const order = [0, 3, 1, 2];
  const gates = (w: string) => [
    ...order.map((g, k) =>
      node(
        'Slice',
        [w, `gate${g}.start`, `gate${g}.end`, 'axis0'],
        [`${w}.gate${k}`],
        {},
        { name: `${w}/Slice_${k}` },
      ),
    ),
    node(
      'Concat',
      order.map((_, k) => `${w}.gate${k}`),
      [`${w}.onnx`],
      { axis: { i: 0 } },
      { name: `${w}/Concat` },
    ),
  ];
  const unsqueeze = (from: string, to: string) =>
    node('Unsqueeze', [from, 'axis0'], [to], {}, { name: `${to}/Unsqueeze` });
  return encodeModel({
    irVersion: 8,
    opsets: { '': 13 },
    graph: graph({
      name: 'routed',
      nodes: [
        ...gates('rnn.weight_ih'),
        unsqueeze('rnn.weight_ih.onnx', 'W'),
        ...gates('rnn.weight_hh'),
        unsqueeze('rnn.weight_hh.onnx', 'R'),
        ...gates('rnn.bias_ih'),
        ...gates('rnn.bias_hh'),
        node(
          'Concat',
          ['rnn.bias_ih.onnx', 'rnn.bias_hh.onnx'],
          ['bias'],
          { axis: { i: 0 } },
          { name: 'bias/Concat' },
        ),
        unsqueeze('bias', 'B'),
        node(
          'LSTM',
          ['seq', 'W', 'R', 'B'],
          ['lstm_out'],
          { hidden_size: { i: H } },
          { name: 'rnn/LSTM' },
        ),
        node(
          'Transpose',
          ['fc.weight'],
          ['fc.weight.t'],
          { perm: { ints: [1, 0] } },
          { name: 'fc/Transpose' },
        ),
        node('MatMul', ['x2', 'fc.weight.t'], ['fc_out'], {}, { name: 'fc/MatMul' }),
        node('Squeeze', ['sq.w', 'axis0'], ['sq.w.2d'], {}, { name: 'sq/Squeeze' }),
        node('MatMul', ['x2', 'sq.w.2d'], ['sq_out'], {}, { name: 'sq/MatMul' }),
        node('Identity', ['scaled.w'], ['scaled.w.id'], {}, { name: 'scaled/Identity' }),
        node('Mul', ['scaled.w.id', 'half'], ['scaled.w.half'], {}, { name: 'scaled/Mul' }),
        node('MatMul', ['x2', 'scaled.w.half'], ['scaled_out'], {}, { name: 'scaled/MatMul' }),
      ],
      inputs: [valueInfo('seq', F, [4, 1, 16]), valueInfo('x2', F, [3, 16])],
      outputs: [
        valueInfo('lstm_out', F, [4, 1, 1, H]),
        valueInfo('fc_out', F, [3, 32]),
        valueInfo('sq_out', F, [3, 24]),
        valueInfo('scaled_out', F, [3, 24]),
      ],
      initializers: [
        w(rng, 'rnn.weight_ih', [4 * H, 16], 0, 0.25),
        w(rng, 'rnn.weight_hh', [4 * H, H], 0, 0.25),
        tensor('rnn.bias_ih', F, [4 * H], weights(rng, 4 * H, 0.05, 0)),
        tensor('rnn.bias_hh', F, [4 * H], weights(rng, 4 * H, 0.05, 0)),
        w(rng, 'fc.weight', [32, 16], 0, 0.15),
        w(rng, 'sq.w', [1, 16, 24], 2, 0.15),
        w(rng, 'scaled.w', [16, 24], 1, 0.15),
        tensor('half', F, [], [0.5]),
        i64('axis0', [0]),
        ...[0, 1, 2, 3].flatMap((g) => [
          i64(`gate${g}.start`, [g * H]),
          i64(`gate${g}.end`, [(g + 1) * H]),
        ]),
      ],
    }),
  });
}

/** A two-layer MLP (MatMul [in, out], Gemm transB) at a given opset, to reach each opset's encodings. */
function mlpAt(opset: number, ir: number): Uint8Array {
  const rng = mulberry32(200 + opset);
  return encodeModel({
    irVersion: ir,
    opsets: { '': opset },
    graph: graph({
      name: `mlp_opset${opset}`,
      nodes: [
        node('MatMul', ['x', 'l1.w'], ['h'], {}, { name: 'l1' }),
        node('Relu', ['h'], ['r'], {}, { name: 'relu' }),
        node('Gemm', ['r', 'l2.w', 'l2.b'], ['y'], { transB: { i: 1 } }, { name: 'l2' }),
      ],
      inputs: [valueInfo('x', F, [3, 64])],
      outputs: [valueInfo('y', F, [3, 32])],
      initializers: [
        w(rng, 'l1.w', [64, 64], 1, 0.12),
        w(rng, 'l2.w', [32, 64], 0, 0.12),
        tensor('l2.b', F, [32], weights(rng, 32, 0.05, 0)),
      ],
    }),
  });
}

/** Bytes the writer must carry over untouched: an unknown ModelProto field and an unknown GraphProto field. */
export const UNKNOWN_MODEL_FIELD = Uint8Array.from([
  ...varint(1000 * 8 + 2),
  9,
  ...new TextEncoder().encode('keep-this'),
]);
export const UNKNOWN_GRAPH_FIELD = Uint8Array.from([
  ...varint(900 * 8 + 2),
  8,
  ...new TextEncoder().encode('and-this'),
]);

/** The spec of meta.onnx; the test encodes its parts to find them byte for byte in the variant. */
export function metaSpec(): ModelSpec {
  const rng = mulberry32(104);
  const mm = node('MatMul', ['x', 'meta.w'], ['h'], {}, { name: 'meta/MatMul' });
  mm.docString = 'node doc string that must survive';
  const relu = node('Relu', ['h'], ['y'], {}, { name: 'meta/Relu' });
  relu.docString = 'untouched node';
  const g = graph({
    name: 'meta',
    nodes: [mm, relu],
    inputs: [valueInfo('x', F, ['batch', 32])],
    outputs: [valueInfo('y', F, ['batch', 32])],
    initializers: [
      w(rng, 'meta.w', [32, 32], 1, 0.2, { docString: 'weight doc (replaced with the weight)' }),
    ],
    valueInfo: [valueInfo('h', F, ['batch', 32])],
  });
  g.docString = 'graph doc string';
  return {
    irVersion: 8,
    opsets: { '': 13 },
    producer: 'meta-producer',
    producerVersion: '9.9',
    docString: 'model doc string',
    properties: { license: 'CC0', note: 'kept verbatim' },
    graph: g,
  };
}

function meta(): Uint8Array {
  const spec = metaSpec();
  const graphBytes = Buffer.concat([
    onnx.GraphProto.encode(spec.graph).finish(),
    UNKNOWN_GRAPH_FIELD,
  ]);
  const head = onnx.ModelProto.encode({ ...modelProto(spec), graph: null }).finish();
  return Buffer.concat([
    head,
    Uint8Array.of(0x3a),
    varint(graphBytes.length),
    graphBytes,
    UNKNOWN_MODEL_FIELD,
  ]);
}

/** IR 3 style (as the corpus's PyTorch exports): every initializer is also listed as a graph input. */
function ir3(): Uint8Array {
  const rng = mulberry32(105);
  const inits = [
    w(rng, 'ir3.w', [12, 6, 3, 3], 0, 0.2),
    tensor('ir3.b', F, [12], weights(rng, 12, 0.05, 0)),
  ];
  return encodeModel({
    irVersion: 3,
    opsets: { '': 8 },
    graph: graph({
      name: 'ir3',
      nodes: [
        node(
          'Conv',
          ['x', 'ir3.w', 'ir3.b'],
          ['y'],
          { kernel_shape: { ints: [3, 3] } },
          { name: 'conv' },
        ),
      ],
      inputs: [
        valueInfo('x', F, [1, 6, 6, 6]),
        valueInfo('ir3.w', F, [12, 6, 3, 3]),
        valueInfo('ir3.b', F, [12]),
      ],
      outputs: [valueInfo('y', F, [1, 12, 4, 4])],
      initializers: inits,
    }),
  });
}

/** As the corpus's PyTorch 0.3 exports: IR 3, opset 6, a lone Conv whose weight and bias are also graph inputs. */
function convOpset6(): Uint8Array {
  const rng = mulberry32(107);
  return encodeModel({
    irVersion: 3,
    opsets: { '': 6 },
    graph: graph({
      name: 'conv_opset6',
      nodes: [
        node(
          'Conv',
          ['x', 'c6.w', 'c6.b'],
          ['y'],
          { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] } },
          { name: 'conv' },
        ),
      ],
      inputs: [
        valueInfo('x', F, [2, 4, 7, 7]),
        valueInfo('c6.w', F, [16, 4, 3, 3]),
        valueInfo('c6.b', F, [16]),
      ],
      outputs: [valueInfo('y', F, [2, 16, 7, 7])],
      initializers: [
        w(rng, 'c6.w', [16, 4, 3, 3], 0, 0.2),
        tensor('c6.b', F, [16], weights(rng, 16, 0.05, 0)),
      ],
    }),
  });
}

const cond = (v: boolean): Feed => ({ type: 'bool', dims: [], data: Uint8Array.of(v ? 1 : 0) });

export const ZOO: ZooModel[] = [
  {
    file: 'mlp.onnx',
    opset: 13,
    runnable: true,
    feeds: [{ input: f32Feed(1, [4, 64]) }],
    weights: { 'fc1.weight': [1, 0], 'fc2.weight': [1, 0], 'fc_known.weight': [1, 0] },
    floats: ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'fc_known.weight'],
    leftByScope: ['fc1.bias', 'fc2.bias'],
    nested: [],
  },
  {
    file: 'cnn.onnx',
    opset: 13,
    runnable: true,
    feeds: [{ input: f32Feed(2, [1, 3, 32, 32]) }],
    weights: { 'conv2.weight': [0, 1] },
    floats: ['conv1.weight', 'conv2.weight', 'conv2.bias', 'fc.weight'],
    nested: [],
  },
  {
    file: 'constants.onnx',
    opset: 11,
    runnable: true,
    feeds: [{ x: f32Feed(3, [4, 32]) }],
    weights: { 'linear_0.w_0': [1, 0] },
    floats: ['linear_0.w_0', 'linear_0.b_0', 'linear_1.w_0'],
    leftByScope: ['linear_0.b_0'],
    nested: [],
  },
  {
    file: 'subgraph_if.onnx',
    opset: 13,
    runnable: true,
    feeds: [
      { x: f32Feed(4, [1, 8]), cond: cond(true) },
      { x: f32Feed(4, [1, 8]), cond: cond(false) },
    ],
    weights: {},
    floats: ['then.w', 'else.w', 'shared.weight'],
    nested: ['then.w', 'else.w'],
  },
  {
    file: 'external/model.onnx',
    opset: 13,
    runnable: true,
    feeds: [{ x: f32Feed(5, [1, 16]) }],
    weights: { 'ext.fc1.weight': [1, 0], 'ext.fc2.weight': [1, 0] },
    floats: ['ext.fc1.weight', 'ext.fc1.bias', 'ext.fc2.weight'],
    leftByScope: ['ext.fc1.bias'],
    nested: [],
  },
  {
    file: 'function.onnx',
    opset: 17,
    runnable: true,
    feeds: [{ x: f32Feed(6, [1, 4]) }],
    weights: {},
    floats: [],
    nested: [],
  },
  {
    file: 'sparse.onnx',
    opset: 13,
    runnable: true,
    feeds: [{ x: f32Feed(7, [1, 16]) }],
    weights: {},
    floats: [],
    nested: [],
  },
  {
    file: 'dtypes.onnx',
    opset: 25,
    runnable: false,
    feeds: [],
    weights: {},
    floats: ['float32_raw', 'float32_typed', 'float32_fill', 'float64_raw', 'float64_typed'],
    leftByScope: ['float32_raw', 'float32_typed', 'float32_fill', 'float64_raw', 'float64_typed'],
    beyond: { float32: ['float64_raw', 'float64_typed'] },
    nested: [],
  },
  {
    file: 'layouts.onnx',
    opset: 13,
    runnable: true,
    feeds: [
      {
        x: f32Feed(11, [2, 48]),
        x3: f32Feed(12, [2, 4, 32]),
        ids: {
          type: 'int64',
          dims: [2, 5],
          data: BigInt64Array.from([0, 7, 49, 3, 3, 12, 25, 48, 1, 30], BigInt),
        },
        img: f32Feed(13, [1, 8, 5, 5]),
        seq: f32Feed(14, [4, 1, 16]),
        xt: f32Feed(15, [48, 3]),
      },
    ],
    weights: {
      'gemmN.w': [1, 0],
      'gemmT.w': [0, 1],
      'sq.w': [1, 0],
      'bmm.w': [2, 1],
      'emb.w': [0, 1],
      'deconv.w': [1, 0],
      'gconv.w': [0, 1],
      'lstm.W': [1, 2],
      'lstm.R': [1, 2],
      'lhs.w': [0, 1],
    },
    floats: [
      'gemmN.w',
      'gemmT.w',
      'sq.w',
      'bmm.w',
      'emb.w',
      'deconv.w',
      'gconv.w',
      'lstm.W',
      'lstm.R',
      'lhs.w',
      'gemmN.b',
    ],
    nested: [],
  },
  {
    file: 'branches.onnx',
    opset: 13,
    runnable: true,
    feeds: [
      { x: f32Feed(21, [1, 16]), cond: cond(true), cond2: cond(false) },
      { x: f32Feed(21, [1, 16]), cond: cond(false), cond2: cond(true) },
      { x: f32Feed(21, [1, 16]), cond: cond(false), cond2: cond(false) },
    ],
    weights: { 'outer.w': [1, 0], 'then.w': [1, 0], 'inner.w': [1, 0], 'else.w': [1, 0] },
    floats: ['outer.w', 'then.w', 'inner.w', 'else.w'],
    nested: ['then.w', 'inner.w', 'else.w'],
  },
  {
    file: 'halfweights.onnx',
    opset: 13,
    runnable: true,
    feeds: [
      {
        xh: f16Feed(31, [2, 32]),
        xd: { type: 'float64', dims: [2, 32], data: Float64Array.from(normal(32, 64)) },
      },
    ],
    weights: { 'h.w': [1, 0], 'd.w': [1, 0] },
    floats: ['d.w'],
    nested: [],
  },
  ...[
    [9, 4],
    [10, 5],
    [21, 10],
  ].map(([opset]): ZooModel => ({
    file: `mlp_opset${opset}.onnx`,
    opset,
    runnable: true,
    feeds: [{ x: f32Feed(40 + opset, [3, 64]) }],
    weights: { 'l1.w': [1, 0], 'l2.w': [0, 1] },
    floats: ['l1.w', 'l2.w', 'l2.b'],
    nested: [],
  })),
  {
    file: 'meta.onnx',
    opset: 13,
    runnable: true,
    feeds: [{ x: f32Feed(50, [2, 32]) }],
    weights: { 'meta.w': [1, 0] },
    floats: ['meta.w'],
    nested: [],
  },
  {
    file: 'edge.onnx',
    opset: 13,
    runnable: true,
    // 64 rows: the repeated-value weight gives every column the same output, so only rows average its error.
    feeds: [{ x: f32Feed(52, [64, 32]), x16: f32Feed(53, [64, 16]) }],
    weights: {
      'zeros.w': [1, 0],
      'same.w': [1, 0],
      'tiny.w': [1, 0],
      'outlier.w': [1, 0],
      'agree.w': [1, 0],
    },
    floats: ['zeros.w', 'same.w', 'tiny.w', 'outlier.w', 'agree.w', 'disagree.w'],
    beyond: { fp16: ['outlier.w'] },
    nested: [],
  },
  {
    file: 'conv_opset6.onnx',
    opset: 6,
    runnable: true,
    feeds: [{ x: f32Feed(54, [2, 4, 7, 7]) }],
    weights: { 'c6.w': [0, 1] },
    floats: ['c6.w', 'c6.b'],
    nested: [],
  },
  {
    file: 'ir3.onnx',
    opset: 8,
    runnable: true,
    feeds: [{ x: f32Feed(51, [1, 6, 6, 6]) }],
    weights: { 'ir3.w': [0, 1] },
    floats: ['ir3.w'],
    nested: [],
  },
  {
    file: 'routed.onnx',
    opset: 13,
    runnable: true,
    feeds: [{ seq: f32Feed(55, [4, 1, 16]), x2: f32Feed(56, [3, 16]) }],
    // The LSTM's gate rows and the Linear's [out, in] are the tensors' output channels; the squeezed [1, in, out] has them last.
    weights: {
      'rnn.weight_ih': [0, 1],
      'rnn.weight_hh': [0, 1],
      'fc.weight': [0, 1],
      'sq.w': [2, 1],
    },
    floats: [
      'rnn.weight_ih',
      'rnn.weight_hh',
      'rnn.bias_ih',
      'rnn.bias_hh',
      'fc.weight',
      'sq.w',
      'scaled.w',
    ],
    leftByScope: ['scaled.w'],
    nested: [],
  },
];

/** Writes the generated fixtures and the models above into `dir`. */
export function writeZoo(dir: string): void {
  writeFixtures(dir);
  writeFileSync(join(dir, 'layouts.onnx'), layouts());
  writeFileSync(join(dir, 'branches.onnx'), branches());
  writeFileSync(join(dir, 'halfweights.onnx'), halfweights());
  writeFileSync(join(dir, 'mlp_opset9.onnx'), mlpAt(9, 4));
  writeFileSync(join(dir, 'mlp_opset10.onnx'), mlpAt(10, 5));
  writeFileSync(join(dir, 'mlp_opset21.onnx'), mlpAt(21, 10));
  writeFileSync(join(dir, 'meta.onnx'), meta());
  writeFileSync(join(dir, 'ir3.onnx'), ir3());
  writeFileSync(join(dir, 'edge.onnx'), edge());
  writeFileSync(join(dir, 'conv_opset6.onnx'), convOpset6());
  writeFileSync(join(dir, 'routed.onnx'), routed());
}

/** onnxruntime-node, loaded at run time: esbuild must not try to bundle its native binding. */
export function loadOrt(): typeof Ort {
  const ort = createRequire(__filename)('onnxruntime-node') as typeof Ort;
  // Its warnings about the models (unused initializers, old opsets) are noise in test output.
  ort.env.logLevel = 'error';
  return ort;
}

export function ortFeeds(ort: typeof Ort, feeds: Feeds): Record<string, Ort.Tensor> {
  return Object.fromEntries(
    Object.entries(feeds).map(([k, f]) => [k, new ort.Tensor(f.type, f.data, f.dims)]),
  );
}

// Only when this file's own bundle runs: bundles that import the models (and e2e files) must not repeat these checks.
if (/compressZoo\.test\.js$/.test(require.main?.filename ?? '')) {
  describe('compression test models', () => {
    it('every runnable original loads and runs in onnxruntime-node with its feeds', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'model-lens-zoo-'));
      try {
        writeZoo(dir);
        const ort = loadOrt();
        for (const m of ZOO.filter((z) => z.runnable)) {
          const s = await ort.InferenceSession.create(join(dir, m.file));
          try {
            for (const f of m.feeds) {
              const out = await s.run(ortFeeds(ort, f));
              for (const [name, t] of Object.entries(out)) {
                assert.ok(t.size > 0, `${m.file}: ${name} is empty`);
                assert.ok(
                  Array.from(t.data as Float32Array).every(Number.isFinite),
                  `${m.file}: ${name} is not finite`,
                );
              }
            }
          } finally {
            await s.release();
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
