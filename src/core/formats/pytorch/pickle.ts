import { invalid } from '../../errors';
import type { RandomAccessSource } from '../../io/source';
import { WireReader } from '../../io/wire';
import { MAX_INLINE_FIELD_BYTES } from '../../limits';

/**
 * A pickle reader that never executes anything: opcodes build plain descriptive values, and
 * globals, calls and persistent ids go through hooks that interpret an allow-list (see torch.ts).
 * The machine is a loop over opcodes with explicit stacks, so nesting cannot exhaust the JS stack.
 */

/** Values on the stack plus all open marks: stops a pickle from growing an unbounded stack. */
export const MAX_PICKLE_STACK = 1 << 20;
/** Memo entries (PUT/MEMOIZE): stops a memo that grows without bound. */
export const MAX_PICKLE_MEMO = 1 << 22;
/** Values created in total: stops a few bytes per opcode from building billions of objects. */
export const MAX_PICKLE_VALUES = 1 << 24;
/** A text-mode opcode's line (protocol 0 GLOBAL, INT, ...): stops unbounded line scans. */
export const MAX_PICKLE_LINE = 64 * 1024;
/** Integer bytes (LONG1/LONG4) turned into a bigint; longer ones stay opaque (conversion is quadratic). */
export const MAX_PICKLE_LONG_BYTES = 1024;

/** A Python tuple (lists are plain arrays). */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** A dict or dict-like object with its items in insertion order; `attrs` holds BUILD state (OrderedDict._metadata). */
export class PyDict {
  readonly entries: [PyValue, PyValue][] = [];
  private readonly index = new Map<string, number>();
  attrs: PyValue = null;
  constructor(readonly type = 'dict') {}

  set(key: PyValue, value: PyValue): void {
    const k = hashKey(key);
    const at = k === undefined ? undefined : this.index.get(k);
    if (at !== undefined) this.entries[at][1] = value;
    else {
      if (k !== undefined) this.index.set(k, this.entries.length);
      this.entries.push([key, value]);
    }
  }

  get(key: string): PyValue | undefined {
    const at = this.index.get(`s:${key}`);
    return at === undefined ? undefined : this.entries[at][1];
  }
}

export class PySet {
  constructor(
    readonly items: PyValue[],
    readonly frozen = false,
  ) {}
}

/** bytes/bytearray: only the length is kept, the content is skipped. */
export class PyBytes {
  constructor(readonly length: number) {}
}

/** A class or function named by GLOBAL; `allowed` says whether the hooks interpret calls to it. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly allowed: boolean,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** The result of calling something not on the allow-list: described, never constructed. */
export class PyObject {
  state: PyValue = null;
  readonly entries: [PyValue, PyValue][] = [];
  readonly items: PyValue[] = [];
  constructor(
    readonly type: string,
    readonly args: PyValue[],
  ) {}
}

/** Values the hooks create (tensors, storages, dtypes). */
export abstract class PyHost {}

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PyValue[]
  | PyTuple
  | PyDict
  | PySet
  | PyBytes
  | PyGlobal
  | PyObject
  | PyHost;

export interface PickleHooks {
  /** The value GLOBAL module.name stands for; never imports anything. */
  global(module: string, name: string): PyValue;
  /** The value of calling `callable` (REDUCE, NEWOBJ), or undefined to leave an opaque object. */
  call(callable: PyValue, args: PyValue[]): PyValue | undefined;
  /** BINPERSID/PERSID: the object a persistent id names (torch: a storage). */
  persistentLoad(pid: PyValue): PyValue;
}

export interface PickleResult {
  value: PyValue;
  /** Highest PROTO seen (0 when absent). */
  protocol: number;
}

/** Python 2 module names that protocol 0-2 pickles use for Python 3 ones (pickle's fix_imports). */
const PY2_MODULES: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

const MARK = Symbol('mark');
const utf8 = new TextDecoder('utf-8', { fatal: false });
const latin1 = new TextDecoder('latin1');

