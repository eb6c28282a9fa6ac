/** The calibration data remembered per model (extension/calibrationData.ts), and a recipe's error crossing from the worker. */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CompressSpec } from '../../src/core/compress/spec';
import { RecipeError } from '../../src/core/data/recipe';
import {
  CalibrationStore,
  choiceSettings,
  describeChoice,
  splitChoice,
  type Memento,
} from '../../src/extension/calibrationData';
import { ModelService } from '../../src/node/modelService';
import { WorkerPool } from '../../src/node/pool';
import { distFile, fixturePath } from './helpers';

/** workspaceState as a Map that JSON-round-trips, as VS Code's storage does. */
class MapMemento implements Memento {
  readonly map = new Map<string, string>();
  get<T>(key: string): T | undefined {
    const v = this.map.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }
  update(key: string, value: unknown): Promise<void> {
    this.map.set(key, JSON.stringify(value));
    return Promise.resolve();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'model-lens-calibration-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('calibration data per model', () => {
  it('splits the picked paths: tensor files stay inputs, images, recordings and folders are data', () => {
    const picked = [
      '/d/crops',
      '/d/a.PNG',
      '/d/speech.wav',
      '/d/chunk.npz',
      '/d/x.npy',
      '/d/t.pb',
      '/d/photo.jpeg',
    ];
    assert.deepEqual(splitChoice(picked), {
      data: ['/d/crops', '/d/a.PNG', '/d/speech.wav', '/d/photo.jpeg'],
      inputs: ['/d/chunk.npz', '/d/x.npy', '/d/t.pb'],
    });
    assert.deepEqual(choiceSettings(splitChoice(['/d/crops'])), { data: ['/d/crops'] });
    assert.deepEqual(choiceSettings(splitChoice(['/d/x.npy'])), { inputs: ['/d/x.npy'] });
    assert.deepEqual(choiceSettings(undefined), {}, 'random inputs add nothing to a run');
  });

  it('describes a choice in a few words: folders end in /, a vanished path says so, many paths are counted', () => {
    const crops = join(dir, 'crops');
    mkdirSync(crops, { recursive: true });
    const png = join(dir, 'a.png');
    writeFileSync(png, '');
    assert.deepEqual(describeChoice(undefined), {
      random: true,
      label: 'random inputs',
      detail: 'Seeded random inputs: no calibration data chosen for this model.',
    });
    assert.equal(describeChoice({ data: [crops], inputs: [] }).label, 'crops/');
    assert.equal(
      describeChoice({ data: [crops, png], inputs: [join(dir, 'gone.npz')] }).label,
      'crops/, a.png + gone.npz (missing)',
    );
    const three = describeChoice({ data: [crops, png, join(dir, 'b.png')], inputs: [] });
    assert.equal(three.label, '3 paths');
    assert.equal(three.detail.split('\n').length, 3, 'the tooltip lists every path');
  });

  it('remembers the choice per model across a new store on the same memento (a window reload), and forgets it for random', async () => {
    const memento = new MapMemento();
    const store = new CalibrationStore(memento);
    const heard: string[] = [];
    const sub = store.onDidChange((m) => heard.push(m));
    await store.set('/w/models/../models/cls.onnx', { data: ['/w/crops'], inputs: [] });
    await store.set('/w/vad.onnx', { data: [], inputs: ['/w/chunk.npz'] });
    assert.deepEqual(
      heard,
      ['/w/models/cls.onnx', '/w/vad.onnx'],
      'listeners hear the normalised model path',
    );

    const reloaded = new CalibrationStore(memento);
    assert.deepEqual(reloaded.settings('/w/models/cls.onnx'), { data: ['/w/crops'] });
    assert.deepEqual(reloaded.settings('/w/vad.onnx'), { inputs: ['/w/chunk.npz'] });
    assert.equal(reloaded.get('/w/other.onnx'), undefined);
    assert.equal(reloaded.view('/w/other.onnx').random, true);

    await store.set('/w/models/cls.onnx', undefined);
    assert.equal(new CalibrationStore(memento).get('/w/models/cls.onnx'), undefined);
    assert.deepEqual(
      new CalibrationStore(memento).settings('/w/vad.onnx'),
      { inputs: ['/w/chunk.npz'] },
      'other models keep theirs',
    );
    sub.dispose();
    await store.set('/w/vad.onnx', { data: [], inputs: [] });
    assert.equal(heard.length, 3, 'a disposed listener hears nothing more');
    assert.equal(store.get('/w/vad.onnx'), undefined, 'an empty choice is random inputs');
  });

  it('ignores what it did not write: junk and relative paths', async () => {
    const memento = new MapMemento();
    await memento.update('modelLens.calibrationData', {
      '/w/a.onnx': { data: ['relative/crops'], inputs: [] },
      '/w/b.onnx': 'junk',
      '/w/c.onnx': { data: [1], inputs: [] },
    });
    const store = new CalibrationStore(memento);
    for (const m of ['/w/a.onnx', '/w/b.onnx', '/w/c.onnx'])
      assert.equal(store.get(m), undefined, m);
    await memento.update('modelLens.calibrationData', ['not', 'an', 'object']);
    assert.equal(store.get('/w/a.onnx'), undefined);
    await store.set('/w/a.onnx', { data: ['/w/crops'], inputs: [] });
    assert.deepEqual(store.settings('/w/a.onnx'), { data: ['/w/crops'] });
  });

  it('a run whose recipe is wrong fails in the worker with a RecipeError naming the recipe file', async () => {
    const model = join(dir, 'cnn.onnx');
    copyFileSync(fixturePath('cnn.onnx'), model);
    const recipe = join(dir, 'cnn.lens.json');
    writeFileSync(recipe, JSON.stringify({ version: 1, inputs: { nope: { kind: 'image' } } }));
    const pool = new WorkerPool(distFile('worker.js'), 1);
    try {
      const err = await new ModelService(pool).verify(model, model, { data: [dir] }).then(
        () => assert.fail('verified despite a bad recipe'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof RecipeError, String(err));
      assert.equal(err.file, recipe);
      assert.match(err.message, /^the model has no input 'nope' \(it has /);
    } finally {
      pool.dispose();
    }
  });

  it('a cached sensitivity scan is not reused once the recipe or the data folder changed', async () => {
    const model = join(dir, 'scan.onnx');
    writeFileSync(model, 'model');
    const crops = join(dir, 'scan-crops');
    mkdirSync(crops, { recursive: true });
    let scans = 0;
    // The pool's side of the service: an 'open' gives a model without tensors, a 'sensitivity' a numbered report.
    const pool = {
      size: 1,
      request: (r: { method: string }) =>
        Promise.resolve(r.method === 'open' ? { tensors: [] } : { scan: ++scans }),
    };
    const service = new ModelService(pool as unknown as WorkerPool);
    await service.open(model);
    const spec: CompressSpec = { methods: ['int8'], options: {} };
    const scan = () =>
      service.sensitivity(
        model,
        spec,
        { samples: 8, seed: 0, data: [crops] },
        () => undefined,
      ) as unknown as Promise<{ scan: number }>;
    assert.equal((await scan()).scan, 1);
    assert.equal((await scan()).scan, 1, 'same data, same recipe: cached');
    writeFileSync(join(dir, 'scan.lens.json'), '{}');
    assert.equal((await scan()).scan, 2, 'a recipe appeared beside the model');
    assert.equal((await scan()).scan, 2);
    writeFileSync(join(crops, 'new.png'), '');
    utimesSync(crops, new Date(), new Date(Date.now() + 5000));
    assert.equal((await scan()).scan, 3, 'a file was added to the folder');
    assert.equal(
      (
        (await service.sensitivity(
          model,
          spec,
          { samples: 8, seed: 0 },
          () => undefined,
        )) as unknown as { scan: number }
      ).scan,
      4,
      'random inputs are another scan',
    );
  });
});
