import { firstSamples, type Dataset } from '../data/dataset';
import { dtypeInfo } from '../dtypes';
import { CancelledError } from '../errors';
import type { Model, ValueInfo } from '../model';
import {
  assignInputs,
  checkIntRange,
  checkShape,
  DEFAULT_INT_RANGE,
  realInputs,
  resolveShapes,
  synthesize,
  valueTensors,
  type InputOptions,
  type ResolvedShape,
  type SuppliedTensor,
} from './inputs';
import { OutputComparison } from './metrics';
import { Rng } from './random';
import {
  inputsRejected,
  measuredOn,
  type InputReport,
  type ModelTiming,
  type VerifyReport,
} from './report';
import { InferenceError, isSupportedDtype, verifyError, type HostTensor } from './tensor';

export const DEFAULT_SAMPLES = 8;
/** Runs per model: bounds the time a mistyped --samples can take. */
export const MAX_SAMPLES = 10_000;

/** Opens the user's data (images, recordings) for the model's inputs: node-side, since it reads files. */
/** Cancelling and following the first read of a data folder (it decodes every file to check it). */
export interface DataWatch {
  signal?: AbortSignal;
  cancelled?: () => boolean;
  /** Files read so far of those listed. */
  progress?: (done: number, total: number) => void;
}

/** `limit`: the samples the run takes at most (--samples), so a large folder is read only that far. */
export type OpenData = (
  model: Model,
  inputs: readonly ValueInfo[],
  limit: number,
  watch: DataWatch,
) => Promise<Dataset>;

/** The samples a run takes at most from data: --samples, else all up to MAX_SAMPLES. */
function sampleLimit(options: VerifySettings): number {
  return Math.min(options.samples ?? MAX_SAMPLES, MAX_SAMPLES);
}

/** The user's data for a run of `model`, opened (and checked) before the run is planned; undefined without data. */
export async function openRunData(
  model: Model,
  options: VerifySettings,
  openData: OpenData | undefined,
  watch: DataWatch,
): Promise<Dataset | undefined> {
  return openData?.(model, realInputs(model), sampleLimit(options), watch);
}

/** A loaded model in some runtime. */
export interface RuntimeSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs once and returns the `fetch` outputs. */
  run(feeds: Map<string, HostTensor>, fetch: readonly string[]): Promise<Map<string, HostTensor>>;
  release(): Promise<void>;
}

export interface ModelUnderTest {
  /** Path or name shown in messages and the report. */
  label: string;
  model: Model;
  open(): Promise<RuntimeSession>;
}

/** What a verification run is asked to do: plain data, so it crosses to a worker unchanged. */
export interface VerifySettings extends InputOptions {
  /** Random-input runs per model (default 8); ignored when every input comes from files. */
  samples?: number;
  /** Seed of the random inputs (default 0). */
  seed?: number;
  /** Input tensors from files (.npy, .npz, TensorProto .pb), matched to inputs by name, else in order; the rest are synthesised. */
  inputs?: string[];
  /** Images (PNG, JPEG) or recordings (WAV): files, folders or globs, made into samples by the model's recipe. */
  data?: string[];
  /** The recipe file for `data` (default: the model's <model>.lens.json, else one proposed from the model). */
  recipe?: string;
  /** onnxruntime-web threads (default 1); the first run in a process fixes it. */
  threads?: number;
}

export interface VerifyOptions extends VerifySettings {
  signal?: AbortSignal;
  /** Samples from the user's files (--data), fed to the inputs they fill; the rest as usual. */
  openData?: OpenData;
  /** Called after each inference run; `total` is both models' runs together. */
  onProgress?: (done: number, total: number) => void;
}

function describeType(v: ValueInfo): string {
  return v.dtype === 0
    ? 'not a tensor (a sequence, map or optional)'
    : `a ${dtypeInfo(v.dtype).name} tensor`;
}

/**
 * Runs the original on every sample, then the variant on the same inputs, and compares outputs.
 * One model is loaded at a time so both never share the runtime's memory; the original's outputs
 * are kept until the variant's arrive. `loadSupplied` reads input files once the models are known
 * to take tensors.
 */
