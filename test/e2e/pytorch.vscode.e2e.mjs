// PyTorch checkpoints in real VS Code (code-server + headless Chromium): a .pt opens in the
// inspector from the explorer with its tensors and a drawn histogram, and a hostile pickle opens
// with its refused globals shown as a warning. Same prerequisites as vscode.e2e.mjs
// (dist/model-lens.vsix and a samples folder from generate.js; test/e2e/run.sh makes both).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  EXTENSION_HOST_SETTLE_MS,
  frameWith,
  launchBrowser,
  repoRoot,
  startCodeServer,
} from './codeServer.mjs';

const vsix = process.env.MODEL_LENS_VSIX ?? join(repoRoot, 'dist/model-lens.vsix');
const samples = process.env.MODEL_LENS_SAMPLES ?? join(repoRoot, 'samples');
const artifacts = join(repoRoot, 'test-artifacts');

let tmp;
let server;
let browser;

async function openFile(t, folder, rel) {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
  const slug = t.name
    .replace(/[^a-z0-9]+/gi, '-')
    .replace(/^-|-$/g, '')
    .toLowerCase();
  t.after(async () => {
    await page.screenshot({ path: join(artifacts, `vscode-pytorch-${slug}.png`) }).catch(() => {});
    await writeFile(
      join(artifacts, `vscode-pytorch-${slug}.console.log`),
      consoleLines.join('\n') + '\n',
    );
    await page.close();
  });
  await page.goto(`${server.url}/?folder=${encodeURIComponent(folder)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  const row = (name) =>
    page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${name}"]`);
  await row('pytorch').waitFor({ timeout: 30_000 });
  await page.waitForTimeout(EXTENSION_HOST_SETTLE_MS);
  await row('pytorch').click();
  await row(rel).click();
  return page;
}

describe('PyTorch checkpoints in code-server', { timeout: 300_000 }, () => {
  before(async () => {
    assert.ok(existsSync(vsix), `missing packaged extension (npm run package): ${vsix}`);
    assert.ok(
      existsSync(join(samples, 'pytorch/views.pt')),
      `missing samples (node dist/test/fixtures/generate.js DIR): ${samples}`,
    );
    await mkdir(artifacts, { recursive: true });
    tmp = await mkdtemp(join(tmpdir(), 'model-lens-pt-e2e-'));
    await cp(samples, join(tmp, 'ws'), { recursive: true });
    server = await startCodeServer({ folder: join(tmp, 'ws'), vsix });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('a .pt opens in the inspector with its tensors and a histogram', async (t) => {
    const page = await openFile(t, join(tmp, 'ws'), 'views.pt');
    const frame = await frameWith(page, '[data-row]', 60_000);
    const text = await frame.locator('body').innerText();
    for (const name of ['cube_perm', 'half_t', 'PYTORCH'])
      assert.ok(text.toUpperCase().includes(name.toUpperCase()), `inspector lacks ${name}`);
    const histogram = frame.locator('#detail-histogram');
    if ((await histogram.count()) === 0) await frame.locator('[data-row]').first().click();
    await histogram.waitFor({ timeout: 30_000 });
    t.diagnostic(`${await frame.locator('[data-row]').count()} rows`);
  });

  test('a hostile pickle opens with its refused globals listed as a warning', async (t) => {
    const page = await openFile(t, join(tmp, 'ws'), 'hostile.pt');
    const frame = await frameWith(page, '.warning', 60_000);
    const warning = await frame.locator('.warning').first().innerText();
    assert.match(warning, /none was run.*posix\.system, builtins\.eval/s);
    assert.equal(
      existsSync(join(tmp, 'ws', 'pytorch', 'pwned')) ||
        existsSync(join(samples, 'pytorch', 'pwned')),
      false,
    );
  });
});
