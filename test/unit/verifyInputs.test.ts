import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Model, TensorRef, ValueInfo } from '../../src/core/model';
import {
  assignInputs,
  AUDIO_CHUNK,
  checkIntRange,
  IMAGE_SIDE,
  parseShapeSpec,
  parseValueSpec,
  realInputs,
  resolveShapes,
  synthesize,
  valueTensors,
  type SuppliedTensor,
} from '../../src/core/verify/inputs';
import { describeInputs, measuredOn } from '../../src/core/verify/report';
import { Rng } from '../../src/core/verify/random';
import {
  float16ToNumber,
  numberToFloat16,
  VerifyError,
  type HostTensor,
} from '../../src/core/verify/tensor';

const vi = (name: string, dtype: number, shape: ValueInfo['shape']): ValueInfo => ({
  name,
  dtype,
  shape,
});
const err = (re: RegExp) => (e: unknown) => e instanceof VerifyError && re.test(e.message);

function model(inputs: ValueInfo[], initializers: string[] = []): Model {
  const tensors: TensorRef[] = initializers.map((name) => ({
    name,
    dtype: 1,
    dims: [1],
    count: 1,
    bytes: 4,
    origin: 'initializer',
    scope: '',
    storage: { kind: 'none' },
  }));
  return {
    format: 'onnx',
    fileBytes: 0,
    metadata: { opsets: [], properties: [] },
    nodeCount: 0,
    opCounts: {},
    inputs,
    outputs: [],
    tensors,
    layers: [],
    warnings: [],
  };
}

const supplied = (name: string, t: HostTensor, source = `${name}.npy`): SuppliedTensor => ({
  name,
  source,
  tensor: t,
});
const f32 = (dims: number[], values?: number[]): HostTensor => ({
  dtype: 1,
  dims,
  data: Float32Array.from(values ?? Array(dims.reduce((a, b) => a * b, 1)).fill(0)),
});

describe('verify: which inputs to feed', () => {
  it('skips graph inputs that are initializers (IR < 4 lists weights as inputs)', () => {
    const m = model([vi('x', 1, [1, 4]), vi('w', 1, [4, 4]), vi('b', 1, [4])], ['w', 'b']);
    assert.deepEqual(
      realInputs(m).map((i) => i.name),
      ['x'],
    );
  });
});

