import { dtypeInfo } from '../../dtypes';
import { InvalidModelError, invalid } from '../../errors';
import { readExactly, type ExternalDataResolver, type RandomAccessSource } from '../../io/source';
import { MAX_TENSORS } from '../../limits';
import {
  SHARD_OF_PROPERTY,
  type Model,
  type ModelMetadata,
  type TensorRef,
  type TensorStorage,
} from '../../model';
import { weightsOnlyModel } from '../layers';

export { SHARD_OF_PROPERTY };
import {
  isObject,
  parseHeader,
  parseJson,
  sniffSafetensors,
  type HeaderEntry,
  type ParsedHeader,
} from './header';

/** Index JSON size cap: real indexes are a few MB even for the largest models; stops a length bomb. */
export const MAX_SAFETENSORS_INDEX_BYTES = 64 * 1024 * 1024;
/** Shard files one index may name: each is opened and kept open, so this bounds file descriptors. */
export const MAX_SAFETENSORS_SHARDS = 10_000;
/** `__metadata__` values longer than this are cut in the header display (some hold whole configs). */
const MAX_PROPERTY_CHARS = 2000;

/** `__metadata__` key a compressed variant sets when it holds int8 codes plus per-row scales. */
export const QUANTIZATION_KEY = 'model_lens.quantization';
export const INT8_PER_ROW = 'int8-per-row';
/** Suffix of the scale tensor that goes with each int8 weight. */
export const SCALE_SUFFIX = '.scale';
/** Property naming the index of the sharded model an opened shard belongs to (the editor offers to open it). */

const INDEX_SUFFIX = '.safetensors.index.json';
const SHARD_NAME = /^(.*)-\d+-of-\d+\.safetensors$/i;

function baseName(fileName: string): string {
  return fileName.slice(Math.max(fileName.lastIndexOf('/'), fileName.lastIndexOf('\\')) + 1);
}

export function isSafetensorsIndexName(fileName: string): boolean {
  return baseName(fileName).toLowerCase().endsWith(INDEX_SUFFIX);
}

export function sniffSafetensorsFile(source: RandomAccessSource, fileName: string): boolean {
  return (
    isSafetensorsIndexName(fileName) ||
    baseName(fileName).toLowerCase().endsWith('.safetensors') ||
    sniffSafetensors(source)
  );
}

/** Numeric-aware order: layers.2 before layers.10. */
export function naturalCompare(a: string, b: string): number {
  const pa = a.split(/(\d+)/);
  const pb = b.split(/(\d+)/);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    // Odd positions hold digit runs.
    if (i % 2 === 1) {
      const d = Number(pa[i]) - Number(pb[i]);
      if (d) return d;
    }
    return pa[i] < pb[i] ? -1 : 1;
  }
  return pa.length - pb.length;
}

function property(key: string, value: string): { key: string; value: string } {
  return {
    key,
    value:
      value.length > MAX_PROPERTY_CHARS
        ? `${value.slice(0, MAX_PROPERTY_CHARS)}… (${value.length} characters)`
        : value,
  };
}

function entryTensor(e: HeaderEntry, storage: TensorStorage, file?: string): TensorRef {
  const t: TensorRef = {
    name: e.name,
    dtype: e.dtype.code,
    dims: e.dims,
    count: e.count,
    bytes: e.end - e.begin,
    origin: 'tensor',
    scope: '',
    storage,
  };
  if (e.dtype.code === 0)
    t.storage = { kind: 'none', reason: `${e.dtype.name} elements are not decoded` };
  else if (!dtypeInfo(e.dtype.code).numeric)
    t.storage = { kind: 'none', reason: `${e.dtype.name} elements have no numeric statistics` };
  if (file !== undefined) t.file = file;
  return t;
}

/**
 * Folds `<name>.scale` into `<name>` for int8 weights written as codes plus one float scale per
 * row, so the tensor is listed once with statistics of the dequantized values.
 */
