/** Compression commands: pick the model, ask what to do, run in a worker with progress, then report. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { formatCompressReport } from '../core/compress/format';
import {
  describeGoal,
  LAYER_CHOICES,
  normaliseSpec,
  parseMethods,
  variantSuffix,
  type CompressSpec,
  type LayerChoice,
} from '../core/compress/spec';
import type { SensitivityReport } from '../core/compress/sensitivity';
import type { MethodName, MethodOptions } from '../core/compress/types';
import { RecipeError } from '../core/data/recipe';
import { CancelledError } from '../core/errors';
import { formatVerifyReport } from '../core/verify/report';
import type { VerifySettings } from '../core/verify/verify';
import { InputsRejectedError } from '../core/verify/tensor';
import {
  judgeVariant,
  judgeWithScan,
  verdictHeadline,
  verificationBlocked,
  type VerifyOutcome,
} from '../core/compress/verdict';
import { variantPath } from '../node/atomicWrite';
import type { CompressFileResult } from '../node/compress';
import type { CompressOutcome } from './compressOutcome';
import type { ModelService } from '../node/modelService';
import { MAX_SCAN_SAMPLES, parseGoal, type FidelityGoal } from '../shared/protocol';
import { ComparePanel } from './comparePanel';
import { compressDefaults } from './compressSettings';
import {
  askClusters,
  askPruneOptions,
  compressWizard,
  describeSpec,
  parsePattern,
  type WizardResult,
} from './compressWizard';
import { INSPECTOR_VIEW_TYPE } from './inspector';
import { choiceSettings, describeChoice, type CalibrationStore } from './calibrationData';
import {
  notifyRecipe,
  offerCalibrationData,
  recipeLine,
  showRecipeError,
} from './calibrationPicker';
import { ReportPanel } from './reportPanel';
import { describeRatio } from '../shared/reportProtocol';
import { capabilitiesOf, formatOfFileName } from '../core/formats/capabilities';

const MODEL_FILTERS = {
  Models: ['onnx', 'safetensors', 'gguf', 'pt', 'pth', 'ckpt', 'bin'],
  'Sharded safetensors index': ['json'],
};

/** A variant's name suffix; a goal picks per-layer precisions, so its variant is named like the CLI names a mixed one. */
function outputSuffix(spec: CompressSpec, goal: FidelityGoal | null | undefined): string {
  return variantSuffix(spec) + (goal && !Object.keys(spec.overrides ?? {}).length ? '.mixed' : '');
}

/** Options a caller (another extension, a test) may pass as the second argument instead of answering prompts. */
export interface RunOptions {
  /** Replace an existing output without asking. */
  force?: boolean;
  /** Override the modelLens.compress.verify setting. */
  verify?: boolean;
  /** Absolute path of the variant (default: next to the model). */
  output?: string;
  /** ONNX only: choose per-layer precision for a target cosine or a size; the spec's overrides are pins. */
  goal?: FidelityGoal;
  /**
   * Inputs of a goal run's calibration and of verification: seeded random samples (`samples` also
   * caps data), tensor files, or data (images, recordings, folders). Without `inputs` and `data`,
   * the model's remembered calibration data (Choose Calibration Data…).
   */
  calibration?: { samples?: number; seed?: number; inputs?: string[]; data?: string[] };
}

export interface CompressDeps {
  extensionUri: vscode.Uri;
  service: ModelService;
  log: vscode.LogOutputChannel;
  /** The model a command acts on: its Uri argument, else the active inspector, else ask. */
  targetUri(arg: unknown): Promise<vscode.Uri | undefined>;
  /** The file of the active inspector, if any. */
  activeModel(): vscode.Uri | undefined;
  /** The calibration data remembered per model. */
  calibration: CalibrationStore;
}

/** Outcomes of this session's runs, by variant path: the Compare view and report panel read them. */
const outcomes = new Map<string, { outcome: CompressOutcome; size: number; mtimeMs: number }>();

function remember(outcome: CompressOutcome): void {
  try {
    const st = fs.statSync(outcome.result.output);
    outcomes.set(outcome.result.output, { outcome, size: st.size, mtimeMs: st.mtimeMs });
  } catch {
    // The variant vanished already: nothing to pair it with later.
  }
}