export async function verifyModels(
  original: ModelUnderTest,
  variant: ModelUnderTest,
  loadSupplied: () => SuppliedTensor[],
  options: VerifyOptions,
  runtime: string,
): Promise<VerifyReport> {
  const start = performance.now();
  const warnings: string[] = [];
  const fetch = checkSameInterface(original, variant, realInputs(original.model), warnings);
  const data = await openRunData(original.model, options, options.openData, {
    signal: options.signal,
  });
  const plan = planInputs(original.model, loadSupplied, options, warnings, 0, data);
  const { inputs, given, shapes, samples, feeds } = plan;
  const variantInputs = realInputs(variant.model);
  for (const i of inputs) {
    const dims = given.get(i.name)?.tensor.dims ?? shapes.get(i.name)!.dims;
    checkShape(
      variantInputs.find((v) => v.name === i.name)!,
      dims,
      `input '${i.name}'`,
      variant.label,
    );
  }

  const total = 2 * samples;
  let done = 0;
  const step = () => {
    if (options.signal?.aborted) throw new CancelledError();
    options.onProgress?.(++done, total);
  };
  if (options.signal?.aborted) throw new CancelledError();

  const outputsA: Map<string, HostTensor>[] = [];
  let fed: readonly string[] = [];
  const run = { samples, feeds, fetch, inputs };
  const timingA = await runAll(
    original,
    run,
    (session) => {
      fed = session.inputNames;
    },
    (s, out) => {
      outputsA[s] = out;
      step();
    },
    (err) => plan.rejected(original.label, fed, err),
  );
  const comparisons = fetch.map((n) => new OutputComparison(n));
  const timingB = await runAll(
    variant,
    run,
    (session) => {
      if (
        session.inputNames.some((n) => !fed.includes(n)) ||
        fed.some((n) => !session.inputNames.includes(n))
      ) {
        verifyError(
          `the runtime wants inputs ${session.inputNames.join(', ')} for ${variant.label} but ${fed.join(', ')} for ${original.label}`,
        );
      }
    },
    (s, out) => {
      for (const c of comparisons) c.add(outputsA[s].get(c.name)!, out.get(c.name)!);
      outputsA[s] = new Map();
      step();
    },
  );

  const inputReports = plan.reports(fed);
  return {
    original: original.label,
    variant: variant.label,
    samples,
    seed: plan.seed,
    inputs: inputReports,
    measuredOn: plan.measuredOn(fed),
    outputs: comparisons.map((c) => c.report()),
    timing: { original: timingA, variant: timingB },
    elapsedMs: performance.now() - start,
    runtime,
    warnings,
  };
}

/** The inputs of a run: which tensors come from files or --value, the shapes of the synthesised ones, and how to make each sample's feeds. */
export interface InputPlan {
  inputs: ValueInfo[];
  given: Map<string, SuppliedTensor>;
  shapes: Map<string, ResolvedShape>;
  /** No input is random: every sample would be the same, so there is one. */
  allGiven: boolean;
  /** Runs per model; 1 when no input is random. */
  samples: number;
  seed: number;
  /** Sample `s` (synthesised inputs use stream `s` of the seed), restricted to the names the runtime takes. */
  feeds: (sample: number, names: readonly string[]) => Map<string, HostTensor>;
  reports: (fed: readonly string[]) => InputReport[];
  /** The one-line account of these inputs for a report (see measuredOn). */
  measuredOn: (fed: readonly string[]) => string;
  /** The error to throw when the original model `label` fails on sample feeds: an InferenceError becomes InputsRejectedError. */
  rejected: (label: string, fed: readonly string[], err: unknown) => unknown;
}

/**
 * Matches supplied tensors to the model's inputs and fixes the shapes and seed of the rest.
 * `sampleOffset` shifts the random streams: held-out samples use streams nobody calibrated on.
 */
