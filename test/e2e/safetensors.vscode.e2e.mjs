// safetensors in real VS Code (code-server + headless Chromium): a single file, a sharded model's
// index and a lone shard open in the Model Lens inspector from the explorer.
// Needs dist/model-lens.vsix (`npm run package`) and a samples folder (`node dist/test/fixtures/generate.js DIR`).
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
const samples = join(process.env.MODEL_LENS_SAMPLES ?? join(repoRoot, 'samples'), 'safetensors');
const artifacts = join(repoRoot, 'test-artifacts');

let tmp;
let server;
let browser;

/** Opens `file` of a fresh copy of `folder` from the explorer; returns the inspector's frame. */
async function openFromExplorer(t, folder, file) {
  const dir = join(tmp, `${t.name.replace(/[^a-z0-9]+/gi, '-')}`);
  await cp(folder, dir, { recursive: true });
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
  t.after(async () => {
    const slug = t.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    await page.screenshot({ path: join(artifacts, `safetensors-${slug}.png`) }).catch(() => {});
    await writeFile(
      join(artifacts, `safetensors-${slug}.console.log`),
      consoleLines.join('\n') + '\n',
    );
    await page.close();
  });
  await page.goto(`${server.url}/?folder=${encodeURIComponent(dir)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  const row = page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${file}"]`);
  await row.waitFor({ timeout: 30_000 });
  await page.waitForTimeout(EXTENSION_HOST_SETTLE_MS);
  await row.click();
  const frame = await frameWith(page, '[data-row]', 60_000);
  const blocked = consoleLines.filter((l) => /Content Security Policy|Refused to/i.test(l));
  assert.deepEqual(blocked, [], 'the webview CSP blocked something it needs');
  return { page, frame };
}

describe('safetensors in code-server', { timeout: 600_000 }, () => {
  before(async () => {
    assert.ok(existsSync(vsix), `missing packaged extension (npm run package): ${vsix}`);
    assert.ok(
      existsSync(join(samples, 'sharded/model.safetensors.index.json')),
      `missing samples (node dist/test/fixtures/generate.js DIR): ${samples}`,
    );
    await mkdir(artifacts, { recursive: true });
    tmp = await mkdtemp(join(tmpdir(), 'model-lens-st-e2e-'));
    server = await startCodeServer({ folder: samples, vsix });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('model.safetensors opens in the inspector with one row per layer', async (t) => {
    const { frame } = await openFromExplorer(t, samples, 'model.safetensors');
    // Rows are layers (dotted prefixes); the fixture has 8 tensors in 8 layers.
    await frame.locator('[data-row]').nth(7).waitFor({ timeout: 30_000 });
    const text = await frame.locator('body').innerText();
    for (const name of ['model.layers.0.mlp.up_proj', 'model.layers.10.mlp.down_proj', 'lm_head'])
      assert.ok(text.includes(name), `no ${name} in the inspector`);
    t.diagnostic(`${await frame.locator('[data-row]').count()} rows`);
    // The layer tree by dotted prefix: opening model, then picking layers, filters the table to them.
    await frame
      .locator('vscode-tree-item[data-filter="model."]')
      .click({ position: { x: 40, y: 10 } });
    const layersNode = frame.locator('vscode-tree-item[data-filter="model.layers."]');
    await layersNode.waitFor({ state: 'visible', timeout: 10_000 });
    await layersNode.click({ position: { x: 60, y: 10 } });
    await frame.waitForFunction(
      () => document.querySelector('.filter')?.value === 'model.layers.',
      null,
      { timeout: 10_000 },
    );
    const rows = await frame.locator('[data-row]').allInnerTexts();
    assert.ok(
      rows.length > 0 && rows.every((r) => r.includes('model.layers.')),
      `filtered rows: ${rows.join(' | ')}`,
    );
  });

  test('the index of a sharded model shows the whole model', async (t) => {
    const { frame } = await openFromExplorer(
      t,
      join(samples, 'sharded'),
      'model.safetensors.index.json',
    );
    await frame.locator('[data-row]').nth(9).waitFor({ timeout: 30_000 });
    const text = await frame.locator('body').innerText();
    assert.ok(
      text.includes('model.embed_tokens') && text.includes('model.layers.1.mlp.up_proj'),
      'layers of both shards are listed',
    );
  });

  test('a lone shard says it is part of a sharded model', async (t) => {
    const { frame } = await openFromExplorer(
      t,
      join(samples, 'sharded'),
      'model-00002-of-00002.safetensors',
    );
    await frame
      .locator('.warning', { hasText: 'part of a sharded model' })
      .waitFor({ timeout: 30_000 });
  });
});
