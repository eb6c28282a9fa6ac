/**
 * A preprocessing recipe: how files of images, audio or tensors become each input of one model.
 * It lives beside the model as `<model>.lens.json`; the CLI and the extension read the same file.
 * Model Lens proposes one from the model's inputs (`proposeRecipe`) and the user edits it.
 */

import type { Model, ValueInfo } from '../model';
import { audioLength, imageLayout, realInputs } from '../verify/inputs';

export const RECIPE_VERSION = 1;

export interface ImageRecipe {
  kind: 'image';
  width: number;
  height: number;
  /** 'stretch' to width × height, or 'pad': keep the aspect, scale to the height, pad right/bottom. */
  fit: 'stretch' | 'pad';
  order: 'RGB' | 'BGR';
  layout: 'NCHW' | 'NHWC';
  /** Pixels 0..255 are multiplied by this first, then (x − mean) / std per channel. */
  scale: number;
  mean: number[];
  std: number[];
  grayscale?: boolean;
}

export interface AudioRecipe {
  kind: 'audio';
  /** The model's sample rate: files are resampled to it. */
  rate: number;
  /** Samples per chunk: each file is cut into whole chunks of this length. */
  length: number;
  /** Samples in [-1, 1] are multiplied by this (32768 for models fed int16-scaled audio). */
  scale: number;
}

/** A constant tensor (a sample rate, a zero state). */
export interface ValueRecipe {
  kind: 'value';
  value: number;
}

/** Tensors from .npy/.npz/.pb files, or random when none is given. */
export interface TensorRecipe {
  kind: 'tensor';
}

export type InputRecipe = ImageRecipe | AudioRecipe | ValueRecipe | TensorRecipe;

export interface Recipe {
  version: number;
  inputs: Record<string, InputRecipe>;
}

/** `model.onnx` → `model.lens.json`, beside it. */
export function recipePathFor(modelFile: string): string {
  return modelFile.replace(/(\.[^./\\]*)?$/, '.lens.json');
}

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/**
 * What each input most likely is, from its shape and the exporter: a 3-channel image by the layout
 * random inputs use (imageLayout: NCHW or NHWC, the same sizes for open sides); audio at 16 kHz in
 * chunks of the length random inputs use (audioLength); a scalar or one-element input is a
 * value (`sr` 16000, else 0), and so is a recurrent state (zeros); anything else a tensor. Paddle exports get PaddleOCR's normalisation
 * (BGR; (x/255 − 0.5)/0.5 for 48-pixel text lines, ImageNet mean/std otherwise), other images x/255.
 */
export function proposeRecipe(model: Model): Recipe {
  // Paddle2ONNX names no producer in some exports; its graph name and p2o.* dimension names give it away.
  const paddle =
    /paddle/i.test(`${model.metadata.producer ?? ''} ${model.metadata.graphName ?? ''}`) ||
    model.inputs.some((i) => i.shape?.some((d) => typeof d === 'string' && d.startsWith('p2o.')));
  const inputs: Record<string, InputRecipe> = {};
  for (const v of realInputs(model)) inputs[v.name] = proposeInput(v, paddle);
  return { version: RECIPE_VERSION, inputs };
}

function proposeInput(v: ValueInfo, paddle: boolean): InputRecipe {
  const shape = v.shape ?? [];
  if (shape.length === 0 || shape.every((d) => d === 1))
    return { kind: 'value', value: /^(sr|sample_?rate)$/i.test(v.name) ? 16000 : 0 };
  // A recurrent state starts at zeros, as a stream's first chunk does.
  if (/state|hidden|cache|^[hc]0?$/i.test(v.name)) return { kind: 'value', value: 0 };
  // Three channels: a one-channel 4-D input is as often a feature map (mel frames) as a gray image.
  const image = imageLayout(v);
  if (image?.channels === 3) {
    const textLine = paddle && image.height === 48;
    const norm = !paddle
      ? { mean: [0, 0, 0], std: [1, 1, 1] }
      : textLine
        ? { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }
        : IMAGENET;
    return {
      kind: 'image',
      width: image.width,
      height: image.height,
      // A text-line model with an open width keeps the line's aspect and pads, as PaddleOCR does.
      fit: textLine && image.openWidth ? 'pad' : 'stretch',
      order: paddle ? 'BGR' : 'RGB',
      layout: image.channelAxis === 1 ? 'NCHW' : 'NHWC',
      scale: 1 / 255,
      mean: norm.mean,
      std: norm.std,
    };
  }
  const length = audioLength(v);
  if (length !== undefined) return { kind: 'audio', rate: 16000, length, scale: 1 };
  return { kind: 'tensor' };
}

/** Thrown for a recipe that cannot be used: one line naming the file and the field. */
export class RecipeError extends Error {
  override readonly name = 'RecipeError';
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
  }
}

/**
 * Reads a recipe's JSON text and checks it against the model: every input named exists, every
 * field has a usable value. Inputs the recipe does not mention keep the proposal's kind.
 */
