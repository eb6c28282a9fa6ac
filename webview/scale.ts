/** Axis tick placement. Pure: unit-tested without a DOM. */

/** Round-numbered ticks (1, 2 or 5 × 10^k apart) inside [lo, hi], as close to `target` of them as rounding allows. */
export function niceTicks(lo: number, hi: number, target: number): number[] {
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi) || target < 1) return [];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  // Thresholds at the geometric midpoints between 1, 2, 5 and 10 pick the nearest nice step.
  const step =
    (norm >= Math.sqrt(50) ? 10 : norm >= Math.sqrt(10) ? 5 : norm >= Math.SQRT2 ? 2 : 1) * mag;
  // The epsilon keeps an end that is a multiple of step despite float division (0.35 / 0.05 = 6.9999…).
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  const ticks: number[] = [];
  // Rounding through toPrecision drops float noise such as 0.30000000000000004.
  for (let k = first; k <= last; k++) ticks.push(Number((k * step).toPrecision(12)));
  return ticks;
}

/** Powers of ten from 1 up to `max`, thinned so at most `target` remain. */
export function logTicks(max: number, target: number): number[] {
  if (!(max >= 1)) return [];
  const top = Math.floor(Math.log10(max));
  const every = Math.max(1, Math.ceil((top + 1) / Math.max(1, target)));
  const ticks: number[] = [];
  for (let e = 0; e <= top; e += every) ticks.push(10 ** e);
  return ticks;
}

/** Height fraction (0..1) of a bar with `count`, on a linear or log(1 + count) axis. */
export function barFraction(count: number, maxCount: number, log: boolean): number {
  if (!(maxCount > 0) || !(count > 0)) return 0;
  return log ? Math.log10(1 + count) / Math.log10(1 + maxCount) : count / maxCount;
}

/** The bin under a position in [0, width), or null outside. */
export function binAt(x: number, width: number, bins: number): number | null {
  if (!(x >= 0) || !(x < width) || bins <= 0) return null;
  return Math.min(bins - 1, Math.floor((x / width) * bins));
}
