import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeFsError } from './fileSource';
import { recipePathFor } from '../core/data/recipe';
import { CancelledError, InvalidModelError } from '../core/errors';
import {
  finishStats,
  HistogramBuilder,
  histogramRange,
  Moments,
  tensorSlice,
  type MomentsState,
} from '../core/stats/compute';
import type { Model, TensorRef, TensorStorage } from '../core/model';
import type { StatsOptions, StatsResult } from '../core/stats/types';
import type { CompressSpec } from '../core/compress/spec';
import type { CalibrationSettings, CompressProgress, FidelityGoal } from '../shared/protocol';
import type { SensitivityReport } from '../core/compress/sensitivity';
import type { CompressFileResult } from './compress';
import type { VerifyReport } from '../core/verify/report';
import type { VerifySettings } from '../core/verify/verify';
import type { WorkerPool } from './pool';

/** Identifies a file version: a changed size or mtime invalidates cached results. */
function fileKey(path: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (err) {
    throw new Error(describeFsError(err));
  }
  return `${path}\0${st.size}\0${st.mtimeMs}`;
}

/**
 * Splits tensors over the workers, largest first onto the least loaded (LPT): with two workers
 * the total time is close to half the serial time even when sizes are uneven.
 */
export function partition(
  tensors: { index: number; ref: TensorRef }[],
  parts: number,
): { index: number; ref: TensorRef }[][] {
  const buckets = Array.from({ length: parts }, () => ({
    load: 0,
    items: [] as { index: number; ref: TensorRef }[],
  }));
  const sorted = [...tensors].sort((a, b) => b.ref.bytes - a.ref.bytes);
  for (const t of sorted) {
    const b = buckets.reduce((x, y) => (y.load < x.load ? y : x));
    b.items.push(t);
    b.load += t.ref.bytes + 4096;
  }
  // Within a worker, go in file order: sequential reads.
  return buckets.map((b) => b.items.sort((x, y) => x.index - y.index)).filter((b) => b.length);
}

/** Tensors from this size up may be shared by all workers when one alone would hold the others up. */
const SPLIT_BYTES = 32 * 2 ** 20;

/** Model versions kept in memory; older ones are recomputed on demand. */
const CACHE_ENTRIES = 8;

interface CacheEntry {
  model: Model;
  /** Versions of the files the model's tensors live in besides the model itself (shards, external data). */
  depsKey: string;
  stats?: { options: string; results: StatsResult[] };
  /** Sensitivity scans of this version, by settings (see scanKey). */
  scans?: Map<string, SensitivityReport>;
}

/** Other files a model reads tensors from, as absolute paths. */
function dependencies(modelPath: string, model: Model): string[] {
  const files = new Set<string>();
  const visit = (s: TensorStorage) => {
    if (s.kind === 'external') files.add(s.file);
    else if (s.kind === 'sparse') visit(s.values);
  };
  for (const t of model.tensors) visit(t.storage);
  return [...files].sort().map((f) => path.join(path.dirname(modelPath), f));
}

function depsKey(modelPath: string, model: Model): string {
  return dependencies(modelPath, model).map(fileKey).join('\n');
}

/**
 * Versions of what a scan reads besides the model: its data and tensor files and the recipe. A
 * folder counts by its own version, which files added, removed or renamed change (one edited in
 * place does not).
 */
function readsKey(file: string, c: CalibrationSettings): string {
  if (!c.data?.length && !c.inputs?.length) return '';
  return [c.recipe ?? recipePathFor(file), ...(c.data ?? []), ...(c.inputs ?? [])]
    .map((p) => {
      const st = fs.statSync(p, { throwIfNoEntry: false });
      return st ? `${st.size}:${st.mtimeMs}` : '-';
    })
    .join(',');
}

function scanKey(
  file: string,
  spec: CompressSpec,
  calibration: CalibrationSettings & { fullRuns?: number },
): string {
  return JSON.stringify([spec.methods, spec.options, calibration, readsKey(file, calibration)]);
}

/** Opens models and computes their statistics in worker threads, caching per file version. */
export class ModelService {
  private readonly cache = new Map<string, CacheEntry>();

  /** `splitBytes`: the smallest tensor the workers may share (see stats); tests lower it. */
  constructor(
    private readonly pool: WorkerPool,
    private readonly splitBytes = SPLIT_BYTES,
  ) {}

