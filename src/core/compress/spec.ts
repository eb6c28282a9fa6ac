import { formatBytes } from '../units';
import type { MethodName, MethodOptions } from './types';

/** What to do: methods applied in order (prune first, one storage method last) with their options. */
export interface CompressSpec {
  methods: MethodName[];
  options: MethodOptions;
  /**
   * Per-tensor storage by tensor name, overriding the spec's storage method: another method
   * (int8 for an int4 run, fp16, ...) or 'float' to leave the tensor exactly as it is.
   */
  overrides?: Record<string, LayerChoice>;
  /** When set, only these tensors (by name) are compressed: sensitivity analysis compresses one at a time. */
  only?: string[];
}

/** What one tensor gets in a mixed-precision plan: a storage method, or 'float' for untouched. */
export type LayerChoice = Exclude<MethodName, 'prune' | 'channels' | 'lowrank'> | 'float';

export const METHODS: readonly MethodName[] = [
  'int8',
  'int4',
  'fp16',
  'bf16',
  'fixed',
  'sign',
  'prune',
  'cluster',
  'channels',
  'lowrank',
];

/** One-line explanations, shown by the CLI help and the VS Code wizard. */
export const METHOD_DESCRIPTIONS: Record<MethodName, string> = {
  int8: 'int8 weights with per-channel scales (QDQ); ~4x smaller, usually near-lossless',
  int4: '4-bit weights with a float32 scale per block of 32; ~6x smaller, more error',
  fp16: 'half-precision weights plus a Cast; 2x smaller, tiny error',
  bf16: 'bfloat16 weights plus a Cast (arithmetic below opset 13); 2x smaller, float32 range, coarser precision',
  fixed: 'fixed-point integers round(w·2^f) with a per-tensor fraction length',
  sign: 'ternary {-a, 0, +a} per output channel',
  prune: 'zero the smallest-magnitude weights (target sparsity, threshold, or N:M)',
  cluster: 'k-means weight sharing: a small codebook plus uint8 indices',
  channels:
    'remove whole channels (Conv filters, Gemm/MatMul neurons) and all tied to them: a smaller, faster graph',
  lowrank:
    'factor MatMul/Gemm/Conv weights into two thin layers by truncated SVD (whitened by calibration activations by default)',
};

/**
 * How channel removal ranks channels unless told, chosen by measurement (README, "Structural
 * compression"): the energy each channel feeds its consumers on calibration data, ranked across the
 * whole model, kept the most held-out fidelity at 25% on PP-OCR det/rec/cls.
 */
export const DEFAULT_CHANNEL_IMPORTANCE = 'activation';
export const DEFAULT_CHANNEL_SCOPE = 'global';

/** Methods that decide how weights are stored; at most one, and it comes last. */
const STORAGE: readonly MethodName[] = ['int8', 'int4', 'fp16', 'bf16', 'fixed', 'sign', 'cluster'];

export class SpecError extends Error {}

/** lowrank's criterion when none is given: chosen by measurement on the zoo (see node/lowrank.ts). */
export const LOWRANK_DEFAULT_CRITERION = 'data';

/** A fidelity target: above 0 (a negative cosine means outputs pointing away) and at most 1 (identical). */
export function isTargetCosine(v: number): boolean {
  return v > 0 && v <= 1;
}

/** A typed target cosine, or what is wrong with it (CLI, wizard, Re-run). */
export function parseTargetCosine(text: string): number | string {
  const t = text.trim();
  const v = Number(t);
  if (t === '' || !Number.isFinite(v)) return 'Enter a cosine such as 0.999';
  return isTargetCosine(v) ? v : 'The target cosine must be above 0 and at most 1 (e.g. 0.999)';
}

export const LAYER_CHOICES: readonly LayerChoice[] = [
  'float',
  'fp16',
  'bf16',
  'int8',
  'int4',
  'fixed',
  'sign',
  'cluster',
];

