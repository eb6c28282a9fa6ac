import { capabilitiesOf, formatOfFileName, methodsByFormat } from '../core/formats/capabilities';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidModelError } from '../core/errors';
import { MAX_HISTOGRAM_BINS } from '../core/limits';
import { inspectReport, type InspectReport } from '../core/report';
import { DEFAULT_STATS_OPTIONS, type StatsOptions } from '../core/stats/types';
import { ModelService } from '../node/modelService';
import { WorkerPool } from '../node/pool';
import { formatBytes, formatCount, formatNumber, parseByteSize } from '../core/units';
import { formatCompressReport, formatSensitivity } from '../core/compress/format';
import type { CompressReport } from '../core/compress/report';
import type { SensitivityReport } from '../core/compress/sensitivity';
import {
  METHOD_DESCRIPTIONS,
  METHODS,
  normaliseSpec,
  parseMethods,
  parseTargetCosine,
  SpecError,
  type CompressSpec,
} from '../core/compress/spec';
import type { MethodOptions } from '../core/compress/types';
import { AUDIO_CHUNK, IMAGE_SIDE, parseShapeSpec, parseValueSpec } from '../core/verify/inputs';
import { formatVerifyReport } from '../core/verify/report';
import {
  DEFAULT_MIN_COSINE,
  DEFAULT_VERIFY_SIZE_LIMIT_MB,
  judgeWithScan,
  verdictHeadline,
  verificationBlocked,
  type Verdict,
  type VerifyOutcome,
} from '../core/compress/verdict';
import { InputsRejectedError } from '../core/verify/tensor';
import type { VerifySettings } from '../core/verify/verify';
import { removeVariant } from '../node/compress';
import { removeStaleTemps } from '../node/atomicWrite';
import { compressVariant } from '../node/compressVariant';
import { runVerify } from '../node/verify';
import { recipeFor, writeRecipe } from '../node/recipe';
import { withOpenModel } from '../node/inMemory';
import { formatRecipeLines, RecipeError } from '../core/data/recipe';
import {
  analyseSensitivity,
  compressForFidelity,
  DEFAULT_FULL_RUNS,
  type CalibrationOptions,
  type FidelityGoal,
  type SensitivityOptions,
} from '../node/calibrate';

const VERSION = '0.1.0';

