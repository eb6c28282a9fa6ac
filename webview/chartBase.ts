/**
 * What every histogram canvas shares, whatever it draws over its bins: the HiDPI canvas and its
 * resizing, the count and value axes, the hover band, the bin cursor by mouse or keyboard, and the
 * tooltip with its slider read-out. A subclass says how many bins there are, how tall the tallest
 * is, and draws its series in the plot; so the inspector's histogram and the Compare view's overlay
 * cannot drift apart in how they feel.
 */
import { h, setChildren, type Child } from './dom';
import { formatCompact, formatInt, formatNumber } from './format';
import { barFraction, binAt, logTicks, niceTicks } from './scale';
import { chartColors, type ChartColors } from './theme';

/** Equal-width bins from `min` to `max`. */
export interface BinRange {
  min: number;
  max: number;
  /** Counts are fractional estimates (re-binned), so read-outs say "≈". */
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

/** A bin's read-out: tooltip lines under the range, and the same for screen readers. */
export interface Readout {
  lines: Child[];
  text: string;
}

const MARGIN = { left: 46, right: 10, top: 18, bottom: 20 };
const COMPACT_MARGIN = { left: 4, right: 4, top: 4, bottom: 16 };

/** The plot area in device pixels, with the bin geometry a series draws by. */
export class Plot {
  constructor(
    readonly ctx: CanvasRenderingContext2D,
    readonly colors: ChartColors,
    readonly dpr: number,
    readonly left: number,
    readonly right: number,
    readonly top: number,
    readonly bottom: number,
    /** Bin count. */
    readonly n: number,
    /** The count at the top of the plot. */
    readonly max: number,
    readonly log: boolean,
  ) {}

  get width(): number {
    return this.right - this.left;
  }

  get height(): number {
    return this.bottom - this.top;
  }

  /** Left edge of bin `i`; bin `i` ends where bin `i + 1` starts. */
  binX(i: number): number {
    return this.left + Math.floor((i / this.n) * this.width);
  }

  /** Bin `i`'s columns, at least one device pixel wide so hundreds of bins stay visible. */
  binSpan(i: number): [number, number] {
    const x0 = this.binX(i);
    return [x0, Math.max(x0 + 1, this.binX(i + 1))];
  }

  /** Height of a bar of `count`: 0 for none, else at least a device pixel so a lone value shows. */
  barHeight(count: number): number {
    const f = barFraction(count, this.max, this.log);
    return f > 0 ? Math.max(Math.round(this.dpr), Math.round(f * this.height)) : 0;
  }

  /** Bin `i`'s bar of `count` in the current fill style. */
  fillBar(i: number, count: number): void {
    const bh = this.barHeight(count);
    if (bh <= 0) return;
    const [x0, x1] = this.binSpan(i);
    this.ctx.fillRect(x0, this.bottom - bh, x1 - x0, bh);
  }
}

export abstract class BinChart<D extends BinRange> {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly tooltip: HTMLElement;
  private readonly margin: typeof MARGIN;
  private readonly compact: boolean;
  private data: D | null = null;
  private log = false;
  private hover: number | null = null;
  private colors: ChartColors = chartColors();
  private cssWidth = 0;
  private emptyText = '';

  constructor(private readonly opts: ChartOptions) {
    this.compact = opts.compact === true;
    this.margin = this.compact ? COMPACT_MARGIN : MARGIN;
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
    this.canvas.addEventListener('mousemove', (e) => this.setHover(this.binAtOffsetX(e.offsetX)));
    this.canvas.addEventListener('mouseleave', () => this.setHover(null));
    this.canvas.addEventListener('keydown', (e) => this.onKey(e));
    this.canvas.addEventListener('blur', () => this.setHover(null));
  }

  protected abstract binCount(d: D): number;
  /** The tallest bin of any series: the top of the count axis. */
  protected abstract peak(d: D): number;
  /** Where the keyboard cursor lands first. */
  protected abstract startBin(d: D): number;
  /** The series, over the grid and hover band, under the zero marker and axis. */
  protected abstract drawSeries(d: D, plot: Plot, hover: number | null): void;
  /** `range` is the bin's value interval as the tooltip shows it. */
  protected abstract readout(d: D, bin: number, range: string): Readout;

