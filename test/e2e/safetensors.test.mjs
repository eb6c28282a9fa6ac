// Cross-checks `model-lens inspect --json` on safetensors files (single, every dtype, sharded,
// int8 weight-only, and compressed variants) against safetensors_stats.py, a struct+json+numpy oracle.
// Needs `node scripts/build.mjs --tests` first. Env: MODEL_LENS_PYTHON (default /usr/bin/python3), MODEL_LENS_DIST.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = process.env.MODEL_LENS_DIST ?? join(ROOT, 'dist');
const CLI = join(DIST, 'cli.js');
const ORACLE = join(ROOT, 'test/e2e/safetensors_stats.py');
const PYTHON = process.env.MODEL_LENS_PYTHON ?? '/usr/bin/python3';
const BIG = 1 << 28;

/** Same tolerance as numpy.test.mjs: mean/std accumulate in float64, the oracle's sums are exact. */
const close = (a, b) => Math.abs(a - b) <= Math.max(1e-6 * Math.abs(b), 1e-12);

function compareTensor(c, o) {
  const out = [];
  const diff = (f, cv, ov) =>
    out.push(`${f}: cli=${JSON.stringify(cv)} numpy=${JSON.stringify(ov)}`);
  for (const f of ['dtype', 'dtypeCode', 'count', 'file']) if (c[f] !== o[f]) diff(f, c[f], o[f]);
  if (JSON.stringify(c.shape) !== JSON.stringify(o.shape)) diff('shape', c.shape, o.shape);
  if (o.error !== undefined || c.error !== undefined) {
    if ((o.error === undefined) !== (c.error === undefined)) diff('error', c.error, o.error);
    return out;
  }
  for (const f of ['min', 'max', 'zeros', 'nan', 'inf']) if (c[f] !== o[f]) diff(f, c[f], o[f]);
  for (const f of ['mean', 'std'])
    if (o[f] === null ? c[f] !== null : !close(c[f], o[f])) diff(f, c[f], o[f]);
  if (o.histogram) {
    // A value within a few ulps of an interior edge may fall either side (numpy_stats.py's edgeSlack).
    let cc = 0;
    let oc = 0;
    for (let k = 0; k < o.histogram.counts.length - 1; k++) {
      cc += c.histogram.counts[k];
      oc += o.histogram.counts[k];
      if (Math.abs(cc - oc) > o.edgeSlack[k]) {
        diff(`histogram bin ${k}`, c.histogram.counts[k], o.histogram.counts[k]);
        break;
      }
    }
  }
  return out;
}

function compareModel(cli, oracle) {
  const problems = [];
  if (cli.format !== 'safetensors') problems.push(`format: ${cli.format}`);
  const byName = new Map(cli.tensors.map((t) => [t.name, t]));
  for (const o of oracle.tensors) {
    const c = byName.get(o.name);
    if (!c) problems.push(`tensor '${o.name}': missing from cli`);
    else for (const d of compareTensor(c, o)) problems.push(`tensor '${o.name}' ${d}`);
    byName.delete(o.name);
  }
  for (const name of byName.keys())
    problems.push(`tensor '${name}': listed by cli, not by the oracle`);
  return problems;
}

async function cli(...args) {
  const { stdout } = await run(process.execPath, [CLI, ...args], { maxBuffer: BIG });
  return JSON.parse(stdout);
}

describe('safetensors: inspect --json agrees with numpy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ml-st-e2e-'));
  const st = join(dir, 'safetensors');
  const originals = [
    'model.safetensors',
    'dtypes.safetensors',
    'int8.safetensors',
    'sharded/model.safetensors.index.json',
    'sharded/model-00001-of-00002.safetensors',
    'large.safetensors',
  ];
  const variants = [
    ['model.safetensors', 'fp16'],
    ['model.safetensors', 'bf16'],
    ['model.safetensors', 'prune', '--sparsity', '0.6'],
    ['model.safetensors', 'cluster', '--clusters', '8'],
    ['model.safetensors', 'int8'],
    ['large.safetensors', 'prune,int8'],
    ['large.safetensors', 'cluster'],
    ['sharded/model.safetensors.index.json', 'int8'],
    ['sharded/model.safetensors.index.json', 'prune,fp16', '--pattern', '2:4'],
  ];
  const outputs = new Map();
  let oracle = {};
  const inspected = new Map();

  before(async () => {
    assert.ok(existsSync(CLI), `${CLI} missing: run node scripts/build.mjs --tests`);
    await run(process.execPath, [join(DIST, 'test/fixtures/generate.js'), dir], { maxBuffer: BIG });
    // Tensors over one decode chunk (64 Ki elements), so rows and chunks do not line up.
    const fx = createRequire(import.meta.url)(join(DIST, 'test/fixtures/safetensors.js'));
    writeFileSync(join(st, 'large.safetensors'), fx.serializeSafetensors(fx.largeTensors()));
    for (const [file, method, ...rest] of variants) {
      const report = await cli('compress', join(st, file), '--method', method, ...rest, '--json');
      outputs.set(`${file} ${method}`, report);
    }
    const paths = [
      ...originals.map((f) => join(st, f)),
      ...[...outputs.values()].map((r) => r.output),
    ];
    const [stats] = await Promise.all([
      run(PYTHON, [ORACLE, ...paths], { maxBuffer: BIG }),
      ...paths.map(async (p) => inspected.set(p, await cli('inspect', p, '--json'))),
    ]);
    oracle = JSON.parse(stats.stdout).models;
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const f of originals) {
    it(f, (t) => {
      const p = join(st, f);
      assert.ok(oracle[p] && !oracle[p].error, `oracle failed: ${oracle[p]?.error}`);
      t.diagnostic(`${oracle[p].tensors.length} tensors compared`);
      assert.deepEqual(compareModel(inspected.get(p), oracle[p]), []);
    });
  }

  for (const [file, method, ...rest] of variants) {
    it(`${file} compressed with ${method} ${rest.join(' ')}`, (t) => {
      const report = outputs.get(`${file} ${method}`);
      const p = report.output;
      assert.ok(oracle[p] && !oracle[p].error, `oracle failed on ${p}: ${oracle[p]?.error}`);
      t.diagnostic(
        `${report.tensors.length} tensors compressed, ${report.totals.fileBytesBefore} -> ${report.totals.fileBytesAfter} bytes`,
      );
      assert.ok(report.tensors.length > 0, 'something was compressed');
      assert.deepEqual(compareModel(inspected.get(p), oracle[p]), []);
    });
  }
});
