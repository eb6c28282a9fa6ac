/**
 * Messages between the host and the compression report and Compare webviews. Pure (no vscode, no
 * DOM): the webview bundles import it too. Numbers that may be non-finite (SQNR of an exact
 * tensor is +Infinity) travel as tags, because webview messages are JSON and JSON has no Infinity.
 */
import type { CompressReport, StructureReport, TensorResult } from '../core/compress/report';
import type { StatsResult } from '../core/stats/types';
import type { Verdict, VerifyOutcome } from '../core/compress/verdict';
import type { CalibrationView } from './calibration';

export type NonFiniteTag = 'Infinity' | '-Infinity' | 'NaN';
export type WireNumber = number | NonFiniteTag;

export function toWire(x: number): WireNumber {
  if (Number.isFinite(x)) return x;
  return Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity';
}

export function fromWire(x: WireNumber | undefined): number {
  if (typeof x === 'number') return x;
  return x === 'Infinity' ? Infinity : x === '-Infinity' ? -Infinity : NaN;
}

/** "3.9x smaller", honest about variants that did not shrink. */
export function describeRatio(ratio: number): string {
  if (!(ratio > 0) || !Number.isFinite(ratio)) return 'size unknown';
  if (ratio >= 1.05) return `${ratio.toFixed(ratio >= 10 ? 0 : 1)}x smaller`;
  if (ratio <= 1 / 1.05) return `${(1 / ratio).toFixed(1)}x larger`;
  const pct = (1 - 1 / ratio) * 100;
  return Math.abs(pct) < 0.05
    ? 'same size'
    : `${Math.abs(pct).toFixed(1)}% ${pct > 0 ? 'smaller' : 'larger'}`;
}

export { formatCosine } from '../core/compress/verdict';

/** Per-tensor error metrics of reconstructed vs original weights. */
export interface MetricsView {
  mse: WireNumber;
  sqnrDb: WireNumber;
  maxAbs: WireNumber;
  cosine: WireNumber;
  sparsity: WireNumber;
}

/** A report row on the wire: the core's TensorResult with its metrics JSON-safe and no histograms (the Compare view shows those). */
export type ReportTensorView = MetricsView &
  Pick<TensorResult, 'name' | 'layer' | 'op' | 'method' | 'bytesBefore' | 'bytesAfter' | 'note'>;

export interface VerifyOutputView {
  name: string;
  cosine: WireNumber;
  cosineMin: WireNumber;
  relL2: WireNumber;
  relL2Max: WireNumber;
  maxAbs: WireNumber;
  /** Fraction of rows whose argmax agrees, for classifier-shaped outputs. */
  top1?: number;
  top1Rows?: number;
  nonFinite: number;
}

/** What became of the fidelity check after writing. */
export type VerifyView =
  | {
      state: 'done';
      samples: number;
      seed: number;
      runtime: string;
      elapsedMs: number;
      inputs: { name: string; dtype: string; shape: number[]; source: string }[];
      /** What the outputs were compared on, in one line (VerifyReport.measuredOn). */
      measuredOn: string;
      outputs: VerifyOutputView[];
      warnings: string[];
    }
  | Exclude<VerifyOutcome, { state: 'done' }>;

/** Hessian pruning against magnitude pruning at the same sparsity (errors are relative: ‖Δ‖ / ‖original‖). */
export interface HessianView {
  sparsity: number;
  compensate: boolean;
  samples: number;
  inputs: 'random' | 'files';
  evaluation: 'held-out' | 'calibration';
  /** What the model outputs were measured on, in one line. */
  measuredOn: string;
  tensors: {
    name: string;
    hessian: string;
    outputError?: WireNumber;
    magnitudeOutputError?: WireNumber;
    note?: string;
  }[];
  outputs: {
    name: string;
    cosine: WireNumber;
    relL2: WireNumber;
    magnitudeCosine: WireNumber;
    magnitudeRelL2: WireNumber;
  }[];
}

/** A fidelity goal's choices and measurements (the spec's overrides were pins). */
export interface FidelityView {
  goal: { targetCosine?: number; sizeBudget?: number };
  met: boolean;
  runs: number;
  calibration: { cosine: WireNumber; relL2: WireNumber; measuredOn: string };
  heldOut?: { cosine: WireNumber; relL2: WireNumber; measuredOn: string };
  choices: { tensor: string; choice: string; pinned: boolean }[];
  warnings: string[];
}

