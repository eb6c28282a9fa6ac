import type { OutputReport } from './metrics';
import { InputsRejectedError } from './tensor';

export type { OutputReport };

export interface InputReport {
  name: string;
  dtype: string;
  shape: number[];
  /** 'random' (seeded synthesis), 'value' (a constant given with --value) or the file the tensor came from. */
  source: string;
  /** The constant every element holds, when source is 'value'. */
  value?: number;
  /** Sizes chosen where the model leaves dimensions open (see resolveShapes), e.g. 'H, W not fixed by the model: 320 chosen'. */
  chosen?: string;
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
  /** What the numbers were measured on, in one line (see measuredOn). */
  measuredOn: string;
  outputs: OutputReport[];
  timing: { original: ModelTiming; variant: ModelTiming };
  elapsedMs: number;
  /** e.g. 'onnxruntime-web 1.30.0'. */
  runtime: string;
  warnings: string[];
}

/** One input as a report names it: 'x float32[1,3,320,320] (H, W not fixed by the model: 320 chosen)', 'sr = 16000'; `brief` drops dtypes and reasons. */
function describeInput(i: InputReport, brief: boolean): string {
  const shape = `[${i.shape.join(',')}]`;
  const typed = brief ? `${i.name} ${shape}` : `${i.name} ${i.dtype}${shape}`;
  const why = i.chosen && !brief ? ` (${i.chosen})` : '';
  if (i.source === 'value')
    return i.shape.length ? `${typed} = ${i.value}${why}` : `${i.name} = ${i.value}`;
  if (i.source !== 'random') return `${typed} from ${i.source}`;
  // A random integer scalar is a mode or a rate (silero's sr) more often than data: say so plainly.
  if (!i.shape.length && !i.dtype.startsWith('float') && i.dtype !== 'bool')
    return `${i.name} = random ${i.dtype}`;
  return typed + why;
}

/** The inputs of a run, one clause each: `brief` for an error line, else with dtypes and the reasons for chosen sizes. */
export function describeInputs(inputs: readonly InputReport[], brief = false): string {
  return inputs.map((i) => describeInput(i, brief)).join(brief ? ', ' : '; ');
}

/**
 * What a fidelity number was measured on, in one line: '8 random samples (seed 0): x float32[1,3,320,320]
 * (H, W not fixed by the model: 320 chosen); sr = 16000' or '1 sample: x float32[1,3,48,320] from a.npy'.
 * `firstStream` > 0 names held-out samples (random streams after the calibration ones).
 */
export function measuredOn(
  samples: number,
  seed: number,
  inputs: readonly InputReport[],
  firstStream = 0,
): string {
  const random = inputs.some((i) => i.source === 'random');
  const streams = firstStream > 0 ? `, streams ${firstStream}–${firstStream + samples - 1}` : '';
  const head = `${samples} ${random ? 'random ' : ''}sample${samples === 1 ? '' : 's'}${random ? ` (seed ${seed}${streams})` : ''}`;
  return inputs.length ? `${head}: ${describeInputs(inputs)}` : head;
}

/**
 * The one-line error for an original model that onnxruntime cannot run on the inputs it was given:
 * the inputs are what must change, so it names them and the options that change them.
 */
export function inputsRejected(
  file: string,
  inputs: readonly InputReport[],
  reason: string,
): InputsRejectedError {
  const kind = inputs.some((i) => i.source === 'random') ? 'random inputs' : 'the given inputs';
  return new InputsRejectedError(
    `cannot run the model on ${kind} (${describeInputs(inputs, true)}): ${reason}; give --shape/--value/--inputs`,
    file,
  );
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

/** The last component of a path, either separator (core has no node:path). */
export function base(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

/** The report as a human-readable table for the CLI and the output channel. */
export function formatVerifyReport(r: VerifyReport): string {
  const lines = [
    `${base(r.original)} vs ${base(r.variant)}: ${r.runtime}, ${ms(r.elapsedMs)}`,
    `  load ${ms(r.timing.original.loadMs)} / ${ms(r.timing.variant.loadMs)}, inference ${ms(r.timing.original.runMs)} / ${ms(r.timing.variant.runMs)} (original / variant)`,
    `  measured on ${r.measuredOn}`,
    '',
  ];
  const nameWidth = Math.min(40, Math.max(6, ...r.outputs.map((o) => o.name.length)));
  const pad = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + '…' : s.padEnd(n));
  lines.push(
    `${pad('output', nameWidth)}  ${'cosine mean'.padStart(11)}  ${'worst'.padStart(10)}  ${'rel L2 mean'.padStart(11)}  ${'worst'.padStart(9)}  ${'max |Δ|'.padStart(9)}  top-1`,
  );
  for (const o of r.outputs) {
    const top1 = o.top1 === undefined ? '-' : `${(o.top1 * 100).toFixed(1)}% of ${o.top1Rows}`;
    lines.push(
      `${pad(o.name, nameWidth)}  ${cos(o.cosine).padStart(11)}  ${cos(o.cosineMin).padStart(10)}  ${sci(o.relL2).padStart(11)}  ${sci(o.relL2Max).padStart(9)}  ${sci(o.maxAbs).padStart(9)}  ${top1}`,
    );
    if (o.nonFinite > 0)
      lines.push(
        `  warning: ${o.nonFinite} positions of '${o.name}' disagree on NaN/Inf and are left out of the metrics above`,
      );
  }
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n') + '\n';
}
