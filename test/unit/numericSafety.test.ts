/**
 * Methods never break a model silently: the range rule (values a storage type cannot hold keep
 * their type), the scope rule (only compute ops' weights by default) and packed int4 for every
 * weight shape at every opset, run in onnxruntime-node and onnxruntime-web against our own
 * dequantization of the same codes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { int4Edit } from '../../src/core/formats/onnx/encode';
import { blockLayout, dequantizeLinear, quantizeBlockwise } from '../../src/core/compress/methods';
import type { CompressSpec } from '../../src/core/compress/spec';
import { writeOnnx } from '../../src/core/formats/onnx/writer';
import { compressFile } from '../../src/node/compress';
import { FileSource } from '../../src/node/fileSource';
import { loadOrtWeb } from '../../src/node/verify/ortWeb';
import {
  DT,
  encodeModel,
  type AttrValue,
  graph,
  mulberry32,
  node,
  tensor,
  valueInfo,
  weights,
} from '../fixtures/onnxBuilder';
import { GGML } from '../fixtures/gguf';
import { buildGguf, encode } from '../fixtures/ggufBuilder';
import { serializeSafetensors } from '../fixtures/safetensors';
import { distFile, openModel } from './helpers';
import { loadOrt } from './compressZoo.test';

const root = mkdtempSync(join(tmpdir(), 'model-lens-numeric-'));
after(() => rmSync(root, { recursive: true, force: true }));
const ortNode = loadOrt();
const ortWeb = loadOrtWeb(distFile('ort'), 1).ort;

/** A model whose output is the weight W itself (Identity), so a run reads back what the encoding decodes to. */
function identityModel(dims: number[], values: Float32Array, opset: number): Uint8Array {
  return encodeModel({
    irVersion: opset >= 21 ? 10 : 7,
    opsets: { '': opset },
    graph: graph({
      name: 'w',
      nodes: [node('Identity', ['W'], ['y'])],
      outputs: [valueInfo('y', DT.FLOAT, dims)],
      initializers: [tensor('W', DT.FLOAT, dims, values)],
    }),
  });
}

/** Runs a model without inputs in both runtimes and returns output y from each. */
async function runBoth(bytes: Uint8Array): Promise<{ node: Float32Array; web: Float32Array }> {
  const a = await ortNode.InferenceSession.create(bytes);
  const b = await ortWeb.InferenceSession.create(bytes);
  try {
    return {
      node: (await a.run({})).y.data as Float32Array,
      web: (await b.run({})).y.data as Float32Array,
    };
  } finally {
    await a.release();
    await b.release();
  }
}

/** The variant bytes after replacing W (holding `values`) by `int4Edit` of its codes in `view`, and what those decode to. */
function withInt4(
  file: string,
  values: Float32Array,
  view: { dims: number[]; outputAxis: number; inputAxis: number },
  blockSize: number,
  opset: number,
  halfScales = false,
): { bytes: Uint8Array; expected: Float32Array; stored: number; scaleBytes: number } {
  const o = openModel(file);
  const source = new FileSource(file);
  try {
    const t = o.model.tensors.find((x) => x.name === 'W')!;
    const q = quantizeBlockwise(values, view, { bits: 4, blockSize, halfScales });
    const edit = int4Edit(
      t,
      q.q as Int8Array,
      q.scale,
      view.dims,
      view.inputAxis,
      blockSize,
      opset,
      q.scaleHalf,
    );
    const chunks: Uint8Array[] = [];
    writeOnnx(
      source,
      { edits: [edit], ...(opset >= 21 ? { irVersion: 10 } : {}) },
      { write: (b) => chunks.push(b.slice()) },
    );
    const codes = edit.initializers.find((x) => x.dtype === DT.INT4 || x.dtype === DT.UINT8)!;
    const scales = edit.initializers.find(
      (x) => x.name.endsWith('::scale') || x.name.endsWith('::scale16'),
    )!;
    return {
      bytes: Buffer.concat(chunks),
      expected: dequantizeLinear(q, view),
      stored: codes.data.length,
      scaleBytes: scales.data.length,
    };
  } finally {
    source.close();
    o.close();
  }
}

