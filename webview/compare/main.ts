/** Compare webview: original and variant side by side, per tensor, with overlaid histograms. */
import '../../media/report.css';
import '../../media/compare.css';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-icon/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import { dtypeInfo } from '../../src/core/dtypes';
import type { TensorStats } from '../../src/core/stats/types';
import {
  describeRatio,
  formatCosine,
  fromWire,
  type CompareAction,
  type CompareRowView,
  type CompareStatus,
  type CompareView,
  type FromCompare,
  type PairedHistogramView,
  type TensorSideView,
  type ToCompare,
} from '../../src/shared/reportProtocol';
import { h, icon, loadingPlaceholder, setChildren } from '../dom';
import { formatBytes, formatDimsCompact, formatInt, formatNumber, formatPercent } from '../format';
import { combineHistograms, type RebinSource } from '../rebin';
import { formatDb, metricCell } from '../report/metrics';
import { parseSort, savedFields, Table, type Column, type SortState } from '../report/table';
import { onPixelRatioChange, onThemeChange } from '../theme';
import { OverlayChart, type OverlayData } from './overlayChart';
import { vsCodeApi } from '../vscodeApi';

interface SavedState {
  sort: SortState | null;
  filter: string;
  log: boolean;
  /** Tensor name of the selected row: survives the panel being hidden and reloaded. */
  selected: string | null;
}

function parseState(raw: unknown): SavedState {
  const s = savedFields(raw);
  return {
    sort: parseSort(s.sort),
    filter: typeof s.filter === 'string' ? s.filter : '',
    // Log by default: quantized or pruned weights pile into a few bins that flatten everything else.
    log: s.log !== false,
    selected: typeof s.selected === 'string' ? s.selected : null,
  };
}

type TextField = HTMLElement & { value: string };
type ProgressBar = HTMLElement & { value: number; max: number; indeterminate: boolean };
type Checkbox = HTMLElement & { checked: boolean };

/** Statuses as shown: 'values' is a 'same' row whose statistics differ between the files. */
type DisplayStatus = CompareStatus | 'values';

const STATUS_LABEL: Record<DisplayStatus, string> = {
  values: 'values changed',
  compressed: 'compressed',
  skipped: 'skipped',
  same: 'same storage',
  changed: 'changed',
  removed: 'only in original',
  added: 'only in variant',
};

const dtypeName = (dtype: number) => dtypeInfo(dtype).name;

function sideText(s: TensorSideView | null): string {
  if (!s) return '—';
  return `${dtypeName(s.dtype)} ${formatDimsCompact(s.dims)}`;
}

/** A source histogram with no counts still widens the combined range: re-binning one side onto both sides' range. */
function anchor(s: TensorStats): RebinSource {
  return {
    histogram: { min: s.histogram.min, max: s.histogram.max, counts: new Uint32Array(0) },
    min: s.min ?? NaN,
    max: s.max ?? NaN,
  };
}

/** About 2·√n bins (16 up to the configured count), so a small tensor's histogram is not a row of isolated spikes. */
function binsFor(values: number, max: number): number {
  return Math.max(16, Math.min(max, 2 * Math.ceil(Math.sqrt(values))));
}

/** Sums adjacent bins by the largest power-of-two factor that leaves at least `target` bins: exact, unlike re-binning. */
function mergeBins(counts: ArrayLike<number>, target: number): ArrayLike<number> {
  let factor = 1;
  while (counts.length % (factor * 2) === 0 && counts.length / (factor * 2) >= target) factor *= 2;
  if (factor === 1) return counts;
  const out = new Float64Array(counts.length / factor);
  for (let i = 0; i < counts.length; i++) out[Math.floor(i / factor)] += counts[i];
  return out;
}

function total(counts: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < counts.length; i++) n += counts[i];
  return n;
}

function source(s: TensorStats): RebinSource {
  return { histogram: s.histogram, min: s.min ?? NaN, max: s.max ?? NaN };
}

class CompareApp {
  private readonly vscode = vsCodeApi<FromCompare, SavedState>();
  private readonly state = parseState(this.vscode.getState());
  private view: CompareView | null = null;
  private stats: { original: (TensorStats | undefined)[]; variant: (TensorStats | undefined)[] } = {
    original: [],
    variant: [],
  };
  private paired = new Map<number, PairedHistogramView>();
  private selected: number | null = null;
  private statsDone = false;
  private autoSelect = false;
  private refreshFrame = 0;

