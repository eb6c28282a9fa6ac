/**
 * The verdict on a compressed variant: one headline fidelity, whether it is below the user's
 * threshold, which tensors most likely caused it and what to try. Every surface (CLI text and
 * JSON, report card, notification) shows this, so the numbers and wording agree everywhere.
 */
import { capabilitiesOf, formatOfFileName } from '../formats/capabilities';
import { base, type VerifyReport } from '../verify/report';
import type { CompressReport } from './report';
import type { SensitivityReport } from './sensitivity';
import type { CompressSpec } from './spec';
import { formatBytes } from '../units';

/** Output cosine below which a variant "changes the model's outputs substantially" unless the user says otherwise. */
export const DEFAULT_MIN_COSINE = 0.99;
/** Models above this (weights or file) are not run after compressing unless asked: two sessions of a big model take minutes and gigabytes. */
export const DEFAULT_VERIFY_SIZE_LIMIT_MB = 200;
/** Suspect tensors named in a poor verdict: enough to act on, few enough to read in a notification. */
const MAX_SUSPECTS = 3;

/** What became of the fidelity check after the variant was written. */
export type VerifyOutcome =
  | { state: 'done'; report: VerifyReport }
  | { state: 'off'; reason: string }
  | { state: 'cancelled' }
  | {
      state: 'skipped' | 'failed' | 'unavailable';
      reason: string;
      /** The original could not run on the chosen inputs: input files may help. */
      inputsRejected?: boolean;
      /** The model's preprocessing recipe could not be used: this file needs editing. */
      recipeFile?: string;
    };

/** The one fidelity number every surface leads with. */
export interface HeadlineFidelity {
  /** Mean (over samples) cosine of the output that moved most. */
  cosine: number;
  /** That output's name, and how many outputs were compared. */
  output: string;
  outputs: number;
  /** Lowest top-1 agreement of the classifier-shaped outputs, where there are any. */
  top1?: { agreement: number; rows: number; output: string };
  /** Output values that are NaN/Inf in one model only (left out of every cosine), and the first output with any. */
  nonFinite?: { count: number; output: string };
  measuredOn: string;
}

/** A tensor likely to cause a poor output: measured (the model run with only it compressed) or by its own error. */
export interface Suspect {
  name: string;
  sqnrDb: number;
  /** ‖ΔW‖ / ‖W‖ = 10^(−SQNR/20). */
  relError: number;
  /** The model's worst output cosine with only this tensor compressed, when measured. */
  aloneCosine?: number;
  note?: string;
}

/** The suspects and how they were ranked (said wherever they are listed). */
export interface Attribution {
  ranking: string;
  suspects: Suspect[];
}

export type Verdict =
  | { state: 'ok'; fidelity: HeadlineFidelity; minCosine: number }
  | {
      state: 'poor';
      fidelity: HeadlineFidelity;
      minCosine: number;
      ranking: string;
      suspects: Suspect[];
      /** Set when the suspects were measured and none explains the drop: the error builds up across layers. */
      spread?: string;
      suggestions: string[];
    }
  /** Verification was attempted and could not finish: the variant is unchecked and must not look checked. */
  | { state: 'failed'; reason: string }
  /** Verification did not run (off, over the size limit, cancelled, weights-only format). */
  | { state: 'unchecked'; reason: string };

/** The fallback ranking, when no layer-by-layer run was possible: a proxy, and said to be one. */
const PROXY_RANKING =
  "by weight SQNR, lowest first: the tensors the method changed most (a proxy; model-lens sensitivity measures each layer's effect)";

/** The worst output's mean cosine, plus the worst top-1 agreement where the verifier computed one. */
export function headlineFidelity(r: VerifyReport): HeadlineFidelity | undefined {
  if (!r.outputs.length) return undefined;
  const worst = r.outputs.reduce((a, o) => (o.cosine < a.cosine ? o : a));
  const h: HeadlineFidelity = {
    cosine: worst.cosine,
    output: worst.name,
    outputs: r.outputs.length,
    measuredOn: r.measuredOn,
  };
  const broken = r.outputs.filter((o) => o.nonFinite > 0);
  if (broken.length)
    h.nonFinite = { count: broken.reduce((a, o) => a + o.nonFinite, 0), output: broken[0].name };
  const classified = r.outputs.filter((o) => o.top1 !== undefined);
  if (classified.length) {
    const t = classified.reduce((a, o) => (o.top1! < a.top1! ? o : a));
    h.top1 = { agreement: t.top1!, rows: t.top1Rows ?? 0, output: t.name };
  }
  return h;
}

