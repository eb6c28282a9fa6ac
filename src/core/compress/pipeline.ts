import { CancelledError, invalid } from '../errors';
import { writeOnnx, type ByteSink, type TensorEdit } from '../formats/onnx/writer';
import type { RandomAccessSource } from '../io/source';
import type { Model, TensorRef } from '../model';
import { HistogramBuilder } from '../stats/compute';
import { streamElements, type SourceOpener } from '../stats/decode';
import { bytesOf, castEdit, codebookEdit, denseEdit, int4Edit, linearEdit, sparseBytes, sparseEdit } from './encode';
import { entropyEstimate } from './metrics';
import {
  applyMask,
  dequantizeClusters,
  dequantizeFixed,
  dequantizeLinear,
  fromBfloat16,
  fromFloat16,
  kmeans1d,
  pruneGlobalMagnitude,
  pruneGlobalRandom,
  pruneMagnitude,
  pruneMean,
  pruneNM,
  pruneRandom,
  pruneThreshold,
  quantizeBlockwise,
  quantizeFixed,
  quantizeLinear,
  quantizeTernary,
  toBfloat16,
  toFloat16,
} from './methods';
import { errorMetrics } from './metrics';
import { normaliseSpec, variantSuffix, type CompressSpec } from './spec';
import type { ErrorMetrics, MethodName } from './types';
import { findFloatTensors, findWeights, type SkippedTensor, type WeightCandidate } from './weights';

export interface TensorResult extends ErrorMetrics {
  name: string;
  layer: string;
  op: string;
  /** What was done, e.g. 'prune+int8 (per-channel, axis 0)'. */
  method: string;
  bytesBefore: number;
  bytesAfter: number;
  note?: string;
  /** Histograms of the original and reconstructed values over the same bins (for overlays). */
  histograms: { min: number; max: number; original: number[]; compressed: number[] };
}

/** Bins of the before/after histograms in the report: enough to see quantization levels. */
const REPORT_BINS = 128;

function pairedHistograms(original: Float32Array, reconstructed: Float32Array): TensorResult['histograms'] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < original.length; i++) {
    const x = original[i];
    if (x < min) min = x;
    if (x > max) max = x;
  }
  if (!(min <= max)) min = max = 0;
  const a = new HistogramBuilder(min, max, REPORT_BINS);
  const b = new HistogramBuilder(min, max, REPORT_BINS);
  const chunk = new Float64Array(4096);
  for (const [values, h] of [[original, a], [reconstructed, b]] as const) {
    for (let at = 0; at < values.length; at += chunk.length) {
      const n = Math.min(chunk.length, values.length - at);
      for (let i = 0; i < n; i++) chunk[i] = values[at + i];
      h.add(chunk, n);
    }
  }
  const ha = a.histogram();
  return { min: ha.min, max: ha.max, original: Array.from(ha.counts), compressed: Array.from(b.histogram().counts) };
}

export interface CompressReport {
  methods: MethodName[];
  suffix: string;
  options: CompressSpec['options'];
  tensors: TensorResult[];
  skipped: SkippedTensor[];
  totals: {
    fileBytesBefore: number;
    fileBytesAfter: number;
    /** before / after. */
    ratio: number;
    weightBytesBefore: number;
    weightBytesAfter: number;
    /** Parameters whose storage changed. */
    parameters: number;
  };
  /** Deep Compression's entropy-coding estimate over the compressed tensors' stored symbols. */
  entropy: { bitsPerWeight: number; huffmanBytes: number; huffmanFileBytes: number };
  warnings: string[];
}

export interface CompressHooks {
  cancelled?: () => boolean;
  progress?: (done: number, total: number, tensor: string) => void;
}

function defaultOpset(model: Model): number {
  return model.metadata.opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 1;
}

/** Reads a tensor's values as float32 (the precision every method works in). */
export function readFloat32(source: RandomAccessSource, ref: TensorRef, openFile: SourceOpener): Float32Array {
  const out = new Float32Array(ref.count);
  let at = 0;
  streamElements(source, ref, openFile, (v, n) => {
    out.set(v.subarray(0, n), at);
    at += n;
  });
  return out;
}

