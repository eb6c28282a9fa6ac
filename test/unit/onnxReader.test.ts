import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InvalidModelError } from '../../src/core/errors';
import { readModel } from '../../src/core/formats';
import { MemorySource } from '../../src/core/io/source';
import { computeTensorStats } from '../../src/core/stats/compute';
import { DEFAULT_STATS_OPTIONS } from '../../src/core/stats/types';
import { dtypeCases, KNOWN_BIAS, KNOWN_WEIGHT } from '../fixtures/models';
import { DT, encodeModel, graph, node, tensor, valueInfo } from '../fixtures/onnxBuilder';
import { fixturePath, openModel } from './helpers';

describe('ONNX reader: structure', () => {
  it('reads metadata, inputs, tensors and layers of the MLP', () => {
    const m = openModel(fixturePath('mlp.onnx'));
    try {
      const { model } = m;
      assert.equal(model.format, 'onnx');
      assert.equal(model.metadata.irVersion, 8);
      assert.deepEqual(model.metadata.opsets, [{ domain: '', version: 13 }]);
      assert.equal(model.metadata.producer, 'model-lens-fixtures');
      assert.deepEqual(model.metadata.properties, [{ key: 'author', value: 'model-lens tests' }]);
      assert.deepEqual(model.inputs[0], { name: 'input', dtype: 1, shape: ['batch', 64] });
      assert.equal(model.nodeCount, 8);
      assert.equal(model.opCounts.MatMul, 3);
      const names = model.tensors.map((t) => t.name);
      assert.deepEqual(names, [
        'fc1.weight',
        'fc1.bias',
        'fc2.weight',
        'fc2.bias',
        'fc_known.weight',
        'fc_known.bias',
      ]);
      const fc1 = model.layers.find((l) => l.name === 'fc1/MatMul');
      assert.ok(fc1);
      assert.equal(fc1.op, 'MatMul');
      assert.deepEqual(
        fc1.tensors.map((i) => model.tensors[i].name),
        ['fc1.weight'],
      );
      assert.equal(model.layers.length, 6, 'Relu nodes carry no weights');
    } finally {
      m.close();
    }
  });

  it('names Constant-node weights by their output and links their consumers', () => {
    const m = openModel(fixturePath('constants.onnx'));
    try {
      assert.equal(m.model.tensors.length > 0, true);
      for (const t of m.model.tensors) assert.equal(t.origin, 'Constant');
      const used = new Set(m.model.layers.flatMap((l) => l.tensors));
      assert.equal(
        used.size,
        m.model.tensors.length,
        'every Constant weight is used by some layer',
      );
      assert.ok(m.model.layers.some((l) => l.op === 'MatMul'));
    } finally {
      m.close();
    }
  });

  it('finds weights inside If branches and resolves outer-scope initializers', () => {
    const m = openModel(fixturePath('subgraph_if.onnx'));
    try {
      const scopes = new Set(m.model.tensors.map((t) => t.scope));
      assert.ok(
        [...scopes].some((s) => s.endsWith('then_branch')),
        `scopes: ${[...scopes].join(', ')}`,
      );
      assert.ok([...scopes].some((s) => s.endsWith('else_branch')));
      const outer = m.model.tensors.findIndex((t) => t.scope === '' && t.origin === 'initializer');
      assert.ok(outer >= 0, 'main graph has an initializer');
      const user = m.model.layers.find((l) => l.scope !== '' && l.tensors.includes(outer));
      assert.ok(user, 'a node inside a branch uses the outer initializer');
    } finally {
      m.close();
    }
  });

  it('reads weights of model-local functions and sparse initializers', () => {
    const f = openModel(fixturePath('function.onnx'));
    try {
      assert.ok(f.model.tensors.some((t) => t.scope.startsWith('function ')));
    } finally {
      f.close();
    }
    const s = openModel(fixturePath('sparse.onnx'));
    try {
      const t = s.model.tensors.find((x) => x.origin === 'sparse_initializer');
      assert.ok(t);
      assert.equal(t.storage.kind, 'sparse');
      const st = s.stats(t.name);
      assert.equal(st.count, t.count);
      assert.ok(st.zeros >= t.count - (t.storage.kind === 'sparse' ? t.storage.valueCount : 0));
      assert.equal(
        st.histogram.counts.reduce((a, b) => a + b, 0),
        st.count - st.nan - st.inf,
      );
    } finally {
      s.close();
    }
  });

  it('keeps the wiring: value names, nodes that read no tensor, integer lists and small integer tensors', () => {
    const values = Array.from({ length: 65 }, (_, i) => i);
    const cases = [
      tensor('raw64', DT.INT64, [2], [-1, 3]),
      tensor('typed64', DT.INT64, [2], [5, -2], { encoding: 'typed' }),
      tensor('raw32', DT.INT32, [3], [-7, 0, 7]),
      tensor('typed32', DT.INT32, [1], [-9], { encoding: 'typed' }),
      tensor('long', DT.INT64, [65], values),
    ];
    const bytes = encodeModel({
      irVersion: 8,
      opsets: { '': 13 },
      graph: graph({
        name: 'wiring',
        nodes: [
          node('Constant', [], ['ints'], { value_ints: { ints: [4, -4] } }, { name: 'c_ints' }),
          node('Constant', [], ['int'], { value_int: { i: -3 } }, { name: 'c_int' }),
          node('Transpose', ['w'], ['wt'], { perm: { ints: [1, 0] } }, { name: 't' }),
          node('Relu', ['wt'], ['y'], {}, { name: 'relu' }),
          ...cases.map((c) =>
            node('Identity', [c.name!], [`${c.name}.out`], {}, { name: `id_${c.name}` }),
          ),
        ],
        inputs: [],
        outputs: [valueInfo('y', DT.FLOAT, [2, 2])],
        initializers: [tensor('w', DT.FLOAT, [2, 2], [1, 2, 3, 4]), ...cases],
      }),
    });
    const model = readModel(new MemorySource(bytes), 'wiring.onnx');
    const t = model.layers.find((l) => l.name === 't');
    assert.deepEqual([t?.inputs, t?.outputs, t?.lists], [['w'], ['wt'], { perm: [1, 0] }]);
    assert.deepEqual(
      model.otherNodes?.map((n) => [n.name, n.inputs, n.outputs, n.tensors]),
      [
        ['c_ints', [], ['ints'], []],
        ['c_int', [], ['int'], []],
        ['relu', ['wt'], ['y'], []],
      ],
    );
    const valuesOf = Object.fromEntries(model.tensors.map((x) => [x.name, x.values]));
    assert.deepEqual(valuesOf, {
      ints: [4, -4],
      int: [-3],
      w: undefined,
      raw64: [-1, 3],
      typed64: [5, -2],
      raw32: [-7, 0, 7],
      typed32: [-9],
      long: undefined,
    });
  });
});

