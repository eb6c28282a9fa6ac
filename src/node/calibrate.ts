import { capabilitiesOf } from '../core/formats/capabilities';
import type { CompressHooks } from '../core/compress/report';
import {
  pickForFullRuns,
  pinLadders,
  PROXY_ROWS,
  proxyNoise,
  predictedDamage,
  raiseForTarget,
  raiseWithinBudget,
  rankLayers,
  upgradesFor,
  weightShape,
  type FidelityResult,
  type LayerLadder,
  type LayerSensitivity,
  type Rung,
  type SensitivityReport,
  type WeightShape,
} from '../core/compress/sensitivity';
import {
  isTargetCosine,
  normaliseSpec,
  variantSuffix,
  type CompressSpec,
  type LayerChoice,
} from '../core/compress/spec';
import { CancelledError, invalid } from '../core/errors';
import type { Model } from '../core/model';
import { Calibration, type Fidelity } from '../core/verify/calibration';
import { isSupportedDtype, verifyError } from '../core/verify/tensor';
import { HESSIAN_OPS, planHessian } from '../core/compress/hessianPlan';
import { outputErrors, weightRows, type Gram, type WeightRows } from '../core/compress/methods/obs';
import { readGraphNodes } from '../core/formats/onnx/nodes';
import { realInputs, type SuppliedTensor } from '../core/verify/inputs';
import {
  DEFAULT_SAMPLES,
  openRunData,
  planInputs,
  type DataWatch,
  type InputPlan,
  type ModelUnderTest,
  type OpenData,
} from '../core/verify/verify';
import type { CalibrationSettings, FidelityGoal } from '../shared/protocol';

export type { FidelityGoal };
import {
  afterWrite,
  compressFile,
  type CompressFileOptions,
  type CompressFileResult,
} from './compress';
import { collectHessians } from './activations';
import {
  compressInMemory,
  compressReportOnly,
  withOpenModel,
  type InMemoryVariant,
  type OpenModel,
} from './inMemory';
import { modelBytes, modelUnderTest, ortFor } from './verify';
import { loadInputFiles } from './verify/inputFiles';
import { dataOpener } from './data/open';
import { halfOf } from '../core/data/dataset';
import { openOrtWebSession } from './verify/ortWeb';

/** Full model runs a sensitivity scan makes by default: the layers worst by the weight proxy. */
export const DEFAULT_FULL_RUNS = 100;

export interface CalibrationOptions extends CalibrationSettings {
  wasmDir?: string;
  /** A synchronous cancel check (the worker's shared flag), polled inside in-memory compressions. */
  cancelled?: () => boolean;
  signal?: AbortSignal;
  /** Called as the scan or search advances; `what` names the step. */
  progress?: (done: number, total: number, what: string) => void;
}

export interface SensitivityOptions extends CalibrationOptions {
  /** Layers given a full model run (the worst by weight SQNR); the rest show the proxy only. */
  fullRuns?: number;
  /**
   * Only what ranking by full runs needs (a verdict's suspects): the activation-weighted proxy is
   * computed only when there are more layers than full runs and it must choose which get one.
   */
  measuredOnly?: boolean;
}

function variantUnderTest(
  ort: ReturnType<typeof ortFor>['ort'],
  label: string,
  v: InMemoryVariant,
): Pick<ModelUnderTest, 'label' | 'open'> {
  return { label, open: () => openOrtWebSession(ort, label, v.bytes, v.externalData) };
}

/** In-memory compressions are synchronous: they poll the caller's shared flag as well as the signal. */
function cancelHooks(signal: AbortSignal | undefined, cancelled?: () => boolean): CompressHooks {
  return { cancelled: () => (signal?.aborted ?? false) || (cancelled?.() ?? false) };
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}

/** Loads the tensors a run feeds from files. */
type InputLoader = () => SuppliedTensor[];

/** Rows [from, to) of a tensor along its first axis (a view: no copy). */
function rows(t: SuppliedTensor, from: number, to: number): SuppliedTensor {
  const per = t.tensor.dims.slice(1).reduce((a, b) => a * b, 1);
  return {
    name: t.name,
    source: `${t.source} rows ${from}–${to - 1}`,
    tensor: {
      dtype: t.tensor.dtype,
      dims: [to - from, ...t.tensor.dims.slice(1)],
      data: t.tensor.data.subarray(from * per, to * per),
    },
  };
}

