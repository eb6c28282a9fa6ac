import * as path from 'node:path';
import * as vscode from 'vscode';
import { RecipeError } from '../core/data/recipe';
import { CancelledError } from '../core/errors';
import { InputsRejectedError } from '../core/verify/tensor';
import { SHARD_OF_PROPERTY, type Model } from '../core/model';
import { capabilitiesOf } from '../core/formats/capabilities';
import type { StatsResult } from '../core/stats/types';
import type { ModelService } from '../node/modelService';
import { normaliseSpec, type CompressSpec } from '../core/compress/spec';
import type { MethodOptions } from '../core/compress/types';
import {
  parseFromWebview,
  toModelView,
  type FromWebview,
  type ScanSettings,
  type SensitivityAvailability,
  type ToWebview,
  type WebviewMethod,
  type WebviewParams,
  type WebviewReplies,
} from '../shared/protocol';
import type { CompressOutcome } from './compressOutcome';
import { compressDefaults } from './compressSettings';
import { exportStatistics } from './exportStats';
import type { CalibrationStore } from './calibrationData';
import { offerCalibrationData, recipeLine, showRecipeError } from './calibrationPicker';
import {
  toMixedResult,
  toSensitivityView,
  type MixedResultView,
  type SensitivityView,
} from '../shared/sensitivityView';
import { statsOptions } from './settings';
import { inspectorHtml, makeNonce } from './webviewHtml';

export const INSPECTOR_VIEW_TYPE = 'modelLens.inspector';

/** Statistics reach the webview in batches at most this often, so many small tensors do not flood it. */
const BATCH_MS = 100;
/** A burst of file-change events (a writer appending) triggers one reload after this quiet period. */
const RELOAD_DEBOUNCE_MS = 300;

/** Settings of each file's last scan: a reopened editor (no saved webview state) shows that scan's cached result. */
const lastScans = new Map<string, ScanSettings>();

class ModelDocument implements vscode.CustomDocument {
  constructor(readonly uri: vscode.Uri) {}
  dispose(): void {}
}

