import { dtypeInfo } from '../dtypes';
import type { Model, ValueInfo } from '../model';
import { Rng } from './random';
import {
  arrayTypeFor,
  elementCount,
  float16ToNumber,
  formatShape,
  isFloatDtype,
  isIntDtype,
  isSupportedDtype,
  numberToFloat16,
  verifyError,
  type HostTensor,
} from './tensor';

export interface InputOptions {
  /** Full shape per input name, for inputs with symbolic or unknown dimensions. */
  shapes?: Record<string, number[]>;
  /** Value per symbolic dimension name (e.g. batch: 4, sequence: 128). */
  dims?: Record<string, number>;
  /** Integer inputs are drawn uniformly from [lo, hi). */
  intRange?: [number, number];
}

/** Unknown and symbolic dimensions not otherwise given: a batch of one. */
export const DEFAULT_DIM = 1;
export const DEFAULT_INT_RANGE: [number, number] = [0, 10];

/** A tensor the user supplied; `name` is a hint (array name, tensor name or file stem). */
export interface SuppliedTensor {
  name: string;
  source: string;
  tensor: HostTensor;
}

/**
 * Parses a command-line size spec: 'NAME=1x3x224x224' for --shape (an input's full shape) or
 * 'SYMBOL=4' for --dim. The last '=' splits, so names may contain '='.
 */
export function parseShapeSpec(text: string): { name: string; dims: number[] } {
  const at = text.lastIndexOf('=');
  const name = text.slice(0, at);
  const value = text.slice(at + 1);
  if (at <= 0 || !/^\d+(x\d+)*$/.test(value)) verifyError(`'${text}' is not NAME=DIMS (e.g. input=1x3x224x224, batch=4)`);
  const dims = value.split('x').map(Number);
  if (dims.some((d) => !Number.isSafeInteger(d))) verifyError(`'${text}': dimension too large`);
  return { name, dims };
}

/** The inputs a caller must feed: graph inputs that are not also initializers (IR < 4 lists weights as inputs). */
export function realInputs(model: Model): ValueInfo[] {
  const initializers = new Set(model.tensors.filter((t) => t.scope === '' && t.origin.endsWith('initializer')).map((t) => t.name));
  return model.inputs.filter((i) => !initializers.has(i.name));
}

/**
 * Matches supplied tensors to inputs: by name when the hint names an input, otherwise in order
 * onto the inputs not yet given. Each tensor is checked against the declared shape and, where
 * the dtype differs within the same family (float↔float, int↔int), converted.
 */
export function assignInputs(inputs: ValueInfo[], supplied: SuppliedTensor[], warnings: string[]): Map<string, SuppliedTensor> {
  const byName = new Map(inputs.map((i) => [i.name, i]));
  const out = new Map<string, SuppliedTensor>();
  const positional: SuppliedTensor[] = [];
  for (const s of supplied) {
    if (!byName.has(s.name)) positional.push(s);
    else if (out.has(s.name)) verifyError(`input '${s.name}' is given twice (${out.get(s.name)!.source} and ${s.source})`);
    else out.set(s.name, s);
  }
  const open = inputs.filter((i) => !out.has(i.name));
  if (positional.length > open.length) {
    const extra = positional.slice(open.length).map((s) => s.source);
    verifyError(`${extra.join(', ')}: more input tensors than model inputs (${inputs.map((i) => i.name).join(', ') || 'none'})`);
  }
  positional.forEach((s, k) => out.set(open[k].name, s));
  for (const [name, s] of out) {
    const spec = byName.get(name)!;
    const tensor = convert(s.tensor, spec.dtype, `input '${name}' from ${s.source}`, warnings);
    checkShape(spec, tensor.dims, `input '${name}' from ${s.source}`);
    out.set(name, { ...s, tensor });
  }
  return out;
}

function convert(t: HostTensor, dtype: number, what: string, warnings: string[]): HostTensor {
  if (t.dtype === dtype) return t;
  const from = dtypeInfo(t.dtype).name;
  const to = dtypeInfo(dtype).name;
  if (!isSupportedDtype(dtype)) verifyError(`${what}: the model expects ${to}, which the verifier cannot feed`);
  const floats = isFloatDtype(t.dtype) && isFloatDtype(dtype);
  const ints = isIntDtype(t.dtype) && isIntDtype(dtype);
  if (!floats && !ints) verifyError(`${what} is ${from}, but the model expects ${to}`);
  const ctor = arrayTypeFor(dtype);
  const data = new ctor(t.data.length);
  const [lo, hi] = intBounds(dtype);
  for (let i = 0; i < t.data.length; i++) {
    const v = t.dtype === 10 ? float16ToNumber(t.data[i] as number) : t.data[i];
    if (ints && (v < lo || v > hi)) verifyError(`${what}: value ${v} does not fit ${to}`);
    if (dtype === 10) data[i] = numberToFloat16(v as number);
    else if (data instanceof BigInt64Array || data instanceof BigUint64Array) data[i] = BigInt(v);
    else data[i] = Number(v);
  }
  warnings.push(`${what} converted from ${from} to ${to}`);
  return { dtype, dims: t.dims, data };
}

