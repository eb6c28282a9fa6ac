import { dtypeInfo, storageBytes } from '../../dtypes';
import { invalid } from '../../errors';
import type { ExternalDataResolver, RandomAccessSource } from '../../io/source';
import { WireReader } from '../../io/wire';
import {
  MAX_GRAPH_DEPTH,
  MAX_NODES,
  MAX_TENSOR_ELEMENTS,
  MAX_TENSOR_RANK,
  MAX_TENSORS,
} from '../../limits';
import type {
  Layer,
  Model,
  ModelMetadata,
  TensorRef,
  TensorStorage,
  ValueInfo,
  WireEncoding,
} from '../../model';

/** ONNX protobuf: ModelProto and the messages under it, walked at the wire level. */

interface Scope {
  path: string;
  parent: Scope | null;
  names: Map<string, number>;
}

interface NodeInfo {
  name: string;
  op: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  /** Tensors held in the node's own attributes (not Constant values). */
  attributeTensors: number[];
  ints: Record<string, number>;
  /** Integer-list attributes no longer than MAX_TENSOR_RANK (axes, perm): longer ones are not axis lists. */
  lists: Record<string, number[]>;
  scope: Scope;
}

interface ParseState {
  r: WireReader;
  external: ExternalDataResolver | undefined;
  tensors: TensorRef[];
  nodes: NodeInfo[];
  warnings: string[];
  opCounts: Record<string, number>;
}

/** TensorProto fields that may hold elements, by dtype: [field number, encoding]. */
function typedField(dtype: number): [number, WireEncoding] | null {
  switch (dtype) {
    case 1:
      return [4, 'f32'];
    case 11:
      return [10, 'f64'];
    case 7:
      return [7, 'varint'];
    case 12:
    case 13:
      return [11, 'uvarint'];
    case 8:
    case 14:
    case 15:
      return null;
    default:
      return [5, 'varint'];
  }
}

/** True when the bytes look like an ONNX ModelProto: field 1 (ir_version) or another known field first. */
export function sniffOnnx(source: RandomAccessSource): boolean {
  if (source.size() < 2) return false;
  const head = new Uint8Array(Math.min(16, source.size()));
  source.read(0, head);
  // ModelProto starts with a small set of (field, wiretype) tags; ir_version (0x08) is written first by every exporter.
  return [0x08, 0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72].includes(head[0]);
}

export function readOnnx(source: RandomAccessSource, external?: ExternalDataResolver): Model {
  const r = new WireReader(source);
  const state: ParseState = { r, external, tensors: [], nodes: [], warnings: [], opCounts: {} };
  const metadata: ModelMetadata = { opsets: [], properties: [] };
  let inputs: ValueInfo[] = [];
  let outputs: ValueInfo[] = [];
  const end = source.size();
  const root: Scope = { path: '', parent: null, names: new Map() };
  let sawGraph = false as boolean;
  r.fields(end, (field, wt) => {
    if (field === 1 && wt === 0) metadata.irVersion = r.varint();
    else if (field === 2 && wt === 2) metadata.producer = r.string(r.length(end));
    else if (field === 3 && wt === 2) metadata.producerVersion = r.string(r.length(end));
    else if (field === 4 && wt === 2) metadata.domain = r.string(r.length(end));
    else if (field === 5 && wt === 0) {
      r.varint64();
      metadata.modelVersion = r.int64;
    } else if (field === 6 && wt === 2) metadata.docString = r.string(r.length(end));
    else if (field === 7 && wt === 2) {
      if (sawGraph) invalid('ModelProto has more than one graph');
      sawGraph = true;
      const gEnd = r.fieldEnd(end);
      const g = parseGraph(state, gEnd, root, 0);
      metadata.graphName = g.name;
      inputs = g.inputs;
      outputs = g.outputs;
    } else if (field === 8 && wt === 2) metadata.opsets.push(parseOpset(r, r.fieldEnd(end)));
    else if (field === 14 && wt === 2)
      metadata.properties.push(parseStringEntry(r, r.fieldEnd(end)));
    else if (field === 25 && wt === 2) parseFunction(state, r.fieldEnd(end));
  });
  if (!sawGraph) invalid('not an ONNX model: no graph found');
  if (metadata.irVersion === undefined) state.warnings.push('ir_version is missing');
  return {
    format: 'onnx',
    fileBytes: source.size(),
    metadata,
    nodeCount: state.nodes.length,
    opCounts: state.opCounts,
    inputs,
    outputs,
    tensors: state.tensors,
    ...linkLayers(state),
    warnings: state.warnings,
  };
}

