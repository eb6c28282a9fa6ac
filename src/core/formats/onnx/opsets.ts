import type { Model } from '../../model';

/**
 * When a model's default-domain opset may be raised so the encodings can use newer ops: only when
 * every op it uses means the same at the new opset (ONNX's operator changelog). Ops of other
 * domains have their own opsets and are unaffected.
 */

/** Default-domain ops whose opset-6 definition still holds at opset 7 (none lost an attribute or changed meaning). */
const SAME_AT_OPSET_7 = new Set([
  'Abs',
  'AveragePool',
  'Cast',
  'Ceil',
  'Concat',
  'Constant',
  'Conv',
  'ConvTranspose',
  'DepthToSpace',
  'Elu',
  'Exp',
  'Flatten',
  'Floor',
  'Gather',
  'GlobalAveragePool',
  'GlobalLpPool',
  'GlobalMaxPool',
  'HardSigmoid',
  'Identity',
  'InstanceNormalization',
  'LRN',
  'LeakyRelu',
  'Log',
  'LogSoftmax',
  'LpNormalization',
  'LpPool',
  'MaxPool',
  'Neg',
  'Pad',
  'Reciprocal',
  'Relu',
  'Reshape',
  'Selu',
  'Shape',
  'Sigmoid',
  'Size',
  'Slice',
  'Softmax',
  'Softplus',
  'Softsign',
  'SpaceToDepth',
  'Split',
  'Sqrt',
  'Squeeze',
  'Tanh',
  'Tile',
  'Transpose',
  'Unsqueeze',
]);

/**
 * For each op, the opset from which its definition means the same for inference through opset 21:
 * later versions only added types, or attributes and optional inputs whose defaults keep the old
 * behaviour (Reshape's allowzero, BatchNormalization's training_mode, AveragePool's dilations, …).
 * Ops not listed (Reduce*, Softmax before 13, Squeeze before 13, GroupNormalization, …) block a raise.
 */
const SAME_THROUGH_21: Record<string, number> = {
  Abs: 6,
  Add: 7,
  And: 7,
  ArgMax: 11,
  ArgMin: 11,
  AveragePool: 11,
  BatchNormalization: 9,
  Cast: 6,
  Ceil: 6,
  Clip: 11,
  Concat: 4,
  Constant: 1,
  ConstantOfShape: 9,
  Conv: 1,
  ConvTranspose: 11,
  CumSum: 11,
  DepthToSpace: 1,
  DequantizeLinear: 10,
  Div: 7,
  Einsum: 12,
  Elu: 6,
  Equal: 11,
  Erf: 9,
  Exp: 6,
  Expand: 8,
  Flatten: 11,
  Floor: 6,
  GRU: 7,
  Gather: 11,
  GatherElements: 11,
  GatherND: 11,
  Gemm: 11,
  GlobalAveragePool: 1,
  GlobalMaxPool: 1,
  Greater: 9,
  HardSigmoid: 6,
  HardSwish: 14,
  Hardmax: 13,
  Identity: 1,
  If: 1,
  InstanceNormalization: 6,
  LRN: 1,
  LSTM: 7,
  LayerNormalization: 17,
  LeakyRelu: 6,
  Less: 9,
  Log: 6,
  LogSoftmax: 13,
  LpNormalization: 1,
  MatMul: 1,
  MatMulInteger: 10,
  Max: 8,
  MaxPool: 12,
  Mean: 8,
  Min: 8,
  Mod: 10,
  Mul: 7,
  Neg: 6,
  NonZero: 9,
  Not: 1,
  Or: 7,
  PRelu: 7,
  Pad: 11,
  Pow: 7,
  QuantizeLinear: 10,
  RNN: 7,
  Range: 11,
  Reciprocal: 6,
  ReduceMax: 20,
  ReduceMean: 18,
  ReduceMin: 20,
  ReduceSum: 13,
  Relu: 6,
  Reshape: 5,
  Resize: 11,
  Round: 11,
  ScatterElements: 11,
  ScatterND: 11,
  Selu: 6,
  Shape: 1,
  Sigmoid: 6,
  Sign: 9,
  Sin: 7,
  Cos: 7,
  Size: 1,
  Slice: 11,
  Softmax: 13,
  Softplus: 1,
  Softsign: 1,
  SpaceToDepth: 1,
  Split: 13,
  Sqrt: 6,
  Squeeze: 13,
  Sub: 7,
  Sum: 8,
  Tanh: 6,
  Tile: 6,
  TopK: 11,
  Transpose: 1,
  Trilu: 14,
  Unsqueeze: 13,
  Where: 9,
};

function defaultDomainOps(model: Model): string[] {
  // opCounts keys ops of other domains as `domain.op`; default-domain ops (ai.onnx included) have no dot.
  return Object.keys(model.opCounts).filter((k) => !k.includes('.'));
}

/** Ops that stop a model at `opset` 6 from being raised to 7 (empty: it can be). */
export function blockersOfOpset7(model: Model): string[] {
  return defaultDomainOps(model).filter((op) => !SAME_AT_OPSET_7.has(op));
}

/** Ops that stop a model at `opset` from being raised to 21 (empty: it can be). Model-local functions keep their own imports, so they block too. */
export function blockersOfOpset21(model: Model, opset: number): string[] {
  const blockers = defaultDomainOps(model).filter(
    (op) => !(SAME_THROUGH_21[op] !== undefined && SAME_THROUGH_21[op] <= opset),
  );
  if (
    model.tensors.some((t) => t.scope.startsWith('function ')) ||
    model.layers.some((l) => l.scope.startsWith('function '))
  )
    blockers.push('model-local functions');
  return blockers;
}
