import { formatBytes as bytes } from '../units';
import { describeGoal } from './spec';
import type { HessianComparison } from './hessianPlan';
import type { CompressReport, StructureReport } from './report';
import type { FidelityResult, SensitivityReport } from './sensitivity';
import { formatVerdict, type Verdict } from './verdict';

function num(v: number): string {
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : v < 0 ? '-inf' : 'nan';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(2) : Number(v.toPrecision(4)).toString();
}

function cell(s: string, n: number, right = false): string {
  if (s.length > n) s = s.slice(0, n - 1) + '…';
  return right ? s.padStart(n) : s.padEnd(n);
}

/** The report card as text: per tensor, then totals and the entropy estimate. */
export function formatCompressReport(
  r: CompressReport,
  paths?: { input: string; output: string; elapsedMs: number },
  verdict?: Verdict,
): string {
  const t = r.totals;
  const lines: string[] = [];
  if (paths)
    lines.push(
      `${paths.input} -> ${paths.output}  (${r.methods.join(' + ')}, ${(paths.elapsedMs / 1000).toFixed(2)} s)`,
      '',
    );
  // A structural method alone changes no tensor's encoding: its own section says what it did instead.
  const tensorTable = r.tensors.length > 0 || !r.structure;
  if (tensorTable)
    lines.push(
      [
        cell('tensor', 34),
        cell('method', 30),
        cell('before', 10, true),
        cell('after', 10, true),
        cell('SQNR dB', 8, true),
        cell('cosine', 9, true),
        cell('max|err|', 9, true),
        cell('MSE', 9, true),
        cell('sparsity', 8, true),
      ].join(' '),
    );
  for (const x of r.tensors) {
    lines.push(
      [
        cell(x.name, 34),
        cell(x.method, 30),
        cell(bytes(x.bytesBefore), 10, true),
        cell(bytes(x.bytesAfter), 10, true),
        cell(num(x.sqnrDb), 8, true),
        cell(x.cosine.toFixed(6), 9, true),
        cell(num(x.maxAbs), 9, true),
        cell(num(x.mse), 9, true),
        cell(`${(x.sparsity * 100).toFixed(1)}%`, 8, true),
      ].join(' ') + (x.note ? `  (${x.note})` : ''),
    );
  }
  const skipped = r.skipped.filter((s) => !s.left);
  const left = r.skipped.filter((s) => s.left);
  for (const [list, head, counted] of [
    [skipped, 'skipped', false],
    [left, 'left as they are (outside the default scope)', true],
  ] as const) {
    if (!list.length) continue;
    lines.push('', `${head}: ${list.length} tensor${list.length === 1 ? '' : 's'}`);
    const reasons = new Map<string, string[]>();
    for (const s of list) reasons.set(s.reason, [...(reasons.get(s.reason) ?? []), s.name]);
    for (const [reason, names] of reasons)
      lines.push(
        `  ${counted ? `${names.length} ` : ''}${reason}: ${names.slice(0, 6).join(', ')}${names.length > 6 ? ` and ${names.length - 6} more` : ''}`,
      );
  }
  if (r.structure) lines.push(...(tensorTable ? [''] : []), ...formatStructure(r.structure));
  lines.push(
    '',
    `file     ${bytes(t.fileBytesBefore)} -> ${bytes(t.fileBytesAfter)}  (${t.ratio.toFixed(2)}x smaller)`,
  );
  if (tensorTable)
    lines.push(
      `weights  ${bytes(t.weightBytesBefore)} -> ${bytes(t.weightBytesAfter)} over ${t.parameters} parameters in ${r.tensors.length} tensors`,
    );
  if (r.entropy.huffmanBytes > 0) {
    lines.push(
      `entropy  ${r.entropy.bitsPerWeight.toFixed(2)} bits/weight; Huffman-coded the variant would take ${bytes(r.entropy.huffmanFileBytes)}`,
    );
  }
  if (verdict) lines.push(...formatVerdict(verdict));
  if (r.fidelity) lines.push(...formatFidelity(r.fidelity));
  if (r.hessian) lines.push('', ...formatHessian(r.hessian));
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n') + '\n';
}

