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
  /** A constant per input name, filling the whole tensor (e.g. sr: 16000, state: 0). */
  values?: Record<string, number>;
}

/** Open dimensions no rule below sizes: a batch of one. */
export const DEFAULT_DIM = 1;
/** An open height or width of an image input: PP-OCR's detector side and a typical text-line crop width, a multiple of 32 for strided nets. */
export const IMAGE_SIDE = 320;
/** Open sample count of a [batch, samples] audio input: 32 ms at 16 kHz, silero VAD's chunk. */
export const AUDIO_CHUNK = 512;
export const DEFAULT_INT_RANGE: [number, number] = [0, 10];

/** A tensor the user supplied; `name` is a hint (array name, tensor name or file stem). */
export interface SuppliedTensor {
  name: string;
  source: string;
  tensor: HostTensor;
}

/** NAME=VALUE split at the last '=' (names may contain '='), or undefined when the name is empty or `valid` refuses the value. */
function splitSpec(text: string, valid: RegExp): { name: string; value: string } | undefined {
  const at = text.lastIndexOf('=');
  const value = text.slice(at + 1);
  return at > 0 && valid.test(value) ? { name: text.slice(0, at), value } : undefined;
}

/**
 * Parses a command-line size spec: 'NAME=1x3x224x224' for --shape (an input's full shape) or
 * 'SYMBOL=4' for --dim.
 */
export function parseShapeSpec(text: string): { name: string; dims: number[] } {
  const spec = splitSpec(text, /^\d+(x\d+)*$/);
  if (!spec) verifyError(`'${text}' is not NAME=DIMS (e.g. input=1x3x224x224, batch=4)`);
  const { name, value } = spec;
  const dims = value.split('x').map(Number);
  if (dims.some((d) => !Number.isSafeInteger(d))) verifyError(`'${text}': dimension too large`);
  return { name, dims };
}

/** Parses a --value spec: 'NAME=16000' or 'NAME=-0.5' sets every element of input NAME to that number. */
export function parseValueSpec(text: string): { name: string; value: number } {
  const spec = splitSpec(text, /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i);
  if (!spec || !Number.isFinite(Number(spec.value)))
    verifyError(`'${text}' is not NAME=NUMBER (e.g. sr=16000, state=0)`);
  return { name: spec.name, value: Number(spec.value) };
}

/** The inputs a caller must feed: graph inputs that are not also initializers (IR < 4 lists weights as inputs). */
export function realInputs(model: Model): ValueInfo[] {
  const initializers = new Set(
    model.tensors
      .filter((t) => t.scope === '' && t.origin.endsWith('initializer'))
      .map((t) => t.name),
  );
  return model.inputs.filter((i) => !initializers.has(i.name));
}

/**
 * Matches supplied tensors to inputs: by name when the hint names an input, otherwise in order
 * onto the inputs not yet given. Each tensor is checked against the declared shape and, where
 * the dtype differs within the same family (float↔float, int↔int), converted.
 */
export function assignInputs(
  inputs: ValueInfo[],
  supplied: SuppliedTensor[],
  warnings: string[],
): Map<string, SuppliedTensor> {
  const byName = new Map(inputs.map((i) => [i.name, i]));
  const out = new Map<string, SuppliedTensor>();
  const positional: SuppliedTensor[] = [];
  for (const s of supplied) {
    if (!byName.has(s.name)) positional.push(s);
    else if (out.has(s.name))
      verifyError(`input '${s.name}' is given twice (${out.get(s.name)!.source} and ${s.source})`);
    else out.set(s.name, s);
  }
  const open = inputs.filter((i) => !out.has(i.name));
  if (positional.length > open.length) {
    const extra = positional.slice(open.length).map((s) => s.source);
    verifyError(
      `${extra.join(', ')}: more input tensors than model inputs (${inputs.map((i) => i.name).join(', ') || 'none'})`,
    );
  }
  positional.forEach((s, k) => out.set(open[k].name, s));
  for (const [name, s] of out) {
    const spec = byName.get(name)!;
    const tensor = convertTo(s.tensor, spec.dtype, `input '${name}' from ${s.source}`, warnings);
    checkShape(spec, tensor.dims, `input '${name}' from ${s.source}`);
    out.set(name, { ...s, tensor });
  }
  return out;
}