function hashKey(key: PyValue): string | undefined {
  if (typeof key === 'string') return `s:${key}`;
  if (typeof key === 'number' || typeof key === 'boolean') return `n:${Number(key)}`;
  if (typeof key === 'bigint') return `n:${key}`;
  if (key === null) return 'None';
  return undefined;
}

export function typeName(v: PyValue): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'list';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PyDict) return v.type;
  if (v instanceof PySet) return v.frozen ? 'frozenset' : 'set';
  if (v instanceof PyBytes) return 'bytes';
  if (v instanceof PyGlobal) return v.qualified;
  if (v instanceof PyObject) return v.type;
  if (v instanceof PyHost) return v.constructor.name;
  return typeof v === 'string'
    ? 'str'
    : typeof v === 'boolean'
      ? 'bool'
      : typeof v === 'number'
        ? 'float'
        : 'int';
}

/** Little-endian two's-complement integer of `b` as a number when exact, else a bigint. */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;
}

function parseTextInt(line: string): number | bigint {
  const s = line.endsWith('L') ? line.slice(0, -1) : line;
  if (!/^[-+]?\d+$/.test(s)) invalid(`pickle integer '${line.slice(0, 40)}' is malformed`);
  const v = BigInt(s);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;
}

/** Python string literal escapes of protocol 0 STRING / raw-unicode-escape of UNICODE. */
function unescape(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)/g, (_, e: string) => {
    if (e.length > 1) return String.fromCodePoint(parseInt(e.slice(1), 16));
    return (
      (
        { n: '\n', t: '\t', r: '\r', '0': '\0', '\\': '\\', "'": "'", '"': '"' } as Record<
          string,
          string
        >
      )[e] ?? `\\${e}`
    );
  });
}

