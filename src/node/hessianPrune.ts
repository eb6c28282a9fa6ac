import { capabilitiesOf } from '../core/formats/capabilities';
import * as path from 'node:path';
import {
  HESSIAN_OPS,
  planHessian,
  type HessianComparison,
  type HessianTensorComparison,
  type WeightPlan,
} from '../core/compress/hessianPlan';
import { applyMask, pruneMagnitude } from '../core/compress/methods';
import {
  factorHessian,
  Gram,
  obsPrune,
  outputErrors,
  weightRows,
  type HessianFactor,
} from '../core/compress/methods/obs';
import { normaliseSpec, type CompressSpec } from '../core/compress/spec';
import type { WeightCandidate } from '../core/compress/weights';
import { CancelledError, invalid } from '../core/errors';
import { readModel } from '../core/formats';
import { readGraphNodes } from '../core/formats/onnx/nodes';
import { runInputs } from './data/open';
import type { Model } from '../core/model';
import { OutputComparison } from '../core/verify/metrics';
import { isSupportedDtype, type HostTensor } from '../core/verify/tensor';
import { measuredOn } from '../core/verify/report';
import type { VerifySettings } from '../core/verify/verify';
import { collectHessians, runSamples, type ModelBytes } from './activations';
import { compressInMemory } from './inMemory';
import {
  afterWrite,
  compressFile,
  type CompressFileOptions,
  type CompressFileResult,
} from './compress';
import { modelBytes, ortFor, withModelFile } from './verify';

/** Calibration runs when the inputs are synthesised: enough rows to see the layers' input correlations. */
export const DEFAULT_CALIBRATION_SAMPLES = 32;

export interface HessianCompressOptions extends CompressFileOptions {
  /** Calibration inputs: files, samples (default 32), seed, shapes; the same settings verify takes. */
  calibration?: VerifySettings;
  /** Folder holding onnxruntime-web's .wasm/.mjs (default: `ort` next to the running bundle). */
  wasmDir?: string;
}

/**
 * Compresses with `--criterion hessian`: runs the model with onnxruntime-web on calibration inputs,
 * reading each MatMul/Gemm/Conv weight's input activations as extra graph outputs and folding them
 * into H = XᵀX as they arrive; prunes by OBS saliency (compensating the survivors unless told not
 * to); then measures the variant and a magnitude-pruned one at the same sparsity against the original.
 */
