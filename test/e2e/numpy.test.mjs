// Cross-checks `model-lens inspect --json` against an independent numpy oracle (numpy_stats.py)
// on every generated fixture and a deterministic sample of Debian's ONNX backend-test corpus.
// Needs `node scripts/build.mjs --tests` first (dist/cli.js, dist/test/fixtures/generate.js).
// Env: MODEL_LENS_PYTHON (default /usr/bin/python3, Debian's onnx 1.12 + numpy),
//      MODEL_LENS_LARGE_MB (size of the streamed big.onnx fixture, default 48; 0 skips it),
//      MODEL_LENS_DIST (the build to test, default dist/).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = process.env.MODEL_LENS_DIST ?? join(ROOT, 'dist');
const CLI = join(DIST, 'cli.js');
const GENERATE = join(DIST, 'test/fixtures/generate.js');
const ORACLE = join(ROOT, 'test/e2e/numpy_stats.py');
const CHECKER = join(ROOT, 'test/e2e/check_fixtures.py');
const PYTHON = process.env.MODEL_LENS_PYTHON ?? '/usr/bin/python3';
const CORPUS = '/usr/share/libonnx-testdata/data';
const CORPUS_SAMPLE = 40;
const LARGE_MB = Number(process.env.MODEL_LENS_LARGE_MB ?? 48);
const FIXTURES = [
  'mlp.onnx',
  'cnn.onnx',
  'constants.onnx',
  'subgraph_if.onnx',
  'external/model.onnx',
  'dtypes.onnx',
  'sparse.onnx',
  'function.onnx',
];
const BIG = 1 << 28;

/** Tensors the oracle lists that Model Lens may leave out: Constant's scalar/list attribute forms and tensor attributes of other ops. */
const optional = (t) => t.via !== undefined;

/**
 * Mean and std: the oracle's are exactly rounded (math.fsum); ours accumulate in float64, whose
 * rounding stays far below 1e-6 relative for any tensor whose sum does not cancel catastrophically.
 * 1e-12 absolute covers means and stds that are zero or within rounding of it.
 */
function close(ours, theirs) {
  return Math.abs(ours - theirs) <= Math.max(1e-6 * Math.abs(theirs), 1e-12);
}

function fmt(v) {
  return Array.isArray(v) ? `[${v.join(',')}]` : JSON.stringify(v);
}

/** Every disagreement between one CLI tensor and the oracle's, as "field: cli=… numpy=…". */
function compareTensor(c, o) {
  const out = [];
  const diff = (field, cv, ov) => out.push(`${field}: cli=${fmt(cv)} numpy=${fmt(ov)}`);
  for (const f of ['dtype', 'dtypeCode', 'count']) if (c[f] !== o[f]) diff(f, c[f], o[f]);
  if (fmt(c.shape) !== fmt(o.shape)) diff('shape', c.shape, o.shape);
  if (o.error !== undefined) {
    if (c.error === undefined) diff('error', c.error, o.error);
    return out;
  }
  if (c.error !== undefined) {
    diff('error', c.error, null);
    return out;
  }
  // Exact: min and max are element values, read back unchanged whatever the summation order.
  for (const f of ['min', 'max', 'zeros', 'nan', 'inf']) if (c[f] !== o[f]) diff(f, c[f], o[f]);
  for (const f of ['mean', 'std']) {
    if (o[f] === null ? c[f] !== null : typeof c[f] !== 'number' || !close(c[f], o[f]))
      diff(f, c[f], o[f]);
  }
  const sparsity = o.count ? o.zeros / o.count : 0;
  if (typeof c.sparsity !== 'number' || Math.abs(c.sparsity - sparsity) > 1e-12)
    diff('sparsity', c.sparsity, sparsity);
  out.push(...compareHistogram(c.histogram, o));
  return out;
}

/**
 * Counts must match numpy's bin for bin, except that a value within a few ulps of an interior edge
 * may land on either side of it (numpy corrects its bin index against the exact linspace edge; a
 * floor((x-min)/(max-min)*bins) binner may not). numpy_stats.py reports, per interior edge, how
 * many values are that close (edgeSlack); the cumulative count up to edge k may differ by at most
 * that many. Any other difference is a real binning disagreement.
 */
function compareHistogram(h, o) {
  if (o.histogram === null) {
    const total = h?.counts ? h.counts.reduce((a, b) => a + b, 0) : 0;
    return total === 0 ? [] : [`histogram: cli counts ${total} values, numpy has no finite values`];
  }
  const oc = o.histogram.counts;
  if (!h || !Array.isArray(h.counts) || h.counts.length !== oc.length) {
    return [`histogram: cli=${h ? `${h.counts?.length} bins` : 'missing'} numpy=${oc.length} bins`];
  }
  const out = [];
  let cc = 0;
  let oo = 0;
  for (let k = 0; k < oc.length - 1; k++) {
    cc += h.counts[k];
    oo += oc[k];
    if (Math.abs(cc - oo) > o.edgeSlack[k]) {
      out.push(
        `histogram bin ${k}: cli=${h.counts[k]} numpy=${oc[k]} (cumulative cli=${cc} numpy=${oo}, values on edge ${k + 1}: ${o.edgeSlack[k]}; numpy edges [${o.histogram.min}, ${o.histogram.max}])`,
      );
      break;
    }
  }
  const ct = h.counts.reduce((a, b) => a + b, 0);
  const ot = oc.reduce((a, b) => a + b, 0);
  if (ct !== ot) out.push(`histogram total: cli=${ct} numpy=${ot}`);
  return out;
}