/** `t` in `dtype`, converted within its family (float↔float, int↔int) with a warning; across families an error naming `what`. */
export function convertTo(
  t: HostTensor,
  dtype: number,
  what: string,
  warnings: string[],
): HostTensor {
  if (t.dtype === dtype) return t;
  const from = dtypeInfo(t.dtype).name;
  const to = dtypeInfo(dtype).name;
  if (!isSupportedDtype(dtype))
    verifyError(`${what}: the model expects ${to}, which the verifier cannot feed`);
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
export function checkShape(
  spec: ValueInfo,
  dims: readonly number[],
  what: string,
  declarer = 'the model',
): void {
  if (!spec.shape) return;
  const fits =
    spec.shape.length === dims.length &&
    spec.shape.every((d, k) => typeof d !== 'number' || d < 0 || d === dims[k]);
  if (!fits)
    verifyError(
      `${what} is ${formatShape(dims)}, but ${declarer} declares ${formatShape(spec.shape)}`,
    );
}

/** A synthesised input's shape, and which of its sizes Model Lens chose where the model left them open. */
export interface ResolvedShape {
  dims: number[];
  /** e.g. 'H, W not fixed by the model: 320 chosen'; absent when the model, --shape or --dim fixed every size. */
  chosen?: string;
}

const isOpen = (d: number | string | null): boolean => typeof d !== 'number' || d < 0;
const CHANNELS = new Set([1, 3, 4]);

/**
 * A rank-4 float input with 1, 3 or 4 channels fixed at axis 1 (NCHW) or 3 (NHWC) is an image: its
 * channel axis and count, and the height and width it takes (fixed by the model, else IMAGE_SIDE, or
 * the other side when that is fixed and larger). Random inputs and preprocessing recipes share it.
 */
export function imageLayout(
  spec: ValueInfo,
):
  | { channelAxis: 1 | 3; channels: number; height: number; width: number; openWidth: boolean }
  | undefined {
  const shape = spec.shape ?? [];
  if (!isFloatDtype(spec.dtype) || shape.length !== 4) return undefined;
  const fixed = (k: number) => (isOpen(shape[k]) ? undefined : (shape[k] as number));
  const channelAxis = CHANNELS.has(fixed(1) ?? -1)
    ? 1
    : CHANNELS.has(fixed(3) ?? -1)
      ? 3
      : undefined;
  if (!channelAxis) return undefined;
  const [h, w] = channelAxis === 1 ? [2, 3] : [1, 2];
  const side = (k: number, other: number) => fixed(k) ?? Math.max(IMAGE_SIDE, fixed(other) ?? 0);
  return {
    channelAxis,
    channels: fixed(channelAxis)!,
    height: side(h, w),
    width: side(w, h),
    openWidth: fixed(w) === undefined,
  };
}

/** A rank-2 float [batch, samples] input is audio: the samples of one chunk (fixed, else AUDIO_CHUNK). */
export function audioLength(spec: ValueInfo): number | undefined {
  const shape = spec.shape ?? [];
  if (!isFloatDtype(spec.dtype) || shape.length !== 2) return undefined;
  return isOpen(shape[1]) ? AUDIO_CHUNK : (shape[1] as number);
}

/**
 * The size and label of each open dimension that a realistic input needs, by layout: an image's
 * open sides as imageLayout chooses them, an audio input's open sample count AUDIO_CHUNK.
 * Everything else open is DEFAULT_DIM (axis 0: the batch).
 */
function layoutSizes(spec: ValueInfo): { size: number; label?: string }[] {
  const shape = spec.shape ?? [];
  const image = imageLayout(spec);
  const spatial = image?.channelAxis === 1 ? [2, 3] : image?.channelAxis === 3 ? [1, 2] : [];
  const audio = audioLength(spec) !== undefined;
  return shape.map((d, k) => {
    if (k === 0 && shape.length > 1) return { size: DEFAULT_DIM };
    const side = spatial.indexOf(k);
    if (image && side >= 0)
      return { size: side === 0 ? image.height : image.width, label: side === 0 ? 'H' : 'W' };
    if (audio && k === 1) return { size: AUDIO_CHUNK, label: 'samples' };
    return { size: DEFAULT_DIM, label: typeof d === 'string' ? d : `dim ${k}` };
  });
}

/** 'H, W not fixed by the model: 320 chosen', grouping labels by the size they got. */
function describeChosen(chosen: { label: string; size: number }[]): string | undefined {
  const bySize = new Map<number, string[]>();
  for (const c of chosen) bySize.set(c.size, [...(bySize.get(c.size) ?? []), c.label]);
  return bySize.size
    ? [...bySize]
        .map(([size, labels]) => `${labels.join(', ')} not fixed by the model: ${size} chosen`)
        .join('; ')
    : undefined;
}

/**
 * Concrete shapes for the inputs to synthesise. An open dimension takes, in order: its symbol's
 * value in `options.dims`, the size its symbol has in a supplied tensor or an explicit per-input
 * shape, then the layout rule (layoutSizes); one symbol gets one value across all inputs, so
 * [batch, seq] inputs stay consistent.
 */
export function resolveShapes(
  inputs: ValueInfo[],
  supplied: Map<string, SuppliedTensor>,
  options: InputOptions,
): Map<string, ResolvedShape> {
  const symbols = new Map<string, number>(Object.entries(options.dims ?? {}));
  for (const [sym, v] of symbols)
    if (!Number.isSafeInteger(v) || v < 0) verifyError(`dimension '${sym}' = ${v} is not a size`);
  const bind = (spec: ValueInfo, dims: readonly number[]) =>
    spec.shape?.forEach((d, k) => {
      if (typeof d === 'string' && !symbols.has(d)) symbols.set(d, dims[k]);
    });
  const shapes = new Map<string, ResolvedShape>();
  for (const spec of inputs) {
    const given = supplied.get(spec.name);
    if (given) bind(spec, given.tensor.dims);
    const explicit = options.shapes?.[spec.name];
    if (explicit && !given) {
      checkShape(spec, explicit, `the shape given for input '${spec.name}'`);
      elementCount(explicit, `shape given for input '${spec.name}'`);
      shapes.set(spec.name, { dims: [...explicit] });
      bind(spec, explicit);
    }
  }
  for (const name of Object.keys(options.shapes ?? {})) {
    if (!inputs.some((i) => i.name === name))
      verifyError(
        `a shape is given for '${name}', which is not an input (inputs: ${inputs.map((i) => i.name).join(', ') || 'none'})`,
      );
  }
  for (const spec of inputs) {
    if (supplied.has(spec.name) || shapes.has(spec.name)) continue;
    if (!spec.shape)
      verifyError(
        `input '${spec.name}' declares no shape; give one (e.g. --shape ${spec.name}=1x3x224x224)`,
      );
    const rule = layoutSizes(spec);
    const chosen: { label: string; size: number }[] = [];
    const dims = spec.shape.map((d, k) => {
      if (!isOpen(d)) return d as number;
      const bound = typeof d === 'string' ? symbols.get(d) : undefined;
      if (bound !== undefined) return bound;
      const { size, label } = rule[k];
      if (typeof d === 'string') symbols.set(d, size);
      if (label) chosen.push({ label, size });
      return size;
    });
    elementCount(dims, `input '${spec.name}' ${formatShape(dims)}`);
    const note = describeChosen(chosen);
    shapes.set(spec.name, note ? { dims, chosen: note } : { dims });
  }
  return shapes;
}

/**
 * The constant tensors --value asks for: each names an input not fed from a file, and its value
 * fits the input's type (integers for integer inputs, 0 or 1 for bool).
 */
export function valueTensors(
  inputs: ValueInfo[],
  supplied: Map<string, SuppliedTensor>,
  shapes: Map<string, ResolvedShape>,
  values: Record<string, number>,
): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, value] of Object.entries(values)) {
    const spec = inputs.find((i) => i.name === name);
    if (!spec)
      verifyError(
        `a value is given for '${name}', which is not an input (inputs: ${inputs.map((i) => i.name).join(', ') || 'none'})`,
      );
    if (supplied.has(name))
      verifyError(
        `input '${name}' is given both a value and a file (${supplied.get(name)!.source})`,
      );
    const type = dtypeInfo(spec.dtype).name;
    if (!isSupportedDtype(spec.dtype))
      verifyError(`input '${name}' is ${type}, which the verifier cannot feed`);
    if (!Number.isFinite(value))
      verifyError(`the value of input '${name}' must be a finite number`);
    if (spec.dtype === 9 && value !== 0 && value !== 1)
      verifyError(`input '${name}' is bool: its value must be 0 or 1, not ${value}`);
    if (isIntDtype(spec.dtype)) {
      const [lo, hi] = intBounds(spec.dtype);
      if (!Number.isSafeInteger(value) || value < lo || value > hi)
        verifyError(`input '${name}' is ${type}: ${value} is not an integer it can hold`);
    }
    const dims = shapes.get(name)!.dims;
    const data = new (arrayTypeFor(spec.dtype))(elementCount(dims, `input '${name}'`));
    if (data instanceof BigInt64Array || data instanceof BigUint64Array) data.fill(BigInt(value));
    else
      (data as Exclude<typeof data, BigInt64Array | BigUint64Array>).fill(
        spec.dtype === 10 ? numberToFloat16(value) : value,
      );
    out.set(name, { dtype: spec.dtype, dims, data });
  }
  return out;
}

