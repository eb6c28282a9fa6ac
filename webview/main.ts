/** Inspector webview entry: receives the model and streamed statistics, renders header, table and detail. */
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-icon/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-tree/index.js';
import '@vscode-elements/elements/dist/vscode-tree-item/index.js';
import type { TensorStats } from '../src/core/stats/types';
import type {
  CalibrationView,
  FromWebview,
  ModelView,
  ScanSettings,
  SensitivityAvailability,
  StatsResult,
  ToWebview,
  ViewConfig,
} from '../src/shared/protocol';
import { dtypeInfo } from '../src/core/dtypes';
import { DetailPane } from './detail';
import { h, icon, setChildren } from './dom';
import { formatDuration, formatInt } from './format';
import { COLUMNS, VirtualGrid } from './grid';
import { Header } from './header';
import { combineHistograms, robustRange, type RebinSource } from './rebin';
import {
  buildRows,
  filterRows,
  secondColumnLabel,
  sortRows,
  type ColumnId,
  type Row,
} from './rows';
import { RequestClient } from './rpc';
import { SensitivityPane } from './sensitivity';
import { parseState, type SavedState } from './state';
import { overallSparsity } from './summary';
import { chartColors, onPixelRatioChange, onThemeChange } from './theme';
import { vsCodeApi } from './vscodeApi';

/** Columns whose order depends on statistics, so streaming results re-sort them. */
const STATS_COLUMNS: ReadonlySet<ColumnId> = new Set([
  'min',
  'max',
  'mean',
  'std',
  'zeros',
  'sparsity',
  'hist',
]);
const RESORT_INTERVAL_MS = 400;
const REBIN_INTERVAL_MS = 300;

type ProgressBar = HTMLElement & { value: number; max: number; indeterminate: boolean };
type TextField = HTMLElement & { value: string };

class Inspector {
  private readonly vscode = vsCodeApi<FromWebview, SavedState>();
  private readonly state: SavedState = parseState(this.vscode.getState());
  private readonly client = new RequestClient((m) => this.vscode.postMessage(m));

  private fileName = '';
  private calibration: CalibrationView | null = null;
  private model: ModelView | null = null;
  private config: ViewConfig = { bins: 256, nearZero: 0 };
  private rows: Row[] = [];
  private order: number[] = [];
  private stats: (TensorStats | undefined)[] = [];
  private errors: (string | undefined)[] = [];
  private floatTensors = 0;
  private selectedRow: number | null = null;
  private statsFinished = false;
  private scrollRestored = false;

  private readonly header: Header;
  private readonly sensitivity: SensitivityPane;
  private readonly grid: VirtualGrid;
  private readonly detail: DetailPane;
  private readonly filter: TextField;
  private readonly matchCount: HTMLElement;
  private readonly status: HTMLElement;
  private readonly progress: ProgressBar;
  private readonly banner: HTMLElement;
  private readonly failure: HTMLElement;
  private readonly loading: HTMLElement;
  private readonly inspector: HTMLElement;

  private frame = 0;
  private lastResort = 0;
  private rebinTimer: number | undefined;
  private saveTimer: number | undefined;
  private filterTimer: number | undefined;