/** One open inspector panel: loads the model, streams statistics, answers the webview. */
export class InspectorSession implements vscode.Disposable {
  model: Model | undefined;
  results: (StatsResult | undefined)[] = [];
  statsComplete = false;
  private loading: AbortController | undefined;
  private scan: AbortController | undefined;
  /** The last Re-run's outcome: the report panel usually covers this tab, so its webview is re-created and asks again. */
  private lastRerun: MixedResultView | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private reloadTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly uri: vscode.Uri,
    readonly panel: vscode.WebviewPanel,
    private readonly service: ModelService,
    private readonly log: vscode.LogOutputChannel,
    private readonly calibration: CalibrationStore,
  ) {
    this.disposables.push(panel.webview.onDidReceiveMessage((m) => this.onMessage(m)));
    this.disposables.push(
      calibration.onDidChange((model) => {
        if (model === path.resolve(uri.fsPath)) this.postCalibration();
      }),
    );
    const watcher = vscode.workspace.createFileSystemWatcher(
      new vscode.RelativePattern(vscode.Uri.joinPath(uri, '..'), path.basename(uri.fsPath)),
    );
    this.disposables.push(
      watcher,
      watcher.onDidChange(() => this.scheduleReload()),
      watcher.onDidCreate(() => this.scheduleReload()),
    );
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        // Only the statistics settings change what the panel shows; compression defaults do not.
        if (
          e.affectsConfiguration('modelLens.histogramBins') ||
          e.affectsConfiguration('modelLens.nearZeroThreshold')
        )
          void this.load();
      }),
    );
  }

  private post(message: ToWebview): void {
    void this.panel.webview.postMessage(message);
  }

  private postCalibration(): void {
    if (this.model && capabilitiesOf(this.model.format).runnable)
      this.post({ type: 'calibration', data: this.calibration.view(this.uri.fsPath) });
  }

  private onMessage(raw: unknown): void {
    const message = parseFromWebview(raw);
    if (!message) {
      this.log.warn(
        `ignored a malformed message from the inspector webview: ${JSON.stringify(raw)?.slice(0, 200)}`,
      );
      return;
    }
    if (message.type === 'ready') {
      void this.load();
      return;
    }
    this.handleRequest(message).then(
      (result) => this.post({ type: 'response', id: message.id, result }),
      (err: unknown) =>
        this.post({
          type: 'response',
          id: message.id,
          error: err instanceof Error ? err.message : String(err),
        }),
    );
  }

  /** One handler per webview request, each typed with what its request resolves to (shared/protocol WebviewReplies). */
  private readonly handlers: {
    [M in WebviewMethod]: (params: WebviewParams<M>) => Promise<WebviewReplies[M]>;
  } = {
    exportStatistics: async ({ format }) => (await this.export(format))?.toString() ?? null,
    openAsText: async () => {
      await vscode.commands.executeCommand('vscode.openWith', this.uri, 'default');
      return null;
    },
    recompute: async () => {
      this.service.forget(this.uri.fsPath);
      await this.load();
      return null;
    },
    sensitivity: (params) => this.sensitivity(params, params.cachedOnly),
    cancelScan: async () => {
      this.scan?.abort();
      return null;
    },
    chooseData: async () =>
      (await vscode.commands.executeCommand<boolean>('modelLens.chooseData', this.uri)) === true,
    compressMixed: (params) => this.compressMixed(params),
    openWholeModel: async () => {
      // The index name comes from the model as read, never from the webview, and must sit beside it.
      const index = this.model?.metadata.properties.find((p) => p.key === SHARD_OF_PROPERTY)?.value;
      if (!index || index !== path.basename(index))
        throw new Error('this file is not a shard of a sharded model');
      await vscode.commands.executeCommand(
        'vscode.openWith',
        vscode.Uri.joinPath(this.uri, '..', index),
        INSPECTOR_VIEW_TYPE,
      );
      return null;
    },
  };

  private handleRequest(message: Extract<FromWebview, { type: 'request' }>): Promise<unknown> {
    return (this.handlers[message.method] as (params: unknown) => Promise<unknown>)(message.params);
  }

  /** The scan's spec: one storage method with the compression settings' options, as the Compress commands use them. */
  private scanSpec(method: ScanSettings['method']): CompressSpec {
    const d = compressDefaults();
    const options: MethodOptions =
      method === 'int8'
        ? { granularity: d.granularity }
        : method === 'int4'
          ? { blockSize: d.blockSize }
          : method === 'cluster'
            ? { clusters: d.clusters }
            : {};
    return normaliseSpec({ methods: [method], options });
  }

  private async sensitivity(
    settings: ScanSettings,
    cachedOnly: boolean,
  ): Promise<SensitivityView | null> {
    if (!capabilitiesOf(this.model?.format ?? '').runnable)
      throw new Error(
        'sensitivity analysis runs the model in onnxruntime, so it needs an ONNX file',
      );
    const file = this.uri.fsPath;
    const spec = this.scanSpec(settings.method);
    // The samples setting caps data too: the scan runs the model once per layer and sample.
    const calibration = {
      samples: settings.samples,
      seed: settings.seed,
      ...this.calibration.settings(file),
    };
    if (cachedOnly) {
      const hit = this.service.cachedSensitivity(file, spec, calibration);
      return hit ? toSensitivityView(hit) : null;
    }
    this.scan?.abort();
    const controller = new AbortController();
    this.scan = controller;
    const started = performance.now();
    try {
      const report = await this.service.sensitivity(
        file,
        spec,
        calibration,
        (p) => this.post({ type: 'scanProgress', done: p.done, total: p.total, what: p.tensor }),
        controller.signal,
      );
      lastScans.set(file, {
        method: settings.method,
        samples: settings.samples,
        seed: settings.seed,
      });
      this.log.info(
        `${path.basename(file)}: sensitivity to ${settings.method} over ${report.layers.length} layers in ${(performance.now() - started).toFixed(0)} ms`,
      );
      return toSensitivityView(report);
    } catch (err) {
      if (err instanceof CancelledError || controller.signal.aborted) return null;
      if (err instanceof InputsRejectedError)
        offerCalibrationData(this.calibration, file, err.message, () =>
          this.post({ type: 'rescan' }),
        );
      if (err instanceof RecipeError) {
        showRecipeError(err);
        // The tab's banner names the recipe file too, as the notification does.
        throw new Error(recipeLine(err));
      }
      throw err;
    } finally {
      if (this.scan === controller) this.scan = undefined;
    }
  }

  /** Writes a variant through the Compress command: same overwrite question, progress, report panel and output name. */
  private async compressMixed(
    p: ScanSettings & {
      overrides: CompressSpec['overrides'];
      goal: { targetCosine?: number; sizeBudget?: number } | null;
    },
  ): Promise<MixedResultView | null> {
    const spec = { ...this.scanSpec(p.method), overrides: p.overrides };
    const outcome = await vscode.commands.executeCommand<CompressOutcome | undefined>(
      'modelLens.compress',
      this.uri,
      {
        spec,
        ...(p.goal ? { goal: p.goal } : {}),
        // The Compress command adds the model's calibration data.
        calibration: { samples: p.samples, seed: p.seed },
      },
    );
    if (!outcome) return null;
    this.lastRerun = toMixedResult(
      path.basename(outcome.result.output),
      outcome.result.report,
      outcome.verify.state === 'done' ? outcome.verify.report : undefined,
      outcome.verdict,
    );
    this.post({ type: 'rerunResult', result: this.lastRerun });
    return this.lastRerun;
  }

  async export(format: 'json' | 'csv'): Promise<vscode.Uri | undefined> {
    if (!this.model || !this.statsComplete) throw new Error('statistics are still being computed');
    return exportStatistics(this.uri, this.model, this.results, format);
  }

  private scheduleReload(): void {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => {
      this.post({ type: 'reloading' });
      void this.load();
    }, RELOAD_DEBOUNCE_MS);
  }

  /** Structure first, then statistics streamed in batches (or all at once from the cache). */
  async load(): Promise<void> {
    this.loading?.abort();
    const controller = new AbortController();
    this.loading = controller;
    const file = this.uri.fsPath;
    const name = path.basename(file);
    const options = statsOptions();
    const started = performance.now();
    this.statsComplete = false;
    try {
      const model = await this.service.open(file);
      if (controller.signal.aborted) return;
      this.model = model;
      this.results = new Array(model.tensors.length);
      this.post({
        type: 'model',
        fileName: name,
        model: toModelView(model),
        config: options,
        sensitivity: sensitivityAvailability(model, file),
      });
      this.postCalibration();
      if (this.lastRerun) this.post({ type: 'rerunResult', result: this.lastRerun });
      const cached = this.service.cachedStats(file, options);
      if (cached) {
        this.results = cached;
        this.post({ type: 'stats', results: cached.filter(Boolean) });
      } else {
        await this.streamStats(file, model, options, controller.signal);
      }
      if (controller.signal.aborted) return;
      this.statsComplete = true;
      this.post({
        type: 'statsDone',
        elapsedMs: performance.now() - started,
        cached: Boolean(cached),
      });
      this.log.info(
        `${name}: ${model.tensors.length} tensors in ${(performance.now() - started).toFixed(0)} ms${cached ? ' (cached)' : ''}`,
      );
    } catch (err) {
      if (err instanceof CancelledError || controller.signal.aborted) return;
      const reason = err instanceof Error ? err.message : String(err);
      this.log.error(`${file}: ${reason}`);
      this.post({ type: 'failed', message: `${name}: ${reason}` });
    }
  }

  private async streamStats(
    file: string,
    model: Model,
    options: ReturnType<typeof statsOptions>,
    signal: AbortSignal,
  ): Promise<void> {
    const total = model.tensors.length;
    this.post({ type: 'progress', done: 0, total });
    await this.service.statsInBatches(
      file,
      model,
      options,
      (results, done) => {
        for (const r of results) this.results[r.index] = r;
        this.post({ type: 'stats', results });
        this.post({ type: 'progress', done, total });
      },
      signal,
      BATCH_MS,
    );
  }

  dispose(): void {
    this.loading?.abort();
    this.scan?.abort();
    clearTimeout(this.reloadTimer);
    for (const d of this.disposables) d.dispose();
  }
}

