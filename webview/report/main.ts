/** Compression report webview: totals, fidelity per output, per-tensor table, skipped tensors. */
import '../../media/report.css';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-icon/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import {
  describeRatio,
  formatCosine,
  fromWire,
  type FromReport,
  type HessianView,
  type ReportAction,
  type ReportTensorView,
  type FidelityView,
  type ReportView,
  type ToReport,
  type VerifyView,
  type WireNumber,
} from '../../src/shared/reportProtocol';
import type { StructureReport } from '../../src/core/compress/report';
import { describeGoal } from '../../src/core/compress/spec';
import type { CalibrationView } from '../../src/shared/calibration';
import {
  cosineBelow,
  DEFAULT_MIN_COSINE,
  describeFidelity,
  describeSuspect,
  verdictHeadline,
  type Verdict,
} from '../../src/core/compress/verdict';
import { h, icon, loadingPlaceholder, setChildren } from '../dom';
import { formatBytes, formatDuration, formatInt, formatNumber, formatPercent } from '../format';
import { formatDb, metricCell } from './metrics';
import { parseSort, savedFields, Table, type SortState } from './table';
import { vsCodeApi } from '../vscodeApi';

interface SavedState {
  sort: SortState | null;
  filter: string;
}

function parseState(raw: unknown): SavedState {
  const s = savedFields(raw);
  return {
    sort: parseSort(s.sort),
    filter: typeof s.filter === 'string' ? s.filter : '',
  };
}

type TextField = HTMLElement & { value: string };

const TENSOR_COLUMNS = [
  {
    id: 'name',
    label: 'Tensor',
    value: (t: ReportTensorView) => t.name,
    render: (t: ReportTensorView) =>
      h(
        'div',
        { class: 'name-cell' },
        h('span', { class: 'name', title: t.name }, t.name),
        h('span', { class: 'where' }, [t.layer, t.op].filter(Boolean).join(' · ')),
      ),
    className: 'col-name',
  },
  {
    id: 'method',
    label: 'Method',
    value: (t: ReportTensorView) => t.method,
    render: (t: ReportTensorView) => t.method,
    className: 'col-method',
  },
  {
    id: 'before',
    label: 'Before',
    numeric: true,
    title: 'Bytes stored before',
    value: (t: ReportTensorView) => t.bytesBefore,
    render: (t: ReportTensorView) => formatBytes(t.bytesBefore),
  },
  {
    id: 'after',
    label: 'After',
    numeric: true,
    title: 'Bytes stored after (codes, scales, zero points, codebooks)',
    value: (t: ReportTensorView) => t.bytesAfter,
    render: (t: ReportTensorView) => formatBytes(t.bytesAfter),
  },
  {
    id: 'ratio',
    label: 'Ratio',
    numeric: true,
    title: 'Before / after',
    value: (t: ReportTensorView) => t.bytesBefore / Math.max(1, t.bytesAfter),
    render: (t: ReportTensorView) => `${(t.bytesBefore / Math.max(1, t.bytesAfter)).toFixed(2)}×`,
  },
  {
    id: 'mse',
    label: 'MSE',
    numeric: true,
    title: 'Mean squared error of the reconstructed weights',
    value: (t: ReportTensorView) => fromWire(t.mse),
    render: (t: ReportTensorView) => formatNumber(fromWire(t.mse), 3),
  },
  {
    id: 'sqnr',
    label: 'SQNR',
    numeric: true,
    title: 'Signal-to-quantization-noise ratio, dB: higher is better; ∞ means exact',
    value: (t: ReportTensorView) => fromWire(t.sqnrDb),
    render: (t: ReportTensorView) =>
      metricCell(formatDb(fromWire(t.sqnrDb)), fromWire(t.sqnrDb) < 20 ? 'poor' : undefined),
  },
  {
    id: 'maxabs',
    label: 'Max |err|',
    numeric: true,
    title: 'Largest absolute error of any weight',
    value: (t: ReportTensorView) => fromWire(t.maxAbs),
    render: (t: ReportTensorView) => formatNumber(fromWire(t.maxAbs), 3),
  },
  {
    id: 'cosine',
    label: 'Cosine',
    numeric: true,
    title: 'Cosine similarity of original and reconstructed weights',
    value: (t: ReportTensorView) => fromWire(t.cosine),
    render: (t: ReportTensorView) =>
      metricCell(formatCosine(fromWire(t.cosine)), fromWire(t.cosine) < 0.99 ? 'poor' : undefined),
  },
  {
    id: 'sparsity',
    label: 'Sparsity',
    numeric: true,
    title: 'Share of exact zeros after compression',
    value: (t: ReportTensorView) => fromWire(t.sparsity),
    render: (t: ReportTensorView) => formatPercent(fromWire(t.sparsity)),
  },
  {
    id: 'note',
    label: 'Notes',
    value: (t: ReportTensorView) => t.note ?? '',
    render: (t: ReportTensorView) => h('span', { class: 'note', title: t.note }, t.note ?? ''),
    className: 'col-note',
  },
];

