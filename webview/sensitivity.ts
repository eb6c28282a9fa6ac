/**
 * The Sensitivity tab: each layer compressed alone and the model run, worst first, with the weight
 * statistics that explain it; a precision per layer the user can pin, and Re-run to write the variant.
 */
import type { LayerChoice } from '../src/core/compress/spec';
import { describeRatio, formatCosine, fromWire } from '../src/shared/reportProtocol';
import type {
  MixedResultView,
  SensitivityRowView,
  SensitivityView,
} from '../src/shared/sensitivityView';
import {
  MAX_SCAN_SAMPLES,
  SCAN_METHODS,
  type CalibrationView,
  type FidelityGoal,
  type ScanMethod,
  type ScanSettings,
} from '../src/shared/protocol';
import { h, icon, setChildren } from './dom';
import { formatBytes, formatDuration, formatInt, formatNumber } from './format';
import { formatDb } from './report/metrics';
import { Table } from './report/table';
import { goalFrom, rerunOverrides } from './rerun';
import type { GoalState } from './state';

export interface SensitivityActions {
  run(settings: ScanSettings): void;
  cancel(): void;
  /** Choose Calibration Data… for this model. */
  chooseData(): void;
  rerun(
    settings: ScanSettings,
    overrides: Record<string, LayerChoice>,
    goal: FidelityGoal | null,
  ): void;
  /** Pins, the search's choices or the goal changed: worth saving. */
  changed(): void;
}

type Field = HTMLElement & { value: string; invalid?: boolean };
type Button = HTMLElement & { disabled: boolean };
type ProgressBar = HTMLElement & { value: number; max: number; indeterminate: boolean };

interface Row extends SensitivityRowView {
  rank: number;
}

/** A layer whose output cosine falls below this is flagged: it alone costs more than a thousandth. */
const FRAGILE_COSINE = 0.999;
/** Weights whose largest magnitude is this many σ out stretch a linear grid (a Gaussian's max is ~4–5σ). */
const OUTLIER_RATIO = 8;

const CHOICE_LABELS: Record<LayerChoice, string> = {
  float: 'float (untouched)',
  fp16: 'fp16',
  bf16: 'bf16',
  int8: 'int8',
  int4: 'int4',
  fixed: 'fixed',
  sign: 'sign',
  cluster: 'cluster',
};

/** A value flagged as fragile: colour plus an icon, never colour alone. */
function flagged(text: string, poor: boolean, why: string): Node | string {
  return poor ? h('span', { class: 'flag', title: why }, icon('warning'), ` ${text}`) : text;
}

const cosine = (x: SensitivityRowView['outCosine']) => (x === undefined ? NaN : fromWire(x));

export class SensitivityPane {
  readonly element: HTMLElement;
  private readonly method: Field;
  private readonly samples: Field;
  private readonly seed: Field;
  private readonly runButton: Button;
  private readonly cancelButton: Button;
  private readonly dataChoice: HTMLElement;
  private readonly progress: ProgressBar;
  private readonly status: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly table: Table<Row>;
  private readonly tableBox: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly rerunBar: HTMLElement;
  private readonly goalMode: Field;
  private readonly goalValue: Field;
  private readonly rerunButton: Button;
  private readonly result: HTMLElement;
  private readonly unavailable: HTMLElement;
  private readonly body: HTMLElement;
  private settings: ScanSettings | null = null;
  private busy = false;
  /** A scan was asked for since the model loaded: new calibration data should be measured, not just shown. */
  private attempted = false;

