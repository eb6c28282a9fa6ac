/**
 * Compression of a model file, whatever its format: checks what the format can do, then hands the
 * work to the format's own compressor, registered here (ONNX in formats/onnx/compress.ts, GGUF in
 * formats/gguf/writer.ts, safetensors in formats/safetensors/compress.ts).
 */

import { invalid } from '../errors';
import { capabilitiesOf, type ModelFormat } from '../formats/capabilities';
import { compressGguf } from '../formats/gguf/writer';
import { compressOnnx } from '../formats/onnx/compress';
import type { ByteSink } from '../formats/onnx/writer';
import { compressSafetensors } from '../formats/safetensors/compress';
import type { RandomAccessSource } from '../io/source';
import type { Model } from '../model';
import type { SourceOpener } from '../stats/decode';
import type { CompressHooks, CompressReport, Compressor } from './report';
import { normaliseSpec, type CompressSpec } from './spec';

/** Each format's compressor; a format without one is listed by capabilities with no methods. */
const COMPRESSORS: Partial<Record<ModelFormat, Compressor>> = {
  onnx: compressOnnx,
  gguf: (source, model, spec, _openFile, sink, hooks) =>
    compressGguf(source, model, normaliseSpec(spec), sink, hooks),
  safetensors: compressSafetensors,
};

/** Compresses every candidate weight and streams the rewritten model to `sink`. */
export function compressModel(
  source: RandomAccessSource,
  model: Model,
  spec: CompressSpec,
  openFile: SourceOpener,
  sink: ByteSink,
  hooks: CompressHooks = {},
): CompressReport {
  const caps = capabilitiesOf(model.format);
  if (
    (!caps.perLayer && (spec.overrides || spec.only)) ||
    (!caps.runnable && spec.options.criterion === 'hessian')
  ) {
    invalid(
      `per-layer choices and the Hessian criterion need an ONNX model (onnxruntime runs it); this is ${model.format}`,
    );
  }
  if (spec.options.criterion === 'hessian' && !hooks.prune)
    invalid(
      'the Hessian criterion needs calibration activations, which the CLI and the extension collect',
    );
  const compressor = COMPRESSORS[model.format as ModelFormat];
  if (!caps.methods.length || !compressor)
    invalid(`compression of ${caps.label} models is not supported yet`);
  return compressor(source, model, spec, openFile, sink, hooks);
}