/**
 * The inputs a fidelity search tunes on and those it is checked on. Held-out files when given;
 * else, when files supply every input with one batch of N ≥ 2 rows and the model's batch axis is
 * free, the first half of the rows calibrate and the rest check; else held-out samples are random
 * streams after the calibration ones (files, if any, feed both).
 */
function splitInputs(
  model: Model,
  options: CalibrationOptions,
): { calibration: InputLoader; heldOut: InputLoader; heldOutOffset: number; split: boolean } {
  const load = () => loadInputFiles(options.inputs ?? []);
  if (options.heldOutInputs?.length)
    return {
      calibration: load,
      heldOut: () => loadInputFiles(options.heldOutInputs!),
      heldOutOffset: 0,
      split: false,
    };
  const inputs = realInputs(model);
  const supplied = options.inputs?.length ? load() : [];
  const batch = supplied[0]?.tensor.dims[0] ?? 0;
  const splittable =
    supplied.length >= inputs.length &&
    batch >= 2 &&
    supplied.every((t) => t.tensor.dims.length > 0 && t.tensor.dims[0] === batch) &&
    inputs.every((i) => typeof i.shape?.[0] !== 'number' || (i.shape[0] as number) < 0);
  if (!splittable)
    return {
      calibration: load,
      heldOut: load,
      heldOutOffset: options.samples ?? DEFAULT_SAMPLES,
      split: false,
    };
  const half = Math.ceil(batch / 2);
  return {
    calibration: () => supplied.map((t) => rows(t, 0, half)),
    heldOut: () => supplied.map((t) => rows(t, half, batch)),
    heldOutOffset: 0,
    split: true,
  };
}

/**
 * The user's data for runs of `file`: all of it, or what a fidelity search calibrates or checks on —
 * `data` and `heldOutData` when both are given, else the two halves of a seeded split of `data`.
 */
function dataPart(
  file: string,
  options: CalibrationOptions,
  part?: 'calibration' | 'held-out',
): OpenData | undefined {
  if (options.heldOutData?.length && part)
    return dataOpener(
      file,
      part === 'held-out' ? { ...options, data: options.heldOutData } : options,
    );
  const open = dataOpener(file, options);
  return (
    open &&
    (part
      ? async (model, inputs, limit, watch) =>
          halfOf(await open(model, inputs, 2 * limit, watch), part, options.seed ?? 0)
      : open)
  );
}

/** How a scan or search follows and cancels the first read of its data. */
function dataWatch(options: CalibrationOptions): DataWatch {
  return {
    signal: options.signal,
    cancelled: options.cancelled,
    progress:
      options.progress && ((done, total) => options.progress!(done, total, 'reading the data')),
  };
}

/** The original's outputs on the calibration inputs, with the runtime that made them. */
interface Calibrated {
  rt: ReturnType<typeof ortFor>;
  plan: InputPlan;
  calibration: Calibration;
}

async function calibrate(
  m: OpenModel,
  options: CalibrationOptions,
  warnings: string[],
  load: InputLoader,
  part?: 'calibration',
): Promise<Calibrated> {
  if (!capabilitiesOf(m.model.format).runnable)
    invalid(`fidelity runs use onnxruntime, so they need an ONNX model; this is ${m.model.format}`);
  const rt = ortFor(options);
  const original = modelUnderTest(rt.ort, m.file);
  const data = await openRunData(
    m.model,
    options,
    dataPart(m.file, options, part),
    dataWatch(options),
  );
  const plan = planInputs(m.model, load, options, warnings, 0, data);
  const calibration = await Calibration.create(original, plan, options.signal);
  return { rt, plan, calibration };
}

/**
 * Compresses each weight alone and measures what it does to the model's outputs on calibration
 * inputs. The weight error of every layer comes first (one pass); full model runs go to the
 * `fullRuns` layers the proxy says are worst. Sorted worst first.
 */
export async function analyseSensitivity(
  file: string,
  spec: CompressSpec,
  options: SensitivityOptions = {},
): Promise<SensitivityReport> {
  const started = performance.now();
  const s = normaliseSpec(spec);
  return withOpenModel(file, async (m) => {
    const warnings: string[] = [];
    const cal = await calibrate(m, options, warnings, () => loadInputFiles(options.inputs ?? []));
    const report = await scan(m, s, options, cal);
    return {
      ...report,
      warnings: [...warnings, ...report.warnings],
      elapsedMs: performance.now() - started,
    };
  });
}

