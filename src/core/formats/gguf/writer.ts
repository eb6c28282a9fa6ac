import type {
  CompressHooks,
  CompressReport,
  SymbolEstimate,
  TensorResult,
} from '../../compress/report';
import { variantSuffix, type CompressSpec } from '../../compress/spec';
import { compareReconstruction } from '../../compress/metrics';
import { rangeObstacle } from '../../compress/range';
import { summarise, symbolEstimate } from '../../compress/summary';
import type { SkippedTensor } from '../../compress/weights';
import { CancelledError, invalid } from '../../errors';
import type { RandomAccessSource } from '../../io/source';
import type { Model } from '../../model';
import { streamElements } from '../../stats/decode';
import { bfloat16ToNumber, float16Table } from '../../stats/elements';
import type { ByteSink } from '../onnx/writer';
import { dequantizeBlocks } from './dequant';
import { fp32ToFp16, quantizeQ4_0, quantizeQ8_0 } from './quantize';
import { layerName } from '../layers';
import { parseGgufHeader, type GgufHeader, type GgufKv } from './reader';
import { GGML_TYPE, ggmlType } from './types';

/**
 * GGUF compression: float tensors (F32/F16/BF16, two or more dimensions) become Q8_0 or Q4_0 by
 * ggml's reference quantizers (or F16/BF16); everything else is copied byte for byte. The header
 * is rewritten (new types and offsets, file type), then tensors stream in one at a time.
 */

const TARGETS = {
  int8: { type: GGML_TYPE.Q8_0, fileType: 7, label: 'Q8_0 (blocks of 32)' },
  int4: { type: GGML_TYPE.Q4_0, fileType: 2, label: 'Q4_0 (blocks of 32)' },
  fp16: { type: GGML_TYPE.F16, fileType: 1, label: 'F16' },
  bf16: { type: GGML_TYPE.BF16, fileType: 32, label: 'BF16' },
} as const;

type Target = (typeof TARGETS)[keyof typeof TARGETS];

/** GGML_QNT_VERSION: written when quantized tensors appear and the file names no version. */
const QNT_VERSION = 2;
const COPY_CHUNK = 1 << 20;
const FLOAT_TYPES: readonly number[] = [GGML_TYPE.F32, GGML_TYPE.F16, GGML_TYPE.BF16];

function targetFor(spec: CompressSpec): Target {
  const m = spec.methods;
  const storage = m.length === 1 ? m[0] : undefined;
  if (!storage || !(storage in TARGETS))
    invalid(
      `GGUF models compress with one of int8 (Q8_0), int4 (Q4_0), fp16 or bf16, not ${m.join(' + ')}`,
    );
  if (storage === 'int8' && spec.options.asymmetric)
    invalid('Q8_0 is symmetric: --asymmetric does not apply to GGUF');
  if (storage === 'int4' && spec.options.blockSize !== undefined && spec.options.blockSize !== 32)
    invalid(
      `Q4_0 blocks hold 32 weights: --block-size ${spec.options.blockSize} does not apply to GGUF`,
    );
  return TARGETS[storage as keyof typeof TARGETS];
}

/** Why a tensor keeps its type, or null when it converts. */
function keepReason(dims: number[], type: number, target: Target): string | null {
  const t = ggmlType(type);
  if (!FLOAT_TYPES.includes(type)) return `already ${t?.name ?? `type ${type}`}`;
  if (
    type === target.type ||
    (target.type !== GGML_TYPE.Q8_0 && target.type !== GGML_TYPE.Q4_0 && type !== GGML_TYPE.F32)
  )
    return `already 16-bit (${t!.name})`;
  if (dims.length < 2)
    return '1-D tensors (norms, biases) stay as they are, as llama.cpp keeps them';
  const block = ggmlType(target.type)!.blockSize;
  if (dims[0] % block)
    return `rows of ${dims[0]} elements do not split into ${block}-element blocks`;
  return null;
}

