/** QuickPick questions for compression: the Compress… wizard and the prompts of the direct commands. */
import * as vscode from 'vscode';
import {
  describeGoal,
  METHOD_DESCRIPTIONS,
  normaliseSpec,
  parseTargetCosine,
  SpecError,
  type CompressSpec,
} from '../core/compress/spec';
import type { MethodName, MethodOptions } from '../core/compress/types';
import { parseByteSize } from '../core/units';
import type { FidelityGoal } from '../shared/protocol';
import type { CompressDefaults } from './compressSettings';

const BACK = Symbol('back');
type Answer<T> = T | typeof BACK | undefined;

interface Choice<T> extends vscode.QuickPickItem {
  value?: T;
}

interface Position {
  title: string;
  step: number;
  totalSteps: number;
}

/** One QuickPick page; resolves to the chosen value, BACK, or undefined when dismissed. */
function pick<T>(
  pos: Position,
  placeholder: string,
  items: Choice<T>[],
  active?: T,
): Promise<Answer<T>> {
  const qp = vscode.window.createQuickPick<Choice<T>>();
  qp.title = pos.title;
  qp.step = pos.step;
  qp.totalSteps = pos.totalSteps;
  qp.placeholder = placeholder;
  qp.items = items;
  qp.matchOnDescription = true;
  qp.buttons = pos.step > 1 ? [vscode.QuickInputButtons.Back] : [];
  const current =
    active === undefined
      ? undefined
      : items.find(
          (i) => i.value !== undefined && JSON.stringify(i.value) === JSON.stringify(active),
        );
  if (current) qp.activeItems = [current];
  return new Promise<Answer<T>>((resolve) => {
    qp.onDidAccept(() => {
      const chosen = qp.selectedItems[0];
      if (chosen?.value !== undefined) resolve(chosen.value);
    });
    qp.onDidTriggerButton((b) => b === vscode.QuickInputButtons.Back && resolve(BACK));
    qp.onDidHide(() => resolve(undefined));
    qp.show();
  }).finally(() => qp.dispose());
}

/** One InputBox page with live validation; resolves to the parsed value. */
function ask<T>(
  pos: Position,
  prompt: string,
  value: string,
  parse: (text: string) => T | string,
): Promise<Answer<T>> {
  const box = vscode.window.createInputBox();
  box.title = pos.title;
  box.step = pos.step;
  box.totalSteps = pos.totalSteps;
  box.prompt = prompt;
  box.value = value;
  box.buttons = pos.step > 1 ? [vscode.QuickInputButtons.Back] : [];
  const check = () => {
    const r = parse(box.value);
    box.validationMessage = typeof r === 'string' ? r : undefined;
    return r;
  };
  box.onDidChangeValue(check);
  return new Promise<Answer<T>>((resolve) => {
    box.onDidAccept(() => {
      const r = check();
      if (typeof r !== 'string') resolve(r);
    });
    box.onDidTriggerButton((b) => b === vscode.QuickInputButtons.Back && resolve(BACK));
    box.onDidHide(() => resolve(undefined));
    box.show();
  }).finally(() => box.dispose());
}

/** "50%", "50" or "0.5" → 0.5. */
export function parseSparsity(text: string): number | string {
  const t = text.trim();
  const m = /^(\d+(?:\.\d+)?|\.\d+)\s*(%?)$/.exec(t);
  if (!m) return 'Enter a percentage such as 50% (or a fraction such as 0.5)';
  const v = Number(m[1]);
  const fraction = m[2] || v > 1 ? v / 100 : v;
  if (!(fraction >= 0 && fraction < 1)) return 'Sparsity must be at least 0% and below 100%';
  return fraction;
}

/** The share of channels to remove: above 0% and below 100%. */
export function parseAmount(text: string): number | string {
  const v = parseSparsity(text);
  if (typeof v === 'string') return v.replace('Sparsity', 'The share of channels');
  return v > 0 ? v : 'The share of channels must be above 0% and below 100%';
}

/** "2:4" → {n: 2, m: 4}. */
export function parsePattern(text: string): { n: number; m: number } | string {
  const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(text);
  if (!m) return 'Enter N:M, e.g. 2:4 (keep the 2 largest of every 4 weights)';
  const n = Number(m[1]);
  const of = Number(m[2]);
  if (!(n >= 1 && n < of && of <= 64)) return 'N:M needs 1 ≤ N < M ≤ 64';
  return { n, m: of };
}

