/**
 * The Compare view: original and variant side by side, tensor by tensor, with overlaid histograms.
 * A pair compressed in this session shows the report's metrics and original-vs-reconstructed
 * histograms; any other pair gets both files' statistics, computed in the workers.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CancelledError } from '../core/errors';
import type { Model } from '../core/model';
import type { ModelService } from '../node/modelService';
import { compareRows, sideView } from './compareRows';
import type { CompressOutcome } from './compressOutcome';
import { describeSpec } from './compressWizard';
import { parseFromCompare, type CompareAction, type ToCompare } from '../shared/reportProtocol';
import { statsOptions } from './settings';
import { createToolPanel } from './toolPanel';

export const COMPARE_VIEW_TYPE = 'modelLens.compare';
/** Statistics reach the webview in batches at most this often. */
const BATCH_MS = 100;

export interface CompareDeps {
  extensionUri: vscode.Uri;
  service: ModelService;
  log: vscode.LogOutputChannel;
  outcomeFor(original: string, variant: string): CompressOutcome | undefined;
  openModel(uri: vscode.Uri): Thenable<unknown>;
  showReport(outcome: CompressOutcome): void;
}

export class ComparePanel {
  private static readonly panels = new Map<string, ComparePanel>();

  static show(deps: CompareDeps, original: vscode.Uri, variant: vscode.Uri): ComparePanel {
    const key = `${original.fsPath}\0${variant.fsPath}`;
    const existing = ComparePanel.panels.get(key);
    if (existing) {
      existing.panel.reveal();
      void existing.load();
      return existing;
    }
    const panel = new ComparePanel(deps, original, variant);
    ComparePanel.panels.set(key, panel);
    return panel;
  }

  readonly panel: vscode.WebviewPanel;
  private loading: AbortController | undefined;
  private outcome: CompressOutcome | undefined;

  private constructor(
    private readonly deps: CompareDeps,
    readonly original: vscode.Uri,
    readonly variant: vscode.Uri,
  ) {
    this.panel = createToolPanel(
      deps.extensionUri,
      COMPARE_VIEW_TYPE,
      `${path.basename(original.fsPath)} ↔ ${path.basename(variant.fsPath)}`,
      'compare',
    );
    const w = this.panel.webview;
    const sub = w.onDidReceiveMessage((m) => this.onMessage(m));
    this.panel.onDidDispose(() => {
      sub.dispose();
      this.loading?.abort();
      const key = `${original.fsPath}\0${variant.fsPath}`;
      if (ComparePanel.panels.get(key) === this) ComparePanel.panels.delete(key);
    });
  }

  private post(message: ToCompare): void {
    void this.panel.webview.postMessage(message);
  }

  private onMessage(raw: unknown): void {
    const message = parseFromCompare(raw);
    if (!message) {
      this.deps.log.warn(
        `ignored a malformed message from the Compare webview: ${JSON.stringify(raw)?.slice(0, 200)}`,
      );
      return;
    }
    if (message.type === 'ready') void this.load();
    else void this.act(message.action);
  }

  private async act(action: CompareAction): Promise<void> {
    switch (action) {
      case 'openOriginal':
        await this.deps.openModel(this.original);
        break;
      case 'openVariant':
        await this.deps.openModel(this.variant);
        break;
      case 'showReport':
        if (this.outcome) this.deps.showReport(this.outcome);
        break;
      case 'swap':
        ComparePanel.show(this.deps, this.variant, this.original);
        this.panel.dispose();
        break;
    }
  }

  /** Structure of both files first, then metrics from the report or statistics streamed from the workers. */
  async load(): Promise<void> {
    this.loading?.abort();
    const controller = new AbortController();
    this.loading = controller;
    const [a, b] = [this.original.fsPath, this.variant.fsPath];
    try {
      const [original, variant] = await Promise.all([
        this.deps.service.open(a),
        this.deps.service.open(b),
      ]);
      if (controller.signal.aborted) return;
      this.outcome = this.deps.outcomeFor(a, b);
      const report = this.outcome?.result.report;
      const options = statsOptions();
      const { rows, histograms } = compareRows(original, variant, report);
      this.post({
        type: 'compare',
        view: {
          original: sideView(a, original),
          variant: sideView(b, variant),
          rows,
          source: report ? 'report' : 'stats',
          methods: this.outcome ? describeSpec(this.outcome.spec) : undefined,
          bins: options.bins,
        },
      });
      if (report) {
        this.post({ type: 'histograms', items: histograms });
      }
      // Statistics of both sides fill in the facts (and, without a report, the histograms).
      const total = original.tensors.length + variant.tensors.length;
      let done = 0;
      for (const [side, file, model] of [
        ['original', a, original],
        ['variant', b, variant],
      ] as const) {
        done += await this.streamStats(side, file, model, options, controller.signal, done, total);
        if (controller.signal.aborted) return;
      }
      this.post({ type: 'statsDone' });
    } catch (err) {
      if (err instanceof CancelledError || controller.signal.aborted) return;
      const reason = err instanceof Error ? err.message : String(err);
      this.deps.log.error(`compare ${a} with ${b}: ${reason}`);
      this.post({ type: 'failed', message: reason });
    }
  }

  private async streamStats(
    side: 'original' | 'variant',
    file: string,
    model: Model,
    options: ReturnType<typeof statsOptions>,
    signal: AbortSignal,
    before: number,
    total: number,
  ): Promise<number> {
    const cached = this.deps.service.cachedStats(file, options);
    if (cached) {
      this.post({ type: 'stats', side, results: cached.filter(Boolean) });
      this.post({ type: 'progress', done: before + model.tensors.length, total });
      return model.tensors.length;
    }
    await this.deps.service.statsInBatches(
      file,
      model,
      options,
      (results, done) => {
        this.post({ type: 'stats', side, results });
        this.post({ type: 'progress', done: before + done, total });
      },
      signal,
      BATCH_MS,
    );
    return model.tensors.length;
  }
}