/** Whether a model of this size is verified after compressing; the reason it is not, else undefined. */
export function verifySizeSkipReason(
  totals: CompressReport['totals'],
  limitBytes: number,
  setting: string,
): string | undefined {
  // External data counts: weights can be far larger than the .onnx file that points at them.
  const size = Math.max(totals.fileBytesBefore, totals.weightBytesBefore);
  return size > limitBytes
    ? `${formatBytes(size)} is over the verification limit of ${formatBytes(limitBytes)} (${setting})`
    : undefined;
}

/**
 * Why a written variant is not run against `file` at all: a weights-only format, or (with a limit) a
 * model over the verification size limit; undefined when it should be run.
 */
export function verificationBlocked(
  file: string,
  totals: CompressReport['totals'],
  limit?: { bytes: number; setting: string },
): VerifyOutcome | undefined {
  // onnxruntime runs ONNX graphs; weight-only formats (GGUF, safetensors) have nothing to execute.
  if (!capabilitiesOf(formatOfFileName(file) ?? '').runnable)
    return {
      state: 'unavailable',
      reason: `${base(file)} holds weights only: there is no graph for onnxruntime to run`,
    };
  const tooBig = limit && verifySizeSkipReason(totals, limit.bytes, limit.setting);
  return tooBig ? { state: 'skipped', reason: tooBig } : undefined;
}

function suspect(name: string, sqnrDb: number, note?: string): Suspect {
  return { name, sqnrDb, relError: 10 ** (-sqnrDb / 20), ...(note ? { note } : {}) };
}

/** Tensors ranked by SQNR (PROXY_RANKING); exact ones cannot be to blame. */
export function proxySuspects(report: CompressReport, count = MAX_SUSPECTS): Attribution {
  const suspects = report.tensors
    .filter((t) => Number.isFinite(t.sqnrDb))
    .sort((a, b) => a.sqnrDb - b.sqnrDb || b.bytesBefore - a.bytesBefore)
    .slice(0, count)
    .map((t) => suspect(t.name, t.sqnrDb, t.note));
  return { ranking: PROXY_RANKING, suspects };
}

/**
 * Whether compressing each tensor alone reproduces what the variant did to it. Not for a fidelity
 * goal or per-tensor overrides (choices differ by layer), Hessian pruning (compensation couples rows
 * to calibration) or a global prune threshold (a lone tensor would get its own).
 */
export function layerScanApplies(spec: CompressSpec, goal: boolean): boolean {
  return (
    !goal &&
    !Object.keys(spec.overrides ?? {}).length &&
    spec.options.criterion !== 'hessian' &&
    spec.options.scope !== 'global' &&
    !spec.methods.includes('channels')
  );
}

/**
 * Tensors ranked by the model's output cosine with only that tensor compressed (a sensitivity
 * scan of the same method on the same inputs): what each one does to the outputs, measured.
 * Undefined when the scan measured no layer.
 */
export function measuredSuspects(
  scan: SensitivityReport,
  report: CompressReport,
  count = MAX_SUSPECTS,
): Attribution | undefined {
  // Only tensors the variant compressed can be to blame.
  const compressed = new Set(report.tensors.map((t) => t.name));
  const measured = scan.layers
    .filter((l) => l.output && compressed.has(l.tensor))
    .sort((a, b) => a.output!.cosine - b.output!.cosine);
  if (!measured.length) return undefined;
  const ranking = `measured: the model's output cosine with only that tensor compressed, lowest first (${scan.samples} sample${scan.samples === 1 ? '' : 's'}, ${scan.layers.filter((l) => l.output).length} of ${scan.layers.length} tensors run)`;
  return {
    ranking,
    suspects: measured
      .slice(0, count)
      .map((l) => ({ ...suspect(l.tensor, l.weight.sqnrDb), aloneCosine: l.output!.cosine })),
  };
}

