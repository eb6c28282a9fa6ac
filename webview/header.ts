/** The model summary above the table: identity, totals, structure, whole-model histogram. */
import { SHARD_OF_PROPERTY } from '../src/core/model';
import { buildPrefixTree, filterFor, type PrefixNode } from './prefixTree';
import type { ModelView, ViewConfig } from '../src/shared/protocol';
import { HistogramChart } from './chart';
import { h, icon, setChildren, type Child } from './dom';
import {
  formatBytes,
  formatCompact,
  formatInt,
  formatNumber,
  formatOpset,
  formatPercent,
  formatValueInfo,
} from './format';
import type { CombinedHistogram, RobustRange } from './rebin';
import { describeClip, rankOps, summarizeTensors, type SparsitySummary } from './summary';
import { capabilitiesOf } from '../src/core/formats/capabilities';

export interface HeaderActions {
  exportStatistics(format: 'json' | 'csv'): void;
  recompute(): void;
  openAsText(): void;
  openWholeModel(): void;
  /** Show only the rows matching a layer prefix (from the layer tree). */
  filterLayers(filter: string): void;
  summaryToggled(collapsed: boolean): void;
  /** Select a tensor's first row (from the chart's outlier list). */
  selectTensor(index: number): void;
  fullRangeToggled(full: boolean): void;
}

/** The whole-model chart's robust range, and whether the user asked for the full range instead. */
export interface ClipView {
  range: RobustRange;
  full: boolean;
  /** A source id (tensor index) as the user knows it. */
  name(id: number): string;
}

const TOP_OUTLIER_TENSORS = 3;

const TOP_OPS = 8;
const TOP_IO = 4;

type Button = HTMLElement & { disabled: boolean };

export class Header {
  readonly element: HTMLElement;
  readonly chart: HistogramChart;
  private readonly name: HTMLElement;
  private readonly tags: HTMLElement;
  private readonly meta: HTMLElement;
  private readonly metrics: HTMLElement;
  private readonly structure: HTMLElement;
  private readonly warnings: HTMLElement;
  private readonly sparsityValue: HTMLElement;
  private readonly sparsityNote: HTMLElement;
  private readonly chartNote: HTMLElement;
  private readonly clip: HTMLElement;
  private readonly clipHeadline: HTMLElement;
  private readonly clipTensors: HTMLElement;
  private readonly clipToggle: HTMLButtonElement;
  private clipFull = false;
  private readonly exportButtons: Button[];
  private readonly summary: HTMLElement;
  private readonly collapse: HTMLButtonElement;

  constructor(private readonly actions: HeaderActions) {
    const button = (label: string, iconName: string, title: string, onClick: () => void) => {
      const b = h('vscode-button', { icon: iconName, title, secondary: true }, label) as Button;
      b.addEventListener('click', onClick);
      return b;
    };
    this.exportButtons = (['json', 'csv'] as const).map((format) => {
      const b = button(`Export ${format.toUpperCase()}`, 'export', '', () =>
        actions.exportStatistics(format),
      );
      b.dataset.format = format;
      return b;
    });
    const recompute = button(
      'Recompute',
      'refresh',
      'Recompute statistics, ignoring the cache',
      () => actions.recompute(),
    );
    const textButton = h(
      'button',
      {
        class: 'icon-button',
        title: 'Reopen with Text Editor',
        'aria-label': 'Reopen with Text Editor',
      },
      icon('go-to-file'),
    );
    textButton.addEventListener('click', () => actions.openAsText());
    this.collapse = h('button', { class: 'icon-button', 'aria-controls': 'model-summary' });
    this.collapse.addEventListener('click', () => {
      const collapsed = !this.summary.hidden;
      this.setCollapsed(collapsed);
      actions.summaryToggled(collapsed);
    });
    this.name = h('h1', { class: 'model-name' });
    this.tags = h('div', { class: 'tags' });
    this.meta = h('div', { class: 'meta' });
    this.sparsityValue = h('div', { class: 'metric-value' }, '…');
    this.sparsityNote = h('div', { class: 'metric-note' });
    this.chartNote = h('span', { class: 'metric-note' });
    this.chart = new HistogramChart({
      height: 64,
      compact: true,
      label: 'Whole-model weight histogram',
    });
    this.clipHeadline = h('span', { class: 'clip-headline' });
    this.clipTensors = h('div', { class: 'clip-tensors' });
    this.clipToggle = h('button', { class: 'link-button clip-toggle' });
    this.clipToggle.addEventListener('click', () => actions.fullRangeToggled(!this.clipFull));
    this.clip = h(
      'div',
      { class: 'chart-clip', hidden: true },
      this.clipHeadline,
      this.clipTensors,
      this.clipToggle,
    );
    this.metrics = h('div', { class: 'metrics' });
    this.structure = h('div', { class: 'structure' });
    this.warnings = h('div', { class: 'warnings', role: 'list', hidden: true });
    this.element = h(
      'header',
      { class: 'model-header' },
      h(
        'div',
        { class: 'title-row' },
        icon('layers', 'title-icon'),
        h(
          'div',
          { class: 'title-block' },
          h('div', { class: 'title-line' }, this.name, this.tags),
          this.meta,
        ),
        h('div', { class: 'actions' }, ...this.exportButtons, recompute, textButton, this.collapse),
      ),
      this.warnings,
    );
    this.summary = h('div', { id: 'model-summary' }, this.metrics, this.structure);
    this.element.append(this.summary);
    this.setCollapsed(false);
  }

