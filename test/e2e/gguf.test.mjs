// GGUF end to end: `model-lens inspect --json` on the generated GGUF fixtures agrees with an
// independent numpy oracle (gguf_dequant.py: its own parser and the reference dequantization
// formulas); where llama.cpp's gguf-py wheel is on the machine, the oracle is itself checked
// against gguf-py's dequantizers bit for bit. Compressed variants (Q8_0, Q4_0) must equal the
// reference quantizers byte for byte. Needs `node scripts/build.mjs --tests` first.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = process.env.MODEL_LENS_DIST ?? join(ROOT, 'dist');
const CLI = join(DIST, 'cli.js');
const GENERATE = join(DIST, 'test/fixtures/generate.js');
const ORACLE = join(ROOT, 'test/e2e/gguf_dequant.py');
const PYTHON = process.env.MODEL_LENS_PYTHON ?? '/usr/bin/python3';
const WHEELS = '/opt/pypi/files';
const BIG = 1 << 28;
const FIXTURES = ['tiny-llama.gguf', 'tiny-float.gguf'];

const close = (a, b) => Math.abs(a - b) <= Math.max(1e-6 * Math.abs(b), 1e-12);

/** Disagreements between the CLI's tensor and the oracle's, as readable lines. */
function compare(c, o) {
  const out = [];
  const diff = (f, cv, ov) =>
    out.push(`${o.name} ${f}: cli=${JSON.stringify(cv)} numpy=${JSON.stringify(ov)}`);
  if (c.count !== o.count) diff('count', c.count, o.count);
  if (JSON.stringify(c.shape) !== JSON.stringify(o.shape)) diff('shape', c.shape, o.shape);
  if (o.error !== undefined) {
    if (c.error !== o.error) diff('error', c.error, o.error);
    return out;
  }
  if (c.error !== undefined) return [...out, `${o.name}: cli error ${c.error}`];
  for (const f of ['dtype', 'dtypeCode', 'min', 'max', 'zeros', 'nan', 'inf'])
    if (c[f] !== o[f]) diff(f, c[f], o[f]);
  for (const f of ['mean', 'std'])
    if (o[f] === null ? c[f] !== null : !close(c[f], o[f])) diff(f, c[f], o[f]);
  if (o.histogram) {
    let cc = 0;
    let oo = 0;
    for (let k = 0; k < o.histogram.counts.length - 1; k++) {
      cc += c.histogram.counts[k];
      oo += o.histogram.counts[k];
      if (Math.abs(cc - oo) > o.edgeSlack[k]) {
        diff(`histogram bin ${k}`, c.histogram.counts[k], o.histogram.counts[k]);
        break;
      }
    }
  }
  return out;
}

async function inspect(file) {
  const { stdout } = await run(process.execPath, [CLI, 'inspect', file, '--json'], {
    maxBuffer: BIG,
  });
  return JSON.parse(stdout);
}

async function oracle(env, ...args) {
  const { stdout } = await run(PYTHON, [ORACLE, ...args], { maxBuffer: BIG, env });
  return JSON.parse(stdout);
}

describe('GGUF: inspect and compress agree with numpy and the ggml reference', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ml-gguf-e2e-'));
  const env = { ...process.env };
  let withGgufPy = false;

  before(async () => {
    assert.ok(existsSync(CLI), `${CLI} missing: run node scripts/build.mjs --tests`);
    await run(process.execPath, [GENERATE, dir], { maxBuffer: BIG });
    // llama.cpp's gguf-py ships as a wheel on these machines; unzipped, it imports with Debian's numpy.
    const wheel = existsSync(WHEELS) && readdirSync(WHEELS).find((f) => /^gguf-.*\.whl$/.test(f));
    if (wheel) {
      const lib = join(dir, 'gguf-py');
      await run(PYTHON, ['-m', 'zipfile', '-e', join(WHEELS, wheel), lib]);
      env.PYTHONPATH = lib;
    }
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const name of FIXTURES) {
    it(`inspect ${name}`, async (t) => {
      const file = join(dir, name);
      const [cli, o] = await Promise.all([inspect(file), oracle(env, file)]);
      withGgufPy = o.ggufPy;
      const m = o.models[file];
      assert.ok(!m.error, m.error);
      assert.equal(cli.format, 'gguf');
      assert.equal(
        cli.metadata.properties.find((p) => p.key === 'gguf.version')?.value,
        String(m.version),
      );
      const problems = [];
      for (const ot of m.tensors) {
        const ct = cli.tensors.find((x) => x.name === ot.name);
        if (!ct) problems.push(`${ot.name}: missing from cli`);
        else problems.push(...compare(ct, ot));
        if (ot.ggufPy === false)
          problems.push(`${ot.name} (${ot.ggmlType}): the numpy oracle disagrees with gguf-py`);
      }
      assert.equal(cli.tensors.length, m.tensors.length);
      assert.deepEqual(problems, []);
      const checked = m.tensors.filter((x) => x.ggufPy === true).map((x) => x.ggmlType);
      t.diagnostic(
        `${m.tensors.length} tensors compared; oracle matched gguf-py on: ${checked.join(', ') || 'none (gguf-py not available)'}`,
      );
      if (withGgufPy && name === 'tiny-llama.gguf')
        assert.equal(
          checked.length,
          10,
          'every decoded quantized type but Q8_K is checked against gguf-py',
        );
    });
  }

  for (const method of ['int8', 'int4']) {
    it(`compress tiny-float.gguf --method ${method}`, async () => {
      const file = join(dir, 'tiny-float.gguf');
      const out = join(dir, `tiny-float.${method}.gguf`);
      await run(process.execPath, [CLI, 'compress', file, '--method', method, '-o', out], {
        maxBuffer: BIG,
      });
      const check = await oracle(env, '--quantized', file, out);
      assert.deepEqual(check.problems, []);
      assert.equal(check.checked, 7);
      if (env.PYTHONPATH) assert.equal(check.ggufPyRead, true, 'gguf-py reads the variant');
      const [cli, o] = await Promise.all([inspect(out), oracle(env, out)]);
      const m = o.models[out];
      const types = Object.fromEntries(m.tensors.map((x) => [x.name, x.ggmlType]));
      const q = method === 'int8' ? 'Q8_0' : 'Q4_0';
      assert.deepEqual(types, {
        'token_embd.weight': q,
        'blk.0.attn_q.weight': q,
        'blk.0.attn_norm.weight': 'F32',
        'blk.0.ffn_up.weight': 'F32',
        'blk.0.ffn_down.weight': q,
        'blk.0.ffn_gate.weight': 'Q4_K',
        'output.weight': q,
      });
      const problems = m.tensors.flatMap((ot) =>
        compare(
          cli.tensors.find((x) => x.name === ot.name),
          ot,
        ),
      );
      assert.deepEqual(problems, []);
    });
  }
});