function parseOpset(r: WireReader, end: number): { domain: string; version: number } {
  const o = { domain: '', version: 0 };
  r.fields(end, (field, wt) => {
    if (field === 1 && wt === 2) o.domain = r.string(r.length(end));
    else if (field === 2 && wt === 0) {
      r.varint64();
      o.version = r.int64;
    }
  });
  return o;
}

function parseStringEntry(r: WireReader, end: number): { key: string; value: string } {
  const e = { key: '', value: '' };
  r.fields(end, (field, wt) => {
    if (field === 1 && wt === 2) e.key = r.string(r.length(end));
    else if (field === 2 && wt === 2) e.value = r.string(r.length(end));
  });
  return e;
}

function parseGraph(
  state: ParseState,
  end: number,
  scope: Scope,
  depth: number,
): { name: string; inputs: ValueInfo[]; outputs: ValueInfo[] } {
  if (depth > MAX_GRAPH_DEPTH) invalid(`subgraphs nested deeper than ${MAX_GRAPH_DEPTH}`);
  const r = state.r;
  let name = '';
  const inputs: ValueInfo[] = [];
  const outputs: ValueInfo[] = [];
  const nodeRanges: [number, number][] = [];
  r.fields(end, (field, wt) => {
    if (wt !== 2) return;
    const len = r.length(end);
    const fEnd = r.pos + len;
    if (field === 1) {
      nodeRanges.push([r.pos, fEnd]);
      r.skip(len);
    } else if (field === 2) name = r.string(len);
    else if (field === 5)
      addTensor(state, parseTensor(state, fEnd, 'initializer', scope.path), scope);
    else if (field === 15)
      addTensor(state, parseSparse(state, fEnd, 'sparse_initializer', scope.path), scope);
    else if (field === 11) inputs.push(parseValueInfo(r, fEnd));
    else if (field === 12) outputs.push(parseValueInfo(r, fEnd));
    else r.skip(len);
    r.pos = fEnd;
  });
  // Nodes after initializers: a Constant's scope entry must exist before consumers are linked, whatever the field order.
  for (const [start, nEnd] of nodeRanges) {
    r.pos = start;
    parseNode(state, nEnd, scope, depth);
  }
  r.pos = end;
  return { name, inputs, outputs };
}

function addTensor(state: ParseState, t: TensorRef, scope: Scope | null): number {
  if (state.tensors.length >= MAX_TENSORS) invalid(`more than ${MAX_TENSORS} tensors`);
  state.tensors.push(t);
  const index = state.tensors.length - 1;
  if (scope && t.name && !scope.names.has(t.name)) scope.names.set(t.name, index);
  const values = smallInts(state.r, t);
  if (values) t.values = values;
  return index;
}

/**
 * The elements of an int32/int64 tensor of at most MAX_TENSOR_RANK elements stored in the model's
 * protobuf (axes, perms, shapes), read while its bytes are at hand so graph rules need no file access.
 */
