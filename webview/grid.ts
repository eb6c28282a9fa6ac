/**
 * The layer table as an ARIA grid. Only the rows in view exist in the DOM (fixed row height),
 * so 10,000+ tensors scroll and sort without lag.
 */
import type { TensorStats } from '../src/core/stats/types';
import type { TensorView } from '../src/shared/protocol';
import { dtypeInfo } from '../src/core/dtypes';
import { drawSparkline } from './chart';
import { h } from './dom';
import {
  formatBytes,
  formatDims,
  formatDimsCompact,
  formatInt,
  formatNumber,
  formatPercent,
} from './format';
import type { ColumnId, Row, SortSpec } from './rows';
import type { ChartColors } from './theme';

export const ROW_HEIGHT = 24;
const OVERSCAN = 6;

interface Column {
  id: ColumnId;
  label: string;
  /** Narrowest the column gets; below the sum of these the table scrolls sideways. */
  min: number;
  /** Width when there is room: pixels, or a share of what is left (names). */
  max: number | { fr: number };
  numeric: boolean;
  title: string;
}

export const COLUMNS: readonly Column[] = [
  {
    id: 'layer',
    label: 'Layer',
    min: 96,
    max: { fr: 1.2 },
    numeric: false,
    title: 'Layer (node) name',
  },
  { id: 'op', label: 'Op', min: 64, max: 92, numeric: false, title: 'Operator type' },
  {
    id: 'tensor',
    label: 'Tensor',
    min: 120,
    max: { fr: 1.6 },
    numeric: false,
    title: 'Tensor name',
  },
  { id: 'dtype', label: 'Type', min: 58, max: 66, numeric: false, title: 'Element type' },
  {
    id: 'shape',
    label: 'Shape',
    min: 76,
    max: 104,
    numeric: false,
    title: 'Dimensions (sorts by element count)',
  },
  { id: 'count', label: 'Count', min: 70, max: 88, numeric: true, title: 'Elements' },
  { id: 'bytes', label: 'Size', min: 66, max: 74, numeric: true, title: 'Bytes in storage' },
  { id: 'min', label: 'Min', min: 62, max: 76, numeric: true, title: 'Smallest finite value' },
  { id: 'max', label: 'Max', min: 62, max: 76, numeric: true, title: 'Largest finite value' },
  { id: 'mean', label: 'Mean', min: 62, max: 76, numeric: true, title: 'Mean of finite values' },
  {
    id: 'std',
    label: 'Std',
    min: 62,
    max: 76,
    numeric: true,
    title: 'Population standard deviation',
  },
  {
    id: 'zeros',
    label: 'Zeros',
    min: 58,
    max: 76,
    numeric: true,
    title: 'Elements counted as zero',
  },
  { id: 'sparsity', label: 'Sparsity', min: 74, max: 86, numeric: true, title: 'Zeros / count' },
  {
    id: 'hist',
    label: 'Histogram',
    min: 100,
    max: 100,
    numeric: false,
    title: 'Value histogram (bar height ∝ √count); sorts by entropy',
  },
];

const PENDING = '…';

export interface GridData {
  rows: readonly Row[];
  /** Row indices in display order (filtered and sorted). */
  order: readonly number[];
  tensors: readonly TensorView[];
  stats: readonly (TensorStats | undefined)[];
  errors: readonly (string | undefined)[];
}

export interface GridCallbacks {
  /** A row was selected (by mouse or keyboard); `row` indexes GridData.rows. */
  select(row: number): void;
  sort(column: ColumnId): void;
  scrolled(): void;
}

interface RowElement {
  el: HTMLElement;
  cells: HTMLElement[];
  spark: HTMLCanvasElement;
  /** What the element shows now, to skip redundant DOM writes while scrolling. */
  key: string;
}

export class VirtualGrid {
  readonly element: HTMLElement;
  private readonly scroller: HTMLElement;
  private readonly body: HTMLElement;
  private readonly headerCells: HTMLElement[] = [];
  private readonly empty: HTMLElement;
  private readonly pool: RowElement[] = [];
  private data: GridData = { rows: [], order: [], tensors: [], stats: [], errors: [] };
  private selected: number | null = null;
  private stamp = 0;
  private colors: ChartColors;
  private frame = 0;
  private emptyText = '';