function card(label: string, value: Node | string, sub: Node | string, cls = ''): HTMLElement {
  return h(
    'div',
    { class: `card ${cls}`.trim() },
    h('div', { class: 'card-label' }, label),
    h('div', { class: 'card-value' }, value),
    h('div', { class: 'card-sub' }, sub),
  );
}

/** The headline fidelity from the verdict; the tone from how verification went. */
function fidelityCard(d: Verdict, v: VerifyView): HTMLElement {
  switch (d.state) {
    case 'ok':
    case 'poor': {
      const f = d.fidelity;
      const top1 = f.top1
        ? ` · top-1 ${formatPercent(f.top1.agreement)} of ${formatInt(f.top1.rows)}`
        : '';
      const which = f.outputs > 1 ? `worst of ${f.outputs} outputs (${f.output})` : f.output;
      // A poor verdict's callout says what it was measured on; a good one says it here.
      const below = d.state === 'poor' && f.cosine < d.minCosine;
      const why = below
        ? `below ${d.minCosine}`
        : `${f.nonFinite?.count ?? 0} NaN/Inf values in one model only`;
      const sub =
        d.state === 'poor'
          ? `${why}: the outputs change substantially · ${which}${top1}`
          : `${which}${top1} · on ${f.measuredOn}`;
      return card(
        'Output fidelity',
        `cosine ${below ? cosineBelow(f.cosine, d.minCosine) : formatCosine(f.cosine)}`,
        h('span', { title: `measured on ${f.measuredOn}` }, sub),
        d.state === 'poor' ? 'bad' : '',
      );
    }
    case 'failed':
      return card('Output fidelity', 'not verified', d.reason, 'bad');
    case 'unchecked':
      return card(
        'Output fidelity',
        'not verified',
        d.reason,
        v.state === 'skipped' || v.state === 'cancelled' ? 'warn' : '',
      );
  }
}

/** Says plainly when the variant cannot be trusted: what moved, the likely tensors, what to try. */
function verdictSection(d: Verdict, v: VerifyView): HTMLElement | null {
  if (
    d.state === 'ok' ||
    (d.state === 'unchecked' && v.state !== 'skipped' && v.state !== 'cancelled')
  )
    return null;
  if (d.state !== 'poor') {
    const bad = d.state === 'failed';
    const hint =
      v.state === 'cancelled' ? '; the variant was kept, run model-lens verify to check it' : '';
    return h(
      'div',
      { class: `callout verdict ${bad ? 'bad' : 'warn'}`, role: bad ? 'alert' : 'status' },
      icon(bad ? 'error' : 'warning'),
      h('span', {}, `${verdictHeadline(d)}${hint}`),
    );
  }
  return h(
    'section',
    { class: 'callout verdict bad', role: 'alert', 'aria-label': 'Verdict' },
    icon('error'),
    h(
      'div',
      {},
      h('strong', {}, "The variant changes the model's outputs substantially."),
      h(
        'p',
        {},
        `${describeFidelity(d.fidelity, d.minCosine)}${d.fidelity.cosine < d.minCosine ? `, below ${d.minCosine}` : ''}; measured on ${d.fidelity.measuredOn}.`,
      ),
      // A graph change (channel removal) stores no tensor differently: there is no tensor to blame.
      d.suspects.length ? h('p', {}, `Most likely responsible (${d.ranking}):`) : null,
      d.suspects.length
        ? h('ul', { class: 'suspects' }, ...d.suspects.map((s) => h('li', {}, describeSuspect(s))))
        : null,
      d.spread ? h('p', {}, `${d.spread[0].toUpperCase()}${d.spread.slice(1)}.`) : null,
      h('p', {}, 'Try:'),
      h('ul', { class: 'suggestions' }, ...d.suggestions.map((s) => h('li', {}, s))),
    ),
  );
}