const USAGE = `Usage: model-lens <command> [options]

Commands:
  inspect FILE [--json] [--bins N] [--near-zero T] [--no-stats]
      Print every weight tensor's statistics (a table, or one JSON document with --json);
      --no-stats prints the structure alone.

  compress FILE --method M[,M...] [options] [-o OUT] [--force] [--json] [--no-verify]
      Write a compressed variant next to FILE (model.onnx -> model.<method>.onnx) and print its
      report card. Methods by format:
        ${methodsByFormat(METHODS).split('; ').join(';\n        ')}.
      ONNX variants are then run against the original in onnxruntime (input options as for
      verify) and the summary leads with the worst output's cosine; below --min-cosine C
      (default ${DEFAULT_MIN_COSINE}) it says so loudly, names the likely tensors and what to try. Given
      explicitly, --min-cosine makes such a variant an error: exit 1, variant removed.
      Models over ${DEFAULT_VERIFY_SIZE_LIMIT_MB} MB are not run unless --min-cosine is given; --no-verify skips it
      (--verify is accepted and changes nothing).
      Methods:${METHODS.map((m) => `\n        ${m.padEnd(8)} ${METHOD_DESCRIPTIONS[m]}`).join('')}
      Chain with commas, prune first: --method prune,int8.
      Options: --granularity channel|tensor  --asymmetric  --block-size N (int4, 32)
               --bits N (fixed, 8)  --sparsity S  --threshold T|mean  --scope layer|global
               --pattern N:M  --random  --seed N  --store dense|sparse  --clusters K (16)
      Scope: every method touches only the weights of Conv, ConvTranspose, Gemm, MatMul,
               LSTM/GRU/RNN and embedding Gather (fp16/bf16: and their biases), also through
               Identity/Slice/Concat/Unsqueeze/Squeeze/Transpose; the report lists what it left
               and why. --include all|OP|NAME[,...] converts more (e.g.
               --include BatchNormalization). A tensor whose values the stored type cannot hold
               (beyond fp16's ±65504, say) is kept as it is unless --allow-clip.
      Hessian pruning (ONNX): --criterion hessian ranks weights by OBS saliency w²/[H⁻¹]ᵢᵢ with
               H = XᵀX from each MatMul/Gemm/Conv's inputs on calibration runs (onnxruntime),
               per block of 128 inputs as SparseGPT does, and updates the surviving weights to make
               up for the pruned ones (--no-compensate: keep them, rank by w²·Hᵢᵢ);
               the report compares it with magnitude pruning at the same sparsity. Calibration
               inputs: --inputs, --samples (32), --seed, --shape, --dim, --value as for verify.
      Channel removal (ONNX): --method channels --amount A (0.25) removes A of the channels of
               every group of tied channels the graph analysis proves safe (Conv filters, Gemm/MatMul
               neurons and all that is tied to them: BatchNorm, biases, depthwise Conv, residual
               Add, Concat offsets, Flatten/Reshape into Gemm); the rest stay whole and the report
               says why. --importance l2 (filter norm) | bn (BatchNorm |γ|) | activation (energy
               fed to consumers on calibration inputs); --scope layer | global. The report adds
               parameters, multiply-adds and onnxruntime latency before and after. Chain storage
               after it: --method channels,int8. Inputs (for shapes, activation importance and
               latency): --data, --inputs, --samples, --shape, --dim, --value as for verify.
               Then each changed layer is refit by least squares to the original's outputs of that
               layer on calibration inputs (layer-wise reconstruction; --no-reconstruct keeps the
               cut weights); --samples N fit and as many are held out to compare the plain cut
               with the reconstruction.
      Low rank (ONNX): --method lowrank --amount A (0.25) removes A of the factorable layers'
               parameters: MatMul/Gemm weights W [K,N] become U [K,r]·V [r,N], Conv (group 1) r k×k
               filters and a 1×1 Conv, ranks from one budget on each layer's normalised
               singular-value energy; --criterion data (default) truncates S·W with SᵀS = XᵀX from
               calibration runs (inputs as for Hessian pruning), svd truncates W. Chain:
               --method lowrank,int8.

      Fidelity goal (ONNX): --target-cosine C chooses per layer between the method, a higher
      precision (int8 for int4, fp16) and float, to reach output cosine C with the smallest file;
      --size-budget BYTES (e.g. 25MB) gets the best cosine within that size. Calibration inputs:
      --inputs, --samples (8), --seed, --shape, --dim, --value as for verify; the result is also measured
      on held-out inputs (--heldout-inputs FILE..., or random samples the search did not use).

  sensitivity FILE --method M [method options] [--runs N] [input options] [--json]
      Compress each layer alone, run the model with onnxruntime on calibration inputs and list
      the layers worst first: output cosine and relative L2, the cheap proxies (weight SQNR and
      the activation-weighted error ‖XΔW‖/‖XW‖), outlier ratio (max|w|/σ), kurtosis and range.
      Full runs for the N layers the proxies rate worst (default ${DEFAULT_FULL_RUNS}); input
      options as for verify.

  verify ORIGINAL VARIANT [--samples N] [--seed N] [--inputs FILE[,FILE...]]
         [--shape NAME=1x3x224x224] [--dim NAME=N] [--value NAME=V] [--json]
      Run both models with onnxruntime on the same inputs and compare every output.
      Inputs not from files (.npy, .npz, TensorProto .pb) are seeded random: floats normal,
      integers 0-9. Sizes the model leaves open: --shape, --dim, else batch 1, an image's
      H and W ${IMAGE_SIDE} (rank-4 float with 1, 3 or 4 channels), an audio chunk of ${AUDIO_CHUNK}
      samples (float [batch, samples]), anything else 1; the report says which it chose.
      --value NAME=V fills input NAME with V (--value sr=16000, --value state=0); repeatable.
      --data PATH (repeatable: files, folders, globs such as 'crops/*.png') runs on your images
      (PNG, JPEG), recordings (WAV) or tensors (.npy, .pb; .npz for several inputs) instead: one
      sample per image, per whole chunk of a recording or per tensor file, made by the model's
      recipe (see recipe; --recipe FILE chooses another); its constants (sr, state) apply unless
      --value says otherwise; unusable files are skipped and listed. A fidelity goal calibrates
      on a seeded half of the samples and checks on the rest, or on all of --data and checks on
      --heldout-data PATH.

  recipe FILE [--write [--force]] [--json]
      Show the preprocessing recipe of an ONNX model: how images, recordings and tensors become
      each input (size, fit, channel order, layout, scale, mean/std; sample rate and chunk length;
      constants such as sr = 16000 and zero states). It is FILE's <model>.lens.json when that
      exists (checked against the model), else one proposed from the model's inputs and exporter;
      --write saves the proposal there to edit.

Options:
  -h, --help      Show this help.
  -v, --version   Show the version.
`;

