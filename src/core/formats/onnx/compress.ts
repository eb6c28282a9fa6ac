/** The ONNX compressor: every candidate weight stored by its method as an initializer plus the nodes that decode it (encode.ts), opsets raised where a method needs it, external data rewritten. */

import { dtypeInfo } from '../../dtypes';
import { CancelledError, invalid } from '../../errors';
import { writeOnnx, type ByteSink, type ExternalPlacement, type TensorEdit } from './writer';
import type { RandomAccessSource } from '../../io/source';
import type { Model, TensorStorage } from '../../model';
import { FloatScratch } from '../../scratch';
import { float32Reader, type SourceOpener } from '../../stats/decode';
import type { Values } from '../../wasm/kernels';
import {
  bf16Edit,
  bytesOf,
  castEdit,
  codebookEdit,
  denseEdit,
  int4Edit,
  linearEdit,
  sparseBytes,
  sparseEdit,
} from './encode';
import {
  blockLayout,
  dequantizeClusters,
  dequantizeFixed,
  dequantizeLinear,
  dequantizeLinearRuns,
  fromBfloat16,
  fromFloat16,
  kmeans1d,
  quantizeBlockwise,
  quantizeFixed,
  quantizeLinear,
  quantizeSymmetricMeasured,
  quantizeTernary,
  toBfloat16,
  toFloat16,
} from '../../compress/methods';
import { compareReconstruction, type ReportComparison } from '../../compress/metrics';
import { normaliseSpec, variantSuffix, type CompressSpec } from '../../compress/spec';
import { summarise, symbolEstimate } from '../../compress/summary';
import type { MethodName, Reconstruction } from '../../compress/types';
import type {
  CompressHooks,
  Compressor,
  SymbolEstimate,
  TensorJob,
  TensorOutcome,
  TensorResult,
} from '../../compress/report';
import {
  isGlobalPrune,
  pruneGlobal,
  pruneOne,
  readFloat64,
  readWeights,
} from '../../compress/tensors';
import { blockersOfOpset21, blockersOfOpset7 } from './opsets';
import { rangeObstacle } from '../../compress/range';
import { findWeights, selectWeights, type WeightCandidate } from '../../compress/weights';

function defaultOpset(model: Model): number {
  return model.metadata.opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 1;
}

/** Bytes the stored tensors of an edit take: what the variant really spends on this weight. */
function editBytes(edit: TensorEdit): number {
  let n = 0;
  for (const t of edit.initializers) n += t.data.length;
  for (const t of edit.sparseInitializers ?? []) n += t.values.length + t.indices.length;
  return n;
}

/** Values re-encoded in the tensor's own float dtype (for pruned weights kept dense). */
function encodeAs(dtype: number, values: Float32Array): Uint8Array {
  switch (dtype) {
    case 10:
      return bytesOf(toFloat16(values).bits);
    case 16:
      return bytesOf(toBfloat16(values).bits);
    default:
      return bytesOf(values);
  }
}

interface Transformed {
  edit: TensorEdit;
  /** The values the stored form decodes to: an array, or run by run when no array of them is needed. */
  reconstructed: Float32Array | Reconstruction;
  method: string;
  symbols?: { data: Uint8Array | Int8Array | Uint16Array; alphabet: number };
  note?: string;
  /** compareReconstruction of the stored values against `reconstructed`, and the symbols' byte counts, when made with the codes. */
  measured?: { comparison: ReportComparison; byteCounts: Float64Array };
}

/** How a linear result's scales are laid out, for the report's method column. */
function axisNote(axis: number | null): string {
  return axis === null ? 'per-tensor' : `per-channel, axis ${axis}`;
}