/** A column header with its explanation as a tooltip (numeric columns right-aligned). */
function th(label: string, title: string, num = true): HTMLElement {
  return h(
    'th',
    { scope: 'col', class: num ? 'num' : undefined, title: title || undefined },
    label,
  );
}

/** A scrollable data table with a header row and body rows. */
function table(label: string, head: HTMLElement, rows: HTMLElement[]): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'data', 'aria-label': label },
      h('thead', {}, head),
      h('tbody', {}, ...rows),
    ),
  );
}

/** Output fidelity: what it was measured on and per output; `data` (the calibration controls) also when there are no numbers yet. */
function verifySection(
  v: VerifyView,
  minCosine: number,
  data: HTMLElement | null,
): HTMLElement | null {
  if (v.state !== 'done')
    return data && h('section', { class: 'section' }, h('h2', {}, 'Output fidelity'), data);
  const rows = v.outputs.map((o) =>
    h(
      'tr',
      {},
      h('td', { class: 'col-name' }, h('span', { class: 'name', title: o.name }, o.name)),
      h(
        'td',
        { class: 'num' },
        metricCell(
          formatCosine(fromWire(o.cosine)),
          fromWire(o.cosine) < minCosine ? 'poor' : undefined,
        ),
      ),
      h('td', { class: 'num' }, formatCosine(fromWire(o.cosineMin))),
      h('td', { class: 'num' }, formatNumber(fromWire(o.relL2), 3)),
      h('td', { class: 'num' }, formatNumber(fromWire(o.relL2Max), 3)),
      h('td', { class: 'num' }, formatNumber(fromWire(o.maxAbs), 3)),
      h(
        'td',
        { class: 'num' },
        o.top1 === undefined ? '—' : `${formatPercent(o.top1)} of ${formatInt(o.top1Rows ?? 0)}`,
      ),
    ),
  );
  return h(
    'section',
    { class: 'section' },
    h('h2', {}, 'Output fidelity'),
    h(
      'p',
      { class: 'section-note' },
      `Both models ran on the same inputs with ${v.runtime} in ${formatDuration(v.elapsedMs)}. `,
      h('span', { class: 'measured-on' }, `Measured on ${v.measuredOn}.`),
    ),
    data,
    table(
      'Output fidelity per output',
      h(
        'tr',
        {},
        th('Output', 'Model output', false),
        th('Cosine', 'Mean cosine similarity over samples'),
        th('Worst', 'Lowest cosine of any sample'),
        th('Rel L2', 'Mean ‖variant − original‖ / ‖original‖'),
        th('Worst', 'Largest relative L2 of any sample'),
        th('Max |Δ|', 'Largest absolute difference of any element'),
        th('Top-1', 'Rows whose argmax agrees (classifier-shaped outputs)'),
      ),
      rows,
    ),
    ...v.warnings.map((w) =>
      h('div', { class: 'callout warn' }, icon('warning'), h('span', {}, w)),
    ),
  );
}

