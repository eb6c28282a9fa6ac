import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Model, TensorRef, ValueInfo } from '../../src/core/model';
import { assignInputs, checkIntRange, parseShapeSpec, realInputs, resolveShapes, synthesize, type SuppliedTensor } from '../../src/core/verify/inputs';
import { Rng } from '../../src/core/verify/random';
import { float16ToNumber, numberToFloat16, VerifyError, type HostTensor } from '../../src/core/verify/tensor';

const vi = (name: string, dtype: number, shape: ValueInfo['shape']): ValueInfo => ({ name, dtype, shape });
const err = (re: RegExp) => (e: unknown) => e instanceof VerifyError && re.test(e.message);

function model(inputs: ValueInfo[], initializers: string[] = []): Model {
  const tensors: TensorRef[] = initializers.map((name) => ({ name, dtype: 1, dims: [1], count: 1, bytes: 4, origin: 'initializer', scope: '', storage: { kind: 'none' } }));
  return { format: 'onnx', fileBytes: 0, metadata: { opsets: [], properties: [] }, nodeCount: 0, opCounts: {}, inputs, outputs: [], tensors, layers: [], warnings: [] };
}

const supplied = (name: string, t: HostTensor, source = `${name}.npy`): SuppliedTensor => ({ name, source, tensor: t });
const f32 = (dims: number[], values?: number[]): HostTensor => ({ dtype: 1, dims, data: Float32Array.from(values ?? Array(dims.reduce((a, b) => a * b, 1)).fill(0)) });

describe('verify: which inputs to feed', () => {
  it('skips graph inputs that are initializers (IR < 4 lists weights as inputs)', () => {
    const m = model([vi('x', 1, [1, 4]), vi('w', 1, [4, 4]), vi('b', 1, [4])], ['w', 'b']);
    assert.deepEqual(realInputs(m).map((i) => i.name), ['x']);
  });
});