  private readonly root: HTMLElement;
  private readonly head = h('header', { class: 'head compare-head' });
  private readonly statusLine = h('span', { class: 'status' });
  private readonly progress = h('vscode-progress-bar', {
    class: 'progress',
    'aria-label': 'Computing statistics',
  }) as ProgressBar;
  private readonly filter = h('vscode-textfield', {
    class: 'filter',
    type: 'search',
    placeholder: 'Filter by tensor, layer, op or status',
    'aria-label': 'Filter tensors',
  }) as TextField;
  private readonly count = h('span', { class: 'match-count', 'aria-live': 'polite' });
  private readonly tableHost = h('div', { class: 'compare-table' });
  private table: Table<CompareRowView> | null = null;
  private readonly detailTitle = h('h2', { class: 'detail-title' });
  private readonly detailSub = h('div', { class: 'detail-subtitle' });
  private readonly legend = h('div', { class: 'legend' });
  private readonly chartNote = h('div', { class: 'chart-note', role: 'status' });
  private readonly chart = new OverlayChart('compare-histogram', 240, {
    original: 'original',
    variant: 'variant',
  });
  private readonly logToggle = h('vscode-checkbox', {
    label: 'Log scale',
    class: 'log-toggle',
  }) as Checkbox;
  private readonly sides = h('div', { class: 'side-facts' });
  private readonly metrics = h('dl', { class: 'facts' });

  constructor(root: HTMLElement) {
    this.root = root;
    setChildren(root, loadingPlaceholder('Reading both models…'));
    this.filter.append(h('vscode-icon', { slot: 'content-before', name: 'filter' }));
    this.filter.value = this.state.filter;
    this.filter.addEventListener('input', () => {
      this.state.filter = this.filter.value;
      this.save();
      this.table?.setFilter(this.filter.value);
      this.updateCount();
    });
    this.logToggle.checked = this.state.log;
    this.logToggle.addEventListener('change', () => {
      this.state.log = this.logToggle.checked;
      this.save();
      this.showDetail();
    });
    const retheme = () => this.chart.themeChanged();
    onThemeChange(retheme);
    onPixelRatioChange(retheme);
    window.addEventListener('message', (e: MessageEvent) => this.onMessage(e.data));
    this.vscode.postMessage({ type: 'ready' });
  }

  private save(): void {
    this.vscode.setState(this.state);
  }

  private act(action: CompareAction): void {
    this.vscode.postMessage({ type: 'action', action });
  }

  private onMessage(data: unknown): void {
    if (typeof data !== 'object' || data === null) return;
    const msg = data as ToCompare;
    switch (msg.type) {
      case 'compare':
        this.load(msg.view);
        break;
      case 'histograms':
        for (const item of msg.items) this.paired.set(item.row, item);
        this.showDetail();
        break;
      case 'stats': {
        const into = this.stats[msg.side];
        for (const r of msg.results)
          if (Number.isInteger(r.index) && r.index >= 0 && r.stats) into[r.index] = r.stats;
        this.scheduleRefresh();
        break;
      }
      case 'progress':
        this.progress.hidden = false;
        this.progress.indeterminate = false;
        this.progress.max = Math.max(1, msg.total);
        this.progress.value = Math.min(msg.done, msg.total);
        this.statusLine.textContent = `Computing statistics… ${formatInt(msg.done)} / ${formatInt(msg.total)} tensors`;
        break;
      case 'statsDone':
        this.statsDone = true;
        this.progress.hidden = true;
        if (this.autoSelect) {
          this.autoSelect = false;
          const row = this.view?.rows.findIndex((r) => this.status(r) === 'values') ?? -1;
          if (row >= 0) this.table?.select(row);
        }
        this.statusLine.textContent = this.sourceText();
        this.scheduleRefresh();
        break;
      case 'failed':
        setChildren(
          this.root,
          h(
            'div',
            { class: 'callout bad failure', role: 'alert' },
            icon('error'),
            h('span', {}, `Cannot compare: ${msg.message}`),
          ),
        );
        break;
    }
  }