/** Hessian vs magnitude pruning: layer output errors from H, then the model outputs of both variants. */
function hessianSection(v: HessianView | undefined): HTMLElement | null {
  if (!v) return null;
  const pct = (x: WireNumber | undefined) => (x === undefined ? '—' : formatPercent(fromWire(x)));
  // The Hessian number in bold where it beats magnitude's.
  const mark = (text: string, wins: boolean) =>
    wins ? h('strong', { title: 'better than magnitude pruning' }, text) : text;
  const lower = (a: WireNumber | undefined, b: WireNumber | undefined) =>
    a !== undefined && b !== undefined && fromWire(a) < fromWire(b);
  const layers = v.tensors.map((t) =>
    h(
      'tr',
      {},
      h('td', { class: 'col-name' }, h('span', { class: 'name', title: t.note ?? t.name }, t.name)),
      h('td', {}, t.hessian),
      h(
        'td',
        { class: 'num' },
        mark(pct(t.outputError), lower(t.outputError, t.magnitudeOutputError)),
      ),
      h('td', { class: 'num' }, pct(t.magnitudeOutputError)),
      h('td', {}, t.note ?? ''),
    ),
  );
  const outputs = v.outputs.map((o) =>
    h(
      'tr',
      {},
      h('td', { class: 'col-name' }, h('span', { class: 'name', title: o.name }, o.name)),
      h(
        'td',
        { class: 'num' },
        mark(formatCosine(fromWire(o.cosine)), fromWire(o.cosine) > fromWire(o.magnitudeCosine)),
      ),
      h('td', { class: 'num' }, formatCosine(fromWire(o.magnitudeCosine))),
      h(
        'td',
        { class: 'num' },
        mark(formatNumber(fromWire(o.relL2), 3), lower(o.relL2, o.magnitudeRelL2)),
      ),
      h('td', { class: 'num' }, formatNumber(fromWire(o.magnitudeRelL2), 3)),
    ),
  );
  return h(
    'section',
    { class: 'section' },
    h('h2', {}, 'Hessian vs magnitude pruning'),
    h(
      'p',
      { class: 'section-note' },
      `Both at ${formatPercent(v.sparsity)} sparsity per tensor; Hessian ${v.compensate ? 'with' : 'without'} compensation, from ${v.samples} calibration run${v.samples === 1 ? '' : 's'} on ${v.inputs === 'files' ? 'the given inputs' : 'random inputs'}. Layer error ‖XΔW‖ / ‖XW‖ is on the calibration inputs; model outputs on ${v.evaluation === 'held-out' ? 'held-out inputs' : 'the calibration inputs'}: ${v.measuredOn}.`,
    ),
    table(
      'Layer output error',
      h(
        'tr',
        {},
        th('Tensor', 'Weight', false),
        th('H', 'full Hessian, its diagonal, or magnitude (fallback)', false),
        th('Hessian', 'Relative layer output error of the Hessian-pruned weight'),
        th('Magnitude', 'Relative layer output error of the magnitude-pruned weight'),
        th('Note', '', false),
      ),
      layers,
    ),
    table(
      'Model outputs',
      h(
        'tr',
        {},
        th('Output', 'Model output', false),
        th('Cosine', 'Hessian-pruned variant'),
        th('Magnitude', 'Magnitude-pruned variant'),
        th('Rel L2', 'Hessian-pruned variant'),
        th('Magnitude', 'Magnitude-pruned variant'),
      ),
      outputs,
    ),
  );
}

/** A before → after count and how many times smaller (or larger) it became. */
function shrinkCard(
  label: string,
  before: number,
  after: number,
  format: (n: number) => string,
  what: string,
): HTMLElement {
  const ratio = after > 0 ? before / after : Infinity;
  return card(
    label,
    `${format(before)} → ${format(after)}`,
    `${ratio >= 1 ? `${ratio.toFixed(2)}× fewer` : `${(1 / ratio).toFixed(2)}× more`} ${what}`,
    ratio < 1 ? 'warn' : '',
  );
}

const compact = (n: number) =>
  n >= 1e9
    ? `${(n / 1e9).toFixed(2)} G`
    : n >= 1e6
      ? `${(n / 1e6).toFixed(2)} M`
      : n >= 1e4
        ? `${(n / 1e3).toFixed(1)} k`
        : formatInt(n);

/** Layer-wise reconstruction: the worst output's cosine for the plain cut and after the refit, on the same held-out inputs. */
function reconstructionCard(
  r: Extract<StructureReport, { method: 'channels' }>['reconstruction'],
): HTMLElement {
  if (!r)
    return card('Reconstruction', 'off', 'the cut layers keep their weights (--no-reconstruct)');
  const worst = r.outputs.reduce((a, b) => (b.cosine < a.cosine ? b : a), r.outputs[0]);
  const refit = r.layers.filter((l) => l.refit).length;
  if (!worst)
    return card('Reconstruction', `${refit} layers refit`, `on ${r.samples} calibration samples`);
  return card(
    'Reconstruction',
    `cosine ${formatCosine(worst.plainCosine)} → ${formatCosine(worst.cosine)}`,
    h(
      'span',
      { title: `measured on ${r.measuredOn}` },
      `${r.evaluation}, plain cut → refit (${refit} of ${r.layers.length} layers, ${r.samples} calibration samples)`,
    ),
    worst.cosine < worst.plainCosine ? 'warn' : '',
  );
}

