import * as vscode from 'vscode';
import { MAX_HISTOGRAM_BINS } from '../core/limits';
import type { StatsOptions } from '../core/stats/types';

/** Statistics options from the user's settings, clamped to the limits the engine accepts. */
export function statsOptions(): StatsOptions {
  const c = vscode.workspace.getConfiguration('modelLens');
  const bins = Math.round(c.get<number>('histogramBins', 256));
  const nearZero = c.get<number>('nearZeroThreshold', 0);
  return {
    bins: Number.isFinite(bins) ? Math.min(MAX_HISTOGRAM_BINS, Math.max(8, bins)) : 256,
    nearZero: Number.isFinite(nearZero) && nearZero > 0 ? nearZero : 0,
  };
}
