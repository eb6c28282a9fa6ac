import { onnx } from 'onnx-proto';
import { invalid } from '../../errors';
import type { RandomAccessSource } from '../../io/source';
import { WireReader } from '../../io/wire';
import type { TensorRef } from '../../model';

/**
 * Rewrites an ONNX file at the protobuf wire level: only messages that contain an edit are
 * re-encoded; every other byte (metadata, doc strings, functions, value_info, fields the
 * onnx-proto schema does not know) is copied verbatim from the source.
 */

/** A tensor to add, elements as raw little-endian bytes of `dtype`. */
export interface NewTensor {
  name: string;
  dtype: number;
  dims: number[];
  data: Uint8Array;
  /** Where `data` was written in the variant's external data file, when it lives there instead of inline. */
  external?: ExternalPlacement;
}

/** A byte range of the variant's own external data file. */
export interface ExternalPlacement {
  location: string;
  offset: number;
  length: number;
}

export interface NewAttribute {
  name: string;
  i?: number;
  f?: number;
  ints?: number[];
  s?: string;
}

export interface NewNode {
  name: string;
  op: string;
  domain?: string;
  inputs: string[];
  outputs: string[];
  attributes?: NewAttribute[];
}

/** A sparse initializer: `nnz` values at linear (row-major) `indices` of a tensor of `dims`. */
export interface NewSparseTensor {
  name: string;
  dtype: number;
  dims: number[];
  nnz: number;
  values: Uint8Array;
  /** int64 little-endian linear indices, ascending. */
  indices: Uint8Array;
}

/** Replaces one tensor's declaration (initializer, sparse initializer or Constant node) in its own graph. */
export interface TensorEdit {
  tensor: TensorRef;
  initializers: NewTensor[];
  sparseInitializers?: NewSparseTensor[];
  /** Placed before the graph's first node; together they must produce `tensor.name` when it is removed. */
  nodes: NewNode[];
}

export interface RewritePlan {
  edits: TensorEdit[];
  /** Default and custom-domain opsets to set (raised or added). */
  opsets?: { domain: string; version: number }[];
  /** Raise ModelProto.ir_version to at least this (IR < 4 requires every initializer to be a graph input). */
  irVersion?: number;
  /**
   * Untouched external-data initializers, by the start of their TensorProto span, and where their
   * bytes now are: the variant gets its own data file instead of sharing the original's.
   */
  relocations?: Map<number, ExternalPlacement>;
  /** Values to add as main-graph outputs (intermediate activations to read back), with their element type. */
  outputs?: { name: string; dtype: number }[];
  /**
   * Main-graph nodes to replace, by the start of their NodeProto content: the new NodeProtos' bytes,
   * placed where the node was, in order (one node may become several, e.g. a factored layer).
   */
  nodes?: ReadonlyMap<number, readonly Uint8Array[]>;
  /** Main-graph value_info entries to drop (activations whose shape an edit changed; runtimes infer them again). */
  dropValueInfo?: ReadonlySet<string>;
  /** ModelProto.metadata_props entries to add (an entry of the same key is replaced). */
  metadata?: { key: string; value: string }[];
}

export interface ByteSink {
  write(bytes: Uint8Array): void;
}

type Piece = Uint8Array | { copy: [number, number] } | Message;

class Message {
  readonly pieces: Piece[] = [];
  private size = -1;
  constructor(readonly field: number) {}
  push(p: Piece): void {
    const last = this.pieces[this.pieces.length - 1];
    if (
      !(p instanceof Uint8Array) &&
      !(p instanceof Message) &&
      last &&
      !(last instanceof Uint8Array) &&
      !(last instanceof Message) &&
      last.copy[1] === p.copy[0]
    ) {
      last.copy = [last.copy[0], p.copy[1]];
    } else this.pieces.push(p);
  }
  get length(): number {
    if (this.size < 0) this.size = this.pieces.reduce((n, p) => n + pieceLength(p), 0);
    return this.size;
  }
}

function pieceLength(p: Piece): number {
  if (p instanceof Uint8Array) return p.length;
  if (p instanceof Message)
    return varintBytes(tag(p.field, 2)).length + varintBytes(p.length).length + p.length;
  return p.copy[1] - p.copy[0];
}

