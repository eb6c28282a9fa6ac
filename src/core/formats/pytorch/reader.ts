import { invalid } from '../../errors';
import { readExactly, type RandomAccessSource } from '../../io/source';
import { MAX_TENSORS } from '../../limits';
import type { Model, TensorRef, TensorStorage } from '../../model';
import { weightsOnlyModel } from '../layers';
import { PyDict, PyObject, PyTuple, readPickle, typeName, type PyValue } from './pickle';
import { TorchHooks, TorchTensor, type TorchStorage } from './torch';
import { ZipArchive } from '../../io/zip';

/** PyTorch checkpoints: torch.save's zip archive (PyTorch >= 1.6) with data.pkl and data/<key> storages. */

/** Container nesting searched for tensors: the walk is iterative, this bounds its time on hostile nesting. */
export const MAX_CONTAINER_DEPTH = 256;
/** Root-level scalars copied into the header (epoch, global_step, versions): bounds the header. */
const MAX_HEADER_ENTRIES = 32;
/** Per-tensor warnings and opaque names listed before summarising: bounds the header of a hostile file. */
const MAX_LISTED = 20;
/** Characters of one name or value in the header. */
const MAX_TEXT = 200;

const EXTENSIONS = ['.pt', '.pth', '.ckpt', '.bin'];
/** torch.save before 1.6: a pickled magic number 0x1950a86a20f9469cfc6c at offset 0. */
const LEGACY_MAGIC = [
  0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
];
/** Module internals whose contents torch.save(model) nests but state_dict() flattens. */
const MODULE_INTERNALS = new Set(['_parameters', '_buffers', '_modules']);

function head(source: RandomAccessSource, n: number): Uint8Array {
  return readExactly(source, 0, Math.min(n, source.size()));
}

function isZip(h: Uint8Array): boolean {
  return h.length >= 4 && h[0] === 0x50 && h[1] === 0x4b && h[2] === 0x03 && h[3] === 0x04;
}

function isLegacy(h: Uint8Array): boolean {
  return h.length >= LEGACY_MAGIC.length && LEGACY_MAGIC.every((b, i) => h[i] === b);
}

/** A torch.save zip (first member under one folder), the legacy pickle format, or anything named .pt/.pth/.ckpt. */
export function sniffPytorch(source: RandomAccessSource, fileName: string): boolean {
  const lower = fileName.toLowerCase();
  const ext = EXTENSIONS.find((e) => lower.endsWith(e));
  const h = head(source, 64);
  if (isLegacy(h)) return true;
  if (isZip(h)) {
    if (ext) return true;
    const nameLen = h.length >= 30 ? h[26] | (h[27] << 8) : 0;
    const first = new TextDecoder().decode(h.subarray(30, 30 + nameLen));
    return /^[^/]+\/(data\.pkl|constants\.pkl|version|byteorder|data\/|code\/|\.data\/)/.test(
      first,
    );
  }
  return ext !== undefined && ext !== '.bin';
}

interface Found {
  path: string[];
  tensor: TorchTensor;
  owner: number;
}

interface Owner {
  path: string[];
  value: PyValue;
  parent: number;
  bytes: number;
  /** Can be the state_dict: reached through string keys only, outside lists and optimizer states. */
  eligible: boolean;
}