function integerIn(lo: number, hi: number, what: string): (text: string) => number | string {
  return (text) => {
    const v = Number(text.trim());
    return text.trim() !== '' && Number.isInteger(v) && v >= lo && v <= hi
      ? v
      : `${what} must be a whole number from ${lo} to ${hi}`;
  };
}

function nonNegative(what: string): (text: string) => number | string {
  return (text) => {
    const v = Number(text.trim());
    return text.trim() !== '' && Number.isFinite(v) && v >= 0 ? v : `${what} must be a number ≥ 0`;
  };
}

/** A file size for the variant: 80KB, 3.5MiB or plain bytes. */
export function parseSizeBudget(text: string): number | string {
  return parseByteSize(text) ?? 'Enter a size such as 25MB, 3.5MiB or 1200000 (bytes)';
}

const percent = (f: number) => `${Number((f * 100).toFixed(2))}%`;

/** The chosen methods and options in a few words, e.g. "prune 50% (per layer) → int8 per channel". */
export function describeSpec(spec: CompressSpec): string {
  const o = spec.options;
  return spec.methods
    .map((m) => {
      switch (m) {
        case 'int8':
          return `int8 ${o.granularity === 'tensor' ? 'per tensor' : 'per channel'}${o.asymmetric ? ', asymmetric uint8' : ''}`;
        case 'int4':
          return `int4, blocks of ${o.blockSize ?? 32}`;
        case 'fixed':
          return `fixed point, ${o.bits ?? 8} bits`;
        case 'sign':
          return `ternary, threshold ${o.threshold ?? 0.7}·mean|w|`;
        case 'cluster':
          return `cluster K=${o.clusters ?? 16}`;
        case 'channels':
          return `remove ${percent(o.amount ?? 0.25)} of the channels`;
        case 'prune': {
          const how = o.pattern
            ? `${o.pattern.n}:${o.pattern.m}`
            : o.threshold === 'mean'
              ? '|w| < mean|w|'
              : typeof o.threshold === 'number'
                ? `|w| < ${o.threshold}`
                : `${percent(o.sparsity ?? 0.5)}${o.random ? ' random' : o.criterion === 'hessian' ? ' by Hessian' : ''} (${o.scope === 'global' ? 'global' : 'per layer'})`;
          return `prune ${how}${o.store === 'sparse' ? ', sparse storage' : ''}`;
        }
        default:
          return m;
      }
    })
    .join(' → ')
    .concat(describeOverrides(spec.overrides));
}

/** ", 2 layers set by hand (fc3.weight → float, …)": overrides as pins or a hand-made mix. */
function describeOverrides(overrides: CompressSpec['overrides']): string {
  const entries = Object.entries(overrides ?? {});
  if (!entries.length) return '';
  const shown = entries
    .slice(0, 3)
    .map(([name, choice]) => `${name} → ${choice}`)
    .join(', ');
  return `, ${entries.length} layer${entries.length === 1 ? '' : 's'} set by hand (${shown}${entries.length > 3 ? ', …' : ''})`;
}

interface WizardState {
  methods: MethodName[];
  options: MethodOptions;
  pruneMode?: 'sparsity' | 'hessian' | 'pattern' | 'mean' | 'threshold' | 'random';
  /** ONNX only: one precision for all layers, or per-layer precision chosen for a goal. */
  precision: 'uniform' | 'cosine' | 'size';
  targetCosine: number;
  sizeBudget?: number;
}

/** What the wizard decided: the spec and, for a per-layer search, its goal. */
export interface WizardResult {
  spec: CompressSpec;
  goal?: FidelityGoal;
}

function goalOf(s: WizardState): FidelityGoal | undefined {
  if (s.precision === 'cosine') return { targetCosine: s.targetCosine };
  if (s.precision === 'size' && s.sizeBudget !== undefined) return { sizeBudget: s.sizeBudget };
  return undefined;
}

interface Step {
  applies(s: WizardState): boolean;
  run(s: WizardState, pos: Position): Promise<Answer<true>>;
}

const has = (s: WizardState, m: MethodName) => s.methods.includes(m);

/** Stores an answer into the state; BACK and undefined pass through. */
async function into<T>(answer: Promise<Answer<T>>, set: (v: T) => void): Promise<Answer<true>> {
  const a = await answer;
  if (a === undefined) return undefined;
  if (a === BACK) return BACK;
  set(a as T);
  return true;
}

