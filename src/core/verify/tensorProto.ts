import { dtypeInfo } from '../dtypes';
import { InvalidModelError } from '../errors';
import { MemorySource } from '../io/source';
import { WireReader } from '../io/wire';
import { MAX_TENSOR_RANK } from '../limits';
import {
  arrayTypeFor,
  elementCount,
  isSupportedDtype,
  tensorFromBytes,
  verifyError,
  type HostTensor,
} from './tensor';

/**
 * Parses a serialized ONNX TensorProto (the `input_N.pb` files of ONNX test data sets) into a
 * tensor and its name ('' when unnamed). Elements may sit in raw_data or in the typed fields.
 */
export function parseTensorProto(
  bytes: Uint8Array,
  what = '.pb',
): { name: string; tensor: HostTensor } {
  try {
    return parse(bytes, what);
  } catch (err) {
    // The wire reader speaks of a "model"; here the file is a tensor the user gave.
    if (err instanceof InvalidModelError)
      verifyError(`${what}: not a valid TensorProto (${err.message})`);
    throw err;
  }
}

function parse(bytes: Uint8Array, what: string): { name: string; tensor: HostTensor } {
  const r = new WireReader(new MemorySource(bytes, what));
  const end = bytes.length;
  const dims: number[] = [];
  let dtype = 0;
  let name = '';
  let raw = null as Uint8Array | null;
  const values: (number | bigint)[] = [];
  let typedField = 0;
  const typed = (field: number) => {
    if (typedField && typedField !== field)
      verifyError(`${what}: elements in two different fields (${typedField} and ${field})`);
    typedField = field;
  };
  const readOne = (field: number, wt: number) => {
    if (field === 4) values.push(r.f32());
    else if (field === 10) values.push(r.f64());
    else if (wt !== 0) verifyError(`${what}: field ${field} has wire type ${wt}`);
    else {
      r.varint64();
      const u = (BigInt(r.hi) << 32n) | BigInt(r.lo);
      if (field === 7) values.push(BigInt.asIntN(64, u));
      else if (field === 11) values.push(u);
      else values.push(Number(BigInt.asIntN(32, u)));
    }
  };
  r.fields(end, (field, wt) => {
    if (field === 1) {
      const push = () => {
        r.varint64();
        const d = r.int64;
        if (!Number.isSafeInteger(d) || d < 0) verifyError(`${what}: invalid dimension ${d}`);
        if (dims.length >= MAX_TENSOR_RANK)
          verifyError(`${what}: more than ${MAX_TENSOR_RANK} dimensions`);
        dims.push(d);
      };
      if (wt === 2) for (const fEnd = r.fieldEnd(end); r.pos < fEnd;) push();
      else push();
    } else if (field === 2 && wt === 0) dtype = r.varint();
    else if (field === 8 && wt === 2) name = r.string(r.length(end));
    else if (field === 9 && wt === 2) {
      // A view, not r.bytes(): input tensors may exceed the structural-field limit.
      const len = r.length(end);
      raw = bytes.subarray(r.pos, r.pos + len);
      r.skip(len);
    } else if ([4, 5, 7, 10, 11].includes(field)) {
      typed(field);
      if (wt === 2)
        for (const fEnd = r.fieldEnd(end); r.pos < fEnd;)
          readOne(field, field === 4 ? 5 : field === 10 ? 1 : 0);
      else readOne(field, wt);
    } else if (field === 3) verifyError(`${what}: segmented tensors are not supported`);
    else if (field === 6) verifyError(`${what}: string tensors are not supported`);
    else if (field === 13 || (field === 14 && wt === 0))
      verifyError(`${what}: tensors with external data are not supported; save the data inline`);
  });
  if (!isSupportedDtype(dtype))
    verifyError(
      `${what}: ${dtype ? dtypeInfo(dtype).name : 'undefined'} tensors are not supported`,
    );
  const label = name ? `${what} (${name})` : what;
  if (raw) {
    if (typedField) verifyError(`${what}: elements in both raw_data and field ${typedField}`);
    return { name, tensor: tensorFromBytes(dtype, dims, raw, label) };
  }
  const count = elementCount(dims, label);
  if (values.length !== count)
    verifyError(
      `${label}: ${values.length} elements stored, but shape [${dims.join(',')}] needs ${count}`,
    );
  const want = expectedField(dtype);
  if (count > 0 && typedField !== want)
    verifyError(
      `${label}: ${dtypeInfo(dtype).name} elements found in field ${typedField}, expected field ${want}`,
    );
  const data = new (arrayTypeFor(dtype))(count);
  const big = data instanceof BigInt64Array || data instanceof BigUint64Array;
  const slots = data as unknown as (number | bigint)[];
  for (let i = 0; i < count; i++) slots[i] = big ? BigInt(values[i]) : Number(values[i]);
  return { name, tensor: { dtype, dims, data } };
}

/** The typed TensorProto field that holds a dtype's elements when raw_data is not used. */
function expectedField(dtype: number): number {
  switch (dtype) {
    case 1:
      return 4;
    case 11:
      return 10;
    case 7:
      return 7;
    case 12:
    case 13:
      return 11;
    default:
      return 5;
  }
}
