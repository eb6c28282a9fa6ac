/**
 * A sortable, filterable, paged table for the report and Compare views. Headers are buttons
 * (Enter/Space sort); with `onSelect`, rows are a roving-focus list: arrows, Home/End, Enter.
 */
import { h, icon } from '../dom';

export interface Column<R> {
  id: string;
  label: string;
  /** Header tooltip: what the column means. */
  title?: string;
  numeric?: boolean;
  /** Sort key; NaN sorts last whichever the direction. */
  value(row: R): number | string;
  render(row: R): Node | string;
  className?: string;
}

export interface SortState {
  column: string;
  descending: boolean;
}

/** A webview's saved state as fields, whatever was saved (nothing, or an older shape). */
export function savedFields(raw: unknown): Record<string, unknown> {
  return (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
}

/** A saved sort, or null when what was saved is not one. */
export function parseSort(raw: unknown): SortState | null {
  const sort = raw as Record<string, unknown> | null | undefined;
  return sort && typeof sort.column === 'string' && typeof sort.descending === 'boolean'
    ? { column: sort.column, descending: sort.descending }
    : null;
}

export interface TableOptions<R> {
  columns: Column<R>[];
  label: string;
  /** Rows rendered at first and added per "Show more": long tables stay responsive. */
  pageSize?: number;
  sort?: SortState | null;
  onSort?(sort: SortState): void;
  onSelect?(row: R, index: number): void;
  /** Text the filter matches against. */
  filterText?(row: R): string;
  /** Extra class per row (status colouring). */
  rowClass?(row: R): string | undefined;
  empty: string;
}

export class Table<R> {
  readonly element: HTMLElement;
  private readonly table: HTMLTableElement;
  private readonly body: HTMLTableSectionElement;
  private readonly more: HTMLButtonElement;
  private readonly headers = new Map<string, HTMLTableCellElement>();
  private rows: R[] = [];
  private order: number[] = [];
  private shown = 0;
  private filter = '';
  private sort: SortState | null;
  private selected: number | null = null;
  private readonly pageSize: number;

  constructor(private readonly opts: TableOptions<R>) {
    this.pageSize = opts.pageSize ?? 200;
    this.sort = opts.sort ?? null;
    const head = h('tr');
    for (const c of opts.columns) {
      const button = h(
        'button',
        { class: 'sort', type: 'button', title: c.title },
        h('span', {}, c.label),
        icon('arrow-small-down', 'sort-icon'),
      );
      button.addEventListener('click', () => this.toggleSort(c));
      const th = h(
        'th',
        { scope: 'col', class: `${c.numeric ? 'num' : ''} ${c.className ?? ''}`.trim() },
        button,
      );
      this.headers.set(c.id, th);
      head.append(th);
    }
    this.body = h('tbody');
    this.table = h(
      'table',
      { class: 'data', 'aria-label': opts.label },
      h('thead', {}, head),
      this.body,
    );
    if (opts.onSelect) {
      this.table.setAttribute('role', 'grid');
      this.table.setAttribute('aria-multiselectable', 'false');
      this.body.addEventListener('keydown', (e) => this.onKey(e));
    }
    this.more = h('button', { class: 'more', type: 'button', hidden: true });
    this.more.addEventListener('click', () => this.showMore());
    this.element = h('div', { class: 'table-wrap' }, this.table, this.more);
  }

  setRows(rows: R[]): void {
    this.rows = rows;
    if (this.selected !== null && this.selected >= rows.length) this.selected = null;
    this.apply();
  }

  setFilter(text: string): void {
    this.filter = text.trim().toLowerCase();
    this.apply();
  }

  /** Visible rows after filter, in display order. */
  get visible(): number {
    return this.order.length;
  }

  /** Re-renders cells (e.g. statistics arrived) without changing order or paging. */
  refresh(): void {
    this.render();
  }

  select(index: number | null, focus = false): void {
    this.selected = index;
    if (index !== null) {
      const at = this.order.indexOf(index);
      if (at >= this.shown) {
        this.shown = at + 1;
        this.render();
      }
    }
    for (const tr of this.body.querySelectorAll<HTMLTableRowElement>('tr[data-index]')) {
      const on = Number(tr.dataset.index) === index;
      tr.setAttribute('aria-selected', String(on));
      tr.tabIndex = on ? 0 : -1;
      if (on && focus) {
        tr.focus();
        tr.scrollIntoView({ block: 'nearest' });
      }
    }
    this.ensureTabStop();
    if (index !== null) this.opts.onSelect?.(this.rows[index], index);
  }

  private toggleSort(c: Column<R>): void {
    this.sort =
      this.sort?.column === c.id
        ? { column: c.id, descending: !this.sort.descending }
        : { column: c.id, descending: c.numeric === true };
    this.opts.onSort?.(this.sort);
    this.apply();
  }

  private apply(): void {
    const f = this.filter;
    const match = this.opts.filterText;
    let order = this.rows.map((_, i) => i);
    if (f && match) order = order.filter((i) => match(this.rows[i]).toLowerCase().includes(f));
    const col = this.sort && this.opts.columns.find((c) => c.id === this.sort!.column);
    if (col) {
      const sign = this.sort!.descending ? -1 : 1;
      const keys = this.rows.map((r) => col.value(r));
      order.sort((a, b) => {
        const x = keys[a];
        const y = keys[b];
        if (typeof x === 'number' && typeof y === 'number') {
          if (Number.isNaN(x) || Number.isNaN(y))
            return Number.isNaN(x) ? (Number.isNaN(y) ? a - b : 1) : -1;
          return (x - y) * sign || a - b;
        }
        return String(x).localeCompare(String(y)) * sign || a - b;
      });
    }
    for (const [id, th] of this.headers) {
      const on = this.sort?.column === id;
      th.setAttribute(
        'aria-sort',
        on ? (this.sort!.descending ? 'descending' : 'ascending') : 'none',
      );
      th.classList.toggle('sorted', on);
      th.classList.toggle('descending', on && this.sort!.descending);
    }
    this.order = order;
    this.shown = Math.min(
      order.length,
      Math.max(this.pageSize, this.selected === null ? 0 : order.indexOf(this.selected) + 1),
    );
    this.render();
  }

  private render(): void {
    const cols = this.opts.columns;
    const trs: HTMLElement[] = [];
    for (let k = 0; k < this.shown; k++) {
      const i = this.order[k];
      const row = this.rows[i];
      const tr = h('tr', { 'data-index': i, class: this.opts.rowClass?.(row) });
      for (const c of cols)
        tr.append(
          h(
            'td',
            { class: `${c.numeric ? 'num' : ''} ${c.className ?? ''}`.trim() },
            c.render(row),
          ),
        );
      if (this.opts.onSelect) {
        tr.setAttribute('aria-selected', String(i === this.selected));
        tr.tabIndex = i === this.selected ? 0 : -1;
        tr.addEventListener('click', () => this.select(i));
      }
      trs.push(tr);
    }
    if (!this.order.length)
      trs.push(h('tr', { class: 'empty' }, h('td', { colspan: cols.length }, this.opts.empty)));
    this.body.replaceChildren(...trs);
    this.ensureTabStop();
    const rest = this.order.length - this.shown;
    this.more.hidden = rest <= 0;
    this.more.textContent = `Show ${Math.min(rest, this.pageSize)} more (${rest} not shown)`;
  }

  /** Keeps one row reachable by Tab even before anything is selected. */
  private ensureTabStop(): void {
    if (!this.opts.onSelect) return;
    if (this.body.querySelector('tr[tabindex="0"]')) return;
    const first = this.body.querySelector<HTMLTableRowElement>('tr[data-index]');
    if (first) first.tabIndex = 0;
  }

  private showMore(): void {
    this.shown = Math.min(this.order.length, this.shown + this.pageSize);
    this.render();
  }

  private onKey(e: KeyboardEvent): void {
    const tr = (e.target as HTMLElement).closest('tr[data-index]') as HTMLTableRowElement | null;
    if (!tr) return;
    const at = this.order.indexOf(Number(tr.dataset.index));
    const page = Math.max(
      1,
      Math.floor(
        this.body.parentElement!.parentElement!.clientHeight / Math.max(1, tr.offsetHeight),
      ) - 1,
    );
    const target: Record<string, number> = {
      ArrowDown: at + 1,
      ArrowUp: at - 1,
      PageDown: at + page,
      PageUp: at - page,
      Home: 0,
      End: this.order.length - 1,
    };
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      this.select(this.order[at], true);
      return;
    }
    if (!(e.key in target)) return;
    e.preventDefault();
    const next = Math.max(0, Math.min(this.order.length - 1, target[e.key]));
    this.select(this.order[next], true);
  }
}