function methodItems(onnx: boolean): Choice<MethodName[]>[] {
  const single: MethodName[] = [
    'int8',
    'int4',
    'fp16',
    'bf16',
    'cluster',
    'prune',
    'fixed',
    'sign',
  ];
  const chains: [MethodName, string][] = [
    ['int8', 'zero the smallest weights, then int8 (zeros stay exact)'],
    ['int4', 'zero the smallest weights, then 4-bit blocks'],
    ['cluster', 'Deep Compression: prune, then share weights through a codebook'],
    ['fp16', 'zero the smallest weights, then store half precision'],
  ];
  return [
    ...single.map((m) => ({ label: m, description: METHOD_DESCRIPTIONS[m], value: [m] })),
    { label: 'Prune, then store', kind: vscode.QuickPickItemKind.Separator },
    ...chains.map(([m, d]) => ({
      label: `prune → ${m}`,
      description: d,
      value: ['prune', m] as MethodName[],
    })),
    ...(onnx
      ? [
          { label: 'Make the graph smaller', kind: vscode.QuickPickItemKind.Separator },
          {
            label: 'Remove channels…',
            description: METHOD_DESCRIPTIONS.channels,
            value: ['channels'] as MethodName[],
          },
          {
            label: 'Remove channels → int8',
            description: 'a smaller graph, then int8 weights',
            value: ['channels', 'int8'] as MethodName[],
          },
        ]
      : []),
  ];
}

/** A per-layer search needs a storage method to raise layers from (prune alone has none) and does not search graph changes. */
const searchable = (s: WizardState) => !has(s, 'channels') && s.methods.some((m) => m !== 'prune');