  constructor(
    private readonly actions: SensitivityActions,
    /** Saved with the webview state: pins and search choices by tensor name, and the goal fields. */
    private readonly saved: {
      pins: Record<string, LayerChoice>;
      searched: Record<string, string>;
      goal: GoalState;
    },
  ) {
    this.method = h(
      'vscode-single-select',
      { class: 'scan-method', 'aria-label': 'Method each layer is compressed with' },
      ...SCAN_METHODS.map((m) => h('vscode-option', { value: m }, m)),
    ) as Field;
    this.samples = h('vscode-textfield', {
      class: 'scan-number',
      type: 'number',
      min: 1,
      max: MAX_SCAN_SAMPLES,
      'aria-label': 'Calibration samples',
    }) as Field;
    this.seed = h('vscode-textfield', {
      class: 'scan-number',
      type: 'number',
      min: 0,
      'aria-label': 'Random seed of the calibration inputs',
    }) as Field;
    this.runButton = h('vscode-button', { icon: 'play', class: 'scan-run' }, 'Run') as Button;
    this.runButton.addEventListener('click', () => this.run());
    this.cancelButton = h(
      'vscode-button',
      { icon: 'debug-stop', secondary: true, hidden: true },
      'Cancel',
    ) as Button;
    this.cancelButton.addEventListener('click', () => this.actions.cancel());
    for (const f of [this.samples, this.seed])
      f.addEventListener('keydown', (e) => e.key === 'Enter' && this.run());
    this.dataChoice = h('span', { class: 'scan-data-choice' });
    const dataButton = h(
      'vscode-button',
      {
        icon: 'database',
        secondary: true,
        class: 'scan-data-button',
        title:
          'Choose the images, recordings, tensor files or folder the scan and Re-run feed the model, or go back to random inputs',
      },
      'Calibration data…',
    );
    dataButton.addEventListener('click', () => this.actions.chooseData());
    this.progress = h('vscode-progress-bar', {
      class: 'progress',
      'aria-label': 'Sensitivity scan progress',
      hidden: true,
    }) as ProgressBar;
    this.status = h('span', { class: 'status scan-status' });
    const label = (text: string, control: HTMLElement) =>
      h('label', { class: 'scan-field' }, h('span', { class: 'scan-label' }, text), control);

    this.summary = h('div', { class: 'scan-summary', hidden: true });
    this.table = new Table<Row>({
      columns: this.columns(),
      label: 'Layer sensitivity, worst first',
      pageSize: 500,
      onSelect: () => undefined,
      rowClass: (r) => (cosine(r.outCosine) < FRAGILE_COSINE ? 'row-poor' : undefined),
      empty: 'No layer was compressed.',
    });
    this.tableBox = h('div', { class: 'scan-table', hidden: true }, this.table.element);
    this.empty = h(
      'div',
      { class: 'scan-empty' },
      icon('pulse'),
      h(
        'div',
        {},
        h(
          'p',
          {},
          'Which layers can take the method, and which break the model? Run compresses each layer alone, runs the model with onnxruntime on its calibration data (seeded random inputs until you choose files), and ranks the layers by how far the outputs move.',
        ),
        h(
          'p',
          {},
          'Then pin a layer to a precision, or let a target cosine or a size budget choose per layer, and Re-run to write the variant next to the model.',
        ),
      ),
    );

    this.goalMode = h(
      'vscode-single-select',
      { class: 'goal-mode', 'aria-label': 'How Re-run chooses the precision of unpinned layers' },
      h(
        'vscode-option',
        { value: 'none', description: 'write the precisions in the table' },
        'Choices as shown',
      ),
      h(
        'vscode-option',
        { value: 'cosine', description: 'smallest file whose outputs reach a cosine' },
        'Target cosine',
      ),
      h(
        'vscode-option',
        { value: 'size', description: 'best cosine within a file size' },
        'Size budget',
      ),
    ) as Field;
    this.goalValue = h('vscode-textfield', {
      class: 'goal-value',
      'aria-label': 'Goal value',
    }) as Field;
    this.goalMode.addEventListener('change', () => {
      this.saved.goal.mode = this.goalMode.value as GoalState['mode'];
      this.showGoal();
      this.actions.changed();
    });
    this.goalValue.addEventListener('input', () => {
      if (this.saved.goal.mode === 'cosine') this.saved.goal.cosine = this.goalValue.value;
      else this.saved.goal.size = this.goalValue.value;
      this.goalValue.invalid = typeof goalFrom(this.saved.goal) === 'string';
      this.actions.changed();
    });
    this.rerunButton = h(
      'vscode-button',
      { icon: 'run-all', class: 'scan-rerun' },
      'Re-run',
    ) as Button;
    this.rerunButton.addEventListener('click', () => this.rerun());
    const unpinAll = h('button', { class: 'link-button', type: 'button' }, 'Unpin all');
    unpinAll.addEventListener('click', () => {
      this.saved.pins = {};
      this.table.refresh();
      this.updatePinCount();
      this.actions.changed();
    });
    this.result = h('div', { class: 'scan-result callout', role: 'status', hidden: true });
    this.rerunBar = h(
      'div',
      { class: 'scan-rerun-bar', hidden: true },
      h('span', { class: 'scan-label' }, 'Unpinned layers'),
      this.goalMode,
      this.goalValue,
      this.rerunButton,
      h('span', { class: 'pin-count' }),
      unpinAll,
    );
    this.unavailable = h('div', { class: 'scan-unavailable', hidden: true });
    this.body = h(
      'div',
      { class: 'scan-body' },
      h(
        'div',
        { class: 'toolbar scan-toolbar' },
        label('Method', this.method),
        label('Samples', this.samples),
        label('Seed', this.seed),
        this.runButton,
        this.cancelButton,
        h(
          'span',
          { class: 'scan-field scan-data' },
          h('span', { class: 'scan-label' }, 'Data'),
          this.dataChoice,
          dataButton,
        ),
        h('span', { class: 'toolbar-spacer' }),
        this.status,
        this.progress,
      ),
      this.summary,
      this.rerunBar,
      this.result,
      this.empty,
      this.tableBox,
    );
    this.element = h('div', { class: 'sensitivity' }, this.unavailable, this.body);
    this.goalMode.value = this.saved.goal.mode;
    this.showGoal();
  }

