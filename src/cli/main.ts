import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidModelError } from '../core/errors';
import { MAX_HISTOGRAM_BINS } from '../core/limits';
import { inspectReport, type InspectReport } from '../core/report';
import { DEFAULT_STATS_OPTIONS, type StatsOptions } from '../core/stats/types';
import { ModelService } from '../node/modelService';
import { WorkerPool } from '../node/pool';
import { formatBytes, formatCount, formatNumber } from '../shared/format';

const VERSION = '0.1.0';

const USAGE = `Usage: model-lens <command> [options]

Commands:
  inspect FILE [--json] [--bins N] [--near-zero T]
      Print every weight tensor's statistics (a table, or one JSON document with --json).

Options:
  -h, --help      Show this help.
  -v, --version   Show the version.
`;

class UsageError extends Error {}

interface InspectArgs {
  file: string;
  json: boolean;
  options: StatsOptions;
}

function parseInspect(args: string[]): InspectArgs {
  const out: InspectArgs = { file: '', json: false, options: { ...DEFAULT_STATS_OPTIONS } };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      if (i + 1 >= args.length) throw new UsageError(`${a} needs a value`);
      return args[++i];
    };
    if (a === '--json') out.json = true;
    else if (a === '--bins') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1 || n > MAX_HISTOGRAM_BINS) throw new UsageError(`--bins must be an integer from 1 to ${MAX_HISTOGRAM_BINS}`);
      out.options.bins = n;
    } else if (a === '--near-zero') {
      const t = Number(value());
      if (!Number.isFinite(t) || t < 0) throw new UsageError('--near-zero must be a number >= 0');
      out.options.nearZero = t;
    } else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else if (out.file) throw new UsageError('inspect takes one FILE');
    else out.file = a;
  }
  if (!out.file) throw new UsageError('inspect needs a FILE');
  return out;
}

function pad(s: string, n: number, right = false): string {
  if (s.length > n) s = s.slice(0, n - 1) + '…';
  return right ? s.padStart(n) : s.padEnd(n);
}

function printTable(report: InspectReport, file: string): void {
  const m = report.metadata;
  const lines = [
    `${path.basename(file)}  ${report.format.toUpperCase()}  ${formatBytes(report.fileBytes)}`,
    `  IR ${m.irVersion ?? '?'}  opsets ${m.opsets.map((o) => `${o.domain || 'ai.onnx'}:${o.version}`).join(', ') || '-'}  producer ${[m.producer, m.producerVersion].filter(Boolean).join(' ') || '-'}`,
    `  graph ${m.graphName || '-'}  nodes ${report.nodeCount}  tensors ${report.tensors.length}  parameters ${formatCount(report.parameters)}`,
    '',
  ];
  const head = [pad('tensor', 40), pad('dtype', 9), pad('shape', 18), pad('count', 10, true), pad('min', 10, true), pad('max', 10, true), pad('mean', 10, true), pad('std', 10, true), pad('sparsity', 9, true)];
  lines.push(head.join(' '));
  for (const t of report.tensors) {
    const cells = [pad(t.name, 40), pad(t.dtype, 9), pad(`[${t.shape.join(',')}]`, 18), pad(formatCount(t.count), 10, true)];
    if (t.error) cells.push(`  (${t.error})`);
    else {
      cells.push(
        ...[t.min, t.max, t.mean, t.std].map((v) => pad(formatNumber(v ?? null), 10, true)),
        pad(`${((t.sparsity ?? 0) * 100).toFixed(1)}%`, 9, true),
      );
    }
    lines.push(cells.join(' '));
  }
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  process.stdout.write(lines.join('\n') + '\n');
}

async function inspect(args: InspectArgs): Promise<void> {
  const pool = new WorkerPool(path.join(__dirname, 'worker.js'), Math.max(1, Math.min(os.availableParallelism(), 8)));
  try {
    const service = new ModelService(pool);
    const model = await service.open(args.file);
    const results = await service.stats(args.file, model, args.options, () => undefined);
    const report = inspectReport(model, results);
    if (args.json) process.stdout.write(JSON.stringify(report) + '\n');
    else printTable(report, args.file);
  } finally {
    pool.dispose();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  if (command === '-v' || command === '--version') {
    process.stdout.write(`model-lens ${VERSION}\n`);
    return 0;
  }
  let file = '';
  try {
    if (command !== 'inspect') throw new UsageError(`unknown command '${command}'`);
    const args = parseInspect(rest);
    file = args.file;
    await inspect(args);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`model-lens: ${err.message}\n${USAGE}`);
      return 2;
    }
    const reason = err instanceof InvalidModelError || err instanceof Error ? err.message : String(err);
    process.stderr.write(`model-lens: ${file}: ${reason.split('\n')[0]}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
