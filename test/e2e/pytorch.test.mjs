// Cross-checks `model-lens inspect --json` on PyTorch checkpoints against torch's own decoding
// (pytorch_stats.py: torch.load(weights_only=True) -> numpy). Checkpoints come from torch.save
// (test/fixtures/pytorch_fixtures.py) and from our byte-level builder (test/fixtures/pytorch.ts),
// which torch must load too. Installs Debian's python3-torch when missing (as root, ~45 s).
// Needs `node scripts/build.mjs --tests` first. Env: MODEL_LENS_PYTHON (default /usr/bin/python3),
// MODEL_LENS_LARGE_MB (size of the large.pt fixture, default 48; 0 skips it), MODEL_LENS_DIST.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = process.env.MODEL_LENS_DIST ?? join(ROOT, 'dist');
const CLI = join(DIST, 'cli.js');
const PYTHON = process.env.MODEL_LENS_PYTHON ?? '/usr/bin/python3';
const LARGE_MB = Number(process.env.MODEL_LENS_LARGE_MB ?? 48);
const BIG = 1 << 28;

/** Our builder's samples: how torch should load each (module.pt pickles __main__.Net, which torch cannot import). */
const BUILT = {
  'state_dict.pt': { stateDict: '' },
  'views.pt': { stateDict: '' },
  'checkpoint.pth': { stateDict: 'model' },
  'zip64.pt': { stateDict: '' },
  'module.pt': {
    cliOnly: true,
    refused: ['__main__.Net', 'torch.nn.modules.linear.Linear'],
    names: ['enc.weight', 'enc.bias', 'head.weight', 'head.bias'],
  },
  'hostile.pt': { cliOnly: true, refused: ['posix.system', 'builtins.eval'], names: ['weight'] },
};

function ensureTorch() {
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
    return 'present';
  } catch {
    if (process.getuid?.() !== 0)
      throw new Error('python3-torch is missing: run `apt-get install python3-torch` as root');
    const t0 = Date.now();
    execFileSync('apt-get', ['install', '-y', '-qq', 'python3-torch'], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    return `installed in ${((Date.now() - t0) / 1000).toFixed(0)} s`;
  }
}

function close(ours, theirs) {
  return Math.abs(ours - theirs) <= Math.max(1e-6 * Math.abs(theirs), 1e-12);
}

/** Disagreements between one CLI tensor and torch's, as in numpy.test.mjs: exact extremes and counts, close moments, bins up to edge slack. */
function compareTensor(c, o) {
  const out = [];
  const diff = (field, cv, ov) =>
    out.push(`${field}: cli=${JSON.stringify(cv)} torch=${JSON.stringify(ov)}`);
  for (const f of ['dtype', 'dtypeCode', 'count']) if (c[f] !== o[f]) diff(f, c[f], o[f]);
  if (JSON.stringify(c.shape) !== JSON.stringify(o.shape)) diff('shape', c.shape, o.shape);
  if (c.error !== undefined) return [...out, `error: ${c.error}`];
  for (const f of ['min', 'max', 'zeros', 'nan', 'inf']) if (c[f] !== o[f]) diff(f, c[f], o[f]);
  for (const f of ['mean', 'std'])
    if (o[f] === null ? c[f] !== null : typeof c[f] !== 'number' || !close(c[f], o[f]))
      diff(f, c[f], o[f]);
  if (o.histogram === null) return out;
  const hc = c.histogram?.counts ?? [];
  const oc = o.histogram.counts;
  if (hc.length !== oc.length) return [...out, `histogram: ${hc.length} bins, torch ${oc.length}`];
  let cc = 0;
  let oo = 0;
  for (let k = 0; k < oc.length - 1; k++) {
    cc += hc[k];
    oo += oc[k];
    if (Math.abs(cc - oo) > o.edgeSlack[k]) {
      out.push(`histogram bin ${k}: cli=${hc[k]} torch=${oc[k]}`);
      break;
    }
  }
  return out;
}

async function inspect(file) {
  try {
    const t0 = Date.now();
    const { stdout } = await run(process.execPath, [CLI, 'inspect', file, '--json'], {
      maxBuffer: BIG,
    });
    return { json: JSON.parse(stdout), ms: Date.now() - t0 };
  } catch (e) {
    return { error: (e.stderr || e.message).trim(), code: e.code };
  }
}

