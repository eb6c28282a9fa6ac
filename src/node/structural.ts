/**
 * What the structural methods (channels, lowrank) share: reading the graph they edit, counting
 * parameters, and finishing a variant: the rest of the chain (int8, ...) applied in memory to the
 * restructured bytes, one atomic write, and the report.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CompressReport, StructureReport } from '../core/compress/report';
import { variantSuffix, type CompressSpec } from '../core/compress/spec';
import type { MethodName } from '../core/compress/types';
import { invalid } from '../core/errors';
import { readModel } from '../core/formats';
import { capabilitiesOf } from '../core/formats/capabilities';
import { readGraphNodes, type GraphNode } from '../core/formats/onnx/nodes';
import { MemorySource } from '../core/io/source';
import type { Model, TensorRef } from '../core/model';
import { writeAtomically } from './atomicWrite';
import type { CompressFileOptions, CompressFileResult } from './compress';
import { FileSource, FolderResolver } from './fileSource';
import { compressInMemory } from './inMemory';

/** The variant's metadata entry saying where each of its new tensors came from in the teacher. */
export const STRUCTURE_KEY = 'model_lens.structure';

/** Float tensors of the main graph: the parameters a structural change counts. */
export function parameters(model: Model): number {
  return model.tensors.filter((t) => t.scope === '' && (t.dtype === 1 || t.dtype === 10 || t.dtype === 11 || t.dtype === 16)).reduce((n, t) => n + t.count, 0);
}

/** Main-graph constants by the name the graph reads them by. */
export function constantsOf(model: Model): Map<string, TensorRef> {
  return new Map(model.tensors.filter((t) => t.scope === '' && (t.origin === 'initializer' || t.origin === 'Constant')).map((t) => [t.name, t]));
}

/** The model and every main-graph node; `what` names the method in the errors ("channel removal"). */
export function readStructure(input: string, what: string): { model: Model; nodes: GraphNode[] } {
  const source = new FileSource(input);
  const resolver = new FolderResolver(input);
  try {
    const model = readModel(source, path.basename(input), resolver);
    if (!capabilitiesOf(model.format).runnable) invalid(`${what} edits an ONNX graph; this is ${model.format}`);
    if (model.tensors.some((t) => t.storage.kind === 'external')) invalid(`${what} does not handle models with external data yet`);
    return { model, nodes: readGraphNodes(source) };
  } finally {
    source.close();
    resolver.close();
  }
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
    const { amount: _a, ...restOptions } = spec.options;
    if (structural === 'lowrank') delete restOptions.criterion;
    const chained = compressInMemory(
      { file: input, source: mem, resolver: { open: () => invalid('the variant has no external data') }, model: readModel(mem, path.basename(output)) },
      { ...spec, methods: rest, options: restOptions },
      { cancelled: options.cancelled },
    );
    finalBytes = chained.bytes;
    report = chained.report;
  } else {
    report = emptyReport(spec, bytes.length);
  }
  const fileBytesBefore = fs.statSync(input).size;
  writeAtomically(output, { force: options.force ?? false, cancelled: options.cancelled }, (sink) => sink.write(finalBytes));
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
    totals: { fileBytesBefore: 0, fileBytesAfter: bytes, ratio: 1, weightBytesBefore: 0, weightBytesAfter: 0, parameters: 0 },
    entropy: { bitsPerWeight: 0, huffmanBytes: 0, huffmanFileBytes: 0 },
    warnings: [],
  };
}
