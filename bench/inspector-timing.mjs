// Times the inspector in real VS Code (code-server + Chromium): click a model in the explorer →
// first table row painted (structure) → statistics complete. Usage:
//   node bench/inspector-timing.mjs [--mb 100] [--json out.json]
// One cold open per run: a second open in the same extension host is served from the cache.
// Needs `npm run package` (dist/model-lens.vsix), a test build (dist/test/fixtures/generate.js)
// and code-server (scripts/install-code-server.sh).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { frameWith, launchBrowser, repoRoot, startCodeServer } from '../test/e2e/codeServer.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const mb = Number(opt('mb', '100'));
const jsonOut = opt('json', '');

const dir = mkdtempSync(join(tmpdir(), 'model-lens-timing-'));

try {
  execFileSync(
    process.execPath,
    [join(repoRoot, 'dist/test/fixtures/generate.js'), dir, '--large', String(mb)],
    { stdio: 'ignore' },
  );
  const server = await startCodeServer({
    folder: dir,
    vsix: join(repoRoot, 'dist/model-lens.vsix'),
  });
  const browser = await launchBrowser();
  let result;
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.goto(`${server.url}/?folder=${encodeURIComponent(dir)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    const row = page.locator('.explorer-folders-view .monaco-list-row[aria-label="big.onnx"]');
    await row.waitFor({ timeout: 30_000 });
    // Let the extension host finish starting, so the custom editor (not the text editor) opens the file.
    await page.waitForTimeout(4000);
    const t0 = Date.now();
    await row.click();
    const frame = await frameWith(page, '[data-row]', 120_000);
    const firstPaintMs = Date.now() - t0;
    await frame.getByText(/^Statistics for/).waitFor({ timeout: 600_000 });
    result = { modelMB: mb, firstPaintMs, statsCompleteMs: Date.now() - t0 };
  } finally {
    await browser.close();
    await server.stop();
  }
  console.log(JSON.stringify(result));
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
