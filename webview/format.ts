/** Text formatting for the inspector. Pure: unit-tested without a DOM. */
import type { ValueInfo } from '../src/core/model';
import { dtypeInfo } from '../src/core/dtypes';

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let unit = 0;
  let v = bytes;
  while (v >= 1024 && unit < BYTE_UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${BYTE_UNITS[unit]}`;
}

const grouping = new Intl.NumberFormat('en-US');

/** Exact integer with thousands separators. */
export function formatInt(n: number): string {
  return grouping.format(n);
}

/** Short count for headlines: 25.6 M, 1.2 k, 950. */
export function formatCompact(n: number): string {
  const abs = Math.abs(n);
  const scaled = (d: number, s: string) => {
    const v = n / d;
    const text =
      Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
    return `${text.includes('.') ? text.replace(/\.?0+$/, '') : text} ${s}`;
  };
  if (abs >= 1e12) return scaled(1e12, 'T');
  if (abs >= 1e9) return scaled(1e9, 'B');
  if (abs >= 1e6) return scaled(1e6, 'M');
  if (abs >= 1e4) return scaled(1e3, 'k');
  return formatInt(Math.round(n));
}

/** A statistic in 4 significant digits; exponent notation for very small or large magnitudes. */
export function formatNumber(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined) return '—';
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 1e5 || abs < 1e-3)
    return x
      .toExponential(digits - 1)
      .replace(/\.?0+e/, 'e')
      .replace('e+', 'e');
  return String(Number(x.toPrecision(digits)));
}

/** A fraction as a percentage; keeps tiny non-zero and near-full values distinguishable from 0 and 100. */
export function formatPercent(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '—';
  const pct = fraction * 100;
  if (pct === 0) return '0%';
  if (pct < 0.1) return '<0.1%';
  if (pct > 99.9 && pct < 100) return '>99.9%';
  if (pct === 100) return '100%';
  // Fixed decimals keep a column of percentages aligned: 2.00%, 10.2%.
  return `${pct.toFixed(pct >= 10 ? 1 : 2)}%`;
}

export function formatDims(dims: readonly number[]): string {
  return dims.length === 0 ? 'scalar' : `[${dims.join(', ')}]`;
}

/** Dimensions for a narrow table cell: 64×3×7×7. */
export function formatDimsCompact(dims: readonly number[]): string {
  return dims.length === 0 ? 'scalar' : dims.join('×');
}

export function formatValueInfo(v: ValueInfo): string {
  const shape =
    v.shape === null ? '?' : `[${v.shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
  return `${dtypeInfo(v.dtype).name}${shape}`;
}

export function formatOpset(o: { domain: string; version: number }): string {
  return `${o.domain === '' ? 'ai.onnx' : o.domain}:${o.version}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}