export function parseMethods(text: string): MethodName[] {
  const methods = text
    .split(',')
    .map((m) => m.trim().toLowerCase())
    .filter(Boolean) as MethodName[];
  if (!methods.length) throw new SpecError('--method needs at least one method');
  for (const m of methods)
    if (!METHODS.includes(m))
      throw new SpecError(`unknown method '${m}' (one of ${METHODS.join(', ')})`);
  if (new Set(methods).size !== methods.length) throw new SpecError('a method appears twice');
  const storage = methods.filter((m) => STORAGE.includes(m));
  if (storage.length > 1)
    throw new SpecError(
      `choose one of ${storage.join(' and ')}: both decide how weights are stored`,
    );
  if (methods.includes('channels') && methods.includes('lowrank'))
    throw new SpecError('choose one of channels and lowrank: both restructure the graph');
  for (const m of ['channels', 'lowrank'] as const)
    if (methods.includes(m) && methods[0] !== m)
      throw new SpecError(
        `${m} comes first (${m === 'channels' ? 'remove channels' : 'factor layers'}, then prune, share or quantize)`,
      );
  const structural = methods.includes('channels') || methods.includes('lowrank');
  if (methods.includes('prune') && methods[structural ? 1 : 0] !== 'prune')
    throw new SpecError('prune comes first (prune, then share or quantize)');
  return methods;
}

/** Checks option ranges and fills defaults for the chosen methods. */
export function normaliseSpec(spec: CompressSpec): CompressSpec {
  const o: MethodOptions = { ...spec.options };
  const has = (m: MethodName) => spec.methods.includes(m);
  // Specs also arrive from command arguments (other extensions, tests): check what the CLI parser would have.
  if (
    o.include !== undefined &&
    !(Array.isArray(o.include) && o.include.every((x) => typeof x === 'string'))
  )
    throw new SpecError('--include takes names: all, op types or tensor names');
  if (o.allowClip !== undefined && typeof o.allowClip !== 'boolean')
    throw new SpecError('--allow-clip is a switch (true or false)');
  if (has('int8')) o.granularity ??= 'channel';
  if (has('int4')) {
    o.blockSize ??= 32;
    if (!Number.isInteger(o.blockSize) || o.blockSize < 2 || o.blockSize > 4096)
      throw new SpecError('--block-size must be an integer from 2 to 4096');
  }
  if (has('fixed')) {
    o.bits ??= 8;
    if (!Number.isInteger(o.bits) || o.bits < 2 || o.bits > 16)
      throw new SpecError('--bits must be an integer from 2 to 16');
  }
  if (has('cluster')) {
    o.clusters ??= 16;
    if (!Number.isInteger(o.clusters) || o.clusters < 2 || o.clusters > 256)
      throw new SpecError('--clusters must be an integer from 2 to 256');
  }
  if (has('prune')) {
    const ways = [
      o.sparsity !== undefined,
      o.threshold !== undefined,
      o.pattern !== undefined,
    ].filter(Boolean).length;
    if (ways === 0) o.sparsity = 0.5;
    if (ways > 1) throw new SpecError('prune takes one of --sparsity, --threshold or --pattern');
    if (o.sparsity !== undefined && !(o.sparsity >= 0 && o.sparsity < 1))
      throw new SpecError('--sparsity must be in [0, 1)');
    if (typeof o.threshold === 'number' && !(o.threshold >= 0))
      throw new SpecError('--threshold must be >= 0 or "mean"');
    if (o.pattern && !(o.pattern.n >= 1 && o.pattern.n < o.pattern.m && o.pattern.m <= 64))
      throw new SpecError('--pattern N:M needs 1 <= N < M <= 64');
    if (o.random && o.sparsity === undefined) throw new SpecError('--random needs --sparsity');
    if (o.criterion === 'hessian' && (o.sparsity === undefined || o.random || o.scope === 'global'))
      throw new SpecError(
        '--criterion hessian takes --sparsity per layer (not --threshold, --pattern, --random or --scope global)',
      );
    if (o.compensate !== undefined && o.criterion !== 'hessian')
      throw new SpecError('--compensate and --no-compensate go with --criterion hessian');
    if (o.criterion === 'hessian') o.compensate ??= true;
    o.scope ??= 'layer';
    o.seed ??= 0;
    o.store ??= 'dense';
  }
  if (has('channels') || has('lowrank')) {
    o.amount ??= 0.25;
    if (!(typeof o.amount === 'number' && o.amount > 0 && o.amount < 1)) {
      throw new SpecError(
        `--amount must be between 0 and 1 (a fraction of the ${has('channels') ? 'channels' : "factorable layers' parameters"} to remove)`,
      );
    }
  } else if (o.amount !== undefined)
    throw new SpecError('--amount goes with --method channels or lowrank');
  if (has('channels')) {
    o.reconstruct ??= true;
    o.importance ??= DEFAULT_CHANNEL_IMPORTANCE;
    if (!['l2', 'bn', 'activation'].includes(o.importance))
      throw new SpecError('--importance is l2, bn or activation');
    o.scope ??= DEFAULT_CHANNEL_SCOPE;
  } else if (o.importance !== undefined)
    throw new SpecError('--importance goes with --method channels');
  else if (o.reconstruct !== undefined)
    throw new SpecError('--reconstruct and --no-reconstruct go with --method channels');
  if (has('lowrank')) {
    if (o.criterion !== undefined && o.criterion !== 'svd' && o.criterion !== 'data')
      throw new SpecError('--criterion for lowrank is svd or data');
    o.criterion ??= LOWRANK_DEFAULT_CRITERION;
  } else if (o.criterion === 'svd' || o.criterion === 'data')
    throw new SpecError(`--criterion ${o.criterion} goes with --method lowrank`);
  if (has('sign') && typeof o.threshold === 'number' && !(o.threshold >= 0 && o.threshold < 10))
    throw new SpecError('--threshold for sign must be in [0, 10)');
  if (spec.overrides) {
    for (const [name, choice] of Object.entries(spec.overrides)) {
      if (!LAYER_CHOICES.includes(choice))
        throw new SpecError(
          `tensor '${name}': unknown choice '${choice}' (one of ${LAYER_CHOICES.join(', ')})`,
        );
    }
  }
  // Methods an override brings in need their defaults too.
  const brought = new Set(Object.values(spec.overrides ?? {}));
  if (brought.has('int4')) o.blockSize ??= 32;
  if (brought.has('int8')) o.granularity ??= 'channel';
  if (brought.has('fixed')) o.bits ??= 8;
  if (brought.has('cluster')) o.clusters ??= 16;
  return { ...spec, methods: spec.methods, options: o };
}