describe('int4: packed nibbles with blockwise scales for every weight shape at every opset', () => {
  // [name, dims, consumer layout]: Conv rows of 45 (a short second block), depthwise rows of 9
  // (grouped three to a block), MatMul blocks down axis 0 with 6 columns, an odd count, Gemm transB rows.
  const shapes: [string, number[], { outputAxis: number; inputAxis: number }][] = [
    ['conv', [8, 5, 3, 3], { outputAxis: 0, inputAxis: 1 }],
    ['depthwise', [12, 1, 3, 3], { outputAxis: 0, inputAxis: 1 }],
    ['matmul', [40, 6], { outputAxis: 1, inputAxis: 0 }],
    ['odd', [33, 3], { outputAxis: 1, inputAxis: 0 }],
    ['gemm', [6, 64], { outputAxis: 0, inputAxis: 1 }],
    ['lstm', [1, 16, 40], { outputAxis: 1, inputAxis: 2 }],
    ['convtranspose', [40, 3, 2, 2], { outputAxis: 1, inputAxis: 0 }],
    ['gather', [50, 12], { outputAxis: 0, inputAxis: 1 }],
  ];
  for (const opset of [7, 9, 10, 11, 13, 21]) {
    it(`decodes in onnxruntime-node and -web exactly as dequantizeLinear does, opset ${opset}, float32 and float16 scales`, async () => {
      for (const [[name, dims, axes], half] of shapes.flatMap(
        (x) =>
          [
            [x, false],
            [x, true],
          ] as const,
      )) {
        const count = dims.reduce((a, d) => a * d, 1);
        const values = weights(mulberry32(dims.length * 100 + count), count, 0.5);
        // A few channels far larger than the rest: per-block scales keep the small ones.
        for (let i = 0; i < count; i += 7) values[i] *= 20;
        const file = join(root, `${name}-${opset}.onnx`);
        writeFileSync(file, identityModel(dims, values, opset));
        const view = blockLayout({ dims, ...axes });
        const { bytes, expected, stored, scaleBytes } = withInt4(
          file,
          values,
          view,
          32,
          opset,
          half,
        );
        assert.equal(
          stored,
          Math.ceil(count / 2),
          `${name}: two codes per byte, no padding stored`,
        );
        const blocks =
          (count / view.dims[view.inputAxis]) * Math.ceil(view.dims[view.inputAxis] / 32);
        assert.equal(
          scaleBytes,
          (half ? 2 : 4) * blocks,
          `${name}: one ${half ? 'float16' : 'float32'} scale per block`,
        );
        const got = await runBoth(bytes);
        assert.deepEqual(
          Array.from(got.node),
          Array.from(expected),
          `${name} at opset ${opset}: onnxruntime-node`,
        );
        assert.deepEqual(
          Array.from(got.web),
          Array.from(expected),
          `${name} at opset ${opset}: onnxruntime-web`,
        );
        // Blockwise error: every weight within half a step of its own block's scale, far below a per-tensor step.
        const peak = values.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
        const worst = expected.reduce((a, v, i) => Math.max(a, Math.abs(v - values[i])), 0);
        assert.ok(
          worst <= peak / 14 + 1e-6,
          `${name}: error ${worst} beyond half a step of the largest block`,
        );
      }
    });
  }

  it('blocks of 512 and 1024 decode in both runtimes at opset 21 (onnxruntime once gave zeros for 512)', async () => {
    for (const [blockSize, dims, axes] of [
      [512, [4, 1100], { outputAxis: 0, inputAxis: 1 }],
      [512, [1100, 3], { outputAxis: 1, inputAxis: 0 }],
      [1024, [2, 2048], { outputAxis: 0, inputAxis: 1 }],
    ] as const) {
      const count = dims[0] * dims[1];
      const values = weights(mulberry32(count), count, 0.5);
      const file = join(root, `big-block-${blockSize}-${dims.join('x')}.onnx`);
      writeFileSync(file, identityModel([...dims], values, 21));
      const { bytes, expected } = withInt4(
        file,
        values,
        { dims: [...dims], ...axes },
        blockSize,
        21,
      );
      const got = await runBoth(bytes);
      assert.deepEqual(
        Array.from(got.node),
        Array.from(expected),
        `block ${blockSize} [${dims}]: onnxruntime-node`,
      );
      assert.deepEqual(
        Array.from(got.web),
        Array.from(expected),
        `block ${blockSize} [${dims}]: onnxruntime-web`,
      );
    }
  });

  it('DequantizeLinear(axis 0) → MatMul, which onnxruntime fuses into MatMulNBits, computes x·W of the decoded weights', async () => {
    for (const [k, n, blockSize] of [
      [64, 16, 32],
      [1100, 8, 512],
    ]) {
      const values = weights(mulberry32(k + n), k * n, 0.3);
      const file = join(root, `matmul-${k}x${n}.onnx`);
      writeFileSync(
        file,
        encodeModel({
          irVersion: 8,
          opsets: { '': 13 },
          graph: graph({
            name: 'mm',
            nodes: [node('MatMul', ['x', 'W'], ['y'])],
            inputs: [valueInfo('x', DT.FLOAT, [2, k])],
            outputs: [valueInfo('y', DT.FLOAT, [2, n])],
            initializers: [tensor('W', DT.FLOAT, [k, n], values)],
          }),
        }),
      );
      const out = run(
        file,
        { methods: ['int4'], options: { blockSize } },
        `matmul-${k}x${n}.int4.onnx`,
      ).output;
      const decoded = dequantizeLinear(
        quantizeBlockwise(
          values,
          { dims: [k, n], outputAxis: 1, inputAxis: 0 },
          { bits: 4, blockSize, halfScales: true },
        ),
        { dims: [k, n], outputAxis: 1, inputAxis: 0 },
      );
      const x = Float32Array.from({ length: 2 * k }, (_, i) => Math.sin(i * 0.37));
      const want = Array.from({ length: 2 * n }, (_, i) => {
        let acc = 0;
        for (let j = 0; j < k; j++) acc += x[Math.floor(i / n) * k + j] * decoded[j * n + (i % n)];
        return acc;
      });
      const scale = Math.max(...want.map(Math.abs));
      // MatMulNBits quantizes activations to int8 by default (accuracy level 4); level 1 keeps them float32.
      const faithful = { extra: { session: { qdq_matmulnbits_accuracy_level: '1' } } };
      for (const [label, rt] of [
        ['node', ortNode],
        ['web', ortWeb],
      ] as const) {
        const session = await (rt as typeof ortNode).InferenceSession.create(
          readFileSync(out),
          faithful,
        );
        const y = (
          await session.run({ x: new (rt as typeof ortNode).Tensor('float32', x, [2, k]) })
        ).y.data as Float32Array;
        await session.release();
        const worst = want.reduce((a, v, i) => Math.max(a, Math.abs(v - y[i])), 0);
        assert.ok(
          worst <= 1e-5 * scale * Math.sqrt(k),
          `${label}, [${k}, ${n}] block ${blockSize}: |Δy| up to ${worst} of ${scale}`,
        );
      }
    }
  });

  it('flattens Conv filters without joining short ones; leaves MatMul columns as they are', () => {
    assert.deepEqual(
      blockLayout({ dims: [12, 1, 3, 3], outputAxis: 0, inputAxis: 1 }).dims,
      [12, 9],
    );
    assert.deepEqual(
      blockLayout({ dims: [8, 5, 3, 3], outputAxis: 0, inputAxis: 1 }).dims,
      [8, 45],
    );
    assert.deepEqual(
      blockLayout({ dims: [32, 1, 5, 5], outputAxis: 0, inputAxis: 1 }).dims,
      [32, 25],
    );
    assert.deepEqual(blockLayout({ dims: [40, 6], outputAxis: 1, inputAxis: 0 }).dims, [40, 6]);
    assert.deepEqual(
      blockLayout({ dims: [6, 64, 3, 3], outputAxis: 1, inputAxis: 0 }).dims,
      [6, 64, 3, 3],
    );
  });
});

