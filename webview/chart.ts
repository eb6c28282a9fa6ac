/** Histogram canvas: HiDPI-crisp bars, axes, and a bin read-out by mouse or keyboard. */
import { h } from './dom';
import { formatCompact, formatInt, formatNumber } from './format';
import { barFraction, binAt, logTicks, niceTicks } from './scale';
import { chartColors, type ChartColors } from './theme';

export interface ChartData {
  min: number;
  max: number;
  counts: ArrayLike<number>;
  /** Counts are fractional estimates (re-binned), so the read-out says "≈". */
  approximate?: boolean;
  /** Values lie beyond this end of the range (a clipped chart): an arrowhead marks the end. */
  clippedLow?: boolean;
  clippedHigh?: boolean;
}

export interface ChartOptions {
  id?: string;
  /** CSS pixels. */
  height: number;
  /** Sparse axes for small charts. */
  compact?: boolean;
  label: string;
}

const MARGIN = { left: 46, right: 10, top: 18, bottom: 20 };
const COMPACT_MARGIN = { left: 4, right: 4, top: 4, bottom: 16 };

export class HistogramChart {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly tooltip: HTMLElement;
  private readonly margin: typeof MARGIN;
  private data: ChartData | null = null;
  private log = false;
  private hover: number | null = null;
  private colors: ChartColors = chartColors();
  private cssWidth = 0;
  private emptyText = '';

  constructor(private readonly opts: ChartOptions) {
    this.margin = opts.compact ? COMPACT_MARGIN : MARGIN;
    this.canvas = h('canvas', {
      id: opts.id,
      class: 'chart-canvas',
      tabindex: 0,
      role: 'slider',
      'aria-label': opts.label,
      'aria-valuemin': 0,
    });
    // Screen readers get the same read-out from the slider's aria-valuetext.
    this.tooltip = h('div', { class: 'chart-tooltip', 'aria-hidden': 'true', hidden: true });
    this.element = h('div', { class: 'chart' }, this.canvas, this.tooltip);
    this.canvas.style.height = `${opts.height}px`;
    new ResizeObserver(() => this.resize()).observe(this.element);
    this.canvas.addEventListener('mousemove', (e) => this.setHover(this.binAtClientX(e.offsetX)));
    this.canvas.addEventListener('mouseleave', () => this.setHover(null));
    this.canvas.addEventListener('keydown', (e) => this.onKey(e));
    this.canvas.addEventListener('blur', () => this.setHover(null));
  }

  /** `emptyText` is drawn in place of the bars when there is no data. */
  set(data: ChartData | null, log: boolean, label?: string, emptyText = ''): void {
    this.data = data;
    this.emptyText = emptyText;
    this.log = log;
    if (label) this.canvas.setAttribute('aria-label', label);
    if (data) this.canvas.setAttribute('aria-valuemax', String(data.counts.length - 1));
    if (this.hover !== null && (!data || this.hover >= data.counts.length)) this.hover = null;
    this.draw();
    this.updateTooltip();
  }

  themeChanged(): void {
    this.colors = chartColors();
    this.resize();
  }

  resize(): void {
    const width = this.element.clientWidth;
    const dpr = window.devicePixelRatio || 1;
    this.cssWidth = width;
    const w = Math.max(1, Math.round(width * dpr));
    const hgt = Math.max(1, Math.round(this.opts.height * dpr));
    if (this.canvas.width !== w || this.canvas.height !== hgt) {
      this.canvas.width = w;
      this.canvas.height = hgt;
    }
    this.canvas.style.width = `${width}px`;
    this.draw();
  }

  private plotWidth(): number {
    return this.cssWidth - this.margin.left - this.margin.right;
  }

  private binAtClientX(x: number): number | null {
    if (!this.data) return null;
    return binAt(x - this.margin.left, this.plotWidth(), this.data.counts.length);
  }

  private onKey(e: KeyboardEvent): void {
    if (!this.data) return;
    const n = this.data.counts.length;
    const cur = this.hover ?? this.peakBin();
    const step = e.shiftKey ? 16 : 1;
    const next: Record<string, number> = {
      ArrowLeft: cur - step,
      ArrowRight: cur + step,
      ArrowDown: cur - step,
      ArrowUp: cur + step,
      PageDown: cur - 16,
      PageUp: cur + 16,
      Home: 0,
      End: n - 1,
    };
    if (e.key === 'Escape' && this.hover !== null) {
      this.setHover(null);
      e.preventDefault();
      return;
    }
    if (!(e.key in next)) return;
    e.preventDefault();
    this.setHover(Math.max(0, Math.min(n - 1, this.hover === null ? cur : next[e.key])));
  }

  private peakBin(): number {
    const c = this.data?.counts ?? [];
    let best = 0;
    for (let i = 1; i < c.length; i++) if (c[i] > c[best]) best = i;
    return best;
  }