type LayerHessians = Map<number, { view: WeightRows; grams: Gram[] }>;

/**
 * H = XᵀX of every MatMul/Gemm/Conv weight's input activations on the calibration samples (one
 * run each, the activations read back as extra outputs), keyed by tensor index; estimated from
 * PROXY_ROWS seeded rows per activation per sample.
 */
async function layerHessians(
  m: OpenModel,
  cal: Calibrated,
  options: SensitivityOptions,
): Promise<LayerHessians> {
  const plans = planHessian(m.model, readGraphNodes(m.source, HESSIAN_OPS));
  const fetch = m.model.outputs.filter((o) => isSupportedDtype(o.dtype)).map((o) => o.name);
  const h = await collectHessians(
    cal.rt.ort,
    m.file,
    m.model,
    plans,
    modelBytes(m.file, m.model),
    cal.plan,
    fetch,
    (i) => {
      checkAborted(options.signal);
      options.progress?.(i, cal.plan.samples, 'activations');
    },
    { budget: PROXY_ROWS, seed: cal.plan.seed },
  );
  const out: LayerHessians = new Map();
  for (const [index, grams] of h.byWeight) {
    const plan = plans.get(index)!;
    out.set(index, { view: weightRows(plan.layout, plan.groups), grams });
  }
  return out;
}

async function scan(
  m: OpenModel,
  s: CompressSpec,
  options: SensitivityOptions,
  cal: Calibrated,
): Promise<SensitivityReport> {
  const started = performance.now();
  const limit = options.fullRuns ?? DEFAULT_FULL_RUNS;
  if (!(Number.isSafeInteger(limit) || limit === Infinity) || limit < 0)
    verifyError('the number of full runs must be a whole number');
  const hooks = cancelHooks(options.signal, options.cancelled);
  const activationError = new Map<string, number>();
  const proxy =
    (hessians: LayerHessians): NonNullable<CompressHooks['inspect']> =>
    (c, original, reconstructed) => {
      const h = hessians.get(c.index);
      if (h)
        activationError.set(
          c.tensor.name,
          outputErrors(original, [reconstructed], h.view, h.grams).errors[0],
        );
    };
  const measureProxy = options.measuredOnly
    ? undefined
    : proxy(await layerHessians(m, cal, options));
  const shapes = new Map<string, WeightShape>();
  const all = compressInMemory(m, s, {
    ...hooks,
    inspect: (c, original, reconstructed) => {
      shapes.set(c.tensor.name, weightShape(original));
      measureProxy?.(c, original, reconstructed);
    },
  });
  const tensors = all.report.tensors;
  if (!tensors.length) invalid(`no weights to compress with ${s.methods.join('+')} were found`);
  // More layers than full runs: the proxy picks them after all, from a second pass over the weights.
  if (!measureProxy && tensors.length > limit)
    compressReportOnly(m, s, { ...hooks, inspect: proxy(await layerHessians(m, cal, options)) });
  const byName = new Map(m.model.tensors.map((t) => [t.name, t] as const));
  const layers: LayerSensitivity[] = tensors.map((t) => {
    checkAborted(options.signal);
    const ref = byName.get(t.name)!;
    return {
      tensor: t.name,
      layer: t.layer,
      op: t.op,
      count: ref.count,
      bytesBefore: t.bytesBefore,
      bytesAfter: t.bytesAfter,
      weight: {
        sqnrDb: t.sqnrDb,
        mse: t.mse,
        cosine: t.cosine,
        ...(activationError.has(t.name) ? { activationError: activationError.get(t.name) } : {}),
      },
      shape: shapes.get(t.name)!,
    };
  });
  const { rt, plan, calibration } = cal;
  const chosen = pickForFullRuns(layers, limit);
  const total = chosen.size + 1;
  let done = 0;
  options.progress?.(done, total, 'all layers');
  const allFidelity = await calibration.measure(
    variantUnderTest(rt.ort, `${m.file} (all layers)`, all),
  );
  options.progress?.(++done, total, 'all layers');
  for (const layer of layers) {
    if (!chosen.has(layer.tensor)) continue;
    checkAborted(options.signal);
    const v = compressInMemory(m, { ...s, only: [layer.tensor] }, hooks);
    const f = await calibration.measure(
      variantUnderTest(rt.ort, `${m.file} (${layer.tensor} only)`, v),
    );
    layer.output = { cosine: f.cosine, relL2: f.relL2 };
    options.progress?.(++done, total, layer.tensor);
  }
  return {
    file: m.file,
    methods: s.methods,
    suffix: variantSuffix(s),
    samples: plan.samples,
    seed: plan.seed,
    inputs: calibration.inputReports(),
    measuredOn: calibration.measuredOn(),
    layers: rankLayers(layers),
    all: {
      cosine: allFidelity.cosine,
      relL2: allFidelity.relL2,
      fileBytesAfter: all.report.totals.fileBytesAfter,
    },
    fileBytesBefore: all.report.totals.fileBytesBefore,
    fullRuns: chosen.size,
    elapsedMs: performance.now() - started,
    runtime: rt.version,
    warnings: [],
  };
}