export function planInputs(
  model: Model,
  loadSupplied: () => SuppliedTensor[],
  options: VerifySettings,
  warnings: string[],
  sampleOffset = 0,
  opened?: Dataset,
): InputPlan {
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) verifyError(`seed ${seed} is not an integer`);
  const requested = options.samples ?? DEFAULT_SAMPLES;
  if (!Number.isSafeInteger(requested) || requested < 1 || requested > MAX_SAMPLES)
    verifyError(`samples must be an integer from 1 to ${MAX_SAMPLES}`);
  const inputs = realInputs(model);
  const data = opened && firstSamples(opened, sampleLimit(options));
  if (opened?.skipped.length)
    warnings.push(
      `${opened.skipped.length} file${opened.skipped.length === 1 ? '' : 's'} skipped: ${opened.skipped.map((f) => f.reason).join('; ')}`,
    );
  const fromData = new Set(data?.inputs ?? []);
  const open = inputs.filter((i) => !fromData.has(i.name));
  const supplied = loadSupplied();
  const given = assignInputs(open, supplied, warnings);
  const shapes = resolveShapes(open, given, options);
  for (const name of fromData) shapes.set(name, { dims: data!.dims.get(name)! });
  // The recipe's constants fill the inputs the data does not; --value overrides them.
  const values = {
    ...Object.fromEntries(
      Object.entries(data?.values ?? {}).filter(([name]) => !fromData.has(name)),
    ),
    ...options.values,
  };
  const constants = valueTensors(open, given, shapes, values);
  const intRange = options.intRange ?? DEFAULT_INT_RANGE;
  checkIntRange(
    open.filter((i) => !given.has(i.name) && !constants.has(i.name)),
    intRange,
  );
  const allGiven = inputs.every((i) => given.has(i.name) || constants.has(i.name));
  const samples = data ? data.samples : allGiven ? 1 : requested;
  if (allGiven && requested !== 1 && options.samples !== undefined)
    warnings.push(
      `no input is random (all come from files or --value), so the models run once, not ${requested} times`,
    );
  const feeds = (sample: number, names: readonly string[]): Map<string, HostTensor> => {
    const rng = new Rng(seed, sample + sampleOffset);
    const fed = data?.feed(sample);
    const out = new Map<string, HostTensor>();
    // Synthesise in declaration order so a sample's inputs do not depend on which ones the runtime asks for.
    for (const spec of inputs) {
      const t =
        fed?.get(spec.name) ??
        given.get(spec.name)?.tensor ??
        constants.get(spec.name) ??
        synthesize(spec, shapes.get(spec.name)!.dims, rng, intRange);
      if (names.includes(spec.name)) out.set(spec.name, t);
    }
    return out;
  };
  const reports = (fed: readonly string[]): InputReport[] =>
    inputs
      .filter((i) => fed.includes(i.name))
      .map((i): InputReport => {
        const dtype = dtypeInfo(i.dtype).name;
        if (fromData.has(i.name))
          return { name: i.name, dtype, shape: data!.dims.get(i.name)!, source: data!.describe };
        const g = given.get(i.name);
        if (g) return { name: i.name, dtype, shape: g.tensor.dims, source: g.source };
        const { dims, chosen } = shapes.get(i.name)!;
        const source = constants.has(i.name)
          ? { source: 'value', value: values[i.name] }
          : { source: 'random' };
        return { name: i.name, dtype, shape: dims, ...source, ...(chosen ? { chosen } : {}) };
      });
  return {
    inputs,
    given,
    shapes,
    allGiven,
    samples,
    seed,
    feeds,
    reports,
    measuredOn: (fed) => measuredOn(samples, seed, reports(fed), sampleOffset),
    rejected: (label, fed, err) =>
      err instanceof InferenceError ? inputsRejected(label, reports(fed), err.reason) : err,
  };
}

export interface RunPlan {
  samples: number;
  feeds: (sample: number, names: readonly string[]) => Map<string, HostTensor>;
  fetch: readonly string[];
  inputs: ValueInfo[];
}