/** Conv (weight, bias) → BatchNormalization → Mul by a constant: one of each kind of tensor. */
function convBnModel(
  dir: string,
  opset: number,
  {
    peak = 1,
    variance = 1,
    tail = undefined as { op: string; attrs?: Record<string, AttrValue> } | undefined,
  } = {},
): string {
  const rng = mulberry32(7);
  const w = weights(rng, 16 * 8 * 3 * 3, 0.2);
  w[5] = peak;
  const ch = 16;
  const file = join(dir, `convbn-${opset}-${peak}-${variance}-${tail?.op ?? ''}.onnx`);
  writeFileSync(
    file,
    encodeModel({
      irVersion: 7,
      opsets: { '': opset },
      graph: graph({
        name: 'convbn',
        nodes: [
          node('Conv', ['x', 'W', 'B'], ['c'], { pads: { ints: [1, 1, 1, 1] } }),
          node('BatchNormalization', ['c', 'gamma', 'beta', 'mean', 'var'], ['n']),
          node('Mul', ['n', 'k'], [tail ? 'm' : 'y']),
          ...(tail ? [node(tail.op, ['m'], ['y'], tail.attrs ?? {})] : []),
        ],
        inputs: [valueInfo('x', DT.FLOAT, [1, 8, 6, 6])],
        outputs: [valueInfo('y', DT.FLOAT, [1, ch, 6, 6])],
        initializers: [
          tensor('W', DT.FLOAT, [ch, 8, 3, 3], w),
          tensor('B', DT.FLOAT, [ch], weights(rng, ch, 0.1)),
          tensor(
            'gamma',
            DT.FLOAT,
            [ch],
            weights(rng, ch, 0.1, 0).map((v) => 1 + v),
          ),
          tensor('beta', DT.FLOAT, [ch], weights(rng, ch, 0.1)),
          tensor('mean', DT.FLOAT, [ch], weights(rng, ch, 0.1)),
          tensor(
            'var',
            DT.FLOAT,
            [ch],
            Float32Array.from({ length: ch }, (_, i) => (i === 3 ? variance : 1 + i / 10)),
          ),
          tensor(
            'k',
            DT.FLOAT,
            [1, ch, 1, 1],
            weights(rng, ch, 0.5, 0).map((v) => 1 + v),
          ),
        ],
      }),
    }),
  );
  return file;
}

