import { invalid } from '../../errors';
import { MAX_TENSOR_ELEMENTS, MAX_TENSOR_RANK } from '../../limits';
import {
  PyBytes,
  PyDict,
  PyGlobal,
  PyHost,
  PyObject,
  PySet,
  PyTuple,
  typeName,
  type PickleHooks,
  type PyValue,
} from './pickle';

/**
 * What torch.save's pickle means, for the few globals a state_dict needs. Nothing here imports or
 * runs code: an allow-listed call becomes a plain description (a tensor view, a dict, a tuple).
 */

export interface TorchDtype {
  /** torch's name: float32, bfloat16, quint8, ... */
  name: string;
  /** ONNX code (dtypes.ts), or 0 when Model Lens has no such element type. */
  code: number;
  bytes: number;
}

/** torch dtypes with their legacy storage class names (the dtype hint in persistent ids). */
const DTYPES: [name: string, storage: string, code: number, bytes: number, aliases: string[]][] = [
  ['float32', 'FloatStorage', 1, 4, ['float']],
  ['float64', 'DoubleStorage', 11, 8, ['double']],
  ['float16', 'HalfStorage', 10, 2, ['half']],
  ['bfloat16', 'BFloat16Storage', 16, 2, []],
  ['uint8', 'ByteStorage', 2, 1, []],
  ['int8', 'CharStorage', 3, 1, []],
  ['int16', 'ShortStorage', 5, 2, ['short']],
  ['int32', 'IntStorage', 6, 4, ['int']],
  ['int64', 'LongStorage', 7, 8, ['long']],
  ['bool', 'BoolStorage', 9, 1, []],
  ['complex64', 'ComplexFloatStorage', 14, 8, ['cfloat']],
  ['complex128', 'ComplexDoubleStorage', 15, 16, ['cdouble']],
  ['complex32', 'ComplexHalfStorage', 0, 4, ['chalf']],
  ['uint16', 'UInt16Storage', 4, 2, []],
  ['uint32', 'UInt32Storage', 12, 4, []],
  ['uint64', 'UInt64Storage', 13, 8, []],
  ['float8_e4m3fn', 'Float8_e4m3fnStorage', 17, 1, []],
  ['float8_e4m3fnuz', 'Float8_e4m3fnuzStorage', 18, 1, []],
  ['float8_e5m2', 'Float8_e5m2Storage', 19, 1, []],
  ['float8_e5m2fnuz', 'Float8_e5m2fnuzStorage', 20, 1, []],
  ['quint8', 'QUInt8Storage', 0, 1, []],
  ['qint8', 'QInt8Storage', 0, 1, []],
  ['qint32', 'QInt32Storage', 0, 4, []],
  ['quint4x2', 'QUInt4x2Storage', 0, 1, []],
  ['quint2x4', 'QUInt2x4Storage', 0, 1, []],
];

const UINT8: TorchDtype = { name: 'uint8', code: 2, bytes: 1 };
const byStorage = new Map<string, TorchDtype>();
const byDtypeName = new Map<string, TorchDtype>();
for (const [name, storage, code, bytes, aliases] of DTYPES) {
  const d = { name, code, bytes };
  byStorage.set(storage, d);
  for (const n of [name, ...aliases]) byDtypeName.set(n, d);
}

/** A storage class used as a dtype hint (torch.FloatStorage, torch.UntypedStorage, ...). */
export class TorchStorageType extends PyHost {
  constructor(
    readonly className: string,
    readonly dtype: TorchDtype,
  ) {
    super();
  }
}

export class TorchDtypeValue extends PyHost {
  constructor(readonly dtype: TorchDtype) {
    super();
  }
}

/** One `data/<key>` record: `numel` elements of `dtype`. */
export class TorchStorage extends PyHost {
  constructor(
    readonly key: string,
    readonly dtype: TorchDtype,
    readonly numel: number,
    readonly location: string,
  ) {
    super();
  }
}

/** A view onto a storage, in elements of `dtype`. `storage` is null for meta tensors (saved without data). */
export class TorchTensor extends PyHost {
  constructor(
    readonly storage: TorchStorage | null,
    readonly dtype: TorchDtype,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
    readonly parameter: boolean,
  ) {
    super();
  }

  get count(): number {
    return this.shape.reduce((a, d) => a * d, 1);
  }
}

