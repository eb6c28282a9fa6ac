import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CompressReport, ReconstructionReport, StructureReport } from '../core/compress/report';
import { halfOf } from '../core/data/dataset';
import { measuredOn } from '../core/verify/report';
import { reconstruct } from './reconstruct';
import { normaliseSpec, variantSuffix, type CompressSpec } from '../core/compress/spec';
import { readFloat64 } from '../core/compress/tensors';
import { CancelledError, invalid } from '../core/errors';
import { readModel } from '../core/formats';
import { capabilitiesOf } from '../core/formats/capabilities';
import { readGraphNodes, type GraphNode } from '../core/formats/onnx/nodes';
import { analyseChannels, type ChannelAnalysis } from '../core/formats/onnx/structure/channels';
import { chooseCuts } from '../core/formats/onnx/structure/importance';
import { removalOf, removalPlan } from '../core/formats/onnx/structure/remove';
import { writeOnnx } from '../core/formats/onnx/writer';
import { MemorySource, readExactly } from '../core/io/source';
import type { Model, TensorRef } from '../core/model';
import { openRunData, planInputs, type InputPlan, type VerifySettings } from '../core/verify/verify';
import { runSamples } from './activations';
import { variantPath, writeAtomically } from './atomicWrite';
import type { CompressFileOptions, CompressFileResult } from './compress';
import { dataOpener } from './data/open';
import { FileSource, FolderResolver } from './fileSource';
import { compressInMemory, memorySink } from './inMemory';
import { modelBytes, ortFor } from './verify';
import { loadInputFiles } from './verify/inputFiles';

export interface ChannelsOptions extends CompressFileOptions {
  /** The inputs the one shape-finding run uses (the same settings verify takes). */
  calibration?: VerifySettings;
  wasmDir?: string;
}

/** The variant's metadata entry saying where each of its sliced tensors came from in the teacher. */
export const STRUCTURE_KEY = 'model_lens.structure';

/** Which indices of the teacher's tensors a student's sliced tensors kept, axis by axis. */
export interface Lineage {
  method: 'channels';
  teacher: string;
  tensors: Record<string, Record<number, number[]>>;
}

function lineage(teacher: string, removal: ReturnType<typeof removalOf>, constants: ReadonlyMap<string, TensorRef>): Lineage {
  const tensors: Lineage['tensors'] = {};
  for (const [name, axes] of removal.slices) {
    const dims = constants.get(name)!.dims;
    tensors[name] = Object.fromEntries([...axes].map(([axis, drop]) => [axis, [...Array(dims[axis]).keys()].filter((i) => !drop.has(i))]));
  }
  return { method: 'channels', teacher, tensors };
}

/** Float tensors of the main graph: the parameters a structural change counts. */
function parameters(model: Model): number {
  return model.tensors.filter((t) => t.scope === '' && (t.dtype === 1 || t.dtype === 10 || t.dtype === 11 || t.dtype === 16)).reduce((n, t) => n + t.count, 0);
}

/** Main-graph constants by the name the graph reads them by. */
function constantsOf(model: Model): Map<string, TensorRef> {
  return new Map(model.tensors.filter((t) => t.scope === '' && (t.origin === 'initializer' || t.origin === 'Constant')).map((t) => [t.name, t]));
}

/**
 * Every activation's shape from one run of the model on the first calibration sample: the reshapes
 * and broadcasts the channel analysis follows depend on them.
 */
async function activationShapes(input: string, model: Model, nodes: readonly GraphNode[], settings: VerifySettings, options: ChannelsOptions): Promise<Map<string, number[]>> {
  const { ort } = ortFor({ ...settings, wasmDir: options.wasmDir });
  const warnings: string[] = [];
  const data = await openRunData(model, settings, dataOpener(input, settings), { cancelled: options.cancelled });
  const feeds = planInputs(model, () => loadInputFiles(settings.inputs ?? []), { ...settings, samples: 1 }, warnings, 0, data);
  const original = modelBytes(input, model);
  const known = new Set([...model.inputs.map((i) => i.name), ...model.outputs.map((o) => o.name), ...model.tensors.map((t) => t.name)]);
  const names = [...new Set(nodes.flatMap((n) => n.outputs))].filter((n) => n && !known.has(n));
  const sink = memorySink();
  writeOnnx(new MemorySource(original.bytes, input), { edits: [], outputs: names.map((name) => ({ name, dtype: 0 })) }, sink);
  const shapes = new Map<string, number[]>();
  await runSamples(ort, input, { bytes: sink.bytes(), externalData: original.externalData }, feeds, [...names, ...model.outputs.map((o) => o.name)], 1, 0, (_i, out, fed) => {
    for (const [name, t] of [...out, ...fed]) shapes.set(name, [...t.dims]);
  }, true);
  return shapes;
}