export function readPytorch(source: RandomAccessSource): Model {
  const h = head(source, 64);
  if (isLegacy(h))
    invalid(
      'legacy PyTorch checkpoint (torch.save before 1.6, not a zip archive): not supported; re-save it with a current torch.save',
    );
  if (!isZip(h)) {
    if (h[0] === 0x80) invalid('a raw pickle, not a torch.save zip archive: not supported');
    invalid('not a PyTorch checkpoint: torch.save writes a zip archive, and this file is not one');
  }
  // A checkpoint holds one member per storage plus a few records.
  const zip = ZipArchive.open(source, MAX_TENSORS + 64);
  const pkls = zip.entries.filter((e) => /^([^/]+\/)?data\.pkl$/.test(e.name));
  if (zip.entries.some((e) => /^[^/]+\/(constants\.pkl$|code\/)/.test(e.name))) {
    invalid(
      'TorchScript archive (torch.jit.save): not supported; Model Lens reads torch.save checkpoints',
    );
  }
  if (pkls.length === 0) invalid('zip archive without data.pkl: not a PyTorch checkpoint');
  if (pkls.length > 1)
    invalid(
      `zip archive holds ${pkls.length} data.pkl records (${pkls.map((e) => e.name).join(', ')}); expected one`,
    );
  const pkl = pkls[0];
  const prefix = pkl.name.slice(0, -'data.pkl'.length);
  const properties: { key: string; value: string }[] = [];
  const warnings: string[] = [];
  if (prefix) properties.push({ key: 'archive', value: prefix.slice(0, -1) });
  const smallText = (name: string): string | undefined => {
    const e = zip.get(prefix + name);
    if (!e || zip.unreadable(e) || e.size > 64) return undefined;
    return new TextDecoder().decode(readExactly(source, zip.dataOffset(e), e.size)).trim();
  };
  const byteorder = smallText('byteorder');
  if (byteorder === 'big')
    invalid('big-endian checkpoint (saved on a big-endian machine): not supported');
  const version = smallText('.data/version') ?? smallText('version');
  if (version) properties.push({ key: 'serialization version', value: version });
  if (byteorder) properties.push({ key: 'byteorder', value: byteorder });

  const why = zip.unreadable(pkl);
  if (why) invalid(why);
  const hooks = new TorchHooks();
  const pklStart = zip.dataOffset(pkl);
  const { value: root, protocol } = readPickle(source, pklStart, pklStart + pkl.size, hooks);
  properties.push({ key: 'pickle protocol', value: String(protocol) });

  const { found, owners, tooDeep } = findTensors(root);
  if (tooDeep)
    warnings.push(
      `containers nested deeper than ${MAX_CONTAINER_DEPTH} levels were not searched for tensors`,
    );
  if (found.length > MAX_TENSORS)
    invalid(`checkpoint lists ${found.length} tensors, more than the limit of ${MAX_TENSORS}`);
  const primary = primaryOwner(owners);
  const base = primary >= 0 ? owners[primary].path : undefined;
  const names = nameTensors(found, base);

  const storageUse = new Map<TorchStorage, number>();
  const unreadable: string[] = [];
  const tensors: TensorRef[] = found.map((f, i) => {
    if (f.tensor.storage)
      storageUse.set(f.tensor.storage, (storageUse.get(f.tensor.storage) ?? 0) + 1);
    const storage = tensorStorage(zip, prefix, f.tensor);
    if (storage.kind === 'none' && f.tensor.count > 0 && f.tensor.storage)
      unreadable.push(`${names[i]}: ${storage.reason}`);
    return {
      name: names[i],
      dtype: f.tensor.dtype.code,
      dims: f.tensor.shape,
      count: f.tensor.count,
      bytes: f.tensor.count * f.tensor.dtype.bytes,
      origin: base && inside(f.path, base) ? 'state_dict' : 'checkpoint',
      scope: '',
      storage,
      ...(f.tensor.dtype.code === 0 ? { storageType: `torch.${f.tensor.dtype.name}` } : {}),
    };
  });

  warnings.push(...unreadable.slice(0, MAX_LISTED));
  if (unreadable.length > MAX_LISTED)
    warnings.push(`… and ${unreadable.length - MAX_LISTED} more tensors without readable data`);
  if (base) properties.push({ key: 'state_dict path', value: label(base) });
  properties.push({ key: 'storages', value: String(hooks.storages.size) });
  const shared = [...storageUse.values()].filter((n) => n > 1).length;
  if (shared) properties.push({ key: 'shared storages', value: String(shared) });
  const strided = tensors.filter((t) => t.storage.kind === 'strided').length;
  if (strided) properties.push({ key: 'non-contiguous tensors', value: String(strided) });
  properties.push(...headerEntries(root));
  if (hooks.refused.size) {
    const list =
      [...hooks.refused.keys()].slice(0, MAX_LISTED).map(clip).join(', ') +
      (hooks.refused.size > MAX_LISTED ? ', …' : '');
    const n = hooks.refused.size;
    properties.push({ key: 'opaque globals', value: list });
    warnings.push(
      `data.pkl names ${n} Python global${n > 1 ? 's' : ''} outside the state_dict allow-list; none was run, each shows as an opaque object: ${list}`,
    );
  }
  if (!tensors.length) warnings.push('no tensors found in data.pkl');

  return weightsOnlyModel('pytorch', source.size(), { opsets: [], properties }, tensors, warnings);
}

