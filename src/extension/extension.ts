import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CancelledError } from '../core/errors';
import { removeStaleTemps, TEMP_PREFIX } from '../node/atomicWrite';
import { ModelService } from '../node/modelService';
import { WorkerPool } from '../node/pool';
import { CalibrationStore } from './calibrationData';
import { registerCalibrationCommands } from './calibrationPicker';
import { registerCompressCommands } from './compressCommands';
import { exportStatistics, pickExportFormat } from './exportStats';
import { INSPECTOR_VIEW_TYPE, InspectorProvider } from './inspector';
import { statsOptions } from './settings';

const MODEL_FILTERS = {
  Models: ['onnx', 'safetensors', 'gguf', 'pt', 'pth', 'ckpt', 'bin'],
  'Sharded safetensors index': ['json'],
};

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Model Lens', { log: true });
  const pool = new WorkerPool(
    vscode.Uri.joinPath(context.extensionUri, 'dist', 'worker.js').fsPath,
    Math.max(1, Math.min(os.availableParallelism(), 8)),
  );
  const service = new ModelService(pool);
  const calibration = new CalibrationStore(context.workspaceState);
  const { provider, disposable } = InspectorProvider.register(context, service, log, calibration);
  // Temp files a killed compression left next to models; only in trusted workspaces, since removing is a write.
  if (vscode.workspace.isTrusted) {
    void vscode.workspace.findFiles(`**/${TEMP_PREFIX}*.tmp`, undefined, 1000).then((uris) => {
      for (const dir of new Set(uris.map((u) => path.dirname(u.fsPath)))) {
        try {
          for (const f of removeStaleTemps(dir)) log.info(`removed a stale temp file: ${f}`);
        } catch (err) {
          log.warn(`could not clean temp files in ${dir}: ${(err as Error).message}`);
        }
      }
    });
  }

  /** The model a command acts on: the explorer selection, else the active inspector, else ask. */
  async function targetUri(arg: unknown): Promise<vscode.Uri | undefined> {
    if (arg instanceof vscode.Uri) return arg;
    if (provider.active) return provider.active.uri;
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: false,
      filters: MODEL_FILTERS,
      title: 'Choose a model',
    });
    return picked?.[0];
  }

  context.subscriptions.push(
    ...registerCompressCommands({
      extensionUri: context.extensionUri,
      service,
      log,
      targetUri,
      activeModel: () => provider.active?.uri,
      calibration,
    }),
    ...registerCalibrationCommands({ store: calibration, service, targetUri }),
    log,
    { dispose: () => pool.dispose() },
    disposable,
    vscode.commands.registerCommand('modelLens.inspect', async (arg?: unknown) => {
      const uri = await targetUri(arg);
      if (uri) await vscode.commands.executeCommand('vscode.openWith', uri, INSPECTOR_VIEW_TYPE);
    }),
    vscode.commands.registerCommand('modelLens.refresh', async () => {
      const session = provider.active;
      if (!session) return;
      service.forget(session.uri.fsPath);
      await session.load();
    }),
    vscode.commands.registerCommand('modelLens.openAsText', async (arg?: unknown) => {
      const uri = await targetUri(arg);
      if (uri) await vscode.commands.executeCommand('vscode.openWith', uri, 'default');
    }),
    vscode.commands.registerCommand('modelLens.exportStatistics', async (arg?: unknown) => {
      const uri = await targetUri(arg);
      if (!uri) return;
      const format = await pickExportFormat();
      if (!format) return;
      const open = provider.active?.uri.toString() === uri.toString() ? provider.active : undefined;
      try {
        if (open) {
          await open.export(format);
          return;
        }
        const computed = await vscode.window.withProgress(
          {
            location: vscode.ProgressLocation.Notification,
            title: `Model Lens: statistics of ${path.basename(uri.fsPath)}`,
            cancellable: true,
          },
          async (progress, token) => {
            const controller = new AbortController();
            token.onCancellationRequested(() => controller.abort());
            const model = await service.open(uri.fsPath);
            let done = 0;
            const results = await service.stats(
              uri.fsPath,
              model,
              statsOptions(),
              () =>
                progress.report({
                  increment: 100 / Math.max(1, model.tensors.length),
                  message: `${++done}/${model.tensors.length} tensors`,
                }),
              controller.signal,
            );
            return { model, results };
          },
        );
        await exportStatistics(uri, computed.model, computed.results, format);
      } catch (err) {
        if (err instanceof CancelledError) return;
        const reason = err instanceof Error ? err.message : String(err);
        log.error(`${uri.fsPath}: ${reason}`);
        void vscode.window.showErrorMessage(`Model Lens: ${path.basename(uri.fsPath)}: ${reason}`);
      }
    }),
  );
}

export function deactivate(): void {}
