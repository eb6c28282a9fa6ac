import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Model } from '../core/model';
import { inspectReport, reportCsv } from '../core/report';
import type { StatsResult } from '../core/stats/types';

export type ExportFormat = 'json' | 'csv';

export async function pickExportFormat(): Promise<ExportFormat | undefined> {
  const pick = await vscode.window.showQuickPick(
    [
      {
        label: 'JSON',
        description: 'every statistic and histogram (same as model-lens inspect --json)',
        format: 'json' as const,
      },
      {
        label: 'CSV',
        description: 'one row per tensor, scalar statistics',
        format: 'csv' as const,
      },
    ],
    { title: 'Export Statistics', placeHolder: 'Choose a format' },
  );
  return pick?.format;
}

/** Asks where to save (default: next to the model) and writes the report; returns the file written. */
export async function exportStatistics(
  modelUri: vscode.Uri,
  model: Model,
  results: readonly (StatsResult | undefined)[],
  format: ExportFormat,
): Promise<vscode.Uri | undefined> {
  const stem = path.basename(modelUri.fsPath).replace(/\.[^.]+$/, '');
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.joinPath(modelUri, '..', `${stem}.stats.${format}`),
    filters: format === 'json' ? { JSON: ['json'] } : { CSV: ['csv'] },
    title: 'Export Model Statistics',
  });
  if (!target) return undefined;
  const report = inspectReport(model, results);
  const text = format === 'json' ? JSON.stringify(report, null, 1) : reportCsv(report);
  await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(text));
  void vscode.window
    .showInformationMessage(
      `Model Lens: statistics written to ${path.basename(target.fsPath)}.`,
      'Open',
    )
    .then((choice) => {
      if (choice === 'Open') void vscode.window.showTextDocument(target);
    });
  return target;
}