export async function compressFileHessian(
  input: string,
  spec: CompressSpec,
  options: HessianCompressOptions = {},
): Promise<CompressFileResult> {
  const started = performance.now();
  const s = normaliseSpec(spec);
  const sparsity = s.options.sparsity!;
  const compensate = s.options.compensate ?? true;
  const settings: VerifySettings = {
    ...options.calibration,
    samples: options.calibration?.samples ?? DEFAULT_CALIBRATION_SAMPLES,
    seed: options.calibration?.seed ?? s.options.seed,
  };
  const { ort } = ortFor({ ...settings, wasmDir: options.wasmDir });
  const check = () => {
    if (options.cancelled?.()) throw new CancelledError();
  };
  const { model, plans, original } = withModelFile(input, (source, resolver) => {
    const model = readModel(source, path.basename(input), resolver);
    if (!capabilitiesOf(model.format).runnable)
      invalid(
        `the Hessian criterion needs an ONNX model (onnxruntime runs it); this is ${model.format}`,
      );
    return {
      model,
      plans: planHessian(model, readGraphNodes(source, HESSIAN_OPS)),
      original: modelBytes(input, model),
    };
  });
  const warnings: string[] = [];
  const feeds = await runInputs(input, model, settings, warnings, options.cancelled);
  const allGiven = feeds.allGiven;
  const fetch = model.outputs.filter((o) => isSupportedDtype(o.dtype)).map((o) => o.name);
  const evalSamples = allGiven ? 1 : feeds.samples;
  const runs = feeds.samples + (allGiven ? 0 : evalSamples) + 2 * evalSamples;
  let done = 0;
  const step = (what: string) => {
    check();
    options.progress?.(done++, runs, what);
  };

  const grams = await collectHessians(ort, input, model, plans, original, feeds, fetch, (i) =>
    step(`calibration run ${i + 1}/${feeds.samples}`),
  );
  const reference: Map<string, HostTensor>[] = [];
  if (!allGiven) {
    await runSamples(
      ort,
      input,
      original,
      feeds,
      fetch,
      evalSamples,
      feeds.samples,
      (i, out) => {
        step(`held-out run ${i + 1}/${evalSamples}`);
        reference.push(out);
      },
      true,
    );
  } else reference.push(grams.outputs);

  const outcomes = new Map<string, HessianTensorComparison>();
  const hook = (c: WeightCandidate, values: Float32Array): Float32Array | undefined => {
    const plan = plans.get(c.index);
    if (!plan) return undefined;
    // Pruned alone, float64 weights keep their own values under the mask (pipeline's pruneFloat64): no compensation reaches them.
    const maskOnly = plan.dtype === 11 && s.methods.length === 1;
    const { comparison, values: pruned } = pruneWeight(
      plan,
      grams.byWeight.get(c.index),
      c,
      values,
      sparsity,
      compensate && !maskOnly,
    );
    if (compensate && maskOnly && pruned)
      comparison.note = [comparison.note, 'float64 weights keep their values: mask only']
        .filter(Boolean)
        .join('; ');
    grams.byWeight.delete(c.index);
    outcomes.set(plan.name, comparison);
    return pruned;
  };
  const result = compressFile(input, s, { ...options, prune: hook });
  for (const t of result.report.tensors) {
    const o = outcomes.get(t.name);
    if (!o) continue;
    if (o.hessian !== 'magnitude')
      t.method = t.method.replace(
        /^prune/,
        compensate && o.hessian === 'full' ? 'hessian prune, compensated' : 'hessian prune',
      );
    if (o.note) t.note = t.note ? `${o.note}; ${t.note}` : o.note;
  }

  return afterWrite(result.output, async () => {
    const magnitude = magnitudeVariant(input, model, s);
    const variantModel = withModelFile(result.output, (source, resolver) =>
      readModel(source, path.basename(result.output), resolver),
    );
    const variants = [
      { label: result.output, bytes: modelBytes(result.output, variantModel) },
      { label: `${input} (magnitude-pruned)`, bytes: magnitude },
    ];
    const comparisons = variants.map(() => new Map(fetch.map((n) => [n, new OutputComparison(n)])));
    for (const [k, v] of variants.entries()) {
      await runSamples(
        ort,
        v.label,
        v.bytes,
        feeds,
        fetch,
        evalSamples,
        allGiven ? 0 : feeds.samples,
        (i, out) => {
          step(`${k === 0 ? 'variant' : 'magnitude variant'} run ${i + 1}/${evalSamples}`);
          for (const [name, c] of comparisons[k]) c.add(reference[i].get(name)!, out.get(name)!);
        },
      );
    }
    const hessian: HessianComparison = {
      sparsity,
      compensate,
      samples: feeds.samples,
      inputs: allGiven ? 'files' : 'random',
      measuredOn: measuredOn(
        evalSamples,
        feeds.seed,
        feeds.reports(feeds.inputs.map((i) => i.name)),
        allGiven ? 0 : feeds.samples,
      ),
      tensors: [...outcomes.values()],
      evaluation: allGiven ? 'calibration' : 'held-out',
      outputs: fetch.map((name) => {
        const [h, m] = comparisons.map((c) => c.get(name)!.report());
        return {
          name,
          cosine: h.cosine,
          relL2: h.relL2,
          magnitudeCosine: m.cosine,
          magnitudeRelL2: m.relL2,
        };
      }),
      elapsedMs: performance.now() - started,
    };
    result.report.hessian = hessian;
    result.report.warnings.push(...warnings);
    result.elapsedMs = performance.now() - started;
    return result;
  });
}

/** The same compression with the magnitude criterion, in memory: the baseline the report compares against. */
function magnitudeVariant(input: string, model: Model, spec: CompressSpec): ModelBytes {
  const { compensate: _, ...options } = spec.options;
  return withModelFile(input, (source, resolver) =>
    compressInMemory(
      { file: input, source, resolver, model },
      { ...spec, options: { ...options, criterion: 'magnitude' } },
      {},
    ),
  );
}

/** Prunes one weight by its Hessian (or says why magnitude is used) and measures both against each other. */
function pruneWeight(
  plan: WeightPlan,
  grams: Gram[] | undefined,
  c: WeightCandidate,
  values: Float32Array,
  sparsity: number,
  compensate: boolean,
): { comparison: HessianTensorComparison; values?: Float32Array } {
  const comparison: HessianTensorComparison = {
    name: plan.name,
    layer: c.layer,
    hessian: 'magnitude',
  };
  if (plan.fallback || !grams) {
    comparison.note = `magnitude: ${plan.fallback ?? 'no activations reached it'}`;
    return { comparison };
  }
  const factors: HessianFactor[] = [];
  for (const g of grams) {
    const f = factorHessian(g);
    if (!f) {
      comparison.note = 'magnitude: its activations are not finite';
      return { comparison };
    }
    factors.push(f);
  }
  const view = weightRows(plan.layout, plan.groups);
  const pruned = obsPrune(values, view, factors, sparsity, compensate && !plan.diagonal);
  const magnitude = applyMask(values, pruneMagnitude(values, sparsity));
  const { errors, rows } = outputErrors(values, [pruned, magnitude], view, grams);
  const [hessianError, magnitudeError] = errors;
  const dead = factors.reduce((n, f) => n + f.dead, 0);
  const notes = [
    plan.note,
    dead ? `${dead} input${dead > 1 ? 's' : ''} never active on the calibration inputs` : '',
    rows < view.rows ? `layer error measured on ${rows} of ${view.rows} output rows` : '',
  ];
  comparison.hessian = plan.diagonal ? 'diagonal' : 'full';
  comparison.outputError = hessianError;
  comparison.magnitudeOutputError = magnitudeError;
  const note = notes.filter(Boolean).join('; ');
  if (note) comparison.note = note;
  return { comparison, values: pruned };
}
