import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel } from '../../src/core/formats';
import type { Model } from '../../src/core/model';
import { computeTensorStats } from '../../src/core/stats/compute';
import { DEFAULT_STATS_OPTIONS, type TensorStats } from '../../src/core/stats/types';
import { FileSource, FolderResolver } from '../../src/node/fileSource';
import { writeFixtures } from '../fixtures/models';

let fixtureDir: string | undefined;

/** Fixture models generated once per test process into a temp folder. */
export function fixtures(): string {
  if (!fixtureDir) {
    const dir = mkdtempSync(join(tmpdir(), 'model-lens-fixtures-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    writeFixtures(dir);
    fixtureDir = dir;
  }
  return fixtureDir;
}

export interface Opened {
  model: Model;
  stats(name: string): TensorStats;
  close(): void;
}

/** Reads a model in-process (no workers) and computes statistics on demand. */
export function openModel(file: string): Opened {
  const source = new FileSource(file);
  const resolver = new FolderResolver(file);
  try {
    const model = readModel(source, file, resolver);
    return {
      model,
      stats(name: string) {
        const ref = model.tensors.find((t) => t.name === name);
        if (!ref)
          throw new Error(`no tensor ${name}; have ${model.tensors.map((t) => t.name).join(', ')}`);
        return computeTensorStats(source, ref, (f) => resolver.open(f), DEFAULT_STATS_OPTIONS);
      },
      close() {
        source.close();
        resolver.close();
      },
    };
  } catch (err) {
    source.close();
    resolver.close();
    throw err;
  }
}

/** Builds the repo path of a bundled file from a test bundle in dist/test/unit. */
export function distFile(name: string): string {
  return join(__dirname, '..', '..', name);
}

export function fixturePath(rel: string): string {
  return join(fixtures(), rel);
}
