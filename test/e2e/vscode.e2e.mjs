// Model Lens in real VS Code (code-server + headless Chromium): explorer, context menu, palette, webview, extension host.
// Needs dist/model-lens.vsix (`npm run package`), dist/test/vscode/suite.js (`node scripts/build.mjs --tests`)
// and a samples folder (`node dist/test/fixtures/generate.js DIR`); test/e2e/run.sh makes all three.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { explorerRow, frameWith, launchBrowser, repoRoot, startCodeServer } from './codeServer.mjs';

const vsix = process.env.MODEL_LENS_VSIX ?? join(repoRoot, 'dist/model-lens.vsix');
const samples = process.env.MODEL_LENS_SAMPLES ?? join(repoRoot, 'samples');
const suiteJs = join(repoRoot, 'dist/test/vscode/suite.js');
const artifacts = join(repoRoot, 'test-artifacts');
const MODEL = 'cnn.onnx';

let tmp;
let server;
let browser;
let resultFile;

async function workspaceCopy(name) {
  const dir = join(tmp, name);
  await cp(samples, dir, { recursive: true });
  return dir;
}

/** Opens a workbench window; console output of the page and its webview frames is kept for the artifacts. */
async function openWorkbench(t, folder, payload) {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.stack ?? e}`));
  const slug = t.name
    .replace(/[^a-z0-9]+/gi, '-')
    .replace(/^-|-$/g, '')
    .toLowerCase();
  t.after(async () => {
    await page.screenshot({ path: join(artifacts, `vscode-${slug}.png`) }).catch(() => {});
    await writeFile(join(artifacts, `vscode-${slug}.console.log`), consoleLines.join('\n') + '\n');
    await page.close();
  });
  let url = `${server.url}/?folder=${encodeURIComponent(folder)}`;
  if (payload) url += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  await page.goto(url);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  return { page, consoleLines };
}

/** Pixels of the canvas that differ from its most common colour (the background). */
function canvasInk(frame, selector) {
  return frame.evaluate((sel) => {
    const canvas = document.querySelector(sel);
    if (!(canvas instanceof HTMLCanvasElement) || canvas.width === 0 || canvas.height === 0)
      return -1;
    // Copy first so this works whatever context the UI drew with.
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
    for (const p of pixels) {
      let diff = 0;
      for (const shift of [0, 8, 16, 24])
        diff += Math.abs(channel(p, shift) - channel(background, shift));
      if (diff > 48) ink++;
    }
    return ink;
  }, selector);
}

describe('Model Lens in code-server', { timeout: 600_000 }, () => {
  before(async () => {
    for (const [what, path] of [
      ['packaged extension (npm run package)', vsix],
      ['extension-host suite (node scripts/build.mjs --tests)', suiteJs],
      [
        `samples folder with ${MODEL} (node dist/test/fixtures/generate.js DIR)`,
        join(samples, MODEL),
      ],
    ]) {
      assert.ok(existsSync(path), `missing ${what}: ${path}`);
    }
    await mkdir(artifacts, { recursive: true });
    tmp = await mkdtemp(join(tmpdir(), 'model-lens-e2e-'));
    resultFile = join(tmp, 'extension-host-result.json');
    server = await startCodeServer({
      folder: samples,
      vsix,
      env: { MODEL_LENS_TEST_RESULT: resultFile },
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    if (server) {
      await writeFile(join(artifacts, 'code-server.log'), server.log());
      await server.stop();
    }
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('opening a model from the explorer shows the inspector with layers and a histogram', async (t) => {
    const { page, consoleLines } = await openWorkbench(t, await workspaceCopy('open'));
    await (await explorerRow(page, MODEL)).click();
    const frame = await frameWith(page, '[data-row]', 60_000);
    const rows = await frame.locator('[data-row]').count();
    assert.ok(rows > 0, 'the layer table has no rows');

    const histogram = frame.locator('#detail-histogram');
    if ((await histogram.count()) === 0) await frame.locator('[data-row]').first().click();
    await histogram.waitFor({ timeout: 30_000 });
    // Statistics stream in from worker threads; poll until the histogram has been drawn.
    let ink = 0;
    const deadline = Date.now() + 60_000;
    while ((ink = await canvasInk(frame, '#detail-histogram')) < 50 && Date.now() < deadline) {
      await page.waitForTimeout(250);
    }
    assert.ok(ink >= 50, `#detail-histogram has ${ink} non-background pixels`);
    const blocked = consoleLines.filter((l) => /Content Security Policy|Refused to/i.test(l));
    assert.deepEqual(blocked, [], 'the webview CSP blocked something it needs');
    t.diagnostic(`${rows} layer rows, ${ink} histogram pixels`);
  });

  test('a GGUF model opens from the explorer with its ggml storage types', async (t) => {
    const { page, consoleLines } = await openWorkbench(t, await workspaceCopy('gguf'));
    await (await explorerRow(page, 'tiny-llama.gguf')).click();
    const frame = await frameWith(page, '[data-row]', 60_000);
    assert.ok((await frame.locator('[data-row]').count()) > 0, 'the layer table has no rows');
    // Quantized tensors show how the file stores them, decoded statistics beside them.
    await frame.locator('[data-row]', { hasText: 'Q8_0' }).first().waitFor({ timeout: 30_000 });
    await frame.getByText(/^Statistics for/).waitFor({ timeout: 60_000 });
    const blocked = consoleLines.filter((l) => /Content Security Policy|Refused to/i.test(l));
    assert.deepEqual(blocked, [], 'the webview CSP blocked something it needs');
  });

  test('a file that is not a model shows the same one-line reason as the CLI', async (t) => {
    const folder = await workspaceCopy('broken');
    await writeFile(join(folder, 'broken.onnx'), 'hello, this is not a model\n');
    const cli = spawnSync(
      process.execPath,
      [join(repoRoot, 'dist/cli.js'), 'inspect', join(folder, 'broken.onnx')],
      { encoding: 'utf8' },
    );
    const reason = cli.stderr.trim().replace(/^model-lens: .*?broken\.onnx: /, '');
    assert.equal(cli.status, 1);
    assert.ok(reason.length > 0 && !reason.includes('\n'), `CLI reason: ${cli.stderr}`);
    const { page } = await openWorkbench(t, folder);
    await (await explorerRow(page, 'broken.onnx')).click();
    const frame = await frameWith(page, '.failure-text', 60_000);
    const shown = await frame.locator('.failure-text').textContent();
    assert.equal(shown, `broken.onnx: ${reason}`);
  });

  test('the explorer context menu has a Model Lens submenu with Inspect Model', async (t) => {
    const { page } = await openWorkbench(t, await workspaceCopy('menu'));
    await (await explorerRow(page, MODEL)).click({ button: 'right' });
    const submenu = page.locator('.monaco-menu .action-item', { hasText: /^Model Lens$/ });
    await submenu.waitFor({ timeout: 10_000 });
    await submenu.hover();
    const entries = page.locator('.monaco-menu .action-label');
    await entries.filter({ hasText: /^Inspect Model$/ }).waitFor({ timeout: 10_000 });
    const labels = await entries.allTextContents();
    assert.ok(labels.includes('Inspect Model'), `menu entries: ${labels.join(', ')}`);
    await page.screenshot({ path: join(artifacts, 'vscode-context-menu.png') });
    await page.keyboard.press('Escape');
  });

  test('the command palette offers "Model Lens: Inspect Model"', async (t) => {
    const { page } = await openWorkbench(t, await workspaceCopy('palette'));
    await explorerRow(page, MODEL);
    await page.keyboard.press('Control+Shift+P');
    await page.locator('.quick-input-widget input').waitFor({ timeout: 10_000 });
    await page.keyboard.type('Model Lens: Inspect Model');
    const row = page.locator(
      '.quick-input-list .monaco-list-row[aria-label^="Model Lens: Inspect Model"]',
    );
    await row.first().waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(artifacts, 'vscode-command-palette.png') });
    await page.keyboard.press('Escape');
  });

  test('the extension-host mocha suite passes inside code-server', async (t) => {
    const installed = (await readdir(server.extensionsDir)).find((d) =>
      d.startsWith('model-lens.model-lens-'),
    );
    assert.ok(installed, `the VSIX did not install into ${server.extensionsDir}`);
    const remote = (path) => `vscode-remote://127.0.0.1:${server.port}${path}`;
    // The installed VSIX is the extension under development, so the suite tests exactly what ships.
    const { consoleLines } = await openWorkbench(t, await workspaceCopy('extension-host'), [
      ['extensionDevelopmentPath', remote(join(server.extensionsDir, installed))],
      ['extensionTestsPath', remote(suiteJs)],
    ]);
    // The workbench logs an error naming $extensionTestsExecute when the suite cannot even load.
    const loadFailed = () => consoleLines.some((l) => l.includes('$extensionTestsExecute'));
    const deadline = Date.now() + 180_000;
    while (!existsSync(resultFile) && !loadFailed() && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 500));
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(
      existsSync(resultFile),
      `the extension-host suite wrote no result; console errors:\n${consoleLines.filter((l) => l.startsWith('[error]')).join('\n')}`,
    );
    const result = JSON.parse(await readFile(resultFile, 'utf8'));
    for (const r of result.tests)
      t.diagnostic(`${r.state}: ${r.title}${r.error ? `\n${r.error}` : ''}`);
    for (const [k, v] of Object.entries(result.measures ?? {}))
      t.diagnostic(`measure ${k}: ${v.toFixed(1)}`);
    if (result.measures)
      await writeFile(
        join(artifacts, 'extension-host-measures.json'),
        JSON.stringify(result.measures, null, 2) + '\n',
      );
    assert.equal(result.failed, 0, `${result.failed} extension-host tests failed`);
    assert.ok(result.passed >= 4, `only ${result.passed} extension-host tests ran`);
  });
});