  /** Renames a column's header (the second column is 'Op' for graphs, 'Shard' for sharded weights). */
  setColumnLabel(id: ColumnId, label: string): void {
    const i = COLUMNS.findIndex((c) => c.id === id);
    const cell = this.headerCells[i];
    const span = cell?.querySelector('.grid-header-label');
    if (span) span.textContent = label;
  }

  constructor(
    private readonly callbacks: GridCallbacks,
    colors: ChartColors,
  ) {
    this.colors = colors;
    const header = h('div', { class: 'grid-row grid-header', role: 'row', 'aria-rowindex': 1 });
    COLUMNS.forEach((col, i) => {
      const cell = h(
        'div',
        {
          class: `grid-cell grid-header-cell${col.numeric ? ' numeric' : ''}`,
          role: 'columnheader',
          tabindex: i === 0 ? 0 : -1,
          title: col.title,
          'aria-colindex': i + 1,
          'data-column': col.id,
        },
        h('span', { class: 'grid-header-label' }, col.label),
        h('span', { class: 'codicon sort-indicator', 'aria-hidden': 'true' }),
      );
      cell.addEventListener('click', () => {
        this.moveHeaderFocus(i, false);
        this.callbacks.sort(col.id);
      });
      cell.addEventListener('keydown', (e) => this.onHeaderKey(e, i));
      this.headerCells.push(cell);
      header.append(cell);
    });
    this.body = h('div', { class: 'grid-body', role: 'rowgroup' });
    this.empty = h('div', { class: 'grid-empty', hidden: true });
    this.scroller = h(
      'div',
      {
        class: 'grid',
        role: 'grid',
        tabindex: 0,
        'aria-label': 'Tensors by layer',
        'aria-colcount': COLUMNS.length,
        'aria-readonly': 'true',
      },
      h('div', { role: 'rowgroup', class: 'grid-head' }, header),
      this.body,
      this.empty,
    );
    const minWidth = COLUMNS.reduce((s, c) => s + c.min, 0);
    const track = (c: Column) =>
      `minmax(${c.min}px, ${typeof c.max === 'number' ? `${c.max}px` : `${c.max.fr}fr`})`;
    this.scroller.style.setProperty('--grid-columns', COLUMNS.map(track).join(' '));
    this.scroller.style.setProperty('--grid-min-width', `${minWidth}px`);
    this.element = this.scroller;
    this.scroller.addEventListener('scroll', () => {
      this.scheduleRender();
      this.callbacks.scrolled();
    });
    this.scroller.addEventListener('keydown', (e) => this.onKey(e));
    // Arriving by keyboard with nothing selected selects the first row, so the focus is visible.
    this.scroller.addEventListener('focus', () => {
      if (
        this.selected === null &&
        this.data.order.length > 0 &&
        this.scroller.matches(':focus-visible')
      ) {
        this.callbacks.select(this.data.order[0]);
      }
    });
    this.body.addEventListener('click', (e) => {
      const rowEl = (e.target as Element).closest<HTMLElement>('.grid-row[data-index]');
      if (!rowEl) return;
      const row = Number(rowEl.dataset.index);
      this.scroller.focus({ preventScroll: true });
      this.callbacks.select(row);
    });
    new ResizeObserver(() => this.render()).observe(this.scroller);
  }

  setData(data: GridData, emptyText: string): void {
    this.data = data;
    this.emptyText = emptyText;
    this.scroller.setAttribute('aria-rowcount', String(data.order.length + 1));
    this.body.style.height = `${data.order.length * ROW_HEIGHT}px`;
    // What the table would like to be tall: a short table leaves the detail pane right below it.
    this.scroller.style.setProperty(
      '--grid-height',
      `${(data.order.length + 1) * ROW_HEIGHT + 16}px`,
    );
    this.invalidate();
  }

