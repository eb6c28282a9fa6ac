/** What survives the panel being hidden: VS Code keeps it via getState/setState. */
import type { ColumnId, SortSpec } from './rows';
import { COLUMN_IDS } from './rows';

export interface SavedState {
  sort: SortSpec | null;
  filter: string;
  /** Identified by names, so a reloaded file keeps the selection when the tensor is still there. */
  selected: { layer: string; tensor: string } | null;
  log: boolean;
  scrollTop: number;
  summaryCollapsed: boolean;
}

export const INITIAL_STATE: SavedState = { sort: null, filter: '', selected: null, log: false, scrollTop: 0, summaryCollapsed: false };

/** Accepts only a well-formed saved state; anything else falls back to the defaults field by field. */
export function parseState(raw: unknown): SavedState {
  const s = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const sort = s.sort as Record<string, unknown> | null | undefined;
  const selected = s.selected as Record<string, unknown> | null | undefined;
  return {
    sort:
      sort && COLUMN_IDS.includes(sort.column as ColumnId) && typeof sort.descending === 'boolean'
        ? { column: sort.column as ColumnId, descending: sort.descending }
        : null,
    filter: typeof s.filter === 'string' ? s.filter : '',
    selected:
      selected && typeof selected.layer === 'string' && typeof selected.tensor === 'string'
        ? { layer: selected.layer, tensor: selected.tensor }
        : null,
    log: s.log === true,
    scrollTop: typeof s.scrollTop === 'number' && Number.isFinite(s.scrollTop) && s.scrollTop >= 0 ? s.scrollTop : 0,
    summaryCollapsed: s.summaryCollapsed === true,
  };
}
