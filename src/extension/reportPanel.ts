/** The compression report panel: totals, fidelity, per-tensor table; writes a file only on "Save Report…". */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CalibrationStore } from './calibrationData';
import type { CompressOutcome } from './compressOutcome';
import { describeSpec } from './compressWizard';
import type { HessianComparison } from '../core/compress/hessianPlan';
import { capabilitiesOf, formatOfFileName } from '../core/formats/capabilities';
import type { FidelityResult } from '../core/compress/sensitivity';
import type { CalibrationView } from '../shared/calibration';
import {
  parseFromReport,
  toWire,
  type FidelityView,
  type HessianView,
  type ReportAction,
  type ReportView,
  type ToReport,
  type VerifyView,
} from '../shared/reportProtocol';
import { createToolPanel } from './toolPanel';

export const REPORT_VIEW_TYPE = 'modelLens.report';

export interface ReportDeps {
  extensionUri: vscode.Uri;
  log: vscode.LogOutputChannel;
  open(outcome: CompressOutcome): Thenable<unknown>;
  compare(outcome: CompressOutcome): void;
  reveal(outcome: CompressOutcome): Thenable<unknown>;
  /** Runs the check again on the original's calibration data as chosen now. */
  verifyAgain(outcome: CompressOutcome): Promise<void>;
  /** Choose Calibration Data… for the original, then Verify Again if the choice changed. */
  chooseData(outcome: CompressOutcome): Promise<void>;
  calibration: CalibrationStore;
}

function verifyView(outcome: CompressOutcome): VerifyView {
  const v = outcome.verify;
  if (v.state !== 'done') return v;
  const r = v.report;
  return {
    state: 'done',
    samples: r.samples,
    seed: r.seed,
    runtime: r.runtime,
    elapsedMs: r.elapsedMs,
    inputs: r.inputs,
    measuredOn: r.measuredOn,
    outputs: r.outputs.map((o) => ({
      name: o.name,
      cosine: toWire(o.cosine),
      cosineMin: toWire(o.cosineMin),
      relL2: toWire(o.relL2),
      relL2Max: toWire(o.relL2Max),
      maxAbs: toWire(o.maxAbs),
      top1: o.top1,
      top1Rows: o.top1Rows,
      nonFinite: o.nonFinite,
    })),
    warnings: r.warnings,
  };
}

/**
 * The report as the webview shows it: no histograms (the Compare view has them), non-finite numbers
 * tagged; `calibration` is what Verify Again would feed the original (absent when it cannot run).
 */
export function reportView(outcome: CompressOutcome, calibration?: CalibrationView): ReportView {
  const { result } = outcome;
  const r = result.report;
  return {
    inputName: path.basename(result.input),
    outputName: path.basename(result.output),
    folder: path.dirname(result.output),
    methods: r.methods,
    summary: describeSpec(outcome.spec),
    elapsedMs: result.elapsedMs,
    totals: r.totals,
    entropy: r.entropy,
    tensors: r.tensors.map((t) => ({
      name: t.name,
      layer: t.layer,
      op: t.op,
      method: t.method,
      bytesBefore: t.bytesBefore,
      bytesAfter: t.bytesAfter,
      mse: toWire(t.mse),
      sqnrDb: toWire(t.sqnrDb),
      maxAbs: toWire(t.maxAbs),
      cosine: toWire(t.cosine),
      sparsity: toWire(t.sparsity),
      ...(t.note ? { note: t.note } : {}),
    })),
    skipped: r.skipped.map((s) => ({ name: s.name, reason: s.reason })),
    warnings: r.warnings,
    verify: verifyView(outcome),
    verdict: outcome.verdict,
    ...(r.hessian ? { hessian: hessianView(r.hessian) } : {}),
    ...(r.fidelity ? { fidelity: fidelityView(r.fidelity) } : {}),
    ...(r.structure ? { structure: r.structure } : {}),
    ...(calibration ? { calibration } : {}),
  };
}

function hessianView(h: HessianComparison): HessianView {
  const wire = (x: number | undefined) => (x === undefined ? undefined : toWire(x));
  return {
    ...h,
    tensors: h.tensors.map((t) => ({
      name: t.name,
      hessian: t.hessian,
      outputError: wire(t.outputError),
      magnitudeOutputError: wire(t.magnitudeOutputError),
      ...(t.note ? { note: t.note } : {}),
    })),
    outputs: h.outputs.map((o) => ({
      name: o.name,
      cosine: toWire(o.cosine),
      relL2: toWire(o.relL2),
      magnitudeCosine: toWire(o.magnitudeCosine),
      magnitudeRelL2: toWire(o.magnitudeRelL2),
    })),
  };
}