function run(file: string, spec: CompressSpec, name: string) {
  return compressFile(file, spec, { output: join(root, name), force: true });
}

describe('the scope rule: by default only compute ops’ weights', () => {
  it('fp16 converts Conv weight and bias, leaves BatchNormalization statistics and Mul constants, grouped with the reason', () => {
    const file = convBnModel(root, 13, { variance: 3 });
    const r = run(file, { methods: ['fp16'], options: {} }, 'scope-fp16.onnx').report;
    assert.deepEqual(r.tensors.map((t) => t.name).sort(), ['B', 'W']);
    const left = r.skipped.filter((s) => s.left);
    assert.deepEqual(left.map((s) => s.name).sort(), ['beta', 'gamma', 'k', 'mean', 'var']);
    for (const s of left.filter((x) => x.name !== 'k'))
      assert.match(
        s.reason,
        /^BatchNormalization statistics: normalisation statistics change every output \(--include to convert\)$/,
      );
    assert.match(left.find((s) => s.name === 'k')!.reason, /^constants of Mul/);
  });

  it('int8 takes the Conv weight only, lists the bias; --include widens by op type, name or all', () => {
    const file = convBnModel(root, 13);
    const r = run(file, { methods: ['int8'], options: {} }, 'scope-int8.onnx').report;
    assert.deepEqual(
      r.tensors.map((t) => t.name),
      ['W'],
    );
    assert.match(r.skipped.find((s) => s.name === 'B')!.reason, /^biases of Conv/);
    const byOp = run(
      file,
      { methods: ['fp16'], options: { include: ['BatchNormalization'] } },
      'scope-op.onnx',
    ).report;
    assert.deepEqual(byOp.tensors.map((t) => t.name).sort(), [
      'B',
      'W',
      'beta',
      'gamma',
      'mean',
      'var',
    ]);
    const byName = run(
      file,
      { methods: ['fp16'], options: { include: ['k'] } },
      'scope-name.onnx',
    ).report;
    assert.deepEqual(byName.tensors.map((t) => t.name).sort(), ['B', 'W', 'k']);
    const typo = run(
      file,
      { methods: ['fp16'], options: { include: ['BatchNorm'] } },
      'scope-typo.onnx',
    ).report;
    assert.deepEqual(typo.warnings, [
      '--include BatchNorm matches no tensor and no op that reads one',
    ]);
    const all = run(
      file,
      { methods: ['fp16'], options: { include: ['all'] } },
      'scope-all.onnx',
    ).report;
    assert.equal(all.tensors.length, 7);
    assert.equal(all.skipped.filter((s) => s.left).length, 0);
  });

  for (const method of ['int4', 'fixed', 'sign', 'cluster', 'prune', 'bf16'] as const) {
    it(`${method} leaves the same tensors alone`, () => {
      const file = convBnModel(root, 13);
      const r = run(file, { methods: [method], options: {} }, `scope-${method}.onnx`).report;
      assert.deepEqual(r.tensors.map((t) => t.name).sort(), method === 'bf16' ? ['B', 'W'] : ['W']);
      assert.deepEqual(
        r.skipped
          .filter((s) => s.left)
          .map((s) => s.name)
          .sort(),
        method === 'bf16'
          ? ['beta', 'gamma', 'k', 'mean', 'var']
          : ['B', 'beta', 'gamma', 'k', 'mean', 'var'],
      );
    });
  }
});