/** Values re-encoded in the tensor's own float dtype (for pruned weights kept dense). */
function encodeAs(dtype: number, values: Float32Array): Uint8Array {
  switch (dtype) {
    case 10:
      return bytesOf(toFloat16(values).bits);
    case 16:
      return bytesOf(toBfloat16(values).bits);
    case 11:
      return bytesOf(Float64Array.from(values));
    default:
      return bytesOf(values);
  }
}

interface Transformed {
  edit: TensorEdit;
  reconstructed: Float32Array;
  method: string;
  bytesAfter: number;
  symbols?: { data: Uint8Array | Int8Array | Uint16Array; alphabet: number };
  note?: string;
}

/** Prune masks for every candidate (global scope and random selection need all tensors at once). */
function pruneAll(values: Float32Array[], candidates: WeightCandidate[], spec: CompressSpec): Float32Array[] {
  const o = spec.options;
  if (o.sparsity !== undefined && o.scope === 'global') {
    const masks = o.random ? pruneGlobalRandom(values, o.sparsity, o.seed ?? 0) : pruneGlobalMagnitude(values, o.sparsity);
    return values.map((v, i) => applyMask(v, masks[i]));
  }
  return values.map((v, i) => {
    let mask: Uint8Array;
    if (o.pattern) mask = pruneNM(v, candidates[i].layout, o.pattern);
    else if (o.threshold === 'mean') mask = pruneMean(v);
    else if (typeof o.threshold === 'number') mask = pruneThreshold(v, o.threshold);
    else if (o.random) mask = pruneRandom(v, o.sparsity ?? 0.5, (o.seed ?? 0) + i);
    else mask = pruneMagnitude(v, o.sparsity ?? 0.5);
    return applyMask(v, mask);
  });
}

