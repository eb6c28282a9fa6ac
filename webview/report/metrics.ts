/** Shared cells of the report and Compare tables. */
import { h } from '../dom';

/** SQNR in dB; exact reconstructions have infinite SQNR. */
export function formatDb(db: number): string {
  if (db === Infinity) return '∞';
  if (!Number.isFinite(db)) return '—';
  return `${db.toFixed(1)} dB`;
}

/** A value with an optional quality flag: 'poor' draws attention (colour plus an icon, not colour alone). */
export function metricCell(text: string, flag?: 'poor'): Node | string {
  if (!flag) return text;
  return h(
    'span',
    { class: `metric ${flag}`, title: 'Large error' },
    h('span', { class: 'codicon codicon-warning', 'aria-hidden': 'true' }),
    ` ${text}`,
  );
}