/** Opens `m` and runs every sample of `plan`; `runFailed` maps a run's error to the one to throw (the original's failures blame the inputs). */
export async function runAll(
  m: Pick<ModelUnderTest, 'label' | 'open'>,
  plan: RunPlan,
  check: (session: RuntimeSession) => void,
  onOutputs: (sample: number, outputs: Map<string, HostTensor>) => void,
  runFailed: (err: unknown) => unknown = (err) => err,
): Promise<ModelTiming> {
  const t0 = performance.now();
  const session = await m.open();
  const loadMs = performance.now() - t0;
  let runMs = 0;
  try {
    for (const n of session.inputNames) {
      if (!plan.inputs.some((i) => i.name === n))
        verifyError(
          `${m.label}: the runtime wants input '${n}', which the model does not declare as an input`,
        );
    }
    const missing = plan.fetch.filter((n) => !session.outputNames.includes(n));
    if (missing.length)
      verifyError(
        `${m.label}: the runtime does not list output${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')}`,
      );
    check(session);
    for (let s = 0; s < plan.samples; s++) {
      const f = plan.feeds(s, session.inputNames);
      const t = performance.now();
      const out = await session.run(f, plan.fetch).catch((err: unknown) => {
        throw runFailed(err);
      });
      runMs += performance.now() - t;
      onOutputs(s, out);
    }
  } finally {
    await session.release();
  }
  return { loadMs, runMs };
}

function listDifference(what: string, missing: string[], extra: string[]): string {
  const parts = [];
  if (missing.length) parts.push(`the variant lacks ${missing.map((n) => `'${n}'`).join(', ')}`);
  if (extra.length) parts.push(`the variant has extra ${extra.map((n) => `'${n}'`).join(', ')}`);
  return `${what} differ: ${parts.join('; ')}`;
}

/**
 * Both models must take the same tensor inputs (names and dtypes) and give the same outputs,
 * checked before any run. Returns the outputs to compare: tensors of a type the verifier reads.
 */
function checkSameInterface(
  original: ModelUnderTest,
  variant: ModelUnderTest,
  inputs: ValueInfo[],
  warnings: string[],
): string[] {
  const vInputs = realInputs(variant.model);
  const missing = inputs.filter((i) => !vInputs.some((v) => v.name === i.name)).map((i) => i.name);
  const extra = vInputs.filter((v) => !inputs.some((i) => i.name === v.name)).map((v) => v.name);
  if (missing.length || extra.length) verifyError(listDifference('inputs', missing, extra));
  for (const i of inputs) {
    const v = vInputs.find((x) => x.name === i.name)!;
    if (v.dtype !== i.dtype)
      verifyError(
        `input '${i.name}' is ${describeType(i)} in ${original.label} but ${describeType(v)} in ${variant.label}`,
      );
    if (!isSupportedDtype(i.dtype))
      verifyError(`input '${i.name}' is ${describeType(i)}, which the verifier cannot feed`);
  }
  const outA = original.model.outputs;
  const outB = variant.model.outputs;
  const missingOut = outA.filter((o) => !outB.some((b) => b.name === o.name)).map((o) => o.name);
  const extraOut = outB.filter((b) => !outA.some((o) => o.name === b.name)).map((b) => b.name);
  if (missingOut.length || extraOut.length)
    verifyError(listDifference('outputs', missingOut, extraOut));
  const fetch: string[] = [];
  for (const o of outA) {
    const b = outB.find((x) => x.name === o.name)!;
    const readable = isSupportedDtype(o.dtype) && isSupportedDtype(b.dtype);
    if (readable) fetch.push(o.name);
    else
      warnings.push(
        `output '${o.name}' is ${describeType(isSupportedDtype(o.dtype) ? b : o)} and is not compared`,
      );
  }
  if (fetch.length === 0)
    verifyError(
      `no output can be compared: ${outA.map((o) => `'${o.name}' is ${describeType(o)}`).join(', ') || 'the model has no outputs'}`,
    );
  return fetch;
}