/** The groups of a model, with what the channel analysis needs read from the file. */
export async function analyseFile(input: string, options: ChannelsOptions = {}): Promise<{ model: Model; nodes: GraphNode[]; analysis: ChannelAnalysis }> {
  const { model, nodes } = readStructure(input);
  const shapes = await activationShapes(input, model, nodes, options.calibration ?? {}, options);
  const analysis = analyseChannels({ nodes, constants: constantsOf(model), inputs: model.inputs.map((i) => i.name), outputs: model.outputs.map((o) => o.name), shapes });
  return { model, nodes, analysis };
}

function readStructure(input: string): { model: Model; nodes: GraphNode[] } {
  const source = new FileSource(input);
  const resolver = new FolderResolver(input);
  try {
    const model = readModel(source, path.basename(input), resolver);
    if (!capabilitiesOf(model.format).runnable) invalid(`channel removal edits an ONNX graph; this is ${model.format}`);
    if (model.tensors.some((t) => t.storage.kind === 'external')) invalid('channel removal does not handle models with external data yet');
    return { model, nodes: readGraphNodes(source) };
  } finally {
    source.close();
    resolver.close();
  }
}

/**
 * `--method channels`: removes `amount` of the channels of every group the analysis proves safe,
 * rewriting every weight, bias, norm parameter, shape constant and group count they touch; then
 * applies the rest of the chain (int8, ...) to the smaller graph. The original is only read.
 */
export async function compressFileChannels(input: string, spec: CompressSpec, options: ChannelsOptions = {}): Promise<CompressFileResult> {
  const started = performance.now();
  const s = normaliseSpec(spec);
  const amount = s.options.amount!;
  const output = path.resolve(options.output ?? variantPath(input, variantSuffix(s)));
  if (path.resolve(input) === output) throw new Error('the output would overwrite the original');
  const check = () => {
    if (options.cancelled?.()) throw new CancelledError();
  };
  options.progress?.(0, 3, 'finding activation shapes');
  const { model, nodes, analysis } = await analyseFile(input, options);
  check();
  options.progress?.(1, 3, 'removing channels');
  const source = new FileSource(input);
  const resolver = new FolderResolver(input);
  let bytes: Uint8Array;
  let structure: StructureReport;
  const warnings: string[] = [];
  let lin: Lineage;
  try {
    const constants = constantsOf(model);
    const cache = new Map<string, { values: Float64Array; dims: readonly number[] }>();
    const read = (name: string) => {
      let t = cache.get(name);
      if (!t) {
        const ref = constants.get(name)!;
        cache.set(name, (t = { values: readFloat64(source, ref, (f) => resolver.open(f)), dims: ref.dims }));
      }
      return t;
    };
    const cuts = chooseCuts(analysis.groups, amount, read);
    if (!cuts.length) {
      const reasons = [...new Set(analysis.groups.map((g) => g.unsafe).filter(Boolean))].slice(0, 3);
      invalid(`no channels can be removed: ${analysis.groups.length ? `every group stays whole (${reasons.join('; ')})` : 'it has no Conv, Gemm or MatMul layers with constant weights'}`);
    }
    const removal = removalOf(cuts);
    const plan = removalPlan(removal, nodes, constants, source, (f) => resolver.open(f), (n) => readExactly(source, n.span[0], n.span[1] - n.span[0]));
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
      importance: 'l2',
      parametersBefore: parameters(model),
      parametersAfter: parameters(after),
      channelsBefore: analysis.groups.filter((g) => !g.unsafe).reduce((n, g) => n + g.size, 0),
      channelsAfter: analysis.groups.filter((g) => !g.unsafe).reduce((n, g) => n + (kept.get(g.id) ?? g.size), 0),
      groups: analysis.groups.map((g) => ({ producers: g.producers, channels: g.size, kept: kept.get(g.id) ?? g.size, ...(g.unsafe ? { whole: g.unsafe } : {}) })),
    };
  } finally {
    source.close();
    resolver.close();
  }
  check();
  if (s.options.reconstruct) {
    options.progress?.(2, 3, 'reconstructing');
    const r = await reconstructCut(input, model, bytes, lin!, s.options.seed ?? 0, options);
    bytes = r.bytes;
    structure.reconstruction = r.report;
    structure.parametersAfter = parameters(readModel(new MemorySource(bytes, output), path.basename(output)));
    warnings.push(...r.warnings);
  }
  check();
  options.progress?.(2, 3, 'writing');
  const rest = s.methods.filter((m) => m !== 'channels');
  let report: CompressReport;
  let finalBytes = bytes;
  if (rest.length) {
    const mem = new MemorySource(bytes, output);
    const chained = compressInMemory({ file: input, source: mem, resolver: { open: () => invalid('the variant has no external data') }, model: readModel(mem, path.basename(output)) }, { ...s, methods: rest }, { cancelled: options.cancelled });
    finalBytes = chained.bytes;
    report = chained.report;
  } else {
    report = emptyReport(s, bytes.length);
  }
  const fileBytesBefore = fs.statSync(input).size;
  writeAtomically(output, { force: options.force ?? false, cancelled: options.cancelled }, (sink) => sink.write(finalBytes));
  report.methods = s.methods;
  report.suffix = variantSuffix(s);
  report.options = s.options;
  report.totals.fileBytesBefore = fileBytesBefore;
  report.totals.fileBytesAfter = finalBytes.length;
  report.totals.ratio = fileBytesBefore / finalBytes.length;
  report.structure = structure;
  report.warnings.push(...warnings);
  options.progress?.(3, 3, 'done');
  return { input, output, elapsedMs: performance.now() - started, report };
}

