/**
 * Every message that crosses a boundary: extension host <-> webview, and host/CLI <-> worker.
 * Requests carry ids; a reply either resolves or (with `error`) rejects the pending promise.
 */
import type { Model, TensorRef } from '../core/model';
import type { StatsOptions, StatsResult } from '../core/stats/types';
import {
  isTargetCosine,
  LAYER_CHOICES,
  type CompressSpec,
  type LayerChoice,
} from '../core/compress/spec';
import type { VerifySettings } from '../core/verify/verify';
import type { CompressFileResult } from '../core/compress/report';
import type { SensitivityReport } from '../core/compress/sensitivity';
import type { MomentsState } from '../core/stats/compute';
import type { VerifyReport } from '../core/verify/report';
import type { MixedResultView, SensitivityView } from './sensitivityView';
import type { CalibrationView } from './calibration';

export type { CalibrationView };

/** A tensor as the webview sees it: no storage details. */
export type TensorView = Omit<TensorRef, 'storage'>;

/** The model as the webview sees it: tensors without storage, and no node wiring (otherNodes). */
export type ModelView = Omit<Model, 'tensors' | 'otherNodes'> & { tensors: TensorView[] };

export function toModelView(model: Model): ModelView {
  // The graph's wiring (value names, nodes without tensors) serves compression on the host, not the view.
  const { otherNodes: _otherNodes, ...rest } = model;
  return {
    ...rest,
    tensors: model.tensors.map(({ storage: _storage, ...t }) => t),
    layers: model.layers.map(({ inputs: _inputs, outputs: _outputs, lists: _lists, ...l }) => l),
  };
}

export type { StatsResult };

export interface ViewConfig {
  bins: number;
  nearZero: number;
}

/** Whether the Sensitivity tab can run for this model, and its defaults. */
export type SensitivityAvailability =
  /** `last`: the settings of this file's last scan in this window, whose result the host may still hold. */
  | { available: true; samples: number; last: ScanSettings | null }
  | { available: false; reason: string };

/** Storage methods a sensitivity scan compresses each layer with: every layer choice but 'float'. */
export type ScanMethod = Exclude<LayerChoice, 'float'>;
export const SCAN_METHODS = LAYER_CHOICES.filter((c): c is ScanMethod => c !== 'float');

/** What the Sensitivity tab runs on: one method, seeded random calibration inputs. */
export interface ScanSettings {
  method: ScanMethod;
  samples: number;
  seed: number;
}

/** Bounds on what the webview may ask for: a hostile page must not start a million runs or pin a million names. */
export const MAX_SCAN_SAMPLES = 1000;
export const MAX_PINS = 100_000;
const MAX_TENSOR_NAME = 4096;

// ---- host -> webview ----
export type ToWebview =
  | {
      type: 'model';
      fileName: string;
      model: ModelView;
      config: ViewConfig;
      sensitivity: SensitivityAvailability;
    }
  | { type: 'stats'; results: StatsResult[] }
  | { type: 'progress'; done: number; total: number }
  | { type: 'statsDone'; elapsedMs: number; cached: boolean }
  | { type: 'failed'; message: string }
  | { type: 'reloading' }
  /** A sensitivity scan or a mixed-precision run advanced; `what` names the step. */
  | { type: 'scanProgress'; done: number; total: number; what: string }
  /** The last Re-run's outcome, sent again after the webview was re-created (the report panel hid it meanwhile). */
  | { type: 'rerunResult'; result: MixedResultView }
  /** The user chose input files after a scan could not run on random inputs: scan again (the host feeds them). */
  | { type: 'rescan' }
  /** The calibration data the model's runs use, on load and whenever the choice changes. */
  | { type: 'calibration'; data: CalibrationView }
  | ResponseMessage;