  setCollapsed(collapsed: boolean): void {
    this.summary.hidden = collapsed;
    const label = collapsed ? 'Show model summary' : 'Hide model summary';
    this.collapse.title = label;
    this.collapse.setAttribute('aria-label', label);
    this.collapse.setAttribute('aria-expanded', String(!collapsed));
    setChildren(this.collapse, icon(collapsed ? 'chevron-down' : 'chevron-up'));
  }

  /** Export needs complete statistics (the host refuses before then). */
  setExportEnabled(enabled: boolean): void {
    for (const b of this.exportButtons) {
      b.disabled = !enabled;
      b.title = enabled
        ? `Export statistics as ${b.dataset.format?.toUpperCase()}`
        : 'Available once statistics are complete';
    }
  }

  setModel(fileName: string, model: ModelView, config: ViewConfig): void {
    const md = model.metadata;
    this.name.textContent = fileName;
    this.name.title = md.docString ? `${fileName}\n\n${md.docString}` : fileName;
    setChildren(
      this.tags,
      tag(model.format.toUpperCase()),
      md.irVersion !== undefined ? tag(`IR v${md.irVersion}`) : null,
      md.modelVersion !== undefined ? tag(`model v${md.modelVersion}`) : null,
    );
    const producer = [md.producer, md.producerVersion].filter(Boolean).join(' ');
    setChildren(
      this.meta,
      ...joinDots([
        metaItem('File', formatBytes(model.fileBytes), `${formatInt(model.fileBytes)} bytes`),
        producer ? metaItem('Producer', producer) : null,
        md.graphName ? metaItem('Graph', md.graphName) : null,
        md.domain ? metaItem('Domain', md.domain) : null,
        md.opsets.length
          ? metaItem(
              md.opsets.length === 1 ? 'Opset' : 'Opsets',
              md.opsets.map(formatOpset).join(', '),
            )
          : null,
      ]),
    );

    const hasGraph = capabilitiesOf(model.format).runnable;
    const summary = summarizeTensors(model.tensors);
    const sized = summary.bytesByDtype.filter((d) => d.bytes > 0);
    const dtypeLine = sized
      .slice(0, 3)
      .map((d) => `${d.name} ${formatBytes(d.bytes)}`)
      .join(' · ');
    const dtypeTitle = summary.bytesByDtype
      .map(
        (d) =>
          `${d.name}: ${formatBytes(d.bytes)} in ${formatInt(d.tensors)} tensor${d.tensors === 1 ? '' : 's'}`,
      )
      .join('\n');
    this.sparsityNote.textContent = '';
    this.sparsityValue.textContent = '…';
    const zeroRule = config.nearZero > 0 ? `|x| ≤ ${formatNumber(config.nearZero)}` : 'exact zeros';
    setChildren(
      this.metrics,
      metric(
        'Parameters',
        formatCompact(summary.parameters),
        'in floating-point tensors',
        `${formatInt(summary.parameters)} weights`,
      ),
      metric(
        'Weights',
        formatBytes(summary.totalBytes),
        sized.length > 3 ? `${dtypeLine} · …` : dtypeLine || 'no tensors',
        dtypeTitle,
      ),
      h(
        'div',
        { class: 'metric', title: `Share of float weights that are zero (${zeroRule})` },
        h('div', { class: 'metric-label' }, 'Sparsity'),
        this.sparsityValue,
        this.sparsityNote,
      ),
      // Weight-only formats (safetensors, GGUF, checkpoints) have no graph: no nodes, ops or inputs to show.
      hasGraph
        ? metric(
            'Nodes',
            formatInt(model.nodeCount),
            `${Object.keys(model.opCounts).length} op types`,
          )
        : null,
      metric(
        'Tensors',
        formatInt(model.tensors.length),
        `${formatInt(model.layers.length)} layers with weights`,
      ),
      h(
        'div',
        {
          class: 'metric metric-chart',
          title:
            'Re-binned from the per-tensor histograms: each bin spreads its count over the bins it overlaps.',
        },
        h('div', { class: 'metric-label' }, 'All float weights ', this.chartNote),
        this.chart.element,
        this.clip,
      ),
    );

    const ops = rankOps(model.opCounts);
    const opChip = ([op, n]: [string, number]) =>
      h(
        'span',
        { class: 'chip', role: 'listitem' },
        op,
        h('vscode-badge', { variant: 'counter' }, String(n)),
      );
    setChildren(
      this.structure,
      hasGraph
        ? section(
            'Ops',
            expandable(ops.map(opChip), TOP_OPS, 'op types'),
            ops.length === 0 ? 'No nodes' : null,
          )
        : null,
      !hasGraph
        ? null
        : h(
            'div',
            { class: 'structure-row' },
            h('div', { class: 'structure-label' }, 'Inputs'),
            // Each group wraps as a unit, so the Outputs label always stands before its own chips.
            h(
              'div',
              { class: 'io-groups' },
              h(
                'div',
                { class: 'io-group' },
                model.inputs.length
                  ? expandable(
                      model.inputs.map((v) => ioChip(v.name, formatValueInfo(v))),
                      TOP_IO,
                      'inputs',
                    )
                  : h('div', { class: 'structure-empty' }, 'None'),
              ),
              h(
                'div',
                { class: 'io-group' },
                h('div', { class: 'structure-label' }, 'Outputs'),
                model.outputs.length
                  ? expandable(
                      model.outputs.map((v) => ioChip(v.name, formatValueInfo(v))),
                      TOP_IO,
                      'outputs',
                    )
                  : h('div', { class: 'structure-empty' }, 'None'),
              ),
            ),
          ),
      hasGraph
        ? null
        : layerTree(
            model.layers.map((l) => l.name),
            (filter) => this.actions.filterLayers(filter),
          ),
      md.properties.length
        ? section(
            'Metadata',
            expandable(
              md.properties.map((p) => ioChip(p.key, p.value)),
              TOP_IO,
              'entries',
            ),
            null,
          )
        : null,
    );
    // A lone shard names its index in the metadata: offer the whole model next to the warning.
    const index = md.properties.find((p) => p.key === SHARD_OF_PROPERTY);
    const openWhole = index
      ? h('vscode-button', { secondary: true, title: `Open ${index.value}` }, 'Open whole model')
      : null;
    openWhole?.addEventListener('click', () => this.actions.openWholeModel());
    this.warnings.hidden = model.warnings.length === 0 && !openWhole;
    this.warnings.replaceChildren(
      ...model.warnings.map((w) =>
        h('div', { class: 'warning', role: 'listitem' }, icon('warning'), h('span', {}, w)),
      ),
      ...(openWhole ? [h('div', { class: 'warning', role: 'listitem' }, openWhole)] : []),
    );
  }

