import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CompressReport, StructureReport } from '../core/compress/report';
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
import { openRunData, planInputs, type VerifySettings } from '../core/verify/verify';
import { runSamples, type ModelBytes } from './activations';
import { variantPath, writeAtomically } from './atomicWrite';
import type { CompressFileOptions, CompressFileResult } from './compress';
import { dataOpener } from './data/open';
import { FileSource, FolderResolver } from './fileSource';
import { compressInMemory, memorySink } from './inMemory';
import { graphCost } from '../core/formats/onnx/structure/cost';
import type { InputPlan } from '../core/verify/verify';
import { numericValues } from '../core/verify/tensor';
import { measureLatency } from './latency';
import { modelBytes, ortFor, withModelFile } from './verify';
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

type Ort = ReturnType<typeof ortFor>['ort'];

/**
 * Every activation's shape from one run of the model on the first sample: the reshapes and
 * broadcasts the channel analysis follows, and the multiply-adds it reports, depend on them.
 */
async function activationShapes(ort: Ort, label: string, bytes: ModelBytes, model: Model, nodes: readonly GraphNode[], feeds: InputPlan): Promise<Map<string, number[]>> {
  const known = new Set([...model.inputs.map((i) => i.name), ...model.outputs.map((o) => o.name), ...model.tensors.map((t) => t.name)]);
  const names = [...new Set(nodes.flatMap((n) => n.outputs))].filter((n) => n && !known.has(n));
  const sink = memorySink();
  writeOnnx(new MemorySource(bytes.bytes, label), { edits: [], outputs: names.map((name) => ({ name, dtype: 0 })) }, sink);
  const shapes = new Map<string, number[]>();
  await runSamples(ort, label, { bytes: sink.bytes(), externalData: bytes.externalData }, feeds, [...names, ...model.outputs.map((o) => o.name)], 1, 0, (_i, out, fed) => {
    for (const [name, t] of [...out, ...fed]) shapes.set(name, [...t.dims]);
  }, true);
  return shapes;
}

/** A model file read for structural work: the model, every main-graph node, the run inputs, its bytes for onnxruntime. */
interface Structure {
  model: Model;
  nodes: GraphNode[];
  constants: Map<string, TensorRef>;
  shapes: Map<string, number[]>;
  feeds: InputPlan;
  bytes: ModelBytes;
  ort: Ort;
}

async function readStructure(input: string, options: ChannelsOptions): Promise<Structure> {
  const settings = options.calibration ?? {};
  const { model, nodes } = withModelFile(input, (source, resolver) => {
    const model = readModel(source, path.basename(input), resolver);
    if (!capabilitiesOf(model.format).runnable) invalid(`channel removal edits an ONNX graph; this is ${model.format}`);
    if (model.tensors.some((t) => t.storage.kind === 'external')) invalid('channel removal does not handle models with external data yet');
    return { model, nodes: readGraphNodes(source) };
  });
  const { ort } = ortFor({ ...settings, wasmDir: options.wasmDir });
  const data = await openRunData(model, settings, dataOpener(input, settings), { cancelled: options.cancelled });
  const feeds = planInputs(model, () => loadInputFiles(settings.inputs ?? []), settings, [], 0, data);
  const bytes = modelBytes(input, model);
  const shapes = await activationShapes(ort, input, bytes, model, nodes, feeds);
  return { model, nodes, constants: constantsOf(model), shapes, feeds, bytes, ort };
}

/** The groups of a model, with what the channel analysis needs read from the file. */
export async function analyseFile(input: string, options: ChannelsOptions = {}): Promise<Structure & { analysis: ChannelAnalysis }> {
  const s = await readStructure(input, options);
  const analysis = analyseChannels({ nodes: s.nodes, constants: s.constants, inputs: s.model.inputs.map((i) => i.name), outputs: s.model.outputs.map((o) => o.name), shapes: s.shapes });
  return { ...s, analysis };
}

/**
 * Mean square of each feature of every activation a consumer of a prunable group reads, over the
 * calibration samples ('activation' importance): the energy each channel feeds its consumers.
 */