describe('statistics', () => {
  it('are exact on known weights (raw_data and float_data)', () => {
    const m = openModel(fixturePath('mlp.onnx'));
    try {
      const s = m.stats(KNOWN_WEIGHT.name);
      assert.equal(s.count, KNOWN_WEIGHT.count);
      assert.equal(s.min, KNOWN_WEIGHT.min);
      assert.equal(s.max, KNOWN_WEIGHT.max);
      assert.ok(Math.abs(s.mean! - KNOWN_WEIGHT.mean) < 1e-12);
      assert.ok(Math.abs(s.std! - KNOWN_WEIGHT.std) < 1e-12);
      assert.equal(s.zeros, KNOWN_WEIGHT.zeros);
      // 640 evenly spaced values over 256 bins: 2 or 3 per bin, all counted.
      assert.equal(
        s.histogram.counts.reduce((a, b) => a + b, 0),
        640,
      );
      assert.ok(s.histogram.counts.every((c) => c === 2 || c === 3));
      assert.ok(s.p50! > 4.9 && s.p50! < 5.1);
      assert.ok(
        Math.abs(s.entropy - 8) < 0.05,
        `uniform over 256 bins is ~8 bits, got ${s.entropy}`,
      );
      const b = m.stats('fc_known.bias');
      assert.equal(b.min, KNOWN_BIAS[0]);
      assert.equal(b.max, KNOWN_BIAS[9]);
      assert.equal(b.zeros, 1);
    } finally {
      m.close();
    }
  });

  it('decode every dtype the same from raw_data and typed fields', () => {
    const m = openModel(fixturePath('dtypes.onnx'));
    try {
      for (const c of dtypeCases()) {
        const s = m.stats(c.name);
        assert.equal(
          s.count,
          c.dims.reduce((a, b) => a * b, 1),
          c.name,
        );
        if (c.encoding === 'typed') {
          const raw = m.stats(c.name.replace(/_typed$/, '_raw'));
          assert.deepEqual(
            { ...s, histogram: Array.from(s.histogram.counts) },
            { ...raw, histogram: Array.from(raw.histogram.counts) },
            c.name,
          );
        }
      }
      const special = m.stats('float32_special');
      assert.equal(special.nan, 2);
      assert.equal(special.inf, 2);
      assert.equal(special.max, 3.4028234663852886e38);
      const nan = m.stats('float32_allnan');
      assert.equal(nan.min, null);
      assert.equal(nan.nan, 4);
      assert.deepEqual([m.stats('int8_raw').min, m.stats('int8_raw').max], [-128, 127]);
      assert.deepEqual([m.stats('int4_raw').min, m.stats('int4_raw').max], [-8, 7]);
      assert.deepEqual(
        [
          m.stats('float8e4m3fn_raw').min,
          m.stats('float8e4m3fn_raw').max,
          m.stats('float8e4m3fn_raw').nan,
        ],
        [-448, 448, 2],
      );
      assert.deepEqual([m.stats('float8e5m2_raw').max, m.stats('float8e5m2_raw').inf], [57344, 2]);
      assert.deepEqual([m.stats('float4e2m1_raw').min, m.stats('float4e2m1_raw').max], [-6, 6]);
      assert.equal(m.stats('bool_raw').zeros, 10);
      assert.equal(m.stats('float32_empty').count, 0);
      assert.equal(m.stats('float32_scalar').mean, -7.5);
    } finally {
      m.close();
    }
  });

  it('read external data next to the model', () => {
    const m = openModel(fixturePath('external/model.onnx'));
    try {
      const ext = m.model.tensors.filter((t) => t.storage.kind === 'external');
      assert.ok(ext.length > 0);
      for (const t of ext) assert.equal(m.stats(t.name).count, t.count);
    } finally {
      m.close();
    }
  });
});