/** 1 − cosine, the damage a layer does; never negative (a cosine of 1.0000001 is rounding). */
const damageOf = (cosine: number) => Math.max(0, 1 - cosine);

/**
 * Each layer's ladder of choices with its bytes and predicted damage. The damage at the
 * method's own rung is measured (a full run with that layer alone compressed); higher rungs
 * scale it by their weight error: damage grows with the noise a layer puts in, to first order.
 * Layers without a full run borrow the median damage-per-noise of the measured ones.
 * Pinned layers get a single rung, their pinned choice.
 */
function buildLadders(
  m: OpenModel,
  s: CompressSpec,
  sens: SensitivityReport,
  hooks: CompressHooks,
  pinned: Record<string, LayerChoice>,
): LayerLadder[] {
  const storage = s.methods.find((x) => x !== 'prune');
  const ups = upgradesFor(storage);
  const levels = new Map<LayerChoice, Map<string, { bytes: number; mse: number }>>();
  // A pin may name a choice no ladder climbs to (int4 in an int8 run, bf16): it is measured too.
  for (const choice of new Set([...ups, ...Object.values(pinned)])) {
    if (choice === 'float' || choice === storage) continue;
    const overrides = Object.fromEntries(sens.layers.map((l) => [l.tensor, choice]));
    const r = compressReportOnly(m, { ...s, overrides }, hooks);
    levels.set(
      choice,
      new Map(r.tensors.map((t) => [t.name, { bytes: t.bytesAfter, mse: t.mse }])),
    );
  }
  const perNoise = sens.layers
    .filter((l) => l.output && proxyNoise(l) > 0)
    .map((l) => damageOf(l.output!.cosine) / proxyNoise(l))
    .sort((a, b) => a - b);
  const typical = perNoise.length ? perNoise[Math.floor(perNoise.length / 2)] : 0;
  const baseDamage = (l: LayerSensitivity) =>
    l.output ? damageOf(l.output.cosine) : typical * proxyNoise(l);
  const rungAt = (l: LayerSensitivity, choice: LayerChoice): Rung | undefined => {
    if (choice === 'float') return { choice, bytes: l.bytesBefore, damage: 0 };
    const at = levels.get(choice)?.get(l.tensor);
    // A tensor the override left alone (already 16-bit for fp16, say) has no such rung.
    if (!at) return undefined;
    return {
      choice,
      bytes: at.bytes,
      damage: l.weight.mse > 0 ? (baseDamage(l) * at.mse) / l.weight.mse : 0,
    };
  };
  const ladders = sens.layers.map((l) => {
    const rungs: Rung[] = [{ choice: null, bytes: l.bytesAfter, damage: baseDamage(l) }];
    for (const choice of ups) {
      const r = rungAt(l, choice);
      if (r) rungs.push(r);
    }
    return { tensor: l.tensor, rungs };
  });
  const byName = new Map(sens.layers.map((l) => [l.tensor, l] as const));
  // A pinned choice that leaves the tensor as it is (fp16 on fp16 weights) costs its full bytes and no damage.
  return pinLadders(ladders, pinned, storage, (tensor, choice) => {
    const l = byName.get(tensor)!;
    return rungAt(l, choice) ?? { choice, bytes: l.bytesBefore, damage: 0 };
  });
}