function tag(field: number, wt: number): number {
  return field * 8 + wt;
}

export function varintBytes(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Uint8Array.from(out);
}

/** A length-delimited field: tag, length, payload. */
function lengthDelimited(field: number, payload: Uint8Array): Uint8Array {
  const head = varintBytes(tag(field, 2));
  const len = varintBytes(payload.length);
  const out = new Uint8Array(head.length + len.length + payload.length);
  out.set(head);
  out.set(len, head.length);
  out.set(payload, head.length + len.length);
  return out;
}

/** A new TensorProto as a message: small header fields via onnx-proto, elements appended as raw_data. */
/** external_data entries (field 13) and data_location = EXTERNAL (field 14) for a placement. */
function externalFields(p: ExternalPlacement): Uint8Array {
  const entries = [
    ['location', p.location],
    ['offset', String(p.offset)],
    ['length', String(p.length)],
  ].map(([key, value]) =>
    lengthDelimited(13, onnx.StringStringEntryProto.encode({ key, value }).finish()),
  );
  return Uint8Array.from([...entries.flatMap((e) => [...e]), ...varintBytes(tag(14, 0)), 1]);
}

function tensorMessage(field: number, t: NewTensor): Message {
  const m = new Message(field);
  m.push(onnx.TensorProto.encode({ name: t.name, dataType: t.dtype, dims: t.dims }).finish());
  if (t.external) {
    m.push(externalFields(t.external));
    return m;
  }
  m.push(varintBytes(tag(9, 2)));
  m.push(varintBytes(t.data.length));
  m.push(t.data);
  return m;
}

function sparseMessage(t: NewSparseTensor): Message {
  const m = new Message(15);
  m.push(tensorMessage(1, { name: t.name, dtype: t.dtype, dims: [t.nnz], data: t.values }));
  m.push(
    tensorMessage(2, { name: `${t.name}::indices`, dtype: 7, dims: [t.nnz], data: t.indices }),
  );
  for (const d of t.dims) {
    m.push(varintBytes(tag(3, 0)));
    m.push(varintBytes(d));
  }
  return m;
}

function nodeBytes(n: NewNode): Uint8Array {
  const A = onnx.AttributeProto.AttributeType;
  const attribute = (n.attributes ?? []).map((a) => {
    if (a.ints) return { name: a.name, type: A.INTS, ints: a.ints };
    if (a.f !== undefined) return { name: a.name, type: A.FLOAT, f: a.f };
    if (a.s !== undefined)
      return { name: a.name, type: A.STRING, s: new TextEncoder().encode(a.s) };
    return { name: a.name, type: A.INT, i: a.i ?? 0 };
  });
  const payload = onnx.NodeProto.encode({
    name: n.name,
    opType: n.op,
    domain: n.domain ?? '',
    input: n.inputs,
    output: n.outputs,
    attribute,
  }).finish();
  return lengthDelimited(1, payload);
}

interface Field {
  field: number;
  wt: number;
  /** Where the field's tag starts, its content starts and ends. */
  at: number;
  start: number;
  end: number;
}

function readFields(r: WireReader, start: number, end: number): Field[] {
  const fields: Field[] = [];
  r.pos = start;
  // Each field's tag starts where the one before it ends.
  let at = start;
  r.fields(end, (field, wt) => {
    if (wt === 2) {
      const len = r.length(end);
      fields.push({ field, wt, at, start: r.pos, end: r.pos + len });
      r.skip(len);
    } else {
      r.skipField(wt, end);
      fields.push({ field, wt, at, start: at, end: r.pos });
    }
    at = r.pos;
  });
  return fields;
}

class Rewriter {
  private readonly r: WireReader;
  /** Edits keyed by the start of their declaration's span. */
  private readonly bySpan = new Map<number, TensorEdit>();
  private readonly starts: number[];