  constructor(root: HTMLElement) {
    this.header = new Header({
      exportStatistics: (format) =>
        this.run(this.client.request('exportStatistics', { format }), 'Export'),
      recompute: () => this.recompute(),
      openAsText: () => this.run(this.client.request('openAsText', {}), 'Reopen with Text Editor'),
      openWholeModel: () => this.run(this.client.request('openWholeModel', {}), 'Open whole model'),
      filterLayers: (filter) => {
        this.filter.value = filter;
        this.setFilter(filter);
      },
      summaryToggled: (collapsed) => {
        this.state.summaryCollapsed = collapsed;
        this.save();
      },
      selectTensor: (index) => this.selectTensor(index),
      fullRangeToggled: (full) => {
        this.state.fullRange = full;
        this.save();
        this.updateModelHistogram();
      },
    });
    this.header.setCollapsed(this.state.summaryCollapsed);
    this.grid = new VirtualGrid(
      {
        select: (row) => this.select(row, true),
        sort: (column) => this.toggleSort(column),
        scrolled: () => {
          this.state.scrollTop = this.grid.scrollTop;
          this.save();
        },
      },
      chartColors(),
    );
    this.detail = new DetailPane((log) => {
      this.state.log = log;
      this.save();
      this.detail.setLog(log);
      this.updateModelHistogram();
    });
    this.detail.setLog(this.state.log);

    this.filter = h('vscode-textfield', {
      class: 'filter',
      type: 'search',
      placeholder: 'Filter by layer, tensor or op',
      'aria-label': 'Filter rows by layer, tensor name or op',
    }) as TextField;
    this.filter.append(h('vscode-icon', { slot: 'content-before', name: 'filter' }));
    this.filter.value = this.state.filter;
    this.filter.addEventListener('input', () => {
      clearTimeout(this.filterTimer);
      this.filterTimer = window.setTimeout(() => this.setFilter(this.filter.value), 120);
    });
    this.filter.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowDown') {
        e.preventDefault();
        this.grid.focus();
        if (this.selectedRow === null && this.order.length) this.select(this.order[0], true);
      } else if (e.key === 'Escape' && this.filter.value) {
        this.filter.value = '';
        this.setFilter('');
      }
    });
    this.matchCount = h('span', { class: 'match-count', 'aria-live': 'polite' });
    // Not a live region: progress changes many times a second and would drown a screen reader.
    this.status = h('span', { class: 'status' });
    this.progress = h('vscode-progress-bar', {
      class: 'progress',
      'aria-label': 'Computing statistics',
    }) as ProgressBar;
    this.progress.hidden = true;
    this.banner = h('div', { class: 'banner', role: 'alert', hidden: true });
    this.failure = h('div', { class: 'failure', hidden: true });
    this.loading = h(
      'div',
      { class: 'loading' },
      icon('loading', 'codicon-modifier-spin'),
      h('span', {}, 'Reading model…'),
    );
    this.sensitivity = new SensitivityPane(
      {
        run: (settings) => this.scan(settings),
        cancel: () => this.run(this.client.request('cancelScan', {}), 'Cancel'),
        chooseData: () => this.chooseData(),
        rerun: (settings, overrides, goal) => {
          this.sensitivity.setBusy(
            'write',
            goal
              ? 'Choosing the precision of each layer… (progress in the notification)'
              : 'Writing the variant…',
          );
          this.client.request('compressMixed', { ...settings, overrides, goal }).then(
            (r) => {
              this.sensitivity.setBusy(false);
              // A written variant also arrives as 'rerunResult'; only "nothing written" needs saying here.
              if (!r) this.sensitivity.showResult(null);
            },
            (e: unknown) => {
              this.sensitivity.setBusy(false);
              this.sensitivity.showResult(null, e instanceof Error ? e.message : String(e));
            },
          );
        },
        // At once, not debounced: Re-run opens the report over this tab, which disposes the webview.
        changed: () => this.vscode.setState(this.state),
      },
      this.state,
    );
    const tabs = h(
      'vscode-tabs',
      { class: 'views', 'selected-index': this.state.tab === 'sensitivity' ? 1 : 0 },
      h('vscode-tab-header', { slot: 'header', 'data-view': 'layers' }, 'Layers'),
      h(
        'vscode-tab-panel',
        { class: 'view-panel' },
        h(
          'div',
          { class: 'toolbar' },
          this.filter,
          this.matchCount,
          h('span', { class: 'toolbar-spacer' }),
          this.status,
          this.progress,
        ),
        h('div', { class: 'main' }, this.grid.element, this.detail.element),
      ),
      h('vscode-tab-header', { slot: 'header', 'data-view': 'sensitivity' }, 'Sensitivity'),
      h('vscode-tab-panel', { class: 'view-panel' }, this.sensitivity.element),
    );
    tabs.addEventListener('vsc-tabs-select', (e) => {
      this.state.tab =
        (e as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex === 1
          ? 'sensitivity'
          : 'layers';
      this.save();
    });
    this.inspector = h('div', { class: 'inspector', hidden: true }, this.header.element, tabs);
    root.append(this.banner, this.loading, this.failure, this.inspector);

    const retheme = () => {
      const colors = chartColors();
      this.grid.setColors(colors);
      this.detail.chart.themeChanged();
      this.header.chart.themeChanged();
    };
    onThemeChange(retheme);
    onPixelRatioChange(retheme);
    window.addEventListener('message', (e: MessageEvent) => this.onMessage(e.data));
    this.vscode.postMessage({ type: 'ready' });
  }

  private onMessage(data: unknown): void {
    if (
      typeof data !== 'object' ||
      data === null ||
      typeof (data as { type?: unknown }).type !== 'string'
    )
      return;
    const msg = data as ToWebview;
    switch (msg.type) {
      case 'model':
        this.loadModel(msg.fileName, msg.model, msg.config);
        this.loadSensitivity(msg.sensitivity);
        break;
      case 'rerunResult':
        this.sensitivity.showResult(msg.result);
        break;
      case 'rescan':
        this.sensitivity.run();
        break;
      case 'calibration':
        this.calibration = msg.data;
        this.sensitivity.setCalibration(msg.data);
        break;
      case 'scanProgress':
        this.sensitivity.showProgress(msg.done, msg.total, msg.what);
        break;
      case 'stats':
        this.addStats(msg.results);
        break;
      case 'progress':
        this.showProgress(msg.done, msg.total);
        break;
      case 'statsDone':
        this.finishStats(msg.elapsedMs, msg.cached);
        break;
      case 'failed':
        this.showFailure(msg.message);
        break;
      case 'reloading':
        document.body.classList.add('reloading');
        this.status.textContent = 'File changed on disk — reloading…';
        this.progress.hidden = false;
        this.progress.indeterminate = true;
        break;
      case 'response':
        this.client.handleResponse(msg);
        break;
    }
  }

  private loadModel(fileName: string, model: ModelView, config: ViewConfig): void {
    document.body.classList.remove('reloading');
    this.fileName = fileName;
    this.model = model;
    this.config = config;
    this.stats = new Array(model.tensors.length);
    this.errors = new Array(model.tensors.length);
    this.floatTensors = model.tensors.filter((t) => dtypeInfo(t.dtype).float).length;
    this.rows = buildRows(model.layers, model.tensors);
    this.grid.setColumnLabel('op', secondColumnLabel(model.format, model.tensors));
    this.loading.hidden = true;
    this.failure.hidden = true;
    this.inspector.hidden = false;
    this.header.setExportEnabled(false);
    this.header.setModel(fileName, model, config);
    this.header.setSparsity(overallSparsity(model.tensors, this.stats), this.floatTensors);
    this.statsFinished = false;
    this.updateModelHistogram();
    this.status.textContent = 'Waiting for statistics…';
    this.progress.hidden = false;
    this.progress.indeterminate = true;
    document.title = `${fileName} — Model Lens`;

    const want = this.state.selected;
    const found = want
      ? this.rows.findIndex(
          (r) => r.layer === want.layer && model.tensors[r.tensor].name === want.tensor,
        )
      : -1;
    this.selectedRow = found >= 0 ? found : null;
    this.applyView();
    this.grid.setSelected(this.selectedRow, false);
    this.detail.element.hidden = this.rows.length === 0;
    if (!this.scrollRestored) {
      this.scrollRestored = true;
      this.grid.scrollTop = this.state.scrollTop;
    }
    this.showDetail();
  }

  /** The tab's controls for this model, and the last scan's result at once when the host still has it. */
  private loadSensitivity(a: SensitivityAvailability): void {
    if (!a.available) {
      this.sensitivity.setModel(a);
      return;
    }
    const last = this.state.scan ?? a.last;
    this.sensitivity.setModel({
      available: true,
      settings: last ?? { method: 'int8', samples: a.samples, seed: 0 },
    });
    if (!last) return;
    this.client.request('sensitivity', { ...last, cachedOnly: true }).then(
      (view) => view && this.sensitivity.setReport(view, last, true),
      () => undefined,
    );
  }

  /** The host's picker; on a new choice, the pane measures on it when it had been scanning. */
  private chooseData(): void {
    this.client.request('chooseData', {}).then(
      (changed) => {
        if (changed && this.calibration) this.sensitivity.setCalibration(this.calibration, true);
      },
      (e: unknown) =>
        this.showBanner(`Calibration data: ${e instanceof Error ? e.message : String(e)}`),
    );
  }

  private scan(settings: ScanSettings): void {
    // A new attempt supersedes the last one's failure.
    this.banner.hidden = true;
    this.sensitivity.setBusy('scan', 'Starting the scan…');
    this.client.request('sensitivity', { ...settings, cachedOnly: false }).then(
      (view) => {
        this.sensitivity.setBusy(false, view ? '' : 'Scan cancelled');
        if (!view) return;
        this.state.scan = settings;
        this.save();
        this.sensitivity.setReport(view, settings, false);
      },
      (e: unknown) => {
        this.sensitivity.setBusy(false, 'Scan failed');
        this.showBanner(`Sensitivity failed: ${e instanceof Error ? e.message : String(e)}`);
      },
    );
  }

  private addStats(results: StatsResult[]): void {
    if (!this.model) return;
    const n = this.model.tensors.length;
    let selectedChanged = false;
    const selTensor = this.selectedRow === null ? -1 : this.rows[this.selectedRow].tensor;
    for (const r of results) {
      if (!Number.isInteger(r.index) || r.index < 0 || r.index >= n) continue;
      this.stats[r.index] = r.stats;
      this.errors[r.index] = r.stats ? undefined : (r.error ?? 'no statistics');
      if (r.index === selTensor) selectedChanged = true;
    }
    if (this.selectedRow === null && this.order.length > 0) {
      // The first row, unless it can have no histogram (e.g. strings): then the first row that has one.
      const first = this.order[0];
      const usable = this.errors[this.rows[first].tensor] === undefined;
      this.selectedRow = usable
        ? first
        : (this.order.find((r) => this.stats[this.rows[r].tensor]) ?? first);
      this.state.selected = this.selectionKey(this.selectedRow);
      this.save();
      this.grid.setSelected(this.selectedRow, false);
      selectedChanged = true;
    }
    if (selectedChanged) this.showDetail();
    this.scheduleStatsFlush();
  }

  /** Coalesces a burst of stats batches into one repaint per frame. */
  private scheduleStatsFlush(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const sort = this.state.sort;
      const now = performance.now();
      if (sort && STATS_COLUMNS.has(sort.column) && now - this.lastResort > RESORT_INTERVAL_MS) {
        this.lastResort = now;
        this.applyView();
      } else {
        this.grid.invalidate();
      }
      if (this.model)
        this.header.setSparsity(overallSparsity(this.model.tensors, this.stats), this.floatTensors);
      if (this.rebinTimer === undefined) {
        this.rebinTimer = window.setTimeout(() => {
          this.rebinTimer = undefined;
          this.updateModelHistogram();
        }, REBIN_INTERVAL_MS);
      }
    });
  }

  private showProgress(done: number, total: number): void {
    this.progress.hidden = false;
    this.progress.indeterminate = false;
    this.progress.max = Math.max(1, total);
    this.progress.value = Math.min(done, total);
    this.status.textContent = `Computing statistics… ${formatInt(done)} / ${formatInt(total)}`;
  }

  private finishStats(elapsedMs: number, cached: boolean): void {
    this.statsFinished = true;
    this.header.setExportEnabled(true);
    this.progress.hidden = true;
    const n = this.stats.reduce((k, s) => k + (s ? 1 : 0), 0);
    const total = this.stats.length;
    const which =
      n === total
        ? `${formatInt(n)} tensor${n === 1 ? '' : 's'}`
        : `${formatInt(n)} of ${formatInt(total)} tensors`;
    this.status.textContent = `Statistics for ${which} · ${formatDuration(elapsedMs)}${cached ? ' (cached)' : ''}`;
    if (this.state.sort && STATS_COLUMNS.has(this.state.sort.column)) this.applyView();
    clearTimeout(this.rebinTimer);
    this.rebinTimer = undefined;
    this.updateModelHistogram();
    if (this.model)
      this.header.setSparsity(overallSparsity(this.model.tensors, this.stats), this.floatTensors);
  }

  private showFailure(message: string): void {
    document.body.classList.remove('reloading');
    this.loading.hidden = true;
    this.inspector.hidden = true;
    this.failure.hidden = false;
    const text =
      this.fileName && !message.includes(this.fileName) ? `${this.fileName}: ${message}` : message;
    const reopen = h(
      'vscode-button',
      { secondary: true, icon: 'go-to-file' },
      'Reopen with Text Editor',
    );
    reopen.addEventListener('click', () =>
      this.run(this.client.request('openAsText', {}), 'Reopen with Text Editor'),
    );
    setChildren(
      this.failure,
      h(
        'div',
        { class: 'failure-line', role: 'alert' },
        icon('error'),
        h('span', { class: 'failure-text', title: text }, text),
      ),
      h('div', { class: 'failure-actions' }, reopen),
    );
    document.title = 'Model Lens — cannot open file';
  }

  private recompute(): void {
    this.progress.hidden = false;
    this.progress.indeterminate = true;
    this.status.textContent = 'Recomputing statistics…';
    this.run(this.client.request('recompute', {}), 'Recompute');
  }

  private run(p: Promise<unknown>, what: string): void {
    p.catch((e: unknown) =>
      this.showBanner(`${what} failed: ${e instanceof Error ? e.message : String(e)}`),
    );
  }

  private showBanner(text: string): void {
    const close = h(
      'button',
      { class: 'icon-button', title: 'Dismiss', 'aria-label': 'Dismiss' },
      icon('close'),
    );
    close.addEventListener('click', () => (this.banner.hidden = true));
    setChildren(this.banner, icon('error'), h('span', { class: 'banner-text' }, text), close);
    this.banner.hidden = false;
  }

  private setFilter(value: string): void {
    if (value === this.state.filter) return;
    this.state.filter = value;
    this.save();
    this.applyView();
    this.grid.scrollTop = 0;
  }

  private toggleSort(column: ColumnId): void {
    const cur = this.state.sort;
    const numeric = COLUMNS.find((c) => c.id === column)?.numeric ?? false;
    this.state.sort =
      cur?.column === column
        ? { column, descending: !cur.descending }
        : { column, descending: numeric || column === 'hist' };
    this.save();
    this.applyView();
    this.grid.scrollTop = 0;
  }

  /** Recomputes the visible order from filter and sort, and repaints the table. */
  private applyView(): void {
    const model = this.model;
    if (!model) return;
    const order = filterRows(this.rows, this.state.filter);
    if (this.state.sort) sortRows(order, this.rows, model.tensors, this.stats, this.state.sort);
    this.order = order;
    this.grid.setSort(this.state.sort);
    const empty =
      this.rows.length === 0
        ? 'This model has no tensors.'
        : `No layer, tensor or op matches “${this.state.filter.trim()}”.`;
    this.grid.setData(
      { rows: this.rows, order, tensors: model.tensors, stats: this.stats, errors: this.errors },
      empty,
    );
    this.grid.setSelected(this.selectedRow, false);
    const total = this.rows.length;
    this.matchCount.textContent =
      order.length === total
        ? `${formatInt(total)} row${total === 1 ? '' : 's'}`
        : `${formatInt(order.length)} of ${formatInt(total)} rows`;
  }

  private select(row: number, reveal: boolean): void {
    if (row === this.selectedRow) return;
    this.selectedRow = row;
    this.state.selected = this.selectionKey(row);
    this.save();
    this.grid.setSelected(row, reveal);
    this.showDetail();
  }

  /** Selects a tensor's first row and scrolls to it, clearing a filter that hides it. */
  private selectTensor(index: number): void {
    const row = this.rows.findIndex((r) => r.tensor === index);
    if (row < 0) return;
    if (!this.order.includes(row)) {
      this.filter.value = '';
      this.setFilter('');
    }
    this.select(row, true);
    this.grid.setSelected(row, true);
  }

  private selectionKey(row: number): SavedState['selected'] {
    const r = this.rows[row];
    return this.model ? { layer: r.layer, tensor: this.model.tensors[r.tensor].name } : null;
  }

  private showDetail(): void {
    const model = this.model;
    if (!model || this.selectedRow === null) {
      this.detail.show(null);
      return;
    }
    const row = this.rows[this.selectedRow];
    this.detail.show({
      row,
      tensor: model.tensors[row.tensor],
      stats: this.stats[row.tensor],
      error: this.errors[row.tensor],
      nearZero: this.config.nearZero,
    });
  }

  private updateModelHistogram(): void {
    const model = this.model;
    if (!model) return;
    const sources: RebinSource[] = [];
    for (let i = 0; i < model.tensors.length; i++) {
      const s = this.stats[i];
      if (!s || s.min === null || s.max === null || !dtypeInfo(model.tensors[i].dtype).float)
        continue;
      sources.push({ histogram: s.histogram, min: s.min, max: s.max, id: i });
    }
    const empty =
      this.floatTensors === 0
        ? 'No float weights'
        : this.statsFinished
          ? 'No finite values'
          : 'Waiting for statistics…';
    const range = robustRange(sources);
    const full = this.state.fullRange;
    this.header.setModelHistogram(
      range && !full
        ? combineHistograms(range.drawn, this.config.bins, range)
        : combineHistograms(sources, this.config.bins),
      this.state.log,
      empty,
      range && { range, full, name: (id) => model.tensors[id]?.name ?? '' },
    );
  }

  private save(): void {
    if (this.saveTimer !== undefined) return;
    this.saveTimer = window.setTimeout(() => {
      this.saveTimer = undefined;
      this.vscode.setState(this.state);
    }, 150);
  }
}

new Inspector(document.getElementById('app') ?? document.body);