const RANKED_BY: Record<Extract<StructureReport, { method: 'channels' }>['importance'], string> = {
  l2: 'the L2 norm of the filters producing them',
  bn: "their BatchNorm's |γ|",
  activation: 'the energy each feeds its consumers on the calibration inputs',
};

/** Channel removal: what the graph lost, what it costs to run now, and the groups left whole with the reason. */
function structureSection(s: StructureReport | undefined): HTMLElement | null {
  if (!s) return null;
  const layerRows = (s.cost?.layers ?? []).map((l) =>
    h(
      'tr',
      {},
      h('td', { class: 'col-name' }, h('span', { class: 'name', title: l.name }, l.name)),
      h('td', {}, l.op),
      h(
        'td',
        { class: 'num' },
        `${formatInt(l.parametersBefore)} → ${formatInt(l.parametersAfter)}`,
      ),
      h(
        'td',
        { class: 'num' },
        l.macsBefore === undefined || l.macsAfter === undefined
          ? '—'
          : `${compact(l.macsBefore)} → ${compact(l.macsAfter)}`,
      ),
    ),
  );
  const reasons = new Map<string, string[]>();
  const why =
    s.method === 'channels'
      ? s.groups.flatMap((g) => (g.whole ? [{ reason: g.whole, names: g.producers }] : []))
      : s.skipped.map((x) => ({ reason: x.reason, names: [x.node] }));
  for (const { reason, names } of why)
    reasons.set(reason, [...(reasons.get(reason) ?? []), ...names]);
  const wholeRows = [...reasons].map(([why, producers]) =>
    h(
      'tr',
      {},
      h(
        'td',
        { class: 'col-name' },
        h(
          'span',
          { class: 'name', title: producers.join(', ') },
          producers.slice(0, 3).join(', ') +
            (producers.length > 3 ? ` and ${producers.length - 3} more` : ''),
        ),
      ),
      h('td', {}, why),
    ),
  );
  const ranks =
    s.method === 'lowrank'
      ? s.layers.map((l) =>
          h(
            'tr',
            {},
            h(
              'td',
              { class: 'col-name' },
              h('span', { class: 'name', title: l.note ?? l.node }, l.node),
            ),
            h('td', {}, l.op),
            h('td', { class: 'num' }, `${formatInt(l.K)} × ${formatInt(l.N)}`),
            h(
              'td',
              { class: 'num' },
              l.rank ? `${formatInt(l.rank)} of ${formatInt(l.maxRank)}` : 'dense',
            ),
            h('td', { class: 'num' }, formatPercent(l.energy)),
          ),
        )
      : [];
  const whole = s.method === 'channels' ? s.groups.filter((g) => g.whole).length : 0;
  const cut =
    s.method === 'channels'
      ? s.groups.filter((g) => g.kept < g.channels).length
      : s.layers.filter((l) => l.rank > 0).length;
  const note =
    s.method === 'channels'
      ? `Removed ${formatPercent(s.amount)} of the channels ${s.scope === 'global' ? 'across' : 'of each of'} ${formatInt(cut)} group${cut === 1 ? '' : 's'}, ranked by ${RANKED_BY[s.importance]}${s.scope === 'global' ? ' over the whole model' : ''}; ${formatInt(whole)} group${whole === 1 ? ' was' : 's were'} left whole.`
      : `Factored ${formatInt(cut)} of ${formatInt(s.layers.length)} layers into two thin ones, removing ${formatPercent(s.amount)} of their parameters; ranks from one budget on normalised singular-value energy, ${s.criterion === 'data' ? `the SVD of S·W with SᵀS = XᵀX from ${s.samples ?? '?'} calibration runs` : 'the plain SVD of W'}.`;
  return h(
    'section',
    { class: 'section' },
    h('h2', {}, 'Structure'),
    h(
      'p',
      { class: 'section-note' },
      `${note} Multiply-adds are for one run on the first sample's shapes.`,
    ),
    h(
      'div',
      { class: 'cards' },
      shrinkCard(
        'Parameters',
        s.cost?.parametersBefore ?? s.parametersBefore,
        s.cost?.parametersAfter ?? s.parametersAfter,
        formatInt,
        'parameters',
      ),
      s.cost
        ? shrinkCard('Multiply-adds', s.cost.macsBefore, s.cost.macsAfter, compact, 'multiply-adds')
        : null,
      s.latency
        ? card(
            'Latency',
            `${s.latency.beforeMs.toFixed(1)} ms → ${s.latency.afterMs.toFixed(1)} ms`,
            `${(s.latency.beforeMs / s.latency.afterMs).toFixed(2)}× faster · ${s.latency.runtime}, median of ${s.latency.runs} runs in turns`,
            s.latency.afterMs > s.latency.beforeMs ? 'warn' : '',
          )
        : null,
      s.method === 'channels'
        ? card(
            'Channels',
            `${formatInt(s.channelsBefore)} → ${formatInt(s.channelsAfter)}`,
            `in the groups that could lose some`,
          )
        : null,
      s.method === 'channels' ? reconstructionCard(s.reconstruction) : null,
    ),
    wholeRows.length ? h('h3', {}, s.method === 'channels' ? 'Left whole' : 'Not factored') : null,
    wholeRows.length
      ? table(
          s.method === 'channels' ? 'Left whole' : 'Not factored',
          h(
            'tr',
            {},
            th('Layers', 'The layers concerned', false),
            th('Why', 'What keeps them as they are', false),
          ),
          wholeRows,
        )
      : null,
    ranks.length ? h('h3', {}, 'Ranks') : null,
    ranks.length
      ? table(
          'Ranks',
          h(
            'tr',
            {},
            th('Layer', 'Factored layer', false),
            th('Op', '', false),
            th('K × N', 'inputs × outputs of the weight'),
            th('Rank', 'kept rank of the largest that still saves parameters'),
            th('Energy', 'share of the singular-value energy kept'),
          ),
          ranks,
        )
      : null,
    layerRows.length ? h('h3', {}, 'Layers') : null,
    layerRows.length
      ? table(
          'Layers',
          h(
            'tr',
            {},
            th('Layer', 'Compute layer', false),
            th('Op', '', false),
            th('Parameters', 'before → after'),
            th('Multiply-adds', 'before → after, one run'),
          ),
          layerRows,
        )
      : null,
  );
}