export interface ReportView {
  inputName: string;
  outputName: string;
  /** Folder of both files, for the header. */
  folder: string;
  methods: string[];
  /** One line of options, e.g. "per channel · symmetric". */
  summary: string;
  elapsedMs: number;
  totals: CompressReport['totals'];
  entropy: CompressReport['entropy'];
  tensors: ReportTensorView[];
  skipped: { name: string; reason: string }[];
  warnings: string[];
  verify: VerifyView;
  /** The headline fidelity and, below the threshold, the suspects and what to try (plain finite numbers). */
  verdict: Verdict;
  hessian?: HessianView;
  fidelity?: FidelityView;
  /** A structural method's changes: parameters, multiply-adds, latency, groups cut and left whole (plain finite numbers). */
  structure?: StructureReport;
  /** What Verify Again feeds the original now; absent when it cannot run (weights-only formats). */
  calibration?: CalibrationView;
}

export type ToReport = { type: 'report'; report: ReportView };

export const REPORT_ACTIONS = [
  'save',
  'open',
  'compare',
  'reveal',
  'verify',
  'chooseData',
] as const;
export type ReportAction = (typeof REPORT_ACTIONS)[number];
export type FromReport = { type: 'ready' } | { type: 'action'; action: ReportAction };

// ---- Compare view ----

export interface CompareSideView {
  name: string;
  folder: string;
  fileBytes: number;
  tensors: number;
  parameters: number;
  opsets: string;
}

export interface TensorSideView {
  dtype: number;
  dims: number[];
  /** Storage bytes; on the variant side the sum of every tensor that stores this one. */
  bytes: number;
  /** Names of the variant tensors that hold it (itself, or derived `name::q`, `name::scale`, ...). */
  storedAs: string[];
  /** Tensor whose statistics stand for this side in an overlay, or null when none is comparable. */
  statsIndex: number | null;
}

export type CompareStatus = 'compressed' | 'skipped' | 'same' | 'changed' | 'removed' | 'added';

export interface CompareRowView {
  name: string;
  layer: string;
  op: string;
  status: CompareStatus;
  original: TensorSideView | null;
  variant: TensorSideView | null;
  /** From the compression report, when there is one for this pair. */
  method?: string;
  metrics?: MetricsView;
  /** Why the tensor was skipped, or a note of the method. */
  note?: string;
}

/** Original and reconstructed histograms over the same bins (from the compression report). */
export interface PairedHistogramView {
  row: number;
  min: number;
  max: number;
  original: Uint32Array;
  variant: Uint32Array;
}

export interface CompareView {
  original: CompareSideView;
  variant: CompareSideView;
  rows: CompareRowView[];
  /** 'report': metrics and histograms from this session's compression; 'stats': computed from both files. */
  source: 'report' | 'stats';
  methods?: string;
  bins: number;
}

export type ToCompare =
  | { type: 'compare'; view: CompareView }
  | { type: 'histograms'; items: PairedHistogramView[] }
  | { type: 'stats'; side: 'original' | 'variant'; results: StatsResult[] }
  | { type: 'progress'; done: number; total: number }
  | { type: 'statsDone' }
  | { type: 'failed'; message: string };

export const COMPARE_ACTIONS = ['openOriginal', 'openVariant', 'showReport', 'swap'] as const;
export type CompareAction = (typeof COMPARE_ACTIONS)[number];
export type FromCompare = { type: 'ready' } | { type: 'action'; action: CompareAction };

function parseAction<A extends string>(
  message: unknown,
  actions: readonly A[],
): { type: 'ready' } | { type: 'action'; action: A } | null {
  if (typeof message !== 'object' || message === null) return null;
  const m = message as Record<string, unknown>;
  if (m.type === 'ready') return { type: 'ready' };
  if (
    m.type === 'action' &&
    typeof m.action === 'string' &&
    (actions as readonly string[]).includes(m.action)
  ) {
    return { type: 'action', action: m.action as A };
  }
  return null;
}

/** Validates a message from the report webview; null if malformed. */
export function parseFromReport(message: unknown): FromReport | null {
  return parseAction(message, REPORT_ACTIONS);
}

/** Validates a message from the Compare webview; null if malformed. */
export function parseFromCompare(message: unknown): FromCompare | null {
  return parseAction(message, COMPARE_ACTIONS);
}
