import * as path from 'node:path';
import type { ReconstructionReport, StructureReport } from '../core/compress/report';
import { halfOf } from '../core/data/dataset';
import { measuredOn } from '../core/verify/report';
import { reconstruct } from './reconstruct';
import { normaliseSpec, variantSuffix, type CompressSpec } from '../core/compress/spec';
import { readFloat64 } from '../core/compress/tensors';
import { CancelledError, invalid } from '../core/errors';
import { readModel } from '../core/formats';
import { analyseChannels, type ChannelAnalysis } from '../core/formats/onnx/structure/channels';
import { chooseCuts } from '../core/formats/onnx/structure/importance';
import { removalOf, removalPlan } from '../core/formats/onnx/structure/remove';
import { writeOnnx } from '../core/formats/onnx/writer';
import { MemorySource, readExactly } from '../core/io/source';
import type { Model, TensorRef } from '../core/model';
import { numericValues } from '../core/verify/tensor';
import {
  openRunData,
  planInputs,
  type InputPlan,
  type VerifySettings,
} from '../core/verify/verify';
import { dataOpener } from './data/open';
import { modelBytes, ortFor } from './verify';
import { loadInputFiles } from './verify/inputFiles';
import { runSamples } from './activations';
import { variantPath } from './atomicWrite';
import type { CompressFileOptions, CompressFileResult } from './compress';
import { FileSource, FolderResolver } from './fileSource';
import { memorySink } from './inMemory';
import {
  finishStructural,
  openStructure,
  parameters,
  STRUCTURE_KEY,
  structuralCost,
  type RunStructure,
} from './structural';

export interface ChannelsOptions extends CompressFileOptions {
  /** The inputs the one shape-finding run uses (the same settings verify takes). */
  calibration?: VerifySettings;
  wasmDir?: string;
}

/** Which indices of the teacher's tensors a student's sliced tensors kept, axis by axis. */
export interface Lineage {
  method: 'channels';
  teacher: string;
  tensors: Record<string, Record<number, number[]>>;
}

function lineage(
  teacher: string,
  removal: ReturnType<typeof removalOf>,
  constants: ReadonlyMap<string, TensorRef>,
): Lineage {
  const tensors: Lineage['tensors'] = {};
  for (const [name, axes] of removal.slices) {
    const dims = constants.get(name)!.dims;
    tensors[name] = Object.fromEntries(
      [...axes].map(([axis, drop]) => [
        axis,
        [...Array(dims[axis]).keys()].filter((i) => !drop.has(i)),
      ]),
    );
  }
  return { method: 'channels', teacher, tensors };
}

/** The groups of a model, with what the channel analysis needs read from the file. */
export async function analyseFile(
  input: string,
  options: ChannelsOptions = {},
): Promise<RunStructure & { analysis: ChannelAnalysis }> {
  const s = await openStructure(input, 'channel removal', options.calibration ?? {}, options);
  const analysis = analyseChannels({
    nodes: s.nodes,
    constants: s.constants,
    inputs: s.model.inputs.map((i) => i.name),
    outputs: s.model.outputs.map((o) => o.name),
    shapes: s.shapes,
  });
  return { ...s, analysis };
}

/**
 * Mean square of each feature of every activation a consumer of a prunable group reads, over the
 * calibration samples ('activation' importance): the energy each channel feeds its consumers.
 */