function goalCard(f: FidelityView): HTMLElement {
  const held = f.heldOut ? ` · held-out ${formatCosine(fromWire(f.heldOut.cosine))}` : '';
  return card(
    'Fidelity goal',
    `${describeGoal(f.goal)} ${f.met ? 'met' : 'not met'}`,
    `calibration ${formatCosine(fromWire(f.calibration.cosine))}${held}`,
    f.met ? '' : 'warn',
  );
}

/** The goal, both measurements and the precision each layer got: what the per-layer search decided. */
function fidelitySection(f: FidelityView): HTMLElement {
  const row = (label: string, m: FidelityView['calibration'] | undefined) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row', class: 'col-name' }, label),
      h('td', { class: 'num' }, m ? formatCosine(fromWire(m.cosine)) : '—'),
      h('td', { class: 'num' }, m ? formatNumber(fromWire(m.relL2), 3) : '—'),
      h('td', { class: 'col-note' }, m ? m.measuredOn : 'not measured'),
    );
  const groups = new Map<string, FidelityView['choices']>();
  for (const c of f.choices) groups.set(c.choice, [...(groups.get(c.choice) ?? []), c]);
  return h(
    'section',
    { class: 'section fidelity-goal', 'aria-label': 'Fidelity goal' },
    h('h2', {}, 'Fidelity goal'),
    h(
      'div',
      { class: `callout ${f.met ? 'good' : 'warn'}`, role: 'status' },
      icon(f.met ? 'pass' : 'warning'),
      h(
        'span',
        {},
        `Goal ${describeGoal(f.goal)}: ${f.met ? 'met' : 'not met'} on the calibration inputs, after ${formatInt(f.runs)} model run${f.runs === 1 ? '' : 's'}.`,
      ),
    ),
    table(
      'Fidelity on calibration and held-out inputs',
      h(
        'tr',
        {},
        th('Inputs', '', false),
        th('Cosine', 'Cosine of the outputs, original vs variant'),
        th('Rel L2', '‖variant − original‖ / ‖original‖'),
        th('Source', '', false),
      ),
      [row('Calibration', f.calibration), row('Held-out', f.heldOut)],
    ),
    h('h3', {}, 'Precision per layer'),
    h(
      'ul',
      { class: 'choices' },
      ...[...groups].map(([choice, items]) =>
        h(
          'li',
          {},
          h('span', { class: 'choice' }, choice),
          h(
            'span',
            { class: 'count' },
            ` ${formatInt(items.length)} tensor${items.length === 1 ? '' : 's'}: `,
          ),
          h(
            'span',
            { class: 'names' },
            items.map((c) => (c.pinned ? `${c.tensor} (pinned)` : c.tensor)).join(', '),
          ),
        ),
      ),
    ),
    ...f.warnings.map((w) =>
      h('div', { class: 'callout warn' }, icon('warning'), h('span', {}, w)),
    ),
  );
}

