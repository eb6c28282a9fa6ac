/** The selected tensor: full histogram and its statistics. */
import type { TensorStats } from '../src/core/stats/types';
import type { TensorView } from '../src/shared/protocol';
import { dtypeInfo } from '../src/core/dtypes';
import { HistogramChart } from './chart';
import { h, icon, setChildren } from './dom';
import { formatBytes, formatDims, formatInt, formatNumber, formatPercent } from './format';
import { UNUSED_LAYER, type Row } from './rows';

export interface DetailInput {
  row: Row;
  tensor: TensorView;
  stats: TensorStats | undefined;
  error: string | undefined;
  /** Near-zero threshold in force (0 = exact zeros). */
  nearZero: number;
}

export class DetailPane {
  readonly element: HTMLElement;
  readonly chart: HistogramChart;
  private readonly title: HTMLElement;
  private readonly subtitle: HTMLElement;
  private readonly facts: HTMLElement;
  private readonly message: HTMLElement;
  private readonly logToggle: HTMLElement & { checked: boolean };
  private input: DetailInput | null = null;
  private log = false;

  constructor(onLogChange: (log: boolean) => void) {
    this.chart = new HistogramChart({ id: 'detail-histogram', height: 166, label: 'Histogram' });
    this.title = h('h2', { class: 'detail-title' });
    this.subtitle = h('div', { class: 'detail-subtitle' });
    this.logToggle = h('vscode-checkbox', {
      label: 'Log scale',
      class: 'log-toggle',
    }) as HTMLElement & { checked: boolean };
    this.logToggle.addEventListener('change', () => onLogChange(this.logToggle.checked));
    this.facts = h('dl', { class: 'facts' });
    this.message = h('div', { class: 'detail-message', hidden: true });
    this.element = h(
      'section',
      { class: 'detail', 'aria-label': 'Selected tensor' },
      h(
        'div',
        { class: 'detail-head' },
        h('div', { class: 'detail-names' }, this.title, this.subtitle),
        this.logToggle,
      ),
      // The message overlays the chart so the pane keeps its height and the table does not jump.
      h('div', { class: 'detail-chart' }, this.chart.element, this.message),
      this.facts,
    );
    this.show(null);
  }

  setLog(log: boolean): void {
    this.log = log;
    this.logToggle.checked = log;
    this.render();
  }

  show(input: DetailInput | null): void {
    this.input = input;
    this.render();
  }

  private render(): void {
    const input = this.input;
    this.element.classList.toggle('empty', !input);
    if (!input) {
      this.title.textContent = 'No tensor selected';
      this.subtitle.textContent = 'Select a row to see its histogram.';
      this.chart.set(null, this.log);
      this.facts.replaceChildren();
      this.message.hidden = true;
      return;
    }
    const { row, tensor: t, stats: s, error } = input;
    this.title.textContent = t.name;
    this.title.title = t.name;
    const where =
      row.layer === UNUSED_LAYER
        ? 'Not used by any layer'
        : row.op
          ? `${row.layer} · ${row.op}`
          : row.layer;
    setChildren(
      this.subtitle,
      h('span', {}, where),
      h('span', { class: 'sep' }, '·'),
      h('span', {}, `${t.storageType ?? dtypeInfo(t.dtype).name} ${formatDims(t.dims)}`),
      h('span', { class: 'sep' }, '·'),
      h('span', {}, formatBytes(t.bytes)),
      t.scope ? h('span', { class: 'sep' }, '·') : null,
      t.scope ? h('span', {}, t.scope) : null,
    );
    if (error) {
      this.message.hidden = false;
      setChildren(this.message, icon('warning'), h('span', {}, `No statistics: ${error}`));
    } else if (!s) {
      this.message.hidden = false;
      setChildren(
        this.message,
        icon('loading', 'codicon-modifier-spin'),
        h('span', {}, 'Computing statistics…'),
      );
    } else {
      this.message.hidden = true;
    }
    this.chart.set(
      s && s.count > 0
        ? { min: s.histogram.min, max: s.histogram.max, counts: s.histogram.counts }
        : null,
      this.log,
      `Histogram of ${t.name}: ${s ? s.histogram.counts.length : 0} bins. Arrow keys read bins.`,
    );
    const zerosLabel =
      input.nearZero > 0 ? `Zeros (|x| ≤ ${formatNumber(input.nearZero)})` : 'Zeros';
    const dash = '—';
    const entries: [string, string, string?][] = s
      ? [
          ['Count', formatInt(s.count)],
          ['Min', formatNumber(s.min, 6)],
          ['Max', formatNumber(s.max, 6)],
          ['Mean', formatNumber(s.mean, 6)],
          ['Std', formatNumber(s.std, 6)],
          [zerosLabel, formatInt(s.zeros)],
          ['Sparsity', formatPercent(s.sparsity)],
          ['NaN', formatInt(s.nan), s.nan > 0 ? 'bad' : undefined],
          ['Inf', formatInt(s.inf), s.inf > 0 ? 'bad' : undefined],
          ['p1 ≈', formatNumber(s.p1, 4)],
          ['p50 ≈', formatNumber(s.p50, 4)],
          ['p99 ≈', formatNumber(s.p99, 4)],
          ['Entropy', `${s.entropy.toFixed(2)} bits/weight`],
        ]
      : [
          ['Count', formatInt(t.count)],
          ...['Min', 'Max', 'Mean', 'Std', 'Sparsity'].map((k): [string, string] => [k, dash]),
        ];
    this.facts.replaceChildren(
      ...entries.map(([k, v, cls]) =>
        h(
          'div',
          {
            class: `fact${cls ? ` ${cls}` : ''}`,
            title: k.includes('≈') ? 'Interpolated within a histogram bin' : undefined,
          },
          h('dt', {}, k),
          h('dd', {}, v),
        ),
      ),
    );
  }
}
