import {
  MessageChannel,
  receiveMessageOnPort,
  Worker,
  type MessagePort,
} from 'node:worker_threads';
import { CancelledError, InvalidModelError } from '../core/errors';
import { compressTensor } from '../core/formats/onnx/compress';
import type { CompressHooks, TensorJob, TensorOutcome } from '../core/compress/report';
import { FloatScratch } from '../core/scratch';
import { FileSource, FolderResolver } from './fileSource';

/** What a compression helper thread is started with (its workerData). */
export interface TensorHelperData {
  role: 'compress-tensors';
  input: string;
  /** Count of outcomes posted, for the waiting thread's Atomics.wait. */
  posted: Int32Array;
  port: MessagePort;
}

type Reply =
  | { ready: true }
  | { position: number; outcome: TensorOutcome }
  | { position: number; error: string; invalidModel: boolean };

/** Jobs handed to a thread at once: one running and one waiting, so it never idles between tensors. */
const QUEUED = 2;

/** How often a waiting thread looks at the cancel flag. */
const POLL_MS = 50;

/**
 * A helper that has not said it is ready by then failed to start (a waiting thread cannot see a
 * worker's error events: they need the event loop it is blocking).
 */
const START_MS = 60_000;

/**
 * Compresses tensors in `threads` helper threads (`script` is worker.js) and yields the outcomes
 * in job order. The calling thread blocks while it waits (compressModel is synchronous and runs in
 * a worker or the CLI, never on the extension host): helpers post outcomes on their own ports,
 * read with receiveMessageOnPort, and wake it through a shared counter.
 */
export function tensorThreads(
  script: string,
  input: string,
  threads: number,
): NonNullable<CompressHooks['parallel']> {
  return function* (jobs: TensorJob[], cancelled: () => boolean): Generator<TensorOutcome> {
    const posted = new Int32Array(new SharedArrayBuffer(4));
    const helpers = Array.from({ length: Math.max(1, Math.min(threads, jobs.length)) }, () => {
      const { port1, port2 } = new MessageChannel();
      const workerData: TensorHelperData = { role: 'compress-tensors', input, posted, port: port2 };
      return {
        worker: new Worker(script, { workerData, transferList: [port2] }),
        port: port1,
        queued: 0,
        ready: false,
      };
    });
    const started = Date.now();
    // Largest first, so the last tensors to finish are small ones and both threads stay busy to the end.
    const waiting = [...jobs].sort((a, b) => b.candidate.tensor.count - a.candidate.tensor.count);
    const ready = new Map<number, TensorOutcome>();
    const dispatch = () => {
      for (const h of helpers) {
        while (h.queued < QUEUED && waiting.length) {
          h.worker.postMessage(waiting.shift());
          h.queued++;
        }
      }
    };
    /** Takes every reply posted so far; false when there was none. */
    const collect = (): boolean => {
      let any = false;
      for (const h of helpers) {
        for (let m = receiveMessageOnPort(h.port); m; m = receiveMessageOnPort(h.port)) {
          const reply = m.message as Reply;
          any = true;
          if ('ready' in reply) {
            h.ready = true;
            continue;
          }
          h.queued--;
          if ('error' in reply)
            throw reply.invalidModel ? new InvalidModelError(reply.error) : new Error(reply.error);
          ready.set(reply.position, reply.outcome);
        }
      }
      return any;
    };
    try {
      dispatch();
      for (const job of jobs) {
        while (!ready.has(job.position)) {
          const seen = Atomics.load(posted, 0);
          if (collect()) {
            dispatch();
            continue;
          }
          if (cancelled()) throw new CancelledError();
          if (Date.now() - started > START_MS && helpers.some((h) => !h.ready))
            throw new Error(`compression threads did not start (${script})`);
          Atomics.wait(posted, 0, seen, POLL_MS);
        }
        const outcome = ready.get(job.position)!;
        ready.delete(job.position);
        yield outcome;
      }
    } finally {
      for (const h of helpers) {
        h.port.close();
        void h.worker.terminate();
      }
    }
  };
}

/** The helper side: compresses each job it is sent with its own reader of the model. */
export function serveTensorJobs(
  data: TensorHelperData,
  jobs: { on(event: 'message', listener: (job: TensorJob) => void): void },
): void {
  // Opened with the first job, so a failure to open is that job's error rather than a thread that never answers.
  let reader: { source: FileSource; resolver: FolderResolver } | undefined;
  const scratch = new FloatScratch();
  const post = (reply: Reply, transfer: ArrayBuffer[] = []) => {
    data.port.postMessage(reply, transfer);
    Atomics.add(data.posted, 0, 1);
    Atomics.notify(data.posted, 0);
  };
  post({ ready: true });
  jobs.on('message', (job) => {
    let reply: Reply;
    const transfer = new Set<ArrayBuffer>();
    try {
      reader ??= { source: new FileSource(data.input), resolver: new FolderResolver(data.input) };
      const { resolver } = reader;
      const outcome = compressTensor(reader.source, (f) => resolver.open(f), job, scratch);
      // The codes are fresh arrays nothing else holds: move them instead of copying.
      for (const t of outcome.edit.initializers) transfer.add(t.data.buffer as ArrayBuffer);
      for (const t of outcome.edit.sparseInitializers ?? [])
        transfer.add(t.values.buffer as ArrayBuffer).add(t.indices.buffer as ArrayBuffer);
      reply = { position: job.position, outcome };
    } catch (err) {
      reply = {
        position: job.position,
        error: err instanceof Error ? err.message : String(err),
        invalidModel: err instanceof InvalidModelError,
      };
    }
    post(reply, [...transfer]);
  });
}