function skippedSection(skipped: ReportView['skipped']): HTMLElement | null {
  if (!skipped.length) return null;
  const reasons = new Map<string, string[]>();
  for (const s of skipped) reasons.set(s.reason, [...(reasons.get(s.reason) ?? []), s.name]);
  return h(
    'section',
    { class: 'section' },
    h('h2', {}, `Skipped tensors (${formatInt(skipped.length)})`),
    h(
      'ul',
      { class: 'skipped' },
      ...[...reasons].map(([reason, names]) =>
        h(
          'li',
          {},
          h(
            'details',
            {},
            h(
              'summary',
              {},
              h('span', { class: 'reason' }, reason),
              h(
                'span',
                { class: 'count' },
                ` — ${formatInt(names.length)} tensor${names.length === 1 ? '' : 's'}`,
              ),
            ),
            h('div', { class: 'names' }, names.join(', ')),
          ),
        ),
      ),
    ),
  );
}

class ReportApp {
  private readonly vscode = vsCodeApi<FromReport, SavedState>();
  private readonly state = parseState(this.vscode.getState());
  private readonly root: HTMLElement;
  private table: Table<ReportTensorView> | null = null;

  constructor(root: HTMLElement) {
    this.root = root;
    setChildren(root, loadingPlaceholder('Loading report…'));
    window.addEventListener('message', (e: MessageEvent) => this.onMessage(e.data));
    this.vscode.postMessage({ type: 'ready' });
  }

  private onMessage(data: unknown): void {
    if (typeof data !== 'object' || data === null) return;
    const msg = data as ToReport;
    if (msg.type === 'report') this.render(msg.report);
  }

  private act(action: ReportAction): void {
    this.vscode.postMessage({ type: 'action', action });
  }

  private button(
    label: string,
    codicon: string,
    action: ReportAction,
    secondary = true,
  ): HTMLElement {
    const b = h('vscode-button', { icon: codicon, secondary });
    b.textContent = label;
    b.addEventListener('click', () => this.act(action));
    return b;
  }

  /** What Verify Again feeds the original, with the buttons that change it and run it. */
  private dataBar(c: CalibrationView | undefined): HTMLElement | null {
    if (!c) return null;
    return h(
      'div',
      { class: 'data-bar' },
      h('span', { class: 'data-label' }, 'Calibration data:'),
      h(
        'span',
        { class: 'data-choice', title: c.detail },
        icon(c.random ? 'symbol-numeric' : 'folder'),
        h('span', {}, c.label),
      ),
      this.button('Calibration Data…', 'database', 'chooseData'),
      this.button('Verify Again', 'debug-rerun', 'verify'),
    );
  }