function overridesAt(ladders: LayerLadder[], at: number[]): Record<string, LayerChoice> {
  const o: Record<string, LayerChoice> = {};
  ladders.forEach((l, i) => {
    const c = l.rungs[at[i]].choice;
    if (c !== null) o[l.tensor] = c;
  });
  return o;
}

/** Searches stop after this many checking runs; each run raises at least one layer, so it only binds on huge models. */
const MAX_SEARCH_RUNS = 24;

/**
 * Compresses with a per-layer choice of precision that reaches `goal.targetCosine` on the
 * calibration inputs with the fewest bytes (greedy by damage saved per byte), or the best
 * cosine within `goal.sizeBudget` bytes. The spec's overrides are pins: those layers keep their
 * choice and the search chooses for the rest. Writes the variant like compressFile and adds what
 * the search chose and measured, on calibration and held-out inputs, to its report.
 */
export async function compressForFidelity(
  input: string,
  spec: CompressSpec,
  goal: FidelityGoal,
  options: CompressFileOptions & CalibrationOptions,
): Promise<CompressFileResult> {
  const started = performance.now();
  const s = normaliseSpec(spec);
  const { targetCosine, sizeBudget } = goal;
  if ((targetCosine === undefined) === (sizeBudget === undefined))
    invalid('give one goal: a target cosine or a size budget');
  if (targetCosine !== undefined && !isTargetCosine(targetCosine))
    invalid('the target cosine must be above 0 and at most 1');
  if (sizeBudget !== undefined && !(Number.isSafeInteger(sizeBudget) && sizeBudget > 0))
    invalid('the size budget must be a positive whole number of bytes');
  const signal = options.signal;
  const hooks = cancelHooks(signal, options.cancelled);
  const progress = options.progress;
  const warnings: string[] = [];
  let runs = 0;
  const pinned = s.overrides ?? {};
  const unpinned: CompressSpec = { methods: s.methods, options: s.options };
  const chosen = await withOpenModel(input, async (m) => {
    const split = splitInputs(m.model, options);
    const cal = await calibrate(m, options, warnings, split.calibration, 'calibration');
    const sens = await scan(
      m,
      unpinned,
      {
        ...options,
        fullRuns: Infinity,
        progress: (d, t, w) => progress?.(d, t, `sensitivity: ${w}`),
      },
      cal,
    );
    warnings.push(...sens.warnings);
    const compressible = new Set(sens.layers.map((l) => l.tensor));
    for (const name of Object.keys(pinned))
      if (!compressible.has(name))
        warnings.push(`pin on '${name}' ignored: ${s.methods.join('+')} does not compress it`);
    runs = 1 + sens.fullRuns + 1;
    const ladders = buildLadders(m, unpinned, sens, hooks, pinned);
    const measureAt = async (at: number[]): Promise<{ fidelity: Fidelity; bytes: number }> => {
      checkAborted(signal);
      const v = compressInMemory(m, { ...s, overrides: overridesAt(ladders, at) }, hooks);
      runs++;
      const fidelity = await cal.calibration.measure(
        variantUnderTest(cal.rt.ort, `${input} (mixed)`, v),
      );
      return { fidelity, bytes: v.report.totals.fileBytesAfter };
    };
    let at = ladders.map(() => 0);
    // The scan measured every layer compressed at once: without pins the search starts from that cosine without another run.
    let current: { fidelity: Fidelity; bytes: number } | undefined = Object.keys(pinned).length
      ? await measureAt(at)
      : undefined;
    let cosine = current ? current.fidelity.cosine : sens.all!.cosine;
    // The smallest variant: every free layer at the method, pinned layers at their pins.
    const baseBytes = current ? current.bytes : sens.all!.fileBytesAfter;
    if (targetCosine !== undefined) {
      // Measured damage over predicted: the per-layer sum misjudges interactions, so the plan is rescaled by what the model really did.
      let scale = 1;
      for (let round = 1; cosine < targetCosine && round <= MAX_SEARCH_RUNS; round++) {
        progress?.(
          round,
          MAX_SEARCH_RUNS,
          `raising layers: cosine ${cosine.toFixed(6)} of ${targetCosine}`,
        );
        const predicted = predictedDamage(ladders, at);
        if (predicted > 0) scale = Math.max(scale, damageOf(cosine) / predicted);
        const next = raiseForTarget(ladders, at, damageOf(targetCosine) / scale);
        if (next.every((r, i) => r === at[i])) break;
        at = next;
        current = await measureAt(at);
        cosine = current.fidelity.cosine;
      }
      if (cosine < targetCosine)
        warnings.push(
          `cosine ${cosine.toFixed(6)} is below the target ${targetCosine} even after ${runs} runs`,
        );
    } else {
      const budget = sizeBudget!;
      if (budget < baseBytes)
        invalid(
          `the size budget ${budget} bytes is below the smallest variant with ${s.methods.join('+')}${Object.keys(pinned).length ? ' and the pinned layers' : ''} (${baseBytes} bytes)`,
        );
      // Stored weight bytes are known exactly; node and scale overhead are not, so an overshoot shrinks the budget and the plan is redone.
      let extra = budget - baseBytes;
      for (let round = 0; round < 4 && extra >= 0; round++) {
        const next = raiseWithinBudget(ladders, extra);
        if (next.every((r) => r === 0)) break;
        const trial = await measureAt(next);
        if (trial.bytes <= budget) {
          at = next;
          current = trial;
          break;
        }
        extra -= trial.bytes - budget + 1;
      }
    }
    // The report needs per-output figures of the final choice: one run when the search made none.
    current ??= await measureAt(at);
    return {
      ladders,
      at,
      current,
      measuredOn: cal.calibration.measuredOn(),
      model: m.model,
      split,
    };
  });
  const overrides = overridesAt(chosen.ladders, chosen.at);
  const result = compressFile(input, { ...s, overrides }, options);
  const held = await afterWrite(result.output, () =>
    heldOutFidelity(input, result.output, chosen.model, options, chosen.split, warnings),
  );
  runs += held ? 2 : 0;
  if (held && targetCosine !== undefined && held.cosine < targetCosine) {
    warnings.push(
      `the held-out cosine ${held.cosine.toFixed(6)} is below the target: the calibration inputs do not represent them well; use more samples or representative inputs`,
    );
  }
  // Layers left at the method get its storage choice (what a pin or the Sensitivity tab's select names), not the variant suffix.
  const base =
    s.methods.find((x) => x !== 'prune') ??
    variantSuffix({ methods: s.methods, options: s.options });
  const fidelity: FidelityResult = {
    goal,
    calibration: { ...chosen.current.fidelity, measuredOn: chosen.measuredOn },
    heldOut: held,
    choices: chosen.ladders.map((l) => ({ tensor: l.tensor, choice: overrides[l.tensor] ?? base })),
    ...(Object.keys(pinned).length
      ? {
          pinned: chosen.ladders.filter((l) => pinned[l.tensor] !== undefined).map((l) => l.tensor),
        }
      : {}),
    runs,
    met:
      targetCosine !== undefined
        ? chosen.current.fidelity.cosine >= targetCosine
        : result.report.totals.fileBytesAfter <= sizeBudget!,
    warnings,
  };
  result.report.fidelity = fidelity;
  return { ...result, elapsedMs: performance.now() - started };
}