  /** `emptyText` is drawn in place of the series when there is no data. */
  set(data: D | null, log: boolean, label?: string, emptyText = ''): void {
    this.data = data;
    this.emptyText = emptyText;
    this.log = log;
    if (label) this.canvas.setAttribute('aria-label', label);
    if (data) this.canvas.setAttribute('aria-valuemax', String(this.binCount(data) - 1));
    if (this.hover !== null && (!data || this.hover >= this.binCount(data))) this.hover = null;
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

  /** A count as read-outs show it: rounded and marked "≈" when it is an estimate. */
  protected formatCount(c: number): string {
    return this.data?.approximate ? `≈ ${formatInt(Math.round(c))}` : formatInt(c);
  }

  private plotWidth(): number {
    return this.cssWidth - this.margin.left - this.margin.right;
  }

  private binAtOffsetX(x: number): number | null {
    if (!this.data) return null;
    return binAt(x - this.margin.left, this.plotWidth(), this.binCount(this.data));
  }

  private onKey(e: KeyboardEvent): void {
    if (!this.data) return;
    const n = this.binCount(this.data);
    if (e.key === 'Escape' && this.hover !== null) {
      this.setHover(null);
      e.preventDefault();
      return;
    }
    const cur = this.hover ?? this.startBin(this.data);
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
    if (!(e.key in next)) return;
    e.preventDefault();
    // The first key shows the cursor where it starts rather than moving it.
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
    const n = this.binCount(d);
    const bin = this.hover;
    const w = (d.max - d.min) / n;
    const last = bin === n - 1;
    const lo = d.min + bin * w;
    const hi = last ? d.max : d.min + (bin + 1) * w;
    const range = `[${formatNumber(lo, 5)}, ${formatNumber(hi, 5)}${last ? ']' : ')'}`;
    const { lines, text } = this.readout(d, bin, range);
    setChildren(this.tooltip, h('div', { class: 'chart-tooltip-range' }, range), ...lines);
    this.tooltip.hidden = false;
    this.canvas.setAttribute('aria-valuenow', String(bin));
    this.canvas.setAttribute('aria-valuetext', text);
    const x = this.margin.left + ((bin + 0.5) / n) * this.plotWidth();
    const tw = this.tooltip.offsetWidth;
    this.tooltip.style.left = `${Math.max(0, Math.min(this.cssWidth - tw, x - tw / 2))}px`;
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
    if (right <= left || bottom <= top) return;
    ctx.font = c.font.replace(/^(\d+)px/, (_, px: string) => `${Number(px) * dpr}px`);
    ctx.textBaseline = 'middle';
    const d = this.data;
    const max = d ? this.peak(d) : 0;
    if (!d || max <= 0) {
      ctx.fillStyle = c.text;
      ctx.textAlign = 'center';
      ctx.fillText(d ? 'No finite values' : this.emptyText, (left + right) / 2, (top + bottom) / 2);
      return;
    }
    const p = new Plot(ctx, c, dpr, left, right, top, bottom, this.binCount(d), max, this.log);
    this.drawCountAxis(d, p);
    if (this.hover !== null) {
      const [x0, x1] = p.binSpan(this.hover);
      ctx.fillStyle = c.grid;
      ctx.fillRect(x0, top, x1 - x0, p.height);
    }
    this.drawSeries(d, p, this.hover);
    // Zero marker, when the range straddles zero: sparsity lives here.
    if (d.min < 0 && d.max > 0) {
      const x = this.valueX(d, p, 0);
      ctx.strokeStyle = c.axis;
      ctx.lineWidth = Math.max(1, Math.round(dpr));
      ctx.setLineDash([3 * dpr, 3 * dpr]);
      ctx.beginPath();
      ctx.moveTo(x + 0.5, top);
      ctx.lineTo(x + 0.5, bottom);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    this.drawValueAxis(d, p);
  }

  private valueX(d: D, p: Plot, v: number): number {
    return p.left + Math.round(((v - d.min) / (d.max - d.min)) * p.width);
  }

  /** Horizontal grid lines with count labels, and the axis title. */
  private drawCountAxis(d: D, p: Plot): void {
    const { ctx, colors: c, dpr } = p;
    // Exact counts are whole numbers, so fractional ticks (0.5, 1.5 for tiny tensors) are dropped;
    // re-binned estimates are fractional themselves and keep them.
    const target = this.compact ? 2 : 4;
    const ticks = this.log
      ? logTicks(p.max, target)
      : niceTicks(0, p.max, target).filter((t) => t > 0 && (d.approximate || Number.isInteger(t)));
    ctx.textAlign = 'right';
    for (const t of ticks) {
      const y = p.bottom - Math.round(barFraction(t, p.max, this.log) * p.height);
      ctx.fillStyle = c.grid;
      ctx.fillRect(p.left, y, p.width, Math.max(1, Math.round(dpr / 2)));
      if (!this.compact) {
        ctx.fillStyle = c.text;
        ctx.fillText(formatCompact(t), p.left - Math.round(6 * dpr), y);
      }
    }
    if (this.compact) return;
    ctx.fillStyle = c.text;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    ctx.fillText(this.log ? 'count (log scale)' : 'count', 0, 0);
    ctx.textBaseline = 'middle';
  }

  /** Baseline, clipped-end arrowheads and value labels. */
  private drawValueAxis(d: D, p: Plot): void {
    const { ctx, colors: c, dpr, left, right, bottom } = p;
    ctx.fillStyle = c.axis;
    ctx.fillRect(left, bottom, p.width, Math.max(1, Math.round(dpr)));
    // An arrowhead past each clipped end, pointing out: there is more beyond.
    const tip = 4 * dpr;
    for (const [clipped, x, dir] of [
      [d.clippedLow, left, -1],
      [d.clippedHigh, right, 1],
    ] as const) {
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
    if (this.compact) {
      // Just the ends, and zero where it fits between them.
      const lo = formatNumber(d.min, 3);
      const hi = formatNumber(d.max, 3);
      ctx.textAlign = 'left';
      ctx.fillText(lo, left, labelY);
      ctx.textAlign = 'right';
      ctx.fillText(hi, right, labelY);
      if (d.min < 0 && d.max > 0) {
        const x = this.valueX(d, p, 0);
        const zeroWidth = ctx.measureText('0').width;
        if (
          x - zeroWidth > left + ctx.measureText(lo).width + 8 * dpr &&
          x + zeroWidth < right - ctx.measureText(hi).width - 8 * dpr
        ) {
          ctx.textAlign = 'center';
          ctx.fillText('0', x, labelY);
        }
      }
      return;
    }
    const target = Math.max(2, Math.floor(p.width / (90 * dpr)));
    let lastRight = -Infinity;
    for (const t of niceTicks(d.min, d.max, target)) {
      const x = this.valueX(d, p, t);
      const text = formatNumber(t, 3);
      const tw = ctx.measureText(text).width;
      // Labels at the ends slide inwards to stay on the canvas; one that would touch its neighbour is skipped.
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

/** The largest of `counts`, 0 when empty. */
export function maxCount(counts: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < counts.length; i++) max = Math.max(max, counts[i]);
  return max;
}