  private setHover(bin: number | null): void {
    if (bin === this.hover) return;
    this.hover = bin;
    this.draw();
    this.updateTooltip();
  }

  private binRange(bin: number): [number, number] {
    const d = this.data as ChartData;
    const w = (d.max - d.min) / d.counts.length;
    return [d.min + bin * w, bin === d.counts.length - 1 ? d.max : d.min + (bin + 1) * w];
  }

  private updateTooltip(): void {
    const d = this.data;
    if (!d || this.hover === null) {
      this.tooltip.hidden = true;
      this.canvas.removeAttribute('aria-valuenow');
      this.canvas.removeAttribute('aria-valuetext');
      return;
    }
    const bin = this.hover;
    const [lo, hi] = this.binRange(bin);
    const last = bin === d.counts.length - 1;
    const range = `[${formatNumber(lo, 5)}, ${formatNumber(hi, 5)}${last ? ']' : ')'}`;
    const c = d.counts[bin];
    const count = d.approximate ? `≈ ${formatInt(Math.round(c))}` : formatInt(c);
    this.tooltip.replaceChildren(
      h('div', { class: 'chart-tooltip-range' }, range),
      h('div', {}, h('span', { class: 'chart-tooltip-count' }, count), c === 1 ? ' value' : ' values'),
    );
    this.tooltip.hidden = false;
    this.canvas.setAttribute('aria-valuenow', String(bin));
    this.canvas.setAttribute('aria-valuetext', `bin ${bin + 1}: ${range}, ${count} values`);
    const pw = this.plotWidth();
    const x = this.margin.left + ((bin + 0.5) / d.counts.length) * pw;
    const tw = this.tooltip.offsetWidth;
    const left = Math.max(0, Math.min(this.cssWidth - tw, x - tw / 2));
    this.tooltip.style.left = `${left}px`;
    this.tooltip.style.top = `${this.margin.top}px`;
    this.tooltip.classList.toggle('chart-tooltip-right', x < this.cssWidth / 2);
  }

  draw(): void {
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    const dpr = window.devicePixelRatio || 1;
    const W = this.canvas.width;
    const H = this.canvas.height;
    const c = this.colors;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, W, H);
    const m = this.margin;
    const left = Math.round(m.left * dpr);
    const right = W - Math.round(m.right * dpr);
    const top = Math.round(m.top * dpr);
    const bottom = H - Math.round(m.bottom * dpr);
    const pw = right - left;
    const ph = bottom - top;
    if (pw <= 0 || ph <= 0) return;
    ctx.font = c.font.replace(/^(\d+)px/, (_, px: string) => `${Number(px) * dpr}px`);
    ctx.textBaseline = 'middle';
    const d = this.data;
    let max = 0;
    if (d) for (let i = 0; i < d.counts.length; i++) max = Math.max(max, d.counts[i]);
    if (!d || max <= 0) {
      ctx.fillStyle = c.text;
      ctx.textAlign = 'center';
      ctx.fillText(d ? 'No finite values' : this.emptyText, (left + right) / 2, (top + bottom) / 2);
      return;
    }
    const n = d.counts.length;
    const compact = this.opts.compact === true;

    // Horizontal grid lines with count labels.
    // Counts are whole numbers, so fractional ticks (0.5, 1.5 for tiny tensors) are dropped.
    const yTicks = this.log
      ? logTicks(max, compact ? 2 : 4)
      : niceTicks(0, max, compact ? 2 : 4).filter((t) => t > 0 && Number.isInteger(t));
    ctx.fillStyle = c.grid;
    ctx.textAlign = 'right';
    for (const t of yTicks) {
      const y = bottom - Math.round(barFraction(t, max, this.log) * ph);
      ctx.fillStyle = c.grid;
      ctx.fillRect(left, y, pw, Math.max(1, Math.round(dpr / 2)));
      if (!compact) {
        ctx.fillStyle = c.text;
        ctx.fillText(formatCompact(t), left - Math.round(6 * dpr), y);
      }
    }

    if (!compact) {
      ctx.fillStyle = c.text;
      ctx.textAlign = 'left';
      ctx.textBaseline = 'top';
      ctx.fillText(this.log ? 'count (log scale)' : 'count', 0, 0);
      ctx.textBaseline = 'middle';
    }

    // Hover band behind the bars.
    if (this.hover !== null) {
      const x0 = left + Math.floor((this.hover / n) * pw);
      const x1 = Math.max(x0 + 1, left + Math.floor(((this.hover + 1) / n) * pw));
      ctx.fillStyle = c.grid;
      ctx.fillRect(x0, top, x1 - x0, ph);
    }

    for (let i = 0; i < n; i++) {
      const f = barFraction(d.counts[i], max, this.log);
      if (f <= 0) continue;
      const x0 = left + Math.floor((i / n) * pw);
      const x1 = Math.max(x0 + 1, left + Math.floor(((i + 1) / n) * pw));
      const bh = Math.max(Math.round(dpr), Math.round(f * ph));
      ctx.fillStyle = i === this.hover ? c.barHover : c.bar;
      ctx.fillRect(x0, bottom - bh, x1 - x0, bh);
    }