describe('the range rule: nothing is clipped unless asked', () => {
  it('fp16 keeps a weight with values beyond ±65504 in float32 and says why; --allow-clip clips it', async () => {
    const file = convBnModel(root, 13, { peak: 1e5, variance: 9.79e7 });
    const r = run(file, { methods: ['fp16'], options: { include: ['all'] } }, 'range-fp16.onnx');
    assert.equal(
      r.report.skipped.find((s) => s.name === 'W')!.reason,
      "values up to 1.00e+5 exceed fp16's ±65504; kept float32 (--allow-clip to clip)",
    );
    assert.equal(
      r.report.skipped.find((s) => s.name === 'var')!.reason,
      "values up to 9.79e+7 exceed fp16's ±65504; kept float32 (--allow-clip to clip)",
    );
    assert.ok(!r.report.tensors.some((t) => t.name === 'W' || t.name === 'var'));
    // The variant holds W and var byte for byte as the original does.
    const o = openModel(r.output);
    try {
      const kept = o.model.tensors.filter((t) => t.name === 'W' || t.name === 'var');
      assert.deepEqual(
        kept.map((t) => t.dtype),
        [DT.FLOAT, DT.FLOAT],
      );
    } finally {
      o.close();
    }
    const clipped = run(
      file,
      { methods: ['fp16'], options: { include: ['all'], allowClip: true } },
      'range-clip.onnx',
    ).report;
    assert.match(
      clipped.tensors.find((t) => t.name === 'var')!.note ?? '',
      /^1 values beyond the fp16 range clipped \(--allow-clip\)/,
    );
  });

  it('fp16 rounds 65519 to 65504 (representable after rounding) but keeps 65520, which rounds to infinity', () => {
    const near = run(
      convBnModel(root, 13, { peak: 65519 }),
      { methods: ['fp16'], options: {} },
      'range-near.onnx',
    ).report;
    assert.ok(near.tensors.some((t) => t.name === 'W'));
    const over = run(
      convBnModel(root, 13, { peak: 65520 }),
      { methods: ['fp16'], options: {} },
      'range-over.onnx',
    ).report;
    assert.match(over.skipped.find((s) => s.name === 'W')!.reason, /exceed fp16's ±65504/);
  });

  it('bf16 keeps values that round past its largest finite value', () => {
    const r = run(
      convBnModel(root, 13, { peak: 3.4e38 }),
      { methods: ['bf16'], options: {} },
      'range-bf16.onnx',
    ).report;
    assert.match(
      r.skipped.find((s) => s.name === 'W')!.reason,
      /exceed bf16's ±3.39e38; kept float32/,
    );
    const fine = run(
      convBnModel(root, 13, { peak: 3.3e38 }),
      { methods: ['bf16'], options: {} },
      'range-bf16-fine.onnx',
    ).report;
    assert.ok(fine.tensors.some((t) => t.name === 'W'));
  });
});

describe('the range rule in safetensors', () => {
  it('fp16 keeps a tensor with values beyond ±65504 as F32 and converts the rest', () => {
    const big = weights(mulberry32(9), 64 * 32, 0.1);
    big[10] = -7e4;
    const file = join(root, 'range.safetensors');
    const f32 = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    writeFileSync(
      file,
      serializeSafetensors([
        { name: 'big.weight', dtype: 'F32', shape: [64, 32], data: f32(big) },
        {
          name: 'fine.weight',
          dtype: 'F32',
          shape: [64, 32],
          data: f32(weights(mulberry32(10), 64 * 32, 0.1)),
        },
      ]),
    );
    const r = run(file, { methods: ['fp16'], options: {} }, 'range.fp16.safetensors');
    assert.deepEqual(
      r.report.tensors.map((t) => t.name),
      ['fine.weight'],
    );
    assert.equal(
      r.report.skipped.find((x) => x.name === 'big.weight')!.reason,
      "values up to 7.00e+4 exceed fp16's ±65504; kept float32 (--allow-clip to clip)",
    );
    const o = openModel(r.output);
    try {
      assert.deepEqual(
        o.model.tensors.map((t) => [t.name, t.dtype]),
        [
          ['big.weight', DT.FLOAT],
          ['fine.weight', DT.FLOAT16],
        ],
      );
    } finally {
      o.close();
    }
  });
});

describe('the range rule in GGUF', () => {
  it('F16 keeps an F32 tensor whose values overflow it, converts the others', () => {
    const big = weights(mulberry32(12), 64 * 8, 0.2);
    big[3] = 1e6;
    const file = join(root, 'range.gguf');
    writeFileSync(
      file,
      buildGguf({
        version: 3,
        kvs: [['general.architecture', { t: 'string', v: 'llama' }]],
        tensors: [
          { name: 'big.weight', dims: [64, 8], type: GGML.F32, data: encode(GGML.F32, big).data },
          {
            name: 'fine.weight',
            dims: [64, 8],
            type: GGML.F32,
            data: encode(GGML.F32, weights(mulberry32(13), 64 * 8, 0.2)).data,
          },
        ],
      }),
    );
    const r = run(file, { methods: ['fp16'], options: {} }, 'range.f16.gguf');
    assert.deepEqual(
      r.report.tensors.map((t) => t.name),
      ['fine.weight'],
    );
    assert.equal(
      r.report.skipped.find((x) => x.name === 'big.weight')!.reason,
      "values up to 1.00e+6 exceed fp16's ±65504; kept float32 (--allow-clip to clip)",
    );
  });
});

describe('int4 raises the opset to 21 only when every op means the same there', () => {
  const spec: CompressSpec = { methods: ['int4'], options: {} };
  const x = Float32Array.from({ length: 8 * 36 }, (_, i) => Math.sin(i));

  /** The variant's opset, its op counts, and the output cosine against the original's on one input. */
  async function check(
    file: string,
    name: string,
  ): Promise<{ opset: number; ops: Record<string, number>; cosine: number }> {
    const r = run(file, spec, name);
    const o = openModel(r.output);
    const opset = o.model.metadata.opsets.find((v) => v.domain === '')!.version;
    const ops = o.model.opCounts;
    o.close();
    const outs: Float32Array[] = [];
    for (const f of [file, r.output]) {
      const session = await ortNode.InferenceSession.create(f);
      outs.push(
        (await session.run({ x: new ortNode.Tensor('float32', x, [1, 8, 6, 6]) })).y
          .data as Float32Array,
      );
      await session.release();
    }
    let dot = 0;
    let na = 0;
    let nb = 0;
    outs[0].forEach((v, i) => {
      dot += v * outs[1][i];
      na += v * v;
      nb += outs[1][i] ** 2;
    });
    return { opset, ops, cosine: dot / Math.sqrt(na * nb) };
  }

  it('Conv, BatchNormalization and Mul at opset 13: raised, one DequantizeLinear on INT4', async () => {
    const r = await check(convBnModel(root, 13), 'raise-13.onnx');
    assert.equal(r.opset, 21);
    assert.equal(r.ops.DequantizeLinear, 1);
    assert.equal(r.ops.Concat, undefined);
    assert.ok(r.cosine > 0.99, `cosine ${r.cosine}`);
  });

  it('keeps opset 11 with a Softmax (its meaning changed at 13) and opset 9 with a Clip (min/max became inputs at 11): nibbles unpacked', async () => {
    for (const [opset, tail] of [
      [11, { op: 'Softmax', attrs: { axis: { i: 1 } } }],
      [9, { op: 'Clip', attrs: { min: { f: -1 }, max: { f: 1 } } }],
    ] as const) {
      const r = await check(convBnModel(root, opset, { tail }), `keep-${opset}.onnx`);
      assert.equal(r.opset, opset);
      assert.equal(r.ops.DequantizeLinear, undefined);
      assert.equal(r.ops.Concat, 1);
      assert.ok(r.cosine > 0.95, `opset ${opset}: cosine ${r.cosine}`);
    }
  });
});