  /** A new model: ONNX gets the controls with `settings` (the last run's, or defaults); others get the reason. */
  setModel(
    available: { available: true; settings: ScanSettings } | { available: false; reason: string },
  ): void {
    this.unavailable.hidden = available.available;
    this.body.hidden = !available.available;
    if (!available.available) {
      setChildren(this.unavailable, icon('info'), h('span', {}, available.reason));
      return;
    }
    // Results of the file as it was are gone; the host's cache brings them back if the file is unchanged.
    this.settings = null;
    this.attempted = false;
    this.empty.hidden = false;
    this.tableBox.hidden = true;
    this.rerunBar.hidden = true;
    this.summary.hidden = true;
    this.result.hidden = true;
    const s = available.settings;
    this.method.value = s.method;
    this.samples.value = String(s.samples);
    this.seed.value = String(s.seed);
  }

  private readSettings(): ScanSettings | null {
    const samples = Number(this.samples.value);
    const seed = Number(this.seed.value);
    this.samples.invalid = !(
      Number.isInteger(samples) &&
      samples >= 1 &&
      samples <= MAX_SCAN_SAMPLES
    );
    this.seed.invalid = !(Number.isSafeInteger(seed) && seed >= 0);
    if (
      this.samples.invalid ||
      this.seed.invalid ||
      !SCAN_METHODS.includes(this.method.value as ScanMethod)
    ) {
      this.status.textContent = this.samples.invalid
        ? `Samples must be a whole number from 1 to ${MAX_SCAN_SAMPLES}`
        : 'The seed must be a whole number ≥ 0';
      return null;
    }
    return { method: this.method.value as ScanMethod, samples, seed };
  }

  /** Runs a scan with the settings in the toolbar, unless one is running. */
  run(): void {
    if (this.busy) return;
    const s = this.readSettings();
    if (!s) return;
    this.attempted = true;
    this.actions.run(s);
  }

  /** What the scan and Re-run feed the model; `changed` by the user here: measure on it if a scan was run. */
  setCalibration(c: CalibrationView, changed = false): void {
    setChildren(
      this.dataChoice,
      icon(c.random ? 'symbol-numeric' : 'folder'),
      h('span', {}, c.label),
    );
    this.dataChoice.title = c.detail;
    if (changed && this.attempted) this.run();
  }