  private sourceText(): string {
    const v = this.view;
    if (!v) return '';
    return v.source === 'report'
      ? `Errors and histograms of original vs reconstructed weights from this session's compression (${v.methods ?? 'compressed'}).`
      : 'Histograms from both files’ statistics, re-binned to a common range. Compress in this session to see reconstruction errors.';
  }

  private scheduleRefresh(): void {
    if (this.refreshFrame) return;
    this.refreshFrame = requestAnimationFrame(() => {
      this.refreshFrame = 0;
      this.table?.refresh();
      this.showDetail();
    });
  }

  /** A tensor stored the same way whose values differ (pruned in place, edited) shows as changed once both statistics are in. */
  private status(r: CompareRowView): DisplayStatus {
    if (r.status !== 'same' || r.original?.statsIndex == null || r.variant?.statsIndex == null)
      return r.status;
    const a = this.stats.original[r.original.statsIndex];
    const b = this.stats.variant[r.variant.statsIndex];
    if (!a || !b) return r.status;
    const same =
      a.min === b.min &&
      a.max === b.max &&
      a.mean === b.mean &&
      a.std === b.std &&
      a.zeros === b.zeros;
    return same ? 'same' : 'values';
  }

  private columns(v: CompareView): Column<CompareRowView>[] {
    const ratio = (r: CompareRowView) =>
      r.original && r.variant ? r.original.bytes / Math.max(1, r.variant.bytes) : NaN;
    const side = (s: TensorSideView | null, cls: string) =>
      s
        ? h(
            'div',
            { class: `name-cell ${cls}` },
            h(
              'span',
              { class: 'type', title: s.storedAs.join(', ') },
              sideText(s),
              s.storedAs.length > 1
                ? h('span', { class: 'parts' }, ` +${s.storedAs.length - 1}`)
                : null,
            ),
            h('span', { class: 'where' }, formatBytes(s.bytes)),
          )
        : '—';
    const cols: Column<CompareRowView>[] = [
      {
        id: 'name',
        label: 'Tensor',
        value: (r) => r.name,
        render: (r) =>
          h(
            'div',
            { class: 'name-cell' },
            h('span', { class: 'name', title: r.name }, r.name),
            h(
              'span',
              { class: 'where' },
              [r.layer, r.op].filter(Boolean).join(' · ') || 'not used by a layer',
            ),
          ),
        className: 'col-name',
      },
      {
        id: 'status',
        label: 'Status',
        value: (r) => this.status(r),
        render: (r) =>
          h('span', { class: `status-badge ${this.status(r)}` }, STATUS_LABEL[this.status(r)]),
      },
      {
        id: 'original',
        label: 'Original',
        numeric: true,
        title: `dtype, shape and bytes in ${v.original.name} (sorts by bytes)`,
        value: (r) => r.original?.bytes ?? NaN,
        render: (r) => side(r.original, 'side-a'),
        className: 'side-a',
      },
      {
        id: 'variant',
        label: 'Variant',
        numeric: true,
        title: `stored form in ${v.variant.name}, all parts (sorts by bytes)`,
        value: (r) => r.variant?.bytes ?? NaN,
        render: (r) => side(r.variant, 'side-b'),
        className: 'side-b',
      },
      {
        id: 'ratio',
        label: 'Ratio',
        numeric: true,
        title: 'Original bytes / variant bytes',
        value: ratio,
        render: (r) => (Number.isFinite(ratio(r)) ? `${ratio(r).toFixed(2)}×` : '—'),
      },
    ];
    if (v.source === 'report') {
      cols.push(
        {
          id: 'cosine',
          label: 'Cosine',
          numeric: true,
          title: 'Cosine similarity of original and reconstructed weights',
          value: (r) => (r.metrics ? fromWire(r.metrics.cosine) : NaN),
          render: (r) =>
            r.metrics
              ? metricCell(
                  formatCosine(fromWire(r.metrics.cosine)),
                  fromWire(r.metrics.cosine) < 0.99 ? 'poor' : undefined,
                )
              : '—',
        },
        {
          id: 'sqnr',
          label: 'SQNR',
          numeric: true,
          title: 'Signal-to-quantization-noise ratio (dB)',
          value: (r) => (r.metrics ? fromWire(r.metrics.sqnrDb) : NaN),
          render: (r) => (r.metrics ? formatDb(fromWire(r.metrics.sqnrDb)) : '—'),
        },
      );
    } else {
      const sparsity = (s: TensorSideView | null, which: 'original' | 'variant') =>
        s?.statsIndex != null ? this.stats[which][s.statsIndex]?.sparsity : undefined;
      cols.push({
        id: 'sparsity',
        label: 'Sparsity',
        numeric: true,
        title: 'Share of zeros: original → variant (sorts by the variant)',
        value: (r) => sparsity(r.variant, 'variant') ?? NaN,
        render: (r) => {
          const a = sparsity(r.original, 'original');
          const b = sparsity(r.variant, 'variant');
          return a === undefined && b === undefined
            ? '—'
            : a === b
              ? formatPercent(a)
              : `${formatPercent(a)} → ${formatPercent(b)}`;
        },
      });
    }
    return cols;
  }