// ---- webview -> host ----
export type WebviewRequest =
  | { method: 'exportStatistics'; params: { format: 'json' | 'csv' } }
  | { method: 'openAsText'; params: Record<string, never> }
  | { method: 'recompute'; params: Record<string, never> }
  /** A lone shard of a sharded model: open the model's index instead (the host finds it). */
  | { method: 'openWholeModel'; params: Record<string, never> }
  /** Resolves to a SensitivityView (extension/sensitivityView.ts), or null when cancelled or, with cachedOnly, not cached. */
  | { method: 'sensitivity'; params: ScanSettings & { cachedOnly: boolean } }
  | { method: 'cancelScan'; params: Record<string, never> }
  /** Opens Choose Calibration Data… for this model; resolves to true when the choice changed. */
  | { method: 'chooseData'; params: Record<string, never> }
  /**
   * Writes a variant with per-tensor overrides, next to the model like the compress commands; with
   * a goal, the overrides are pins and the fidelity search chooses the rest. Resolves to a
   * MixedResultView, or null when declined or cancelled.
   */
  | {
      method: 'compressMixed';
      params: ScanSettings & { overrides: Record<string, LayerChoice>; goal: FidelityGoal | null };
    };

/** What each webview request resolves to. */
export interface WebviewReplies {
  exportStatistics: string | null;
  openAsText: null;
  recompute: null;
  openWholeModel: null;
  sensitivity: SensitivityView | null;
  cancelScan: null;
  chooseData: boolean;
  compressMixed: MixedResultView | null;
}

export type WebviewMethod = WebviewRequest['method'];
export type WebviewParams<M extends WebviewMethod> = Extract<
  WebviewRequest,
  { method: M }
>['params'];

export type FromWebview = { type: 'ready' } | ({ type: 'request'; id: number } & WebviewRequest);

// ---- host/CLI -> worker ----
export type WorkerRequest =
  | { method: 'open'; params: { path: string } }
  | {
      method: 'stats';
      params: { path: string; tensors: { index: number; ref: TensorRef }[]; options: StatsOptions };
    }
  /**
   * One pass over a slice of a huge tensor (core/stats/compute.ts tensorSlice): without `range`,
   * resolves to its MomentsState; with the merged range, to its histogram counts.
   */
  | {
      method: 'statsSlice';
      params: { path: string; slice: TensorRef; options: StatsOptions; range?: [number, number] };
    }
  /** Runs both models and compares outputs; resolves to a VerifyReport (core/verify/report.ts). */
  | { method: 'verify'; params: { original: string; variant: string; options: VerifySettings } }
  /**
   * Writes a compressed variant; resolves to a CompressFileResult (node/compress.ts) and streams
   * CompressProgress events. `cancelFlag` (shared memory) is set to 1 to stop the synchronous work.
   */
  | {
      method: 'compress';
      params: {
        input: string;
        spec: CompressSpec;
        output?: string;
        force?: boolean;
        cancelFlag?: Int32Array;
        goal?: FidelityGoal;
        calibration?: CalibrationSettings;
      };
    }
  /**
   * Compresses each layer alone and runs the model on calibration inputs; resolves to a
   * SensitivityReport (core/compress/sensitivity.ts) and streams CompressProgress events.
   */
  | {
      method: 'sensitivity';
      params: {
        path: string;
        spec: CompressSpec;
        calibration: CalibrationSettings & { fullRuns?: number };
      };
    };

