/**
 * What the structural methods (channels, lowrank) share: reading the graph they edit, counting
 * parameters, and finishing a variant: the rest of the chain (int8, ...) applied in memory to the
 * restructured bytes, one atomic write, and the report.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CompressReport, StructuralCost, StructureReport } from '../core/compress/report';
import { variantSuffix, type CompressSpec } from '../core/compress/spec';
import type { MethodName } from '../core/compress/types';
import { invalid } from '../core/errors';
import { readModel } from '../core/formats';
import { capabilitiesOf } from '../core/formats/capabilities';
import { readGraphNodes, type GraphNode } from '../core/formats/onnx/nodes';
import { graphCost } from '../core/formats/onnx/structure/cost';
import { writeOnnx } from '../core/formats/onnx/writer';
import { MemorySource } from '../core/io/source';
import type { Model, TensorRef } from '../core/model';
import type { InputPlan, VerifySettings } from '../core/verify/verify';
import { runSamples, type ModelBytes } from './activations';
import { writeAtomically } from './atomicWrite';
import type { CompressFileOptions, CompressFileResult } from './compress';
import { runInputs } from './data/open';
import { FileSource, FolderResolver } from './fileSource';
import { compressInMemory, memorySink } from './inMemory';
import { measureLatency } from './latency';
import { modelBytes, ortFor } from './verify';

/** The variant's metadata entry saying where each of its new tensors came from in the teacher. */
export const STRUCTURE_KEY = 'model_lens.structure';

/** Float tensors of the main graph: the parameters a structural change counts. */
export function parameters(model: Model): number {
  return model.tensors
    .filter(
      (t) =>
        t.scope === '' && (t.dtype === 1 || t.dtype === 10 || t.dtype === 11 || t.dtype === 16),
    )
    .reduce((n, t) => n + t.count, 0);
}

/** Main-graph constants by the name the graph reads them by. */
export function constantsOf(model: Model): Map<string, TensorRef> {
  return new Map(
    model.tensors
      .filter((t) => t.scope === '' && (t.origin === 'initializer' || t.origin === 'Constant'))
      .map((t) => [t.name, t]),
  );
}

/** The model and every main-graph node; `what` names the method in the errors ("channel removal"). */
export function readStructure(input: string, what: string): { model: Model; nodes: GraphNode[] } {
  const source = new FileSource(input);
  const resolver = new FolderResolver(input);
  try {
    const model = readModel(source, path.basename(input), resolver);
    if (!capabilitiesOf(model.format).runnable)
      invalid(`${what} edits an ONNX graph; this is ${model.format}`);
    if (model.tensors.some((t) => t.storage.kind === 'external'))
      invalid(`${what} does not handle models with external data yet`);
    return { model, nodes: readGraphNodes(source) };
  } finally {
    source.close();
    resolver.close();
  }
}

type Ort = ReturnType<typeof ortFor>['ort'];

/**
 * Every activation's shape from one run of the model on the first sample: the reshapes and
 * broadcasts the channel analysis follows, and the multiply-adds reported, depend on them.
 */
async function activationShapes(
  ort: Ort,
  label: string,
  bytes: ModelBytes,
  model: Model,
  nodes: readonly GraphNode[],
  feeds: InputPlan,
): Promise<Map<string, number[]>> {
  const known = new Set([
    ...model.inputs.map((i) => i.name),
    ...model.outputs.map((o) => o.name),
    ...model.tensors.map((t) => t.name),
  ]);
  const names = [...new Set(nodes.flatMap((n) => n.outputs))].filter((n) => n && !known.has(n));
  const sink = memorySink();
  writeOnnx(
    new MemorySource(bytes.bytes, label),
    { edits: [], outputs: names.map((name) => ({ name, dtype: 0 })) },
    sink,
  );
  const shapes = new Map<string, number[]>();
  await runSamples(
    ort,
    label,
    { bytes: sink.bytes(), externalData: bytes.externalData },
    feeds,
    [...names, ...model.outputs.map((o) => o.name)],
    1,
    0,
    (_i, out, fed) => {
      for (const [name, t] of [...out, ...fed]) shapes.set(name, [...t.dims]);
    },
    true,
  );
  return shapes;
}

/** A model opened for structural work and for running: its nodes, constants, activation shapes, inputs and bytes for onnxruntime. */
export interface RunStructure {
  model: Model;
  nodes: GraphNode[];
  constants: Map<string, TensorRef>;
  shapes: Map<string, number[]>;
  feeds: InputPlan;
  bytes: ModelBytes;
  ort: Ort;
}