/** Inclusive value range of an integer dtype (bigint for 64-bit types). */
function intBounds(dtype: number): [number | bigint, number | bigint] {
  switch (dtype) {
    case 2:
      return [0, 255];
    case 3:
      return [-128, 127];
    case 4:
      return [0, 65535];
    case 5:
      return [-32768, 32767];
    case 6:
      return [-(2 ** 31), 2 ** 31 - 1];
    case 12:
      return [0, 2 ** 32 - 1];
    case 7:
      return [-(2n ** 63n), 2n ** 63n - 1n];
    case 13:
      return [0n, 2n ** 64n - 1n];
    default:
      return [-Infinity, Infinity];
  }
}

/** Refuses a shape that the input's declaration rules out (wrong rank, or a fixed dimension that differs). */
export function checkShape(spec: ValueInfo, dims: readonly number[], what: string, declarer = 'the model'): void {
  if (!spec.shape) return;
  const fits = spec.shape.length === dims.length && spec.shape.every((d, k) => typeof d !== 'number' || d < 0 || d === dims[k]);
  if (!fits) verifyError(`${what} is ${formatShape(dims)}, but ${declarer} declares ${formatShape(spec.shape)}`);
}

/**
 * Concrete shapes for the inputs to synthesise. A symbolic dimension takes, in order: its value in
 * `options.dims`, the size it has in a supplied tensor or an explicit per-input shape, then DEFAULT_DIM;
 * one symbol gets one value across all inputs, so [batch, seq] inputs stay consistent.
 */
export function resolveShapes(inputs: ValueInfo[], supplied: Map<string, SuppliedTensor>, options: InputOptions): Map<string, number[]> {
  const symbols = new Map<string, number>(Object.entries(options.dims ?? {}));
  for (const [sym, v] of symbols) if (!Number.isSafeInteger(v) || v < 0) verifyError(`dimension '${sym}' = ${v} is not a size`);
  const bind = (spec: ValueInfo, dims: readonly number[]) =>
    spec.shape?.forEach((d, k) => {
      if (typeof d === 'string' && !symbols.has(d)) symbols.set(d, dims[k]);
    });
  const shapes = new Map<string, number[]>();
  for (const spec of inputs) {
    const given = supplied.get(spec.name);
    if (given) bind(spec, given.tensor.dims);
    const explicit = options.shapes?.[spec.name];
    if (explicit && !given) {
      checkShape(spec, explicit, `the shape given for input '${spec.name}'`);
      elementCount(explicit, `shape given for input '${spec.name}'`);
      shapes.set(spec.name, [...explicit]);
      bind(spec, explicit);
    }
  }
  for (const name of Object.keys(options.shapes ?? {})) {
    if (!inputs.some((i) => i.name === name)) verifyError(`a shape is given for '${name}', which is not an input (inputs: ${inputs.map((i) => i.name).join(', ') || 'none'})`);
  }
  for (const spec of inputs) {
    if (supplied.has(spec.name) || shapes.has(spec.name)) continue;
    if (!spec.shape) verifyError(`input '${spec.name}' declares no shape; give one (e.g. --shape ${spec.name}=1x3x224x224)`);
    const dims = spec.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' ? symbols.get(d) ?? DEFAULT_DIM : DEFAULT_DIM));
    elementCount(dims, `input '${spec.name}' ${formatShape(dims)}`);
    shapes.set(spec.name, dims);
  }
  return shapes;
}

/** Checks that an integer range is usable for every integer input, once, before any run. */
export function checkIntRange(inputs: ValueInfo[], range: [number, number]): void {
  const [lo, hi] = range;
  if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || lo >= hi) verifyError(`integer input range [${lo}, ${hi}) is empty or not integral`);
  for (const spec of inputs) {
    if (!isIntDtype(spec.dtype)) continue;
    const [min, max] = intBounds(spec.dtype);
    if (lo < min || hi - 1 > max) verifyError(`integer input range [${lo}, ${hi}) does not fit input '${spec.name}' (${dtypeInfo(spec.dtype).name})`);
  }
}

/**
 * One seeded random tensor: floats standard normal, integers uniform in `intRange` (indices,
 * token ids), bools fair coin flips.
 */
export function synthesize(spec: ValueInfo, dims: number[], rng: Rng, intRange: [number, number]): HostTensor {
  const what = `input '${spec.name}' (${dtypeInfo(spec.dtype).name})`;
  if (!isSupportedDtype(spec.dtype)) verifyError(`${what} cannot be synthesised; supply it from a file`);
  const count = elementCount(dims, what);
  const data = new (arrayTypeFor(spec.dtype))(count);
  const [lo, hi] = intRange;
  if (spec.dtype === 10) for (let i = 0; i < count; i++) data[i] = numberToFloat16(rng.normal());
  else if (isFloatDtype(spec.dtype)) for (let i = 0; i < count; i++) data[i] = rng.normal();
  else if (spec.dtype === 9) for (let i = 0; i < count; i++) data[i] = rng.u32() >>> 31;
  else if (data instanceof BigInt64Array || data instanceof BigUint64Array) for (let i = 0; i < count; i++) data[i] = BigInt(rng.int(lo, hi));
  else for (let i = 0; i < count; i++) data[i] = rng.int(lo, hi);
  return { dtype: spec.dtype, dims, data };
}