function foldScales(tensors: TensorRef[], warnings: string[]): TensorRef[] {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const folded = new Set<TensorRef>();
  for (const t of tensors) {
    if (t.dtype !== 3 || t.dims.length === 0) continue;
    const s = byName.get(t.name + SCALE_SUFFIX);
    const rows = t.dims[0];
    if (!s || !dtypeInfo(s.dtype).float || s.dims.length !== 1 || s.dims[0] !== rows) {
      warnings.push(
        `int8 tensor '${t.name}' has no matching '${t.name}${SCALE_SUFFIX}' [${rows}]: shown as raw codes`,
      );
      continue;
    }
    if (s.storage.kind === 'none' || t.storage.kind === 'none') continue;
    t.storage = {
      kind: 'scaled',
      values: t.storage,
      valueType: 3,
      scales: s.storage,
      scaleType: s.dtype,
      rowLength: rows ? t.count / rows : 1,
    };
    t.bytes += s.bytes;
    t.origin = 'int8 weight-only';
    folded.add(s);
  }
  return tensors.filter((t) => !folded.has(t));
}

function model(
  fileBytes: number,
  metadata: ModelMetadata,
  tensors: TensorRef[],
  warnings: string[],
): Model {
  // Sharded models show a key per shard ("key (shard)") when shards disagree; any declaring shard counts.
  const quantized = metadata.properties.some(
    (p) =>
      (p.key === QUANTIZATION_KEY || p.key.startsWith(`${QUANTIZATION_KEY} (`)) &&
      p.value === INT8_PER_ROW,
  );
  const listed = quantized ? foldScales(tensors, warnings) : tensors;
  return weightsOnlyModel('safetensors', fileBytes, metadata, listed, warnings, naturalCompare);
}

export function readSafetensors(
  source: RandomAccessSource,
  external?: ExternalDataResolver,
  fileName = '',
): Model {
  if (isSafetensorsIndexName(fileName)) return readSafetensorsIndex(source, external);
  const header = parseHeader(source);
  const tensors = header.entries.map((e) =>
    entryTensor(e, { kind: 'range', offset: header.dataStart + e.begin, length: e.end - e.begin }),
  );
  const metadata: ModelMetadata = {
    opsets: [],
    properties: header.metadata.map((p) => property(p.key, p.value)),
  };
  const warnings = [...header.warnings];
  const index =
    external && fileName ? findSiblingIndex(external, baseName(fileName), warnings) : null;
  if (index) {
    warnings.unshift(`part of a sharded model: open ${index} for the whole model`);
    metadata.properties.push({ key: SHARD_OF_PROPERTY, value: index });
  }
  return model(source.size(), metadata, tensors, warnings);
}

export function readIndexJson(
  source: RandomAccessSource,
  what: string,
): { weightMap: Map<string, string>; metadata: [string, unknown][] } {
  const size = source.size();
  if (size > MAX_SAFETENSORS_INDEX_BYTES)
    invalid(
      `${what} is ${size} bytes, over the ${MAX_SAFETENSORS_INDEX_BYTES}-byte limit for an index`,
    );
  const json = parseJson(readExactly(source, 0, size), what);
  if (!isObject(json)) invalid(`${what} is not a JSON object`);
  if (!isObject(json.weight_map)) invalid(`${what} has no weight_map object`);
  const weightMap = new Map<string, string>();
  for (const [tensor, file] of Object.entries(json.weight_map)) {
    if (typeof file !== 'string' || !file)
      invalid(`${what}: weight_map entry '${tensor}' does not name a file`);
    weightMap.set(tensor, file);
  }
  if (json.metadata !== undefined && !isObject(json.metadata))
    invalid(`${what}: metadata is not an object`);
  return { weightMap, metadata: Object.entries(json.metadata ?? {}) };
}