/** Stores one weight's values; `measure`: the caller will compare the reconstruction with `values` themselves, which int8 can do while making the codes. */
function store(
  storage: MethodName | undefined,
  c: WeightCandidate,
  values: Float32Array,
  spec: CompressSpec,
  opset: number,
  measure: boolean,
): Transformed {
  const t = c.tensor;
  const o = spec.options;
  switch (storage) {
    case 'int8':
      return storeInt8(c, values, spec, opset, measure)!; // an array always quantizes
    case 'int4': {
      const bs = o.blockSize ?? 32;
      const view = blockLayout(c.layout);
      const q = quantizeBlockwise(values, view, { bits: 4, blockSize: bs, halfScales: true });
      const along =
        view === c.layout ? `along axis ${view.inputAxis}` : `in rows of ${view.dims[1]}`;
      return {
        edit: int4Edit(
          t,
          q.q as Int8Array,
          q.scale,
          view.dims,
          view.inputAxis,
          bs,
          opset,
          q.scaleHalf,
        ),
        reconstructed: dequantizeLinear(q, view),
        method: `int4 (blocks of ${bs} ${along}, ${q.scaleHalf ? 'fp16' : 'float32'} scales)`,
        symbols: { data: q.q, alphabet: 16 },
      };
    }
    case 'fp16':
    case 'bf16': {
      const h = storage === 'fp16' ? toFloat16(values) : toBfloat16(values);
      const reconstructed = storage === 'fp16' ? fromFloat16(h.bits) : fromBfloat16(h.bits);
      const notes = [
        h.clipped ? `${h.clipped} values beyond the ${storage} range clipped (--allow-clip)` : '',
        h.flushedToZero ? `${h.flushedToZero} tiny values flushed to 0` : '',
      ].filter(Boolean);
      return {
        edit: storage === 'fp16' ? castEdit(t, h.bits, 10) : bf16Edit(t, h.bits, opset),
        reconstructed,
        method: storage,
        symbols: { data: h.bits, alphabet: 65536 },
        note: notes.join('; ') || undefined,
      };
    }
    case 'fixed': {
      const f = quantizeFixed(values, { bits: o.bits ?? 8 });
      const qDtype = f.q instanceof Int8Array ? 3 : 5;
      const edit = linearEdit(
        t,
        { q: f.q, qDtype, scale: Float32Array.of(f.scale), axis: null },
        opset,
      );
      const symbols =
        f.q instanceof Int8Array
          ? { data: f.q, alphabet: 256 }
          : { data: new Uint16Array(f.q.buffer, f.q.byteOffset, f.q.length), alphabet: 65536 };
      return {
        edit,
        reconstructed: dequantizeFixed(f),
        method: `fixed Q${f.bits - 1 - f.fractionBits}.${f.fractionBits} (${f.bits} bits)`,
        symbols,
      };
    }
    case 'sign': {
      const q = quantizeTernary(values, c.layout, {
        threshold: typeof o.threshold === 'number' ? o.threshold : undefined,
      });
      const edit = linearEdit(t, { q: q.q, qDtype: 3, scale: q.scale, axis: q.axis }, opset);
      return {
        edit,
        reconstructed: dequantizeLinearRuns(q, c.layout),
        method: `ternary (${axisNote(q.axis)})`,
        symbols: { data: q.q, alphabet: 3 },
      };
    }
    case 'cluster': {
      const k = kmeans1d(values, { clusters: o.clusters ?? 16 });
      const note = k.converged
        ? undefined
        : `k-means stopped after ${k.iterations} iterations without converging`;
      return {
        edit: codebookEdit(t, k.indices, k.centroids),
        reconstructed: dequantizeClusters(k),
        method: `cluster K=${k.centroids.length} (${k.iterations} iterations)`,
        symbols: { data: k.indices, alphabet: 256 },
        note,
      };
    }
    default: {
      // Prune alone: dense zeros in the original dtype, or a sparse initializer when asked and smaller.
      let nnz = 0;
      for (let i = 0; i < values.length; i++) if (values[i] !== 0) nnz++;
      if (o.store === 'sparse' && t.dtype === 1 && sparseBytes(nnz) < t.bytes) {
        return {
          edit: sparseEdit(t, values),
          reconstructed: values,
          method: 'prune (sparse initializer)',
        };
      }
      const note =
        o.store === 'sparse' ? 'sparse storage would not be smaller: kept dense' : undefined;
      const data = encodeAs(t.dtype, values);
      const reconstructed =
        t.dtype === 10
          ? fromFloat16(new Uint16Array(data.buffer, data.byteOffset, values.length))
          : t.dtype === 16
            ? fromBfloat16(new Uint16Array(data.buffer, data.byteOffset, values.length))
            : values;
      return { edit: denseEdit(t, data), reconstructed, method: 'prune (dense)', note };
    }
  }
}