function store(storage: MethodName | undefined, c: WeightCandidate, values: Float32Array, spec: CompressSpec, opset: number): Transformed {
  const t = c.tensor;
  const o = spec.options;
  const axisNote = (axis: number | null) => (axis === null ? 'per-tensor' : `per-channel, axis ${axis}`);
  switch (storage) {
    case 'int8': {
      let perChannel = o.granularity !== 'tensor';
      let note: string | undefined;
      if (perChannel && opset < 13 && opset >= 10 && t.dtype === 1) note = `opset ${opset} has only per-tensor DequantizeLinear; per-channel uses Cast/Mul`;
      if (t.dims.length === 0) perChannel = false;
      const q = quantizeLinear(values, c.layout, { bits: 8, symmetric: !o.asymmetric, perChannel });
      const edit = linearEdit(t, { q: q.q, qDtype: q.signed ? 3 : 2, scale: q.scale, zeroPoint: q.zeroPoint, axis: q.axis }, opset);
      const bytesAfter = q.q.length + q.scale.length * 4 + (q.zeroPoint?.length ?? 0);
      return { edit, reconstructed: dequantizeLinear(q, c.layout), method: `${q.signed ? 'int8' : 'uint8'} (${axisNote(q.axis)})`, bytesAfter, symbols: { data: q.q, alphabet: 256 }, note };
    }
    case 'int4': {
      const bs = o.blockSize ?? 32;
      const q = quantizeBlockwise(values, c.layout, { bits: 4, blockSize: bs });
      const edit = int4Edit(t, q.q as Int8Array, q.scale, c.layout.inputAxis, bs, opset);
      const reconstructed = dequantizeLinear(q, c.layout);
      if (edit) {
        return { edit, reconstructed, method: `int4 (blocks of ${bs} along axis ${c.layout.inputAxis})`, bytesAfter: Math.ceil(q.q.length / 2) + q.scale.length * 4, symbols: { data: q.q, alphabet: 16 } };
      }
      // No 4-bit encoding fits (odd count, partial blocks, or opset < 10): the codes go in int8 per channel.
      const q8 = quantizeLinear(values, c.layout, { bits: 4, symmetric: true, perChannel: t.dims.length > 0 });
      return {
        edit: linearEdit(t, { q: q8.q, qDtype: 3, scale: q8.scale, axis: q8.axis }, opset),
        reconstructed: dequantizeLinear(q8, c.layout),
        method: `int4 codes in int8 (${axisNote(q8.axis)})`,
        bytesAfter: q8.q.length + q8.scale.length * 4,
        symbols: { data: q8.q, alphabet: 16 },
        note: `no packed 4-bit encoding fits (dims ${JSON.stringify(t.dims)}, block ${bs}, opset ${opset})`,
      };
    }
    case 'fp16':
    case 'bf16': {
      const h = storage === 'fp16' ? toFloat16(values) : toBfloat16(values);
      const reconstructed = storage === 'fp16' ? fromFloat16(h.bits) : fromBfloat16(h.bits);
      const notes = [h.clipped ? `${h.clipped} values beyond the ${storage} range clipped` : '', h.flushedToZero ? `${h.flushedToZero} tiny values flushed to 0` : ''].filter(Boolean);
      return { edit: castEdit(t, h.bits, storage === 'fp16' ? 10 : 16), reconstructed, method: storage, bytesAfter: h.bits.length * 2, symbols: { data: h.bits, alphabet: 65536 }, note: notes.join('; ') || undefined };
    }
    case 'fixed': {
      const f = quantizeFixed(values, { bits: o.bits ?? 8 });
      const qDtype = f.q instanceof Int8Array ? 3 : 5;
      const edit = linearEdit(t, { q: f.q, qDtype, scale: Float32Array.of(f.scale), axis: null }, opset);
      const symbols = f.q instanceof Int8Array ? { data: f.q, alphabet: 256 } : { data: new Uint16Array(f.q.buffer, f.q.byteOffset, f.q.length), alphabet: 65536 };
      return { edit, reconstructed: dequantizeFixed(f), method: `fixed Q${f.bits - 1 - f.fractionBits}.${f.fractionBits} (${f.bits} bits)`, bytesAfter: f.q.byteLength + 4, symbols };
    }
    case 'sign': {
      const q = quantizeTernary(values, c.layout, { threshold: typeof o.threshold === 'number' ? o.threshold : undefined });
      const edit = linearEdit(t, { q: q.q, qDtype: 3, scale: q.scale, axis: q.axis }, opset);
      return { edit, reconstructed: dequantizeLinear(q, c.layout), method: `ternary (${axisNote(q.axis)})`, bytesAfter: q.q.length + q.scale.length * 4, symbols: { data: q.q, alphabet: 3 } };
    }
    case 'cluster': {
      const k = kmeans1d(values, { clusters: o.clusters ?? 16 });
      const note = k.converged ? undefined : `k-means stopped after ${k.iterations} iterations without converging`;
      return {
        edit: codebookEdit(t, k.indices, k.centroids),
        reconstructed: dequantizeClusters(k),
        method: `cluster K=${k.centroids.length} (${k.iterations} iterations)`,
        bytesAfter: k.indices.length + k.centroids.length * 4,
        symbols: { data: k.indices, alphabet: 256 },
        note,
      };
    }
    default: {
      // Prune alone: dense zeros in the original dtype, or a sparse initializer when asked and smaller.
      let nnz = 0;
      for (let i = 0; i < values.length; i++) if (values[i] !== 0) nnz++;
      if (o.store === 'sparse' && t.dtype === 1 && sparseBytes(nnz) < t.bytes) {
        return { edit: sparseEdit(t, values), reconstructed: values, method: 'prune (sparse initializer)', bytesAfter: sparseBytes(nnz) };
      }
      const note = o.store === 'sparse' ? 'sparse storage would not be smaller: kept dense' : undefined;
      const data = encodeAs(t.dtype, values);
      const reconstructed = t.dtype === 10 ? fromFloat16(new Uint16Array(data.buffer, data.byteOffset, values.length)) : t.dtype === 16 ? fromBfloat16(new Uint16Array(data.buffer, data.byteOffset, values.length)) : values;
      return { edit: denseEdit(t, data), reconstructed, method: 'prune (dense)', bytesAfter: data.length, note };
    }
  }
}

