// Harness only: a real model file read and measured in-process by the same core the extension's
// workers run, as the 'model' and 'stats' messages the inspector webview receives.
import * as path from 'node:path';
import { readModel } from '../../src/core/formats';
import { computeTensorStats } from '../../src/core/stats/compute';
import { DEFAULT_STATS_OPTIONS, type StatsResult } from '../../src/core/stats/types';
import { FileSource, FolderResolver } from '../../src/node/fileSource';
import { toModelView, type ModelView } from '../../src/shared/protocol';

export function realModelMessages(file: string): {
  fileName: string;
  model: ModelView;
  results: StatsResult[];
} {
  const source = new FileSource(file);
  const resolver = new FolderResolver(file);
  try {
    const model = readModel(source, path.basename(file), resolver);
    const results = model.tensors.map((ref, index): StatsResult => {
      try {
        return {
          index,
          stats: computeTensorStats(source, ref, (f) => resolver.open(f), DEFAULT_STATS_OPTIONS),
        };
      } catch (err) {
        return { index, error: err instanceof Error ? err.message : String(err) };
      }
    });
    return { fileName: path.basename(file), model: toModelView(model), results };
  } finally {
    source.close();
    resolver.close();
  }
}