/**
 * int8 storage (store). `values`: the weight, or a reader of it from its file; with `measure`
 * (the report compares with exactly these values) symmetric int8 is measured while it quantizes.
 * Undefined only for a reader the measured quantizer cannot take (then the caller reads an array).
 */
function storeInt8(
  c: WeightCandidate,
  values: Values,
  spec: CompressSpec,
  opset: number,
  measure: boolean,
): Transformed | undefined {
  const t = c.tensor;
  const o = spec.options;
  let perChannel = o.granularity !== 'tensor';
  let note: string | undefined;
  if (perChannel && opset < 13 && opset >= 10 && t.dtype === 1)
    note = `opset ${opset} has only per-tensor DequantizeLinear; per-channel uses Cast/Mul`;
  if (t.dims.length === 0 || c.placeholder) perChannel = false;
  const measured =
    measure && !o.asymmetric
      ? quantizeSymmetricMeasured(values, c.layout, { bits: 8, perChannel })
      : undefined;
  if (!measured && !(values instanceof Float32Array)) return undefined;
  const q =
    measured?.quantized ??
    quantizeLinear(values as Float32Array, c.layout, {
      bits: 8,
      symmetric: !o.asymmetric,
      perChannel,
    });
  const edit = linearEdit(
    t,
    { q: q.q, qDtype: q.signed ? 3 : 2, scale: q.scale, zeroPoint: q.zeroPoint, axis: q.axis },
    opset,
  );
  return {
    edit,
    reconstructed: dequantizeLinearRuns(q, c.layout),
    method: `${q.signed ? 'int8' : 'uint8'} (${axisNote(q.axis)})`,
    symbols: { data: q.q, alphabet: 256 },
    note,
    measured,
  };
}

/**
 * int8 straight from the file: when nothing else touches the values (no pruning, no inspect hook,
 * none given) and they are plain float32 bytes, both passes of the measured quantizer read the
 * weight piece by piece, so no array of it is made (memory stays flat however large it is).
 */
function streamedInt8(
  source: RandomAccessSource,
  openFile: SourceOpener,
  job: TensorJob,
  hooks: Pick<CompressHooks, 'inspect'>,
  given: unknown,
): Transformed | undefined {
  const { candidate: c, storage, spec } = job;
  if (given || hooks.inspect || spec.methods[0] === 'prune' || storage !== 'int8') return undefined;
  const reader = float32Reader(source, c.tensor, openFile);
  return reader && storeInt8(c, reader, spec, job.opset, true);
}

/** Pruned float64 weights keep their float64 values: the mask found on float32 copies is applied to the originals. */
function pruneFloat64(
  c: WeightCandidate,
  original32: Float32Array,
  pruned32: Float32Array,
  source: RandomAccessSource,
  openFile: SourceOpener,
): Transformed {
  const values = readFloat64(source, c.tensor, openFile);
  for (let i = 0; i < values.length; i++)
    if (pruned32[i] === 0 && original32[i] !== 0) values[i] = 0;
  return {
    edit: denseEdit(c.tensor, bytesOf(values)),
    reconstructed: Float32Array.from(values),
    method: 'prune (dense)',
  };
}

/** Reconstructed values as one array (for hooks that look at all of them at once). */
function wholeArray(values: Float32Array | Reconstruction, n: number): Float32Array {
  if (values instanceof Float32Array) return values;
  const out = new Float32Array(n);
  values((from, chunk) => out.set(chunk, from));
  return out;
}

/**
 * Compresses one weight: reads it (unless given, as global pruning does), prunes, stores and
 * measures the reconstruction. Needs nothing but a reader of the model, so it runs in any thread.
 */
