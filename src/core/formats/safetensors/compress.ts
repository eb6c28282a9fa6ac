import { dtypeInfo } from '../../dtypes';
import { CancelledError, invalid } from '../../errors';
import type { RandomAccessSource } from '../../io/source';
import type { Model } from '../../model';
import type { SourceOpener } from '../../stats/decode';
import { bytesOf } from '../onnx/encode';
import { compareReconstruction } from '../../compress/metrics';
import { summarise, symbolEstimate } from '../../compress/summary';
import {
  dequantizeClusters,
  dequantizeLinear,
  fromBfloat16,
  fromFloat16,
  kmeans1d,
  quantizeLinear,
  toBfloat16,
  toFloat16,
} from '../../compress/methods';
import type { Compressor, SymbolEstimate, TensorResult } from '../../compress/report';
import {
  isGlobalPrune,
  pruneGlobal,
  pruneOne,
  readFloat64,
  readWeights,
} from '../../compress/tensors';
import { rangeObstacle } from '../../compress/range';
import { normaliseSpec, variantSuffix } from '../../compress/spec';
import type { WeightLayout } from '../../compress/types';
import {
  MIN_COMPRESSIBLE_ELEMENTS,
  type SkippedTensor,
  type WeightCandidate,
} from '../../compress/weights';
import type { ByteSink } from '../onnx/writer';
import { parseHeader, safetensorsDTypeName, type HeaderEntry } from './header';
import { FORMATS } from '../capabilities';
import { layerName } from '../layers';
import {
  INT8_PER_ROW,
  naturalCompare,
  QUANTIZATION_KEY,
  readIndexJson,
  SCALE_SUFFIX,
} from './reader';
import { copiedTensor, writeSafetensors, type OutTensor } from './writer';

/** How safetensors variants store each method: values in the source dtype, or int8 codes + per-row scales. */
const COMPRESSION_KEY = 'model_lens.compression';
const SCHEME_KEY = `${QUANTIZATION_KEY}.scheme`;
const INT8_SCHEME = `w[r, ...] = <name>[r, ...] (int8) * <name>${SCALE_SUFFIX}[r] (float32): symmetric, one scale per output row (dim 0)`;
/** float32, float64, float16, bfloat16: what weights are stored in before compression. */
const FLOAT_TYPES = [1, 11, 10, 16];
/** fp16/bf16 convert every float tensor from this size on; smaller ones are not worth a new dtype. */
const MIN_HALF_ELEMENTS = 16;

interface InputFile {
  /** Shard file name; '' for a single-file model. */
  name: string;
  entries: HeaderEntry[];
  metadata: Record<string, string>;
  dataStart: number;
  open: () => RandomAccessSource;
}

interface Result {
  data: Uint8Array;
  dtype: number;
  /** int8 only: one float32 scale per row. */
  scale?: Float32Array;
  original: Float32Array;
  reconstructed: Float32Array;
  method: string;
  notes: string[];
  symbols?: { data: Uint8Array | Int8Array | Uint16Array; alphabet: number };
}