  private sideCard(which: 'original' | 'variant'): HTMLElement {
    const s = this.view![which];
    const open = h(
      'vscode-button',
      { secondary: true, icon: 'go-to-file', title: `Open ${s.name} in the inspector` },
      'Open',
    );
    open.addEventListener('click', () =>
      this.act(which === 'original' ? 'openOriginal' : 'openVariant'),
    );
    return h(
      'div',
      { class: `side-card ${which === 'original' ? 'side-a' : 'side-b'}` },
      h('div', { class: 'card-label' }, which === 'original' ? 'Original' : 'Variant'),
      h('div', { class: 'side-name', title: `${s.folder}/${s.name}` }, s.name),
      h(
        'div',
        { class: 'card-sub' },
        `${formatBytes(s.fileBytes)} · ${formatInt(s.tensors)} tensors · ${formatInt(s.parameters)} values · ${s.opsets}`,
      ),
      h('div', { class: 'side-actions' }, open),
    );
  }

  private load(view: CompareView): void {
    this.view = view;
    this.stats = { original: [], variant: [] };
    this.paired = new Map();
    this.statsDone = false;
    document.title = `${view.original.name} ↔ ${view.variant.name}`;
    const ratio = view.original.fileBytes / Math.max(1, view.variant.fileBytes);
    const extra: HTMLElement[] = [];
    if (view.source === 'report') {
      const b = h('vscode-button', { secondary: true, icon: 'output' }, 'Show Report');
      b.addEventListener('click', () => this.act('showReport'));
      extra.push(b);
    } else {
      const b = h(
        'vscode-button',
        { secondary: true, icon: 'arrow-swap', title: 'Treat the other file as the original' },
        'Swap',
      );
      b.addEventListener('click', () => this.act('swap'));
      extra.push(b);
    }
    setChildren(
      this.head,
      this.sideCard('original'),
      h(
        'div',
        { class: 'versus' },
        icon('arrow-right'),
        h('div', { class: 'versus-ratio' }, describeRatio(ratio)),
        ...extra,
      ),
      this.sideCard('variant'),
    );
    const names =
      view.source === 'report'
        ? { original: 'original', variant: 'reconstructed' }
        : { original: view.original.name, variant: view.variant.name };
    this.chart.setNames(names);
    setChildren(
      this.legend,
      h(
        'span',
        { class: 'legend-item' },
        h('span', { class: 'swatch original', 'aria-hidden': 'true' }),
        names.original,
      ),
      h(
        'span',
        { class: 'legend-item' },
        h('span', { class: 'swatch variant', 'aria-hidden': 'true' }),
        names.variant,
      ),
    );

    this.table = new Table<CompareRowView>({
      columns: this.columns(view),
      label: 'Tensors of both models',
      sort: this.state.sort,
      onSort: (sort) => {
        this.state.sort = sort;
        this.save();
      },
      onSelect: (row, index) => {
        this.autoSelect = false;
        this.selected = index;
        this.state.selected = row.name;
        this.save();
        this.showDetail();
      },
      filterText: (r) =>
        `${r.name} ${r.layer} ${r.op} ${STATUS_LABEL[this.status(r)]} ${r.method ?? ''}`,
      empty: view.rows.length ? 'No tensor matches the filter.' : 'Neither model has tensors.',
    });
    this.table.setRows(view.rows);
    this.table.setFilter(this.state.filter);
    this.tableHost.replaceChildren(this.table.element);
    this.updateCount();

    const detail = h(
      'section',
      { class: 'compare-detail', 'aria-label': 'Selected tensor' },
      h(
        'div',
        { class: 'detail-head' },
        h('div', { class: 'detail-names' }, this.detailTitle, this.detailSub),
        this.logToggle,
      ),
      this.legend,
      h('div', { class: 'detail-chart' }, this.chart.element, this.chartNote),
      this.sides,
      this.metrics,
    );
    this.progress.hidden = false;
    this.progress.indeterminate = true;
    this.statusLine.textContent =
      view.source === 'report' ? this.sourceText() : 'Computing statistics…';
    setChildren(
      this.root,
      this.head,
      h(
        'div',
        { class: 'toolbar' },
        this.filter,
        this.count,
        h('span', { class: 'toolbar-spacer' }),
        this.statusLine,
        this.progress,
      ),
      h('div', { class: 'compare-main' }, this.tableHost, detail),
    );
    // The previous selection by name, else the first compressed or changed tensor, else the first row.
    const want = view.rows.findIndex((r) => r.name === this.state.selected);
    const changed = view.rows.findIndex((r) => r.status === 'compressed' || r.status === 'changed');
    const first = want >= 0 ? want : Math.max(0, changed);
    if (view.rows.length) this.table.select(first);
    else this.showDetail();
    // Values changed in place are known only once statistics arrive: then move to the first such row.
    this.autoSelect = want < 0 && changed < 0;
  }

