import * as path from 'node:path';
import type { StructureReport } from '../core/compress/report';
import { normaliseSpec, variantSuffix, type CompressSpec } from '../core/compress/spec';
import { readFloat64 } from '../core/compress/tensors';
import { CancelledError, invalid } from '../core/errors';
import { readModel } from '../core/formats';
import type { GraphNode } from '../core/formats/onnx/nodes';
import { analyseChannels, type ChannelAnalysis } from '../core/formats/onnx/structure/channels';
import { chooseCuts } from '../core/formats/onnx/structure/importance';
import { removalOf, removalPlan } from '../core/formats/onnx/structure/remove';
import { writeOnnx } from '../core/formats/onnx/writer';
import { MemorySource, readExactly } from '../core/io/source';
import type { Model, TensorRef } from '../core/model';
import { openRunData, planInputs, type VerifySettings } from '../core/verify/verify';
import { runSamples } from './activations';
import { variantPath } from './atomicWrite';
import type { CompressFileOptions, CompressFileResult } from './compress';
import { dataOpener } from './data/open';
import { FileSource, FolderResolver } from './fileSource';
import { memorySink } from './inMemory';
import { constantsOf, finishStructural, parameters, readStructure, STRUCTURE_KEY } from './structural';
import { modelBytes, ortFor } from './verify';
import { loadInputFiles } from './verify/inputFiles';

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

function lineage(teacher: string, removal: ReturnType<typeof removalOf>, constants: ReadonlyMap<string, TensorRef>): Lineage {
  const tensors: Lineage['tensors'] = {};
  for (const [name, axes] of removal.slices) {
    const dims = constants.get(name)!.dims;
    tensors[name] = Object.fromEntries([...axes].map(([axis, drop]) => [axis, [...Array(dims[axis]).keys()].filter((i) => !drop.has(i))]));
  }
  return { method: 'channels', teacher, tensors };
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
  const { model, nodes } = readStructure(input, 'channel removal');
  const shapes = await activationShapes(input, model, nodes, options.calibration ?? {}, options);
  const analysis = analyseChannels({ nodes, constants: constantsOf(model), inputs: model.inputs.map((i) => i.name), outputs: model.outputs.map((o) => o.name), shapes });
  return { model, nodes, analysis };
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
    plan.metadata = [{ key: STRUCTURE_KEY, value: JSON.stringify(lineage(path.basename(input), removal, constants)) }];
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
  options.progress?.(2, 3, 'writing');
  const result = finishStructural(input, output, s, 'channels', bytes, structure, options, started);
  options.progress?.(3, 3, 'done');
  return result;
}