  constructor(
    readonly source: RandomAccessSource,
    readonly plan: RewritePlan,
  ) {
    this.r = new WireReader(source);
    for (const e of plan.edits) {
      if (!e.tensor.span) invalid(`tensor '${e.tensor.name}' has no declaration to replace`);
      this.bySpan.set(e.tensor.span[0], e);
    }
    this.starts = [
      ...new Set([
        ...this.bySpan.keys(),
        ...(plan.relocations?.keys() ?? []),
        ...(plan.nodes?.keys() ?? []),
      ]),
    ].sort((a, b) => a - b);
  }

  /** An external-data TensorProto pointed at its new place: every field but the old location kept. */
  private relocated(field: number, f: Field, to: ExternalPlacement): Message {
    const m = new Message(field);
    for (const g of readFields(this.r, f.start, f.end))
      if (g.field !== 13 && g.field !== 14) m.push({ copy: [g.at, g.end] });
    m.push(externalFields(to));
    return m;
  }

  /** True when some edit's declaration lies inside [start, end). */
  private hasEdit(start: number, end: number): boolean {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] < start) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.starts.length && this.starts[lo] < end;
  }

  private ownEdit(f: Field): TensorEdit | undefined {
    const e = this.bySpan.get(f.start);
    return e && e.tensor.span![1] === f.end ? e : undefined;
  }

  model(): Message {
    const root = new Message(0);
    const fields = readFields(this.r, 0, this.source.size());
    const opsets = new Map((this.plan.opsets ?? []).map((o) => [o.domain, o.version]));
    for (const f of fields) {
      if (
        f.field === 7 &&
        f.wt === 2 &&
        (this.hasEdit(f.start, f.end) || this.plan.outputs?.length)
      )
        root.push(this.graph(7, f, this.plan.outputs));
      else if (f.field === 1 && f.wt === 0 && this.plan.irVersion !== undefined) {
        this.r.pos = f.start;
        this.r.varint();
        const current = this.r.varint();
        root.push(
          Uint8Array.from([
            ...varintBytes(tag(1, 0)),
            ...varintBytes(Math.max(current, this.plan.irVersion)),
          ]),
        );
      } else if (f.field === 8 && f.wt === 2 && opsets.size) {
        const current = this.opset(f);
        // 'ai.onnx' is another spelling of the default domain: raise that import, never add a second one.
        const key = current.domain === 'ai.onnx' ? '' : current.domain;
        const wanted = opsets.get(key);
        if (wanted !== undefined) {
          opsets.delete(key);
          root.push(
            lengthDelimited(
              8,
              onnx.OperatorSetIdProto.encode({
                domain: current.domain,
                version: Math.max(wanted, current.version),
              }).finish(),
            ),
          );
        } else root.push({ copy: [f.at, f.end] });
      } else if (
        f.field === 14 &&
        f.wt === 2 &&
        this.plan.metadata?.some((e) => e.key === this.entryKey(f))
      ) {
        // Replaced below.
      } else root.push({ copy: [f.at, f.end] });
    }
    for (const e of this.plan.metadata ?? [])
      root.push(lengthDelimited(14, onnx.StringStringEntryProto.encode(e).finish()));
    for (const [domain, version] of opsets)
      root.push(lengthDelimited(8, onnx.OperatorSetIdProto.encode({ domain, version }).finish()));
    return root;
  }

  private entryKey(f: Field): string {
    const key = readFields(this.r, f.start, f.end).find((g) => g.field === 1 && g.wt === 2);
    return key ? this.text(key) : '';
  }

  private opset(f: Field): { domain: string; version: number } {
    let domain = '';
    let version = 0;
    for (const g of readFields(this.r, f.start, f.end)) {
      if (g.field === 1) domain = this.text(g);
      else if (g.field === 2) {
        this.r.pos = g.at;
        this.r.varint();
        this.r.varint64();
        version = this.r.int64;
      }
    }
    return { domain, version };
  }

  private text(f: Field): string {
    this.r.pos = f.start;
    return this.r.string(f.end - f.start);
  }

  private graph(field: number, g: Field, outputs: RewritePlan['outputs'] = []): Message {
    const m = new Message(field);
    const fields = readFields(this.r, g.start, g.end);
    const owned = fields.map((f) =>
      (f.field === 1 || f.field === 5 || f.field === 15) && f.wt === 2
        ? this.ownEdit(f)
        : undefined,
    );
    const edits = owned.filter((e): e is TensorEdit => Boolean(e));
    const removed = new Set(edits.map((e) => e.tensor.name));
    let nodesPlaced = false;
    const placeNodes = () => {
      nodesPlaced = true;
      for (const e of edits) for (const n of e.nodes) m.push(nodeBytes(n));
    };
    fields.forEach((f, i) => {
      if (f.field === 1 && !nodesPlaced) placeNodes();
      if (owned[i]) return;
      // An initializer listed as a graph input (IR < 4) would become a required input once removed.
      if (f.field === 11 && f.wt === 2 && removed.size && removed.has(this.valueInfoName(f)))
        return;
      if (
        f.field === 13 &&
        f.wt === 2 &&
        field === 7 &&
        this.plan.dropValueInfo?.has(this.valueInfoName(f))
      )
        return;
      const replaced =
        f.field === 1 && f.wt === 2 && field === 7 ? this.plan.nodes?.get(f.start) : undefined;
      if (replaced) {
        for (const bytes of replaced) m.push(lengthDelimited(1, bytes));
        return;
      }
      const moved = f.field === 5 && f.wt === 2 ? this.plan.relocations?.get(f.start) : undefined;
      if (moved) m.push(this.relocated(5, f, moved));
      else if (f.field === 1 && f.wt === 2 && this.hasEdit(f.start, f.end)) m.push(this.node(f));
      else m.push({ copy: [f.at, f.end] });
    });
    if (!nodesPlaced) placeNodes();
    for (const e of edits) for (const t of e.initializers) m.push(tensorMessage(5, t));
    for (const e of edits) for (const t of e.sparseInitializers ?? []) m.push(sparseMessage(t));
    // dtype 0: an untyped output (onnxruntime infers it), for reading back activations of every type at once.
    for (const o of outputs)
      m.push(
        lengthDelimited(
          12,
          onnx.ValueInfoProto.encode({
            name: o.name,
            ...(o.dtype ? { type: { tensorType: { elemType: o.dtype } } } : {}),
          }).finish(),
        ),
      );
    return m;
  }

  private valueInfoName(f: Field): string {
    const name = readFields(this.r, f.start, f.end).find((g) => g.field === 1 && g.wt === 2);
    return name ? this.text(name) : '';
  }

  private node(n: Field): Message {
    const m = new Message(1);
    for (const f of readFields(this.r, n.start, n.end)) {
      if (f.field === 5 && f.wt === 2 && this.hasEdit(f.start, f.end)) m.push(this.attribute(f));
      else m.push({ copy: [f.at, f.end] });
    }
    return m;
  }

  private attribute(a: Field): Message {
    const m = new Message(5);
    for (const f of readFields(this.r, a.start, a.end)) {
      if ((f.field === 6 || f.field === 11) && f.wt === 2 && this.hasEdit(f.start, f.end))
        m.push(this.graph(f.field, f));
      else m.push({ copy: [f.at, f.end] });
    }
    return m;
  }
}

const COPY_CHUNK = 1 << 20;

function emit(p: Piece, source: RandomAccessSource, sink: ByteSink, buf: Uint8Array): void {
  if (p instanceof Uint8Array) sink.write(p);
  else if (p instanceof Message) {
    if (p.field) {
      sink.write(varintBytes(tag(p.field, 2)));
      sink.write(varintBytes(p.length));
    }
    for (const q of p.pieces) emit(q, source, sink, buf);
  } else {
    for (let at = p.copy[0]; at < p.copy[1];) {
      const n = source.read(at, buf.subarray(0, Math.min(buf.length, p.copy[1] - at)));
      if (n <= 0) invalid(`unexpected end of ${source.name} at ${at}`);
      sink.write(buf.slice(0, n));
      at += n;
    }
  }
}

/** Streams the rewritten model to `sink`; returns the bytes written. */
export function writeOnnx(source: RandomAccessSource, plan: RewritePlan, sink: ByteSink): number {
  const root = new Rewriter(source, plan).model();
  emit(root, source, sink, new Uint8Array(COPY_CHUNK));
  return root.length;
}