export function parseRecipe(text: string, file: string, model: Model): Recipe {
  const fail = (what: string): never => {
    throw new RecipeError(what, file);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    fail(`not JSON (${(err as Error).message})`);
  }
  if (!isObject(raw)) return fail('not a JSON object');
  if (raw.version !== RECIPE_VERSION)
    fail(`version ${JSON.stringify(raw.version)} is not ${RECIPE_VERSION}`);
  if (!isObject(raw.inputs)) fail('"inputs" is not an object of input name → recipe');
  const proposal = proposeRecipe(model);
  const inputs: Record<string, InputRecipe> = { ...proposal.inputs };
  for (const [name, r] of Object.entries(raw.inputs as Record<string, unknown>)) {
    if (!(name in proposal.inputs))
      fail(
        `the model has no input '${name}' (it has ${Object.keys(proposal.inputs).join(', ') || 'none'})`,
      );
    inputs[name] = checkInput(r, `inputs.${name}`, fail);
  }
  return { version: RECIPE_VERSION, inputs };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function checkInput(r: unknown, at: string, fail: (what: string) => never): InputRecipe {
  if (!isObject(r)) return fail(`${at} is not an object`);
  const positive = (key: string, integer: boolean): number => {
    const v = r[key];
    if (
      typeof v !== 'number' ||
      !(v > 0) ||
      !Number.isFinite(v) ||
      (integer && !Number.isSafeInteger(v))
    )
      fail(
        `${at}.${key} must be a positive ${integer ? 'whole ' : ''}number, not ${JSON.stringify(v)}`,
      );
    return v as number;
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const v = r[key] ?? fallback;
    if (!allowed.includes(v as T))
      fail(`${at}.${key} must be one of ${allowed.join(', ')}, not ${JSON.stringify(v)}`);
    return v as T;
  };
  const numbers = (key: string, fallback: number[], nonzero: boolean): number[] => {
    const v = r[key] ?? fallback;
    const ok =
      Array.isArray(v) &&
      (v.length === 1 || v.length === 3) &&
      v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!nonzero || x !== 0));
    if (!ok)
      fail(
        `${at}.${key} must be 1 or 3 ${nonzero ? 'nonzero ' : ''}numbers, not ${JSON.stringify(v)}`,
      );
    return v as number[];
  };
  switch (r.kind) {
    case 'image':
      return {
        kind: 'image',
        width: positive('width', true),
        height: positive('height', true),
        fit: oneOf('fit', ['stretch', 'pad'] as const, 'stretch'),
        order: oneOf('order', ['RGB', 'BGR'] as const, 'RGB'),
        layout: oneOf('layout', ['NCHW', 'NHWC'] as const, 'NCHW'),
        scale: r.scale === undefined ? 1 / 255 : positive('scale', false),
        mean: numbers('mean', [0, 0, 0], false),
        std: numbers('std', [1, 1, 1], true),
        ...(r.grayscale === true ? { grayscale: true } : {}),
      };
    case 'audio':
      return {
        kind: 'audio',
        rate: positive('rate', true),
        length: positive('length', true),
        scale: r.scale === undefined ? 1 : positive('scale', false),
      };
    case 'value':
      if (typeof r.value !== 'number' || !Number.isFinite(r.value))
        fail(`${at}.value must be a number, not ${JSON.stringify(r.value)}`);
      return { kind: 'value', value: r.value as number };
    case 'tensor':
      return { kind: 'tensor' };
    default:
      return fail(
        `${at}.kind must be image, audio, value or tensor, not ${JSON.stringify(r.kind)}`,
      );
  }
}

/** The recipe as the file holds it: two-space JSON, inputs in the model's order. */
export function formatRecipe(recipe: Recipe): string {
  return `${JSON.stringify(recipe, null, 2)}\n`;
}

/** One line per input, for a terminal: 'x: image 320×320 (stretch), BGR NCHW, x·0.00392, mean 0.485,0.456,0.406, std 0.229,0.224,0.225'. */
export function formatRecipeLines(recipe: Recipe): string {
  const num = (v: number) => String(Number(v.toPrecision(3)));
  const line = (r: InputRecipe): string => {
    switch (r.kind) {
      case 'image':
        return `image ${r.width}×${r.height} (${r.fit}), ${r.grayscale ? 'gray' : r.order} ${r.layout}, x·${num(r.scale)}, mean ${r.mean.map(num).join(',')}, std ${r.std.map(num).join(',')}`;
      case 'audio':
        return `audio at ${r.rate} Hz in chunks of ${r.length} samples${r.scale !== 1 ? `, ×${num(r.scale)}` : ''}`;
      case 'value':
        return `= ${r.value}`;
      default:
        return 'tensor (from .npy/.npz/.pb files, else random)';
    }
  };
  return Object.entries(recipe.inputs)
    .map(([name, r]) => `  ${name}: ${line(r)}\n`)
    .join('');
}
