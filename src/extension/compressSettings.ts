import * as vscode from 'vscode';
import { DEFAULT_MIN_COSINE, DEFAULT_VERIFY_SIZE_LIMIT_MB } from '../core/compress/verdict';

export interface CompressDefaults {
  granularity: 'channel' | 'tensor';
  blockSize: number;
  sparsity: number;
  clusters: number;
  verify: boolean;
  verifyLimitBytes: number;
  verifySamples: number;
  /** Output cosine below which the report and notification warn that the variant changes the model substantially. */
  minCosine: number;
}

function integer(value: unknown, fallback: number, lo: number, hi: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= lo && value <= hi
    ? value
    : fallback;
}

/** The modelLens.compress.* settings; a value out of range falls back to the default rather than failing a run later. */
export function compressDefaults(): CompressDefaults {
  const c = vscode.workspace.getConfiguration('modelLens.compress');
  const sparsity = c.get<number>('pruneSparsity', 0.5);
  const limitMB = c.get<number>('verifySizeLimitMB', DEFAULT_VERIFY_SIZE_LIMIT_MB);
  const minCosine = c.get<number>('minCosine', DEFAULT_MIN_COSINE);
  return {
    granularity: c.get<string>('int8Granularity') === 'tensor' ? 'tensor' : 'channel',
    blockSize: integer(c.get('int4BlockSize'), 32, 2, 4096),
    sparsity: typeof sparsity === 'number' && sparsity >= 0 && sparsity < 1 ? sparsity : 0.5,
    clusters: integer(c.get('clusterCount'), 16, 2, 256),
    verify: c.get<boolean>('verify', true) !== false,
    verifyLimitBytes:
      (typeof limitMB === 'number' && limitMB >= 0 ? limitMB : DEFAULT_VERIFY_SIZE_LIMIT_MB) *
      2 ** 20,
    verifySamples: integer(c.get('verifySamples'), 8, 1, 1000),
    minCosine:
      typeof minCosine === 'number' && minCosine > 0 && minCosine <= 1
        ? minCosine
        : DEFAULT_MIN_COSINE,
  };
}
