import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { readFloat32 } from '../../src/core/compress/tensors';
import { readModel } from '../../src/core/formats';
import { writeOnnx, type NewTensor, type RewritePlan } from '../../src/core/formats/onnx/writer';
import { MemorySource, type ExternalDataResolver } from '../../src/core/io/source';
import type { Model } from '../../src/core/model';
import { FolderResolver } from '../../src/node/fileSource';
import { FIXTURE_FILES } from '../fixtures/models';
import { encodeModel, graph, node, valueInfo } from '../fixtures/onnxBuilder';
import { loadOrt } from './compressZoo.test';
import { fixturePath } from './helpers';

function rewrite(
  bytes: Uint8Array,
  plan: (m: Model) => RewritePlan,
  external?: ExternalDataResolver,
): { model: Model; out: Uint8Array } {
  const source = new MemorySource(bytes, 'in.onnx');
  const chunks: Uint8Array[] = [];
  const model = readModel(source, 'in.onnx', external);
  const n = writeOnnx(source, plan(model), { write: (b) => chunks.push(b.slice()) });
  const out = Buffer.concat(chunks);
  assert.equal(out.length, n, 'reported length matches bytes written');
  return { model, out };
}

const f32 = (values: number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);

describe('ONNX wire-level writer', () => {
  it('reproduces every fixture byte for byte when nothing changes', () => {
    for (const file of FIXTURE_FILES) {
      const bytes = readFileSync(fixturePath(file));
      const resolver = new FolderResolver(fixturePath(file));
      try {
        assert.ok(
          Buffer.from(rewrite(bytes, () => ({ edits: [] }), resolver).out).equals(bytes),
          file,
        );
        assert.ok(
          Buffer.from(rewrite(bytes, () => ({ edits: [], outputs: [] }), resolver).out).equals(
            bytes,
          ),
          `${file} with no extra outputs`,
        );
      } finally {
        resolver.close();
      }
    }
  });

  it('adds intermediate values as graph outputs that onnxruntime returns', async () => {
    const bytes = readFileSync(fixturePath('mlp.onnx'));
    const { model, out } = rewrite(bytes, () => ({
      edits: [],
      outputs: [
        { name: 'relu1', dtype: 1 },
        { name: 'fc2.mm', dtype: 1 },
      ],
    }));
    const after = readModel(new MemorySource(out), 'out.onnx');
    assert.deepEqual(after.outputs, [
      ...model.outputs,
      { name: 'relu1', dtype: 1, shape: null },
      { name: 'fc2.mm', dtype: 1, shape: null },
    ]);
    assert.deepEqual(
      after.tensors.map((t) => t.name),
      model.tensors.map((t) => t.name),
    );
    const ort = loadOrt();
    const x = Float32Array.from({ length: 2 * 64 }, (_, i) => Math.sin(i));
    const run = async (b: Uint8Array, fetch: string[]) => {
      const s = await ort.InferenceSession.create(b);
      try {
        return await s.run({ input: new ort.Tensor('float32', x, [2, 64]) }, fetch);
      } finally {
        await s.release();
      }
    };
    const tapped = await run(out, ['logits', 'relu1', 'fc2.mm']);
    assert.deepEqual(tapped.relu1.dims, [2, 128]);
    assert.deepEqual(tapped['fc2.mm'].dims, [2, 64]);
    assert.deepEqual(
      Array.from(tapped.logits.data as Float32Array),
      Array.from((await run(bytes, ['logits'])).logits.data as Float32Array),
    );
    // relu1 is what fc2 multiplies: relu1 · fc2.weight reproduces fc2.mm.
    const w = readFloat32(
      new MemorySource(out),
      after.tensors.find((t) => t.name === 'fc2.weight')!,
      () => assert.fail('no external data'),
    );
    const h = tapped.relu1.data as Float32Array;
    const mm = tapped['fc2.mm'].data as Float32Array;
    for (let r = 0; r < 2; r++)
      for (let o = 0; o < 64; o++) {
        let s = 0;
        for (let i = 0; i < 128; i++) s += h[r * 128 + i] * w[i * 64 + o];
        assert.ok(
          Math.abs(s - mm[r * 64 + o]) < 1e-4,
          `fc2.mm[${r},${o}] = ${mm[r * 64 + o]}, relu1 · fc2.weight = ${s}`,
        );
      }
  });

  it('replaces an initializer with new tensors and a node, keeping everything else', () => {
    const bytes = readFileSync(fixturePath('mlp.onnx'));
    const { model, out } = rewrite(bytes, (m) => {
      const t = m.tensors.find((x) => x.name === 'fc_known.bias')!;
      const half: NewTensor = {
        name: 'fc_known.bias.half',
        dtype: 10,
        dims: [10],
        data: new Uint8Array(20),
      };
      return {
        edits: [
          {
            tensor: t,
            initializers: [half],
            nodes: [
              {
                name: 'cast_bias',
                op: 'Cast',
                inputs: ['fc_known.bias.half'],
                outputs: ['fc_known.bias'],
                attributes: [{ name: 'to', i: 1 }],
              },
            ],
          },
        ],
        opsets: [
          { domain: '', version: 13 },
          { domain: 'com.example', version: 1 },
        ],
      };
    });
    const after = readModel(new MemorySource(out), 'out.onnx');
    assert.deepEqual(after.metadata.properties, model.metadata.properties);
    assert.equal(after.metadata.docString, model.metadata.docString);
    assert.deepEqual(after.metadata.opsets, [
      { domain: '', version: 13 },
      { domain: 'com.example', version: 1 },
    ]);
    assert.ok(!after.tensors.some((t) => t.name === 'fc_known.bias'));
    const half = after.tensors.find((t) => t.name === 'fc_known.bias.half');
    assert.ok(half);
    assert.equal(half.dtype, 10);
    assert.equal(after.nodeCount, model.nodeCount + 1);
    assert.equal(after.opCounts.Cast, 1);
    assert.ok(after.layers.some((l) => l.name === 'cast_bias' && l.op === 'Cast'));
    assert.equal(after.tensors.length, model.tensors.length);
  });

  it("raises an opset import spelled 'ai.onnx' instead of adding a second default-domain import", () => {
    const bytes = encodeModel({
      irVersion: 8,
      opsets: { 'ai.onnx': 17 },
      graph: graph({
        name: 'g',
        nodes: [node('Relu', ['x'], ['y'])],
        inputs: [valueInfo('x', 1, [2])],
        outputs: [valueInfo('y', 1, [2])],
      }),
    });
    const { out } = rewrite(bytes, () => ({ edits: [], opsets: [{ domain: '', version: 21 }] }));
    assert.deepEqual(readModel(new MemorySource(out), 'out.onnx').metadata.opsets, [
      { domain: 'ai.onnx', version: 21 },
    ]);
  });

  it('edits Constant weights inside If branches in their own subgraph', () => {
    const bytes = readFileSync(fixturePath('subgraph_if.onnx'));
    const { model, out } = rewrite(bytes, (m) => ({
      edits: m.tensors
        .filter((t) => t.origin === 'Constant' && t.scope !== '')
        .map((t) => ({
          tensor: t,
          initializers: [
            {
              name: `${t.name}.new`,
              dtype: 1,
              dims: t.dims,
              data: f32(new Array(t.count).fill(0.5)),
            },
          ],
          nodes: [
            { name: `${t.name}.id`, op: 'Identity', inputs: [`${t.name}.new`], outputs: [t.name] },
          ],
        })),
    }));
    const after = readModel(new MemorySource(out), 'out.onnx');
    const moved = model.tensors.filter((t) => t.origin === 'Constant' && t.scope !== '');
    assert.ok(moved.length >= 2);
    for (const t of moved) {
      const n = after.tensors.find((x) => x.name === `${t.name}.new`);
      assert.ok(n, t.name);
      assert.equal(n.scope, t.scope, 'stays in the branch that used it');
      assert.equal(n.origin, 'initializer');
    }
    assert.equal(after.opCounts.Constant ?? 0, (model.opCounts.Constant ?? 0) - moved.length);
  });
});