/** The part of the variant's file name after the stem: model.onnx → model.<suffix>.onnx. */
export function variantSuffix(spec: CompressSpec): string {
  const o = spec.options;
  return spec.methods
    .map((m) => {
      switch (m) {
        case 'prune':
          if (o.pattern) return `prune${o.pattern.n}of${o.pattern.m}`;
          if (o.threshold === 'mean') return 'prunemean';
          if (typeof o.threshold === 'number') return `prunet${o.threshold}`;
          return `${o.random ? 'prunerand' : o.criterion === 'hessian' ? 'prunehess' : 'prune'}${Math.round((o.sparsity ?? 0.5) * 100)}`;
        case 'fixed':
          return `fixed${o.bits ?? 8}`;
        case 'cluster':
          return `cluster${o.clusters ?? 16}`;
        case 'int8':
          return o.asymmetric ? 'uint8' : 'int8';
        case 'channels':
          return `channels${Math.round((o.amount ?? 0.25) * 100)}`;
        case 'lowrank':
          return `lowrank${(o.criterion ?? LOWRANK_DEFAULT_CRITERION) === LOWRANK_DEFAULT_CRITERION ? '' : o.criterion}${Math.round((o.amount ?? 0.25) * 100)}`;
        default:
          return m;
      }
    })
    .concat(spec.overrides && Object.keys(spec.overrides).length ? ['mixed'] : [])
    .join('.');
}

/** A fidelity goal in a few words, e.g. "output cosine ≥ 0.999" or "file within 80 KiB": the wizard, the CLI and the report say it alike. */
export function describeGoal(goal: { targetCosine?: number; sizeBudget?: number }): string {
  return goal.targetCosine !== undefined
    ? `output cosine ≥ ${goal.targetCosine}`
    : `file within ${formatBytes(goal.sizeBudget ?? 0)}`;
}