  setSparsity(s: SparsitySummary, floatTensors: number): void {
    if (floatTensors === 0) {
      this.sparsityValue.textContent = '—';
      this.sparsityNote.textContent = 'no float tensors';
      return;
    }
    this.sparsityValue.textContent = s.sparsity === null ? '…' : formatPercent(s.sparsity);
    this.sparsityNote.textContent =
      s.tensors < floatTensors
        ? `${formatInt(s.tensors)} of ${formatInt(floatTensors)} float tensors so far`
        : `${formatCompact(s.zeros)} zeros of ${formatCompact(s.count)}`;
  }

  /** `emptyText` says why there is no histogram yet (or at all); `clip` when a robust range exists. */
  setModelHistogram(
    combined: CombinedHistogram | null,
    log: boolean,
    emptyText: string,
    clip: ClipView | null,
  ): void {
    this.chartNote.textContent = combined
      ? clip && !clip.full
        ? '(re-binned, clipped)'
        : '(re-binned)'
      : '';
    const text = clip ? describeClip(clip.range, clip.full) : null;
    this.chart.set(
      combined
        ? {
            min: combined.min,
            max: combined.max,
            counts: combined.counts,
            approximate: true,
            clippedLow: clip !== null && !clip.full && clip.range.below > 0,
            clippedHigh: clip !== null && !clip.full && clip.range.above > 0,
          }
        : null,
      log,
      `Whole-model weight histogram, re-binned from per-tensor histograms.${text ? ` ${text.headline}. ${text.how}` : ''} Arrow keys read bins.`,
      emptyText,
    );
    this.clip.hidden = !clip;
    if (!clip || !text) return;
    this.clipFull = clip.full;
    this.clipHeadline.textContent = text.headline;
    this.clipHeadline.title = text.how;
    this.clipToggle.textContent = clip.full ? 'Clip outliers' : 'Show full range';
    this.clipToggle.setAttribute('aria-pressed', String(clip.full));
    const chips = clip.range.sources.map((o) => {
      const name = clip.name(o.id ?? -1);
      const parts = [
        o.below ? `${formatInt(o.below)} below` : '',
        o.above ? `${formatInt(o.above)} above` : '',
        o.aside ? `all ${formatInt(o.aside)} left out` : '',
      ];
      const b = h(
        'button',
        {
          class: 'chip clip-tensor',
          title: `${name}: ${parts.filter(Boolean).join(', ')} — select its row`,
        },
        h('span', { class: 'clip-name' }, name),
        h('vscode-badge', { variant: 'counter' }, formatInt(o.below + o.above + o.aside)),
      );
      b.addEventListener('click', () => {
        if (o.id !== undefined) this.actions.selectTensor(o.id);
      });
      return h('span', { role: 'listitem' }, b);
    });
    setChildren(this.clipTensors, expandable(chips, TOP_OUTLIER_TENSORS, 'tensors'));
  }
}