async function featureEnergy(
  teacher: RunStructure,
  analysis: ChannelAnalysis,
): Promise<Map<string, Float64Array>> {
  const wanted = new Map<string, number>();
  for (const g of analysis.groups)
    if (!g.unsafe)
      for (const s of g.slices) if (s.activation) wanted.set(s.activation.name, s.activation.axis);
  if (!wanted.size) return new Map();
  const inputs = new Set(teacher.model.inputs.map((i) => i.name));
  const outputs = new Set(teacher.model.outputs.map((o) => o.name));
  const extra = [...wanted.keys()].filter((n) => !inputs.has(n) && !outputs.has(n));
  const sink = memorySink();
  writeOnnx(
    new MemorySource(teacher.bytes.bytes, 'teacher'),
    { edits: [], outputs: extra.map((name) => ({ name, dtype: 0 })) },
    sink,
  );
  const sums = new Map<string, Float64Array>();
  const rows = new Map<string, number>();
  await runSamples(
    teacher.ort,
    'teacher',
    { bytes: sink.bytes(), externalData: teacher.bytes.externalData },
    teacher.feeds,
    [...new Set([...extra, ...[...wanted.keys()].filter((n) => outputs.has(n))])],
    teacher.feeds.samples,
    0,
    (_i, out, fed) => {
      for (const [name, axis] of wanted) {
        const t = out.get(name) ?? fed.get(name);
        if (!t) continue;
        const values = numericValues(t);
        const n = t.dims[axis];
        const inner = t.dims.slice(axis + 1).reduce((a, d) => a * d, 1);
        let acc = sums.get(name);
        if (!acc) sums.set(name, (acc = new Float64Array(n)));
        for (let i = 0; i < values.length; i++)
          acc[Math.floor(i / inner) % n] += values[i] * values[i];
        rows.set(name, (rows.get(name) ?? 0) + values.length / n);
      }
    },
    true,
  );
  for (const [name, acc] of sums) for (let i = 0; i < acc.length; i++) acc[i] /= rows.get(name)!;
  return sums;
}

/**
 * `--method channels`: removes `amount` of the channels of every group the analysis proves safe,
 * rewriting every weight, bias, norm parameter, shape constant and group count they touch; then
 * applies the rest of the chain (int8, ...) to the smaller graph. The original is only read.
 */
export async function compressFileChannels(
  input: string,
  spec: CompressSpec,
  options: ChannelsOptions = {},
): Promise<CompressFileResult> {
  const started = performance.now();
  const s = normaliseSpec(spec);
  const amount = s.options.amount!;
  const output = path.resolve(options.output ?? variantPath(input, variantSuffix(s)));
  if (path.resolve(input) === output) throw new Error('the output would overwrite the original');
  const check = () => {
    if (options.cancelled?.()) throw new CancelledError();
  };
  options.progress?.(0, 4, 'finding activation shapes');
  const teacher = await analyseFile(input, options);
  const { model, nodes, analysis } = teacher;
  check();
  options.progress?.(1, 4, 'removing channels');
  const source = new FileSource(input);
  const resolver = new FolderResolver(input);
  let bytes: Uint8Array;
  let structure: StructureReport;
  const warnings: string[] = [];
  let lin: Lineage;
  try {
    const constants = teacher.constants;
    const cache = new Map<string, { values: Float64Array; dims: readonly number[] }>();
    const read = (name: string) => {
      let t = cache.get(name);
      if (!t) {
        const ref = constants.get(name)!;
        cache.set(
          name,
          (t = { values: readFloat64(source, ref, (f) => resolver.open(f)), dims: ref.dims }),
        );
      }
      return t;
    };
    const energy =
      s.options.importance === 'activation' ? await featureEnergy(teacher, analysis) : undefined;
    const cuts = chooseCuts(
      analysis.groups,
      amount,
      { read, energy: energy && ((name) => energy.get(name)) },
      s.options.importance,
      s.options.scope,
    );
    if (!cuts.length) {
      const reasons = [...new Set(analysis.groups.map((g) => g.unsafe).filter(Boolean))].slice(
        0,
        3,
      );
      invalid(
        `no channels can be removed: ${analysis.groups.length ? `every group stays whole (${reasons.join('; ')})` : 'its main graph has no Conv, Gemm or MatMul with constant weights (layers inside If/Loop bodies are not analysed)'}`,
      );
    }
    const removal = removalOf(cuts);
    const plan = removalPlan(
      removal,
      nodes,
      constants,
      source,
      (f) => resolver.open(f),
      (n) => readExactly(source, n.span[0], n.span[1] - n.span[0]),
    );
    lin = lineage(path.basename(input), removal, constants);
    plan.metadata = [{ key: STRUCTURE_KEY, value: JSON.stringify(lin) }];
    const sink = memorySink();
    writeOnnx(source, plan, sink);
    bytes = sink.bytes();
    const kept = new Map(cuts.map((c) => [c.group.id, c.keep.length]));
    const after = readModel(new MemorySource(bytes, output), path.basename(output));
    structure = {
      method: 'channels',
      amount,
      importance: s.options.importance!,
      scope: s.options.scope!,
      parametersBefore: parameters(model),
      parametersAfter: parameters(after),
      channelsBefore: analysis.groups.filter((g) => !g.unsafe).reduce((n, g) => n + g.size, 0),
      channelsAfter: analysis.groups
        .filter((g) => !g.unsafe)
        .reduce((n, g) => n + (kept.get(g.id) ?? g.size), 0),
      groups: analysis.groups.map((g) => ({
        producers: g.producers,
        channels: g.size,
        kept: kept.get(g.id) ?? g.size,
        ...(g.unsafe ? { whole: g.unsafe } : {}),
      })),
    };
  } finally {
    source.close();
    resolver.close();
  }
  check();
  if (s.options.reconstruct) {
    options.progress?.(2, 4, 'reconstructing');
    const rec = await reconstructCut(input, model, bytes, lin!, s.options.seed ?? 0, options);
    bytes = rec.bytes;
    structure.reconstruction = rec.report;
    warnings.push(...rec.warnings);
  }
  check();
  options.progress?.(3, 4, 'measuring parameters, multiply-adds and latency');
  Object.assign(structure, await structuralCost(teacher, output, bytes));
  check();
  const result = finishStructural(input, output, s, 'channels', bytes, structure, options, started);
  result.report.warnings.push(...warnings);
  options.progress?.(4, 4, 'done');
  return result;
}