export function compressTensor(
  source: RandomAccessSource,
  openFile: SourceOpener,
  job: TensorJob,
  scratch: FloatScratch,
  { prune, inspect }: Pick<CompressHooks, 'prune' | 'inspect'> = {},
  given?: { read: { values: Float32Array; clipped: number }; pruned: Float32Array },
): TensorOutcome {
  const { candidate: c, storage: method, spec: s } = job;
  const streamed = streamedInt8(source, openFile, job, { inspect }, given);
  if (streamed?.measured) return outcome(job, streamed, 0, streamed.measured.comparison);
  // Storage methods keep codes, never the float values, so the values can live in reused buffers; pruned-only weights keep theirs.
  const { values: original, clipped } =
    given?.read ??
    readWeights(source, c.tensor, openFile, method ? scratch.get(0, c.tensor.count) : undefined);
  const input =
    given?.pruned ??
    (s.methods[0] === 'prune'
      ? (prune?.(c, original) ?? pruneOne(original, c, s, job.position))
      : original);
  // The report compares with the original values; int8 can measure while quantizing when it quantizes exactly those.
  const measure = !inspect && input === original;
  const out =
    method === undefined && c.tensor.dtype === 11
      ? pruneFloat64(c, original, input, source, openFile)
      : store(method, c, input, s, job.opset, measure);
  let reconstructed = out.reconstructed;
  if (inspect) {
    const all = wholeArray(reconstructed, original.length);
    inspect(c, original, all);
    reconstructed = all;
  }
  return outcome(
    job,
    out,
    clipped,
    out.measured?.comparison ?? compareReconstruction(original, reconstructed),
  );
}

/** A stored weight's edit, report row (with its comparison) and share of the entropy estimate. */
function outcome(
  job: TensorJob,
  out: Transformed,
  clipped: number,
  comparison: ReportComparison,
): TensorOutcome {
  const { candidate: c, storage: method, spec: s } = job;
  const notes = [
    clipped ? `${clipped} float64 values beyond float32 range clipped to ±3.4e38` : '',
    out.note ?? '',
  ].filter(Boolean);
  const prefix = s.methods[0] === 'prune' && method ? 'prune + ' : '';
  const bytesAfter = editBytes(out.edit);
  return {
    edit: out.edit,
    result: {
      name: c.tensor.name,
      layer: c.layer,
      op: c.op,
      method: prefix + out.method,
      bytesBefore: c.tensor.bytes,
      bytesAfter,
      ...comparison,
      ...(notes.length ? { note: notes.join('; ') } : {}),
    },
    estimate: out.symbols
      ? symbolEstimate(
          out.symbols.data,
          out.symbols.alphabet,
          c.tensor.count,
          bytesAfter - out.symbols.data.byteLength,
          out.measured?.byteCounts,
        )
      : undefined,
  };
}

/** Offsets in the variant's data file are aligned so runtimes can map tensors directly. */
const EXTERNAL_ALIGNMENT = 64;

/**
 * A model that keeps weights in external data gets its own `<output>.data`: new initializers are
 * stored there (shapes excepted), keeping the model file far below protobuf's 2 GiB, and untouched
 * external initializers are copied after them (so the variant never depends on the original's data
 * file). `compress` runs the tensor loop while the data file is open and hands each edit over as
 * it is made; its codes are written at once and dropped, so memory holds only the tensors in
 * flight, not the whole compressed model. Written before the model that names it. Returns
 * undefined for models without external data.
 */
function withExternalData(
  model: Model,
  edited: Set<number | undefined>,
  openFile: SourceOpener,
  hooks: CompressHooks,
  check: () => void,
  compress: (placeEdit: (edit: TensorEdit) => void) => TensorEdit[],
): {
  edits: TensorEdit[];
  data?: { relocations: Map<number, ExternalPlacement>; bytesBefore: number; bytesAfter: number };
} {
  const externals = model.tensors.filter((t) => t.storage.kind === 'external');
  if (!externals.length) return { edits: compress(() => undefined) };
  if (!hooks.shards)
    invalid(
      'a model with external data must be compressed to a file: its data goes to <output>.data',
    );
  // Checked before any tensor is compressed: each weight edited gets an edit, every other external tensor is copied.
  const untouched = externals.filter((t) => !(t.span && edited.has(t.span[0])));
  for (const t of untouched)
    if (t.origin !== 'initializer' || !t.span)
      invalid(
        `external data of ${t.origin} '${t.name}' cannot be moved into the variant's data file`,
      );
  const location = `${hooks.shards.mainName}.data`;
  const relocations = new Map<number, ExternalPlacement>();
  let edits: TensorEdit[] = [];
  const bytesAfter = hooks.shards.write(location, (sink) => {
    let end = 0;
    const place = (length: number, write: () => void): ExternalPlacement => {
      const at = Math.ceil(end / EXTERNAL_ALIGNMENT) * EXTERNAL_ALIGNMENT;
      if (at > end) sink.write(new Uint8Array(at - end));
      write();
      end = at + length;
      return { location, offset: at, length };
    };
    edits = compress((edit) => {
      // int64 tensors are shapes for Reshape and the like: runtimes want those inline to infer shapes.
      for (const nt of edit.initializers) {
        if (nt.dtype === 7) continue;
        const bytes = nt.data;
        nt.external = place(bytes.length, () => sink.write(bytes));
        nt.data = new Uint8Array(0);
      }
    });
    for (const t of untouched) {
      const st = t.storage as Extract<TensorStorage, { kind: 'external' }>;
      relocations.set(
        t.span![0],
        place(st.length, () => copyRange(openFile(st.file), st.offset, st.length, sink, check)),
      );
    }
  });
  let bytesBefore = 0;
  for (const f of new Set(
    externals.map((t) => (t.storage as Extract<TensorStorage, { kind: 'external' }>).file),
  ))
    bytesBefore += openFile(f).size();
  return { edits, data: { relocations, bytesBefore, bytesAfter } };
}

