import { onnx } from 'onnx-proto';
import { invalid } from '../../errors';
import type { RandomAccessSource } from '../../io/source';
import { WireReader } from '../../io/wire';

/** A main-graph node with what its consumers of activations need: input names and plain attributes. */
export interface GraphNode {
  /** Position among the main graph's nodes (all of them, whichever were read). */
  index: number;
  /** The NodeProto's content in the file, for writers that replace it. */
  span: [number, number];
  name: string;
  op: string;
  inputs: string[];
  outputs: string[];
  ints: Record<string, number>;
  lists: Record<string, number[]>;
  strings: Record<string, string>;
  /** FLOAT attributes (Gemm's alpha and beta). */
  floats?: Record<string, number>;
  /** Names read by nodes of its subgraphs (If/Loop/Scan bodies), where it has any. */
  subgraphInputs?: string[];
}

/**
 * The main graph's default-domain nodes whose op is in `ops` (every node when `ops` is not given),
 * decoded whole; every other node is skipped unread.
 */
export function readGraphNodes(source: RandomAccessSource, ops?: ReadonlySet<string>): GraphNode[] {
  const r = new WireReader(source);
  const end = source.size();
  const nodes: GraphNode[] = [];
  let index = 0;
  r.fields(end, (field, wt) => {
    if (field !== 7 || wt !== 2) return;
    const gEnd = r.fieldEnd(end);
    r.fields(gEnd, (f, w) => {
      if (f !== 1 || w !== 2) return;
      const nEnd = r.fieldEnd(gEnd);
      const start = r.pos;
      if (!ops || wanted(r, nEnd, ops)) {
        r.pos = start;
        nodes.push(decodeNode(r.bytes(nEnd - start), index, [start, nEnd]));
      }
      index++;
      r.pos = nEnd;
    });
  });
  return nodes;
}

/** True when the node message at r.pos has a default-domain op in `ops`. */
function wanted(r: WireReader, end: number, ops: ReadonlySet<string>): boolean {
  let op = '';
  let domain = '';
  r.fields(end, (field, wt) => {
    if ((field === 4 || field === 7) && wt === 2) {
      const s = r.string(r.length(end));
      if (field === 4) op = s;
      else domain = s;
    }
  });
  return ops.has(op) && (domain === '' || domain === 'ai.onnx');
}

function decodeNode(bytes: Uint8Array, index: number, span: [number, number]): GraphNode {
  let n: onnx.NodeProto;
  try {
    n = onnx.NodeProto.decode(bytes);
  } catch (err) {
    invalid(`malformed node: ${(err as Error).message}`);
  }
  const node: GraphNode = {
    index,
    span,
    name: n.name ?? '',
    op: n.opType ?? '',
    inputs: [...(n.input ?? [])],
    outputs: [...(n.output ?? [])],
    ints: {},
    lists: {},
    strings: {},
  };
  const A = onnx.AttributeProto.AttributeType;
  for (const a of n.attribute ?? []) {
    const name = a.name ?? '';
    // Old exporters leave `type` unset; the populated field says what the attribute is.
    const type = a.type || (a.ints?.length ? A.INTS : a.s?.length ? A.STRING : A.INT);
    if (type === A.INT) node.ints[name] = Number(a.i ?? 0);
    else if (type === A.FLOAT) (node.floats ??= {})[name] = a.f ?? 0;
    else if (type === A.INTS) node.lists[name] = (a.ints ?? []).map(Number);
    else if (type === A.STRING)
      node.strings[name] = new TextDecoder().decode(a.s ?? new Uint8Array(0));
    const bodies = [a.g, ...(a.graphs ?? [])].filter((g): g is onnx.IGraphProto => Boolean(g));
    if (bodies.length) (node.subgraphInputs ??= []).push(...bodies.flatMap(namesRead));
  }
  return node;
}

/** Every name the nodes of a graph (and of its own subgraphs) read. */
function namesRead(g: onnx.IGraphProto): string[] {
  return (g.node ?? []).flatMap((n) => [
    ...(n.input ?? []),
    ...(n.attribute ?? []).flatMap((a) =>
      [a.g, ...(a.graphs ?? [])]
        .filter((x): x is onnx.IGraphProto => Boolean(x))
        .flatMap(namesRead),
    ),
  ]);
}