function steps(defaults: CompressDefaults, fileName: string, onnx: boolean): Step[] {
  return [
    {
      applies: () => true,
      run: (s, pos) =>
        into(
          pick(
            pos,
            `How should ${fileName} be compressed?`,
            methodItems(onnx),
            s.methods.length ? s.methods : undefined,
          ),
          (methods) => {
            // A different method starts from that method's defaults.
            if (methods.join() !== s.methods.join()) s.options = {};
            s.methods = methods;
          },
        ),
    },
    {
      applies: (s) => has(s, 'channels'),
      run: (s, pos) =>
        into(
          ask(
            pos,
            'Amount: the share of channels removed from every layer that can lose some (e.g. 25%)',
            percent(s.options.amount ?? 0.25),
            parseAmount,
          ),
          (v) => (s.options.amount = v),
        ),
    },
    {
      applies: (s) => has(s, 'prune'),
      run: (s, pos) =>
        into(
          pick(
            pos,
            'Which weights become zero?',
            [
              {
                label: 'Smallest magnitudes, target sparsity',
                description: 'a fraction of each tensor (or of all weights)',
                value: 'sparsity' as const,
              },
              {
                label: 'Least output error (Hessian), target sparsity',
                description:
                  'ONNX: calibration runs in onnxruntime, then SparseGPT-style second-order pruning; the report compares it with magnitude',
                value: 'hessian' as const,
              },
              {
                label: 'N:M structured',
                description: 'keep N largest of every M along the input: hardware-friendly (2:4)',
                value: 'pattern' as const,
              },
              {
                label: 'Below the mean magnitude',
                description: '|w| < mean |w| of each tensor',
                value: 'mean' as const,
              },
              {
                label: 'Below a magnitude threshold',
                description: '|w| < T, the same T for every tensor',
                value: 'threshold' as const,
              },
              {
                label: 'Random (baseline)',
                description: 'seeded random choice: shows what magnitude pruning buys',
                value: 'random' as const,
              },
            ],
            s.pruneMode,
          ),
          (mode) => {
            s.pruneMode = mode;
            delete s.options.sparsity;
            delete s.options.pattern;
            delete s.options.threshold;
            s.options.random = mode === 'random' || undefined;
            s.options.criterion = mode === 'hessian' ? 'hessian' : undefined;
            if (mode === 'mean') s.options.threshold = 'mean';
          },
        ),
    },
    {
      applies: (s) =>
        has(s, 'prune') &&
        (s.pruneMode === 'sparsity' || s.pruneMode === 'hessian' || s.pruneMode === 'random'),
      run: (s, pos) =>
        into(
          ask(
            pos,
            'Sparsity: the share of weights set to zero (e.g. 50%)',
            percent(s.options.sparsity ?? defaults.sparsity),
            parseSparsity,
          ),
          (v) => (s.options.sparsity = v),
        ),
    },
    {
      applies: (s) => has(s, 'prune') && s.pruneMode === 'sparsity',
      run: (s, pos) =>
        into(
          pick(
            pos,
            'Rank magnitudes within each tensor or across the model?',
            [
              {
                label: 'Per layer',
                description: 'every tensor reaches the sparsity: no layer is emptied',
                value: 'layer' as const,
              },
              {
                label: 'Global',
                description: 'one threshold for all weights: small-valued layers lose more',
                value: 'global' as const,
              },
            ],
            s.options.scope ?? 'layer',
          ),
          (v) => (s.options.scope = v),
        ),
    },
    {
      applies: (s) => has(s, 'prune') && s.pruneMode === 'pattern',
      run: (s, pos) =>
        into(
          ask(
            pos,
            'Pattern N:M: keep the N largest of every M consecutive weights (2:4 runs fast on sparse tensor cores)',
            s.options.pattern ? `${s.options.pattern.n}:${s.options.pattern.m}` : '2:4',
            parsePattern,
          ),
          (v) => (s.options.pattern = v),
        ),
    },
    {
      applies: (s) => has(s, 'prune') && s.pruneMode === 'threshold',
      run: (s, pos) =>
        into(
          ask(
            pos,
            'Magnitude threshold T: weights with |w| < T become zero',
            String(typeof s.options.threshold === 'number' ? s.options.threshold : 0.01),
            nonNegative('The threshold'),
          ),
          (v) => (s.options.threshold = v),
        ),
    },
    {
      applies: (s) => s.methods.length === 1 && s.methods[0] === 'prune',
      run: (s, pos) =>
        into(
          pick(
            pos,
            'How are the pruned weights stored?',
            [
              {
                label: 'Dense',
                description: 'same layout with zeros: the file only shrinks once compressed (zip)',
                value: 'dense' as const,
              },
              {
                label: 'Sparse initializers',
                description: 'indices + values where that is smaller (ONNX sparse_initializer)',
                value: 'sparse' as const,
              },
            ],
            s.options.store ?? 'dense',
          ),
          (v) => (s.options.store = v),
        ),
    },
    {
      applies: (s) => has(s, 'int8'),
      run: (s, pos) =>
        into(
          pick(
            pos,
            'Scale granularity',
            [
              {
                label: 'Per output channel',
                description: 'one scale per channel: much less error (default)',
                value: 'channel' as const,
              },
              {
                label: 'Per tensor',
                description: 'one scale for the whole tensor: what the oldest runtimes support',
                value: 'tensor' as const,
              },
            ],
            s.options.granularity ?? defaults.granularity,
          ),
          (v) => (s.options.granularity = v),
        ),
    },
    {
      applies: (s) => has(s, 'int8'),
      run: (s, pos) =>
        into(
          pick(
            pos,
            'Range',
            [
              {
                label: 'Symmetric int8',
                description: 'scale = max|w| / 127, zero stays exactly zero',
                value: false,
              },
              {
                label: 'Asymmetric uint8',
                description: 'min-max range with a zero point: better for skewed weights',
                value: true,
              },
            ],
            s.options.asymmetric ?? false,
          ),
          (v) => (s.options.asymmetric = v || undefined),
        ),
    },
    {
      applies: (s) => has(s, 'int4'),
      run: (s, pos) => {
        const sizes = [...new Set([defaults.blockSize, 16, 32, 64, 128])];
        return into(
          pick(
            pos,
            'Block size: weights sharing one scale along the input dimension',
            sizes.map((b) => ({
              label: String(b),
              description: `${b === defaults.blockSize ? 'default · ' : ''}${(32 / b).toFixed(2)} extra bits per weight for scales`,
              value: b,
            })),
            s.options.blockSize ?? defaults.blockSize,
          ),
          (v) => (s.options.blockSize = v),
        );
      },
    },
    {
      applies: (s) => has(s, 'fixed'),
      run: (s, pos) =>
        into(
          ask(
            pos,
            'Word length in bits (2–16); fraction bits are chosen per tensor from its range',
            String(s.options.bits ?? 8),
            integerIn(2, 16, 'The word length'),
          ),
          (v) => (s.options.bits = v),
        ),
    },
    {
      applies: (s) => has(s, 'sign'),
      run: (s, pos) =>
        into(
          ask(
            pos,
            'Zero band as a fraction of each channel’s mean |w| (0.7 as in Ternary Weight Networks; 0 = pure sign)',
            String(typeof s.options.threshold === 'number' ? s.options.threshold : 0.7),
            (t) => {
              const v = Number(t.trim());
              return t.trim() !== '' && v >= 0 && v < 10 ? v : 'Enter a number from 0 to below 10';
            },
          ),
          (v) => (s.options.threshold = v),
        ),
    },
    {
      applies: (s) => has(s, 'cluster'),
      run: (s, pos) =>
        into(
          ask(
            pos,
            'Clusters K (2–256): shared values per tensor; 16 means 4-bit indices',
            String(s.options.clusters ?? defaults.clusters),
            integerIn(2, 256, 'K'),
          ),
          (v) => (s.options.clusters = v),
        ),
    },
    {
      applies: (s) => has(s, 'fp16') || has(s, 'bf16'),
      run: (s, pos) =>
        into(
          pick(
            pos,
            'Tensors with values the half-precision type cannot hold',
            [
              {
                label: 'Keep them as they are',
                description: 'listed in the report with their range (default)',
                value: false,
              },
              {
                label: 'Clip them to the largest value',
                description:
                  'smaller, but a clipped BatchNormalization variance can change every output',
                value: true,
              },
            ],
            s.options.allowClip ?? false,
          ),
          (v) => (s.options.allowClip = v || undefined),
        ),
    },
    {
      // Channel removal alone changes the graph, not how tensors are stored: no scope to choose.
      applies: (s) => onnx && s.methods.some((m) => m !== 'channels'),
      run: (s, pos) =>
        into(
          pick(
            pos,
            'Tensors to compress',
            [
              {
                label: 'Weights of compute ops',
                description:
                  'Conv, Gemm, MatMul, RNN, embedding Gather; normalisation statistics and constants stay as they are (default)',
                value: false,
              },
              {
                label: 'Every float tensor',
                description:
                  'normalisation statistics, scales and other constants too (--include all)',
                value: true,
              },
            ],
            s.options.include?.includes('all') ?? false,
          ),
          (v) => (s.options.include = v ? ['all'] : undefined),
        ),
    },
    {
      applies: (s) => onnx && searchable(s),
      run: (s, pos) =>
        into(
          pick(
            pos,
            'Precision per layer',
            [
              {
                label: 'Same for every layer',
                description: `every weight gets ${s.methods.filter((m) => m !== 'prune').join('')}`,
                value: 'uniform' as const,
              },
              {
                label: 'Target fidelity…',
                description:
                  'keep fragile layers at higher precision until the outputs reach a cosine; smallest file that does',
                value: 'cosine' as const,
              },
              {
                label: 'Size budget…',
                description: 'the best output cosine within a file size',
                value: 'size' as const,
              },
            ],
            s.precision,
          ),
          (v) => (s.precision = v),
        ),
    },
    {
      applies: (s) => onnx && searchable(s) && s.precision === 'cosine',
      run: (s, pos) =>
        into(
          ask(
            pos,
            'Target output cosine on calibration inputs (1 = identical outputs); checked again on held-out inputs',
            String(s.targetCosine),
            parseTargetCosine,
          ),
          (v) => (s.targetCosine = v),
        ),
    },
    {
      applies: (s) => onnx && searchable(s) && s.precision === 'size',
      run: (s, pos) =>
        into(
          ask(
            pos,
            'Largest file size for the variant (e.g. 25MB, 3.5MiB or bytes)',
            s.sizeBudget !== undefined ? String(s.sizeBudget) : '',
            parseSizeBudget,
          ),
          (v) => (s.sizeBudget = v),
        ),
    },
  ];
}

