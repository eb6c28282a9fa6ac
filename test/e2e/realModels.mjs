// Shared by the e2e tests on real third-party models: where the zoo's models are, a private copy of
// one (so no test ever writes next to the cached original), the CLI as JSON, and a plain cosine.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ZOO_MODELS } from '../../scripts/zoo-fetch.mjs';

export { ZOO_MODELS };
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(process.env.MODEL_LENS_DIST ?? join(ROOT, 'dist'), 'cli.js');
export const PYTHON = process.env.MODEL_LENS_PYTHON ?? '/usr/bin/python3';

/** The cached zoo model `file`; a missing one fails the test (run.sh and test:zoo fetch them first). */
export function zooModel(file) {
  const path = join(ZOO_MODELS, file);
  assert.ok(
    existsSync(path),
    `${path} missing: run node scripts/zoo-fetch.mjs (or set MODEL_LENS_ZOO_DIR)`,
  );
  return path;
}

/** A copy of zoo model `file` in `dir` (made once). */
export function zooCopy(file, dir) {
  const copy = join(dir, file);
  if (!existsSync(copy)) copyFileSync(zooModel(file), copy);
  return copy;
}

/** Runs the CLI and parses its JSON output. */
export async function cliJson(...args) {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, ...args], {
    maxBuffer: 1 << 26,
  });
  return JSON.parse(stdout);
}

/** Cosine similarity of two equal-length numeric arrays, in float64. */
export function cosine(a, b) {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}