function tag(text: string): HTMLElement {
  return h('span', { class: 'tag' }, text);
}

function metaItem(label: string, value: string, title?: string): HTMLElement {
  return h(
    'span',
    { class: 'meta-item', title },
    h('span', { class: 'meta-label' }, label),
    ' ',
    value,
  );
}

function joinDots(items: (HTMLElement | null)[]): Child[] {
  const out: Child[] = [];
  for (const item of items) {
    if (!item) continue;
    if (out.length) out.push(h('span', { class: 'sep', 'aria-hidden': 'true' }, '·'));
    out.push(item);
  }
  return out;
}

function metric(label: string, value: string, note: string, title?: string): HTMLElement {
  return h(
    'div',
    { class: 'metric', title },
    h('div', { class: 'metric-label' }, label),
    h('div', { class: 'metric-value' }, value),
    h('div', { class: 'metric-note' }, note),
  );
}

function ioChip(name: string, type: string): HTMLElement {
  return h(
    'span',
    { class: 'chip io', role: 'listitem', title: `${name}: ${type}` },
    h('span', { class: 'io-name' }, name),
    h('span', { class: 'io-type' }, type),
  );
}

/** Weight-only formats: the layers as a collapsible tree by dotted prefix; picking a node filters the table. */
function layerTree(names: string[], pick: (filter: string) => void): HTMLElement | null {
  const nodes = buildPrefixTree(names);
  if (!nodes.some((n) => n.children.length)) return null;
  const items = (list: PrefixNode[]): HTMLElement[] =>
    list.map((n) => {
      const item = h(
        'vscode-tree-item',
        { title: `${n.prefix} · ${n.layers} layer${n.layers === 1 ? '' : 's'}` },
        n.label,
        ...items(n.children),
      );
      item.dataset.filter = filterFor(n);
      return item;
    });
  const tree = h(
    'vscode-tree',
    { class: 'layer-tree', 'aria-label': 'Layers by name', 'indent-guides': 'onHover' },
    ...items(nodes),
  );
  tree.addEventListener('vsc-tree-select', (e) => {
    // The element's typings say { selectedItems }, its code sends the array itself: accept both.
    const detail = (e as CustomEvent<HTMLElement[] | { selectedItems?: HTMLElement[] }>).detail;
    const item = (Array.isArray(detail) ? detail : (detail?.selectedItems ?? []))[0];
    if (item?.dataset.filter !== undefined) pick(item.dataset.filter);
  });
  return section('Layers', tree, null);
}

function section(label: string, content: HTMLElement, emptyText: string | null): HTMLElement {
  return h(
    'div',
    { class: 'structure-row' },
    h('div', { class: 'structure-label' }, label),
    emptyText ? h('div', { class: 'structure-empty' }, emptyText) : content,
  );
}

/** The first `top` items, then a toggle that reveals the rest in place. */
function expandable(items: HTMLElement[], top: number, noun: string): HTMLElement {
  const list = h('div', { class: 'chips', role: 'list' }, ...items.slice(0, top));
  if (items.length <= top) return list;
  const rest = items.slice(top);
  const more = h(
    'button',
    { class: 'link-button', 'aria-expanded': 'false' },
    `+${rest.length} more ${noun}`,
  );
  more.addEventListener('click', () => {
    const open = more.getAttribute('aria-expanded') !== 'true';
    more.setAttribute('aria-expanded', String(open));
    more.textContent = open ? 'Show fewer' : `+${rest.length} more ${noun}`;
    if (open) more.before(...rest);
    else rest.forEach((r) => r.remove());
  });
  list.append(more);
  return list;
}
