import * as path from 'node:path';
import * as os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { CancelledError, InvalidModelError } from '../core/errors';
import { InputsRejectedError } from '../core/verify/tensor';
import { RecipeError } from '../core/data/recipe';
import { readModel } from '../core/formats';
import { FloatScratch } from '../core/scratch';
import { computeTensorStats, sliceHistogram, sliceMoments } from '../core/stats/compute';
import type { StatsResult } from '../core/stats/types';
import type {
  FromWorker,
  ToWorker,
  WorkerMethod,
  WorkerReplies,
  WorkerRequest,
} from '../shared/protocol';
import { removeStaleTemps } from './atomicWrite';
import { compressVariant } from './compressVariant';
import { FileSource, FolderResolver } from './fileSource';
import { analyseSensitivity, compressForFidelity } from './calibrate';
import { serveTensorJobs, type TensorHelperData } from './tensorThreads';
import { runVerify } from './verify';

/** Worker thread: parses models and computes statistics so the caller's thread never blocks. */
const port = parentPort;
if (!port) throw new Error('worker.js must run in a worker thread');
const helper =
  (workerData as TensorHelperData | undefined)?.role === 'compress-tensors'
    ? (workerData as TensorHelperData)
    : undefined;

const cancelled = new Set<number>();
/** Verify runs cancel through an AbortSignal, checked between inference runs. */
const aborts = new Map<number, AbortController>();

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

/** Lets queued messages (cancel) in between tensors. */
const yieldToEvents = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Largest tensor whose values a stats request keeps between its two passes (one such buffer per worker). */
const HELD_BYTES = 32 * 2 ** 20;

/** Progress events at most this often: enough for a smooth bar, few enough not to flood the host. */
const PROGRESS_MS = 100;

/** Progress events for request `id`, at most one per PROGRESS_MS. */
function throttledProgress(id: number): (done: number, total: number, tensor: string) => void {
  let last = 0;
  return (done, total, tensor) => {
    if (Date.now() - last < PROGRESS_MS) return;
    last = Date.now();
    post({ type: 'event', id, data: { done, total, tensor } });
  };
}

/** Runs an asynchronous job that a cancel message for `id` aborts. */
async function withAbort<T>(id: number, job: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  aborts.set(id, abort);
  try {
    return await job(abort.signal);
  } finally {
    aborts.delete(id);
  }
}

/** The worker's answer to `req`: one of WorkerReplies (shared/protocol), whose per-method types the pool's callers see. */
async function handle(id: number, req: WorkerRequest): Promise<WorkerReplies[WorkerMethod]> {
  if (req.method === 'compress') {
    const flag = req.params.cancelFlag;
    // Temp files of an earlier, killed run in the target folder go first.
    removeStaleTemps(path.dirname(path.resolve(req.params.output ?? req.params.input)));
    const isCancelled = () => (flag ? Atomics.load(flag, 0) === 1 : false) || cancelled.has(id);
    const tensorThreads = { script: __filename, count: os.availableParallelism() };
    const options = {
      output: req.params.output,
      force: req.params.force,
      cancelled: isCancelled,
      progress: throttledProgress(id),
      tensorThreads,
    };
    // The Hessian criterion and channel removal run the model first (the request's inputs, else seeded random ones).
    if (!req.params.goal)
      return compressVariant(req.params.input, req.params.spec, {
        ...options,
        calibration: req.params.calibration,
      });
    // The search's onnxruntime runs hear the cancel message through the signal, its synchronous compressions the shared flag.
    const goal = req.params.goal;
    return withAbort(id, (signal) =>
      compressForFidelity(req.params.input, req.params.spec, goal, {
        ...req.params.calibration,
        ...options,
        signal,
      }),
    );
  }
  if (req.method === 'sensitivity') {
    return withAbort(id, (signal) =>
      analyseSensitivity(req.params.path, req.params.spec, {
        ...req.params.calibration,
        signal,
        progress: throttledProgress(id),
      }),
    );
  }
  if (req.method === 'verify') {
    const params = req.params;
    return withAbort(id, (signal) =>
      runVerify(params.original, params.variant, { ...params.options, signal }),
    );
  }
  const file = new FileSource(req.params.path);
  const resolver = new FolderResolver(req.params.path);
  try {
    if (req.method === 'open') return readModel(file, path.basename(req.params.path), resolver);
    if (req.method === 'statsSlice') {
      const { slice, options, range } = req.params;
      return range
        ? sliceHistogram(file, slice, (f) => resolver.open(f), options, range)
        : sliceMoments(file, slice, (f) => resolver.open(f), options);
    }
    // Tensors up to this size are read once for both statistics passes; the buffer lives as long as the request.
    const held = { scratch: new FloatScratch(), limit: HELD_BYTES };
    for (const { index, ref } of req.params.tensors) {
      await yieldToEvents();
      if (cancelled.has(id)) throw new CancelledError();
      const result: StatsResult = { index };
      try {
        result.stats = computeTensorStats(
          file,
          ref,
          (f) => resolver.open(f),
          req.params.options,
          held,
        );
      } catch (err) {
        if (!(err instanceof InvalidModelError)) throw err;
        result.error = err.message;
      }
      post(
        { type: 'event', id, data: result },
        result.stats ? [result.stats.histogram.counts.buffer as ArrayBuffer] : [],
      );
    }
    return null;
  } finally {
    file.close();
    resolver.close();
  }
}

// A compression helper serves tensor jobs of one compressFile call instead of pool requests.
if (helper) serveTensorJobs(helper, port);
else
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'cancel') {
      cancelled.add(msg.id);
      aborts.get(msg.id)?.abort();
      return;
    }
    handle(msg.id, msg)
      .then(
        (result) => post({ type: 'response', id: msg.id, result }),
        (err: unknown) =>
          post({
            type: 'response',
            id: msg.id,
            error: err instanceof Error ? err.message : String(err),
            invalidModel: err instanceof InvalidModelError,
            inputsRejected: err instanceof InputsRejectedError,
            cancelled: err instanceof CancelledError,
            ...(err instanceof RecipeError ? { recipeFile: err.file } : {}),
          }),
      )
      .finally(() => cancelled.delete(msg.id));
  });