describe('verify: input shapes', () => {
  const inputs = [
    vi('ids', 7, ['batch', 'seq']),
    vi('mask', 7, ['batch', 'seq']),
    vi('pixels', 1, [null, 3, 8, 8]),
  ];

  it('gives the batch and dimensions of no known layout 1, and says so for all but the batch', () => {
    const s = resolveShapes(inputs, new Map(), {});
    assert.deepEqual(s.get('ids'), {
      dims: [1, 1],
      chosen: 'seq not fixed by the model: 1 chosen',
    });
    assert.deepEqual(
      s.get('pixels'),
      { dims: [1, 3, 8, 8] },
      'fixed sizes are never changed, the batch stays 1',
    );
  });

  it('sizes open image sides and audio chunks realistically, keeping fixed dimensions', () => {
    const rule = [
      vi('det', 1, ['n', 3, 'h', 'w']),
      vi('rec', 1, [null, 3, 48, null]),
      vi('tall', 1, [null, 1, 640, null]),
      vi('nhwc', 1, [null, null, null, 4]),
      vi('audio', 1, [null, null]),
      vi('state', 1, [2, null, 128]),
      vi('ints', 7, [null, null, null, null]),
      vi('fiveChannels', 1, [null, 5, null, null]),
    ];
    const s = resolveShapes(rule, new Map(), {});
    assert.deepEqual(s.get('det'), {
      dims: [1, 3, IMAGE_SIDE, IMAGE_SIDE],
      chosen: `H, W not fixed by the model: ${IMAGE_SIDE} chosen`,
    });
    assert.deepEqual(s.get('rec'), {
      dims: [1, 3, 48, 320],
      chosen: 'W not fixed by the model: 320 chosen',
    });
    assert.deepEqual(
      s.get('tall'),
      { dims: [1, 1, 640, 640], chosen: 'W not fixed by the model: 640 chosen' },
      'an open side is at least the fixed one',
    );
    assert.deepEqual(s.get('nhwc'), {
      dims: [1, 320, 320, 4],
      chosen: 'H, W not fixed by the model: 320 chosen',
    });
    assert.deepEqual(s.get('audio'), {
      dims: [1, AUDIO_CHUNK],
      chosen: `samples not fixed by the model: ${AUDIO_CHUNK} chosen`,
    });
    assert.deepEqual(s.get('state'), {
      dims: [2, 1, 128],
      chosen: 'dim 1 not fixed by the model: 1 chosen',
    });
    assert.deepEqual(s.get('ints')!.dims, [1, 1, 1, 1], 'integer tensors are not images');
    assert.deepEqual(
      s.get('fiveChannels')!.dims,
      [1, 5, 1, 1],
      'five channels is not an image layout',
    );
    const given = resolveShapes(rule, new Map(), { dims: { h: 64, w: 96 } });
    assert.deepEqual(
      given.get('det'),
      { dims: [1, 3, 64, 96] },
      '--dim wins and leaves nothing chosen',
    );
  });

  it('gives one symbol one value across inputs, from --dim, a --shape or a supplied tensor', () => {
    const byDim = resolveShapes(inputs, new Map(), { dims: { seq: 128, batch: 2 } });
    assert.deepEqual(byDim.get('ids')!.dims, [2, 128]);
    assert.deepEqual(byDim.get('mask')!.dims, [2, 128]);
    const byShape = resolveShapes(inputs, new Map(), { shapes: { ids: [4, 16] } });
    assert.deepEqual(byShape.get('mask')!.dims, [4, 16]);
    const given = new Map([
      ['ids', supplied('ids', { dtype: 7, dims: [3, 5], data: new BigInt64Array(15) })],
    ]);
    const bySupplied = resolveShapes(inputs, given, {});
    assert.equal(bySupplied.has('ids'), false, 'supplied inputs are not synthesised');
    assert.deepEqual(bySupplied.get('mask')!.dims, [3, 5]);
  });

  it('refuses shapes that contradict the declaration, and inputs without a shape', () => {
    assert.throws(
      () => resolveShapes(inputs, new Map(), { shapes: { pixels: [1, 4, 8, 8] } }),
      err(/shape given for input 'pixels' is \[1,4,8,8\], but the model declares \[\?,3,8,8\]/),
    );
    assert.throws(
      () => resolveShapes(inputs, new Map(), { shapes: { ids: [4] } }),
      err(/declares \[batch,seq\]/),
    );
    assert.throws(
      () => resolveShapes(inputs, new Map(), { shapes: { nope: [1] } }),
      err(/'nope', which is not an input \(inputs: ids, mask, pixels\)/),
    );
    assert.throws(
      () => resolveShapes([vi('x', 1, null)], new Map(), {}),
      err(/input 'x' declares no shape; give one \(e\.g\. --shape x=1x3x224x224\)/),
    );
    assert.throws(
      () => resolveShapes(inputs, new Map(), { dims: { batch: -1 } }),
      err(/'batch' = -1 is not a size/),
    );
    assert.throws(
      () => resolveShapes(inputs, new Map(), { shapes: { pixels: [2 ** 22, 3, 8, 8] } }),
      err(/more than the verifier's limit/),
    );
  });
});

describe('verify: --value', () => {
  it('parses NAME=NUMBER, splitting at the last =', () => {
    assert.deepEqual(parseValueSpec('sr=16000'), { name: 'sr', value: 16000 });
    assert.deepEqual(parseValueSpec('state=0'), { name: 'state', value: 0 });
    assert.deepEqual(parseValueSpec('t=-0.5'), { name: 't', value: -0.5 });
    assert.deepEqual(parseValueSpec('a=b=1e-3'), { name: 'a=b', value: 0.001 });
    for (const bad of ['sr', '=1', 'sr=', 'sr=abc', 'sr=1x2', 'sr=0x10', 'sr=Infinity', 'sr=1e999'])
      assert.throws(() => parseValueSpec(bad), err(/is not NAME=NUMBER/), bad);
  });

  it('fills the whole input, checked against its type, and is named in the report line', () => {
    const inputs = [
      vi('input', 1, [null, null]),
      vi('state', 1, [2, null, 128]),
      vi('sr', 7, []),
      vi('flag', 9, []),
    ];
    const shapes = resolveShapes(inputs, new Map(), {});
    const t = valueTensors(inputs, new Map(), shapes, { sr: 16000, state: 0.25 });
    assert.deepEqual(t.get('sr'), { dtype: 7, dims: [], data: BigInt64Array.from([16000n]) });
    const state = t.get('state')!;
    assert.deepEqual(state.dims, [2, 1, 128]);
    assert.ok((state.data as Float32Array).every((v) => v === 0.25));
    assert.equal(t.has('input'), false);
    assert.throws(
      () => valueTensors(inputs, new Map(), shapes, { sr: 16000.5 }),
      err(/input 'sr' is int64: 16000\.5 is not an integer it can hold/),
    );
    assert.throws(
      () => valueTensors(inputs, new Map(), shapes, { flag: 2 }),
      err(/input 'flag' is bool: its value must be 0 or 1, not 2/),
    );
    assert.throws(
      () => valueTensors(inputs, new Map(), shapes, { rate: 1 }),
      err(/a value is given for 'rate', which is not an input \(inputs: input, state, sr, flag\)/),
    );
    const fromFile = new Map([
      ['sr', supplied('sr', { dtype: 7, dims: [], data: new BigInt64Array(1) })],
    ]);
    assert.throws(
      () => valueTensors(inputs, fromFile, shapes, { sr: 8000 }),
      err(/input 'sr' is given both a value and a file \(sr\.npy\)/),
    );
    const reports = [
      {
        name: 'input',
        dtype: 'float32',
        shape: [1, 512],
        source: 'random',
        chosen: 'samples not fixed by the model: 512 chosen',
      },
      {
        name: 'state',
        dtype: 'float32',
        shape: [2, 1, 128],
        source: 'value',
        value: 0,
        chosen: 'dim 1 not fixed by the model: 1 chosen',
      },
      { name: 'sr', dtype: 'int64', shape: [], source: 'value', value: 16000 },
    ];
    assert.equal(
      measuredOn(8, 0, reports),
      '8 random samples (seed 0): input float32[1,512] (samples not fixed by the model: 512 chosen); state float32[2,1,128] = 0 (dim 1 not fixed by the model: 1 chosen); sr = 16000',
    );
    assert.equal(
      describeInputs(
        [reports[0], { name: 'sr', dtype: 'int64', shape: [], source: 'random' }],
        true,
      ),
      'input [1,512], sr = random int64',
    );
    assert.equal(
      measuredOn(1, 0, [{ name: 'x', dtype: 'float32', shape: [4, 3], source: 'a.npy' }]),
      '1 sample: x float32[4,3] from a.npy',
    );
    assert.equal(
      measuredOn(4, 7, [{ name: 'x', dtype: 'float32', shape: [1, 3], source: 'random' }], 8),
      '4 random samples (seed 7, streams 8–11): x float32[1,3]',
    );
  });
});

describe('verify: --shape and --dim values', () => {
  it('parses NAME=DxDxD, splitting at the last =', () => {
    assert.deepEqual(parseShapeSpec('input=1x3x224x224'), {
      name: 'input',
      dims: [1, 3, 224, 224],
    });
    assert.deepEqual(parseShapeSpec('batch=4'), { name: 'batch', dims: [4] });
    assert.deepEqual(parseShapeSpec('a=b=0'), { name: 'a=b', dims: [0] });
    for (const bad of ['input', '=3', 'x=', 'x=1x', 'x=-1', 'x=1.5', 'x=1,2'])
      assert.throws(() => parseShapeSpec(bad), err(/is not NAME=DIMS/), bad);
  });
});

describe('verify: matching supplied tensors to inputs', () => {
  const inputs = [vi('a', 1, ['n', 2]), vi('b', 7, [2])];

  it('matches by name first, then in order', () => {
    const w: string[] = [];
    const m = assignInputs(
      inputs,
      [
        supplied('input_0', f32([1, 2]), 'input_0.pb'),
        supplied('b', { dtype: 7, dims: [2], data: new BigInt64Array(2) }),
      ],
      w,
    );
    assert.equal(m.get('a')!.source, 'input_0.pb');
    assert.equal(m.get('b')!.source, 'b.npy');
    assert.deepEqual(w, []);
  });

  it('converts within a family and says so; refuses across families and out-of-range integers', () => {
    const w: string[] = [];
    const m = assignInputs(
      inputs,
      [
        supplied('a', { dtype: 11, dims: [1, 2], data: Float64Array.of(0.1, -2) }),
        supplied('b', { dtype: 6, dims: [2], data: Int32Array.of(-7, 9) }),
      ],
      w,
    );
    assert.equal(m.get('a')!.tensor.dtype, 1);
    assert.deepEqual(Array.from(m.get('a')!.tensor.data as Float32Array), [Math.fround(0.1), -2]);
    assert.deepEqual(Array.from(m.get('b')!.tensor.data as BigInt64Array), [-7n, 9n]);
    assert.deepEqual(w, [
      "input 'a' from a.npy converted from float64 to float32",
      "input 'b' from b.npy converted from int32 to int64",
    ]);
    assert.throws(
      () => assignInputs(inputs, [supplied('b', f32([2]))], []),
      err(/input 'b' from b\.npy is float32, but the model expects int64/),
    );
    const narrow = [vi('c', 3, [1])];
    assert.throws(
      () =>
        assignInputs(
          narrow,
          [supplied('c', { dtype: 7, dims: [1], data: BigInt64Array.of(300n) })],
          [],
        ),
      err(/value 300 does not fit int8/),
    );
  });

  it('refuses duplicates, extras and wrong shapes', () => {
    assert.throws(
      () =>
        assignInputs(
          inputs,
          [supplied('a', f32([1, 2]), 'x.npy'), supplied('a', f32([1, 2]), 'y.npy')],
          [],
        ),
      err(/input 'a' is given twice \(x\.npy and y\.npy\)/),
    );
    assert.throws(
      () =>
        assignInputs(
          inputs,
          [supplied('p', f32([1, 2])), supplied('q', f32([2])), supplied('r', f32([2]))],
          [],
        ),
      err(/r\.npy: more input tensors than model inputs \(a, b\)/),
    );
    assert.throws(
      () => assignInputs(inputs, [supplied('a', f32([1, 3]))], []),
      err(/input 'a' from a\.npy is \[1,3\], but the model declares \[n,2\]/),
    );
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
    assert.ok(
      Array.from(halves, float16ToNumber).every((x) => Number.isFinite(x) && Math.abs(x) < 10),
    );
  });

  it('refuses integer ranges an input type cannot hold, and types it cannot make', () => {
    assert.throws(
      () => checkIntRange([vi('u', 2, [1])], [0, 300]),
      err(/\[0, 300\) does not fit input 'u' \(uint8\)/),
    );
    assert.throws(
      () => checkIntRange([vi('u', 12, [1])], [-1, 3]),
      err(/does not fit input 'u' \(uint32\)/),
    );
    assert.throws(() => checkIntRange([], [5, 5]), err(/empty/));
    checkIntRange([vi('f', 1, [1]), vi('i', 3, [1])], [-128, 128]);
    assert.throws(
      () => synthesize(vi('s', 8, [1]), [1], new Rng(0), [0, 10]),
      err(/input 's' \(string\) cannot be synthesised; supply it from a file/),
    );
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