describe('verify: input shapes', () => {
  const inputs = [vi('ids', 7, ['batch', 'seq']), vi('mask', 7, ['batch', 'seq']), vi('pixels', 1, [null, 3, 8, 8])];

  it('gives symbolic and unknown dimensions 1 by default', () => {
    const s = resolveShapes(inputs, new Map(), {});
    assert.deepEqual(s.get('ids'), [1, 1]);
    assert.deepEqual(s.get('pixels'), [1, 3, 8, 8]);
  });

  it('gives one symbol one value across inputs, from --dim, a --shape or a supplied tensor', () => {
    const byDim = resolveShapes(inputs, new Map(), { dims: { seq: 128, batch: 2 } });
    assert.deepEqual(byDim.get('ids'), [2, 128]);
    assert.deepEqual(byDim.get('mask'), [2, 128]);
    const byShape = resolveShapes(inputs, new Map(), { shapes: { ids: [4, 16] } });
    assert.deepEqual(byShape.get('mask'), [4, 16]);
    const given = new Map([['ids', supplied('ids', { dtype: 7, dims: [3, 5], data: new BigInt64Array(15) })]]);
    const bySupplied = resolveShapes(inputs, given, {});
    assert.equal(bySupplied.has('ids'), false, 'supplied inputs are not synthesised');
    assert.deepEqual(bySupplied.get('mask'), [3, 5]);
  });

  it('refuses shapes that contradict the declaration, and inputs without a shape', () => {
    assert.throws(() => resolveShapes(inputs, new Map(), { shapes: { pixels: [1, 4, 8, 8] } }), err(/shape given for input 'pixels' is \[1,4,8,8\], but the model declares \[\?,3,8,8\]/));
    assert.throws(() => resolveShapes(inputs, new Map(), { shapes: { ids: [4] } }), err(/declares \[batch,seq\]/));
    assert.throws(() => resolveShapes(inputs, new Map(), { shapes: { nope: [1] } }), err(/'nope', which is not an input \(inputs: ids, mask, pixels\)/));
    assert.throws(() => resolveShapes([vi('x', 1, null)], new Map(), {}), err(/input 'x' declares no shape; give one \(e\.g\. --shape x=1x3x224x224\)/));
    assert.throws(() => resolveShapes(inputs, new Map(), { dims: { batch: -1 } }), err(/'batch' = -1 is not a size/));
    assert.throws(() => resolveShapes(inputs, new Map(), { shapes: { pixels: [2 ** 22, 3, 8, 8] } }), err(/more than the verifier's limit/));
  });
});

describe('verify: --shape and --dim values', () => {
  it('parses NAME=DxDxD, splitting at the last =', () => {
    assert.deepEqual(parseShapeSpec('input=1x3x224x224'), { name: 'input', dims: [1, 3, 224, 224] });
    assert.deepEqual(parseShapeSpec('batch=4'), { name: 'batch', dims: [4] });
    assert.deepEqual(parseShapeSpec('a=b=0'), { name: 'a=b', dims: [0] });
    for (const bad of ['input', '=3', 'x=', 'x=1x', 'x=-1', 'x=1.5', 'x=1,2']) assert.throws(() => parseShapeSpec(bad), err(/is not NAME=DIMS/), bad);
  });
});

describe('verify: matching supplied tensors to inputs', () => {
  const inputs = [vi('a', 1, ['n', 2]), vi('b', 7, [2])];

  it('matches by name first, then in order', () => {
    const w: string[] = [];
    const m = assignInputs(inputs, [supplied('input_0', f32([1, 2]), 'input_0.pb'), supplied('b', { dtype: 7, dims: [2], data: new BigInt64Array(2) })], w);
    assert.equal(m.get('a')!.source, 'input_0.pb');
    assert.equal(m.get('b')!.source, 'b.npy');
    assert.deepEqual(w, []);
  });

  it('converts within a family and says so; refuses across families and out-of-range integers', () => {
    const w: string[] = [];
    const m = assignInputs(inputs, [supplied('a', { dtype: 11, dims: [1, 2], data: Float64Array.of(0.1, -2) }), supplied('b', { dtype: 6, dims: [2], data: Int32Array.of(-7, 9) })], w);
    assert.equal(m.get('a')!.tensor.dtype, 1);
    assert.deepEqual(Array.from(m.get('a')!.tensor.data as Float32Array), [Math.fround(0.1), -2]);
    assert.deepEqual(Array.from(m.get('b')!.tensor.data as BigInt64Array), [-7n, 9n]);
    assert.deepEqual(w, ["input 'a' from a.npy converted from float64 to float32", "input 'b' from b.npy converted from int32 to int64"]);
    assert.throws(() => assignInputs(inputs, [supplied('b', f32([2]))], []), err(/input 'b' from b\.npy is float32, but the model expects int64/));
    const narrow = [vi('c', 3, [1])];
    assert.throws(() => assignInputs(narrow, [supplied('c', { dtype: 7, dims: [1], data: BigInt64Array.of(300n) })], []), err(/value 300 does not fit int8/));
  });

  it('refuses duplicates, extras and wrong shapes', () => {
    assert.throws(() => assignInputs(inputs, [supplied('a', f32([1, 2]), 'x.npy'), supplied('a', f32([1, 2]), 'y.npy')], []), err(/input 'a' is given twice \(x\.npy and y\.npy\)/));
    assert.throws(() => assignInputs(inputs, [supplied('p', f32([1, 2])), supplied('q', f32([2])), supplied('r', f32([2]))], []), err(/r\.npy: more input tensors than model inputs \(a, b\)/));
    assert.throws(() => assignInputs(inputs, [supplied('a', f32([1, 3]))], []), err(/input 'a' from a\.npy is \[1,3\], but the model declares \[n,2\]/));
  });
});

describe('verify: random inputs', () => {
  const bytes = (t: HostTensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

  it('are the same for the same seed and sample, and differ otherwise', () => {
    const spec = vi('x', 1, [4, 16]);
    const a = synthesize(spec, [4, 16], new Rng(5, 0), [0, 10]);
    const b = synthesize(spec, [4, 16], new Rng(5, 0), [0, 10]);
    const c = synthesize(spec, [4, 16], new Rng(5, 1), [0, 10]);
    const d = synthesize(spec, [4, 16], new Rng(6, 0), [0, 10]);
    assert.deepEqual(bytes(a), bytes(b));
    assert.notDeepEqual(bytes(a), bytes(c));
    assert.notDeepEqual(bytes(a), bytes(d));
  });

  it('draws floats from a standard normal', () => {
    const n = 100_000;
    const t = synthesize(vi('x', 11, [n]), [n], new Rng(1), [0, 10]);
    const v = t.data as Float64Array;
    const mean = v.reduce((s, x) => s + x, 0) / n;
    const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / n);
    const within1 = v.filter((x) => Math.abs(x) < 1).length / n;
    // Standard errors at n = 1e5: mean 0.0032, std 0.0022, fraction 0.0015; bounds are about five of them.
    assert.ok(Math.abs(mean) < 0.016, `mean ${mean}`);
    assert.ok(Math.abs(std - 1) < 0.011, `std ${std}`);
    assert.ok(Math.abs(within1 - 0.6827) < 0.0075, `P(|x|<1) ${within1}`);
  });

  it('draws integers uniformly from the range, bools as coin flips, float16 as half bits', () => {
    const ints = synthesize(vi('ids', 7, [1000]), [1000], new Rng(2), [3, 8]).data as BigInt64Array;
    const seen = new Set(Array.from(ints, Number));
    assert.deepEqual([...seen].sort(), [3, 4, 5, 6, 7]);
    const small = synthesize(vi('i', 3, [100]), [100], new Rng(2), [-4, 4]).data as Int8Array;
    assert.ok(small.every((x) => x >= -4 && x < 4));
    const bools = synthesize(vi('m', 9, [1000]), [1000], new Rng(3), [0, 10]).data as Uint8Array;
    const ones = bools.filter((x) => x === 1).length;
    assert.ok(bools.every((x) => x === 0 || x === 1));
    assert.ok(ones > 400 && ones < 600, `${ones} ones`);
    const halves = synthesize(vi('h', 10, [100]), [100], new Rng(4), [0, 10]).data as Uint16Array;
    assert.ok(Array.from(halves, float16ToNumber).every((x) => Number.isFinite(x) && Math.abs(x) < 10));
  });

  it('refuses integer ranges an input type cannot hold, and types it cannot make', () => {
    assert.throws(() => checkIntRange([vi('u', 2, [1])], [0, 300]), err(/\[0, 300\) does not fit input 'u' \(uint8\)/));
    assert.throws(() => checkIntRange([vi('u', 12, [1])], [-1, 3]), err(/does not fit input 'u' \(uint32\)/));
    assert.throws(() => checkIntRange([], [5, 5]), err(/empty/));
    checkIntRange([vi('f', 1, [1]), vi('i', 3, [1])], [-128, 128]);
    assert.throws(() => synthesize(vi('s', 8, [1]), [1], new Rng(0), [0, 10]), err(/input 's' \(string\) cannot be synthesised; supply it from a file/));
  });
});

describe('verify: float16 conversion', () => {
  it('round-trips every non-NaN half bit pattern exactly', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const v = float16ToNumber(bits);
      if (Number.isNaN(v)) continue;
      assert.equal(numberToFloat16(v), bits, `bits 0x${bits.toString(16)} (${v})`);
    }
  });

  it('rounds to nearest even and overflows to infinity like a cast', () => {
    assert.equal(numberToFloat16(1), 0x3c00);
    assert.equal(numberToFloat16(-2), 0xc000);
    assert.equal(numberToFloat16(0.1), 0x2e66);
    assert.equal(numberToFloat16(65504), 0x7bff);
    assert.equal(numberToFloat16(65519.99), 0x7bff);
    assert.equal(numberToFloat16(65520), 0x7c00);
    assert.equal(numberToFloat16(1 + 2 ** -11), 0x3c00, 'halfway rounds to the even mantissa');
    assert.equal(numberToFloat16(1 + 3 * 2 ** -11), 0x3c02, 'halfway rounds to the even mantissa');
    assert.equal(numberToFloat16(2 ** -25), 0, 'half the smallest subnormal rounds to even (zero)');
    assert.equal(numberToFloat16(3 * 2 ** -25), 2, '1.5 ulps of subnormal round to 2');
    assert.equal(numberToFloat16(Number.NaN) & 0x7c00, 0x7c00);
  });
});
