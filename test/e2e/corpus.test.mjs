// Every model.onnx of Debian's ONNX backend-test corpus (libonnx-testdata) must open:
// `model-lens inspect FILE --json` exits 0 and prints one JSON document with format 'onnx'.
// One CLI process per model, two at a time (the machine has two cores).
// Needs `node scripts/build.mjs --tests` first. Env: MODEL_LENS_DIST (the build to test, default dist/).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(process.env.MODEL_LENS_DIST ?? join(ROOT, 'dist'), 'cli.js');
const CORPUS = '/usr/share/libonnx-testdata/data';
const CONCURRENCY = 2;

function findModels(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name === 'model.onnx')
    .map((e) => join(e.parentPath ?? e.path, e.name))
    .sort();
}

/** Problems with one model's CLI result; empty when it opened cleanly. */
async function openModel(file) {
  let stdout;
  try {
    ({ stdout } = await run(process.execPath, [CLI, 'inspect', file, '--json'], {
      maxBuffer: 1 << 28,
    }));
  } catch (e) {
    return [
      `exit ${e.code}: ${(e.stderr || e.message).trim().split('\n').slice(0, 3).join(' | ')}`,
    ];
  }
  let doc;
  try {
    doc = JSON.parse(stdout);
  } catch (e) {
    return [`stdout is not one JSON document: ${e.message}`];
  }
  const problems = [];
  if (doc.format !== 'onnx') problems.push(`format ${JSON.stringify(doc.format)}`);
  if (!Array.isArray(doc.tensors)) problems.push('no tensors array');
  for (const t of doc.tensors ?? []) {
    const product = (t.shape ?? []).reduce((a, b) => a * b, 1);
    if (product !== t.count)
      problems.push(`tensor '${t.name}': count ${t.count} but shape [${t.shape}]`);
  }
  return problems;
}

const MODELS = findModels(CORPUS);
const GROUPS = [...new Set(MODELS.map((m) => relative(CORPUS, m).split('/')[0]))];

describe('every model of the ONNX backend-test corpus opens', () => {
  const failures = new Map(); // model -> problems
  let seconds = 0;

  before(async () => {
    assert.ok(existsSync(CLI), `${CLI} missing: run node scripts/build.mjs --tests`);
    const start = process.hrtime.bigint();
    let next = 0;
    const worker = async () => {
      while (next < MODELS.length) {
        const m = MODELS[next++];
        const problems = await openModel(m);
        if (problems.length) failures.set(m, problems);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    seconds = Number(process.hrtime.bigint() - start) / 1e9;
  });

  it(`finds the corpus at ${CORPUS}`, (t) => {
    // libonnx-testdata 1.14 ships 1072; fewer means the package is missing or broken.
    assert.ok(
      MODELS.length >= 1000,
      `${MODELS.length} models under ${CORPUS}: apt-get install libonnx-testdata`,
    );
    t.diagnostic(
      `${MODELS.length} models opened in ${seconds.toFixed(1)} s (${((seconds * 1000) / MODELS.length).toFixed(0)} ms each, ${CONCURRENCY} at a time)`,
    );
  });

  for (const group of GROUPS) {
    const members = MODELS.filter((m) => relative(CORPUS, m).startsWith(`${group}/`));
    it(`${group} (${members.length} models)`, () => {
      const bad = members
        .filter((m) => failures.has(m))
        .map((m) => `${relative(CORPUS, m)}: ${failures.get(m).join('; ')}`);
      assert.deepEqual(
        bad,
        [],
        `${bad.length} of ${members.length} failed:\n  ${bad.join('\n  ')}`,
      );
    });
  }
});