  private updateCount(): void {
    const total = this.view?.rows.length ?? 0;
    const shown = this.table?.visible ?? 0;
    this.count.textContent =
      shown === total
        ? `${formatInt(total)} tensor${total === 1 ? '' : 's'}`
        : `${formatInt(shown)} of ${formatInt(total)} tensors`;
  }

  /** Histogram pair for a row: the report's, else both files' statistics on a common range. */
  private overlay(row: CompareRowView, index: number): { data: OverlayData | null; note: string } {
    const maxBins = this.view!.bins;
    const p = this.paired.get(index);
    if (p) {
      const target = binsFor(total(p.original), maxBins);
      return {
        data: {
          min: p.min,
          max: p.max,
          original: mergeBins(p.original, target),
          variant: mergeBins(p.variant, target),
        },
        note: '',
      };
    }
    const a =
      row.original?.statsIndex != null ? this.stats.original[row.original.statsIndex] : undefined;
    const b =
      row.variant?.statsIndex != null ? this.stats.variant[row.variant.statsIndex] : undefined;
    const pending = !this.statsDone ? 'Computing statistics…' : '';
    if (a && b) {
      const target = binsFor(Math.max(a.count, b.count), maxBins);
      const ha = a.histogram;
      const hb = b.histogram;
      if (ha.min === hb.min && ha.max === hb.max && ha.counts.length === hb.counts.length) {
        return {
          data: {
            min: ha.min,
            max: ha.max,
            original: mergeBins(ha.counts, target),
            variant: mergeBins(hb.counts, target),
          },
          note: '',
        };
      }
      const ra = combineHistograms([source(a), anchor(b)], target);
      const rb = combineHistograms([source(b), anchor(a)], target);
      if (!ra || !rb) return { data: null, note: 'No finite values' };
      return {
        data: {
          min: ra.min,
          max: ra.max,
          original: ra.counts,
          variant: rb.counts,
          approximate: true,
        },
        note: '',
      };
    }
    const why = !row.original
      ? 'Only in the variant.'
      : !row.variant
        ? 'Not in the variant.'
        : row.original.statsIndex === null
          ? `Not a float tensor (${dtypeName(row.original.dtype)}).`
          : row.variant.statsIndex === null
            ? `The variant stores ${dtypeName(row.variant.dtype)} codes (${row.variant.storedAs.join(', ')}), not values to overlay.${this.view!.source === 'stats' ? ' Open Compare from a compression in this session to see the reconstructed weights.' : ''}`
            : pending;
    if (a)
      return {
        data: {
          min: a.histogram.min,
          max: a.histogram.max,
          original: mergeBins(a.histogram.counts, binsFor(a.count, maxBins)),
          variant: null,
        },
        note: why,
      };
    if (b) {
      const counts = mergeBins(b.histogram.counts, binsFor(b.count, maxBins));
      return {
        data: {
          min: b.histogram.min,
          max: b.histogram.max,
          original: new Float64Array(counts.length),
          variant: counts,
        },
        note: why,
      };
    }
    return { data: null, note: pending || why };
  }