class UsageError extends Error {}

interface InspectArgs {
  file: string;
  json: boolean;
  /** Structure only: names, shapes, sizes, no statistics (instant on any size). */
  noStats: boolean;
  options: StatsOptions;
}

function parseInspect(args: string[]): InspectArgs {
  const out: InspectArgs = {
    file: '',
    json: false,
    noStats: false,
    options: { ...DEFAULT_STATS_OPTIONS },
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      if (i + 1 >= args.length) throw new UsageError(`${a} needs a value`);
      return args[++i];
    };
    if (a === '--json') out.json = true;
    else if (a === '--no-stats') out.noStats = true;
    else if (a === '--bins') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1 || n > MAX_HISTOGRAM_BINS)
        throw new UsageError(`--bins must be an integer from 1 to ${MAX_HISTOGRAM_BINS}`);
      out.options.bins = n;
    } else if (a === '--near-zero') {
      const t = Number(value());
      if (!Number.isFinite(t) || t < 0) throw new UsageError('--near-zero must be a number >= 0');
      out.options.nearZero = t;
    } else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else if (out.file) throw new UsageError('inspect takes one FILE');
    else out.file = a;
  }
  if (!out.file) throw new UsageError('inspect needs a FILE');
  return out;
}

function pad(s: string, n: number, right = false): string {
  if (s.length > n) s = s.slice(0, n - 1) + '…';
  return right ? s.padStart(n) : s.padEnd(n);
}

function printTable(report: InspectReport, file: string): void {
  const m = report.metadata;
  const lines = [
    `${path.basename(file)}  ${report.format.toUpperCase()}  ${formatBytes(report.fileBytes)}`,
    ...(capabilitiesOf(report.format).runnable
      ? [
          `  IR ${m.irVersion ?? '?'}  opsets ${m.opsets.map((o) => `${o.domain || 'ai.onnx'}:${o.version}`).join(', ') || '-'}  producer ${[m.producer, m.producerVersion].filter(Boolean).join(' ') || '-'}`,
          `  graph ${m.graphName || '-'}  nodes ${report.nodeCount}  tensors ${report.tensors.length}  parameters ${formatCount(report.parameters)}`,
        ]
      : [
          ...m.properties
            .slice(0, 8)
            .map(
              (p) => `  ${p.key}: ${p.value.length > 100 ? p.value.slice(0, 99) + '…' : p.value}`,
            ),
          ...(m.properties.length > 8
            ? [`  … ${m.properties.length - 8} more metadata entries (--json has them all)`]
            : []),
          `  tensors ${report.tensors.length}  parameters ${formatCount(report.parameters)}`,
        ]),
    '',
  ];
  const head = [
    pad('tensor', 40),
    pad('dtype', 9),
    pad('shape', 18),
    pad('count', 10, true),
    pad('min', 10, true),
    pad('max', 10, true),
    pad('mean', 10, true),
    pad('std', 10, true),
    pad('sparsity', 9, true),
  ];
  lines.push(head.join(' '));
  for (const t of report.tensors) {
    const cells = [
      pad(t.name, 40),
      pad(t.storageType ?? t.dtype, 9),
      pad(`[${t.shape.join(',')}]`, 18),
      pad(formatCount(t.count), 10, true),
    ];
    if (t.error) cells.push(`  (${t.error})`);
    else {
      cells.push(
        ...[t.min, t.max, t.mean, t.std].map((v) => pad(formatNumber(v ?? null), 10, true)),
        pad(`${((t.sparsity ?? 0) * 100).toFixed(1)}%`, 9, true),
      );
    }
    lines.push(cells.join(' '));
  }
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  process.stdout.write(lines.join('\n') + '\n');
}

async function inspect(args: InspectArgs): Promise<void> {
  const pool = new WorkerPool(
    path.join(__dirname, 'worker.js'),
    Math.max(1, Math.min(os.availableParallelism(), 8)),
  );
  try {
    if (!args.noStats) pool.warm();
    const service = new ModelService(pool);
    const model = await service.open(args.file);
    const results = args.noStats
      ? model.tensors.map((_, index) => ({ index, error: 'not computed (--no-stats)' }))
      : await service.stats(args.file, model, args.options, () => undefined);
    const report = inspectReport(model, results);
    if (args.json) process.stdout.write(JSON.stringify(report) + '\n');
    else printTable(report, args.file);
  } finally {
    pool.dispose();
  }
}