/** Runs the pickle in [start, end) of `source` and returns the object STOP leaves. */
export function readPickle(
  source: RandomAccessSource,
  start: number,
  end: number,
  hooks: PickleHooks,
): PickleResult {
  const r = new WireReader(source, start, end);
  const stack: (PyValue | typeof MARK)[] = [];
  const memo = new Map<number, PyValue>();
  let protocol = 0;
  let created = 0;

  const where = () => `at offset ${r.pos - start} of the pickle`;
  const u16 = () => r.byte() | (r.byte() << 8);
  const u32 = () => (r.byte() | (r.byte() << 8) | (r.byte() << 16) | (r.byte() << 24)) >>> 0;
  const u64 = (): number => {
    const lo = u32();
    const hi = u32();
    if (hi > 0x1fffff) invalid(`pickle length ${hi} * 2^32 + ${lo} is out of range ${where()}`);
    return hi * 0x100000000 + lo;
  };
  const length = (n: number, what: string): number => {
    if (n > end - r.pos)
      invalid(`pickle ${what} of ${n} bytes runs past the end of the pickle ${where()}`);
    if (n > MAX_INLINE_FIELD_BYTES)
      invalid(`pickle ${what} of ${n} bytes exceeds the ${MAX_INLINE_FIELD_BYTES}-byte limit`);
    return n;
  };
  const line = (): string => {
    const bytes: number[] = [];
    for (;;) {
      const b = r.byte();
      if (b === 0x0a) break;
      if (bytes.length >= MAX_PICKLE_LINE)
        invalid(`pickle text line longer than ${MAX_PICKLE_LINE} bytes ${where()}`);
      bytes.push(b);
    }
    return latin1.decode(Uint8Array.from(bytes));
  };
  const push = (v: PyValue | typeof MARK) => {
    if (stack.length >= MAX_PICKLE_STACK)
      invalid(`pickle stack exceeds ${MAX_PICKLE_STACK} entries ${where()}`);
    if (++created > MAX_PICKLE_VALUES)
      invalid(`pickle creates more than ${MAX_PICKLE_VALUES} values`);
    stack.push(v);
  };
  const pop = (): PyValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) invalid(`pickle stack underflow ${where()}`);
    return v;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) invalid(`pickle stack underflow ${where()}`);
    return v;
  };
  const popMark = (): PyValue[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) invalid(`pickle MARK missing ${where()}`);
    const items = stack.splice(at) as PyValue[];
    items.shift();
    return items;
  };
  const put = (i: number) => {
    if (!memo.has(i) && memo.size >= MAX_PICKLE_MEMO)
      invalid(`pickle memo exceeds ${MAX_PICKLE_MEMO} entries`);
    memo.set(i, top());
  };
  const get = (i: number) => {
    const v = memo.get(i);
    if (v === undefined) invalid(`pickle memo has no entry ${i} ${where()}`);
    push(v);
  };
  const global = (module: string, name: string) =>
    push(hooks.global(PY2_MODULES[module] ?? module, name));
  const call = (callable: PyValue, args: PyValue) => {
    if (!(args instanceof PyTuple))
      invalid(`pickle call of ${typeName(callable)} with ${typeName(args)} arguments ${where()}`);
    const v = hooks.call(callable, args.items);
    return v === undefined ? new PyObject(typeName(callable), args.items) : v;
  };
  const setItems = (target: PyValue, kv: PyValue[]) => {
    if (kv.length % 2) invalid(`pickle SETITEMS with an odd number of values ${where()}`);
    for (let i = 0; i < kv.length; i += 2) {
      if (target instanceof PyDict) target.set(kv[i], kv[i + 1]);
      else if (target instanceof PyObject) target.entries.push([kv[i], kv[i + 1]]);
      else invalid(`pickle sets items on a ${typeName(target)} ${where()}`);
    }
  };
  // Loops, not push(...items): a million spread arguments would overflow the JS stack.
  const append = (target: PyValue, items: PyValue[]) => {
    const into = Array.isArray(target)
      ? target
      : target instanceof PyObject
        ? target.items
        : invalid(`pickle appends to a ${typeName(target)} ${where()}`);
    for (const v of items) into.push(v);
  };

  for (;;) {
    const op = r.byte();
    switch (op) {
      case 0x80: // PROTO
        protocol = r.byte();
        if (protocol > 5) invalid(`pickle protocol ${protocol} is newer than 5`);
        break;
      case 0x95: // FRAME: a length hint only
        length(u64(), 'frame');
        break;
      case 0x2e: // STOP: like CPython, the top value is the result whatever lies below it
        return { value: pop(), protocol };
      case 0x28: // MARK
        push(MARK);
        break;
      case 0x30: // POP
        if (stack.pop() === undefined) invalid(`pickle stack underflow ${where()}`);
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4b: // BININT1
        push(r.byte());
        break;
      case 0x4d: // BININT2
        push(u16());
        break;
      case 0x4a: // BININT
        push(u32() | 0);
        break;
      case 0x8a: // LONG1
        push(decodeLong(r.bytes(r.byte())));
        break;
      case 0x8b: {
        // LONG4
        const n = length(u32(), 'integer');
        if (n > MAX_PICKLE_LONG_BYTES) {
          r.skip(n);
          push(new PyObject('int', [`${n}-byte integer`]));
        } else push(decodeLong(r.bytes(n)));
        break;
      }
      case 0x49: {
        // INT (text): I01/I00 are True/False in protocol 0
        const s = line();
        push(s === '01' ? true : s === '00' ? false : parseTextInt(s));
        break;
      }
      case 0x4c: // LONG (text)
        push(parseTextInt(line()));
        break;
      case 0x46: // FLOAT (text)
        push(Number(line()));
        break;
      case 0x47: {
        // BINFLOAT: big-endian double
        const b = r.bytes(8);
        push(new DataView(b.buffer).getFloat64(0, false));
        break;
      }
      case 0x58: // BINUNICODE
        push(utf8.decode(r.bytes(length(u32(), 'string'))));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(utf8.decode(r.bytes(r.byte())));
        break;
      case 0x8d: // BINUNICODE8
        push(utf8.decode(r.bytes(length(u64(), 'string'))));
        break;
      case 0x56: // UNICODE (text, raw-unicode-escape)
        push(unescape(line()));
        break;
      case 0x53: {
        // STRING (text): a quoted Python 2 str literal
        const s = line();
        const q = s[0];
        if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q)
          invalid(`pickle STRING is not quoted ${where()}`);
        push(unescape(s.slice(1, -1)));
        break;
      }
      case 0x54: // BINSTRING (Python 2 str, read as latin-1 text)
        push(latin1.decode(r.bytes(length(u32(), 'string'))));
        break;
      case 0x55: // SHORT_BINSTRING
        push(latin1.decode(r.bytes(r.byte())));
        break;
      case 0x42: // BINBYTES
      case 0x43: // SHORT_BINBYTES
      case 0x8e: // BINBYTES8
      case 0x96: {
        // BYTEARRAY8
        const n = length(op === 0x43 ? r.byte() : op === 0x42 ? u32() : u64(), 'bytes');
        r.skip(n);
        push(new PyBytes(n));
        break;
      }
      case 0x29: // EMPTY_TUPLE
        push(new PyTuple([]));
        break;
      case 0x85: // TUPLE1
        push(new PyTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        push(new PyTuple([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        push(new PyTuple([pop(), b, c]));
        break;
      }
      case 0x74: // TUPLE
        push(new PyTuple(popMark()));
        break;
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x6c: // LIST
        push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        append(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        push(new PyDict());
        break;
      case 0x64: {
        // DICT
        const d = new PyDict();
        setItems(d, popMark());
        push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x8f: // EMPTY_SET
        push(new PySet([]));
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof PySet) && !(s instanceof PyObject))
          invalid(`pickle adds items to a ${typeName(s)} ${where()}`);
        for (const v of items) s.items.push(v);
        break;
      }
      case 0x91: // FROZENSET
        push(new PySet(popMark(), true));
        break;
      case 0x68: // BINGET
        get(r.byte());
        break;
      case 0x6a: // LONG_BINGET
        get(u32());
        break;
      case 0x67: // GET (text)
        get(Number(parseTextInt(line())));
        break;
      case 0x71: // BINPUT
        put(r.byte());
        break;
      case 0x72: // LONG_BINPUT
        put(u32());
        break;
      case 0x70: // PUT (text)
        put(Number(parseTextInt(line())));
        break;
      case 0x94: // MEMOIZE
        put(memo.size);
        break;
      case 0x63: {
        // GLOBAL: "module\nname\n"
        const module = line();
        global(module, line());
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string')
          invalid(`pickle STACK_GLOBAL needs two strings ${where()}`);
        global(module, name);
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        push(call(pop(), args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        push(call(pop(), args));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX: keyword arguments are kept only as the opaque object's last argument
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(args instanceof PyTuple))
          invalid(`pickle NEWOBJ_EX with ${typeName(args)} arguments ${where()}`);
        push(
          call(
            cls,
            new PyTuple(
              kwargs instanceof PyDict && kwargs.entries.length === 0
                ? args.items
                : [...args.items, kwargs],
            ),
          ),
        );
        break;
      }
      case 0x62: {
        // BUILD: __setstate__ / __dict__ update, recorded rather than run
        const state = pop();
        const target = top();
        if (target instanceof PyDict) target.attrs = state;
        else if (target instanceof PyObject) target.state = state;
        break;
      }
      case 0x69: {
        // INST (protocol 0): module, name, then args from the mark
        const module = line();
        const name = line();
        const args = popMark();
        const g = hooks.global(PY2_MODULES[module] ?? module, name);
        push(new PyObject(typeName(g), args));
        break;
      }
      case 0x6f: {
        // OBJ (protocol 1): class and args from the mark
        const items = popMark();
        if (!items.length) invalid(`pickle OBJ without a class ${where()}`);
        push(new PyObject(typeName(items[0]), items.slice(1)));
        break;
      }
      case 0x51: // BINPERSID
        push(hooks.persistentLoad(pop()));
        break;
      case 0x50: // PERSID (text)
        push(hooks.persistentLoad(line()));
        break;
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: {
        // EXT4: the copyreg extension registry is process state; shown as an opaque object
        const code = op === 0x82 ? r.byte() : op === 0x83 ? u16() : u32();
        push(new PyObject(`copyreg extension ${code}`, []));
        break;
      }
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        invalid('pickle uses out-of-band buffers (protocol 5), which a saved file cannot carry');
      // falls through (invalid throws)
      default:
        invalid(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')} ${where()}`);
    }
  }
}