  private showDetail(): void {
    const v = this.view;
    if (!v) return;
    const index = this.selected;
    const row = index === null ? undefined : v.rows[index];
    if (!row || index === null) {
      this.detailTitle.textContent = 'No tensor selected';
      this.detailSub.textContent = 'Select a row to compare its histograms.';
      this.chart.set(null, this.state.log, 'No tensor selected');
      this.chartNote.textContent = '';
      this.sides.replaceChildren();
      this.metrics.replaceChildren();
      return;
    }
    this.detailTitle.textContent = row.name;
    this.detailTitle.title = row.name;
    setChildren(
      this.detailSub,
      h('span', {}, [row.layer, row.op].filter(Boolean).join(' · ') || 'not used by a layer'),
      h('span', { class: 'sep' }, '·'),
      h('span', { class: `status-badge ${this.status(row)}` }, STATUS_LABEL[this.status(row)]),
      row.method ? h('span', { class: 'sep' }, '·') : null,
      row.method ? h('span', {}, row.method) : null,
    );
    const { data, note } = this.overlay(row, index);
    this.chart.set(
      data,
      this.state.log,
      `Histograms of ${row.name}: original and variant overlaid. Arrow keys read bins.`,
      note,
    );
    this.chartNote.textContent = data ? note : '';
    this.chartNote.hidden = !data || !note;

    const sa =
      row.original?.statsIndex != null ? this.stats.original[row.original.statsIndex] : undefined;
    const sb =
      row.variant?.statsIndex != null ? this.stats.variant[row.variant.statsIndex] : undefined;
    const line = (label: string, a: string, b: string) =>
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, label),
        h('td', { class: 'side-a' }, a),
        h('td', { class: 'side-b' }, b),
      );
    const stat = (s: TensorStats | undefined, f: (s: TensorStats) => string) => (s ? f(s) : '—');
    this.sides.replaceChildren(
      h(
        'table',
        { class: 'side-table', 'aria-label': 'Original and variant side by side' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('td'),
            h('th', { scope: 'col', class: 'side-a' }, 'Original'),
            h('th', { scope: 'col', class: 'side-b' }, 'Variant'),
          ),
        ),
        h(
          'tbody',
          {},
          line('Type', sideText(row.original), sideText(row.variant)),
          line(
            'Stored',
            row.original ? formatBytes(row.original.bytes) : '—',
            row.variant ? formatBytes(row.variant.bytes) : '—',
          ),
          line(
            'Stored as',
            row.original?.storedAs.join(', ') ?? '—',
            row.variant?.storedAs.join(', ') ?? '—',
          ),
          line(
            'Min / max',
            stat(sa, (s) => `${formatNumber(s.min)} / ${formatNumber(s.max)}`),
            stat(sb, (s) => `${formatNumber(s.min)} / ${formatNumber(s.max)}`),
          ),
          line(
            'Mean ± std',
            stat(sa, (s) => `${formatNumber(s.mean)} ± ${formatNumber(s.std)}`),
            stat(sb, (s) => `${formatNumber(s.mean)} ± ${formatNumber(s.std)}`),
          ),
          line(
            'Sparsity',
            stat(sa, (s) => formatPercent(s.sparsity)),
            stat(sb, (s) => formatPercent(s.sparsity)),
          ),
        ),
      ),
    );
    const m = row.metrics;
    const facts: [string, string][] = m
      ? [
          ['Cosine', formatCosine(fromWire(m.cosine))],
          ['SQNR', formatDb(fromWire(m.sqnrDb))],
          ['MSE', formatNumber(fromWire(m.mse), 3)],
          ['Max |err|', formatNumber(fromWire(m.maxAbs), 3)],
          ['Sparsity after', formatPercent(fromWire(m.sparsity))],
        ]
      : [];
    this.metrics.replaceChildren(
      ...facts.map(([k, val]) => h('div', { class: 'fact' }, h('dt', {}, k), h('dd', {}, val))),
      ...(row.note
        ? [
            h(
              'div',
              { class: 'fact wide' },
              h('dt', {}, row.status === 'skipped' ? 'Skipped because' : 'Note'),
              h('dd', { title: row.note }, row.note),
            ),
          ]
        : []),
    );
  }
}

new CompareApp(document.getElementById('app') ?? document.body);