/** Calibration samples the refit uses when the inputs are synthesised or read from --data (and as many held out). */
export const DEFAULT_RECONSTRUCT_SAMPLES = 8;

/**
 * Reconstruction of a cut: calibration and held-out inputs from the verify settings (--data split in seeded
 * halves; random inputs: held-out streams after the calibration ones; files that give every input: one sample,
 * compared on itself), then node/reconstruct.ts.
 */
async function reconstructCut(input: string, model: Model, student: Uint8Array, lin: Lineage, seed: number, options: ChannelsOptions) {
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
    const all = await openRunData(model, { ...settings, samples: 2 * samples }, opener, { cancelled: options.cancelled });
    if (!all || all.samples < 2) invalid('reconstruction needs at least 2 samples of --data (half fit, half check)');
    calibration = planInputs(model, load, { ...settings, samples: Math.ceil(all.samples / 2) }, warnings, 0, halfOf(all, 'calibration', settings.seed!));
    heldOut = planInputs(model, load, { ...settings, samples: all.samples - Math.ceil(all.samples / 2) }, [], 0, halfOf(all, 'held-out', settings.seed!));
    inputs = 'data';
  } else {
    calibration = planInputs(model, load, settings, warnings, 0);
    heldOut = calibration.allGiven ? calibration : planInputs(model, load, settings, [], calibration.samples);
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
    measuredOn: measuredOn(heldOut.samples, heldOut.seed, heldOut.reports(fed), evaluation === 'held-out' && inputs === 'random' ? calibration.samples : 0),
    seed: settings.seed!,
    cancelled: options.cancelled,
    progress: (what) => options.progress?.(2, 3, what),
  });
  const worse = result.report.outputs.filter((x) => x.cosine < x.plainCosine);
  if (worse.length) warnings.push(`reconstruction lowered the held-out cosine of ${worse.map((x) => `'${x.name}'`).join(', ')}: the calibration samples do not represent the held-out ones; try more (--samples) or --no-reconstruct`);
  return { ...result, warnings };
}

function emptyReport(spec: CompressSpec, bytes: number): CompressReport {
  return {
    methods: spec.methods,
    suffix: variantSuffix(spec),
    options: spec.options,
    tensors: [],
    skipped: [],
    totals: { fileBytesBefore: 0, fileBytesAfter: bytes, ratio: 1, weightBytesBefore: 0, weightBytesAfter: 0, parameters: 0 },
    entropy: { bitsPerWeight: 0, huffmanBytes: 0, huffmanFileBytes: 0 },
    warnings: [],
  };
}