/** Pairs CLI and oracle tensors by name (best match among duplicates) and lists disagreements. */
function compareModel(cli, oracle) {
  const problems = [];
  const notes = [];
  const byName = new Map();
  for (const t of cli.tensors ?? []) byName.set(t.name, [...(byName.get(t.name) ?? []), t]);
  for (const o of oracle.tensors) {
    const candidates = byName.get(o.name) ?? [];
    if (!candidates.length) {
      (optional(o) ? notes : problems).push(
        `tensor '${o.name}' (${o.origin}${o.via ? ` ${o.via}` : ''}, scope '${o.scope}'): missing from cli`,
      );
      continue;
    }
    const scored = candidates
      .map((c) => ({ c, d: compareTensor(c, o) }))
      .sort((a, b) => a.d.length - b.d.length);
    byName.set(
      o.name,
      candidates.filter((c) => c !== scored[0].c),
    );
    for (const d of scored[0].d) problems.push(`tensor '${o.name}' (scope '${o.scope}') ${d}`);
  }
  for (const rest of byName.values()) {
    for (const c of rest) {
      const line = `tensor '${c.name}' (${c.origin}, scope '${c.scope}'): listed by cli, not by numpy oracle`;
      (c.origin === 'attribute' ? notes : problems).push(line);
    }
  }
  if (cli.format !== 'onnx') problems.push(`format: cli=${fmt(cli.format)} numpy=onnx`);
  return { problems, notes };
}

async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

async function inspect(file) {
  try {
    const { stdout } = await run(process.execPath, [CLI, 'inspect', file, '--json'], {
      maxBuffer: BIG,
    });
    return { json: JSON.parse(stdout) };
  } catch (e) {
    return {
      error: `exit ${e.code ?? '?'}: ${(e.stderr || e.message).trim().split('\n').slice(0, 3).join(' | ')}`,
    };
  }
}

// The corpus sample is chosen by the oracle side (python), so test names can show the models.
const SAMPLE = JSON.parse(
  execFileSync(PYTHON, [ORACLE, '--select', String(CORPUS_SAMPLE), CORPUS], {
    encoding: 'utf8',
    maxBuffer: BIG,
  }),
);

describe('model-lens inspect --json agrees with numpy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ml-numpy-'));
  const models = [
    ...FIXTURES.map((f) => ({ label: f, path: join(dir, f) })),
    ...(LARGE_MB > 0 ? [{ label: `big.onnx (${LARGE_MB} MB)`, path: join(dir, 'big.onnx') }] : []),
    ...SAMPLE.map((m) => ({ label: relative(CORPUS, m), path: m })),
  ];
  let oracle = {};
  const cli = new Map();

  before(async () => {
    assert.ok(existsSync(CLI), `${CLI} missing: run node scripts/build.mjs --tests`);
    assert.equal(
      SAMPLE.length,
      CORPUS_SAMPLE,
      `${CORPUS}: expected ${CORPUS_SAMPLE} models with weights`,
    );
    await run(
      process.execPath,
      [GENERATE, dir, ...(LARGE_MB > 0 ? ['--large', String(LARGE_MB)] : [])],
      { maxBuffer: BIG },
    );
    const check = await run(PYTHON, [CHECKER, dir], { maxBuffer: BIG }).catch((e) => e);
    assert.equal(check.code ?? 0, 0, `onnx.checker rejected a fixture:\n${check.stdout}`);
    const paths = models.map((m) => m.path);
    const [stats] = await Promise.all([
      run(PYTHON, [ORACLE, ...paths], { maxBuffer: BIG }),
      pool(paths, 2, async (m) => cli.set(m, await inspect(m))),
    ]);
    oracle = JSON.parse(stats.stdout).models;
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const { label, path } of models) {
    it(label, (t) => {
      const o = oracle[path];
      assert.ok(o && !o.error, `${label}: numpy oracle failed: ${o?.error}`);
      const c = cli.get(path);
      assert.ok(c.json, `${label}: cli failed: ${c.error}`);
      const { problems, notes } = compareModel(c.json, o);
      for (const n of notes) t.diagnostic(n);
      t.diagnostic(`${o.tensors.length} tensors compared`);
      assert.deepEqual(problems, [], `${label}:\n  ${problems.join('\n  ')}`);
    });
  }
});