/** Calibration samples the refit uses when the inputs are synthesised or read from --data (and as many held out). */
export const DEFAULT_RECONSTRUCT_SAMPLES = 8;

/**
 * Reconstruction of a cut: calibration and held-out inputs from the verify settings (--data split in seeded
 * halves; random inputs: held-out streams after the calibration ones; files that give every input: one sample,
 * compared on itself), then node/reconstruct.ts.
 */
async function reconstructCut(
  input: string,
  model: Model,
  student: Uint8Array,
  lin: Lineage,
  seed: number,
  options: ChannelsOptions,
) {
  const base = options.calibration ?? {};
  const samples = base.samples ?? DEFAULT_RECONSTRUCT_SAMPLES;
  const settings: VerifySettings = { ...base, samples, seed: base.seed ?? seed };
  const { ort } = ortFor({ ...settings, wasmDir: options.wasmDir });
  const warnings: string[] = [];
  const opener = dataOpener(input, settings);
  const load = () => loadInputFiles(settings.inputs ?? []);
  let calibration: InputPlan;
  let heldOut: InputPlan;
  let inputs: ReconstructionReport['inputs'];
  if (opener) {
    const all = await openRunData(model, { ...settings, samples: 2 * samples }, opener, {
      cancelled: options.cancelled,
    });
    if (!all || all.samples < 2)
      invalid('reconstruction needs at least 2 samples of --data (half fit, half check)');
    calibration = planInputs(
      model,
      load,
      { ...settings, samples: Math.ceil(all.samples / 2) },
      warnings,
      0,
      halfOf(all, 'calibration', settings.seed!),
    );
    heldOut = planInputs(
      model,
      load,
      { ...settings, samples: all.samples - Math.ceil(all.samples / 2) },
      [],
      0,
      halfOf(all, 'held-out', settings.seed!),
    );
    inputs = 'data';
  } else {
    calibration = planInputs(model, load, settings, warnings, 0);
    heldOut = calibration.allGiven
      ? calibration
      : planInputs(model, load, settings, [], calibration.samples);
    inputs = calibration.allGiven ? 'files' : 'random';
  }
  const evaluation = calibration === heldOut ? 'calibration' : 'held-out';
  const fed = calibration.inputs.map((i) => i.name);
  const result = await reconstruct({
    ort,
    teacherLabel: input,
    teacher: modelBytes(input, model),
    teacherModel: model,
    student,
    kept: lin.tensors,
    calibration,
    heldOut,
    evaluation,
    inputs,
    measuredOn: measuredOn(
      heldOut.samples,
      heldOut.seed,
      heldOut.reports(fed),
      evaluation === 'held-out' && inputs === 'random' ? calibration.samples : 0,
    ),
    seed: settings.seed!,
    cancelled: options.cancelled,
    progress: (what) => options.progress?.(2, 4, what),
  });
  const worse = result.report.outputs.filter((x) => x.cosine < x.plainCosine);
  if (worse.length)
    warnings.push(
      `reconstruction lowered the held-out cosine of ${worse.map((x) => `'${x.name}'`).join(', ')}: the calibration samples do not represent the held-out ones; try more (--samples) or --no-reconstruct`,
    );
  return { ...result, warnings };
}