    // Zero marker, when the range straddles zero: sparsity lives here.
    if (d.min < 0 && d.max > 0) {
      const x = left + Math.round(((0 - d.min) / (d.max - d.min)) * pw);
      ctx.strokeStyle = c.axis;
      ctx.lineWidth = Math.max(1, Math.round(dpr));
      ctx.setLineDash([3 * dpr, 3 * dpr]);
      ctx.beginPath();
      ctx.moveTo(x + 0.5, top);
      ctx.lineTo(x + 0.5, bottom);
      ctx.stroke();
      ctx.setLineDash([]);
    }

    // Baseline and x labels.
    ctx.fillStyle = c.axis;
    ctx.fillRect(left, bottom, pw, Math.max(1, Math.round(dpr)));
    // An arrowhead past each clipped end, pointing out: there is more beyond.
    const tip = 4 * dpr;
    for (const [clipped, x, dir] of [[d.clippedLow, left, -1], [d.clippedHigh, right, 1]] as const) {
      if (!clipped) continue;
      ctx.beginPath();
      ctx.moveTo(x + dir * tip, bottom);
      ctx.lineTo(x, bottom - tip);
      ctx.lineTo(x, bottom + tip);
      ctx.closePath();
      ctx.fill();
    }
    ctx.fillStyle = c.text;
    ctx.textBaseline = 'top';
    const labelY = bottom + Math.round(4 * dpr);
    if (compact) {
      ctx.textAlign = 'left';
      ctx.fillText(formatNumber(d.min, 3), left, labelY);
      ctx.textAlign = 'right';
      ctx.fillText(formatNumber(d.max, 3), right, labelY);
      if (d.min < 0 && d.max > 0) {
        const x = left + Math.round(((0 - d.min) / (d.max - d.min)) * pw);
        const zeroWidth = ctx.measureText('0').width;
        const minWidth = ctx.measureText(formatNumber(d.min, 3)).width;
        const maxWidth = ctx.measureText(formatNumber(d.max, 3)).width;
        if (x - zeroWidth > left + minWidth + 8 * dpr && x + zeroWidth < right - maxWidth - 8 * dpr) {
          ctx.textAlign = 'center';
          ctx.fillText('0', x, labelY);
        }
      }
      return;
    }
    const target = Math.max(2, Math.floor(pw / (90 * dpr)));
    let lastRight = -Infinity;
    for (const t of niceTicks(d.min, d.max, target)) {
      const x = left + Math.round(((t - d.min) / (d.max - d.min)) * pw);
      const text = formatNumber(t, 3);
      const tw = ctx.measureText(text).width;
      const cx = Math.max(left + tw / 2, Math.min(right - tw / 2, x));
      if (cx - tw / 2 < lastRight + 8 * dpr) continue;
      ctx.fillStyle = c.axis;
      ctx.fillRect(x, bottom, Math.max(1, Math.round(dpr)), Math.round(3 * dpr));
      ctx.fillStyle = c.text;
      ctx.textAlign = 'center';
      ctx.fillText(text, cx, labelY);
      lastRight = cx + tw / 2;
    }
  }
}

/** A row's inline histogram: bars only, drawn at device resolution. */
export function drawSparkline(canvas: HTMLCanvasElement, counts: ArrayLike<number> | null, colors: ChartColors): void {
  const dpr = window.devicePixelRatio || 1;
  const cssW = 72;
  const cssH = 16;
  const W = Math.round(cssW * dpr);
  const H = Math.round(cssH * dpr);
  if (canvas.width !== W || canvas.height !== H) {
    canvas.width = W;
    canvas.height = H;
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.clearRect(0, 0, W, H);
  if (!counts || counts.length === 0) return;
  // Group bins into device columns so 256 bins stay legible in 80 px: each column shows its largest bin.
  const cols = Math.min(W, counts.length);
  const perCol = counts.length / cols;
  let max = 0;
  for (let i = 0; i < counts.length; i++) max = Math.max(max, counts[i]);
  if (max <= 0) return;
  ctx.fillStyle = colors.bar;
  for (let col = 0; col < cols; col++) {
    let v = 0;
    const end = Math.min(counts.length, Math.round((col + 1) * perCol));
    for (let i = Math.round(col * perCol); i < end; i++) v = Math.max(v, counts[i]);
    if (v <= 0) continue;
    const x0 = Math.floor((col / cols) * W);
    const x1 = Math.max(x0 + 1, Math.floor(((col + 1) / cols) * W));
    const bh = Math.max(1, Math.round(Math.sqrt(v / max) * (H - 1)));
    ctx.fillRect(x0, H - bh, x1 - x0, bh);
  }
  ctx.fillStyle = colors.axis;
  ctx.fillRect(0, H - 1, W, 1);
}