/** What a fidelity goal chose and what it measured, for the report card. */
export function formatFidelity(f: FidelityResult): string[] {
  const line = (label: string, x: { cosine: number; relL2: number; measuredOn: string }) =>
    `  ${label.padEnd(11)} cosine ${x.cosine.toFixed(6)}  rel L2 ${num(x.relL2)}  on ${x.measuredOn}`;
  const groups = new Map<string, string[]>();
  const pinned = new Set(f.pinned ?? []);
  for (const c of f.choices)
    groups.set(c.choice, [
      ...(groups.get(c.choice) ?? []),
      pinned.has(c.tensor) ? `${c.tensor} (pinned)` : c.tensor,
    ]);
  const lines = [
    '',
    `fidelity goal: ${describeGoal(f.goal)} (${f.met ? 'met' : 'NOT met'}; ${f.runs} model runs)`,
    line('calibration', f.calibration),
  ];
  lines.push(f.heldOut ? line('held-out', f.heldOut) : '  held-out    not measured');
  for (const [choice, names] of groups)
    lines.push(
      `  ${choice.padEnd(11)} ${names.length}: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ` and ${names.length - 8} more` : ''}`,
    );
  for (const w of f.warnings) lines.push(`  warning: ${w}`);
  return lines;
}

function pct(v: number | undefined): string {
  return v === undefined ? '-' : Number.isFinite(v) ? `${(v * 100).toFixed(2)}%` : num(v);
}

/** Hessian pruning against magnitude pruning at the same sparsity: per layer, then the model's outputs. */
function formatHessian(h: HessianComparison): string[] {
  const lines = [
    `Hessian vs magnitude pruning at ${(h.sparsity * 100).toFixed(0)}% (${h.compensate ? 'with' : 'without'} compensation; ${h.samples} calibration run${h.samples === 1 ? '' : 's'} on ${h.inputs === 'files' ? 'the given inputs' : 'random inputs'})`,
    `  layer output error ‖XΔW‖/‖XW‖ on the calibration inputs:`,
    '  ' +
      [
        cell('tensor', 34),
        cell('H', 9),
        cell('hessian', 10, true),
        cell('magnitude', 10, true),
      ].join(' '),
  ];
  for (const t of h.tensors) {
    lines.push(
      '  ' +
        [
          cell(t.name, 34),
          cell(t.hessian, 9),
          cell(pct(t.outputError), 10, true),
          cell(pct(t.magnitudeOutputError), 10, true),
        ].join(' ') +
        (t.note ? `  (${t.note})` : ''),
    );
  }
  lines.push(
    `  model outputs on ${h.evaluation === 'held-out' ? 'held-out inputs' : 'the calibration inputs'}, ${h.measuredOn}:`,
  );
  for (const o of h.outputs) {
    lines.push(
      `  ${cell(o.name, 34)} hessian cosine ${o.cosine.toFixed(6)} rel L2 ${num(o.relL2)}   magnitude cosine ${o.magnitudeCosine.toFixed(6)} rel L2 ${num(o.magnitudeRelL2)}`,
    );
  }
  return lines;
}

/** What a structural method changed: parameters, then per layer (lowrank) or the group count (channels). */
export function formatStructure(s: StructureReport): string[] {
  return [...(s.method === 'channels' ? formatChannels(s) : formatLowRank(s)), ...formatCost(s)];
}

const CHANNEL_RANKING = {
  l2: 'the L2 norm of the filters producing them',
  bn: "their BatchNorm's |γ|",
  activation: 'the energy each feeds its consumers on calibration inputs',
} as const;