function sensitivityAvailability(model: Model, file: string): SensitivityAvailability {
  if (capabilitiesOf(model.format).runnable)
    return {
      available: true,
      samples: compressDefaults().verifySamples,
      last: lastScans.get(file) ?? null,
    };
  return {
    available: false,
    reason: `Sensitivity analysis runs the model in onnxruntime and compares its outputs, so it needs an ONNX graph. This ${model.format} file holds weights only.`,
  };
}

/** The read-only custom editor for model files. */
export class InspectorProvider implements vscode.CustomReadonlyEditorProvider<ModelDocument> {
  private readonly sessions = new Set<InspectorSession>();

  static register(
    context: vscode.ExtensionContext,
    service: ModelService,
    log: vscode.LogOutputChannel,
    calibration: CalibrationStore,
  ): { provider: InspectorProvider; disposable: vscode.Disposable } {
    const provider = new InspectorProvider(context.extensionUri, service, log, calibration);
    const disposable = vscode.window.registerCustomEditorProvider(INSPECTOR_VIEW_TYPE, provider, {
      supportsMultipleEditorsPerDocument: true,
      webviewOptions: { retainContextWhenHidden: false },
    });
    return { provider, disposable };
  }

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly service: ModelService,
    private readonly log: vscode.LogOutputChannel,
    private readonly calibration: CalibrationStore,
  ) {}

  /** The session of the inspector tab that is active, if any. */
  get active(): InspectorSession | undefined {
    for (const s of this.sessions) if (s.panel.active) return s;
    return undefined;
  }

  openCustomDocument(uri: vscode.Uri): ModelDocument {
    return new ModelDocument(uri);
  }

  resolveCustomEditor(document: ModelDocument, panel: vscode.WebviewPanel): void {
    const webviewRoot = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    panel.webview.options = { enableScripts: true, localResourceRoots: [webviewRoot, media] };
    panel.webview.html = inspectorHtml({
      cspSource: panel.webview.cspSource,
      nonce: makeNonce(),
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(webviewRoot, 'main.js')).toString(),
      styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(media, 'inspector.css')).toString(),
      codiconUri: panel.webview
        .asWebviewUri(vscode.Uri.joinPath(webviewRoot, 'codicon.css'))
        .toString(),
    });
    const session = new InspectorSession(
      document.uri,
      panel,
      this.service,
      this.log,
      this.calibration,
    );
    this.sessions.add(session);
    panel.onDidDispose(() => {
      this.sessions.delete(session);
      session.dispose();
    });
  }
}