class Out {
  private parts: Uint8Array[] = [];
  length = 0;
  push(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.push(b);
  }
  u64(v: number | bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    this.push(b);
  }
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.push(b);
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function readRange(source: RandomAccessSource, offset: number, length: number): Uint8Array {
  const b = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = source.read(offset + got, b.subarray(got));
    if (n <= 0) invalid(`unexpected end of ${source.name} at offset ${offset + got}`);
    got += n;
  }
  return b;
}

/** Key/value pairs: copied verbatim, the file type updated, a quantization version added when due. */
function writeKvs(
  out: Out,
  source: RandomAccessSource,
  kvs: GgufKv[],
  target: Target,
  quantized: boolean,
  warnings: string[],
): number {
  let count = 0;
  for (const kv of kvs) {
    if (kv.key === 'general.file_type' && kv.type === 4) {
      out.string(kv.key);
      out.u32(4);
      out.u32(target.fileType);
    } else {
      if (kv.key === 'general.file_type')
        warnings.push('general.file_type is not a uint32: left unchanged');
      out.push(readRange(source, kv.span[0], kv.span[1] - kv.span[0]));
    }
    count++;
  }
  if (quantized && !kvs.some((kv) => kv.key === 'general.quantization_version')) {
    out.string('general.quantization_version');
    out.u32(4);
    out.u32(QNT_VERSION);
    count++;
  }
  return count;
}

interface Converted {
  data: Uint8Array;
  reconstructed: Float32Array;
  symbols: { data: Uint8Array | Int8Array | Uint16Array; alphabet: number };
  /** Stored bytes that are not symbols (the fp16 block scales). */
  overhead: number;
}

function fp32ToBf16(x: number, u: Uint32Array, f: Float32Array): number {
  f[0] = x;
  const w = u[0];
  // ggml_compute_fp32_to_bf16: NaN stays a quiet NaN, everything else rounds to nearest even.
  if ((w & 0x7fffffff) > 0x7f800000) return ((w >>> 16) | 64) & 0xffff;
  return Math.floor((w + 0x7fff + ((w >>> 16) & 1)) / 65536) & 0xffff;
}

function convert(values: Float32Array, target: Target): Converted {
  const n = values.length;
  if (target.type === GGML_TYPE.Q8_0 || target.type === GGML_TYPE.Q4_0) {
    const t = ggmlType(target.type)!;
    const data = new Uint8Array((n / 32) * t.typeSize);
    const symbols = target.type === GGML_TYPE.Q8_0 ? new Int8Array(n) : new Uint8Array(n);
    if (symbols instanceof Int8Array) quantizeQ8_0(values, data, symbols);
    else quantizeQ4_0(values, data, symbols);
    const back = new Float64Array(n);
    dequantizeBlocks(target.type, data, n / 32, back);
    return {
      data,
      reconstructed: Float32Array.from(back),
      symbols: { data: symbols, alphabet: symbols instanceof Int8Array ? 256 : 16 },
      overhead: (n / 32) * 2,
    };
  }
  const bits = new Uint16Array(n);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  if (target.type === GGML_TYPE.F16) for (let i = 0; i < n; i++) bits[i] = fp32ToFp16(values[i]);
  else for (let i = 0; i < n; i++) bits[i] = fp32ToBf16(values[i], u, f);
  const table = float16Table();
  const reconstructed =
    target.type === GGML_TYPE.F16
      ? Float32Array.from(bits, (b) => table[b])
      : Float32Array.from(bits, bfloat16ToNumber);
  return {
    data: new Uint8Array(bits.buffer),
    reconstructed,
    symbols: { data: bits, alphabet: 65536 },
    overhead: 0,
  };
}

const pad = (n: number, a: number) => Math.ceil(n / a) * a;

