/**
 * Every message that crosses a boundary: extension host <-> webview, and host/CLI <-> worker.
 * Requests carry ids; a reply either resolves or (with `error`) rejects the pending promise.
 */
import type { Layer, Model, ModelMetadata, TensorRef, ValueInfo } from '../core/model';
import type { StatsOptions, StatsResult } from '../core/stats/types';
import type { CompressSpec } from '../core/compress/spec';
import type { VerifySettings } from '../core/verify/verify';

/** A tensor as the webview sees it: no storage details. */
export type TensorView = Omit<TensorRef, 'storage'>;

export interface ModelView {
  format: string;
  fileBytes: number;
  metadata: ModelMetadata;
  nodeCount: number;
  opCounts: Record<string, number>;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  tensors: TensorView[];
  layers: Layer[];
  warnings: string[];
}

export function toModelView(model: Model): ModelView {
  return { ...model, tensors: model.tensors.map(({ storage: _storage, ...rest }) => rest) };
}

export type { StatsResult };

export interface ViewConfig {
  bins: number;
  nearZero: number;
}

// ---- host -> webview ----
export type ToWebview =
  | { type: 'model'; fileName: string; model: ModelView; config: ViewConfig }
  | { type: 'stats'; results: StatsResult[] }
  | { type: 'progress'; done: number; total: number }
  | { type: 'statsDone'; elapsedMs: number; cached: boolean }
  | { type: 'failed'; message: string }
  | { type: 'reloading' }
  | ResponseMessage;

// ---- webview -> host ----
export type WebviewRequest =
  | { method: 'exportStatistics'; params: { format: 'json' | 'csv' } }
  | { method: 'openAsText'; params: Record<string, never> }
  | { method: 'recompute'; params: Record<string, never> }
  /** A lone shard of a sharded model: open the model's index instead (the host finds it). */
  | { method: 'openWholeModel'; params: Record<string, never> };

export type FromWebview = { type: 'ready' } | ({ type: 'request'; id: number } & WebviewRequest);

// ---- host/CLI -> worker ----
export type WorkerRequest =
  | { method: 'open'; params: { path: string } }
  | { method: 'stats'; params: { path: string; tensors: { index: number; ref: TensorRef }[]; options: StatsOptions } }
  /** Runs both models and compares outputs; resolves to a VerifyReport (core/verify/report.ts). */
  | { method: 'verify'; params: { original: string; variant: string; options: VerifySettings } }
  /**
   * Writes a compressed variant; resolves to a CompressFileResult (node/compress.ts) and streams
   * CompressProgress events. `cancelFlag` (shared memory) is set to 1 to stop the synchronous work.
   */
  | {
      method: 'compress';
      params: { input: string; spec: CompressSpec; output?: string; force?: boolean; cancelFlag?: Int32Array; goal?: FidelityGoal; calibration?: CalibrationSettings };
    }
  /**
   * Compresses each layer alone and runs the model on calibration inputs; resolves to a
   * SensitivityReport (core/compress/sensitivity.ts) and streams CompressProgress events.
   */
  | { method: 'sensitivity'; params: { path: string; spec: CompressSpec; calibration: CalibrationSettings & { fullRuns?: number } } };

/** Calibration inputs of a fidelity-aware run: plain data, so it crosses to a worker. */
export interface CalibrationSettings extends VerifySettings {
  heldOutInputs?: string[];
}

/** What compression with a fidelity goal aims at: a cosine to reach, or a size in bytes not to pass. */
export interface FidelityGoal {
  targetCosine?: number;
  sizeBudget?: number;
}

export interface CompressProgress {
  done: number;
  total: number;
  tensor: string;
}

export type ToWorker = ({ type: 'request'; id: number } & WorkerRequest) | { type: 'cancel'; id: number };

/** Worker replies: 'event' streams partial results of a request before its response. */
export type FromWorker = { type: 'event'; id: number; data: StatsResult | CompressProgress } | ResponseMessage;

export interface ResponseMessage {
  type: 'response';
  id: number;
  result?: unknown;
  error?: string;
  /** The error was the file's fault (InvalidModelError), not a bug. */
  invalidModel?: boolean;
  /** The request was cancelled by its sender. */
  cancelled?: boolean;
}

/** Validates a message from the webview before the host acts on it; returns null if malformed. */
export function parseFromWebview(message: unknown): FromWebview | null {
  if (typeof message !== 'object' || message === null) return null;
  const m = message as Record<string, unknown>;
  if (m.type === 'ready') return { type: 'ready' };
  if (m.type !== 'request' || !Number.isSafeInteger(m.id)) return null;
  const id = m.id as number;
  const params = (typeof m.params === 'object' && m.params !== null ? m.params : {}) as Record<string, unknown>;
  switch (m.method) {
    case 'exportStatistics':
      if (params.format !== 'json' && params.format !== 'csv') return null;
      return { type: 'request', id, method: 'exportStatistics', params: { format: params.format } };
    case 'openAsText':
    case 'recompute':
    case 'openWholeModel':
      return { type: 'request', id, method: m.method, params: {} };
    default:
      return null;
  }
}
