import { Worker } from 'node:worker_threads';
import { CancelledError, InvalidModelError } from '../core/errors';
import { InputsRejectedError } from '../core/verify/tensor';
import { RecipeError } from '../core/data/recipe';
import type {
  FromWorker,
  ResponseMessage,
  ToWorker,
  WorkerMethod,
  WorkerReplies,
  WorkerRequest,
} from '../shared/protocol';

/** The worker's error as the class it was thrown as, so callers can tell the file's, the inputs' or the recipe's fault apart. */
function errorFrom(msg: ResponseMessage): Error {
  const message = msg.error ?? '';
  if (msg.invalidModel) return new InvalidModelError(message);
  if (msg.inputsRejected) return new InputsRejectedError(message);
  if (msg.recipeFile !== undefined) return new RecipeError(message, msg.recipeFile);
  return new Error(message);
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  onEvent?: (data: never) => void;
  slot: Slot;
}

interface Slot {
  worker: Worker | null;
  busy: number;
}

/** A fixed set of worker threads; each request goes to the least busy one and may stream events. */
export class WorkerPool {
  private readonly slots: Slot[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private disposed = false;

  constructor(
    private readonly script: string,
    readonly size: number,
  ) {
    this.slots = Array.from({ length: Math.max(1, size) }, () => ({ worker: null, busy: 0 }));
  }

  private spawn(slot: Slot): Worker {
    const worker = new Worker(this.script);
    worker.unref();
    worker.on('message', (msg: FromWorker) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      if (msg.type === 'event') {
        p.onEvent?.(msg.data as never);
        return;
      }
      this.pending.delete(msg.id);
      slot.busy--;
      if (msg.error === undefined) p.resolve(msg.result);
      else if (msg.cancelled) p.reject(new CancelledError());
      else p.reject(errorFrom(msg));
    });
    const fail = (err: Error) => {
      slot.worker = null;
      for (const [id, p] of this.pending) {
        if (p.slot !== slot) continue;
        this.pending.delete(id);
        slot.busy--;
        p.reject(err);
      }
    };
    worker.on('error', (err) => fail(new Error(`worker failed: ${err.message}`)));
    worker.on('exit', (code) => fail(new Error(`worker exited with code ${code}`)));
    slot.worker = worker;
    return worker;
  }

  /** Starts every worker now, so their start-up overlaps the caller's first request instead of following it. */
  warm(): void {
    for (const slot of this.slots) if (!slot.worker) this.spawn(slot);
  }

  /** Sends a request; `onEvent` receives streamed events; aborting `signal` cancels it in the worker. */
  request<M extends WorkerMethod>(
    req: Extract<WorkerRequest, { method: M }>,
    onEvent?: (data: never) => void,
    signal?: AbortSignal,
    slotIndex?: number,
  ): Promise<WorkerReplies[M]> {
    if (this.disposed) return Promise.reject(new Error('worker pool disposed'));
    if (signal?.aborted) return Promise.reject(new CancelledError());
    const slot =
      slotIndex !== undefined
        ? this.slots[slotIndex % this.slots.length]
        : this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    const worker = slot.worker ?? this.spawn(slot);
    const id = this.nextId++;
    slot.busy++;
    worker.ref();
    return new Promise<WorkerReplies[M]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onEvent, slot });
      const onAbort = () => worker.postMessage({ type: 'cancel', id } satisfies ToWorker);
      signal?.addEventListener('abort', onAbort, { once: true });
      worker.postMessage({ type: 'request', id, ...req } as ToWorker);
    }).finally(() => {
      if (slot.busy === 0) slot.worker?.unref();
    });
  }

  dispose(): void {
    this.disposed = true;
    for (const slot of this.slots) void slot.worker?.terminate();
  }
}