/** What to try instead, from the methods and options that made this variant; `measured` when the suspects came from runs. */
export function suggestions(
  report: CompressReport,
  file: string,
  minCosine: number,
  measured = false,
): string[] {
  const o = report.options;
  const has = (m: string) => report.methods.includes(m as CompressReport['methods'][number]);
  const out: string[] = [];
  if (has('prune')) {
    if (o.scope !== 'global' && !o.pattern && o.criterion !== 'hessian')
      out.push(
        'compare one threshold for the whole model (--scope global), which spares layers whose weights are all small',
      );
    if (o.sparsity !== undefined && o.sparsity > 0.1)
      out.push(
        `prune less (--sparsity ${Math.max(0.1, Math.round((o.sparsity - 0.2) * 10) / 10)})`,
      );
  }
  if (has('int4')) {
    out.push('quantize to int8 instead (--method int8)');
    if ((o.blockSize ?? 32) > 16)
      out.push(`use smaller int4 blocks (--block-size ${Math.max(8, (o.blockSize ?? 32) / 2)})`);
  }
  for (const m of ['fp16', 'bf16'] as const) {
    if (!has(m)) continue;
    const clipped = report.tensors.filter((t) => t.note?.includes('clipped')).map((t) => t.name);
    if (clipped.length)
      out.push(
        `leave ${clipped.slice(0, 3).join(', ')}${clipped.length > 3 ? ` and ${clipped.length - 3} more` : ''} in float: ${m} cannot hold their values`,
      );
    if (m === 'bf16')
      out.push('use fp16 (--method fp16), which keeps 3 more mantissa bits where the range allows');
  }
  if (has('int8') && o.granularity === 'tensor')
    out.push('use one scale per output channel (--granularity channel)');
  if (has('fixed') && (o.bits ?? 8) < 16)
    out.push(`use more bits (--bits ${Math.min(16, (o.bits ?? 8) + 4)})`);
  if (has('cluster') && (o.clusters ?? 16) < 256)
    out.push(`use more clusters (--clusters ${Math.min(256, (o.clusters ?? 16) * 4)})`);
  if (has('sign'))
    out.push('sign keeps one bit per weight; int4 or int8 keep far more of the model');
  if (has('channels')) {
    // Sensitivity and the per-layer search compress tensors; they do not remove channels.
    const amount = o.amount ?? 0.25;
    if (amount > 0.1)
      out.push(
        `remove fewer channels (--amount ${Math.max(0.05, Math.round((amount - 0.1) * 100) / 100)})`,
      );
    out.push(
      'calibrate on real inputs (--data FOLDER) so the cut is measured on what the model sees',
    );
    return out;
  }
  const method = report.methods.join(',');
  if (measured)
    out.push(
      `keep the layers that matter at higher precision: --target-cosine ${minCosine} chooses per layer`,
    );
  else
    out.push(
      `find the layers that matter with \`model-lens sensitivity ${file} --method ${method}\`, then keep them at higher precision with --target-cosine ${minCosine}`,
    );
  return out;
}

/**
 * The verdict on a written variant. `file` is the original as the user named it (for suggested
 * commands); `scan`, a sensitivity scan of the same method, turns the suspects from a proxy into measurements.
 */
export function judgeVariant(
  report: CompressReport,
  verify: VerifyOutcome,
  minCosine: number,
  file: string,
  scan?: SensitivityReport,
): Verdict {
  switch (verify.state) {
    case 'done': {
      const fidelity = headlineFidelity(verify.report);
      if (!fidelity) return { state: 'failed', reason: 'no output could be compared' };
      // NaN/Inf the original does not have are left out of the cosine, so they decide on their own.
      if (!(fidelity.cosine < minCosine) && !fidelity.nonFinite)
        return { state: 'ok', fidelity, minCosine };
      const measured = scan && measuredSuspects(scan, report);
      const { ranking, suspects } = measured ?? proxySuspects(report);
      const worstAlone = suspects[0]?.aloneCosine;
      // A lone tensor that accounts for under a quarter of the drop does not explain it.
      const spread =
        worstAlone !== undefined && 1 - worstAlone < 0.25 * (1 - fidelity.cosine)
          ? `no single tensor explains it: compressed alone, the worst keeps output cosine ${formatCosine(worstAlone)}; the error builds up across layers`
          : undefined;
      return {
        state: 'poor',
        fidelity,
        minCosine,
        ranking,
        suspects,
        ...(spread ? { spread } : {}),
        suggestions: suggestions(report, file, minCosine, measured !== undefined),
      };
    }
    case 'failed':
      return { state: 'failed', reason: verify.reason };
    case 'skipped':
    case 'unavailable':
    case 'off':
      return { state: 'unchecked', reason: verify.reason };
    case 'cancelled':
      return { state: 'unchecked', reason: 'verification was cancelled' };
  }
}