function copyRange(
  from: RandomAccessSource,
  offset: number,
  length: number,
  sink: ByteSink,
  check: () => void,
): void {
  const buf = new Uint8Array(Math.min(length, 1 << 20));
  for (let done = 0; done < length;) {
    check();
    const n = from.read(offset + done, buf.subarray(0, Math.min(buf.length, length - done)));
    if (n <= 0) invalid(`unexpected end of ${from.name} at ${offset + done}`);
    sink.write(buf.slice(0, n));
    done += n;
  }
}

/** Compresses every candidate weight of an ONNX model and streams the rewritten model to `sink`. */
export const compressOnnx: Compressor = (source, model, spec, openFile, sink, hooks) => {
  const s = normaliseSpec(spec);
  const modelOpset = defaultOpset(model);
  let opset = modelOpset;
  // The encodings need opset 7 (numpy-broadcasting Mul/Sub; onnxruntime has no older kernels for them).
  // An older model is raised to 7 when every op it uses means the same there.
  if (opset < 7) {
    const changed = blockersOfOpset7(model);
    if (opset < 6 || changed.length)
      invalid(
        `opset ${opset} is older than the encodings need (7), and ${changed.length ? changed.join(', ') : 'Cast'} changed meaning since, so it cannot be raised`,
      );
    opset = 7;
  }
  const storage = s.methods.find((m) => m !== 'prune');
  const overrides = s.overrides ?? {};
  const storageOf = (c: WeightCandidate): MethodName | undefined => {
    const choice = overrides[c.tensor.name];
    return choice === undefined || choice === 'float' ? storage : choice;
  };
  const choices = new Set<MethodName | undefined>([
    storage,
    ...Object.values(overrides).filter((v) => v !== 'float'),
  ]);
  // int4 is one DequantizeLinear from opset 21; a model whose ops all mean the same there is raised to it.
  const raised21 = choices.has('int4') && opset < 21 && !blockersOfOpset21(model, opset).length;
  if (raised21) opset = 21;
  const half = storage === 'fp16' || storage === 'bf16';
  const { weights: candidates, skipped } = selectWeights(model, {
    half,
    include: s.options.include,
  });
  const only = s.only ? new Set(s.only) : undefined;
  const kept = candidates.filter((c) => {
    if (overrides[c.tensor.name] === 'float' || (only && !only.has(c.tensor.name))) return false;
    const m = storageOf(c);
    const skip = (reason: string) => skipped.push({ index: c.index, name: c.tensor.name, reason });
    if ((m === 'fp16' || m === 'bf16') && (c.tensor.dtype === 10 || c.tensor.dtype === 16)) {
      skip(`already 16-bit (${dtypeInfo(c.tensor.dtype).name})`);
      return false;
    }
    const obstacle = s.options.allowClip ? undefined : rangeObstacle(source, c.tensor, m, openFile);
    if (obstacle) skip(obstacle);
    return !obstacle;
  });
  skipped.sort((a, b) => a.index - b.index);
  if (half && [...choices].some((m) => m !== undefined && m !== 'fp16' && m !== 'bf16')) {
    // A half-precision run lists every float tensor with a placeholder layout; channel-wise overrides need the consumer's.
    const layouts = new Map(findWeights(model).weights.map((w) => [w.index, w.layout]));
    for (const c of kept) {
      const m = storageOf(c);
      if (m === 'fp16' || m === 'bf16') continue;
      const layout = layouts.get(c.index);
      if (!layout)
        invalid(
          `tensor '${c.tensor.name}' feeds no op with a channel layout, so it cannot be stored as ${m}`,
        );
      c.layout = layout;
      delete c.placeholder;
    }
  }
  const cancelled = hooks.cancelled ?? (() => false);
  const check = () => {
    if (cancelled()) throw new CancelledError();
  };
  // Tensor by tensor, so memory holds one float copy at a time (all of them only for global pruning).
  const globalOriginals = isGlobalPrune(s)
    ? kept.map((c) => readWeights(source, c.tensor, openFile))
    : undefined;
  const globalPruned = globalOriginals
    ? pruneGlobal(
        globalOriginals.map((r) => r.values),
        s,
      )
    : undefined;
  const jobs: TensorJob[] = kept.map((c, i) => ({
    candidate: c,
    position: i,
    storage: storageOf(c),
    spec: s,
    opset,
  }));
  const prune = s.methods[0] === 'prune' ? hooks.prune : undefined;
  const scratch = new FloatScratch();
  function* onThisThread(): Generator<TensorOutcome> {
    for (const job of jobs) {
      const i = job.position;
      yield compressTensor(
        source,
        openFile,
        job,
        scratch,
        { prune, inspect: hooks.inspect },
        globalOriginals ? { read: globalOriginals[i], pruned: globalPruned![i] } : undefined,
      );
      if (globalOriginals) globalOriginals[i] = { values: new Float32Array(0), clipped: 0 };
      if (globalPruned) globalPruned[i] = new Float32Array(0);
    }
  }
  const outcomes =
    hooks.parallel && !globalOriginals && !prune && !hooks.inspect
      ? hooks.parallel(jobs, cancelled)
      : onThisThread();
  const tensors: TensorResult[] = [];
  const symbolEstimates: SymbolEstimate[] = [];
  const { edits, data } = withExternalData(
    model,
    new Set(kept.map((c) => c.tensor.span?.[0])),
    openFile,
    hooks,
    check,
    (placeEdit) => {
      const made: TensorEdit[] = [];
      const iterator = outcomes[Symbol.iterator]();
      try {
        for (const job of jobs) {
          check();
          hooks.progress?.(job.position, kept.length, job.candidate.tensor.name);
          const next = iterator.next();
          if (next.done) throw new Error('a compression thread stopped before its last tensor');
          placeEdit(next.value.edit);
          made.push(next.value.edit);
          tensors.push(next.value.result);
          if (next.value.estimate) symbolEstimates.push(next.value.estimate);
        }
      } finally {
        // Ends the runner, whose threads stop with it, on success, error or cancel alike.
        iterator.return?.();
      }
      check();
      return made;
    },
  );
  const plan = {
    edits,
    opsets: opset !== modelOpset && edits.length ? [{ domain: '', version: opset }] : undefined,
    // IR 3 requires every initializer to be a graph input; IR 4 lets the new ones (and the replaced ones' names) stand alone; INT4 needs IR 10.
    irVersion: edits.length
      ? Math.max(model.metadata.irVersion ?? 0, raised21 ? 10 : 4)
      : undefined,
    relocations: data?.relocations,
  };
  const modelBytesAfter = writeOnnx(source, plan, {
    write(b) {
      check();
      sink.write(b);
    },
  });
  const fileBytesBefore = source.size() + (data?.bytesBefore ?? 0);
  const fileBytesAfter = modelBytesAfter + (data?.bytesAfter ?? 0);
  return {
    methods: s.methods,
    suffix: variantSuffix(s),
    options: s.options,
    tensors,
    skipped,
    ...summarise(
      fileBytesBefore,
      fileBytesAfter,
      tensors,
      symbolEstimates,
      kept.reduce((a, c) => a + c.tensor.count, 0),
    ),
    warnings: [
      ...(kept.length ? [] : ['no weights to compress were found']),
      // A misspelt --include would otherwise look like a tensor that was considered and left.
      ...(s.options.include ?? [])
        .filter(
          (x) =>
            x !== 'all' &&
            !model.tensors.some((t) => t.name === x) &&
            !model.layers.some((l) => l.op === x),
        )
        .map((x) => `--include ${x} matches no tensor and no op that reads one`),
    ],
  };
};