/** Writes the compressed variant of a GGUF model to `sink` and reports what changed. */
export function compressGguf(
  source: RandomAccessSource,
  model: Model,
  spec: CompressSpec,
  sink: ByteSink,
  hooks: CompressHooks,
): CompressReport {
  const target = targetFor(spec);
  const header: GgufHeader = parseGgufHeader(source);
  if (header.tensors.length !== model.tensors.length)
    invalid('the model changed since it was read');
  const check = () => {
    if (hooks.cancelled?.()) throw new CancelledError();
  };
  const skipped: SkippedTensor[] = [];
  const storage = spec.methods.find((m) => m !== 'prune');
  // A GGUF model is one file: nothing to open beside it.
  const noOtherFiles = (name: string): never =>
    invalid(`a GGUF tensor refers to another file (${name})`);
  const convertIt = header.tensors.map((t, i) => {
    const reason =
      keepReason(t.dims, t.type, target) ??
      (spec.options.allowClip
        ? null
        : (rangeObstacle(source, model.tensors[i], storage, noOtherFiles) ?? null));
    if (reason) skipped.push({ index: i, name: t.name, reason });
    return reason === null;
  });
  const newType = header.tensors.map((t, i) => (convertIt[i] ? target.type : t.type));
  const newBytes = header.tensors.map((t, i) =>
    convertIt[i]
      ? (t.count / ggmlType(target.type)!.blockSize) * ggmlType(target.type)!.typeSize
      : t.bytes,
  );
  if (newBytes.some((b) => b < 0))
    invalid('a tensor of unknown ggml type has no known size: the file cannot be rewritten');

  const warnings: string[] = [];
  const head = new Out();
  head.push(readRange(source, 0, 8));
  head.u64(header.tensors.length);
  const kvCountAt = head.length;
  head.u64(0);
  const kvCount = writeKvs(
    head,
    source,
    header.kvs,
    target,
    convertIt.some(Boolean) && target.type !== GGML_TYPE.F16 && target.type !== GGML_TYPE.BF16,
    warnings,
  );
  let offset = 0;
  header.tensors.forEach((t, i) => {
    head.string(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(newType[i]);
    head.u64(offset);
    offset += pad(newBytes[i], header.alignment);
  });
  const headerBytes = head.bytes();
  new DataView(headerBytes.buffer).setBigUint64(kvCountAt, BigInt(kvCount), true);
  let written = 0;
  const write = (b: Uint8Array) => {
    check();
    sink.write(b);
    written += b.length;
  };
  write(headerBytes);
  write(new Uint8Array(pad(written, header.alignment) - written));

  const tensors: TensorResult[] = [];
  const estimates: SymbolEstimate[] = [];
  const toConvert = convertIt.filter(Boolean).length;
  let done = 0;
  header.tensors.forEach((t, i) => {
    check();
    const from = header.dataStart + t.offset;
    if (convertIt[i]) {
      hooks.progress?.(done++, toConvert, t.name);
      const values = new Float32Array(t.count);
      let at = 0;
      streamElements(
        source,
        model.tensors[i],
        () => invalid('GGUF has no external data'),
        (v, n) => {
          for (let k = 0; k < n; k++) values[at + k] = v[k];
          at += n;
        },
      );
      const c = convert(values, target);
      write(c.data);
      tensors.push({
        name: t.name,
        layer: layerName(t.name),
        op: '',
        method: `${ggmlType(t.type)!.name} → ${target.label}`,
        bytesBefore: t.bytes,
        bytesAfter: c.data.length,
        ...compareReconstruction(values, c.reconstructed),
      });
      estimates.push(symbolEstimate(c.symbols.data, c.symbols.alphabet, t.count, c.overhead));
    } else {
      for (let at = 0; at < t.bytes; at += COPY_CHUNK)
        write(readRange(source, from + at, Math.min(COPY_CHUNK, t.bytes - at)));
    }
    write(new Uint8Array(pad(newBytes[i], header.alignment) - newBytes[i]));
  });

  return {
    methods: spec.methods,
    suffix: variantSuffix(spec),
    options: spec.options,
    tensors,
    skipped,
    ...summarise(
      source.size(),
      written,
      tensors,
      estimates,
      estimates.reduce((a, e) => a + e.count, 0),
    ),
    warnings: tensors.length ? warnings : [...warnings, 'no float tensors to compress were found'],
  };
}