/** The calibration data of the model being compressed: its name now, and the picker that changes it. */
export interface WizardData {
  label(): string;
  choose(): Thenable<unknown>;
}

/**
 * The Compress… wizard: method, then each option with its default preselected, then a last
 * page naming the file it will write (and, with `data`, what it will be checked on, which the
 * page can change). Back returns to the previous page with answers kept.
 */
export async function compressWizard(
  fileName: string,
  defaults: CompressDefaults,
  onnx: boolean,
  output: (spec: CompressSpec, goal: FidelityGoal | undefined) => { name: string; exists: boolean },
  data?: WizardData,
): Promise<WizardResult | undefined> {
  const title = `Compress ${fileName}`;
  const all = steps(defaults, fileName, onnx);
  // Sparsity is the first prune mode offered: assuming it keeps the page count steady while answering.
  const state: WizardState = {
    methods: [],
    options: {},
    pruneMode: 'sparsity',
    precision: 'uniform',
    targetCosine: 0.999,
  };
  const confirm: Step = {
    applies: () => true,
    run: async (s, pos) => {
      const spec = normaliseSpec({ methods: s.methods, options: { ...s.options } });
      const goal = onnx && searchable(s) ? goalOf(s) : undefined;
      const out = output(spec, goal);
      const what = goal
        ? `${describeSpec(spec)}, per-layer precision for ${describeGoal(goal)}`
        : describeSpec(spec);
      for (;;) {
        const a = await pick<true | 'data'>(pos, what, [
          {
            label: `$(play) Compress to ${out.name}`,
            description: out.exists ? 'exists: you will be asked before it is replaced' : undefined,
            detail: `${what}. ${fileName} itself is not modified.`,
            value: true,
          },
          ...(data
            ? [
                {
                  label: `$(database) Calibration data: ${data.label()}`,
                  description: 'change…',
                  detail: `What ${goal ? 'the search and ' : ''}verification run the models on`,
                  value: 'data' as const,
                },
              ]
            : []),
        ]);
        if (a !== 'data') return a;
        await data?.choose();
      }
    },
  };
  const pages = [...all, confirm];
  let i = 0;
  for (;;) {
    const visible = pages.filter((p) => p.applies(state));
    const step = visible.indexOf(pages[i]) + 1;
    let answer: Answer<true>;
    try {
      answer = await pages[i].run(state, { title, step, totalSteps: visible.length });
    } catch (err) {
      // normaliseSpec rejects a combination only once all answers are in: say why and start over.
      if (!(err instanceof SpecError)) throw err;
      void vscode.window.showErrorMessage(`Model Lens: ${err.message}`);
      answer = BACK;
    }
    if (answer === undefined) return undefined;
    if (answer === BACK) {
      do i--;
      while (i > 0 && !pages[i].applies(state));
      i = Math.max(0, i);
      continue;
    }
    if (pages[i] === confirm) {
      const goal = onnx && searchable(state) ? goalOf(state) : undefined;
      return {
        spec: normaliseSpec({ methods: state.methods, options: state.options }),
        ...(goal ? { goal } : {}),
      };
    }
    do i++;
    while (i < pages.length && !pages[i].applies(state));
  }
}