  /** A scan or a write started or ended: one at a time, and Cancel only for the scan. */
  setBusy(busy: false | 'scan' | 'write', text = ''): void {
    this.busy = busy !== false;
    this.runButton.disabled = this.busy;
    this.rerunButton.disabled = this.busy;
    this.cancelButton.hidden = busy !== 'scan';
    this.progress.hidden = !busy;
    this.progress.indeterminate = true;
    this.status.textContent = text;
  }

  showProgress(done: number, total: number, what: string): void {
    this.progress.hidden = false;
    this.progress.indeterminate = false;
    this.progress.max = Math.max(1, total);
    this.progress.value = Math.min(done, total);
    this.status.textContent = `Running layer ${formatInt(Math.min(done + 1, total))} of ${formatInt(total)}: ${what}`;
  }

  /** Results of a scan with these settings (fresh or cached). A different method clears the search's choices. */
  setReport(view: SensitivityView, settings: ScanSettings, cached: boolean): void {
    if (this.settings && this.settings.method !== settings.method) this.saved.searched = {};
    this.settings = settings;
    this.empty.hidden = true;
    this.tableBox.hidden = false;
    this.rerunBar.hidden = false;
    this.table.setRows(view.rows.map((r, i) => ({ ...r, rank: i + 1 })));
    const all = view.all;
    const partial =
      view.fullRuns < view.rows.length
        ? ` Full model runs for the ${formatInt(view.fullRuns)} layers worst by weight SQNR; the rest show the weight proxy only.`
        : '';
    setChildren(
      this.summary,
      h(
        'span',
        {},
        all
          ? `All ${formatInt(view.rows.length)} layers at ${view.method} together: output cosine ${formatCosine(fromWire(all.cosine))}, rel L2 ${formatNumber(fromWire(all.relL2), 3)}, ${formatBytes(view.fileBytesBefore)} → ${formatBytes(all.fileBytesAfter)}.`
          : `${formatInt(view.rows.length)} layers at ${view.method}.`,
      ),
      h(
        'span',
        { class: 'scan-meta' },
        ` Measured on ${view.measuredOn}; ${view.runtime}, ${formatDuration(view.elapsedMs)}${cached ? ' (cached)' : ''}.${partial}`,
      ),
      ...view.warnings.map((w) =>
        h('div', { class: 'warning' }, icon('warning'), h('span', {}, w)),
      ),
    );
    this.summary.hidden = false;
    this.status.textContent = cached ? 'Cached result' : '';
    this.updatePinCount();
  }

  showResult(r: MixedResultView | null, error?: string): void {
    this.result.hidden = false;
    if (error || !r) {
      this.result.className = `scan-result callout ${error ? 'bad' : ''}`;
      setChildren(
        this.result,
        icon(error ? 'error' : 'info'),
        h('span', {}, error ?? 'Nothing was written.'),
      );
      return;
    }
    if (r.choices.length)
      this.saved.searched = Object.fromEntries(r.choices.map((c) => [c.tensor, c.choice]));
    this.table.refresh();
    const cos = r.cosine === undefined ? '' : `, output cosine ${formatCosine(fromWire(r.cosine))}`;
    const held =
      r.heldOutCosine === undefined ? '' : ` (held-out ${formatCosine(fromWire(r.heldOutCosine))})`;
    const goal = r.met === undefined ? '' : r.met ? ' — goal met' : ' — goal not met';
    // A verdict below the threshold outranks a met goal: the outputs moved too far either way.
    const tone = r.problem ? 'bad' : r.met === false ? 'warn' : 'good';
    this.result.className = `scan-result callout ${tone}`;
    setChildren(
      this.result,
      icon(tone === 'good' ? 'pass' : tone === 'bad' ? 'error' : 'warning'),
      h(
        'span',
        {},
        `Wrote ${r.outputName}: ${formatBytes(r.fileBytesBefore)} → ${formatBytes(r.fileBytesAfter)} (${describeRatio(r.ratio)})${cos}${held}${goal}.`,
        ...(r.measuredOn
          ? [h('span', { class: 'scan-meta' }, ` Measured on ${r.measuredOn}.`)]
          : []),
        ...(r.problem ? [h('strong', {}, ` But ${r.problem}.`)] : []),
      ),
    );
    this.actions.changed();
  }

