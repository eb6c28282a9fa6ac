// Calibration data in real VS Code (code-server + headless Chromium), on the zoo's PaddleOCR
// direction classifier and text-line crops rendered by data_gen.py: Edit Preprocessing Recipe writes
// the same file as `model-lens recipe --write`; a broken recipe is one error line naming the file;
// the Sensitivity tab's Calibration data… button chooses the crops folder, the scan and a compression
// say they measured on "16 images in crops/", the report's Calibration Data… and Verify Again measure
// on a folder with bad files and list them; the choice survives a reload, and Use random inputs goes back.
// Env: MODEL_LENS_VSIX (default dist/model-lens.vsix), MODEL_LENS_ZOO_DIR (default .cache/zoo/models).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, PYTHON, zooCopy } from './realModels.mjs';
import {
  choosePath,
  explorerRow,
  frameWith,
  launchBrowser,
  pickQuickItem,
  repoRoot,
  reportMeasuredOn,
  runPaletteCommand,
  setTheme,
  startCodeServer,
  waitForFile,
} from './codeServer.mjs';

const vsix = process.env.MODEL_LENS_VSIX ?? join(repoRoot, 'dist/model-lens.vsix');
const artifacts = join(repoRoot, 'test-artifacts');
const MODEL = 'ch_ppocr_mobile_v2.0_cls_infer.onnx';
const RECIPE = 'ch_ppocr_mobile_v2.0_cls_infer.lens.json';
const CLS_RECIPE = {
  version: 1,
  inputs: {
    x: {
      kind: 'image',
      width: 192,
      height: 48,
      fit: 'pad',
      order: 'BGR',
      layout: 'NCHW',
      scale: 1 / 255,
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
    },
  },
};
const MODEL_TAB = /^ch_ppocr_mobile_v2\.0_cls_infer\.onnx$/;
const ON_CROPS = `16 samples: x float32[1,3,48,192] from 16 images in crops/ (recipe ${RECIPE})`;

let tmp;
let server;
let browser;

/** Chooses `folder` through the command's quick pick (already open) and code-server's file dialog. */
async function chooseFolder(page, folder) {
  await pickQuickItem(page, 'Choose a folder…');
  const title = page.locator('.quick-input-widget .quick-input-title', {
    hasText: 'folders of images or recordings',
  });
  await title.waitFor({ timeout: 15_000 });
  // Enter on a folder's path opens it in code-server's dialog; its OK button then takes the folder, as a user would.
  await choosePath(page, folder);
  await page
    .locator('.quick-input-widget input')
    .and(page.locator(`[value="${folder}/"]`))
    .waitFor({ timeout: 15_000 })
    .catch(() => {});
  const ok = page.locator('.quick-input-widget .monaco-button', { hasText: 'Use for Calibration' });
  if (await title.isVisible()) await ok.click();
  await title.waitFor({ state: 'hidden', timeout: 15_000 });
}

/** The Sensitivity tab's frame, with the tab shown. */
async function sensitivityTab(page) {
  const frame = await frameWith(page, '[data-view="sensitivity"]', 60_000);
  await frame.locator('[data-view="sensitivity"]').click();
  await frame.locator('.scan-run').waitFor({ state: 'visible', timeout: 15_000 });
  return frame;
}

async function dataLabel(frame, expected) {
  const label = frame.locator('.scan-data-choice');
  await label.filter({ hasText: expected }).waitFor({ timeout: 30_000 });
  return (await label.textContent()).trim();
}

