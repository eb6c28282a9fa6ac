import type { OutputReport } from './metrics';

export type { OutputReport };

export interface InputReport {
  name: string;
  dtype: string;
  shape: number[];
  /** 'random' (seeded synthesis) or the file the tensor came from. */
  source: string;
}

export interface ModelTiming {
  /** Session creation (parse, optimise, allocate weights). */
  loadMs: number;
  /** All samples' inference, summed. */
  runMs: number;
}

/** The result of running an original model and its variant on the same inputs. Plain data (JSON-safe except Infinity in relL2). */
export interface VerifyReport {
  original: string;
  variant: string;
  /** Runs per model; 1 when every input came from files. */
  samples: number;
  /** Seed of the random inputs (sample s uses stream s of this seed). */
  seed: number;
  inputs: InputReport[];
  outputs: OutputReport[];
  timing: { original: ModelTiming; variant: ModelTiming };
  elapsedMs: number;
  /** e.g. 'onnxruntime-web 1.30.0'. */
  runtime: string;
  warnings: string[];
  /** What the fidelity numbers were measured on, in one line (inputs, shapes, sample count). */
  measuredOn: string;
}

/** e.g. "8 random samples (seed 0): x float32[1,3,48,192]"; inputs from files name their file. */
export function describeMeasuredOn(samples: number, seed: number, inputs: InputReport[]): string {
  const random = inputs.some((i) => i.source === 'random');
  const runs = `${samples}${random ? ' random' : ''} sample${samples === 1 ? '' : 's'}${random ? ` (seed ${seed})` : ''}`;
  const list = inputs.map((i) => `${i.name} ${i.dtype}[${i.shape.join(',')}]${i.source === 'random' ? '' : ` from ${base(i.source)}`}`);
  return `${runs}: ${list.join('; ') || 'no inputs'}`;
}

/** Cosine with six decimals; an exact 1 prints as '1' so it cannot be confused with a rounded one. */
function cos(v: number): string {
  return v === 1 ? '1' : Number.isFinite(v) ? v.toFixed(6) : String(v);
}

function sci(v: number): string {
  if (v === 0) return '0';
  return Number.isFinite(v) ? v.toExponential(2) : String(v);
}

function ms(v: number): string {
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`;
}

function base(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

/** The report as a human-readable table for the CLI and the output channel. */
export function formatVerifyReport(r: VerifyReport): string {
  const lines = [
    `${base(r.original)} vs ${base(r.variant)}: ${r.samples} sample${r.samples === 1 ? '' : 's'}, ${r.runtime}, ${ms(r.elapsedMs)}`,
    `  load ${ms(r.timing.original.loadMs)} / ${ms(r.timing.variant.loadMs)}, inference ${ms(r.timing.original.runMs)} / ${ms(r.timing.variant.runMs)} (original / variant)`,
    '',
    'inputs:',
    ...r.inputs.map((i) => `  ${i.name}  ${i.dtype} [${i.shape.join(',')}]  ${i.source === 'random' ? `random (seed ${r.seed})` : i.source}`),
    '',
  ];
  const nameWidth = Math.min(40, Math.max(6, ...r.outputs.map((o) => o.name.length)));
  const pad = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + '…' : s.padEnd(n));
  lines.push(`${pad('output', nameWidth)}  ${'cosine mean'.padStart(11)}  ${'worst'.padStart(10)}  ${'rel L2 mean'.padStart(11)}  ${'worst'.padStart(9)}  ${'max |Δ|'.padStart(9)}  top-1`);
  for (const o of r.outputs) {
    const top1 = o.top1 === undefined ? '-' : `${(o.top1 * 100).toFixed(1)}% of ${o.top1Rows}`;
    lines.push(
      `${pad(o.name, nameWidth)}  ${cos(o.cosine).padStart(11)}  ${cos(o.cosineMin).padStart(10)}  ${sci(o.relL2).padStart(11)}  ${sci(o.relL2Max).padStart(9)}  ${sci(o.maxAbs).padStart(9)}  ${top1}`,
    );
    if (o.nonFinite > 0) lines.push(`  warning: ${o.nonFinite} positions of '${o.name}' disagree on NaN/Inf and are left out of the metrics above`);
  }
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n') + '\n';
}