/** Multiply-adds and latency, before and after. */
function formatCost(s: StructureReport): string[] {
  const lines: string[] = [];
  if (s.cost)
    lines.push(
      `  compute layers: parameters ${s.cost.parametersBefore} -> ${s.cost.parametersAfter}, multiply-adds ${s.cost.macsBefore} -> ${s.cost.macsAfter} (${(s.cost.macsBefore / Math.max(1, s.cost.macsAfter)).toFixed(2)}x fewer; one run on the first sample's shapes)`,
    );
  if (s.latency)
    lines.push(
      `  latency ${s.latency.beforeMs.toFixed(2)} ms -> ${s.latency.afterMs.toFixed(2)} ms (${(s.latency.beforeMs / s.latency.afterMs).toFixed(2)}x; ${s.latency.runtime}, median of ${s.latency.runs} runs each, in turns)`,
    );
  return lines;
}

function formatLowRank(s: Extract<StructureReport, { method: 'lowrank' }>): string[] {
  const params = `parameters ${s.parametersBefore} -> ${s.parametersAfter} (${pct(1 - s.parametersAfter / s.parametersBefore)} fewer)`;
  const factored = s.layers.filter((l) => l.rank > 0);
  const lines = [
    `structure: low-rank ${(s.amount * 100).toFixed(0)}% by ${s.criterion === 'data' ? `whitened SVD of S·W (SᵀS = XᵀX, ${s.samples ?? 0} calibration runs)` : 'plain SVD of W'}`,
    `  ${params}; factorable layers ${s.layerParametersBefore} -> ${s.layerParametersAfter}`,
    '  ' +
      [
        cell('layer', 34),
        cell('op', 6),
        cell('K x N', 13),
        cell('rank', 11, true),
        cell('energy', 9, true),
      ].join(' '),
  ];
  for (const l of s.layers) {
    const rank = l.rank ? `${l.rank}/${l.maxRank}` : 'dense';
    lines.push(
      '  ' +
        [
          cell(l.node, 34),
          cell(l.op, 6),
          cell(`${l.K}x${l.N}`, 13),
          cell(rank, 11, true),
          cell(pct(l.energy), 9, true),
        ].join(' ') +
        (l.note ? `  (${l.note})` : ''),
    );
  }
  lines.push(
    `  ${factored.length} of ${s.layers.length} layers factored${s.skipped.length ? `; ${s.skipped.length} not factorable (${[...new Set(s.skipped.map((x) => x.reason))].slice(0, 3).join('; ')})` : ''}`,
  );
  return lines;
}