function fidelityView(f: FidelityResult): FidelityView {
  const measured = (x: { cosine: number; relL2: number; measuredOn: string }) => ({
    cosine: toWire(x.cosine),
    relL2: toWire(x.relL2),
    measuredOn: x.measuredOn,
  });
  const pinned = new Set(f.pinned ?? []);
  return {
    goal: f.goal,
    met: f.met,
    runs: f.runs,
    calibration: measured(f.calibration),
    ...(f.heldOut ? { heldOut: measured(f.heldOut) } : {}),
    choices: f.choices.map((c) => ({ ...c, pinned: pinned.has(c.tensor) })),
    warnings: f.warnings,
  };
}

/** The same JSON as `model-lens compress --json`, so saved reports and CLI output compare directly. */
export function reportJson(outcome: CompressOutcome): string {
  const { result, verify, verdict } = outcome;
  const body = {
    input: result.input,
    output: result.output,
    elapsedMs: result.elapsedMs,
    ...result.report,
    ...(verify.state === 'done' ? { verify: verify.report } : {}),
    verdict,
  };
  return JSON.stringify(body, null, 1) + '\n';
}

/** Asks where to save (default: next to the variant) and writes the report; returns the file written. */
export async function saveReport(outcome: CompressOutcome): Promise<vscode.Uri | undefined> {
  const output = outcome.result.output;
  const stem = path.basename(output, path.extname(output));
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(path.join(path.dirname(output), `${stem}.report.json`)),
    filters: { JSON: ['json'] },
    title: 'Save Compression Report',
  });
  if (!target) return undefined;
  await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(reportJson(outcome)));
  void vscode.window
    .showInformationMessage(`Model Lens: report saved to ${path.basename(target.fsPath)}.`, 'Open')
    .then((c) => {
      if (c === 'Open') void vscode.window.showTextDocument(target);
    });
  return target;
}

/** One panel per variant: running the same compression again refreshes it. */
export class ReportPanel {
  private static readonly panels = new Map<string, ReportPanel>();

  static show(deps: ReportDeps, outcome: CompressOutcome): ReportPanel {
    const key = outcome.result.output;
    const existing = ReportPanel.panels.get(key);
    if (existing) {
      existing.outcome = outcome;
      existing.post();
      existing.panel.reveal();
      return existing;
    }
    const panel = new ReportPanel(deps, outcome);
    ReportPanel.panels.set(key, panel);
    return panel;
  }

  readonly panel: vscode.WebviewPanel;

  private constructor(
    private readonly deps: ReportDeps,
    private outcome: CompressOutcome,
  ) {
    this.panel = createToolPanel(
      deps.extensionUri,
      REPORT_VIEW_TYPE,
      `Report: ${path.basename(outcome.result.output)}`,
      'report',
    );
    const w = this.panel.webview;
    const sub = w.onDidReceiveMessage((m) => this.onMessage(m));
    // The line under Verify Again says what it would feed: it follows the choice wherever it is made.
    const data = deps.calibration.onDidChange((model) => {
      if (model === path.resolve(this.outcome.result.input)) this.post();
    });
    this.panel.onDidDispose(() => {
      sub.dispose();
      data.dispose();
      if (ReportPanel.panels.get(outcome.result.output) === this)
        ReportPanel.panels.delete(outcome.result.output);
    });
  }

  private post(): void {
    const input = this.outcome.result.input;
    const runnable = capabilitiesOf(formatOfFileName(input) ?? '').runnable;
    void this.panel.webview.postMessage({
      type: 'report',
      report: reportView(this.outcome, runnable ? this.deps.calibration.view(input) : undefined),
    } satisfies ToReport);
  }

  private onMessage(raw: unknown): void {
    const message = parseFromReport(raw);
    if (!message) {
      this.deps.log.warn(
        `ignored a malformed message from the report webview: ${JSON.stringify(raw)?.slice(0, 200)}`,
      );
      return;
    }
    if (message.type === 'ready') this.post();
    else void this.act(message.action);
  }

  private async act(action: ReportAction): Promise<void> {
    try {
      switch (action) {
        case 'save':
          await saveReport(this.outcome);
          break;
        case 'open':
          await this.deps.open(this.outcome);
          break;
        case 'compare':
          this.deps.compare(this.outcome);
          break;
        case 'reveal':
          await this.deps.reveal(this.outcome);
          break;
        case 'verify':
          await this.deps.verifyAgain(this.outcome);
          break;
        case 'chooseData':
          await this.deps.chooseData(this.outcome);
          break;
      }
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.deps.log.error(`report ${action} for ${this.outcome.result.output}: ${reason}`);
      void vscode.window.showErrorMessage(
        `Model Lens: ${path.basename(this.outcome.result.output)}: ${reason.split('\n')[0]}`,
      );
    }
  }
}
