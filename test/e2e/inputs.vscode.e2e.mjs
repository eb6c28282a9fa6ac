// A model that cannot run on random inputs, in real VS Code (code-server + headless Chromium): the
// Sensitivity scan of silero VAD v5 (its int64 `sr` input is random) fails with the CLI's one line in
// an error notification; Choose Input Files… takes a .npz (written by numpy, an independent writer)
// and the scan runs again on it, its summary saying what it measured on; Re-run then calibrates and
// verifies on the same file, a compression verifies on it too (the choice is remembered per model),
// and after Use random inputs a compression's check offers the same way out, the report card saying
// what the new numbers were measured on.
// Env: MODEL_LENS_VSIX (default dist/model-lens.vsix), MODEL_LENS_ZOO_DIR (default .cache/zoo/models,
// with silero_vad_v5.onnx from @ricky0123/vad-web).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { zooModel } from './realModels.mjs';
import {
  choosePath,
  explorerRow,
  frameWith,
  launchBrowser,
  pickQuickItem,
  repoRoot,
  reportMeasuredOn,
  runPaletteCommand,
  startCodeServer,
  waitForFile,
} from './codeServer.mjs';

const vsix = process.env.MODEL_LENS_VSIX ?? join(repoRoot, 'dist/model-lens.vsix');
const artifacts = join(repoRoot, 'test-artifacts');
const MODEL = 'silero_vad_v5.onnx';

let tmp;
let server;
let browser;

describe('inputs a model cannot run on, in code-server', { timeout: 600_000 }, () => {
  before(async () => {
    assert.ok(existsSync(vsix), `missing packaged extension (npm run package): ${vsix}`);
    await mkdir(artifacts, { recursive: true });
    tmp = await mkdtemp(join(tmpdir(), 'model-lens-inputs-e2e-'));
    server = await startCodeServer({ folder: tmp, vsix });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    if (server) {
      await writeFile(join(artifacts, 'inputs-code-server.log'), server.log());
      await server.stop();
    }
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('silero v5: the scan fails in one line with Choose Input Files…, which runs it again on a .npz', async (t) => {
    const folder = join(tmp, 'silero');
    await mkdir(folder, { recursive: true });
    await copyFile(zooModel(MODEL), join(folder, MODEL));
    const npz = join(folder, 'chunk.npz');
    // 32 ms of a 440 Hz tone at 16 kHz, a zero LSTM state and the rate: what a user of the model feeds it.
    const py =
      'import numpy as np,sys; t=np.arange(512)/16000.0; np.savez(sys.argv[1], input=(0.3*np.sin(2*np.pi*440*t)).astype(np.float32)[None,:], state=np.zeros((2,1,128),np.float32), sr=np.array(16000,dtype=np.int64))';
    execFileSync('/usr/bin/python3', ['-c', py, npz]);

    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    t.after(async () => {
      await page.screenshot({ path: join(artifacts, 'inputs-silero.png') }).catch(() => {});
      await page.close();
    });
    await page.goto(`${server.url}/?folder=${encodeURIComponent(folder)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await (await explorerRow(page, MODEL)).click();
    const frame = await frameWith(page, '[data-view="sensitivity"]', 60_000);
    await frame.locator('[data-view="sensitivity"]').click();
    await frame.locator('.scan-run').waitFor({ state: 'visible', timeout: 15_000 });
    await frame.locator('.scan-run').click();

    const reason =
      'cannot run the model on random inputs (input [1,512], state [2,1,128], sr = random int64): ';
    const line = `${MODEL}: ${reason}`;
    const toast = page.locator('.notification-toast', {
      hasText: 'cannot run the model on random inputs',
    });
    await toast.waitFor({ timeout: 120_000 });
    const message = (await toast.locator('.notification-list-item-message').textContent()).trim();
    assert.ok(message.startsWith(`Model Lens: ${line}`), message);
    assert.match(message, /; give --shape\/--value\/--inputs$/);
    const banner = await frame.locator('.banner').textContent();
    assert.ok(
      banner.includes(`Sensitivity failed: ${reason}`),
      `the tab does not show the same line: ${banner}`,
    );
    await page.screenshot({ path: join(artifacts, 'inputs-silero-notification.png') });

    await toast.locator('.monaco-button', { hasText: 'Choose Input Files…' }).click();
    await choosePath(page, npz);

    await frame.locator('.scan-table tbody tr[data-index]').first().waitFor({ timeout: 180_000 });
    const summary = await frame.locator('.scan-summary').textContent();
    assert.ok(
      summary.includes(
        'Measured on 1 sample: input float32[1,512] from chunk.npz:input; state float32[2,1,128] from chunk.npz:state; sr int64[] from chunk.npz:sr',
      ),
      summary,
    );
    const onFile =
      '1 sample: input float32[1,512] from chunk.npz:input; state float32[2,1,128] from chunk.npz:state; sr int64[] from chunk.npz:sr';

    // Re-run (no pins, no goal: plain int8) writes the variant and verifies it on the files the scan used.
    await frame.locator('.scan-rerun').click();
    assert.ok(
      await waitForFile(join(folder, 'silero_vad_v5.int8.onnx'), 120_000),
      'Re-run wrote no variant',
    );
    const rerunLine = await reportMeasuredOn(
      page,
      /^Report: silero_vad_v5\.int8\.onnx$/,
      onFile,
      120_000,
    );

    // The file is remembered for the model (Choose Calibration Data…'s store): a compression verifies on it at once.
    const toModel = async () => {
      await page
        .locator('.tabs-container .tab .label-name', { hasText: /^silero_vad_v5\.onnx$/ })
        .click();
      await page.waitForTimeout(1500);
    };
    await toModel();
    await runPaletteCommand(page, 'Model Lens: Convert to FP16');
    const fp16Line = await reportMeasuredOn(
      page,
      /^Report: silero_vad_v5\.fp16\.onnx$/,
      onFile,
      120_000,
    );

    // Back on random inputs, a compression's check fails the same way; Choose Input Files… verifies again on the file.
    await toModel();
    await runPaletteCommand(page, 'Model Lens: Choose Calibration Data…');
    await pickQuickItem(page, 'Use random inputs');
    await runPaletteCommand(page, 'Model Lens: Quantize to INT4');
    const verifyToast = page.locator('.notification-toast', {
      hasText: 'silero_vad_v5.onnx: cannot run the model on random inputs',
    });
    await verifyToast.waitFor({ timeout: 120_000 });
    await verifyToast.locator('.monaco-button', { hasText: 'Choose Input Files…' }).click();
    await choosePath(page, npz);
    const int4Line = await reportMeasuredOn(
      page,
      /^Report: silero_vad_v5\.int4\.onnx$/,
      onFile,
      120_000,
    );
    await page.screenshot({ path: join(artifacts, 'inputs-silero-report.png') });
    t.diagnostic(
      `notification: ${message}; summary: ${summary.replace(/\s+/g, ' ').slice(0, 300)}; Re-run report: ${rerunLine}; fp16 report (remembered): ${fp16Line}; int4 report (chosen again): ${int4Line}`,
    );
  });
});
