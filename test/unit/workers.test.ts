import assert from 'node:assert/strict';
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CancelledError, InvalidModelError } from '../../src/core/errors';
import type { Model } from '../../src/core/model';
import type { StatsResult } from '../../src/core/stats/types';
import { compressFile } from '../../src/node/compress';
import { ModelService, partition } from '../../src/node/modelService';
import { tensorThreads } from '../../src/node/tensorThreads';
import { WorkerPool } from '../../src/node/pool';
import { parseFromWebview, toModelView } from '../../src/shared/protocol';
import { writeFixtures } from '../fixtures/models';
import { mulberry32 } from '../fixtures/onnxBuilder';
import { distFile, fixturePath, openModel } from './helpers';

describe('worker pool and model service', () => {
  it('computes the same statistics in workers as in-process, and caches them', async () => {
    const pool = new WorkerPool(distFile('worker.js'), 2);
    try {
      const service = new ModelService(pool);
      const file = fixturePath('cnn.onnx');
      const model = await service.open(file);
      const streamed: StatsResult[] = [];
      const results = await service.stats(file, model, { bins: 256, nearZero: 0 }, (r) =>
        streamed.push(r),
      );
      assert.equal(streamed.length, model.tensors.length);
      const local = openModel(file);
      try {
        for (const r of results) {
          const expected = local.stats(model.tensors[r.index].name);
          assert.deepEqual(
            { ...r.stats, histogram: Array.from(r.stats!.histogram.counts) },
            { ...expected, histogram: Array.from(expected.histogram.counts) },
          );
        }
      } finally {
        local.close();
      }
      assert.equal(service.cachedStats(file, { bins: 256, nearZero: 0 }), results);
      assert.equal(service.cachedStats(file, { bins: 128, nearZero: 0 }), undefined);
      assert.equal(await service.open(file), model, 'second open is served from the cache');
    } finally {
      pool.dispose();
    }
  });

  it('invalidates the cache when a data file the model reads from changes', async () => {
    const pool = new WorkerPool(distFile('worker.js'), 1);
    const dir = mkdtempSync(join(tmpdir(), 'model-lens-deps-'));
    try {
      const service = new ModelService(pool);
      cpSync(fixturePath('external'), dir, { recursive: true });
      const file = join(dir, 'model.onnx');
      const options = { bins: 256, nearZero: 0 };
      await service.stats(file, await service.open(file), options, () => undefined);
      assert.ok(service.cachedStats(file, options), 'cached after the first run');
      utimesSync(join(dir, 'model.onnx.data'), new Date(), new Date(Date.now() + 5000));
      assert.equal(
        service.cachedStats(file, options),
        undefined,
        'a changed data file is a new version',
      );
    } finally {
      pool.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('turns bad files into InvalidModelError and honours cancellation', async () => {
    const pool = new WorkerPool(distFile('worker.js'), 1);
    try {
      const service = new ModelService(pool);
      await assert.rejects(service.open(fixturePath('missing.onnx')), /file not found/);
      await assert.rejects(
        pool.request({ method: 'open', params: { path: fixturePath('external/model.onnx.data') } }),
        InvalidModelError,
      );
      const file = fixturePath('mlp.onnx');
      const model: Model = await service.open(file);
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(
        service.stats(file, model, { bins: 256, nearZero: 0 }, () => undefined, controller.signal),
        CancelledError,
      );
    } finally {
      pool.dispose();
    }
  });

  it('compresses in a worker, streaming progress, and refuses to overwrite', async () => {
    const pool = new WorkerPool(distFile('worker.js'), 1);
    const dir = mkdtempSync(join(tmpdir(), 'model-lens-compress-'));
    try {
      const service = new ModelService(pool);
      const input = join(dir, 'cnn.onnx');
      copyFileSync(fixturePath('cnn.onnx'), input);
      const result = await service.compress(
        input,
        { methods: ['int8'], options: {} },
        {},
        () => undefined,
      );
      assert.equal(result.output, join(dir, 'cnn.int8.onnx'));
      assert.equal(statSync(result.output).size, result.report.totals.fileBytesAfter);
      assert.ok(result.report.tensors.length > 0);
      await assert.rejects(
        service.compress(input, { methods: ['int8'], options: {} }, {}, () => undefined),
        /already exists/,
      );
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(
        service.compress(
          input,
          { methods: ['fp16'], options: {} },
          {},
          () => undefined,
          controller.signal,
        ),
        CancelledError,
      );
      assert.deepEqual(readdirSync(dir).sort(), ['cnn.int8.onnx', 'cnn.onnx']);
    } finally {
      pool.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('compresses in helper threads to the same bytes and report as on one thread, external data too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'model-lens-threads-'));
    try {
      for (const external of [false, true]) {
        const sub = join(dir, external ? 'external' : 'single');
        mkdirSync(sub);
        writeFixtures(sub, { largeMB: 20, external });
        const input = join(sub, 'big.onnx');
        // Same output name in two folders: an external-data variant names its data file inside the model.
        const [one, many] = ['one', 'many'].map((d) => join(sub, d, 'variant.onnx'));
        for (const d of ['one', 'many']) mkdirSync(join(sub, d));
        for (const methods of [['int8'], ['prune', 'int8'], ['fp16']] as const) {
          const spec = { methods: [...methods], options: { sparsity: 0.5 } };
          const a = compressFile(input, spec, { output: one, force: true });
          const b = compressFile(input, spec, {
            output: many,
            force: true,
            tensorThreads: { script: distFile('worker.js'), count: 2 },
          });
          const label = `${methods.join('+')}${external ? ' (external data)' : ''}`;
          assert.deepEqual(b.report, a.report, label);
          assert.ok(readFileSync(many).equals(readFileSync(one)), `${label}: same model bytes`);
          if (external)
            assert.ok(
              readFileSync(`${many}.data`).equals(readFileSync(`${one}.data`)),
              `${label}: same data bytes`,
            );
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops helper threads when a threaded compression is cancelled, leaving no file behind or open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'model-lens-threads-'));
    const openFiles = () => readdirSync('/proc/self/fd').length;
    try {
      writeFixtures(dir, { largeMB: 20 });
      const before = readdirSync(dir).sort();
      const fds = openFiles();
      // Cancelled once the first tensor is in: the helpers are in the middle of others, their files open.
      let stop = false;
      const options = {
        tensorThreads: { script: distFile('worker.js'), count: 2 },
        progress: (done: number) => void (stop ||= done >= 1),
        cancelled: () => stop,
      };
      assert.throws(
        () => compressFile(join(dir, 'big.onnx'), { methods: ['int8'], options: {} }, options),
        CancelledError,
      );
      assert.deepEqual(readdirSync(dir).sort(), before);
      // Stopped helpers' descriptors close as their threads end.
      for (let waited = 0; openFiles() > fds && waited < 10_000; waited += 50)
        await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(openFiles(), fds, 'descriptors open in this process after the helpers stopped');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a helper thread that cannot open the model instead of waiting for it', () => {
    const ref = {
      name: 'w',
      dtype: 1,
      dims: [16, 16],
      count: 256,
      bytes: 1024,
      origin: 'initializer',
      scope: '',
      storage: { kind: 'range' as const, offset: 0, length: 1024 },
    };
    const job = {
      candidate: {
        index: 0,
        tensor: ref,
        op: 'MatMul',
        layer: 'mm',
        layout: { dims: [16, 16], outputAxis: 1, inputAxis: 0 },
      },
      position: 0,
      storage: 'int8' as const,
      spec: { methods: ['int8' as const], options: {} },
      opset: 13,
    };
    const run = tensorThreads(
      distFile('worker.js'),
      join(tmpdir(), 'model-lens-no-such-model.onnx'),
      2,
    );
    assert.throws(() => [...run([job, { ...job, position: 1 }], () => false)], /file not found/);
  });

  it('shares a tensor too big for one worker between all of them, with the statistics of one pass', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'model-lens-shared-'));
    const pool = new WorkerPool(distFile('worker.js'), 2);
    try {
      const rng = mulberry32(3);
      const big = Float32Array.from({ length: (1 << 20) + 3 }, (_, i) =>
        i % 97 === 0 ? 0 : (rng() - 0.4) * 0.2,
      );
      big[12345] = NaN;
      big[777777] = -Infinity;
      const small = Float32Array.from({ length: 1000 }, () => rng());
      const header = JSON.stringify({
        big: { dtype: 'F32', shape: [big.length], data_offsets: [0, big.byteLength] },
        small: {
          dtype: 'F32',
          shape: [small.length],
          data_offsets: [big.byteLength, big.byteLength + small.byteLength],
        },
      });
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(Buffer.byteLength(header)));
      const file = join(dir, 'one-big.safetensors');
      writeFileSync(
        file,
        Buffer.concat([
          length,
          Buffer.from(header),
          Buffer.from(big.buffer),
          Buffer.from(small.buffer),
        ]),
      );
      const service = new ModelService(pool, 1 << 20);
      const model = await service.open(file);
      const methods: string[] = [];
      const request = pool.request.bind(pool);
      pool.request = (req, ...rest) => (methods.push(req.method), request(req, ...rest));
      const results = await service.stats(file, model, { bins: 256, nearZero: 0 }, () => undefined);
      assert.deepEqual(
        methods.sort(),
        ['stats', 'statsSlice', 'statsSlice', 'statsSlice', 'statsSlice'],
        'each worker streams a slice in both passes; the small tensor goes whole',
      );
      const local = openModel(file);
      try {
        for (const r of results) {
          const { mean, std, ...exact } = r.stats!;
          const {
            mean: expectedMean,
            std: expectedStd,
            ...expected
          } = local.stats(model.tensors[r.index].name);
          assert.deepEqual(
            { ...exact, histogram: Array.from(exact.histogram.counts) },
            { ...expected, histogram: Array.from(expected.histogram.counts) },
          );
          // Merged moments add in another order: the last bits of mean and std may differ.
          assert.ok(
            Math.abs(mean! - expectedMean!) <= 1e-12 * Math.abs(expectedMean!),
            `mean ${mean} vs ${expectedMean}`,
          );
          assert.ok(
            Math.abs(std! - expectedStd!) <= 1e-12 * expectedStd!,
            `std ${std} vs ${expectedStd}`,
          );
        }
      } finally {
        local.close();
      }
    } finally {
      pool.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('partitions tensors evenly by bytes and keeps file order within a worker', () => {
    const refs = [100e6, 10e6, 60e6, 45e6, 5e6].map((bytes, index) => ({
      index,
      ref: { bytes } as never,
    }));
    const parts = partition(refs, 2);
    assert.deepEqual(
      parts.map((p) => p.map((t) => t.index)),
      [
        [0, 1],
        [2, 3, 4],
      ],
    );
    assert.deepEqual(partition(refs.slice(0, 1), 2).length, 1, 'no empty jobs');
  });
});

describe('webview protocol', () => {
  it('accepts well-formed messages and rejects anything else', () => {
    assert.deepEqual(parseFromWebview({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(
      parseFromWebview({
        type: 'request',
        id: 3,
        method: 'exportStatistics',
        params: { format: 'csv' },
      }),
      {
        type: 'request',
        id: 3,
        method: 'exportStatistics',
        params: { format: 'csv' },
      },
    );
    for (const bad of [
      null,
      'ready',
      { type: 'request', id: 'x', method: 'recompute' },
      { type: 'request', id: 1, method: 'exportStatistics', params: { format: 'exe' } },
      { type: 'request', id: 1, method: 'deleteFile' },
    ]) {
      assert.equal(parseFromWebview(bad), null, JSON.stringify(bad));
    }
  });

  it('strips storage details from what the webview sees', () => {
    const m = openModel(fixturePath('mlp.onnx'));
    try {
      const view = toModelView(m.model);
      assert.equal(view.tensors.length, m.model.tensors.length);
      assert.ok(view.tensors.every((t) => !('storage' in t)));
    } finally {
      m.close();
    }
  });
});