/** Calls that are interpreted; everything else (not even looked at) stays an opaque object. */
const ALLOWED_CALLS = new Set([
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor_v3',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch._utils._rebuild_meta_tensor_no_storage',
  'torch._tensor._rebuild_from_type_v2',
  'torch.Size',
  'torch.device',
  'collections.OrderedDict',
  'collections.defaultdict',
  'builtins.set',
  'builtins.frozenset',
  'builtins.list',
  'builtins.tuple',
  'builtins.dict',
  'builtins.bytearray',
  'builtins.bytes',
]);

/** Harmless names that may appear as plain values (a defaultdict's factory, a tensor subclass's type). */
const INERT_GLOBALS = new Set([
  'torch.Tensor',
  'torch._tensor.Tensor',
  'torch.nn.parameter.Parameter',
  'builtins.int',
  'builtins.float',
  'builtins.str',
  'builtins.bool',
  'builtins.complex',
  'builtins.slice',
  'builtins.object',
]);

function int(v: PyValue, what: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'boolean') return Number(v);
  return invalid(`${what} is ${typeName(v)}, not an integer`);
}

function ints(v: PyValue, what: string): number[] {
  if (!(v instanceof PyTuple) && !Array.isArray(v))
    invalid(`${what} is ${typeName(v)}, not a tuple`);
  const items = v instanceof PyTuple ? v.items : v;
  if (items.length > MAX_TENSOR_RANK)
    invalid(`${what} has ${items.length} dimensions, more than ${MAX_TENSOR_RANK}`);
  return items.map((x, i) => {
    const n = int(x, `${what}[${i}]`);
    if (n < 0) invalid(`${what}[${i}] is negative (${n})`);
    return n;
  });
}

function iterable(v: PyValue | undefined): PyValue[] {
  if (v === undefined) return [];
  if (Array.isArray(v)) return v;
  if (v instanceof PyTuple || v instanceof PySet) return v.items;
  if (v instanceof PyDict) return v.entries.map(([k]) => k);
  invalid(`expected an iterable, got ${typeName(v)}`);
}

/** The PickleHooks torch.save's data.pkl needs, plus what they saw (for the report). */
export class TorchHooks implements PickleHooks {
  /** Names outside the allow-list that the pickle mentions, with how often. */
  readonly refused = new Map<string, number>();
  readonly storages = new Map<string, TorchStorage>();

  global(module: string, name: string): PyValue {
    const q = `${module}.${name}`;
    if (module === 'torch' || module === 'torch.cuda' || module === 'torch.storage') {
      if (name === 'UntypedStorage' || name === '_UntypedStorage')
        return new TorchStorageType(name, UINT8);
      const s = byStorage.get(name);
      if (s) return new TorchStorageType(name, s);
      const d = module === 'torch' ? byDtypeName.get(name) : undefined;
      if (d) return new TorchDtypeValue(d);
    }
    const allowed = ALLOWED_CALLS.has(q) || INERT_GLOBALS.has(q);
    if (!allowed) this.refused.set(q, (this.refused.get(q) ?? 0) + 1);
    return new PyGlobal(module, name, allowed);
  }

  persistentLoad(pid: PyValue): PyValue {
    if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage')
      return new PyObject('persistent id', [pid]);
    if (pid.items.length !== 5)
      invalid(`storage persistent id has ${pid.items.length} fields, expected 5`);
    const [, type, key, location, numelValue] = pid.items;
    if (!(type instanceof TorchStorageType))
      invalid(`storage type is ${typeName(type)}, not a torch storage class`);
    if (typeof key !== 'string') invalid(`storage key is ${typeName(key)}, not a string`);
    const numel = int(numelValue, `storage ${key} size`);
    if (numel < 0 || numel > MAX_TENSOR_ELEMENTS)
      invalid(`storage ${key} declares ${numel} elements`);
    const known = this.storages.get(key);
    if (known) {
      if (known.dtype !== type.dtype || known.numel !== numel)
        invalid(`storage ${key} is declared twice with different types or sizes`);
      return known;
    }
    const s = new TorchStorage(
      key,
      type.dtype,
      numel,
      typeof location === 'string' ? location : '',
    );
    this.storages.set(key, s);
    return s;
  }