/** The index of the sharded set `shard` belongs to, when one next to it lists it. */
function findSiblingIndex(
  external: ExternalDataResolver,
  shard: string,
  warnings: string[],
): string | null {
  const m = SHARD_NAME.exec(shard);
  if (!m) return null;
  const index = `${m[1]}${INDEX_SUFFIX}`;
  let source: RandomAccessSource;
  try {
    source = external.open(index);
  } catch (err) {
    if (err instanceof InvalidModelError) return null;
    throw err;
  }
  try {
    const { weightMap } = readIndexJson(source, index);
    return [...weightMap.values()].includes(shard) ? index : null;
  } catch (err) {
    if (!(err instanceof InvalidModelError)) throw err;
    warnings.push(`${index} next to this shard cannot be read: ${err.message}`);
    return null;
  }
}

/**
 * A sharded model: the index's weight_map names each tensor's shard; every shard's header is
 * read and checked, and tensors point into their shard as external storage.
 */
export function readSafetensorsIndex(
  source: RandomAccessSource,
  external?: ExternalDataResolver,
): Model {
  const { weightMap, metadata: indexMetadata } = readIndexJson(source, 'index');
  const shards = [...new Set(weightMap.values())].sort(naturalCompare);
  if (shards.length > MAX_SAFETENSORS_SHARDS)
    invalid(`index names ${shards.length} shards, over the limit of ${MAX_SAFETENSORS_SHARDS}`);
  if (!shards.length) invalid('index weight_map lists no tensors');
  if (!external) invalid('the shards of a sharded model cannot be read from here');
  const properties = indexMetadata.map(([k, v]) =>
    property(k, typeof v === 'string' ? v : JSON.stringify(v)),
  );
  properties.push({ key: 'shards', value: String(shards.length) });
  const warnings: string[] = [];
  const tensors: TensorRef[] = [];
  const seen = new Map<string, string>();
  const shardMetadata = new Map<string, Map<string, string>>();
  let fileBytes = source.size();
  for (const shard of shards) {
    const shardSource = external.open(shard);
    fileBytes += shardSource.size();
    const header: ParsedHeader = parseHeader(shardSource, `shard '${shard}'`);
    warnings.push(...header.warnings);
    for (const { key, value } of header.metadata) {
      if (!shardMetadata.has(key)) shardMetadata.set(key, new Map());
      shardMetadata.get(key)!.set(shard, value);
    }
    let unlisted = 0;
    for (const e of header.entries) {
      const other = seen.get(e.name);
      if (other !== undefined) invalid(`tensor '${e.name}' is in both '${other}' and '${shard}'`);
      seen.set(e.name, shard);
      if (weightMap.get(e.name) !== shard) unlisted++;
      if (tensors.length >= MAX_TENSORS) invalid(`more than ${MAX_TENSORS} tensors`);
      tensors.push(
        entryTensor(
          e,
          {
            kind: 'external',
            file: shard,
            offset: header.dataStart + e.begin,
            length: e.end - e.begin,
          },
          shard,
        ),
      );
    }
    if (unlisted)
      warnings.push(
        `shard '${shard}' holds ${unlisted} tensor${unlisted > 1 ? 's' : ''} the index does not list there`,
      );
  }
  const missing = [...weightMap].filter(([tensor, shard]) => seen.get(tensor) !== shard);
  if (missing.length) {
    const [tensor, shard] = missing[0];
    warnings.unshift(
      `index lists ${missing.length} tensor${missing.length > 1 ? 's' : ''} where no shard holds them, e.g. '${tensor}' in '${shard}'`,
    );
  }
  for (const [key, values] of shardMetadata) {
    const distinct = new Set(values.values());
    if (distinct.size === 1 && values.size === shards.length)
      properties.push(property(key, [...distinct][0]));
    else for (const [shard, value] of values) properties.push(property(`${key} (${shard})`, value));
  }
  return model(fileBytes, { opsets: [], properties }, tensors, warnings);
}
