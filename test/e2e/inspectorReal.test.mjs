// The inspector webview on real models (PP-OCRv4 det and rec, silero VAD v5) in Chromium, light, dark,
// high contrast and a narrow window: the screenshot harness fails on header chips that overlap or are cut
// off, a whole-model chart that does not clip their extreme BatchNorm variances, console errors and CSP
// violations. Needs `node scripts/build.mjs` and the zoo models (scripts/zoo-fetch.mjs).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { ROOT } from './realModels.mjs';

it('inspector header and whole-model histogram hold real models (screenshots in test-artifacts/harness)', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'test/harness/screenshot.mjs'), '--real'], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  for (const model of ['ch_PP-OCRv4_det_infer', 'ch_PP-OCRv4_rec_infer', 'silero_vad_v5']) {
    assert.match(
      r.stdout,
      new RegExp(
        `real-${model}-dark-narrow: Range p0\\.1–p99\\.9 .*values beyond.*; header without overlaps`,
      ),
    );
  }
  assert.match(r.stdout, /no console errors or CSP violations/);
});