/** Checks that an integer range is usable for every integer input, once, before any run. */
export function checkIntRange(inputs: ValueInfo[], range: [number, number]): void {
  const [lo, hi] = range;
  if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || lo >= hi)
    verifyError(`integer input range [${lo}, ${hi}) is empty or not integral`);
  for (const spec of inputs) {
    if (!isIntDtype(spec.dtype)) continue;
    const [min, max] = intBounds(spec.dtype);
    if (lo < min || hi - 1 > max)
      verifyError(
        `integer input range [${lo}, ${hi}) does not fit input '${spec.name}' (${dtypeInfo(spec.dtype).name})`,
      );
  }
}

/**
 * One seeded random tensor: floats standard normal, integers uniform in `intRange` (indices,
 * token ids), bools fair coin flips.
 */
export function synthesize(
  spec: ValueInfo,
  dims: number[],
  rng: Rng,
  intRange: [number, number],
): HostTensor {
  const what = `input '${spec.name}' (${dtypeInfo(spec.dtype).name})`;
  if (!isSupportedDtype(spec.dtype))
    verifyError(`${what} cannot be synthesised; supply it from a file`);
  const count = elementCount(dims, what);
  const data = new (arrayTypeFor(spec.dtype))(count);
  const [lo, hi] = intRange;
  if (spec.dtype === 10) for (let i = 0; i < count; i++) data[i] = numberToFloat16(rng.normal());
  else if (isFloatDtype(spec.dtype)) for (let i = 0; i < count; i++) data[i] = rng.normal();
  else if (spec.dtype === 9) for (let i = 0; i < count; i++) data[i] = rng.u32() >>> 31;
  else if (data instanceof BigInt64Array || data instanceof BigUint64Array)
    for (let i = 0; i < count; i++) data[i] = BigInt(rng.int(lo, hi));
  else for (let i = 0; i < count; i++) data[i] = rng.int(lo, hi);
  return { dtype: spec.dtype, dims, data };
}