/** The variant on the held-out inputs of `split`; undefined (with a warning) when there are none. */
async function heldOutFidelity(
  original: string,
  variant: string,
  model: Model,
  options: CalibrationOptions,
  split: ReturnType<typeof splitInputs>,
  warnings: string[],
): Promise<(Fidelity & { measuredOn: string }) | undefined> {
  const rt = ortFor(options);
  const data = await openRunData(
    model,
    options,
    dataPart(original, options, 'held-out'),
    dataWatch(options),
  );
  const plan = planInputs(
    model,
    split.heldOut,
    options,
    warnings,
    data ? 0 : split.heldOutOffset,
    data,
  );
  if (!plan.samples) {
    warnings.push(
      'not checked on held-out inputs: the data gives one sample, all of it used to calibrate',
    );
    return undefined;
  }
  if (!data && split.heldOutOffset > 0 && plan.allGiven) {
    warnings.push(
      'not checked on held-out inputs: every input came from files with no batch to split; give --heldout-inputs',
    );
    return undefined;
  }
  const calibration = await Calibration.create(
    modelUnderTest(rt.ort, original),
    plan,
    options.signal,
  );
  const f = await calibration.measure(modelUnderTest(rt.ort, variant));
  return { ...f, measuredOn: calibration.measuredOn() };
}
