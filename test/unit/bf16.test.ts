/**
 * bf16 at every opset from 7: below 13 (no bfloat16 type) the bit patterns are stored as uint16 and
 * decoded by arithmetic ops. Every finite pattern must come back bit-exact in onnxruntime-node and
 * onnxruntime-web (which `verify` uses); the reference is the definition of bfloat16 (the top half
 * of a float32's bits), not our decoder.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { bf16Edit } from '../../src/core/formats/onnx/encode';
import { writeOnnx } from '../../src/core/formats/onnx/writer';
import { compressFile } from '../../src/node/compress';
import { FileSource } from '../../src/node/fileSource';
import { loadOrtWeb } from '../../src/node/verify/ortWeb';
import {
  DT,
  encodeModel,
  graph,
  mulberry32,
  node,
  tensor,
  valueInfo,
  weights,
} from '../fixtures/onnxBuilder';
import { distFile, openModel } from './helpers';
import { loadOrt } from './compressZoo.test';

const root = mkdtempSync(join(tmpdir(), 'model-lens-bf16-'));
after(() => rmSync(root, { recursive: true, force: true }));
const ort = loadOrt();
const ortWeb = loadOrtWeb(distFile('ort'), 1).ort;

/** Patterns whose exponent field is not all ones (Inf and NaN are not weights): 65536 − 2·128. */
const FINITE = Uint16Array.from({ length: 65536 }, (_, i) => i).filter(
  (b) => (b & 0x7f80) !== 0x7f80,
);

/** A model whose output is its weight W (Identity), at `opset`. */
function identityModel(count: number, opset: number): Uint8Array {
  return encodeModel({
    irVersion: 7,
    opsets: { '': opset },
    graph: graph({
      name: 'w',
      nodes: [node('Identity', ['W'], ['y'])],
      outputs: [valueInfo('y', DT.FLOAT, [count])],
      initializers: [tensor('W', DT.FLOAT, [count], new Float32Array(count))],
    }),
  });
}

/** The model with W replaced by `bf16Edit` of `bits`, as bytes. */
function withBf16(file: string, bits: Uint16Array, opset: number): Uint8Array {
  const o = openModel(file);
  const source = new FileSource(file);
  try {
    const chunks: Uint8Array[] = [];
    writeOnnx(
      source,
      {
        edits: [
          bf16Edit(
            o.model.tensors.find((x) => x.name === 'W')!,
            bits,
            opset,
          ),
        ],
      },
      { write: (b) => chunks.push(b.slice()) },
    );
    return Buffer.concat(chunks);
  } finally {
    source.close();
    o.close();
  }
}

describe('bf16 storage at every opset from 7', () => {
  for (const opset of [7, 9, 11, 13]) {
    it(`decodes all ${FINITE.length} finite bfloat16 patterns bit-exactly in onnxruntime-node and -web, opset ${opset}`, async () => {
      const file = join(root, `all-${opset}.onnx`);
      writeFileSync(file, identityModel(FINITE.length, opset));
      const bytes = withBf16(file, FINITE, opset);
      for (const [runtime, create] of [
        ['node', () => ort.InferenceSession.create(bytes)],
        ['web', () => ortWeb.InferenceSession.create(bytes)],
      ] as const) {
        const s = await create();
        try {
          const y = (await s.run({})).y.data as Float32Array;
          const got = new Uint32Array(y.buffer, y.byteOffset, y.length);
          const wrong = FINITE.filter((b, i) => got[i] !== b * 65536);
          assert.equal(
            wrong.length,
            0,
            `${runtime}: ${wrong.length} patterns decode wrongly, first 0x${wrong[0]?.toString(16)} → 0x${got[FINITE.indexOf(wrong[0])]?.toString(16)}`,
          );
        } finally {
          await s.release();
        }
      }
    });
  }

  it('stores uint16 below opset 13 and bfloat16 from 13, two bytes per weight either way', () => {
    const file = join(root, 'kinds.onnx');
    writeFileSync(file, identityModel(4, 7));
    const o = openModel(file);
    try {
      const t = o.model.tensors.find((x) => x.name === 'W')!;
      for (const [opset, dtype, ops] of [
        [11, DT.UINT16, 16],
        [13, DT.BFLOAT16, 1],
      ] as const) {
        const edit = bf16Edit(t, Uint16Array.of(0x3f80, 0x8000, 0x0001, 0xc2f7), opset);
        const stored = edit.initializers.filter((x) => x.data.length > 4);
        assert.deepEqual(
          stored.map((x) => [x.dtype, x.data.length]),
          [[dtype, 8]],
        );
        assert.equal(edit.nodes.length, ops, `opset ${opset}`);
      }
    } finally {
      o.close();
    }
  });

  it('compresses an opset-9 Gemm with bf16, output within bf16 rounding of the float model', async () => {
    const rng = mulberry32(13);
    const w = weights(rng, 32 * 16, 0.3);
    const b = weights(rng, 32, 0.1);
    const file = join(root, 'gemm9.onnx');
    writeFileSync(
      file,
      encodeModel({
        irVersion: 4,
        opsets: { '': 9 },
        graph: graph({
          name: 'gemm',
          nodes: [node('Gemm', ['x', 'W', 'B'], ['y'], { transB: { i: 1 } })],
          inputs: [valueInfo('x', DT.FLOAT, [2, 16])],
          outputs: [valueInfo('y', DT.FLOAT, [2, 32])],
          initializers: [tensor('W', DT.FLOAT, [32, 16], w), tensor('B', DT.FLOAT, [32], b)],
        }),
      }),
    );
    const { output, report } = compressFile(file, { methods: ['bf16'], options: {} });
    assert.deepEqual(report.tensors.map((t) => [t.name, t.method]).sort(), [
      ['B', 'bf16'],
      ['W', 'bf16'],
    ]);
    const x = new ort.Tensor('float32', weights(mulberry32(5), 32, 1), [2, 16]);
    const run = async (f: string) => {
      const s = await ort.InferenceSession.create(f);
      try {
        return (await s.run({ x })).y.data as Float32Array;
      } finally {
        await s.release();
      }
    };
    const [a, v] = [await run(file), await run(output)];
    // bf16 keeps 8 significant bits: each product is off by at most 2^-8 relative, so the output by 2^-8 of Σ|w·x| + |b|.
    const xs = x.data as Float32Array;
    let moved = 0;
    for (let r = 0; r < 2; r++) {
      for (let o = 0; o < 32; o++) {
        let bound = Math.abs(b[o]);
        for (let i = 0; i < 16; i++) bound += Math.abs(w[o * 16 + i] * xs[r * 16 + i]);
        const i = r * 32 + o;
        assert.ok(Math.abs(a[i] - v[i]) <= bound * 2 ** -8 + 1e-6, `y[${i}]: ${a[i]} vs ${v[i]}`);
        if (a[i] !== v[i]) moved++;
      }
    }
    assert.ok(
      moved > 48,
      `only ${moved} of 64 outputs moved: the variant should hold rounded weights`,
    );
  });
});