/** This session's outcome for the pair, if the variant is still the file that run wrote. */
export function outcomeFor(original: string, variant: string): CompressOutcome | undefined {
  const hit = outcomes.get(variant);
  if (!hit || path.resolve(hit.outcome.result.input) !== path.resolve(original)) return undefined;
  try {
    const st = fs.statSync(variant);
    return st.size === hit.size && st.mtimeMs === hit.mtimeMs ? hit.outcome : undefined;
  } catch {
    return undefined;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof vscode.Uri);
}

/** Reads the optional options argument; anything malformed is ignored field by field. */
function runOptions(arg: unknown): RunOptions & { method: MethodOptions; spec?: CompressSpec } {
  const o = isPlainObject(arg) ? arg : {};
  const method: MethodOptions = {};
  if (typeof o.sparsity === 'number') method.sparsity = o.sparsity;
  if (typeof o.pattern === 'string') {
    const p = parsePattern(o.pattern);
    if (typeof p !== 'string') method.pattern = p;
  }
  if (typeof o.clusters === 'number') method.clusters = o.clusters;
  if (typeof o.blockSize === 'number') method.blockSize = o.blockSize;
  if (o.granularity === 'channel' || o.granularity === 'tensor') method.granularity = o.granularity;
  const spec =
    isPlainObject(o.spec) && Array.isArray(o.spec.methods)
      ? {
          methods: o.spec.methods as MethodName[],
          options: isPlainObject(o.spec.options) ? (o.spec.options as MethodOptions) : {},
          overrides: overridesArg(o.spec.overrides),
        }
      : undefined;
  const cal = isPlainObject(o.calibration) ? o.calibration : {};
  const calibration = {
    ...(Number.isInteger(cal.samples) &&
    (cal.samples as number) >= 1 &&
    (cal.samples as number) <= MAX_SCAN_SAMPLES
      ? { samples: cal.samples as number }
      : {}),
    ...(Number.isSafeInteger(cal.seed) && (cal.seed as number) >= 0
      ? { seed: cal.seed as number }
      : {}),
    // Relative paths would resolve against the extension host's working directory, which nobody chose.
    ...(absolutePaths(cal.inputs) ? { inputs: cal.inputs } : {}),
    ...(absolutePaths(cal.data) ? { data: cal.data } : {}),
  };
  return {
    goal: parseGoal(o.goal),
    calibration,
    force: o.force === true,
    verify: typeof o.verify === 'boolean' ? o.verify : undefined,
    // Relative to what? The extension host's working directory is no place the user chose.
    output: typeof o.output === 'string' && path.isAbsolute(o.output) ? o.output : undefined,
    method,
    spec,
  };
}

/** A run's calibration without its files: the random samples' count and seed. */
function seededOnly(calibration: RunOptions['calibration']): { samples?: number; seed?: number } {
  const { samples, seed } = calibration ?? {};
  return { ...(samples !== undefined ? { samples } : {}), ...(seed !== undefined ? { seed } : {}) };
}

function absolutePaths(v: unknown): v is string[] {
  return (
    Array.isArray(v) && v.length > 0 && v.every((f) => typeof f === 'string' && path.isAbsolute(f))
  );
}

/** Per-tensor choices from a command argument: entries with an unknown choice are dropped. */
function overridesArg(raw: unknown): Record<string, LayerChoice> | undefined {
  if (!isPlainObject(raw)) return undefined;
  const out: Record<string, LayerChoice> = Object.create(null) as Record<string, LayerChoice>;
  for (const [name, choice] of Object.entries(raw))
    if (LAYER_CHOICES.includes(choice as LayerChoice)) out[name] = choice as LayerChoice;
  return Object.keys(out).length ? out : undefined;
}