  /** The cache entry for the current version of a file and of every file its tensors live in. */
  private lookup(file: string): CacheEntry | undefined {
    const key = fileKey(file);
    const entry = this.cache.get(key);
    if (!entry) return undefined;
    try {
      if (depsKey(file, entry.model) === entry.depsKey) return entry;
    } catch {
      // A shard vanished: recompute, which reports it properly.
    }
    this.cache.delete(key);
    return undefined;
  }

  async open(file: string): Promise<Model> {
    const hit = this.lookup(file);
    if (hit) return hit.model;
    const key = fileKey(file);
    const model = await this.pool.request({ method: 'open', params: { path: file } });
    this.remember(key, { model, depsKey: depsKey(file, model) });
    return model;
  }

  /** Cached statistics for this file version and options, if any. */
  cachedStats(file: string, options: StatsOptions): StatsResult[] | undefined {
    const entry = this.lookup(file);
    return entry?.stats?.options === JSON.stringify(options) ? entry.stats.results : undefined;
  }

  /**
   * stats(), delivered in batches at most every `everyMs` and once at the end, with the count done so
   * far: what a panel posts to its webview, so many small tensors do not flood it.
   */
  async statsInBatches(
    path: string,
    model: Model,
    options: StatsOptions,
    onBatch: (results: StatsResult[], done: number) => void,
    signal: AbortSignal,
    everyMs: number,
  ): Promise<void> {
    let batch: StatsResult[] = [];
    let done = 0;
    const flush = () => {
      if (!batch.length || signal.aborted) return;
      onBatch(batch, done);
      batch = [];
    };
    const timer = setInterval(flush, everyMs);
    try {
      await this.stats(
        path,
        model,
        options,
        (r) => {
          batch.push(r);
          done++;
        },
        signal,
      );
      flush();
    } finally {
      clearInterval(timer);
    }
  }

