/** Histogram canvas: HiDPI-crisp bars, axes, and a bin read-out by mouse or keyboard. */
import { BinChart, maxCount, type BinRange, type Plot, type Readout } from './chartBase';
import { h } from './dom';
import { type ChartColors } from './theme';

export interface ChartData extends BinRange {
  counts: ArrayLike<number>;
}

export class HistogramChart extends BinChart<ChartData> {
  protected binCount(d: ChartData): number {
    return d.counts.length;
  }

  protected peak(d: ChartData): number {
    return maxCount(d.counts);
  }

  /** The tallest bin: where the values are. */
  protected startBin(d: ChartData): number {
    const c = d.counts;
    let best = 0;
    for (let i = 1; i < c.length; i++) if (c[i] > c[best]) best = i;
    return best;
  }

  protected drawSeries(d: ChartData, p: Plot, hover: number | null): void {
    for (let i = 0; i < p.n; i++) {
      p.ctx.fillStyle = i === hover ? p.colors.barHover : p.colors.bar;
      p.fillBar(i, d.counts[i]);
    }
  }

  protected readout(d: ChartData, bin: number, range: string): Readout {
    const c = d.counts[bin];
    const count = this.formatCount(c);
    return {
      lines: [
        h(
          'div',
          {},
          h('span', { class: 'chart-tooltip-count' }, count),
          c === 1 ? ' value' : ' values',
        ),
      ],
      text: `bin ${bin + 1}: ${range}, ${count} values`,
    };
  }
}

/** A row's inline histogram: bars only, drawn at device resolution. */
export function drawSparkline(
  canvas: HTMLCanvasElement,
  counts: ArrayLike<number> | null,
  colors: ChartColors,
): void {
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
  const max = maxCount(counts);
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