describe('calibration data chosen in code-server', { timeout: 900_000 }, () => {
  before(async () => {
    assert.ok(existsSync(vsix), `missing packaged extension (npm run package): ${vsix}`);
    await mkdir(artifacts, { recursive: true });
    tmp = await mkdtemp(join(tmpdir(), 'model-lens-data-e2e-'));
    server = await startCodeServer({ folder: tmp, vsix });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    if (server) {
      await writeFile(join(artifacts, 'data-code-server.log'), server.log());
      await server.stop();
    }
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('PaddleOCR classifier: recipe, a folder of crops, what it measured on, and the choice remembered', async (t) => {
    const folder = join(tmp, 'cls');
    await mkdir(folder, { recursive: true });
    execFileSync(PYTHON, [join(import.meta.dirname, 'data_gen.py'), folder]);
    zooCopy(MODEL, folder);
    const recipe = join(folder, RECIPE);
    // The CLI's proposal for the same model, written beside a second copy: the extension must write the same bytes.
    const cliDir = join(tmp, 'cli');
    await mkdir(cliDir, { recursive: true });
    execFileSync(process.execPath, [CLI, 'recipe', zooCopy(MODEL, cliDir), '--write']);
    const proposal = readFileSync(join(cliDir, RECIPE), 'utf8');

    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const consoleLines = [];
    page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.stack ?? e}`));
    t.after(async () => {
      await page.screenshot({ path: join(artifacts, 'data-last.png') }).catch(() => {});
      await writeFile(join(artifacts, 'data.console.log'), consoleLines.join('\n') + '\n');
      await page.close();
    });
    await page.goto(`${server.url}/?folder=${encodeURIComponent(folder)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await (await explorerRow(page, MODEL)).click();
    let frame = await sensitivityTab(page);
    assert.equal(await dataLabel(frame, 'random inputs'), 'random inputs');

    // Edit Preprocessing Recipe writes the proposal (as the CLI does) and opens it.
    await runPaletteCommand(page, 'Model Lens: Edit Preprocessing Recipe');
    assert.ok(await waitForFile(recipe, 60_000), 'no recipe written');
    await page
      .locator('.tabs-container .tab.active .label-name', { hasText: RECIPE })
      .waitFor({ timeout: 30_000 });
    assert.equal(
      readFileSync(recipe, 'utf8'),
      proposal,
      'the extension and the CLI propose different recipes',
    );

    // A recipe with a bad field: the scan fails with its one line, naming the file, as an error notification.
    await writeFile(
      recipe,
      JSON.stringify({ ...CLS_RECIPE, inputs: { x: { ...CLS_RECIPE.inputs.x, width: 0 } } }),
    );
    await page.locator('.tabs-container .tab .label-name', { hasText: MODEL_TAB }).click();
    frame = await sensitivityTab(page);
    await frame.locator('.scan-data-button').click();
    await chooseFolder(page, join(folder, 'crops'));
    assert.equal(await dataLabel(frame, 'crops/'), 'crops/');
    await frame.locator('.scan-run').click();
    const recipeToast = page.locator('.notification-toast', { hasText: RECIPE });
    await recipeToast.waitFor({ timeout: 120_000 });
    const recipeMessage = (
      await recipeToast.locator('.notification-list-item-message').textContent()
    ).trim();
    assert.equal(
      recipeMessage,
      `Model Lens: ${RECIPE}: inputs.x.width must be a positive whole number, not 0`,
    );
    assert.ok(await recipeToast.locator('.monaco-button', { hasText: 'Edit Recipe' }).isVisible());
    await page.screenshot({ path: join(artifacts, 'data-recipe-error.png') });
    assert.ok(
      (await frame.locator('.banner').textContent()).includes(
        `Sensitivity failed: ${RECIPE}: inputs.x.width`,
      ),
      'the tab names the recipe file too',
    );
    await recipeToast.hover();
    await recipeToast.locator('.codicon-notifications-clear').click({ timeout: 5000 });

    // The right recipe: the scan measures on the first 8 crops (the tab's sample count caps data).
    await writeFile(recipe, JSON.stringify(CLS_RECIPE, null, 2));
    await frame.locator('.scan-run').click();
    await frame.locator('.scan-table tbody tr[data-index]').first().waitFor({ timeout: 300_000 });
    const summary = (await frame.locator('.scan-summary').textContent()).replace(/\s+/g, ' ');
    assert.ok(
      summary.includes(
        `Measured on 8 samples: x float32[1,3,48,192] from 8 images in crops/ (the first 8 of 16 files) (recipe ${RECIPE})`,
      ),
      summary,
    );
    assert.ok(await frame.locator('.banner').isHidden(), "the failed attempt's banner is gone");
    for (const theme of ['light', 'dark', 'hc']) {
      await setTheme(page, folder, theme);
      await page.screenshot({ path: join(artifacts, `data-sensitivity-${theme}.png`) });
    }

    // A compression verifies on all 16 crops, and both the notification and the report say so.
    await runPaletteCommand(page, 'Model Lens: Quantize to INT8');
    const reportLine = await reportMeasuredOn(
      page,
      /^Report: ch_ppocr_mobile_v2\.0_cls_infer\.int8\.onnx$/,
      ON_CROPS,
      180_000,
    );
    const wrote = page.locator('.notification-toast', {
      hasText: 'Wrote ch_ppocr_mobile_v2.0_cls_infer.int8.onnx',
    });
    await wrote.waitFor({ timeout: 30_000 });
    const wroteMessage = (
      await wrote.locator('.notification-list-item-message').textContent()
    ).trim();
    assert.ok(wroteMessage.includes(`measured on ${ON_CROPS}`), wroteMessage);

    // The report's Calibration Data… picks a folder with bad files and verifies again: two crops used, three listed as skipped.
    const report = await frameWith(page, '.data-bar', 30_000);
    assert.equal((await report.locator('.data-choice').textContent()).trim(), 'crops/');
    await report.locator('.data-bar vscode-button', { hasText: 'Calibration Data…' }).click();
    await chooseFolder(page, join(folder, 'mixed'));
    const mixedLine = await reportMeasuredOn(
      page,
      /^Report: ch_ppocr_mobile_v2\.0_cls_infer\.int8\.onnx$/,
      `2 samples: x float32[1,3,48,192] from 2 images in mixed/ (recipe ${RECIPE})`,
      180_000,
    );
    const skipped = report.locator('.callout.warn', { hasText: 'files skipped' });
    await skipped.waitFor({ timeout: 30_000 });
    const skippedText = (await skipped.textContent()).trim();
    assert.match(skippedText, /^3 files skipped: .*notes\.png: not a PNG or JPEG file/);
    assert.equal((await report.locator('.data-choice').textContent()).trim(), 'mixed/');
    for (const theme of ['light', 'dark', 'hc']) {
      await setTheme(page, folder, theme);
      await page.screenshot({ path: join(artifacts, `data-report-${theme}.png`) });
    }

    // Back on the crops, chosen from the palette with the model's tab active; the report follows, and Verify Again (keyboard only) measures on them.
    await page.locator('.tabs-container .tab .label-name', { hasText: MODEL_TAB }).click();
    await page.waitForTimeout(1000);
    await runPaletteCommand(page, 'Model Lens: Choose Calibration Data…');
    await chooseFolder(page, join(folder, 'crops'));
    await page
      .locator('.tabs-container .tab .label-name', {
        hasText: /^Report: ch_ppocr_mobile_v2\.0_cls_infer\.int8\.onnx$/,
      })
      .click();
    const again = await frameWith(page, '.data-bar', 30_000);
    await again.locator('.data-choice', { hasText: 'crops/' }).waitFor({ timeout: 30_000 });
    assert.ok(
      (await again.locator('.measured-on').textContent()).includes('mixed/'),
      "the numbers on screen are still the last check's",
    );
    await again.locator('.data-bar vscode-button', { hasText: 'Verify Again' }).focus();
    await page.keyboard.press('Enter');
    const againLine = await reportMeasuredOn(
      page,
      /^Report: ch_ppocr_mobile_v2\.0_cls_infer\.int8\.onnx$/,
      ON_CROPS,
      180_000,
    );

    // A reload keeps the choice (workspace state); Use random inputs goes back, and a compression says random.
    await page.reload();
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await (await explorerRow(page, MODEL)).click();
    frame = await sensitivityTab(page);
    assert.equal(await dataLabel(frame, 'crops/'), 'crops/');
    await frame.locator('.scan-data-button').click();
    await pickQuickItem(page, 'Use random inputs');
    assert.equal(await dataLabel(frame, 'random inputs'), 'random inputs');
    await runPaletteCommand(page, 'Model Lens: Convert to FP16');
    const randomLine = await reportMeasuredOn(
      page,
      /^Report: ch_ppocr_mobile_v2\.0_cls_infer\.fp16\.onnx$/,
      '8 random samples (seed 0)',
      180_000,
    );
    t.diagnostic(
      `recipe error: ${recipeMessage}; scan: ${summary.slice(0, 240)}; int8: ${reportLine}; notification: ${wroteMessage}; mixed: ${mixedLine} / ${skippedText}; again: ${againLine}; random: ${randomLine}`,
    );
  });
});
