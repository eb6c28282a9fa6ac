/**
 * Two histograms over the same bins on one canvas: the original as filled bars, the variant as a
 * step outline on top, so they differ by shape as well as colour (high-contrast themes, colour
 * blindness). Arrow keys move a bin cursor whose read-out gives both counts.
 */
import { h, setChildren } from '../dom';
import { formatCompact, formatInt, formatNumber } from '../format';
import { barFraction, binAt, logTicks, niceTicks } from '../scale';
import { chartColors, type ChartColors } from '../theme';

export interface OverlayData {
  min: number;
  max: number;
  original: ArrayLike<number>;
  /** Null when the variant has no comparable values for this tensor. */
  variant: ArrayLike<number> | null;
  /** Counts are re-binned estimates, so read-outs say "≈". */
  approximate?: boolean;
}

const MARGIN = { left: 46, right: 10, top: 18, bottom: 20 };

export class OverlayChart {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly tooltip: HTMLElement;
  private data: OverlayData | null = null;
  private log = false;
  private hover: number | null = null;
  private colors: ChartColors = chartColors();
  private cssWidth = 0;
  private emptyText = '';

  constructor(
    id: string,
    private readonly height: number,
    private readonly names: { original: string; variant: string },
  ) {
    this.canvas = h('canvas', { id, class: 'chart-canvas', tabindex: 0, role: 'slider', 'aria-label': 'Histograms', 'aria-valuemin': 0 });
    this.tooltip = h('div', { class: 'chart-tooltip', 'aria-hidden': 'true', hidden: true });
    this.element = h('div', { class: 'chart' }, this.canvas, this.tooltip);
    this.canvas.style.height = `${height}px`;
    new ResizeObserver(() => this.resize()).observe(this.element);
    this.canvas.addEventListener('mousemove', (e) => this.setHover(this.data ? binAt(e.offsetX - MARGIN.left, this.plotWidth(), this.data.original.length) : null));
    this.canvas.addEventListener('mouseleave', () => this.setHover(null));
    this.canvas.addEventListener('blur', () => this.setHover(null));
    this.canvas.addEventListener('keydown', (e) => this.onKey(e));
  }

  set(data: OverlayData | null, log: boolean, label: string, emptyText = ''): void {
    this.data = data;
    this.log = log;
    this.emptyText = emptyText;
    this.canvas.setAttribute('aria-label', label);
    if (data) this.canvas.setAttribute('aria-valuemax', String(data.original.length - 1));
    if (this.hover !== null && (!data || this.hover >= data.original.length)) this.hover = null;
    this.draw();
    this.updateTooltip();
  }

  setNames(names: { original: string; variant: string }): void {
    this.names.original = names.original;
    this.names.variant = names.variant;
  }

  themeChanged(): void {
    this.colors = chartColors();
    this.resize();
  }

  private plotWidth(): number {
    return this.cssWidth - MARGIN.left - MARGIN.right;
  }

  private resize(): void {
    const width = this.element.clientWidth;
    const dpr = window.devicePixelRatio || 1;
    this.cssWidth = width;
    const w = Math.max(1, Math.round(width * dpr));
    const hgt = Math.max(1, Math.round(this.height * dpr));
    if (this.canvas.width !== w || this.canvas.height !== hgt) {
      this.canvas.width = w;
      this.canvas.height = hgt;
    }
    this.canvas.style.width = `${width}px`;
    this.draw();
  }

  private onKey(e: KeyboardEvent): void {
    const d = this.data;
    if (!d) return;
    const n = d.original.length;
    if (e.key === 'Escape' && this.hover !== null) {
      e.preventDefault();
      this.setHover(null);
      return;
    }
    const cur = this.hover ?? Math.floor(n / 2);
    const step = e.shiftKey ? 16 : 1;
    const next: Record<string, number> = { ArrowLeft: cur - step, ArrowDown: cur - step, ArrowRight: cur + step, ArrowUp: cur + step, PageDown: cur - 16, PageUp: cur + 16, Home: 0, End: n - 1 };
    if (!(e.key in next)) return;
    e.preventDefault();
    this.setHover(Math.max(0, Math.min(n - 1, this.hover === null ? cur : next[e.key])));
  }

  private setHover(bin: number | null): void {
    if (bin === this.hover) return;
    this.hover = bin;
    this.draw();
    this.updateTooltip();
  }

