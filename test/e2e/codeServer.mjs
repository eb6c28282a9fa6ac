// Starts real VS Code (code-server) and headless Chromium for end-to-end tests; every process is killed on stop.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const codeServerEntry = join(
  repoRoot,
  '.vscode-test/code-server/node_modules/code-server/out/node/entry.js',
);
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const defaultSettings = {
  'workbench.startupEditor': 'none',
  'security.workspace.trust.enabled': false,
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'git.enabled': false,
};

/** Servers still running, with their temp dirs: cleaned up even if the process exits without stop(). */
const live = new Map();

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function cleanUpNow() {
  for (const [child, dir] of live) {
    killGroup(child, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  live.clear();
}

process.on('exit', cleanUpNow);
// code-server runs in its own process group, so Ctrl-C in a terminal does not reach it: forward the end.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    cleanUpNow();
    process.kill(process.pid, signal);
  });
}

/** Resolves with a loopback port nobody listens on, trying `preferred` first. */
export async function freePort(preferred = 0) {
  const tryPort = (port) =>
    new Promise((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(null));
      server.listen(port, '127.0.0.1', () => {
        const { port: bound } = server.address();
        server.close(() => resolve(bound));
      });
    });
  for (let port = preferred; preferred && port < preferred + 100; port++) {
    const got = await tryPort(port);
    if (got) return got;
  }
  const got = await tryPort(0);
  if (!got) throw new Error('no free loopback port');
  return got;
}

function run(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [codeServerEntry, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`code-server ${args.join(' ')} exited ${code}:\n${out}`)),
    );
  });
}

async function waitForHttp(url, child, output, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`code-server exited with ${child.exitCode}:\n${output()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`code-server did not answer at ${url} within ${timeoutMs} ms:\n${output()}`);
}

/**
 * Starts code-server on a free loopback port with fresh user-data and extensions dirs.
 * @param {{ folder: string, vsix?: string, settings?: object, env?: object, port?: number, quiet?: boolean }} options
 */
export async function startCodeServer({
  folder,
  vsix,
  settings = {},
  env = {},
  port,
  quiet = true,
}) {
  if (!existsSync(codeServerEntry)) {
    throw new Error(
      `code-server is not installed: run scripts/install-code-server.sh (missing ${codeServerEntry})`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'model-lens-code-server-'));
  const userDataDir = join(dir, 'user-data');
  const extensionsDir = join(dir, 'extensions');
  await mkdir(join(userDataDir, 'User'), { recursive: true });
  await mkdir(extensionsDir, { recursive: true });
  await writeFile(
    join(userDataDir, 'User', 'settings.json'),
    JSON.stringify({ ...defaultSettings, ...settings }, null, 2),
  );
  const childEnv = { ...process.env, ...env };
  // Inherited from a surrounding VS Code terminal, these would make code-server talk to that instance instead.
  for (const key of Object.keys(childEnv)) if (key.startsWith('VSCODE_')) delete childEnv[key];
  // No marketplace: the machine is offline and tests must not depend on one.
  childEnv.EXTENSIONS_GALLERY ??= '{}';
  const dirs = ['--extensions-dir', extensionsDir, '--user-data-dir', userDataDir];
  if (vsix) await run([...dirs, '--install-extension', vsix], childEnv);

  const chosen = await freePort(port);
  const child = spawn(
    process.execPath,
    [
      codeServerEntry,
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${chosen}`,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      // Keeps code-server from creating ~/.config/code-server/config.yaml.
      '--config',
      join(dir, 'config.yaml'),
      ...dirs,
      folder,
    ],
    // Own process group, so stop() also reaches the extension hosts and file watchers it forks.
    { env: childEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  live.set(child, dir);
  let log = '';
  const onData = (d) => {
    log += d;
    if (!quiet) process.stderr.write(d);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((resolve) => child.once('exit', resolve));

  const url = `http://127.0.0.1:${chosen}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    // Helpers it forked may outlive the leader after SIGTERM; the group id still reaches them.
    killGroup(child, 'SIGKILL');
    live.delete(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForHttp(`${url}/healthz`, child, () => log, 60_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, port: chosen, userDataDir, extensionsDir, log: () => log, stop, exited };
}

/** Launches Debian's Chromium headless; the flags keep it off the (closed) network. */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/** Extension host start-up: the custom editor must be registered before a model is opened (DESIGN.md). */
export const EXTENSION_HOST_SETTLE_MS = 5000;

/** The explorer row of `name`, once the extension host has had time to start. */
export async function explorerRow(page, name) {
  const row = page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${name}"]`);
  await row.waitFor({ timeout: 30_000 });
  await page.waitForTimeout(EXTENSION_HOST_SETTLE_MS);
  return row;
}

/** The (nested) frame whose document matches `selector`: webview content lives in child frames of the page. */
export async function frameWith(page, selector, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      if (frame === page.mainFrame()) continue;
      if (
        (await frame
          .locator(selector)
          .count()
          .catch(() => 0)) > 0
      )
        return frame;
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`no frame with ${selector} after ${timeoutMs} ms`);
}

export const THEMES = {
  dark: 'Default Dark Modern',
  light: 'Default Light Modern',
  hc: 'Default High Contrast',
};

export const sha256 = async (file) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

/** Switches the colour theme through the workspace settings file, which the workbench watches. */
export async function setTheme(page, folder, theme) {
  await mkdir(join(folder, '.vscode'), { recursive: true });
  await writeFile(
    join(folder, '.vscode/settings.json'),
    JSON.stringify({ 'workbench.colorTheme': THEMES[theme] }),
  );
  const kind = { dark: 'vs-dark', light: 'vs', hc: 'hc-black' }[theme];
  await page.locator(`.monaco-workbench.${kind}`).waitFor({ timeout: 15_000 });
  await page.waitForTimeout(800);
}

/** Runs a command by its palette title. */
export async function runPaletteCommand(page, title) {
  await page.keyboard.press('Control+Shift+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: 10_000 });
  await input.fill(`>${title}`);
  const row = page.locator(`.quick-input-list .monaco-list-row[aria-label^="${title}"]`);
  await row.first().waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter');
}

/** Accepts the entry of the open quick pick whose label contains `label`. */
export async function pickQuickItem(page, label) {
  const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', {
    hasText: label,
  });
  await row.first().waitFor({ timeout: 15_000 });
  await row.first().click();
}

export async function waitForFile(file, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  return existsSync(file);
}

/** Types a path into code-server's file dialog (a quick input that fills in its folder a moment after opening) and accepts it. */
export async function choosePath(page, file) {
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 15_000 });
  for (let attempt = 0; attempt < 10 && (await input.inputValue()) !== file; attempt++) {
    await page.waitForTimeout(500);
    await input.fill(file);
    await page.waitForTimeout(300);
  }
  assert.equal(await input.inputValue(), file, 'the file dialog did not take the path');
  await page.keyboard.press('Enter');
}

/** The report card's "Measured on …" line, once the active report tab is `title` and the line contains `expected`. */
export async function reportMeasuredOn(page, title, expected, timeoutMs) {
  await page
    .locator('.tabs-container .tab.active .label-name', { hasText: title })
    .waitFor({ timeout: timeoutMs });
  const deadline = Date.now() + timeoutMs;
  let seen = '';
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      const texts = await frame
        .locator('.measured-on')
        .allTextContents()
        .catch(() => []);
      seen = texts.join(' | ') || seen;
      if (texts.some((x) => x.includes(expected))) return texts.find((x) => x.includes(expected));
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`no report line with "${expected}" after ${timeoutMs} ms; last seen: ${seen}`);
}