function inside(path: string[], prefix: string[]): boolean {
  return prefix.length <= path.length && prefix.every((p, i) => path[i] === p);
}

function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}

function label(path: string[]): string {
  return path.length ? path.join('.') : '(root)';
}

function keyLabel(k: PyValue): string {
  if (typeof k === 'string') return k;
  if (typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean' || k === null)
    return String(k ?? 'None');
  return `<${typeName(k)}>`;
}

/**
 * Walks the unpickled object without recursion and lists every tensor with its dotted path.
 * Each tensor belongs to an owner: the nearest dict, list or object above it, except that a saved
 * module's internals (_parameters, _buffers, _modules) belong to the module and drop out of the
 * path, as state_dict() flattens them.
 */
function findTensors(root: PyValue): { found: Found[]; owners: Owner[]; tooDeep: boolean } {
  const found: Found[] = [];
  const owners: Owner[] = [];
  const seen = new Set<object>();
  let tooDeep = false;
  const work: {
    value: PyValue;
    path: string[];
    owner: number;
    inherit: boolean;
    eligible: boolean;
    depth: number;
  }[] = [{ value: root, path: [], owner: -1, inherit: false, eligible: true, depth: 0 }];
  while (work.length) {
    const { value, path, owner, inherit, eligible, depth } = work.pop()!;
    if (value instanceof TorchTensor) {
      found.push({ path, tensor: value, owner });
      if (owner >= 0) owners[owner].bytes += value.count * value.dtype.bytes;
      continue;
    }
    // [label, value, whether a state_dict may lie below]
    const children: [string, PyValue, boolean][] = [];
    if (value instanceof PyDict) {
      // An optimizer's state_dict ('state' keyed by parameter index, 'param_groups') is never the model's.
      const optimizer = value.get('param_groups') !== undefined;
      for (const [k, v] of value.entries)
        children.push([keyLabel(k), v, eligible && typeof k === 'string' && !optimizer]);
    } else if (Array.isArray(value) || value instanceof PyTuple) {
      (Array.isArray(value) ? value : value.items).forEach((v, i) =>
        children.push([String(i), v, false]),
      );
    } else if (value instanceof PyObject) {
      if (value.state instanceof PyDict)
        for (const [k, v] of value.state.entries)
          children.push([keyLabel(k), v, eligible && typeof k === 'string']);
      for (const [k, v] of value.entries)
        children.push([keyLabel(k), v, eligible && typeof k === 'string']);
      value.items.forEach((v, i) => children.push([String(i), v, false]));
    } else continue;
    if (seen.has(value)) continue;
    seen.add(value);
    if (depth >= MAX_CONTAINER_DEPTH) {
      tooDeep = true;
      continue;
    }
    let mine = owner;
    if (!inherit) {
      mine = owners.length;
      owners.push({ path, value, parent: owner, bytes: 0, eligible });
    }
    // Reversed so the stack pops children in their saved order.
    for (let i = children.length - 1; i >= 0; i--) {
      const [k, v, below] = children[i];
      const internal = value instanceof PyObject && MODULE_INTERNALS.has(k);
      work.push({
        value: v,
        path: internal ? path : [...path, k],
        owner: mine,
        inherit: internal || (inherit && value instanceof PyDict && v instanceof PyObject),
        eligible: below,
        depth: depth + 1,
      });
    }
  }
  return { found, owners, tooDeep };
}

/**
 * The state_dict, or -1: among eligible owners, the one holding the most tensor bytes directly,
 * widened to its parent while the parent holds only dicts and tensors (a state_dict split into
 * sub-dicts), never to a parent with other entries (epoch, ...).
 */
function primaryOwner(owners: Owner[]): number {
  let best = -1;
  for (let i = 0; i < owners.length; i++)
    if (owners[i].eligible && owners[i].bytes > (best < 0 ? 0 : owners[best].bytes)) best = i;
  while (best >= 0) {
    const parent = owners[best].parent;
    if (parent < 0) return best;
    const p = owners[parent].value;
    if (
      !owners[parent].eligible ||
      !(p instanceof PyDict) ||
      !p.entries.every(([, v]) => v instanceof PyDict || v instanceof TorchTensor)
    )
      return best;
    best = parent;
  }
  return best;
}

/** Names relative to the state_dict, full dotted paths elsewhere; duplicates get their full path, then a counter. */
function nameTensors(found: Found[], base: string[] | undefined): string[] {
  const used = new Set<string>();
  const names = found.map((f) =>
    (base && inside(f.path, base) ? f.path.slice(base.length) : f.path).join('.'),
  );
  return names.map((n, i) => {
    let name = used.has(n) ? found[i].path.join('.') : n;
    for (let k = 2; used.has(name); k++) name = `${found[i].path.join('.')}#${k}`;
    used.add(name);
    return name;
  });
}

/** Where a tensor's elements lie: a plain range when row-major, a strided view otherwise. */
function tensorStorage(zip: ZipArchive, prefix: string, t: TorchTensor): TensorStorage {
  const s = t.storage;
  if (!s) return { kind: 'none', reason: 'meta tensor: saved without data' };
  if (t.dtype.code === 0)
    return { kind: 'none', reason: `torch.${t.dtype.name} tensors are not decoded` };
  const entry = zip.get(`${prefix}data/${s.key}`);
  if (!entry) return { kind: 'none', reason: `storage data/${s.key} is missing from the archive` };
  const why = zip.unreadable(entry);
  if (why) return { kind: 'none', reason: why };
  const storageBytes = s.numel * s.dtype.bytes;
  if (entry.size < storageBytes) {
    return {
      kind: 'none',
      reason: `storage data/${s.key} holds ${entry.size} bytes, less than its ${s.numel} ${s.dtype.name} elements need`,
    };
  }
  const eb = t.dtype.bytes;
  const elements = Math.floor(storageBytes / eb);
  const count = t.count;
  const start = zip.dataOffset(entry) + t.offset * eb;
  if (count === 0) return { kind: 'range', offset: zip.dataOffset(entry), length: 0 };
  let last = t.offset;
  for (let k = 0; k < t.shape.length; k++) last += (t.shape[k] - 1) * t.stride[k];
  if (last >= elements)
    return {
      kind: 'none',
      reason: `view reaches element ${last} of storage data/${s.key}, which holds ${elements}`,
    };
  let expect = 1;
  let contiguous = true;
  for (let k = t.shape.length - 1; k >= 0; k--) {
    if (t.shape[k] !== 1 && t.stride[k] !== expect) contiguous = false;
    expect *= t.shape[k];
  }
  if (contiguous) return { kind: 'range', offset: start, length: count * eb };
  return {
    kind: 'strided',
    offset: start,
    length: (elements - t.offset) * eb,
    dims: t.shape,
    strides: t.stride,
  };
}

/** Root-level scalars of a checkpoint dict (epoch, global_step, versions); containers summarised. */
function headerEntries(root: PyValue): { key: string; value: string }[] {
  if (!(root instanceof PyDict))
    return root instanceof PyObject ? [{ key: 'object', value: root.type }] : [];
  const out: { key: string; value: string }[] = [];
  for (const [k, v] of root.entries) {
    if (out.length >= MAX_HEADER_ENTRIES) break;
    if (v instanceof TorchTensor) continue;
    let text: string;
    if (typeof v === 'string') text = clip(v);
    else if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || v === null)
      text = String(v ?? 'None');
    else if (v instanceof PyDict) text = `{${v.entries.length} keys}`;
    else if (Array.isArray(v) || v instanceof PyTuple)
      text = `[${(Array.isArray(v) ? v : v.items).length} items]`;
    else text = `<${typeName(v)}>`;
    out.push({ key: clip(keyLabel(k)), value: clip(text) });
  }
  return out;
}