/**
 * judgeVariant, and for a poor variant whose layers can be scanned one at a time (layerScanApplies),
 * again with `scan`'s measurements so the suspects are measured rather than a proxy.
 */
export async function judgeWithScan(
  report: CompressReport,
  verify: VerifyOutcome,
  minCosine: number,
  file: string,
  spec: CompressSpec,
  goal: boolean,
  scan: () => Promise<SensitivityReport | undefined>,
): Promise<Verdict> {
  const verdict = judgeVariant(report, verify, minCosine, file);
  return verdict.state === 'poor' && layerScanApplies(spec, goal)
    ? judgeVariant(report, verify, minCosine, file, await scan())
    : verdict;
}

/** Cosine with enough decimals to show how far from 1 it is; an exact 1 prints as 1. */
export function formatCosine(c: number): string {
  if (c === 1) return '1';
  if (!Number.isFinite(c)) return String(c);
  const decimals = Math.min(9, Math.max(3, Math.ceil(-Math.log10(Math.max(1e-12, 1 - c))) + 1));
  return c
    .toFixed(decimals)
    .replace(/(\.\d*?)0+$/, '$1')
    .replace(/\.$/, '');
}

/** A cosine below `threshold` with the decimals it takes to print below it (0.9899 must not read 0.99). */
export function cosineBelow(c: number, threshold: number): string {
  let text = formatCosine(c);
  for (let d = 3; Number(text) >= threshold && d <= 12; d++) text = c.toFixed(d);
  return text;
}

/** "output cosine 0.9655 (softmax), top-1 agreement 37.5% of 8 rows"; `threshold` when the cosine is below one. */
export function describeFidelity(f: HeadlineFidelity, threshold?: number): string {
  const value =
    threshold !== undefined && f.cosine < threshold
      ? cosineBelow(f.cosine, threshold)
      : formatCosine(f.cosine);
  const cos = `${f.outputs > 1 ? `worst of ${f.outputs} outputs: cosine` : 'output cosine'} ${value} (${f.output})`;
  const top1 = f.top1
    ? `, top-1 agreement ${(f.top1.agreement * 100).toFixed(1)}% of ${f.top1.rows} row${f.top1.rows === 1 ? '' : 's'}`
    : '';
  const broken = f.nonFinite
    ? `, ${f.nonFinite.count} output value${f.nonFinite.count === 1 ? '' : 's'} NaN or Inf in one model only (${f.nonFinite.output})`
    : '';
  return cos + top1 + broken;
}

/** The verdict in one sentence: the notification's text and the first line everywhere else. */
export function verdictHeadline(v: Verdict): string {
  switch (v.state) {
    case 'ok':
      return `${describeFidelity(v.fidelity)}; measured on ${v.fidelity.measuredOn}`;
    case 'poor':
      return `the variant changes the model's outputs substantially: ${describeFidelity(v.fidelity, v.minCosine)}${v.fidelity.cosine < v.minCosine ? `, below ${v.minCosine}` : ''}; measured on ${v.fidelity.measuredOn}`;
    case 'failed':
    case 'unchecked':
      return `not verified: ${v.reason}`;
  }
}

/** "conv2d_12.w_0 (alone: output cosine 0.9615; weight SQNR 10.7 dB)" or, unmeasured, its SQNR and relative error. */
export function describeSuspect(s: Suspect): string {
  const own = `SQNR ${Number.isFinite(s.sqnrDb) ? `${s.sqnrDb.toFixed(1)} dB` : 'exact'}`;
  const what =
    s.aloneCosine !== undefined
      ? `alone: output cosine ${formatCosine(s.aloneCosine)}; weight ${own}`
      : `${own}, relative error ${(s.relError * 100).toFixed(1)}%`;
  return `${s.name} (${what}${s.note ? `; ${s.note}` : ''})`;
}

/** The verdict as text lines: headline, then for a poor variant the suspects and what to try. */
export function formatVerdict(v: Verdict): string[] {
  const lines = [`fidelity ${verdictHeadline(v)}`];
  if (v.state === 'poor') {
    if (v.suspects.length)
      lines.push(
        `  most likely responsible (${v.ranking}):`,
        ...v.suspects.map((s) => `    ${describeSuspect(s)}`),
      );
    if (v.spread) lines.push(`  ${v.spread}`);
    lines.push('  try:', ...v.suggestions.map((s) => `    ${s}`));
  }
  return lines;
}