/** Splits argv into positionals and --flags with values; `valued` names the flags that take one. */
function parseArgs(
  args: string[],
  valued: Set<string>,
  booleans: Set<string>,
): { positional: string[]; flags: Map<string, string[]> } {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    let a = args[i];
    if (a === '-o') a = '--output';
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (booleans.has(name)) {
      flags.set(name, ['true']);
    } else if (valued.has(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      flags.set(name, [...(flags.get(name) ?? []), v]);
    } else throw new UsageError(`unknown option ${a}`);
  }
  return { positional, flags };
}

function numberFlag(flags: Map<string, string[]>, name: string): number | undefined {
  const v = flags.get(name)?.at(-1);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number`);
  return n;
}

/** Flags that pick a method and its options (compress and sensitivity). */
const METHOD_FLAGS = [
  'method',
  'amount',
  'importance',
  'granularity',
  'block-size',
  'bits',
  'sparsity',
  'threshold',
  'scope',
  'pattern',
  'seed',
  'store',
  'clusters',
  'criterion',
  'include',
];
const METHOD_SWITCHES = [
  'asymmetric',
  'random',
  'compensate',
  'no-compensate',
  'reconstruct',
  'no-reconstruct',
  'allow-clip',
];
/** Flags that choose the inputs models run on (verify, sensitivity, compress with a fidelity goal). */
const CALIBRATION_FLAGS = [
  'samples',
  'seed',
  'inputs',
  'data',
  'recipe',
  'shape',
  'dim',
  'value',
  'threads',
];

function methodSpec(flags: Map<string, string[]>, command: string): CompressSpec {
  const method = flags.get('method')?.at(-1);
  if (!method) throw new UsageError(`${command} needs --method`);
  const last = (n: string) => flags.get(n)?.at(-1);
  const options: MethodOptions = {};
  const granularity = last('granularity');
  if (granularity !== undefined) {
    if (granularity !== 'channel' && granularity !== 'tensor')
      throw new UsageError('--granularity is channel or tensor');
    options.granularity = granularity;
  }
  if (flags.has('asymmetric')) options.asymmetric = true;
  if (flags.has('random')) options.random = true;
  if (flags.has('allow-clip')) options.allowClip = true;
  const include = flags.get('include')?.flatMap((v) =>
    v
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  );
  if (include?.length) options.include = include;
  options.blockSize = numberFlag(flags, 'block-size');
  options.bits = numberFlag(flags, 'bits');
  options.sparsity = numberFlag(flags, 'sparsity');
  options.amount = numberFlag(flags, 'amount');
  const importance = last('importance');
  if (importance !== undefined) {
    if (importance !== 'l2' && importance !== 'bn' && importance !== 'activation')
      throw new UsageError('--importance is l2, bn or activation');
    options.importance = importance;
  }
  options.seed = numberFlag(flags, 'seed');
  options.clusters = numberFlag(flags, 'clusters');
  const threshold = last('threshold');
  if (threshold !== undefined)
    options.threshold = threshold === 'mean' ? 'mean' : Number(threshold);
  const scope = last('scope');
  if (scope !== undefined) {
    if (scope !== 'layer' && scope !== 'global') throw new UsageError('--scope is layer or global');
    options.scope = scope;
  }
  const storeOpt = last('store');
  if (storeOpt !== undefined) {
    if (storeOpt !== 'dense' && storeOpt !== 'sparse')
      throw new UsageError('--store is dense or sparse');
    options.store = storeOpt;
  }
  const pattern = last('pattern');
  if (pattern !== undefined) {
    const m = /^(\d+):(\d+)$/.exec(pattern);
    if (!m) throw new UsageError('--pattern is N:M, e.g. 2:4');
    options.pattern = { n: Number(m[1]), m: Number(m[2]) };
  }
  const criterion = last('criterion');
  if (criterion !== undefined) {
    if (
      criterion !== 'magnitude' &&
      criterion !== 'hessian' &&
      criterion !== 'svd' &&
      criterion !== 'data'
    )
      throw new UsageError('--criterion is magnitude or hessian (prune), svd or data (lowrank)');
    options.criterion = criterion;
  }
  if (flags.has('compensate') && flags.has('no-compensate'))
    throw new UsageError('--compensate and --no-compensate contradict each other');
  if (flags.has('compensate') || flags.has('no-compensate'))
    options.compensate = flags.has('compensate');
  if (flags.has('reconstruct') && flags.has('no-reconstruct'))
    throw new UsageError('--reconstruct and --no-reconstruct contradict each other');
  if (flags.has('reconstruct') || flags.has('no-reconstruct'))
    options.reconstruct = flags.has('reconstruct');
  for (const k of Object.keys(options) as (keyof MethodOptions)[])
    if (options[k] === undefined) delete options[k];
  try {
    return normaliseSpec({ methods: parseMethods(method), options });
  } catch (err) {
    if (err instanceof SpecError) throw new UsageError(err.message);
    throw err;
  }
}

/** A size in bytes (see parseByteSize), as a usage error when it is not one. */
function byteSizeFlag(text: string): number {
  const n = parseByteSize(text);
  if (n === undefined)
    throw new UsageError(`'${text}' is not a positive size (e.g. 25MB, 3.5MiB, 1200000)`);
  return n;
}

interface CompressArgs {
  file: string;
  spec: CompressSpec;
  output?: string;
  force: boolean;
  json: boolean;
  verify: boolean;
  /** The cosine below which the variant is judged poor, and whether the user chose it (then poor is an error). */
  minCosine: number;
  minCosineGiven: boolean;
  goal?: FidelityGoal;
  calibration: CalibrationOptions;
}

/** --min-cosine's value: a cosine in (0, 1]. */
function minCosineFlag(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !(v > 0 && v <= 1))
    throw new UsageError(`--min-cosine must be a number above 0 and at most 1, got '${text}'`);
  return v;
}

function compressArgs(args: string[]): CompressArgs {
  const { positional, flags } = parseArgs(
    args,
    new Set([
      ...METHOD_FLAGS,
      ...CALIBRATION_FLAGS,
      'output',
      'target-cosine',
      'size-budget',
      'heldout-inputs',
      'heldout-data',
      'min-cosine',
    ]),
    new Set([...METHOD_SWITCHES, 'force', 'json', 'verify', 'no-verify']),
  );
  if (positional.length !== 1) throw new UsageError('compress takes one FILE');
  const spec = methodSpec(flags, 'compress');
  const cosineText = flags.get('target-cosine')?.at(-1);
  const targetCosine = cosineText === undefined ? undefined : parseTargetCosine(cosineText);
  if (typeof targetCosine === 'string') throw new UsageError(`--target-cosine: ${targetCosine}`);
  const budget = flags.get('size-budget')?.at(-1);
  if (targetCosine !== undefined && budget !== undefined)
    throw new UsageError('give --target-cosine or --size-budget, not both');
  const goal =
    targetCosine !== undefined
      ? { targetCosine }
      : budget !== undefined
        ? { sizeBudget: byteSizeFlag(budget) }
        : undefined;
  const calibration = calibrationSettings(flags);
  const hessian = spec.options.criterion === 'hessian';
  if (hessian && goal)
    throw new UsageError('--criterion hessian and a fidelity goal do not combine yet');
  if (spec.methods.includes('channels') && goal)
    throw new UsageError(
      'channel removal and a fidelity goal do not combine yet (the per-layer search chooses precisions, not channels)',
    );
  if (spec.methods.includes('lowrank') && goal)
    throw new UsageError('--method lowrank and a fidelity goal do not combine yet');
  const verify = !flags.has('no-verify');
  if (!goal && flags.has('heldout-inputs'))
    throw new UsageError('--heldout-inputs goes with --target-cosine or --size-budget');
  if (!goal && flags.has('heldout-data'))
    throw new UsageError('--heldout-data goes with --target-cosine or --size-budget');
  // Hessian pruning, channel removal and data-aware low rank run the model on these inputs before writing, verified or not.
  const calibrates =
    hessian ||
    spec.methods.includes('channels') ||
    (spec.methods.includes('lowrank') && spec.options.criterion === 'data');
  if (
    !goal &&
    !calibrates &&
    !verify &&
    CALIBRATION_FLAGS.some((f) => f !== 'seed' && flags.has(f))
  ) {
    throw new UsageError(
      'input options (--inputs, --samples, ...) choose what the variant is verified on; they do not go with --no-verify',
    );
  }
  const last = (n: string) => flags.get(n)?.at(-1);
  const minText = last('min-cosine');
  if (minText !== undefined && !verify)
    throw new UsageError('--min-cosine needs verification; it does not go with --no-verify');
  if (minText !== undefined && !capabilitiesOf(formatOfFileName(positional[0]) ?? '').runnable)
    throw new UsageError(
      '--min-cosine needs an ONNX model: only a graph can be run to measure its outputs',
    );
  const minCosine = minText === undefined ? DEFAULT_MIN_COSINE : minCosineFlag(minText);
  return {
    file: positional[0],
    spec,
    output: last('output'),
    force: flags.has('force'),
    json: flags.has('json'),
    verify,
    minCosine,
    minCosineGiven: minText !== undefined,
    goal,
    calibration,
  };
}

function sensitivityArgs(args: string[]): {
  file: string;
  spec: CompressSpec;
  calibration: SensitivityOptions;
  json: boolean;
} {
  const { positional, flags } = parseArgs(
    args,
    new Set([...METHOD_FLAGS, ...CALIBRATION_FLAGS, 'runs']),
    new Set([...METHOD_SWITCHES, 'json']),
  );
  if (positional.length !== 1) throw new UsageError('sensitivity takes one FILE');
  const calibration: SensitivityOptions = calibrationSettings(flags);
  const runs = numberFlag(flags, 'runs');
  if (runs !== undefined) {
    if (!Number.isInteger(runs) || runs < 0) throw new UsageError('--runs must be a whole number');
    calibration.fullRuns = runs;
  }
  const spec = methodSpec(flags, 'sensitivity');
  if (spec.options.criterion === 'hessian')
    throw new UsageError(
      'sensitivity ranks layers one at a time; --criterion hessian is for compress',
    );
  if (spec.methods.includes('channels'))
    throw new UsageError(
      'sensitivity compresses tensors one at a time; channel removal changes the graph (use compress --method channels)',
    );
  return { file: positional[0], spec, calibration, json: flags.has('json') };
}

/** A NAME=… spec parsed by core/verify, its refusal as a usage error rather than a verify failure. */
function spec<T>(parse: (text: string) => T, text: string): T {
  try {
    return parse(text);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** --samples, --seed, --inputs, --shape, --dim, --value, --threads (and --heldout-inputs where allowed). */
function calibrationSettings(flags: Map<string, string[]>): CalibrationOptions {
  const settings: CalibrationOptions = {};
  const samples = numberFlag(flags, 'samples');
  if (samples !== undefined) {
    if (!Number.isInteger(samples) || samples < 1 || samples > 10000)
      throw new UsageError('--samples must be an integer from 1 to 10000');
    settings.samples = samples;
  }
  const seed = numberFlag(flags, 'seed');
  if (seed !== undefined) settings.seed = seed;
  const threads = numberFlag(flags, 'threads');
  if (threads !== undefined) settings.threads = threads;
  const files = (name: string) =>
    (flags.get(name) ?? []).flatMap((v) => v.split(',')).filter(Boolean);
  if (files('inputs').length) settings.inputs = files('inputs');
  if (flags.get('data')?.length) settings.data = flags.get('data');
  const recipe = flags.get('recipe');
  if (recipe?.length) {
    if (!settings.data)
      throw new UsageError("--recipe says how --data becomes the model's inputs; give --data too");
    settings.recipe = recipe[recipe.length - 1];
  }
  if (files('heldout-inputs').length) settings.heldOutInputs = files('heldout-inputs');
  if (flags.get('heldout-data')?.length) {
    if (!flags.get('data')?.length)
      throw new UsageError('--heldout-data checks a goal found on --data; give --data too');
    settings.heldOutData = flags.get('heldout-data');
  }
  for (const text of flags.get('shape') ?? []) {
    const { name, dims } = spec(parseShapeSpec, text);
    (settings.shapes ??= {})[name] = dims;
  }
  for (const text of flags.get('dim') ?? []) {
    const { name, dims } = spec(parseShapeSpec, text);
    if (dims.length !== 1) throw new UsageError(`--dim is NAME=N, got '${text}'`);
    (settings.dims ??= {})[name] = dims[0];
  }
  for (const text of flags.get('value') ?? []) {
    const { name, value } = spec(parseValueSpec, text);
    (settings.values ??= {})[name] = value;
  }
  return settings;
}

function verifyArgs(args: string[]): {
  original: string;
  variant: string;
  settings: VerifySettings;
  json: boolean;
} {
  const { positional, flags } = parseArgs(args, new Set(CALIBRATION_FLAGS), new Set(['json']));
  if (positional.length !== 2) throw new UsageError('verify takes ORIGINAL and VARIANT');
  return {
    original: positional[0],
    variant: positional[1],
    settings: calibrationSettings(flags),
    json: flags.has('json'),
  };
}

/** Progress on stderr when it is a terminal: `done/total what`, redrawn in place at most 5 times a second. */
function terminalProgress(): ((done: number, total: number, what: string) => void) | undefined {
  let lastTick = 0;
  return process.stderr.isTTY
    ? (done, total, what) => {
        if (Date.now() - lastTick < 200) return;
        lastTick = Date.now();
        process.stderr.write(`\r\x1b[K${done}/${total} ${what.slice(0, 60)}`);
      }
    : undefined;
}

/** Runs the variant against the original unless verification is off, impossible or (without --min-cosine) too big. */
async function verifyVariant(
  args: CompressArgs,
  result: { output: string; report: CompressReport },
): Promise<VerifyOutcome> {
  if (!args.verify) return { state: 'off', reason: 'verification is off (--no-verify)' };
  const limit = args.minCosineGiven
    ? undefined
    : {
        bytes: DEFAULT_VERIFY_SIZE_LIMIT_MB * 2 ** 20,
        setting: "as VS Code's modelLens.compress.verifySizeLimitMB; --min-cosine verifies anyway",
      };
  const blocked = verificationBlocked(args.file, result.report.totals, limit);
  if (blocked) return blocked;
  const { samples, seed, inputs, data, recipe, shapes, dims, values, threads } = args.calibration;
  try {
    return {
      state: 'done',
      report: await runVerify(args.file, result.output, {
        samples,
        seed,
        inputs,
        data,
        recipe,
        shapes,
        dims,
        values,
        threads,
      }),
    };
  } catch (err) {
    return {
      state: 'failed',
      reason: (err instanceof Error ? err.message : String(err)).split('\n')[0],
    };
  }
}

/**
 * A poor variant's layers compressed one at a time on the same inputs, so the verdict can name the
 * tensors that measurably hurt; undefined where the scan fails.
 */
async function scanLayers(
  args: CompressArgs,
  progress: ReturnType<typeof terminalProgress>,
): Promise<SensitivityReport | undefined> {
  const { samples, seed, inputs, data, recipe, shapes, dims, values, threads } = args.calibration;
  try {
    return await analyseSensitivity(args.file, args.spec, {
      samples,
      seed,
      inputs,
      data,
      recipe,
      shapes,
      dims,
      values,
      threads,
      measuredOnly: true,
      progress:
        progress && ((d, t, what) => progress(d, t, `finding the layers responsible: ${what}`)),
    });
  } catch {
    return undefined;
  } finally {
    if (progress) process.stderr.write('\r\x1b[K');
  }
}

/** Exit code 1 when the user's --min-cosine rejected the variant (which is then removed). */
async function compressCommand(args: CompressArgs): Promise<number> {
  const progress = terminalProgress();
  // Temp files of an earlier, killed run in the target folder go first (compressFile's temps are named for this).
  removeStaleTemps(path.dirname(path.resolve(args.output ?? args.file)));
  const tensorThreads = {
    script: path.join(__dirname, 'worker.js'),
    count: os.availableParallelism(),
  };
  const fileOptions = { output: args.output, force: args.force, progress, tensorThreads };
  const result = args.goal
    ? await compressForFidelity(args.file, args.spec, args.goal, {
        ...args.calibration,
        ...fileOptions,
      })
    : await compressVariant(args.file, args.spec, {
        ...fileOptions,
        calibration: args.calibration,
      });
  if (progress) process.stderr.write('\r\x1b[K');
  const outcome = await verifyVariant(args, result);
  const verdict = await judgeWithScan(
    result.report,
    outcome,
    args.minCosine,
    args.file,
    args.spec,
    args.goal !== undefined,
    () => scanLayers(args, progress),
  );
  // A variant the user's own threshold rejects (or that could not be checked against it) must not stay behind looking usable.
  const rejected = args.minCosineGiven && verdict.state !== 'ok';
  if (rejected && path.resolve(result.output) !== path.resolve(args.file))
    removeVariant(result.output);
  const verification = outcome.state === 'done' ? outcome.report : undefined;
  if (args.json) {
    process.stdout.write(
      JSON.stringify({
        input: result.input,
        output: result.output,
        elapsedMs: result.elapsedMs,
        ...result.report,
        ...(verification ? { verify: verification } : {}),
        verdict,
        ...(rejected ? { removed: true } : {}),
      }) + '\n',
    );
  } else {
    process.stdout.write(formatCompressReport(result.report, result, verdict));
    if (verification) process.stdout.write('\n' + formatVerifyReport(verification));
  }
  const name = path.basename(result.output);
  if (rejected) {
    process.stderr.write(
      `model-lens: ${args.file}: ${verdictHeadline(verdict)}; --min-cosine ${args.minCosine} rejects it, so ${name} was removed\n`,
    );
    return 1;
  }
  warnVerdict(name, verdict, outcome);
  return 0;
}

/** One loud stderr line for a variant that is poor, or unchecked where it could have been (failed, too big). */
function warnVerdict(name: string, verdict: Verdict, outcome: VerifyOutcome): void {
  if (verdict.state === 'poor')
    process.stderr.write(
      `model-lens: warning: ${name}: ${verdictHeadline(verdict)} (kept; --min-cosine ${verdict.minCosine} would reject it)\n`,
    );
  else if (outcome.state === 'failed' || outcome.state === 'skipped' || verdict.state === 'failed')
    process.stderr.write(`model-lens: warning: ${name}: ${verdictHeadline(verdict)}\n`);
}

async function sensitivityCommand(args: ReturnType<typeof sensitivityArgs>): Promise<void> {
  const progress = terminalProgress();
  const report = await analyseSensitivity(args.file, args.spec, { ...args.calibration, progress });
  if (progress) process.stderr.write('\r\x1b[K');
  process.stdout.write(args.json ? JSON.stringify(report) + '\n' : formatSensitivity(report));
}

async function verifyCommand(args: ReturnType<typeof verifyArgs>): Promise<void> {
  const report = await runVerify(args.original, args.variant, args.settings);
  process.stdout.write(args.json ? JSON.stringify(report) + '\n' : formatVerifyReport(report));
}

function recipeArgs(rest: string[]): {
  file: string;
  write: boolean;
  force: boolean;
  json: boolean;
} {
  const { positional, flags } = parseArgs(rest, new Set(), new Set(['write', 'force', 'json']));
  if (positional.length !== 1) throw new UsageError('recipe takes one model file');
  if (flags.has('force') && !flags.has('write')) throw new UsageError('--force goes with --write');
  return {
    file: positional[0],
    write: flags.has('write'),
    force: flags.has('force'),
    json: flags.has('json'),
  };
}

async function recipeCommand(args: ReturnType<typeof recipeArgs>): Promise<void> {
  const r = await withOpenModel(args.file, async (m) => {
    if (!capabilitiesOf(m.model.format).runnable)
      throw new InvalidModelError(
        `recipes describe the inputs of an ONNX model; this is ${m.model.format}`,
      );
    return recipeFor(args.file, m.model);
  });
  if (args.write) {
    if (r.fromFile && !args.force)
      throw new Error(`${path.basename(r.path)} already exists (use --force to overwrite)`);
    writeRecipe(r, args.force);
  }
  if (args.json) {
    process.stdout.write(
      JSON.stringify({
        path: r.path,
        fromFile: r.fromFile,
        written: args.write,
        recipe: r.recipe,
      }) + '\n',
    );
    return;
  }
  const origin = r.fromFile
    ? `read from ${r.path}`
    : args.write
      ? `proposed from the model, written to ${r.path}`
      : `proposed from the model (--write saves it to ${r.path})`;
  process.stdout.write(
    `${path.basename(args.file)}: recipe ${origin}\n${formatRecipeLines(r.recipe)}`,
  );
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  if (command === '-v' || command === '--version') {
    process.stdout.write(`model-lens ${VERSION}\n`);
    return 0;
  }
  let file = '';
  try {
    if (command === 'inspect') {
      const args = parseInspect(rest);
      file = args.file;
      await inspect(args);
    } else if (command === 'compress') {
      const args = compressArgs(rest);
      file = args.file;
      return await compressCommand(args);
    } else if (command === 'sensitivity') {
      const args = sensitivityArgs(rest);
      file = args.file;
      await sensitivityCommand(args);
    } else if (command === 'recipe') {
      const args = recipeArgs(rest);
      file = args.file;
      await recipeCommand(args);
    } else if (command === 'verify') {
      const args = verifyArgs(rest);
      file = args.variant;
      await verifyCommand(args);
    } else throw new UsageError(`unknown command '${command}'`);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`model-lens: ${err.message}\nRun 'model-lens --help' for usage.\n`);
      return 2;
    }
    const reason =
      err instanceof InvalidModelError || err instanceof Error ? err.message : String(err);
    // The original refused its inputs: name it, not the variant verify was given second.
    if (err instanceof InputsRejectedError && err.file) file = err.file;
    if (err instanceof RecipeError) file = err.file;
    process.stderr.write(`model-lens: ${file}: ${reason.split('\n')[0]}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