  /** Computes statistics for every tensor, reporting each as it arrives. */
  async stats(
    path: string,
    model: Model,
    options: StatsOptions,
    onResult: (r: StatsResult) => void,
    signal?: AbortSignal,
  ): Promise<StatsResult[]> {
    if (signal?.aborted) throw new CancelledError();
    const key = fileKey(path);
    const results: StatsResult[] = new Array(model.tensors.length);
    const tensors = model.tensors.map((ref, index) => ({ index, ref }));
    // A tensor bigger than half a worker's share would keep one worker busy after the others finish: all of them share it.
    const total = model.tensors.reduce((n, t) => n + t.bytes, 0);
    const shared =
      this.pool.size > 1
        ? tensors.filter(
            (t) =>
              t.ref.bytes >= this.splitBytes &&
              t.ref.bytes > total / this.pool.size / 2 &&
              tensorSlice(t.ref, 0, 1),
          )
        : [];
    const jobs = partition(
      tensors.filter((t) => !shared.includes(t)),
      this.pool.size,
    );
    const controller = new AbortController();
    const abort = () => controller.abort();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      for (const t of shared) {
        results[t.index] = await this.sharedStats(path, t, options, controller.signal);
        onResult(results[t.index]);
      }
      await Promise.all(
        jobs.map((tensors, slot) =>
          this.pool.request(
            { method: 'stats', params: { path, tensors, options } },
            (r: StatsResult) => {
              results[r.index] = r;
              onResult(r);
            },
            controller.signal,
            slot,
          ),
        ),
      );
    } catch (err) {
      controller.abort();
      throw err;
    } finally {
      signal?.removeEventListener('abort', abort);
    }
    const entry = this.cache.get(key) ?? { model, depsKey: depsKey(path, model) };
    entry.stats = { options: JSON.stringify(options), results };
    this.remember(key, entry);
    return results;
  }

  /** One tensor's statistics with every worker streaming a slice: moments first, then, over their merged range, histograms. */
  private async sharedStats(
    path: string,
    t: { index: number; ref: TensorRef },
    options: StatsOptions,
    signal: AbortSignal,
  ): Promise<StatsResult> {
    const n = t.ref.count;
    const parts = this.pool.size;
    const slices = Array.from({ length: parts }, (_, i) =>
      tensorSlice(t.ref, Math.floor((n * i) / parts), Math.floor((n * (i + 1)) / parts))!,
    );
    const pass = (range?: [number, number]) =>
      Promise.all(
        slices.map((slice, i) =>
          this.pool.request(
            { method: 'statsSlice', params: { path, slice, options, range } },
            undefined,
            signal,
            i,
          ),
        ),
      );
    try {
      const m = new Moments(options.nearZero);
      for (const part of (await pass()) as MomentsState[]) m.absorb(part);
      const range = histogramRange(m);
      const hb = new HistogramBuilder(...range, options.bins);
      if (m.finite > 0)
        for (const counts of (await pass(range)) as Uint32Array[]) hb.addCounts(counts);
      return { index: t.index, stats: finishStats(m, hb.histogram()) };
    } catch (err) {
      if (!(err instanceof InvalidModelError)) throw err;
      return { index: t.index, error: err.message };
    }
  }

  private remember(key: string, entry: CacheEntry): void {
    this.cache.delete(key);
    this.cache.set(key, entry);
    while (this.cache.size > CACHE_ENTRIES)
      this.cache.delete(this.cache.keys().next().value as string);
  }

  /**
   * Writes a compressed variant in a worker. Cancelling sets a shared flag the worker's
   * synchronous loops read, so a long write stops promptly and leaves nothing behind.
   */
  compress(
    input: string,
    spec: CompressSpec,
    options: {
      output?: string;
      force?: boolean;
      goal?: FidelityGoal;
      calibration?: CalibrationSettings;
    },
    onProgress: (p: CompressProgress) => void,
    signal?: AbortSignal,
  ): Promise<CompressFileResult> {
    if (signal?.aborted) return Promise.reject(new CancelledError());
    const cancelFlag = new Int32Array(new SharedArrayBuffer(4));
    signal?.addEventListener('abort', () => Atomics.store(cancelFlag, 0, 1), { once: true });
    return this.pool.request(
      { method: 'compress', params: { input, spec, ...options, cancelFlag } },
      onProgress,
      signal,
    );
  }

  /**
   * Each layer compressed alone and run on calibration inputs, in a worker. Cached with the
   * opened model's version (its external data included), per method and inputs: reopening the
   * tab or re-ranking does not rerun the models.
   */
  async sensitivity(
    file: string,
    spec: CompressSpec,
    calibration: CalibrationSettings & { fullRuns?: number },
    onProgress: (p: CompressProgress) => void,
    signal?: AbortSignal,
  ): Promise<SensitivityReport> {
    // Taken before the scan: a recipe edited while it runs must not file the old result under the new version.
    const key = scanKey(file, spec, calibration);
    const hit = this.lookup(file)?.scans?.get(key);
    if (hit) return hit;
    const version = fileKey(file);
    const report = await this.pool.request(
      { method: 'sensitivity', params: { path: file, spec, calibration } },
      onProgress,
      signal,
    );
    // Kept with the model's entry (the inspector opened it), and only if the file did not change while the scan ran.
    const entry = this.lookup(file);
    if (entry && fileKey(file) === version) {
      const scans = (entry.scans ??= new Map());
      scans.set(key, report);
      while (scans.size > CACHE_ENTRIES) scans.delete(scans.keys().next().value as string);
    }
    return report;
  }

  /**
   * Runs original and variant with onnxruntime in a worker and compares their outputs.
   * Aborting stops it between inference runs.
   */
  verify(
    original: string,
    variant: string,
    settings: VerifySettings,
    signal?: AbortSignal,
  ): Promise<VerifyReport> {
    return this.pool.request(
      { method: 'verify', params: { original, variant, options: settings } },
      undefined,
      signal,
    );
  }

  /** A scan already made for this file version and settings, without starting one. */
  cachedSensitivity(
    file: string,
    spec: CompressSpec,
    calibration: CalibrationSettings & { fullRuns?: number },
  ): SensitivityReport | undefined {
    return this.lookup(file)?.scans?.get(scanKey(file, spec, calibration));
  }

  /** Drops everything cached for a path (the file changed or the user asked to recompute). */
  forget(path: string): void {
    for (const key of this.cache.keys()) if (key.startsWith(path + '\0')) this.cache.delete(key);
  }
}