  setSort(spec: SortSpec | null): void {
    COLUMNS.forEach((col, i) => {
      const cell = this.headerCells[i];
      const active = spec?.column === col.id;
      cell.setAttribute(
        'aria-sort',
        active ? (spec.descending ? 'descending' : 'ascending') : 'none',
      );
      cell.classList.toggle('sorted', active);
      const indicator = cell.querySelector('.sort-indicator') as HTMLElement;
      indicator.className = `codicon sort-indicator${active ? (spec.descending ? ' codicon-arrow-down' : ' codicon-arrow-up') : ''}`;
    });
  }

  setSelected(row: number | null, reveal: boolean): void {
    this.selected = row;
    if (reveal && row !== null) this.reveal(this.data.order.indexOf(row));
    this.invalidate();
  }

  setColors(colors: ChartColors): void {
    this.colors = colors;
    this.invalidate();
  }

  /** Statistics or layout changed: redraw every visible row. */
  invalidate(): void {
    this.stamp++;
    this.render();
  }

  get scrollTop(): number {
    return this.scroller.scrollTop;
  }

  set scrollTop(v: number) {
    this.scroller.scrollTop = v;
    this.render();
  }

  focus(): void {
    this.scroller.focus();
  }

  private scheduleRender(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private headerHeight(): number {
    return this.headerCells[0].offsetHeight || ROW_HEIGHT;
  }

  private viewportRows(): number {
    return Math.max(1, Math.floor((this.scroller.clientHeight - this.headerHeight()) / ROW_HEIGHT));
  }

  private reveal(pos: number): void {
    if (pos < 0) return;
    const top = pos * ROW_HEIGHT;
    const visible = this.scroller.clientHeight - this.headerHeight();
    if (top < this.scroller.scrollTop) this.scroller.scrollTop = top;
    else if (top + ROW_HEIGHT > this.scroller.scrollTop + visible)
      this.scroller.scrollTop = top + ROW_HEIGHT - visible;
  }

  render(): void {
    const { order } = this.data;
    const total = order.length;
    this.empty.hidden = total > 0;
    this.empty.textContent = total > 0 ? '' : this.emptyText;
    const first = Math.max(0, Math.floor(this.scroller.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(
      total,
      Math.ceil((this.scroller.scrollTop + this.scroller.clientHeight) / ROW_HEIGHT) + OVERSCAN,
    );
    const needed = Math.max(0, last - first);
    while (this.pool.length < needed) this.pool.push(this.createRow());
    for (let k = 0; k < this.pool.length; k++) {
      const r = this.pool[k];
      if (k >= needed) {
        if (r.el.isConnected) r.el.remove();
        continue;
      }
      this.fillRow(r, first + k);
      if (!r.el.isConnected) this.body.append(r.el);
    }
    const selPos = this.selected === null ? -1 : order.indexOf(this.selected);
    if (selPos >= first && selPos < last)
      this.scroller.setAttribute('aria-activedescendant', `grid-row-${selPos}`);
    else this.scroller.removeAttribute('aria-activedescendant');
  }

  private createRow(): RowElement {
    const cells = COLUMNS.map((col, i) =>
      h('div', {
        class: `grid-cell${col.numeric ? ' numeric' : ''} col-${col.id}`,
        role: 'gridcell',
        'aria-colindex': i + 1,
      }),
    );
    const spark = h('canvas', { class: 'sparkline', 'aria-hidden': 'true' });
    cells[cells.length - 1].append(spark);
    const el = h('div', { class: 'grid-row', role: 'row' }, ...cells);
    return { el, cells, spark, key: '' };
  }

  private fillRow(r: RowElement, pos: number): void {
    const { rows, order, tensors, stats, errors } = this.data;
    const rowIndex = order[pos];
    const selected = rowIndex === this.selected;
    const key = `${this.stamp}:${pos}:${rowIndex}:${selected}`;
    if (r.key === key) return;
    r.key = key;
    const row = rows[rowIndex];
    const t = tensors[row.tensor];
    const s = stats[row.tensor];
    const err = errors[row.tensor];
    const el = r.el;
    el.id = `grid-row-${pos}`;
    el.dataset.row = String(pos);
    el.dataset.index = String(rowIndex);
    el.setAttribute('aria-rowindex', String(pos + 2));
    el.setAttribute('aria-selected', String(selected));
    el.classList.toggle('selected', selected);
    el.classList.toggle('unused', row.op === '');
    el.style.transform = `translateY(${pos * ROW_HEIGHT}px)`;
    const missing = s ? '—' : err ? '—' : PENDING;
    // Three significant digits keep columns narrow; the cell's tooltip has the exact value.
    const num = (v: number | null | undefined) => (s ? formatNumber(v, 3) : missing);
    const texts: string[] = [
      row.layer,
      row.op,
      t.name,
      t.storageType ?? dtypeInfo(t.dtype).name,
      formatDimsCompact(t.dims),
      formatInt(t.count),
      formatBytes(t.bytes),
      num(s?.min),
      num(s?.max),
      num(s?.mean),
      num(s?.std),
      s ? formatInt(s.zeros) : missing,
      s ? formatPercent(s.sparsity) : missing,
    ];
    const exact = (v: number | null | undefined) =>
      s && v !== null && v !== undefined ? String(v) : texts[7];
    const titles: string[] = [
      row.layer,
      row.op,
      err ? `${t.name}\n${err}` : t.name,
      texts[3],
      formatDims(t.dims),
      texts[5],
      `${formatInt(t.bytes)} bytes`,
      exact(s?.min),
      exact(s?.max),
      exact(s?.mean),
      exact(s?.std),
      texts[11],
      s ? `${(s.sparsity * 100).toFixed(4)}%` : texts[12],
    ];
    for (let i = 0; i < texts.length; i++) {
      const cell = r.cells[i];
      if (cell.textContent !== texts[i]) cell.textContent = texts[i];
      cell.title = titles[i];
      cell.classList.toggle('pending', !s && i >= 7);
    }
    r.cells[12].classList.toggle('sparse', !!s && s.sparsity >= 0.5);
    const histCell = r.cells[13];
    histCell.title = err ?? (s ? '' : 'Statistics pending');
    histCell.classList.toggle('pending', !s);
    drawSparkline(r.spark, s && s.count > 0 ? s.histogram.counts : null, this.colors);
  }

  private onKey(e: KeyboardEvent): void {
    if ((e.target as Element).closest('.grid-header')) return;
    const { order } = this.data;
    if (order.length === 0) return;
    const cur = this.selected === null ? -1 : order.indexOf(this.selected);
    const page = this.viewportRows();
    let next: number;
    switch (e.key) {
      case 'ArrowDown':
        next = cur + 1;
        break;
      case 'ArrowUp':
        next = cur < 0 ? 0 : cur - 1;
        break;
      case 'PageDown':
        next = cur + page;
        break;
      case 'PageUp':
        next = cur - page;
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = order.length - 1;
        break;
      default:
        return;
    }
    e.preventDefault();
    next = Math.max(0, Math.min(order.length - 1, next));
    this.reveal(next);
    this.callbacks.select(order[next]);
  }

  private onHeaderKey(e: KeyboardEvent, i: number): void {
    let target = i;
    switch (e.key) {
      case 'Enter':
      case ' ':
        e.preventDefault();
        this.callbacks.sort(COLUMNS[i].id);
        return;
      case 'ArrowLeft':
        target = Math.max(0, i - 1);
        break;
      case 'ArrowRight':
        target = Math.min(COLUMNS.length - 1, i + 1);
        break;
      case 'Home':
        target = 0;
        break;
      case 'End':
        target = COLUMNS.length - 1;
        break;
      case 'ArrowDown':
        e.preventDefault();
        this.scroller.focus();
        if (this.selected === null && this.data.order.length > 0)
          this.callbacks.select(this.data.order[0]);
        return;
      default:
        return;
    }
    e.preventDefault();
    e.stopPropagation();
    this.moveHeaderFocus(target, true);
  }

  /** Roving tab stop: one header cell is in the tab order, the one last used. */
  private moveHeaderFocus(target: number, focus: boolean): void {
    this.headerCells.forEach((c, k) => (c.tabIndex = k === target ? 0 : -1));
    if (focus) this.headerCells[target].focus();
  }
}