  private render(r: ReportView): void {
    document.title = `Report: ${r.outputName}`;
    const t = r.totals;
    const header = h(
      'header',
      { class: 'head' },
      h(
        'div',
        { class: 'titles' },
        h('h1', { title: `${r.folder}/${r.outputName}` }, r.outputName),
        h(
          'div',
          { class: 'subtitle' },
          h('span', {}, `from ${r.inputName}`),
          h('span', { class: 'sep' }, '·'),
          h('span', {}, r.summary),
          h('span', { class: 'sep' }, '·'),
          h('span', { title: r.folder }, r.folder),
        ),
      ),
      h(
        'div',
        { class: 'actions' },
        this.button('Open', 'go-to-file', 'open'),
        this.button('Compare', 'diff', 'compare'),
        this.button('Reveal in Explorer', 'folder-opened', 'reveal'),
        this.button('Save Report…', 'save', 'save', false),
      ),
    );
    const cards = h(
      'section',
      { class: 'cards', 'aria-label': 'Totals' },
      card(
        'File size',
        h('span', {}, `${formatBytes(t.fileBytesBefore)} → ${formatBytes(t.fileBytesAfter)}`),
        describeRatio(t.ratio),
        t.ratio < 1 ? 'warn' : '',
      ),
      r.structure && !r.tensors.length
        ? null
        : card(
            'Compressed weights',
            `${formatBytes(t.weightBytesBefore)} → ${formatBytes(t.weightBytesAfter)}`,
            `${formatInt(t.parameters)} parameters in ${formatInt(r.tensors.length)} tensor${r.tensors.length === 1 ? '' : 's'}`,
          ),
      r.structure && !r.tensors.length
        ? null
        : card(
            'Entropy estimate',
            r.entropy.huffmanBytes > 0 ? `${r.entropy.bitsPerWeight.toFixed(2)} bits/weight` : '—',
            r.entropy.huffmanBytes > 0
              ? `Huffman-coded, the file would take ${formatBytes(r.entropy.huffmanFileBytes)}`
              : 'no coded symbols',
          ),
      r.fidelity ? goalCard(r.fidelity) : null,
      fidelityCard(r.verdict, r.verify),
      card('Time', formatDuration(r.elapsedMs), r.methods.join(' + ')),
    );

    const filter = h('vscode-textfield', {
      class: 'filter',
      type: 'search',
      placeholder: 'Filter by tensor, layer, op or method',
      'aria-label': 'Filter tensors',
    }) as TextField;
    filter.append(h('vscode-icon', { slot: 'content-before', name: 'filter' }));
    filter.value = this.state.filter;
    const count = h('span', { class: 'match-count', 'aria-live': 'polite' });
    this.table = new Table<ReportTensorView>({
      columns: TENSOR_COLUMNS,
      label: 'Compressed tensors',
      sort: this.state.sort,
      onSort: (sort) => {
        this.state.sort = sort;
        this.vscode.setState(this.state);
      },
      filterText: (x) => `${x.name} ${x.layer} ${x.op} ${x.method}`,
      rowClass: (x) => (fromWire(x.cosine) < 0.99 ? 'row-poor' : undefined),
      empty: r.tensors.length ? 'No tensor matches the filter.' : 'No tensor was compressed.',
    });
    const table = this.table;
    table.setRows(r.tensors);
    const updateCount = () => {
      const n = r.tensors.length;
      count.textContent =
        table.visible === n
          ? `${formatInt(n)} tensor${n === 1 ? '' : 's'}`
          : `${formatInt(table.visible)} of ${formatInt(n)} tensors`;
    };
    filter.addEventListener('input', () => {
      this.state.filter = filter.value;
      this.vscode.setState(this.state);
      table.setFilter(filter.value);
      updateCount();
    });
    table.setFilter(this.state.filter);
    updateCount();

    setChildren(
      this.root,
      header,
      h(
        'div',
        { class: 'body' },
        verdictSection(r.verdict, r.verify),
        ...r.warnings.map((w) =>
          h('div', { class: 'callout warn', role: 'status' }, icon('warning'), h('span', {}, w)),
        ),
        cards,
        r.fidelity ? fidelitySection(r.fidelity) : null,
        verifySection(
          r.verify,
          r.verdict.state === 'ok' || r.verdict.state === 'poor'
            ? r.verdict.minCosine
            : DEFAULT_MIN_COSINE,
          this.dataBar(r.calibration),
        ),
        hessianSection(r.hessian),
        structureSection(r.structure),
        // A graph change alone stores no tensor differently: its section says everything.
        r.structure && !r.tensors.length
          ? null
          : h(
              'section',
              { class: 'section' },
              h('div', { class: 'section-head' }, h('h2', {}, 'Compressed tensors'), filter, count),
              table.element,
            ),
        skippedSection(r.skipped),
      ),
    );
  }
}

new ReportApp(document.getElementById('app') ?? document.body);