  private updateTooltip(): void {
    const d = this.data;
    if (!d || this.hover === null) {
      this.tooltip.hidden = true;
      this.canvas.removeAttribute('aria-valuenow');
      this.canvas.removeAttribute('aria-valuetext');
      return;
    }
    const n = d.original.length;
    const bin = this.hover;
    const w = (d.max - d.min) / n;
    const lo = d.min + bin * w;
    const hi = bin === n - 1 ? d.max : d.min + (bin + 1) * w;
    const range = `[${formatNumber(lo, 5)}, ${formatNumber(hi, 5)}${bin === n - 1 ? ']' : ')'}`;
    const count = (c: number) => (d.approximate ? `≈ ${formatInt(Math.round(c))}` : formatInt(c));
    const a = count(d.original[bin]);
    const b = d.variant ? count(d.variant[bin]) : '—';
    setChildren(
      this.tooltip,
      h('div', { class: 'chart-tooltip-range' }, range),
      h('div', {}, h('span', { class: 'swatch original', 'aria-hidden': 'true' }), `${this.names.original}: `, h('span', { class: 'chart-tooltip-count' }, a)),
      d.variant ? h('div', {}, h('span', { class: 'swatch variant', 'aria-hidden': 'true' }), `${this.names.variant}: `, h('span', { class: 'chart-tooltip-count' }, b)) : null,
    );
    this.tooltip.hidden = false;
    this.canvas.setAttribute('aria-valuenow', String(bin));
    this.canvas.setAttribute('aria-valuetext', `bin ${bin + 1} ${range}: ${this.names.original} ${a}, ${this.names.variant} ${b}`);
    const x = MARGIN.left + ((bin + 0.5) / n) * this.plotWidth();
    const tw = this.tooltip.offsetWidth;
    this.tooltip.style.left = `${Math.max(0, Math.min(this.cssWidth - tw, x - tw / 2))}px`;
    this.tooltip.style.top = `${MARGIN.top}px`;
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
    const left = Math.round(MARGIN.left * dpr);
    const right = W - Math.round(MARGIN.right * dpr);
    const top = Math.round(MARGIN.top * dpr);
    const bottom = H - Math.round(MARGIN.bottom * dpr);
    const pw = right - left;
    const ph = bottom - top;
    if (pw <= 0 || ph <= 0) return;
    ctx.font = c.font.replace(/^(\d+)px/, (_, px: string) => `${Number(px) * dpr}px`);
    ctx.textBaseline = 'middle';
    const d = this.data;
    let max = 0;
    if (d) {
      for (let i = 0; i < d.original.length; i++) max = Math.max(max, d.original[i]);
      if (d.variant) for (let i = 0; i < d.variant.length; i++) max = Math.max(max, d.variant[i]);
    }
    if (!d || max <= 0) {
      ctx.fillStyle = c.text;
      ctx.textAlign = 'center';
      ctx.fillText(d ? 'No finite values' : this.emptyText, (left + right) / 2, (top + bottom) / 2);
      return;
    }
    const n = d.original.length;

    const yTicks = this.log ? logTicks(max, 4) : niceTicks(0, max, 4).filter((t) => t > 0 && (d.approximate || Number.isInteger(t)));
    ctx.textAlign = 'right';
    for (const t of yTicks) {
      const y = bottom - Math.round(barFraction(t, max, this.log) * ph);
      ctx.fillStyle = c.grid;
      ctx.fillRect(left, y, pw, Math.max(1, Math.round(dpr / 2)));
      ctx.fillStyle = c.text;
      ctx.fillText(formatCompact(t), left - Math.round(6 * dpr), y);
    }
    ctx.fillStyle = c.text;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    ctx.fillText(this.log ? 'count (log scale)' : 'count', 0, 0);
    ctx.textBaseline = 'middle';

    if (this.hover !== null) {
      const x0 = left + Math.floor((this.hover / n) * pw);
      const x1 = Math.max(x0 + 1, left + Math.floor(((this.hover + 1) / n) * pw));
      ctx.fillStyle = c.grid;
      ctx.fillRect(x0, top, x1 - x0, ph);
    }

    // Original: translucent filled bars.
    ctx.fillStyle = c.bar;
    ctx.globalAlpha = d.variant ? 0.55 : 1;
    for (let i = 0; i < n; i++) {
      const f = barFraction(d.original[i], max, this.log);
      if (f <= 0) continue;
      const x0 = left + Math.floor((i / n) * pw);
      const x1 = Math.max(x0 + 1, left + Math.floor(((i + 1) / n) * pw));
      const bh = Math.max(Math.round(dpr), Math.round(f * ph));
      ctx.fillRect(x0, bottom - bh, x1 - x0, bh);
    }
    ctx.globalAlpha = 1;

    // Variant: opaque step outline over the bars.
    if (d.variant) {
      ctx.strokeStyle = c.barHover;
      ctx.lineWidth = Math.max(1.5, 1.5 * dpr);
      ctx.lineJoin = 'miter';
      ctx.beginPath();
      ctx.moveTo(left, bottom);
      for (let i = 0; i < n; i++) {
        const f = barFraction(d.variant[i], max, this.log);
        const y = bottom - (f > 0 ? Math.max(Math.round(dpr), Math.round(f * ph)) : 0);
        const x0 = left + Math.floor((i / n) * pw);
        const x1 = left + Math.floor(((i + 1) / n) * pw);
        ctx.lineTo(x0, y);
        ctx.lineTo(x1, y);
      }
      ctx.lineTo(right, bottom);
      ctx.stroke();
    }

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

    ctx.fillStyle = c.axis;
    ctx.fillRect(left, bottom, pw, Math.max(1, Math.round(dpr)));
    ctx.fillStyle = c.text;
    ctx.textBaseline = 'top';
    const labelY = bottom + Math.round(4 * dpr);
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