  call(callable: PyValue, args: PyValue[]): PyValue | undefined {
    if (!(callable instanceof PyGlobal) || !ALLOWED_CALLS.has(callable.qualified)) return undefined;
    switch (callable.qualified) {
      case 'torch._utils._rebuild_tensor':
      case 'torch._utils._rebuild_tensor_v2':
        return this.tensor(args[0], undefined, args[1], args[2], args[3]);
      case 'torch._utils._rebuild_tensor_v3': {
        const d = args[6];
        if (!(d instanceof TorchDtypeValue))
          invalid(`_rebuild_tensor_v3 dtype is ${typeName(d ?? null)}`);
        return this.tensor(args[0], d.dtype, args[1], args[2], args[3]);
      }
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state': {
        const t = args[0];
        if (!(t instanceof TorchTensor))
          invalid(`parameter data is ${typeName(t ?? null)}, not a tensor`);
        return new TorchTensor(t.storage, t.dtype, t.offset, t.shape, t.stride, true);
      }
      case 'torch._utils._rebuild_meta_tensor_no_storage': {
        const d = args[0];
        if (!(d instanceof TorchDtypeValue)) invalid(`meta tensor dtype is ${typeName(d ?? null)}`);
        const shape = ints(args[1] ?? null, 'meta tensor size');
        return new TorchTensor(
          null,
          d.dtype,
          0,
          shape,
          ints(args[2] ?? null, 'meta tensor stride'),
          false,
        );
      }
      case 'torch._tensor._rebuild_from_type_v2': {
        // (func, type, args, state): a tensor subclass; the data comes from func(*args).
        const [func, , inner] = args;
        if (!(inner instanceof PyTuple))
          invalid(`_rebuild_from_type_v2 arguments are ${typeName(inner ?? null)}`);
        // torch never nests it; refusing keeps this call from recursing as deep as a hostile pickle nests.
        if (func instanceof PyGlobal && func.qualified === callable.qualified)
          invalid('nested _rebuild_from_type_v2');
        return this.call(func ?? null, inner.items);
      }
      case 'torch.Size':
      case 'builtins.tuple':
        return new PyTuple([...iterable(args[0])]);
      case 'builtins.list':
        return [...iterable(args[0])];
      case 'torch.device':
        return args.map((a) => String(a)).join(':');
      case 'collections.OrderedDict':
      case 'collections.defaultdict':
      case 'builtins.dict': {
        const d = new PyDict(callable.qualified === 'builtins.dict' ? 'dict' : callable.qualified);
        const init = callable.qualified === 'collections.defaultdict' ? args[1] : args[0];
        if (init instanceof PyDict) for (const [k, v] of init.entries) d.set(k, v);
        else
          for (const pair of iterable(init)) {
            const kv = iterable(pair);
            if (kv.length !== 2) invalid(`dict item has ${kv.length} parts, not 2`);
            d.set(kv[0], kv[1]);
          }
        return d;
      }
      case 'builtins.set':
      case 'builtins.frozenset':
        return new PySet([...iterable(args[0])], callable.name === 'frozenset');
      case 'builtins.bytearray':
      case 'builtins.bytes': {
        const a = args[0];
        return new PyBytes(
          typeof a === 'string' ? a.length : a instanceof PyBytes ? a.length : iterable(a).length,
        );
      }
    }
    return undefined;
  }

  private tensor(
    storage: PyValue | undefined,
    dtype: TorchDtype | undefined,
    offsetValue: PyValue | undefined,
    size: PyValue | undefined,
    stride: PyValue | undefined,
  ): TorchTensor {
    if (!(storage instanceof TorchStorage))
      invalid(`tensor storage is ${typeName(storage ?? null)}, not a storage`);
    const offset = int(offsetValue ?? null, 'tensor storage offset');
    if (offset < 0) invalid(`tensor storage offset is negative (${offset})`);
    const shape = ints(size ?? null, 'tensor size');
    const strides = ints(stride ?? null, 'tensor stride');
    if (strides.length !== shape.length)
      invalid(`tensor has ${shape.length} dimensions but ${strides.length} strides`);
    let count = 1;
    for (const d of shape) {
      count *= d;
      if (count > MAX_TENSOR_ELEMENTS)
        invalid(`tensor of shape [${shape.join(', ')}] exceeds ${MAX_TENSOR_ELEMENTS} elements`);
    }
    return new TorchTensor(storage, dtype ?? storage.dtype, offset, shape, strides, false);
  }
}