function shardName(mainName: string, i: number, n: number): string {
  const stem = mainName.replace(/\.safetensors\.index\.json$/i, '');
  if (stem === mainName)
    invalid(`a sharded variant's output must be named *.safetensors.index.json, not ${mainName}`);
  return `${stem}-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
}

function inputFiles(
  source: RandomAccessSource,
  model: Model,
  openFile: SourceOpener,
): { files: InputFile[]; indexMetadata: [string, unknown][] | null } {
  const asFile = (name: string, open: () => RandomAccessSource): InputFile => {
    const h = parseHeader(open(), name ? `shard '${name}'` : '');
    return {
      name,
      entries: h.entries,
      metadata: Object.fromEntries(h.metadata.map((p) => [p.key, p.value])),
      dataStart: h.dataStart,
      open,
    };
  };
  if (!model.tensors.some((t) => t.file !== undefined))
    return { files: [asFile('', () => source)], indexMetadata: null };
  const index = readIndexJson(source, 'index');
  const shards = [...new Set(index.weightMap.values())].sort(naturalCompare);
  return { files: shards.map((s) => asFile(s, () => openFile(s))), indexMetadata: index.metadata };
}

/** Values in a float dtype's own encoding, and what a reader decodes them to. */
function encodeAs(
  dtype: number,
  values: Float32Array,
): { data: Uint8Array; decoded: Float32Array } {
  switch (dtype) {
    case 10: {
      const bits = toFloat16(values).bits;
      return { data: bytesOf(bits), decoded: fromFloat16(bits) };
    }
    case 16: {
      const bits = toBfloat16(values).bits;
      return { data: bytesOf(bits), decoded: fromBfloat16(bits) };
    }
    case 11:
      return { data: bytesOf(Float64Array.from(values)), decoded: values };
    default:
      return { data: bytesOf(values), decoded: values };
  }
}

/**
 * Compresses a safetensors model (one file, or a sharded one through its index) into a new
 * safetensors variant streamed to `sink`; a sharded input gives a sharded output whose shards
 * `hooks.shards` writes, and `sink` receives the new index.
 */
export const compressSafetensors: Compressor = (source, model, spec, openFile, sink, hooks) => {
  const s = normaliseSpec(spec);
  const supported = FORMATS.safetensors.methods;
  for (const m of s.methods)
    if (!supported.includes(m))
      invalid(`${m} is not available for safetensors (use ${supported.join(', ')})`);
  if (s.options.asymmetric)
    invalid(
      'asymmetric int8 is not available for safetensors: its int8 layout is symmetric codes with per-row scales',
    );
  const storage = s.methods.find((m) => m !== 'prune');
  const half = storage === 'fp16' || storage === 'bf16';
  const { files, indexMetadata } = inputFiles(source, model, openFile);
  if (indexMetadata && !hooks.shards)
    invalid('a sharded model needs a folder to write its shards to');
  const cancelled = hooks.cancelled ?? (() => false);
  const check = () => {
    if (cancelled()) throw new CancelledError();
  };

  const allNames = new Set(files.flatMap((f) => f.entries.map((e) => e.name)));
  const byName = new Map(model.tensors.map((t, i) => [t.name, { t, i }]));
  const candidates: WeightCandidate[] = [];
  const skipped: SkippedTensor[] = [];
  for (const f of files) {
    for (const e of f.entries) {
      const found = byName.get(e.name);
      // Scales of int8 weights are folded into their weight by the reader: carried over as they are.
      if (!found || !FLOAT_TYPES.includes(found.t.dtype) || found.t.storage.kind === 'scaled')
        continue;
      const { t, i } = found;
      const skip = (reason: string) => skipped.push({ index: i, name: t.name, reason });
      if (t.storage.kind === 'none') skip(t.storage.reason ?? 'no data');
      else if (half && (t.dtype === 10 || t.dtype === 16))
        skip(`already 16-bit (${dtypeInfo(t.dtype).name})`);
      else if (half && t.count < MIN_HALF_ELEMENTS)
        skip(`too small to pay off (${t.count} elements)`);
      else if (!half && t.dims.length < 2)
        skip(`${t.dims.length}-D: norms, biases and scalars are kept`);
      else if (!half && t.count < MIN_COMPRESSIBLE_ELEMENTS)
        skip(`too small to pay off (${t.count} elements)`);
      else if (storage === 'int8' && allNames.has(t.name + SCALE_SUFFIX))
        skip(`a tensor named '${t.name}${SCALE_SUFFIX}' already exists`);
      else {
        const layout: WeightLayout = {
          dims: t.dims,
          outputAxis: 0,
          inputAxis: Math.min(1, t.dims.length - 1),
        };
        const c: WeightCandidate = {
          index: i,
          tensor: t,
          op: '',
          layer: layerName(t.name),
          layout,
        };
        const obstacle = s.options.allowClip
          ? undefined
          : rangeObstacle(source, t, storage, openFile);
        if (obstacle) skip(obstacle);
        else candidates.push(c);
      }
    }
  }
  skipped.sort((a, b) => a.index - b.index);

  const position = new Map(candidates.map((c, k) => [c.tensor.name, k]));
  const clippedBy = new Map<string, number>();
  const read = (c: WeightCandidate): Float32Array => {
    const r = readWeights(source, c.tensor, openFile);
    if (r.clipped) clippedBy.set(c.tensor.name, r.clipped);
    return r.values;
  };
  const globalOriginals = isGlobalPrune(s) ? candidates.map(read) : undefined;
  const globalPruned = globalOriginals ? pruneGlobal(globalOriginals, s) : undefined;

  /** Prune (if asked) and store one candidate; deterministic, so int8 may run it twice (scale, then codes). */
  const transform = (c: WeightCandidate): Result => {
    const k = position.get(c.tensor.name)!;
    const original = globalOriginals?.[k] ?? read(c);
    const values =
      globalPruned?.[k] ?? (s.methods[0] === 'prune' ? pruneOne(original, c, s, k) : original);
    const t = c.tensor;
    const clipped = clippedBy.get(t.name);
    const notes = clipped
      ? [`${clipped} float64 values beyond float32 range clipped to ±3.4e38`]
      : [];
    switch (storage) {
      case 'fp16':
      case 'bf16': {
        const h = storage === 'fp16' ? toFloat16(values) : toBfloat16(values);
        if (h.clipped)
          notes.push(`${h.clipped} values beyond the ${storage} range clipped (--allow-clip)`);
        if (h.flushedToZero) notes.push(`${h.flushedToZero} tiny values flushed to 0`);
        const reconstructed = storage === 'fp16' ? fromFloat16(h.bits) : fromBfloat16(h.bits);
        return {
          data: bytesOf(h.bits),
          dtype: storage === 'fp16' ? 10 : 16,
          original,
          reconstructed,
          method: storage,
          notes,
          symbols: { data: h.bits, alphabet: 65536 },
        };
      }
      case 'int8': {
        const q = quantizeLinear(values, c.layout, {
          bits: 8,
          symmetric: true,
          perChannel: s.options.granularity !== 'tensor',
        });
        const rows = t.dims[0];
        const scale = q.axis === null ? new Float32Array(rows).fill(q.scale[0]) : q.scale;
        const codes = q.q as Int8Array;
        const method = q.axis === null ? 'int8 (one scale, repeated per row)' : 'int8 (per row)';
        return {
          data: bytesOf(codes),
          dtype: 3,
          scale,
          original,
          reconstructed: dequantizeLinear(q, c.layout),
          method,
          notes,
          symbols: { data: codes, alphabet: 256 },
        };
      }
      case 'cluster': {
        const km = kmeans1d(values, { clusters: s.options.clusters ?? 16 });
        if (!km.converged)
          notes.push(`k-means stopped after ${km.iterations} iterations without converging`);
        const { data, decoded } = encodeAs(t.dtype, dequantizeClusters(km));
        const method = `cluster K=${km.centroids.length} (${km.iterations} iterations), stored as ${dtypeInfo(t.dtype).name}`;
        return {
          data,
          dtype: t.dtype,
          original,
          reconstructed: decoded,
          method,
          notes,
          symbols: { data: km.indices, alphabet: 256 },
        };
      }
      default: {
        if (s.options.store === 'sparse')
          notes.push('safetensors has no sparse storage: kept dense');
        if (t.dtype === 11) {
          // float64 weights keep their float64 values: the mask found on the float32 copy zeroes the originals.
          const exact = readFloat64(source, t, openFile);
          for (let i = 0; i < exact.length; i++)
            if (values[i] === 0 && original[i] !== 0) exact[i] = 0;
          return {
            data: bytesOf(exact),
            dtype: 11,
            original,
            reconstructed: Float32Array.from(exact),
            method: 'prune (dense)',
            notes,
          };
        }
        const { data, decoded } = encodeAs(t.dtype, values);
        return {
          data,
          dtype: t.dtype,
          original,
          reconstructed: decoded,
          method: 'prune (dense)',
          notes,
        };
      }
    }
  };

  const tensors: TensorResult[] = [];
  const symbolEstimates: SymbolEstimate[] = [];
  let done = 0;
  const reported = new Set<string>();
  let last: { name: string; result: Result } | null = null;
  /** The transformed tensor, reported once; the latest is kept so a weight's codes and scale share one run when adjacent. */
  const result = (c: WeightCandidate): Result => {
    if (last?.name === c.tensor.name) return last.result;
    check();
    const r = transform(c);
    last = { name: c.tensor.name, result: r };
    if (reported.has(c.tensor.name)) return r;
    reported.add(c.tensor.name);
    hooks.progress?.(done++, candidates.length, c.tensor.name);
    const bytesAfter = r.data.length + (r.scale ? r.scale.byteLength : 0);
    const prefix = s.methods[0] === 'prune' && storage ? 'prune + ' : '';
    tensors.push({
      name: c.tensor.name,
      layer: c.layer,
      op: c.op,
      method: prefix + r.method,
      bytesBefore: c.tensor.bytes,
      bytesAfter,
      ...compareReconstruction(r.original, r.reconstructed),
      ...(r.notes.length ? { note: r.notes.join('; ') } : {}),
    });
    if (r.symbols)
      symbolEstimates.push(
        symbolEstimate(
          r.symbols.data,
          r.symbols.alphabet,
          c.tensor.count,
          bytesAfter - r.symbols.data.byteLength,
        ),
      );
    if (globalOriginals) {
      const k = position.get(c.tensor.name)!;
      if (storage !== 'int8') globalOriginals[k] = globalPruned![k] = new Float32Array(0);
    }
    return r;
  };

  const byCandidate = new Map(candidates.map((c) => [c.tensor.name, c]));
  const outTensors = (f: InputFile): OutTensor[] => {
    const out: OutTensor[] = [];
    for (const e of f.entries) {
      const c = byCandidate.get(e.name);
      if (!c) {
        out.push(
          copiedTensor(
            e.name,
            e.dtype.name,
            e.dtype.bits,
            e.dims,
            f.open,
            f.dataStart + e.begin,
            e.end - e.begin,
          ),
        );
        continue;
      }
      const dtype =
        storage === 'fp16' ? 10 : storage === 'bf16' ? 16 : storage === 'int8' ? 3 : c.tensor.dtype;
      const bits = dtypeInfo(dtype).bits;
      out.push({
        name: e.name,
        dtype: safetensorsDTypeName(dtype),
        bits,
        dims: e.dims,
        bytes: (e.count * bits) / 8,
        write: (w) => w.write(result(c).data),
      });
      if (storage === 'int8') {
        const rows = e.dims[0];
        out.push({
          name: e.name + SCALE_SUFFIX,
          dtype: 'F32',
          bits: 32,
          dims: [rows],
          bytes: rows * 4,
          write: (w) => w.write(bytesOf(result(c).scale!)),
        });
      }
    }
    return out;
  };
  const metadataOf = (original: Record<string, string>): Record<string, string> => {
    const m: Record<string, string> = { ...original, [COMPRESSION_KEY]: variantSuffix(s) };
    if (storage === 'int8' && candidates.length)
      Object.assign(m, { [QUANTIZATION_KEY]: INT8_PER_ROW, [SCHEME_KEY]: INT8_SCHEME });
    return m;
  };
  const guarded: ByteSink = {
    write(b) {
      check();
      sink.write(b);
    },
  };

  let fileBytesAfter: number;
  if (!indexMetadata) {
    fileBytesAfter = writeSafetensors(outTensors(files[0]), metadataOf(files[0].metadata), guarded);
  } else {
    const shards = hooks.shards!;
    const weightMap: Record<string, string> = Object.create(null);
    let totalSize = 0;
    fileBytesAfter = 0;
    files.forEach((f, i) => {
      const name = shardName(shards.mainName, i, files.length);
      const list = outTensors(f);
      for (const t of list) {
        weightMap[t.name] = name;
        totalSize += t.bytes;
      }
      fileBytesAfter += shards.write(name, (w) =>
        writeSafetensors(list, metadataOf(f.metadata), {
          write(b) {
            check();
            w.write(b);
          },
        }),
      );
    });
    const metadata: Record<string, unknown> = Object.fromEntries(indexMetadata);
    Object.assign(metadata, metadataOf({}), { total_size: totalSize });
    const sorted = Object.fromEntries(
      Object.entries(weightMap).sort((a, b) => naturalCompare(a[0], b[0])),
    );
    const index = new TextEncoder().encode(
      JSON.stringify({ metadata, weight_map: sorted }, null, 2) + '\n',
    );
    guarded.write(index);
    fileBytesAfter += index.length;
  }

  return {
    methods: s.methods,
    suffix: variantSuffix(s),
    options: s.options,
    tensors: tensors.sort((a, b) => byName.get(a.name)!.i - byName.get(b.name)!.i),
    skipped,
    ...summarise(
      model.fileBytes,
      fileBytesAfter,
      tensors,
      symbolEstimates,
      candidates.reduce((a, c) => a + c.tensor.count, 0),
    ),
    warnings: candidates.length ? [] : ['no weights to compress were found'],
  };
};