describe('model-lens inspect --json agrees with torch on PyTorch checkpoints', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ml-pytorch-'));
  const torchDir = join(dir, 'torch');
  let manifest = {};
  let oracle = {};
  const cli = new Map();

  before(async (t) => {
    assert.ok(existsSync(CLI), `${CLI} missing: run node scripts/build.mjs --tests`);
    t.diagnostic?.(`python3-torch ${ensureTorch()}`);
    const made = await run(
      PYTHON,
      [
        join(ROOT, 'test/fixtures/pytorch_fixtures.py'),
        torchDir,
        ...(LARGE_MB > 0 ? ['--large', String(LARGE_MB)] : []),
      ],
      { maxBuffer: BIG },
    );
    for (const [f, e] of Object.entries(JSON.parse(made.stdout))) manifest[join(torchDir, f)] = e;
    const require = createRequire(import.meta.url);
    const { writePytorchFixtures } = require(join(DIST, 'test/fixtures/pytorch.js'));
    for (const f of writePytorchFixtures(dir)) manifest[f] = BUILT[basename(f)];
    const toOracle = Object.fromEntries(
      Object.entries(manifest).filter(([, e]) => !e.error && !e.cliOnly),
    );
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(toOracle));
    const [stats] = await Promise.all([
      run(PYTHON, [join(ROOT, 'test/e2e/pytorch_stats.py'), join(dir, 'manifest.json')], {
        maxBuffer: BIG,
      }),
      (async () => {
        for (const f of Object.keys(manifest)) cli.set(f, await inspect(f));
      })(),
    ]);
    oracle = JSON.parse(stats.stdout).models;
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('covers torch.save files, our builder and a large file', () => {
    const names = Object.keys(manifest).map((f) => f.slice(dir.length + 1));
    for (const f of [
      'torch/views.pt',
      'torch/lightning.ckpt',
      'torch/hostile.pt',
      'pytorch/zip64.pt',
      ...(LARGE_MB > 0 ? ['torch/large.pt'] : []),
    ]) {
      assert.ok(names.includes(f), `${f} missing from ${names.join(', ')}`);
    }
  });

  const label = (f) => f.slice(dir.length + 1);
  it('agrees tensor by tensor with torch.load(weights_only=True) on every loadable checkpoint', (t) => {
    const problems = [];
    for (const [file, entry] of Object.entries(manifest)) {
      if (entry.error || entry.cliOnly) continue;
      const o = oracle[file];
      const c = cli.get(file);
      if (!o || o.error) problems.push(`${label(file)}: torch oracle failed: ${o?.error}`);
      else if (!c.json) problems.push(`${label(file)}: cli failed: ${c.error}`);
      else {
        if (c.json.format !== 'pytorch') problems.push(`${label(file)}: format ${c.json.format}`);
        const ours = c.json.tensors.map((x) => x.name);
        const theirs = o.tensors.map((x) => x.name);
        if (JSON.stringify(ours) !== JSON.stringify(theirs))
          problems.push(`${label(file)}: names cli=[${ours}] torch=[${theirs}]`);
        const byName = new Map(c.json.tensors.map((x) => [x.name, x]));
        for (const ot of o.tensors) {
          const ct = byName.get(ot.name);
          if (ct)
            for (const d of compareTensor(ct, ot))
              problems.push(`${label(file)} '${ot.name}' ${d}`);
        }
        t.diagnostic(
          `${label(file)}: ${o.tensors.length} tensors agree${c.ms > 1000 ? ` (cli ${c.ms} ms)` : ''}`,
        );
      }
    }
    assert.deepEqual(problems, []);
  });

  it('lists the globals a pickle names as opaque, runs none of them, and still reads the weights', () => {
    for (const [file, entry] of Object.entries(manifest)) {
      if (!entry.refused) continue;
      const c = cli.get(file);
      assert.ok(c.json, `${label(file)}: ${c.error}`);
      const opaque = c.json.metadata.properties
        .find((p) => p.key === 'opaque globals')
        ?.value.split(', ');
      assert.deepEqual(opaque, entry.refused, label(file));
      assert.match(c.json.warnings.join('\n'), /none was run/);
      if (entry.names)
        assert.deepEqual(
          c.json.tensors.map((x) => x.name),
          entry.names,
          label(file),
        );
      if (entry.load === 'hostile')
        assert.match(
          oracle[file].refusedBy,
          /posix|system|eval|Unsupported/i,
          'torch refuses it too',
        );
    }
    assert.ok(
      !existsSync(join(torchDir, 'pwned')) && !existsSync(join(dir, 'pytorch', 'pwned')),
      'a hostile pickle ran',
    );
  });

  it('refuses legacy and TorchScript files with a clear message', () => {
    for (const [file, entry] of Object.entries(manifest)) {
      if (!entry.error) continue;
      const c = cli.get(file);
      assert.ok(!c.json, `${label(file)} should be refused`);
      assert.ok(c.error.includes(entry.error), `${label(file)}: ${c.error}`);
    }
  });
});
