/**
 * Two histograms over the same bins on one canvas: the original as filled bars, the variant as a
 * step outline on top, so they differ by shape as well as colour (high-contrast themes, colour
 * blindness). Arrow keys move a bin cursor whose read-out gives both counts.
 */
import { BinChart, maxCount, type BinRange, type Plot, type Readout } from '../chartBase';
import { h } from '../dom';

export interface OverlayData extends BinRange {
  original: ArrayLike<number>;
  /** Null when the variant has no comparable values for this tensor. */
  variant: ArrayLike<number> | null;
}

export class OverlayChart extends BinChart<OverlayData> {
  constructor(
    id: string,
    height: number,
    private readonly names: { original: string; variant: string },
  ) {
    super({ id, height, label: 'Histograms' });
  }

  setNames(names: { original: string; variant: string }): void {
    this.names.original = names.original;
    this.names.variant = names.variant;
  }

  protected binCount(d: OverlayData): number {
    return d.original.length;
  }

  protected peak(d: OverlayData): number {
    return Math.max(maxCount(d.original), d.variant ? maxCount(d.variant) : 0);
  }

  /** The middle: neither side's peak is the one to favour. */
  protected startBin(d: OverlayData): number {
    return Math.floor(d.original.length / 2);
  }

  protected drawSeries(d: OverlayData, p: Plot): void {
    const { ctx, left, right, bottom } = p;
    // Original: translucent filled bars.
    ctx.fillStyle = p.colors.bar;
    ctx.globalAlpha = d.variant ? 0.55 : 1;
    for (let i = 0; i < p.n; i++) p.fillBar(i, d.original[i]);
    ctx.globalAlpha = 1;
    if (!d.variant) return;

    // Variant: opaque step outline over the bars.
    ctx.strokeStyle = p.colors.barHover;
    ctx.lineWidth = Math.max(1.5, 1.5 * p.dpr);
    ctx.lineJoin = 'miter';
    ctx.beginPath();
    ctx.moveTo(left, bottom);
    for (let i = 0; i < p.n; i++) {
      const y = bottom - p.barHeight(d.variant[i]);
      ctx.lineTo(p.binX(i), y);
      ctx.lineTo(p.binX(i + 1), y);
    }
    ctx.lineTo(right, bottom);
    ctx.stroke();
  }

  protected readout(d: OverlayData, bin: number, range: string): Readout {
    const a = this.formatCount(d.original[bin]);
    const b = d.variant ? this.formatCount(d.variant[bin]) : '—';
    const line = (side: 'original' | 'variant', count: string) =>
      h(
        'div',
        {},
        h('span', { class: `swatch ${side}`, 'aria-hidden': 'true' }),
        `${this.names[side]}: `,
        h('span', { class: 'chart-tooltip-count' }, count),
      );
    return {
      lines: [line('original', a), d.variant ? line('variant', b) : null],
      text: `bin ${bin + 1} ${range}: ${this.names.original} ${a}, ${this.names.variant} ${b}`,
    };
  }
}