  private rerun(): void {
    if (this.busy || !this.settings) return;
    const goal = goalFrom(this.saved.goal);
    if (typeof goal === 'string') {
      this.goalValue.invalid = true;
      this.status.textContent = goal;
      return;
    }
    this.actions.rerun(
      this.settings,
      rerunOverrides(this.settings.method, this.saved.pins, this.saved.searched, goal !== null),
      goal,
    );
  }

  private showGoal(): void {
    const g = this.saved.goal;
    this.goalValue.hidden = g.mode === 'none';
    this.goalValue.value = g.mode === 'cosine' ? g.cosine : g.size;
    this.goalValue.setAttribute('placeholder', g.mode === 'cosine' ? '0.999' : '80KB');
    this.goalValue.setAttribute(
      'aria-label',
      g.mode === 'cosine' ? 'Target output cosine' : 'Size budget',
    );
    this.goalValue.invalid = false;
  }

  private updatePinCount(): void {
    const n = Object.keys(this.saved.pins).length;
    const el = this.rerunBar.querySelector('.pin-count');
    if (el) el.textContent = n ? `${formatInt(n)} pinned` : 'No layer pinned';
  }

  private choiceCell(r: Row): HTMLElement {
    const method = this.settings?.method ?? 'int8';
    const pinned = this.saved.pins[r.tensor];
    const current = pinned ?? this.saved.searched[r.tensor] ?? method;
    const select = h('select', {
      class: 'choice-select',
      'aria-label': `Precision of ${r.tensor}`,
      'data-tensor': r.tensor,
    });
    for (const c of Object.keys(CHOICE_LABELS) as LayerChoice[]) {
      select.append(
        h(
          'option',
          { value: c, selected: c === current },
          c === method ? `${c} (method)` : CHOICE_LABELS[c],
        ),
      );
    }
    select.addEventListener('click', (e) => e.stopPropagation());
    select.addEventListener('keydown', (e) => e.stopPropagation());
    select.addEventListener('change', () => {
      this.saved.pins[r.tensor] = select.value as LayerChoice;
      this.table.refresh();
      this.updatePinCount();
      this.actions.changed();
      // The row was redrawn: keyboard users stay on the control they used.
      this.element
        .querySelector<HTMLElement>(`select[data-tensor="${CSS.escape(r.tensor)}"]`)
        ?.focus();
    });
    const pin = h(
      'button',
      {
        class: `icon-button pin${pinned ? ' on' : ''}`,
        type: 'button',
        title: pinned
          ? 'Pinned: Re-run keeps this precision. Click to unpin.'
          : 'Pin this precision',
        'aria-pressed': String(Boolean(pinned)),
        'aria-label': `${pinned ? 'Unpin' : 'Pin'} ${r.tensor}`,
      },
      icon(pinned ? 'pinned' : 'pin'),
    );
    pin.addEventListener('click', (e) => {
      e.stopPropagation();
      if (pinned) delete this.saved.pins[r.tensor];
      else this.saved.pins[r.tensor] = current as LayerChoice;
      this.table.refresh();
      this.updatePinCount();
      this.actions.changed();
    });
    const searched =
      !pinned &&
      this.saved.searched[r.tensor] !== undefined &&
      this.saved.searched[r.tensor] !== method;
    return h(
      'div',
      { class: 'choice-cell' },
      select,
      pin,
      searched
        ? h('span', { class: 'choice-note', title: 'Chosen by the last fidelity search' }, 'search')
        : null,
    );
  }