/** Prune Weights…: a preset or a typed sparsity or N:M pattern. */
export async function askPruneOptions(
  defaults: CompressDefaults,
): Promise<MethodOptions | undefined> {
  const pos = { title: 'Prune Weights', step: 1, totalSteps: 1 };
  type Preset = MethodOptions | 'custom';
  const presets = [...new Set([defaults.sparsity, 0.3, 0.5, 0.7, 0.9])];
  const chosen = await pick<Preset>(
    pos,
    'How many weights become zero? (smallest magnitudes first, per layer)',
    [
      ...presets.map((f) => ({
        label: `${percent(f)} of the weights`,
        description:
          f === defaults.sparsity
            ? 'default (setting modelLens.compress.pruneSparsity)'
            : undefined,
        value: { sparsity: f },
      })),
      {
        label: '2:4 structured',
        description:
          'keep the 2 largest of every 4 along the input: runs fast on sparse tensor cores',
        value: { pattern: { n: 2, m: 4 } },
      },
      { label: 'Other…', description: 'type a percentage or an N:M pattern', value: 'custom' },
    ],
  );
  if (chosen === undefined || chosen === BACK) return undefined;
  if (chosen !== 'custom') return chosen;
  const typed = await ask<MethodOptions>(
    pos,
    'Sparsity (e.g. 60%) or N:M pattern (e.g. 4:8)',
    percent(defaults.sparsity),
    (t) => {
      if (t.includes(':')) {
        const p = parsePattern(t);
        return typeof p === 'string' ? p : { pattern: p };
      }
      const s = parseSparsity(t);
      return typeof s === 'string' ? s : { sparsity: s };
    },
  );
  return typed === BACK ? undefined : typed;
}

/** Cluster Weights…: the codebook size K. */
export async function askClusters(defaults: CompressDefaults): Promise<number | undefined> {
  const k = await ask(
    { title: 'Cluster Weights', step: 1, totalSteps: 1 },
    'Clusters K (2–256): each tensor keeps K shared values and a uint8 index per weight',
    String(defaults.clusters),
    integerIn(2, 256, 'K'),
  );
  return k === BACK ? undefined : k;
}