function smallInts(r: WireReader, t: TensorRef): number[] | undefined {
  const st = t.storage;
  if ((t.dtype !== 6 && t.dtype !== 7) || t.count > MAX_TENSOR_RANK || st.kind !== 'proto')
    return undefined;
  const size = t.dtype === 6 ? 4 : 8;
  const saved = r.pos;
  const values: number[] = [];
  r.pos = st.start;
  r.fields(st.end, (field, wt) => {
    if (field !== st.field) return;
    if (st.wire === 'bytes' && wt === 2) {
      const bytes = r.bytes(r.length(st.end));
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let at = 0; at + size <= bytes.length; at += size)
        values.push(size === 4 ? view.getInt32(at, true) : Number(view.getBigInt64(at, true)));
    } else if (st.wire === 'varint' && wt === 2) {
      const end = r.fieldEnd(st.end);
      while (r.pos < end) {
        r.varint64();
        values.push(r.int64);
      }
    } else if (st.wire === 'varint' && wt === 0) {
      r.varint64();
      values.push(r.int64);
    } else return false;
    return values.length <= t.count;
  });
  r.pos = saved;
  return values.length === t.count ? values : undefined;
}

function parseNode(state: ParseState, end: number, scope: Scope, depth: number): void {
  const r = state.r;
  if (state.nodes.length >= MAX_NODES) invalid(`more than ${MAX_NODES} nodes`);
  const node: NodeInfo = {
    name: '',
    op: '',
    domain: '',
    inputs: [],
    outputs: [],
    attributeTensors: [],
    ints: {},
    lists: {},
    scope,
  };
  const span: [number, number] = [r.pos, end];
  const outputs = node.outputs;
  const attributes: [number, number][] = [];
  r.fields(end, (field, wt) => {
    if (wt !== 2) return;
    const len = r.length(end);
    if (field === 1) node.inputs.push(r.string(len));
    else if (field === 2) outputs.push(r.string(len));
    else if (field === 3) node.name = r.string(len);
    else if (field === 4) node.op = r.string(len);
    else if (field === 7) node.domain = r.string(len);
    else if (field === 5) {
      attributes.push([r.pos, r.pos + len]);
      r.skip(len);
    } else r.skip(len);
  });
  if (!node.name) node.name = `${node.op || 'node'}_${state.nodes.length}`;
  state.nodes.push(node);
  const opKey = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.op}` : node.op;
  state.opCounts[opKey] = (state.opCounts[opKey] ?? 0) + 1;
  const isConstant = node.op === 'Constant' && (node.domain === '' || node.domain === 'ai.onnx');
  for (const [start, aEnd] of attributes) {
    r.pos = start;
    parseAttribute(
      state,
      aEnd,
      node,
      isConstant ? (outputs[0] ?? node.name) : null,
      scope,
      depth,
      span,
    );
  }
  r.pos = end;
}

/** Records tensors held in an attribute (a Constant's value, or any tensor attribute) and parses subgraphs. */
function parseAttribute(
  state: ParseState,
  end: number,
  node: NodeInfo,
  constantOutput: string | null,
  scope: Scope,
  depth: number,
  nodeSpan: [number, number],
): void {
  const r = state.r;
  let name = '';
  let intValue = undefined as number | undefined;
  const graphs: [number, number][] = [];
  const tensors: [number, number, boolean][] = [];
  let floats = 0;
  let ints = 0;
  const intList: number[] = [];
  let hasF = false as boolean;
  let hasI = false as boolean;
  const start = r.pos;
  r.fields(end, (field, wt) => {
    if (field === 1 && wt === 2) name = r.string(r.length(end));
    else if ((field === 5 || field === 10 || field === 22 || field === 23) && wt === 2) {
      const len = r.length(end);
      tensors.push([r.pos, r.pos + len, field === 22 || field === 23]);
      r.skip(len);
    } else if ((field === 6 || field === 11) && wt === 2) {
      const len = r.length(end);
      graphs.push([r.pos, r.pos + len]);
      r.skip(len);
    } else if (field === 7) {
      if (wt === 2) {
        const len = r.length(end);
        if (len % 4) invalid(`attribute floats length ${len} is not a multiple of 4`);
        floats += len / 4;
        r.skip(len);
      } else floats++;
    } else if (field === 8) {
      const int = () => {
        r.varint64();
        if (++ints <= MAX_TENSOR_RANK) intList.push(r.int64);
      };
      if (wt === 2) {
        const fEnd = r.fieldEnd(end);
        while (r.pos < fEnd) int();
      } else if (wt === 0) int();
      else ints++;
    } else if (field === 2) hasF = true;
    else if (field === 3 && wt === 0) {
      hasI = true;
      r.varint64();
      intValue = r.int64;
    }
  });
  if (intValue !== undefined && name && constantOutput === null) node.ints[name] = intValue;
  if (ints > 0 && intList.length === ints && name && constantOutput === null)
    node.lists[name] = intList;
  const proto = (field: number, wire: WireEncoding): TensorStorage => ({
    kind: 'proto',
    start,
    end,
    field,
    wire,
  });
  const label = constantOutput ?? `${node.name}.${name}`;
  const origin = constantOutput !== null ? 'Constant' : 'attribute';
  const isValue = constantOutput !== null;
  tensors.forEach(([tStart, tEnd, sparse], i) => {
    r.pos = tStart;
    const t = sparse
      ? parseSparse(state, tEnd, origin, scope.path)
      : parseTensor(state, tEnd, origin, scope.path);
    t.name = tensors.length > 1 ? `${label}[${i}]` : label;
    if (isValue) t.span = nodeSpan;
    const index = addTensor(state, t, isValue ? scope : null);
    if (!isValue) node.attributeTensors.push(index);
  });
  if (isValue && (name === 'value_floats' || name === 'value_float') && (floats > 0 || hasF)) {
    const count = name === 'value_float' ? 1 : floats;
    const dims = name === 'value_float' ? [] : [count];
    const storage = proto(name === 'value_float' ? 2 : 7, 'f32');
    addTensor(
      state,
      {
        name: label,
        dtype: 1,
        dims,
        count,
        bytes: count * 4,
        origin,
        scope: scope.path,
        storage,
        span: nodeSpan,
      },
      scope,
    );
  } else if (isValue && (name === 'value_ints' || name === 'value_int') && (ints > 0 || hasI)) {
    const count = name === 'value_int' ? 1 : ints;
    const dims = name === 'value_int' ? [] : [count];
    const storage = proto(name === 'value_int' ? 3 : 8, 'varint');
    addTensor(
      state,
      {
        name: label,
        dtype: 7,
        dims,
        count,
        bytes: count * 8,
        origin,
        scope: scope.path,
        storage,
        span: nodeSpan,
      },
      scope,
    );
  }
  graphs.forEach(([gStart, gEnd], i) => {
    r.pos = gStart;
    const suffix = graphs.length > 1 ? `${name}[${i}]` : name;
    const child: Scope = {
      path: `${scope.path ? scope.path + '/' : ''}${node.name}/${suffix}`,
      parent: scope,
      names: new Map(),
    };
    parseGraph(state, gEnd, child, depth + 1);
  });
  r.pos = end;
}

function parseFunction(state: ParseState, end: number): void {
  const r = state.r;
  let name = '';
  let domain = '';
  const nodeRanges: [number, number][] = [];
  r.fields(end, (field, wt) => {
    if (wt !== 2) return;
    const len = r.length(end);
    if (field === 1) name = r.string(len);
    else if (field === 10) domain = r.string(len);
    else if (field === 7) {
      nodeRanges.push([r.pos, r.pos + len]);
      r.skip(len);
    } else r.skip(len);
  });
  const scope: Scope = { path: `function ${domain}:${name}`, parent: null, names: new Map() };
  for (const [start, nEnd] of nodeRanges) {
    r.pos = start;
    parseNode(state, nEnd, scope, 1);
  }
  r.pos = end;
}

function parseValueInfo(r: WireReader, end: number): ValueInfo {
  const v: ValueInfo = { name: '', dtype: 0, shape: null };
  r.fields(end, (field, wt) => {
    if (field === 1 && wt === 2) v.name = r.string(r.length(end));
    else if (field === 2 && wt === 2) {
      const tEnd = r.fieldEnd(end);
      r.fields(tEnd, (f, w) => {
        if (f === 1 && w === 2) parseTensorType(r, r.fieldEnd(tEnd), v);
      });
    }
  });
  return v;
}

function parseTensorType(r: WireReader, end: number, v: ValueInfo): void {
  r.fields(end, (field, wt) => {
    if (field === 1 && wt === 0) v.dtype = r.varint();
    else if (field === 2 && wt === 2) {
      const shape: (number | string | null)[] = (v.shape = []);
      const sEnd = r.fieldEnd(end);
      r.fields(sEnd, (f, w) => {
        if (f !== 1 || w !== 2) return;
        const dEnd = r.fieldEnd(sEnd);
        let dim = null as number | string | null;
        r.fields(dEnd, (d, dw) => {
          if (d === 1 && dw === 0) {
            r.varint64();
            dim = r.int64;
          } else if (d === 2 && dw === 2) dim = r.string(r.length(dEnd));
        });
        if (shape.length >= MAX_TENSOR_RANK)
          invalid(`value ${v.name} has more than ${MAX_TENSOR_RANK} dimensions`);
        shape.push(dim);
      });
    }
  });
}

function elementCount(dims: number[], what: string): number {
  let count = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) invalid(`${what} has invalid dimension ${d}`);
    count *= d;
    if (count > MAX_TENSOR_ELEMENTS)
      invalid(`${what} has more than ${MAX_TENSOR_ELEMENTS} elements`);
  }
  return count;
}

/** Parses a TensorProto without reading its elements: records where they are. */
function parseTensor(state: ParseState, end: number, origin: string, scopePath: string): TensorRef {
  const r = state.r;
  const start = r.pos;
  const dims: number[] = [];
  let dtype = 0;
  let name = '';
  let raw = null as [number, number] | null;
  const fieldsPresent = new Set<number>();
  let externalLocation = false as boolean;
  const ext: Record<string, string> = {};
  r.fields(end, (field, wt) => {
    if (field === 1) {
      if (wt === 2) {
        const dEnd = r.fieldEnd(end);
        while (r.pos < dEnd) dims.push(readDim(r));
      } else dims.push(readDim(r));
      if (dims.length > MAX_TENSOR_RANK)
        invalid(`tensor at offset ${start} has more than ${MAX_TENSOR_RANK} dimensions`);
    } else if (field === 2 && wt === 0) dtype = r.varint();
    else if (field === 8 && wt === 2) name = r.string(r.length(end));
    else if (field === 9 && wt === 2) {
      const len = r.length(end);
      raw = [r.pos, len];
      r.skip(len);
    } else if (field === 13 && wt === 2) {
      const e = parseStringEntry(r, r.fieldEnd(end));
      ext[e.key] = e.value;
    } else if (field === 14 && wt === 0) externalLocation = r.varint() === 1;
    else if ([4, 5, 6, 7, 10, 11].includes(field)) fieldsPresent.add(field);
  });
  const what = `tensor '${name}'`;
  const count = elementCount(dims, what);
  const info = dtypeInfo(dtype);
  const bytes = storageBytes(dtype, count);
  const ref: TensorRef = {
    name,
    dtype,
    dims,
    count,
    bytes,
    origin,
    scope: scopePath,
    storage: { kind: 'none' },
    span: [start, end],
  };
  if (!info.numeric) {
    ref.storage = { kind: 'none', reason: `${info.name} elements have no numeric statistics` };
  } else if (externalLocation) {
    ref.storage = resolveExternal(state, ext, bytes, what);
  } else if (raw) {
    ref.storage =
      raw[1] === bytes
        ? { kind: 'proto', start, end, field: 9, wire: 'bytes' }
        : {
            kind: 'none',
            reason: `raw_data holds ${raw[1]} bytes but ${info.name}${JSON.stringify(dims)} needs ${bytes}`,
          };
  } else if (count > 0) {
    const typed = typedField(dtype);
    if (typed && fieldsPresent.has(typed[0]))
      ref.storage = { kind: 'proto', start, end, field: typed[0], wire: typed[1] };
    else ref.storage = { kind: 'none', reason: 'tensor has no data' };
  }
  r.pos = end;
  return ref;
}

function readDim(r: WireReader): number {
  r.varint64();
  if (r.hi > 0x1fffff) invalid(`tensor dimension out of range at offset ${r.pos}`);
  return r.int64;
}

function resolveExternal(
  state: ParseState,
  ext: Record<string, string>,
  bytes: number,
  what: string,
): TensorStorage {
  const location = ext.location;
  if (!location) invalid(`${what} uses external data but names no location`);
  if (!state.external)
    invalid(`${what} uses external data '${location}', which cannot be read from here`);
  const offset = ext.offset === undefined ? 0 : parseExtNumber(ext.offset, 'offset', what);
  const length = ext.length === undefined ? bytes : parseExtNumber(ext.length, 'length', what);
  if (length !== bytes)
    invalid(`${what}: external length ${length} does not match its ${bytes} bytes of elements`);
  const source = state.external.open(location);
  if (offset + length > source.size()) {
    invalid(
      `${what}: external range ${offset}+${length} is past the end of '${location}' (${source.size()} bytes)`,
    );
  }
  return { kind: 'external', file: location, offset, length };
}

function parseExtNumber(text: string, key: string, what: string): number {
  if (!/^\d{1,16}$/.test(text) || !Number.isSafeInteger(Number(text)))
    invalid(`${what}: external ${key} '${text}' is not a valid size`);
  return Number(text);
}

function parseSparse(state: ParseState, end: number, origin: string, scopePath: string): TensorRef {
  const r = state.r;
  const start = r.pos;
  let values = null as TensorRef | null;
  let indices = null as TensorRef | null;
  const dims: number[] = [];
  r.fields(end, (field, wt) => {
    if ((field === 1 || field === 2) && wt === 2) {
      const tEnd = r.fieldEnd(end);
      const t = parseTensor(state, tEnd, origin, scopePath);
      if (field === 1) values = t;
      else indices = t;
    } else if (field === 3) {
      if (wt === 2) {
        const dEnd = r.fieldEnd(end);
        while (r.pos < dEnd) dims.push(readDim(r));
      } else dims.push(readDim(r));
      if (dims.length > MAX_TENSOR_RANK)
        invalid(`sparse tensor has more than ${MAX_TENSOR_RANK} dimensions`);
    }
  });
  if (!values) invalid(`sparse tensor at offset ${end} has no values`);
  const name = values.name;
  const count = elementCount(dims, `sparse tensor '${name}'`);
  if (values.count > count)
    invalid(`sparse tensor '${name}' has ${values.count} values for ${count} elements`);
  const storage: TensorStorage =
    values.storage.kind === 'none'
      ? values.storage
      : { kind: 'sparse', values: values.storage, valueCount: values.count };
  const bytes = values.bytes + (indices?.bytes ?? 0);
  return {
    name,
    dtype: values.dtype,
    dims,
    count,
    bytes,
    origin,
    scope: scopePath,
    storage,
    span: [start, end],
  };
}

/**
 * One layer per node that consumes a tensor, resolving names through enclosing graph scopes; the
 * other nodes keep their value names only, so a weight can be followed through them to its consumer.
 */
function linkLayers(state: ParseState): { layers: Layer[]; otherNodes: Layer[] } {
  const layers: Layer[] = [];
  const otherNodes: Layer[] = [];
  for (const node of state.nodes) {
    const found: number[] = [...node.attributeTensors];
    const slots: number[] = found.map(() => -1);
    node.inputs.forEach((input, slot) => {
      if (!input) return;
      for (let s: Scope | null = node.scope; s; s = s.parent) {
        const index = s.names.get(input);
        if (index !== undefined) {
          if (!found.includes(index)) {
            found.push(index);
            slots.push(slot);
          }
          break;
        }
      }
    });
    const layer: Layer = {
      name: node.name,
      op: node.op,
      domain: node.domain,
      scope: node.scope.path,
      tensors: found,
      slots,
      inputs: node.inputs,
      outputs: node.outputs,
    };
    if (Object.keys(node.ints).length) layer.attributes = node.ints;
    if (Object.keys(node.lists).length) layer.lists = node.lists;
    (found.length ? layers : otherNodes).push(layer);
  }
  return { layers, otherNodes };
}