/** Calibration inputs of a fidelity-aware run: plain data, so it crosses to a worker. */
export interface CalibrationSettings extends VerifySettings {
  heldOutInputs?: string[];
  /** Data a fidelity goal checks on instead of a seeded half of `data` (images, recordings; same recipe). */
  heldOutData?: string[];
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

/** What each worker request resolves to (statsSlice: moments without `range`, histogram counts with it). */
export interface WorkerReplies {
  open: Model;
  stats: null;
  statsSlice: MomentsState | Uint32Array;
  verify: VerifyReport;
  compress: CompressFileResult;
  sensitivity: SensitivityReport;
}

export type WorkerMethod = WorkerRequest['method'];

export type ToWorker =
  ({ type: 'request'; id: number } & WorkerRequest) | { type: 'cancel'; id: number };

/** Worker replies: 'event' streams partial results of a request before its response. */
export type FromWorker =
  { type: 'event'; id: number; data: StatsResult | CompressProgress } | ResponseMessage;

export interface ResponseMessage {
  type: 'response';
  id: number;
  result?: unknown;
  error?: string;
  /** The error was the file's fault (InvalidModelError), not a bug. */
  invalidModel?: boolean;
  /** The model could not run on the inputs chosen for it (InputsRejectedError): other inputs are needed. */
  inputsRejected?: boolean;
  /** The request was cancelled by its sender. */
  cancelled?: boolean;
  /** The recipe file that could not be used (RecipeError): the message is its one line. */
  recipeFile?: string;
}

/** Validates a message from the webview before the host acts on it; returns null if malformed. */
export function parseFromWebview(message: unknown): FromWebview | null {
  if (typeof message !== 'object' || message === null) return null;
  const m = message as Record<string, unknown>;
  if (m.type === 'ready') return { type: 'ready' };
  if (m.type !== 'request' || !Number.isSafeInteger(m.id)) return null;
  const id = m.id as number;
  const params = (typeof m.params === 'object' && m.params !== null ? m.params : {}) as Record<
    string,
    unknown
  >;
  switch (m.method) {
    case 'exportStatistics':
      if (params.format !== 'json' && params.format !== 'csv') return null;
      return { type: 'request', id, method: 'exportStatistics', params: { format: params.format } };
    case 'openAsText':
    case 'recompute':
    case 'openWholeModel':
    case 'cancelScan':
    case 'chooseData':
      return { type: 'request', id, method: m.method, params: {} };
    case 'sensitivity': {
      const settings = parseScanSettings(params);
      if (!settings || typeof params.cachedOnly !== 'boolean') return null;
      return {
        type: 'request',
        id,
        method: 'sensitivity',
        params: { ...settings, cachedOnly: params.cachedOnly },
      };
    }
    case 'compressMixed': {
      const settings = parseScanSettings(params);
      const overrides = parseOverrides(params.overrides);
      const goal = params.goal === null ? null : parseGoal(params.goal);
      if (!settings || !overrides || goal === undefined) return null;
      return {
        type: 'request',
        id,
        method: 'compressMixed',
        params: { ...settings, overrides, goal },
      };
    }
    default:
      return null;
  }
}

/** A scan's method, samples (1..MAX_SCAN_SAMPLES) and seed, or null: requests and the webview's saved state alike. */
export function parseScanSettings(p: Record<string, unknown>): ScanSettings | null {
  const { method, samples, seed } = p;
  if (!SCAN_METHODS.includes(method as ScanMethod)) return null;
  if (
    !Number.isInteger(samples) ||
    (samples as number) < 1 ||
    (samples as number) > MAX_SCAN_SAMPLES
  )
    return null;
  if (!Number.isSafeInteger(seed) || (seed as number) < 0) return null;
  return { method: method as ScanMethod, samples: samples as number, seed: seed as number };
}

/** Tensor name → choice; names are checked against the model by the compressor, choices here. */
function parseOverrides(raw: unknown): Record<string, LayerChoice> | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const entries = Object.entries(raw);
  if (entries.length > MAX_PINS) return null;
  const out: Record<string, LayerChoice> = Object.create(null) as Record<string, LayerChoice>;
  for (const [name, choice] of entries) {
    if (!name || name.length > MAX_TENSOR_NAME || !LAYER_CHOICES.includes(choice as LayerChoice))
      return null;
    out[name] = choice as LayerChoice;
  }
  return out;
}

/** One goal: a target cosine in (0, 1] or a positive whole size in bytes; undefined when malformed. */
export function parseGoal(raw: unknown): FidelityGoal | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const g = raw as Record<string, unknown>;
  const keys = Object.keys(g);
  if (keys.length !== 1) return undefined;
  if (typeof g.targetCosine === 'number' && isTargetCosine(g.targetCosine))
    return { targetCosine: g.targetCosine };
  if (Number.isSafeInteger(g.sizeBudget) && (g.sizeBudget as number) > 0)
    return { sizeBudget: g.sizeBudget as number };
  return undefined;
}
