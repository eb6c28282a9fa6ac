/** What survives the panel being hidden: VS Code keeps it via getState/setState. */
import { LAYER_CHOICES, type LayerChoice } from '../src/core/compress/spec';
import { parseScanSettings, type ScanSettings } from '../src/shared/protocol';
import type { ColumnId, SortSpec } from './rows';
import { COLUMN_IDS } from './rows';

/** The Sensitivity tab's Re-run goal as typed (validated when used). */
export interface GoalState {
  mode: 'none' | 'cosine' | 'size';
  cosine: string;
  size: string;
}

export interface SavedState {
  sort: SortSpec | null;
  filter: string;
  /** Identified by names, so a reloaded file keeps the selection when the tensor is still there. */
  selected: { layer: string; tensor: string } | null;
  log: boolean;
  /** The whole-model chart shows every value instead of its robust range. */
  fullRange: boolean;
  scrollTop: number;
  summaryCollapsed: boolean;
  tab: 'layers' | 'sensitivity';
  /** Settings of the last sensitivity scan: reopening shows its cached result. */
  scan: ScanSettings | null;
  pins: Record<string, LayerChoice>;
  /** Per-tensor precision the last fidelity search chose. */
  searched: Record<string, string>;
  goal: GoalState;
}

export const INITIAL_STATE: SavedState = {
  sort: null,
  filter: '',
  selected: null,
  log: false,
  fullRange: false,
  scrollTop: 0,
  summaryCollapsed: false,
  tab: 'layers',
  scan: null,
  pins: {},
  searched: {},
  goal: { mode: 'none', cosine: '0.999', size: '' },
};

function stringMap<T extends string>(raw: unknown, ok: (v: unknown) => v is T): Record<string, T> {
  const out: Record<string, T> = {};
  if (typeof raw !== 'object' || raw === null) return out;
  for (const [k, v] of Object.entries(raw)) if (ok(v)) out[k] = v;
  return out;
}

/** Accepts only a well-formed saved state; anything else falls back to the defaults field by field. */
export function parseState(raw: unknown): SavedState {
  const s = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const sort = s.sort as Record<string, unknown> | null | undefined;
  const selected = s.selected as Record<string, unknown> | null | undefined;
  const goal = (typeof s.goal === 'object' && s.goal !== null ? s.goal : {}) as Record<
    string,
    unknown
  >;
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
    fullRange: s.fullRange === true,
    scrollTop:
      typeof s.scrollTop === 'number' && Number.isFinite(s.scrollTop) && s.scrollTop >= 0
        ? s.scrollTop
        : 0,
    summaryCollapsed: s.summaryCollapsed === true,
    tab: s.tab === 'sensitivity' ? 'sensitivity' : 'layers',
    scan:
      typeof s.scan === 'object' && s.scan !== null
        ? parseScanSettings(s.scan as Record<string, unknown>)
        : null,
    pins: stringMap(s.pins, (v): v is LayerChoice => LAYER_CHOICES.includes(v as LayerChoice)),
    searched: stringMap(s.searched, (v): v is string => typeof v === 'string'),
    goal: {
      mode: goal.mode === 'cosine' || goal.mode === 'size' ? goal.mode : 'none',
      cosine: typeof goal.cosine === 'string' ? goal.cosine : '0.999',
      size: typeof goal.size === 'string' ? goal.size : '',
    },
  };
}