/** A channel cut for the report card: sizes before → after, the groups left whole (counted by reason), the reconstruction. */
function formatChannels(x: Extract<StructureReport, { method: 'channels' }>): string[] {
  const cut = x.groups.filter((g) => !g.whole);
  const lines = [
    `channels removed (${(x.amount * 100).toFixed(0)}% ${x.scope === 'global' ? 'across the model' : 'of each group'}, ranked by ${CHANNEL_RANKING[x.importance]})`,
    `  parameters  ${x.parametersBefore} -> ${x.parametersAfter}  (${(100 * (1 - x.parametersAfter / x.parametersBefore)).toFixed(1)}% fewer)`,
    `  channels    ${x.channelsBefore} -> ${x.channelsAfter} in ${cut.length} group${cut.length === 1 ? '' : 's'}`,
  ];
  const whole = new Map<string, number>();
  for (const g of x.groups) if (g.whole) whole.set(g.whole, (whole.get(g.whole) ?? 0) + 1);
  if (whole.size) {
    const count = [...whole.values()].reduce((a, b) => a + b, 0);
    lines.push(`  left whole  ${count} group${count === 1 ? '' : 's'}:`);
    for (const [why, n] of [...whole].sort((a, b) => b[1] - a[1]).slice(0, 8))
      lines.push(`    ${String(n).padStart(3)}  ${why}`);
    if (whole.size > 8) lines.push(`    and ${whole.size - 8} other reasons`);
  }
  const rec = x.reconstruction;
  if (!rec) {
    lines.push('  reconstruction  off (--no-reconstruct): the cut layers keep their weights');
    return lines;
  }
  const fit = rec.layers.filter((l) => l.refit);
  const mean = (key: 'before' | 'after') =>
    fit.reduce((s, l) => s + l[key]!, 0) / (fit.length || 1);
  lines.push(
    `  reconstruction  ${fit.length} of ${rec.layers.length} layers refit on ${rec.samples} calibration sample${rec.samples === 1 ? '' : 's'} (${rec.inputs}; ${rec.stages} rounds, ${(rec.elapsedMs / 1000).toFixed(1)} s)`,
  );
  if (fit.length)
    lines.push(
      `    layer error ‖XW−Y‖²/‖Y‖², mean over refit layers  ${num(mean('before'))} -> ${num(mean('after'))}`,
    );
  for (const o of rec.outputs)
    lines.push(
      `    output '${o.name}' cosine, ${rec.evaluation}  ${o.plainCosine.toFixed(6)} (plain cut) -> ${o.cosine.toFixed(6)} (reconstructed)`,
    );
  lines.push(`    measured on ${rec.measuredOn}`);
  const kept = new Map<string, number>();
  for (const l of rec.layers) if (!l.refit && l.note) kept.set(l.note, (kept.get(l.note) ?? 0) + 1);
  for (const [why, n] of kept)
    lines.push(`    ${String(n).padStart(3)} layer${n === 1 ? '' : 's'} ${why}`);
  return lines;
}

const fmtCos = (c: number) => (c === 1 ? '1' : c.toFixed(6));

/** The sensitivity report as a table for the CLI. */
export function formatSensitivity(r: SensitivityReport): string {
  const lines = [
    `${r.file}: ${r.methods.join('+')} one layer at a time, ${r.runtime}, ${(r.elapsedMs / 1000).toFixed(1)} s`,
    `measured on ${r.measuredOn}`,
  ];
  if (r.all)
    lines.push(
      `all layers together: output cosine ${fmtCos(r.all.cosine)}, rel L2 ${r.all.relL2.toExponential(2)}, ${r.fileBytesBefore} → ${r.all.fileBytesAfter} bytes`,
    );
  if (r.fullRuns < r.layers.length)
    lines.push(
      `full model runs for the ${r.fullRuns} layers worst by the proxy; the other ${r.layers.length - r.fullRuns} show the proxy only`,
    );
  lines.push('');
  const w = Math.min(36, Math.max(6, ...r.layers.map((l) => l.tensor.length)));
  lines.push(
    `${cell('tensor', w)}  ${cell('op', 8)}  ${cell('out cosine', 10, true)}  ${cell('out relL2', 9, true)}  ${cell('‖XΔW‖/‖XW‖', 10, true)}  ${cell('w SQNR dB', 9, true)}  ${cell('max/σ', 7, true)}  ${cell('kurt', 7, true)}  range`,
  );
  for (const l of r.layers) {
    lines.push(
      `${cell(l.tensor, w)}  ${cell(l.op, 8)}  ${cell(l.output ? fmtCos(l.output.cosine) : '-', 10, true)}  ${cell(l.output ? l.output.relL2.toExponential(2) : '-', 9, true)}  ${cell(l.weight.activationError !== undefined ? l.weight.activationError.toExponential(2) : '-', 10, true)}  ${cell(Number.isFinite(l.weight.sqnrDb) ? l.weight.sqnrDb.toFixed(1) : 'exact', 9, true)}  ${cell(l.shape.outlierRatio.toFixed(1), 7, true)}  ${cell(l.shape.kurtosis.toFixed(1), 7, true)}  [${l.shape.min.toPrecision(3)}, ${l.shape.max.toPrecision(3)}]`,
    );
  }
  for (const x of r.warnings) lines.push(`warning: ${x}`);
  return lines.join('\n') + '\n';
}
