/**
 * The Sensitivity tab's data as it crosses to the webview. Pure (no vscode, no DOM): the webview
 * bundle imports the types. Numbers that may be non-finite (the SQNR of an exact layer) travel as tags.
 */
import type { LayerSensitivity, SensitivityReport } from '../core/compress/sensitivity';
import type { CompressReport } from '../core/compress/report';
import type { VerifyReport } from '../core/verify/report';
import { verdictHeadline, type Verdict } from '../core/compress/verdict';
import { toWire, type WireNumber } from './reportProtocol';

export interface SensitivityRowView extends Pick<
  LayerSensitivity,
  'tensor' | 'layer' | 'op' | 'bytesBefore' | 'bytesAfter'
> {
  /** Output damage with only this layer compressed; absent when the layer got no full run. */
  outCosine?: WireNumber;
  outRelL2?: WireNumber;
  sqnrDb: WireNumber;
  /** ‖XΔW‖/‖XW‖ on the calibration activations, where the op allows it. */
  actError?: WireNumber;
  min: WireNumber;
  max: WireNumber;
  outlierRatio: WireNumber;
  kurtosis: WireNumber;
}

export interface SensitivityView {
  method: string;
  samples: number;
  seed: number;
  /** What the output figures were measured on, in one line (SensitivityReport.measuredOn). */
  measuredOn: string;
  runtime: string;
  elapsedMs: number;
  fullRuns: number;
  fileBytesBefore: number;
  all?: { cosine: WireNumber; relL2: WireNumber; fileBytesAfter: number };
  /** Worst first, as the scan ranked them. */
  rows: SensitivityRowView[];
  warnings: string[];
}

export function toSensitivityView(r: SensitivityReport): SensitivityView {
  return {
    method: r.suffix,
    samples: r.samples,
    seed: r.seed,
    measuredOn: r.measuredOn,
    runtime: r.runtime,
    elapsedMs: r.elapsedMs,
    fullRuns: r.fullRuns,
    fileBytesBefore: r.fileBytesBefore,
    all: r.all && {
      cosine: toWire(r.all.cosine),
      relL2: toWire(r.all.relL2),
      fileBytesAfter: r.all.fileBytesAfter,
    },
    rows: r.layers.map((l) => ({
      tensor: l.tensor,
      layer: l.layer,
      op: l.op,
      bytesBefore: l.bytesBefore,
      bytesAfter: l.bytesAfter,
      ...(l.output ? { outCosine: toWire(l.output.cosine), outRelL2: toWire(l.output.relL2) } : {}),
      sqnrDb: toWire(l.weight.sqnrDb),
      ...(l.weight.activationError !== undefined
        ? { actError: toWire(l.weight.activationError) }
        : {}),
      min: toWire(l.shape.min),
      max: toWire(l.shape.max),
      outlierRatio: toWire(l.shape.outlierRatio),
      kurtosis: toWire(l.shape.kurtosis),
    })),
    warnings: r.warnings,
  };
}

/** What a Re-run wrote and measured, for the tab's result line and the per-layer choices. */
export interface MixedResultView {
  outputName: string;
  fileBytesBefore: number;
  fileBytesAfter: number;
  ratio: number;
  /** From the fidelity search (calibration and held-out inputs) or, without a goal, from verification. */
  cosine?: WireNumber;
  relL2?: WireNumber;
  heldOutCosine?: WireNumber;
  /** What `cosine` was measured on (the search's calibration inputs, or verification's). */
  measuredOn?: string;
  met?: boolean;
  /** The verdict's headline when the variant's outputs moved past the threshold or it could not be verified. */
  problem?: string;
  /** With a goal, the precision the search gave every compressed tensor; without one, the tab's choices stand. */
  choices: { tensor: string; choice: string }[];
}

export function toMixedResult(
  outputName: string,
  report: CompressReport,
  verify: VerifyReport | undefined,
  verdict: Verdict,
): MixedResultView {
  const f = report.fidelity;
  const worst = verify?.outputs.length
    ? verify.outputs.reduce((a, o) => (o.cosine < a.cosine ? o : a))
    : undefined;
  const measured = f ? f.calibration : worst;
  const on = f ? f.calibration.measuredOn : verify?.measuredOn;
  return {
    outputName,
    fileBytesBefore: report.totals.fileBytesBefore,
    fileBytesAfter: report.totals.fileBytesAfter,
    ratio: report.totals.ratio,
    ...(measured ? { cosine: toWire(measured.cosine), relL2: toWire(measured.relL2) } : {}),
    ...(f?.heldOut ? { heldOutCosine: toWire(f.heldOut.cosine) } : {}),
    ...(measured && on ? { measuredOn: on } : {}),
    ...(f ? { met: f.met } : {}),
    ...(verdict.state === 'poor' || verdict.state === 'failed'
      ? { problem: verdictHeadline(verdict) }
      : {}),
    choices: f ? f.choices : [],
  };
}