/** Explorer multi-selection arrives as (clicked, selected[]); each selected model gets compressed. */
async function targets(deps: CompressDeps, arg: unknown, second: unknown): Promise<vscode.Uri[]> {
  if (Array.isArray(second) && second.length > 1 && second.every((u) => u instanceof vscode.Uri)) {
    return (second as vscode.Uri[]).filter((u) =>
      fs.statSync(u.fsPath, { throwIfNoEntry: false })?.isFile(),
    );
  }
  const one = await deps.targetUri(arg);
  return one ? [one] : [];
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

/** Opens a model in the inspector. */
function openInInspector(uri: vscode.Uri): Thenable<unknown> {
  return vscode.commands.executeCommand('vscode.openWith', uri, INSPECTOR_VIEW_TYPE);
}

export function registerCompressCommands(deps: CompressDeps): vscode.Disposable[] {
  const reportDeps = {
    extensionUri: deps.extensionUri,
    log: deps.log,
    open: (o: CompressOutcome) => openInInspector(vscode.Uri.file(o.result.output)),
    compare: (o: CompressOutcome) =>
      showCompare(vscode.Uri.file(o.result.input), vscode.Uri.file(o.result.output)),
    reveal: (o: CompressOutcome) =>
      vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(o.result.output)),
    verifyAgain: (o: CompressOutcome) => reverify(o),
    chooseData: async (o: CompressOutcome) => {
      if (
        await vscode.commands.executeCommand<boolean>(
          'modelLens.chooseData',
          vscode.Uri.file(o.result.input),
        )
      )
        await reverify(o);
    },
    calibration: deps.calibration,
  };
  const compareDeps = {
    extensionUri: deps.extensionUri,
    service: deps.service,
    log: deps.log,
    outcomeFor,
    openModel: openInInspector,
    showReport: (o: CompressOutcome) => ReportPanel.show(reportDeps, o),
  };

  function showCompare(original: vscode.Uri, variant: vscode.Uri): void {
    ComparePanel.show(compareDeps, original, variant);
  }

  /**
   * What runs of `input` are fed: the files a caller passed, else the model's remembered
   * calibration data; `label` says it in a few words for progress and messages.
   */
  function fedFor(
    input: string,
    calibration?: RunOptions['calibration'],
  ): { settings: Pick<VerifySettings, 'data' | 'inputs'>; label: string } {
    const choice =
      calibration?.inputs || calibration?.data
        ? { data: calibration.data ?? [], inputs: calibration.inputs ?? [] }
        : deps.calibration.get(input);
    return { settings: choiceSettings(choice), label: describeChoice(choice).label };
  }

  /** Verification's settings: data is used whole (as the CLI does); random inputs get the samples setting. */
  function verifySettings(fed: Pick<VerifySettings, 'data' | 'inputs'>): VerifySettings {
    return fed.data ? fed : { samples: compressDefaults().verifySamples, ...fed };
  }

  /** A failed check as the report shows it; a recipe's error names its file. */
  function verifyFailure(err: unknown): VerifyOutcome {
    if (err instanceof RecipeError)
      return { state: 'failed', reason: recipeLine(err), recipeFile: err.file };
    return {
      state: 'failed',
      reason: firstLine(err),
      ...(err instanceof InputsRejectedError ? { inputsRejected: true } : {}),
    };
  }

  async function runVerify(
    outcomeResult: CompressFileResult,
    wanted: boolean,
    progress: vscode.Progress<{ message?: string }>,
    signal: AbortSignal,
    fed: ReturnType<typeof fedFor>,
  ): Promise<VerifyOutcome> {
    if (!wanted)
      return { state: 'off', reason: 'verification is off (setting modelLens.compress.verify)' };
    const d = compressDefaults();
    const blocked = verificationBlocked(outcomeResult.input, outcomeResult.report.totals, {
      bytes: d.verifyLimitBytes,
      setting: 'setting modelLens.compress.verifySizeLimitMB',
    });
    if (blocked) return blocked;
    const on =
      fed.settings.data || fed.settings.inputs ? fed.label : `${d.verifySamples} random inputs`;
    progress.report({
      message: `verifying: running both models on ${on}… (Cancel keeps ${path.basename(outcomeResult.output)})`,
    });
    try {
      return {
        state: 'done',
        report: await deps.service.verify(
          outcomeResult.input,
          outcomeResult.output,
          verifySettings(fed.settings),
          signal,
        ),
      };
    } catch (err) {
      if (err instanceof CancelledError || signal.aborted) return { state: 'cancelled' };
      deps.log.error(
        `verify ${outcomeResult.input} vs ${outcomeResult.output}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
      return verifyFailure(err);
    }
  }

  /** Checks a written variant again on the original's calibration data as chosen now, and shows the report with the result. */
  async function reverify(outcome: CompressOutcome): Promise<void> {
    const { input, output } = outcome.result;
    const fed = fedFor(input);
    // The data may be chosen long after: numbers for a variant rewritten since must not land on this run's report.
    if (outcomeFor(input, output) !== outcome) {
      void vscode.window.showWarningMessage(
        `Model Lens: ${path.basename(output)} has changed since it was written; compress again to check it on ${fed.label}.`,
      );
      return;
    }
    try {
      const report = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: `Model Lens: verifying ${path.basename(output)} on ${fed.label}`,
          cancellable: true,
        },
        (_progress, token) => {
          const controller = new AbortController();
          token.onCancellationRequested(() => controller.abort());
          return deps.service.verify(
            input,
            output,
            verifySettings(fed.settings),
            controller.signal,
          );
        },
      );
      outcome.verify = { state: 'done', report };
      outcome.verdict = judgeVariant(
        outcome.result.report,
        outcome.verify,
        compressDefaults().minCosine,
        input,
      );
      remember(outcome);
      deps.log.info('\n' + formatVerifyReport(report));
      ReportPanel.show(reportDeps, outcome);
      // A poor verdict on the user's own files must be as loud as on a first run.
      if (outcome.verdict.state === 'poor') {
        deps.log.warn(`${path.basename(output)}: ${verdictHeadline(outcome.verdict)}`);
        void vscode.window.showWarningMessage(
          `Model Lens: checked ${path.basename(output)} on ${fed.label}: ${verdictHeadline(outcome.verdict)}.`,
        );
      }
    } catch (err) {
      if (err instanceof CancelledError || showRecipeError(err)) return;
      if (err instanceof InputsRejectedError)
        return offerCalibrationData(
          deps.calibration,
          input,
          err.message,
          () => void reverify(outcome),
        );
      deps.log.error(
        `verify ${input} vs ${output}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
      void vscode.window.showErrorMessage(
        `Model Lens: cannot verify ${path.basename(output)}: ${firstLine(err)}`,
      );
    }
  }

  /**
   * The message after a run: information for a good or deliberately unchecked variant, a warning
   * that leads with the verdict when the outputs moved too far or the check failed.
   */
  function notify(outcome: CompressOutcome, outName: string, panel: ReportPanel): void {
    const { result, verdict } = outcome;
    const ratio = describeRatio(result.report.totals.ratio);
    const act = (choice: string | undefined) => {
      if (choice === 'Open Report') panel.panel.reveal();
      else if (choice === 'Open') void reportDeps.open(outcome);
      else if (choice === 'Compare') reportDeps.compare(outcome);
      else if (choice === 'Reveal in Explorer') void reportDeps.reveal(outcome);
    };
    if (verdict.state === 'poor' || verdict.state === 'failed') {
      const blame =
        verdict.state === 'poor' &&
        (verdict.spread
          ? ' No single tensor explains it.'
          : verdict.suspects.length
            ? ` Most likely: ${verdict.suspects.map((s) => s.name).join(', ')}.`
            : '');
      const detail = verdict.state === 'poor' ? `${blame} Try: ${verdict.suggestions[0]}.` : '';
      void vscode.window
        .showWarningMessage(
          `Wrote ${outName} (${ratio}), but ${verdictHeadline(verdict)}.${detail}`,
          'Open Report',
          'Compare',
          'Reveal in Explorer',
        )
        .then(act);
      return;
    }
    void vscode.window
      .showInformationMessage(
        `Wrote ${outName} — ${ratio}, ${verdictHeadline(verdict)}`,
        'Open',
        'Compare',
        'Reveal in Explorer',
      )
      .then(act);
  }

  /** Each layer compressed alone on the verification inputs, to name what hurt a poor variant; undefined if cancelled or failed. */
  async function scanLayers(
    input: string,
    spec: CompressSpec,
    progress: vscode.Progress<{ message?: string }>,
    signal: AbortSignal,
    fed: Pick<VerifySettings, 'data' | 'inputs'>,
  ): Promise<SensitivityReport | undefined> {
    try {
      // The samples setting caps data too: a layer-by-layer scan runs the model once per layer and sample.
      return await deps.service.sensitivity(
        input,
        spec,
        { samples: compressDefaults().verifySamples, ...fed },
        (p) =>
          progress.report({
            message: `finding the layers responsible: ${p.done}/${p.total} ${p.tensor}`,
          }),
        signal,
      );
    } catch (err) {
      if (!signal.aborted) deps.log.warn(`layer scan of ${input}: ${firstLine(err)}`);
      return undefined;
    }
  }

  /** Writes the variant, verifies it, opens the report; resolves to undefined when declined, cancelled or failed. */
  async function compress(
    uri: vscode.Uri,
    spec: CompressSpec,
    options: RunOptions,
  ): Promise<CompressOutcome | undefined> {
    const input = uri.fsPath;
    const name = path.basename(input);
    let normalised: CompressSpec;
    let output: string;
    try {
      // Specs from command arguments are untrusted: method names go through the CLI's parser.
      normalised = normaliseSpec({
        methods: parseMethods(spec.methods.join(',')),
        options: spec.options,
        ...(spec.overrides ? { overrides: spec.overrides } : {}),
      });
      if (options.goal && !capabilitiesOf(formatOfFileName(input) ?? '').runnable)
        throw new Error('a fidelity goal runs the model in onnxruntime, so it needs ONNX');
      output = path.resolve(
        options.output ?? variantPath(input, outputSuffix(normalised, options.goal)),
      );
      if (output === path.resolve(input))
        throw new Error('the output would overwrite the original');
    } catch (err) {
      deps.log.error(`${input}: ${firstLine(err)}`);
      void vscode.window.showErrorMessage(`Model Lens: cannot compress ${name}: ${firstLine(err)}`);
      return undefined;
    }
    const outName = path.basename(output);
    let force = options.force ?? false;
    if (!force && fs.existsSync(output)) {
      const choice = await vscode.window.showWarningMessage(
        `${outName} already exists. Overwrite it?`,
        {
          modal: true,
          detail: `Compressing ${name} (${describeSpec(normalised)}) writes ${outName}. ${name} itself is not modified.`,
        },
        'Overwrite',
      );
      if (choice !== 'Overwrite') return undefined;
      force = true;
    }
    const verifyWanted = options.verify ?? compressDefaults().verify;
    const goalText = options.goal ? `, ${describeGoal(options.goal)}` : '';
    deps.log.info(`compressing ${input} → ${output} (${describeSpec(normalised)}${goalText})`);
    let outcome: CompressOutcome;
    try {
      outcome = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: `Model Lens: ${name} → ${outName}`,
          cancellable: true,
        },
        async (progress, token) => {
          const controller = new AbortController();
          const cancel = token.onCancellationRequested(() => controller.abort());
          try {
            // The bar covers compression; verification's share is left for it so the bar never sits full while work goes on.
            const share = verifyWanted ? 80 : 100;
            let shown = 0;
            progress.report({ message: 'reading weights…' });
            const goal = options.goal;
            const fed = fedFor(input, options.calibration);
            const result = await deps.service.compress(
              input,
              normalised,
              // The calibration feeds a goal's search, Hessian pruning and channel removal; other methods run nothing.
              {
                output,
                force,
                calibration: { ...seededOnly(options.calibration), ...fed.settings },
                ...(goal ? { goal } : {}),
              },
              (p) => {
                // A goal run has phases (scan, search, write) whose counts restart: the message says where it is.
                if (goal) return progress.report({ message: `${p.tensor} (${p.done}/${p.total})` });
                const pct = p.total ? (p.done / p.total) * share : 0;
                progress.report({
                  increment: pct - shown,
                  message: `compressing ${p.done + 1}/${p.total}: ${p.tensor}`,
                });
                shown = pct;
              },
              controller.signal,
            );
            progress.report({ increment: share - shown, message: `wrote ${outName}` });
            const verify = await runVerify(result, verifyWanted, progress, controller.signal, fed);
            const minCosine = compressDefaults().minCosine;
            const verdict = await judgeWithScan(
              result.report,
              verify,
              minCosine,
              result.input,
              normalised,
              goal !== undefined,
              () => scanLayers(input, normalised, progress, controller.signal, fed.settings),
            );
            return { result, spec: normalised, verify, verdict };
          } finally {
            cancel.dispose();
          }
        },
      );
    } catch (err) {
      if (err instanceof CancelledError) {
        deps.log.info(`${input}: compression cancelled; nothing was written`);
        vscode.window.setStatusBarMessage(
          `Model Lens: compression of ${name} cancelled — nothing was written`,
          6000,
        );
        return undefined;
      }
      deps.log.error(
        `${input}: compression (${describeSpec(normalised)}) failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
      if (showRecipeError(err)) return undefined;
      // A goal's calibration could not run the model: the same run on data the user picks (and the store remembers) may.
      if (err instanceof InputsRejectedError) {
        offerCalibrationData(
          deps.calibration,
          input,
          err.message,
          () =>
            void compress(uri, spec, {
              ...options,
              force,
              calibration: seededOnly(options.calibration),
            }),
        );
        return undefined;
      }
      void vscode.window
        .showErrorMessage(`Model Lens: cannot compress ${name}: ${firstLine(err)}`, 'Show Details')
        .then((c) => {
          if (c === 'Show Details') deps.log.show(true);
        });
      return undefined;
    }

    const { result, verify, verdict } = outcome;
    remember(outcome);
    deps.log.info('\n' + formatCompressReport(result.report, result, verdict));
    if (verify.state === 'done') deps.log.info('\n' + formatVerifyReport(verify.report));
    if (verdict.state === 'poor' || verdict.state === 'failed')
      deps.log.warn(`${outName}: ${verdictHeadline(verdict)}`);
    const panel = ReportPanel.show(reportDeps, outcome);
    if (verify.state === 'failed' && verify.inputsRejected)
      offerCalibrationData(deps.calibration, input, verify.reason, () => void reverify(outcome));
    else if (verify.state === 'failed' && verify.recipeFile)
      notifyRecipe(
        verify.recipeFile,
        `wrote ${outName} (${describeRatio(result.report.totals.ratio)}) but could not verify it: ${verify.reason}`,
      );
    else notify(outcome, outName, panel);
    return outcome;
  }

  /** A command that works out the spec and goal (possibly by asking) and compresses each target with them. */
  function command(
    id: string,
    jobFor: (
      opts: ReturnType<typeof runOptions>,
      files: vscode.Uri[],
    ) => Promise<WizardResult | undefined>,
  ): vscode.Disposable {
    return vscode.commands.registerCommand(id, async (arg?: unknown, second?: unknown) => {
      const opts = runOptions(second);
      const files = await targets(deps, arg, second);
      if (!files.length) return undefined;
      const job = opts.spec ? { spec: opts.spec, goal: opts.goal } : await jobFor(opts, files);
      if (!job) return undefined;
      let last: CompressOutcome | undefined;
      for (const file of files)
        last = (await compress(file, job.spec, { ...opts, goal: job.goal ?? opts.goal })) ?? last;
      return last;
    });
  }

  const fixed =
    (methods: MethodName[], options: (d: ReturnType<typeof compressDefaults>) => MethodOptions) =>
    async (o: ReturnType<typeof runOptions>) => ({
      spec: { methods, options: { ...options(compressDefaults()), ...o.method } },
    });

  return [
    command('modelLens.compress', async (_o, files) => {
      const label = files.length > 1 ? `${files.length} models` : path.basename(files[0].fsPath);
      const onnx = files.every((f) => capabilitiesOf(formatOfFileName(f.fsPath) ?? '').runnable);
      // One model's data can be shown and changed on the last page; several models each keep their own.
      const one = onnx && files.length === 1 ? files[0] : undefined;
      const data = one && {
        label: () => deps.calibration.view(one.fsPath).label,
        choose: () => vscode.commands.executeCommand('modelLens.chooseData', one),
      };
      return compressWizard(
        label,
        compressDefaults(),
        onnx,
        (spec, goal) => {
          const suffix = outputSuffix(spec, goal);
          const outputs = files.map((f) => variantPath(f.fsPath, suffix));
          const name =
            files.length > 1
              ? `<model>.${suffix}${path.extname(files[0].fsPath)} for each`
              : path.basename(outputs[0]);
          return { name, exists: outputs.some((o) => fs.existsSync(o)) };
        },
        data,
      );
    }),
    command(
      'modelLens.quantizeInt8',
      fixed(['int8'], (d) => ({ granularity: d.granularity })),
    ),
    command(
      'modelLens.quantizeInt4',
      fixed(['int4'], (d) => ({ blockSize: d.blockSize })),
    ),
    command(
      'modelLens.convertFp16',
      fixed(['fp16'], () => ({})),
    ),
    command('modelLens.prune', async (o) => {
      const given = o.method.sparsity !== undefined || o.method.pattern !== undefined;
      const options = given ? o.method : await askPruneOptions(compressDefaults());
      return options ? { spec: { methods: ['prune'], options } } : undefined;
    }),
    command('modelLens.cluster', async (o) => {
      const k = o.method.clusters ?? (await askClusters(compressDefaults()));
      return k === undefined
        ? undefined
        : { spec: { methods: ['cluster'], options: { clusters: k } } };
    }),
    vscode.commands.registerCommand(
      'modelLens.compare',
      async (arg?: unknown, second?: unknown) => {
        const pair = await comparePair(deps, arg, second);
        if (pair) showCompare(pair[0], pair[1]);
        return pair?.map((u) => u.fsPath);
      },
    ),
  ];
}

/** `b` is named like a variant of `a`: a.onnx → a.<suffix>.onnx. */
function looksLikeVariantOf(a: string, b: string): boolean {
  const stem = path.basename(a, path.extname(a));
  return (
    path.dirname(a) === path.dirname(b) &&
    path.basename(b).startsWith(stem + '.') &&
    path.basename(b) !== path.basename(a)
  );
}

function ordered(a: vscode.Uri, b: vscode.Uri): [vscode.Uri, vscode.Uri] {
  if (
    outcomeFor(b.fsPath, a.fsPath) ||
    (looksLikeVariantOf(b.fsPath, a.fsPath) && !looksLikeVariantOf(a.fsPath, b.fsPath))
  )
    return [b, a];
  return [a, b];
}

/**
 * Which two models to compare: two given or selected, else one (selection, inspector or asked)
 * and its original or variant — from this session's runs, from the file names, or asked.
 */
async function comparePair(
  deps: CompressDeps,
  arg: unknown,
  second: unknown,
): Promise<[vscode.Uri, vscode.Uri] | undefined> {
  if (arg instanceof vscode.Uri && second instanceof vscode.Uri) return [arg, second];
  if (Array.isArray(second) && second.length === 2 && second.every((u) => u instanceof vscode.Uri))
    return ordered(second[0], second[1]);
  const first =
    arg instanceof vscode.Uri ? arg : (deps.activeModel() ?? (await deps.targetUri(undefined)));
  if (!first) return undefined;
  const file = first.fsPath;
  for (const { outcome } of outcomes.values()) {
    if (outcome.result.output === file && outcomeFor(outcome.result.input, file))
      return [vscode.Uri.file(outcome.result.input), first];
  }
  const latest = [...outcomes.values()]
    .reverse()
    .find(
      ({ outcome }) => outcome.result.input === file && outcomeFor(file, outcome.result.output),
    );
  if (latest) return [first, vscode.Uri.file(latest.outcome.result.output)];
  const ext = path.extname(file).toLowerCase();
  const siblings = fs
    .readdirSync(path.dirname(file))
    .filter((n) => path.extname(n).toLowerCase() === ext && n !== path.basename(file))
    .map((n) => path.join(path.dirname(file), n));
  const original = siblings.find((s) => looksLikeVariantOf(s, file));
  const items: (vscode.QuickPickItem & { file?: string })[] = siblings
    .sort(
      (a, b) =>
        Number(looksLikeVariantOf(file, b) || b === original) -
        Number(looksLikeVariantOf(file, a) || a === original),
    )
    .map((s) => ({
      label: path.basename(s),
      description:
        s === original
          ? 'original of this file'
          : looksLikeVariantOf(file, s)
            ? 'variant of this file'
            : undefined,
      file: s,
    }));
  items.push({ label: '$(folder-opened) Browse…' });
  const chosen = await vscode.window.showQuickPick(items, {
    title: `Compare ${path.basename(file)} with…`,
    placeHolder: 'Choose the other model',
  });
  if (!chosen) return undefined;
  let other: vscode.Uri | undefined = chosen.file ? vscode.Uri.file(chosen.file) : undefined;
  if (!other)
    other = (
      await vscode.window.showOpenDialog({
        canSelectMany: false,
        filters: MODEL_FILTERS,
        title: `Compare ${path.basename(file)} with…`,
      })
    )?.[0];
  return other ? ordered(first, other) : undefined;
}