async function featureEnergy(teacher: Structure, analysis: ChannelAnalysis): Promise<Map<string, Float64Array>> {
  const wanted = new Map<string, number>();
  for (const g of analysis.groups) if (!g.unsafe) for (const s of g.slices) if (s.activation) wanted.set(s.activation.name, s.activation.axis);
  if (!wanted.size) return new Map();
  const inputs = new Set(teacher.model.inputs.map((i) => i.name));
  const outputs = new Set(teacher.model.outputs.map((o) => o.name));
  const extra = [...wanted.keys()].filter((n) => !inputs.has(n) && !outputs.has(n));
  const sink = memorySink();
  writeOnnx(new MemorySource(teacher.bytes.bytes, 'teacher'), { edits: [], outputs: extra.map((name) => ({ name, dtype: 0 })) }, sink);
  const sums = new Map<string, Float64Array>();
  const rows = new Map<string, number>();
  await runSamples(teacher.ort, 'teacher', { bytes: sink.bytes(), externalData: teacher.bytes.externalData }, teacher.feeds, [...new Set([...extra, ...[...wanted.keys()].filter((n) => outputs.has(n))])], teacher.feeds.samples, 0, (_i, out, fed) => {
    for (const [name, axis] of wanted) {
      const t = out.get(name) ?? fed.get(name);
      if (!t) continue;
      const values = numericValues(t);
      const n = t.dims[axis];
      const inner = t.dims.slice(axis + 1).reduce((a, d) => a * d, 1);
      let acc = sums.get(name);
      if (!acc) sums.set(name, (acc = new Float64Array(n)));
      for (let i = 0; i < values.length; i++) acc[Math.floor(i / inner) % n] += values[i] * values[i];
      rows.set(name, (rows.get(name) ?? 0) + values.length / n);
    }
  }, true);
  for (const [name, acc] of sums) for (let i = 0; i < acc.length; i++) acc[i] /= rows.get(name)!;
  return sums;
}

/** Parameters, multiply-adds and onnxruntime latency of the teacher and the student, the student's measured here. */
async function costs(teacher: Structure, label: string, studentBytes: Uint8Array): Promise<Pick<StructureReport, 'cost' | 'latency'>> {
  const model = readModel(new MemorySource(studentBytes, label), path.basename(label));
  const nodes = readGraphNodes(new MemorySource(studentBytes, label));
  const student = { bytes: studentBytes, externalData: [] };
  const shapes = await activationShapes(teacher.ort, label, student, model, nodes, teacher.feeds);
  const before = graphCost(teacher.nodes, teacher.constants, teacher.shapes);
  const after = graphCost(nodes, constantsOf(model), shapes);
  const latency = await measureLatency(teacher.ort, [{ label: 'teacher', bytes: teacher.bytes }, { label, bytes: student }], teacher.feeds);
  return {
    cost: {
      parametersBefore: before.parameters,
      parametersAfter: after.parameters,
      macsBefore: before.macs,
      macsAfter: after.macs,
      layers: after.layers.map((l) => {
        const b = before.layers.find((x) => x.name === l.name);
        return { name: l.name, op: l.op, parametersBefore: b?.parameters ?? 0, parametersAfter: l.parameters, macsBefore: b?.macs, macsAfter: l.macs };
      }),
    },
    latency: { beforeMs: latency.medians[0], afterMs: latency.medians[1], runs: latency.runs, runtime: 'onnxruntime-web' },
  };
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
  options.progress?.(0, 4, 'finding activation shapes');
  const teacher = await analyseFile(input, options);
  const { model, nodes, analysis } = teacher;
  check();
  options.progress?.(1, 4, 'removing channels');
  const source = new FileSource(input);
  const resolver = new FolderResolver(input);
  let bytes: Uint8Array;
  let structure: StructureReport;
  try {
    const constants = teacher.constants;
    const cache = new Map<string, { values: Float64Array; dims: readonly number[] }>();
    const read = (name: string) => {
      let t = cache.get(name);
      if (!t) {
        const ref = constants.get(name)!;
        cache.set(name, (t = { values: readFloat64(source, ref, (f) => resolver.open(f)), dims: ref.dims }));
      }
      return t;
    };
    const energy = s.options.importance === 'activation' ? await featureEnergy(teacher, analysis) : undefined;
    const cuts = chooseCuts(analysis.groups, amount, { read, energy: energy && ((name) => energy.get(name)) }, s.options.importance, s.options.scope);
    if (!cuts.length) {
      const reasons = [...new Set(analysis.groups.map((g) => g.unsafe).filter(Boolean))].slice(0, 3);
      invalid(`no channels can be removed: ${analysis.groups.length ? `every group stays whole (${reasons.join('; ')})` : 'its main graph has no Conv, Gemm or MatMul with constant weights (layers inside If/Loop bodies are not analysed)'}`);
    }
    const removal = removalOf(cuts);
    const plan = removalPlan(removal, nodes, constants, source, (f) => resolver.open(f), (n) => readExactly(source, n.span[0], n.span[1] - n.span[0]));
    plan.metadata = [{ key: STRUCTURE_KEY, value: JSON.stringify(lineage(path.basename(input), removal, constants)) }];
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
      channelsAfter: analysis.groups.filter((g) => !g.unsafe).reduce((n, g) => n + (kept.get(g.id) ?? g.size), 0),
      groups: analysis.groups.map((g) => ({ producers: g.producers, channels: g.size, kept: kept.get(g.id) ?? g.size, ...(g.unsafe ? { whole: g.unsafe } : {}) })),
    };
  } finally {
    source.close();
    resolver.close();
  }
  check();
  options.progress?.(2, 4, 'measuring parameters, multiply-adds and latency');
  Object.assign(structure, await costs(teacher, output, bytes));
  check();
  options.progress?.(3, 4, 'writing');
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
  options.progress?.(4, 4, 'done');
  return { input, output, elapsedMs: performance.now() - started, report };
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