/** readStructure, plus what running it takes: the inputs (`settings`, as verify takes them) and one run for the activation shapes. */
export async function openStructure(
  input: string,
  what: string,
  settings: VerifySettings,
  options: { cancelled?: () => boolean; wasmDir?: string },
): Promise<RunStructure> {
  const { model, nodes } = readStructure(input, what);
  const { ort } = ortFor({ ...settings, wasmDir: options.wasmDir });
  const feeds = await runInputs(input, model, settings, [], options.cancelled);
  const bytes = modelBytes(input, model);
  const shapes = await activationShapes(ort, input, bytes, model, nodes, feeds);
  return { model, nodes, constants: constantsOf(model), shapes, feeds, bytes, ort };
}

/** Parameters, multiply-adds and onnxruntime latency of the teacher and the student (whose shapes are measured here). */
export async function structuralCost(
  teacher: RunStructure,
  label: string,
  studentBytes: Uint8Array,
): Promise<StructuralCost> {
  const model = readModel(new MemorySource(studentBytes, label), path.basename(label));
  const nodes = readGraphNodes(new MemorySource(studentBytes, label));
  const student = { bytes: studentBytes, externalData: [] };
  const shapes = await activationShapes(teacher.ort, label, student, model, nodes, teacher.feeds);
  const before = graphCost(teacher.nodes, teacher.constants, teacher.shapes);
  const after = graphCost(nodes, constantsOf(model), shapes);
  const latency = await measureLatency(
    teacher.ort,
    [
      { label: 'teacher', bytes: teacher.bytes },
      { label, bytes: student },
    ],
    teacher.feeds,
  );
  return {
    cost: {
      parametersBefore: before.parameters,
      parametersAfter: after.parameters,
      macsBefore: before.macs,
      macsAfter: after.macs,
      layers: after.layers.map((l) => {
        const b = before.layers.find((x) => x.name === l.name);
        return {
          name: l.name,
          op: l.op,
          parametersBefore: b?.parameters ?? 0,
          parametersAfter: l.parameters,
          macsBefore: b?.macs,
          macsAfter: l.macs,
        };
      }),
    },
    latency: {
      beforeMs: latency.medians[0],
      afterMs: latency.medians[1],
      runs: latency.runs,
      runtime: 'onnxruntime-web',
    },
  };
}

/**
 * Applies the methods after `structural` in the chain to the restructured `bytes` in memory, writes
 * the result to `output` atomically and returns the report with `structure` attached.
 */
export function finishStructural(
  input: string,
  output: string,
  spec: CompressSpec,
  structural: MethodName,
  bytes: Uint8Array,
  structure: StructureReport,
  options: CompressFileOptions,
  started: number,
): CompressFileResult {
  const rest = spec.methods.filter((m) => m !== structural);
  let report: CompressReport;
  let finalBytes = bytes;
  if (rest.length) {
    const mem = new MemorySource(bytes, output);
    // The structural options (amount, the lowrank criterion) are done with; the rest of the chain does not take them.
    const { amount: _a, importance: _i, reconstruct: _r, ...restOptions } = spec.options;
    if (structural === 'lowrank') delete restOptions.criterion;
    // --scope ranked channels; a chained prune takes its own default (per layer).
    if (structural === 'channels') delete restOptions.scope;
    const chained = compressInMemory(
      {
        file: input,
        source: mem,
        resolver: { open: () => invalid('the variant has no external data') },
        model: readModel(mem, path.basename(output)),
      },
      { ...spec, methods: rest, options: restOptions },
      { cancelled: options.cancelled },
    );
    finalBytes = chained.bytes;
    report = chained.report;
  } else {
    report = emptyReport(spec, bytes.length);
  }
  const fileBytesBefore = fs.statSync(input).size;
  writeAtomically(output, { force: options.force ?? false, cancelled: options.cancelled }, (sink) =>
    sink.write(finalBytes),
  );
  report.methods = spec.methods;
  report.suffix = variantSuffix(spec);
  report.options = spec.options;
  report.totals.fileBytesBefore = fileBytesBefore;
  report.totals.fileBytesAfter = finalBytes.length;
  report.totals.ratio = fileBytesBefore / finalBytes.length;
  report.structure = structure;
  return { input, output, elapsedMs: performance.now() - started, report };
}

function emptyReport(spec: CompressSpec, bytes: number): CompressReport {
  return {
    methods: spec.methods,
    suffix: variantSuffix(spec),
    options: spec.options,
    tensors: [],
    skipped: [],
    totals: {
      fileBytesBefore: 0,
      fileBytesAfter: bytes,
      ratio: 1,
      weightBytesBefore: 0,
      weightBytesAfter: 0,
      parameters: 0,
    },
    entropy: { bitsPerWeight: 0, huffmanBytes: 0, huffmanFileBytes: 0 },
    warnings: [],
  };
}