  private columns() {
    const num = (v: SensitivityRowView['sqnrDb']) => fromWire(v);
    return [
      {
        id: 'rank',
        label: '#',
        numeric: true,
        title: 'Rank, worst first',
        value: (r: Row) => r.rank,
        render: (r: Row) => String(r.rank),
        className: 'col-rank',
      },
      {
        id: 'tensor',
        label: 'Tensor',
        title: 'Weight and the layer that uses it',
        value: (r: Row) => r.tensor,
        render: (r: Row) =>
          h(
            'div',
            { class: 'name-cell' },
            h('span', { class: 'name', title: r.tensor }, r.tensor),
            h('span', { class: 'where' }, [r.layer, r.op].filter(Boolean).join(' · ')),
          ),
        className: 'col-name',
      },
      {
        id: 'outCosine',
        label: 'Out cosine',
        numeric: true,
        title:
          'Cosine of the model outputs with only this layer compressed, against the original (1 = unchanged)',
        value: (r: Row) => cosine(r.outCosine),
        render: (r: Row) =>
          r.outCosine === undefined
            ? h('span', { class: 'muted', title: 'No full model run for this layer' }, '—')
            : flagged(
                formatCosine(cosine(r.outCosine)),
                cosine(r.outCosine) < FRAGILE_COSINE,
                'This layer alone moves the outputs by more than a thousandth',
              ),
      },
      {
        id: 'relL2',
        label: 'Rel L2',
        numeric: true,
        title: '‖outputs − original‖ / ‖original‖ with only this layer compressed',
        value: (r: Row) => (r.outRelL2 === undefined ? NaN : num(r.outRelL2)),
        render: (r: Row) => (r.outRelL2 === undefined ? '—' : formatNumber(num(r.outRelL2), 3)),
      },
      {
        id: 'actError',
        label: 'Act. error',
        numeric: true,
        title:
          "‖XΔW‖ / ‖XW‖: the layer's own output error on the calibration activations, the second cheap proxy (MatMul, Gemm, Conv)",
        value: (r: Row) => (r.actError === undefined ? NaN : num(r.actError)),
        render: (r: Row) => (r.actError === undefined ? '—' : formatNumber(num(r.actError), 3)),
      },
      {
        id: 'sqnr',
        label: 'W SQNR',
        numeric: true,
        title: 'Signal-to-noise of the compressed weights, dB: the cheap proxy (higher is better)',
        value: (r: Row) => num(r.sqnrDb),
        render: (r: Row) => formatDb(num(r.sqnrDb)),
      },
      {
        id: 'outlier',
        label: 'max|w|/σ',
        numeric: true,
        title:
          'Outlier ratio: the largest weight in standard deviations. Large values stretch a linear grid and starve the other weights of levels',
        value: (r: Row) => num(r.outlierRatio),
        render: (r: Row) =>
          flagged(
            formatNumber(num(r.outlierRatio), 3),
            num(r.outlierRatio) > OUTLIER_RATIO,
            'Outliers: the largest weight is far out in the tail',
          ),
      },
      {
        id: 'kurtosis',
        label: 'Kurtosis',
        numeric: true,
        title: 'Excess kurtosis (0 for a Gaussian): heavy tails mean outliers',
        value: (r: Row) => num(r.kurtosis),
        render: (r: Row) => formatNumber(num(r.kurtosis), 3),
      },
      {
        id: 'range',
        label: 'Range',
        numeric: true,
        title: 'Smallest and largest weight',
        value: (r: Row) => num(r.max) - num(r.min),
        render: (r: Row) => `[${formatNumber(num(r.min), 3)}, ${formatNumber(num(r.max), 3)}]`,
        className: 'col-range',
      },
      {
        id: 'size',
        label: 'Size',
        numeric: true,
        title: 'Bytes stored before → after the method',
        value: (r: Row) => r.bytesBefore,
        render: (r: Row) => `${formatBytes(r.bytesBefore)} → ${formatBytes(r.bytesAfter)}`,
      },
      {
        id: 'choice',
        label: 'Precision',
        title:
          'What Re-run writes for this layer: pin a precision, or leave it to the method or the search',
        value: (r: Row) => this.saved.pins[r.tensor] ?? this.saved.searched[r.tensor] ?? '',
        render: (r: Row) => this.choiceCell(r),
        className: 'col-choice',
      },
    ];
  }
}