/** A one-initializer model whose data is external at `location`. */
function externalModel(location: string, offset = 0, length = 16): Uint8Array {
  const t = tensor('w', DT.FLOAT, [4], [0, 0, 0, 0]);
  t.rawData = undefined;
  t.dataLocation = 1;
  t.externalData = [
    { key: 'location', value: location },
    { key: 'offset', value: String(offset) },
    { key: 'length', value: String(length) },
  ];
  return encodeModel({
    irVersion: 8,
    opsets: { '': 13 },
    graph: graph({
      name: 'g',
      nodes: [node('Identity', ['w'], ['y'])],
      inputs: [],
      outputs: [valueInfo('y', DT.FLOAT, [4])],
      initializers: [t],
    }),
  });
}

describe('hostile files', () => {
  const refuses = (bytes: Uint8Array, pattern: RegExp, setup?: (dir: string) => void) => {
    const dir = mkdtempSync(join(tmpdir(), 'model-lens-hostile-'));
    mkdirSync(join(dir, 'm'));
    setup?.(dir);
    writeFileSync(join(dir, 'm', 'model.onnx'), bytes);
    try {
      assert.throws(
        () => openModel(join(dir, 'm', 'model.onnx')),
        (err: Error) => err instanceof InvalidModelError && pattern.test(err.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('refuse external data outside the model folder', () => {
    refuses(externalModel('/etc/passwd'), /absolute/);
    refuses(externalModel('../secret.bin'), /leaves the model's folder/, (d) =>
      writeFileSync(join(d, 'secret.bin'), new Uint8Array(16)),
    );
    refuses(externalModel('link.bin'), /outside the model's folder/, (d) => {
      writeFileSync(join(d, 'secret.bin'), new Uint8Array(16));
      symlinkSync(join(d, 'secret.bin'), join(d, 'm', 'link.bin'));
    });
    refuses(externalModel('missing.bin'), /not found/);
    refuses(externalModel('small.bin', 8, 16), /past the end/, (d) =>
      writeFileSync(join(d, 'm', 'small.bin'), new Uint8Array(16)),
    );
  });

  it('give only InvalidModelError for every truncation of a model', () => {
    const bytes = readFileSync(fixturePath('subgraph_if.onnx'));
    let refused = 0;
    for (let cut = 0; cut < bytes.length; cut++) {
      const source = new MemorySource(bytes.subarray(0, cut), 'cut.onnx');
      try {
        const model = readModel(source, 'cut.onnx');
        for (const ref of model.tensors) {
          try {
            computeTensorStats(
              source,
              ref,
              () => assert.fail('no external data here'),
              DEFAULT_STATS_OPTIONS,
            );
          } catch (err) {
            if (!(err instanceof InvalidModelError)) throw err;
          }
        }
      } catch (err) {
        if (!(err instanceof InvalidModelError))
          throw new Error(`cut at ${cut}: ${(err as Error).stack}`);
        refused++;
      }
    }
    assert.ok(refused > bytes.length / 2, `most cuts are refused (${refused}/${bytes.length})`);
  });

  it('refuse garbage, empty files and length bombs with a reason', () => {
    assert.throws(() => readModel(new MemorySource(new Uint8Array(0)), 'x.onnx'), /empty/);
    assert.throws(
      () =>
        readModel(new MemorySource(new TextEncoder().encode('hello world, not a model')), 'x.onnx'),
      InvalidModelError,
    );
    // graph field (7) claiming 2^40 bytes
    const bomb = Uint8Array.from([0x08, 0x07, 0x3a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
    assert.throws(() => readModel(new MemorySource(bomb), 'x.onnx'), /runs past/);
    // a tensor whose dims multiply past the element limit
    const huge = tensor('h', DT.FLOAT, [1], [0]);
    huge.dims = [2 ** 30, 2 ** 30, 2 ** 10];
    const model = encodeModel({
      irVersion: 8,
      opsets: { '': 13 },
      graph: graph({ name: 'g', nodes: [], inputs: [], outputs: [], initializers: [huge] }),
    });
    assert.throws(() => readModel(new MemorySource(model), 'x.onnx'), /more than .* elements/);
  });
});