/** Compresses every candidate weight and streams the rewritten model to `sink`. */
export function compressModel(
  source: RandomAccessSource,
  model: Model,
  spec: CompressSpec,
  openFile: SourceOpener,
  sink: ByteSink,
  hooks: CompressHooks = {},
): CompressReport {
  if (model.format !== 'onnx') invalid(`compression of ${model.format} models is not supported yet`);
  const s = normaliseSpec(spec);
  const opset = defaultOpset(model);
  if (opset < 7) invalid(`opset ${opset} is older than the oldest this writer supports (7)`);
  const storage = s.methods.find((m) => m !== 'prune');
  const { weights: candidates, skipped } = storage === 'fp16' || storage === 'bf16' ? findFloatTensors(model) : findWeights(model);
  const kept = candidates.filter((c) => {
    if ((storage === 'fp16' && c.tensor.dtype === 10) || (storage === 'bf16' && c.tensor.dtype === 16)) {
      skipped.push({ index: c.index, name: c.tensor.name, reason: `already ${storage}` });
      return false;
    }
    return true;
  });
  const cancelled = hooks.cancelled ?? (() => false);
  const check = () => {
    if (cancelled()) throw new CancelledError();
  };
  let originals = kept.map((c, i) => {
    check();
    hooks.progress?.(i, kept.length * 2, c.tensor.name);
    return readFloat32(source, c.tensor, openFile);
  });
  const inputs = s.methods[0] === 'prune' ? pruneAll(originals, kept, s) : originals;
  const edits: TensorEdit[] = [];
  const tensors: TensorResult[] = [];
  const symbolEstimates: { bits: number; bytes: number; count: number }[] = [];
  kept.forEach((c, i) => {
    check();
    hooks.progress?.(kept.length + i, kept.length * 2, c.tensor.name);
    const out = store(storage, c, inputs[i], s, opset);
    edits.push(out.edit);
    const prefix = s.methods[0] === 'prune' && storage ? 'prune + ' : '';
    tensors.push({
      name: c.tensor.name,
      layer: c.layer,
      op: c.op,
      method: prefix + out.method,
      bytesBefore: c.tensor.bytes,
      bytesAfter: out.bytesAfter,
      ...errorMetrics(originals[i], out.reconstructed),
      histograms: pairedHistograms(originals[i], out.reconstructed),
      ...(out.note ? { note: out.note } : {}),
    });
    if (out.symbols) {
      const e = entropyEstimate(out.symbols.data, out.symbols.alphabet);
      symbolEstimates.push({ bits: e.bitsPerWeight * c.tensor.count, bytes: e.huffmanBytes + (out.bytesAfter - out.symbols.data.byteLength), count: c.tensor.count });
    }
  });
  originals = [];
  check();
  const fileBytesAfter = writeOnnx(source, { edits }, {
    write(b) {
      check();
      sink.write(b);
    },
  });
  const weightBytesBefore = tensors.reduce((a, t) => a + t.bytesBefore, 0);
  const weightBytesAfter = tensors.reduce((a, t) => a + t.bytesAfter, 0);
  const symbolCount = symbolEstimates.reduce((a, e) => a + e.count, 0);
  const huffmanBytes = symbolEstimates.reduce((a, e) => a + e.bytes, 0);
  const codedBytesAfter = symbolEstimates.length ? tensors.reduce((a, t) => a + t.bytesAfter, 0) : 0;
  return {
    methods: s.methods,
    suffix: variantSuffix(s),
    options: s.options,
    tensors,
    skipped,
    totals: {
      fileBytesBefore: source.size(),
      fileBytesAfter,
      ratio: source.size() / fileBytesAfter,
      weightBytesBefore,
      weightBytesAfter,
      parameters: kept.reduce((a, c) => a + c.tensor.count, 0),
    },
    entropy: {
      bitsPerWeight: symbolCount ? symbolEstimates.reduce((a, e) => a + e.bits, 0) / symbolCount : 0,
      huffmanBytes,
      huffmanFileBytes: fileBytesAfter - codedBytesAfter + huffmanBytes,
    },
    warnings: kept.length ? [] : ['no weights to compress were found'],
  };
}
