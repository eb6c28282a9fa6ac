// Dev harness: serves dist/webview + media over loopback with the real inspectorHtml() shell (same CSP),
// feeds it from test/harness/stub.js, and takes Chromium screenshots in light, dark and high-contrast.
// Usage: node test/harness/screenshot.mjs [outDir]   (after `node scripts/build.mjs`)
//        node test/harness/screenshot.mjs --serve     (only serve, print the URL, for a browser of your own)
//        node test/harness/screenshot.mjs --real      (only the real models: zoo files read by the real core)
// Real models come from MODEL_LENS_ZOO_DIR (default .cache/zoo/models); a missing one is an error.
import * as esbuild from 'esbuild';
import { createServer } from 'node:http';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join, normalize, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { watPlugin } from '../../scripts/wat.mjs';

const root = new URL('../..', import.meta.url).pathname;
const serveOnly = process.argv.includes('--serve');
const out =
  process.argv.slice(2).find((a) => !a.startsWith('--')) ?? join(root, 'test-artifacts/harness');
mkdirSync(out, { recursive: true });
if (!existsSync(join(root, 'dist/webview/main.js')))
  throw new Error('dist/webview/main.js missing: run node scripts/build.mjs');

const bundled = await esbuild.build({
  entryPoints: [join(root, 'src/extension/webviewHtml.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  write: false,
});
const { inspectorHtml, makeNonce } = await import(
  `data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString('base64')}`
);

const zoo = process.env.MODEL_LENS_ZOO_DIR ?? join(root, '.cache/zoo/models');
const realBundle = resolve(out, 'realModel.cjs');
await esbuild.build({
  entryPoints: [join(root, 'test/harness/realModel.ts')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  outfile: realBundle,
  plugins: [watPlugin],
  logLevel: 'warning',
});
const { realModelMessages } = createRequire(import.meta.url)(realBundle);
const realCache = new Map();
/** The model and its statistics as a script defining window.HARNESS_REAL (typed arrays as plain arrays). */
function realModelScript(name) {
  if (!realCache.has(name)) {
    const m = realModelMessages(join(zoo, name));
    const results = m.results.map((r) =>
      r.stats
        ? {
            ...r,
            stats: {
              ...r.stats,
              histogram: { ...r.stats.histogram, counts: Array.from(r.stats.histogram.counts) },
            },
          }
        : r,
    );
    realCache.set(name, `window.HARNESS_REAL = ${JSON.stringify({ ...m, results })};`);
  }
  return realCache.get(name);
}

const types = {
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.ttf': 'font/ttf',
  '.map': 'application/json',
  '.html': 'text/html',
};
const allowed = ['/dist/webview/', '/media/', '/test/harness/'];

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (url.pathname === '/') {
    const origin = `http://${req.headers.host}`;
    const nonce = makeNonce();
    let html = inspectorHtml({
      cspSource: origin,
      nonce,
      scriptUri: `${origin}/dist/webview/main.js`,
      styleUri: `${origin}/media/inspector.css`,
      codiconUri: `${origin}/dist/webview/codicon.css`,
    });
    // VS Code's default webview styles come before the extension's own; the fake host script before main.js.
    html = html.replace(
      '<link rel="stylesheet"',
      `<link rel="stylesheet" href="${origin}/test/harness/vscode-defaults.css">\n<link rel="stylesheet"`,
    );
    const model = url.searchParams.get('model');
    const real = model
      ? `<script nonce="${nonce}" src="${origin}/real-model.js?model=${encodeURIComponent(model)}"></script>\n`
      : '';
    html = html.replace(
      `<script nonce="${nonce}"`,
      `<script nonce="${nonce}" src="${origin}/test/harness/themes.js"></script>\n${real}<script nonce="${nonce}" src="${origin}/test/harness/stub.js"></script>\n<script nonce="${nonce}"`,
    );
    res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    return;
  }
  if (url.pathname === '/real-model.js') {
    const name = url.searchParams.get('model') ?? '';
    // Only a plain file name inside the zoo folder.
    if (!/^[\w.-]+$/.test(name) || !existsSync(join(zoo, name))) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(realModelScript(name));
    return;
  }
  if (url.pathname === '/favicon.ico') {
    res.writeHead(204).end();
    return;
  }
  const path = normalize(url.pathname);
  if (!allowed.some((p) => path.startsWith(p)) || !existsSync(join(root, path))) {
    res.writeHead(404).end();
    return;
  }
  res
    .writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' })
    .end(readFileSync(join(root, path)));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}/`;
if (serveOnly) {
  console.log(
    `serving ${base}?scenario=resnet|big|failed|empty&theme=light|dark|hc (or ?model=FILE from ${zoo})`,
  );
  await new Promise(() => {});
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const problems = [];

async function open(query, { width = 1280, height = 860, scale = 1 } = {}) {
  const page = await browser.newPage({ viewport: { width, height }, deviceScaleFactor: scale });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning')
      problems.push(`${query}: console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`${query}: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${query}: HTTP ${r.status()} ${r.url()}`);
  });
  await page.goto(`${base}?${query}`);
  return page;
}

const statsDone = (page) =>
  page.waitForFunction(
    () => document.querySelector('.status')?.textContent?.startsWith('Statistics for'),
    null,
    { timeout: 60_000 },
  );
const settle = (page) =>
  page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
const shot = async (page, name) => {
  await settle(page);
  await page.screenshot({ path: join(out, `${name}.png`) });
  console.log(`wrote ${name}.png`);
};

/** Pixels with any alpha on a canvas: a blank canvas has none. */
const inkedPixels = (page, selector) =>
  page.evaluate((sel) => {
    const c = document.querySelector(sel);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  }, selector);

async function finish() {
  await browser.close();
  server.close();
  if (problems.length) {
    console.log(`\n${problems.length} console problem(s):\n${[...new Set(problems)].join('\n')}`);
    process.exitCode = 1;
  } else {
    console.log('no console errors or CSP violations');
  }
}

/** Header elements that overlap one another or stick out of their row: long shapes must wrap instead. */
const headerOverlaps = (page) =>
  page.evaluate(() => {
    const boxes = [
      ...document.querySelectorAll(
        '.structure .chip, .structure .structure-label, .structure .link-button',
      ),
    ].map((el) => [el, el.getBoundingClientRect()]);
    const out = [];
    for (const el of document.querySelectorAll('.structure .chip, .io-name, .io-type')) {
      if (el.scrollWidth > el.clientWidth + 1)
        out.push(`${el.textContent} is cut off (${el.scrollWidth} > ${el.clientWidth} px)`);
    }
    for (let i = 0; i < boxes.length; i++) {
      const [a, ra] = boxes[i];
      const row = a.closest('.structure').getBoundingClientRect();
      if (ra.right > row.right + 0.5)
        out.push(`${a.textContent} sticks out by ${Math.round(ra.right - row.right)} px`);
      for (let j = i + 1; j < boxes.length; j++) {
        const [b, rb] = boxes[j];
        if (
          ra.left < rb.right - 0.5 &&
          rb.left < ra.right - 0.5 &&
          ra.top < rb.bottom - 0.5 &&
          rb.top < ra.bottom - 0.5
        )
          out.push(`${a.textContent} overlaps ${b.textContent}`);
      }
    }
    return out;
  });

// Real models (PP-OCRv4 det and rec, silero VAD v5): the whole-model chart's clipped range and its outlier list, and the header's long shapes.
const REAL = ['ch_PP-OCRv4_det_infer.onnx', 'ch_PP-OCRv4_rec_infer.onnx', 'silero_vad_v5.onnx'];
for (const file of REAL) {
  if (!existsSync(join(zoo, file)))
    throw new Error(`${file} missing from ${zoo}: run node scripts/zoo-fetch.mjs`);
  const slug = file.replace(/\.onnx$/, '').replace(/[^\w]+/g, '-');
  for (const [theme, width] of [
    ['light', 1280],
    ['dark', 1280],
    ['hc', 1280],
    ['dark', 760],
  ]) {
    const page = await open(`theme=${theme}&scenario=real&model=${file}`, { width, height: 860 });
    await statsDone(page);
    const name = `real-${slug}-${theme}${width < 1280 ? '-narrow' : ''}`;
    await shot(page, name);
    const overlaps = await headerOverlaps(page);
    if (overlaps.length) problems.push(`${name}: ${overlaps.join('; ')}`);
    const clipped = await page.isVisible('.chart-clip');
    console.log(
      `${name}: ${clipped ? await page.textContent('.clip-headline') : 'full range, no clipping'}; header ${overlaps.length ? overlaps.join('; ') : 'without overlaps'}`,
    );
    await page.close();
  }
  // Keyboard: the first outlier tensor selects its row; the toggle shows the full range and back.
  const page = await open(`theme=dark&scenario=real&model=${file}`);
  await statsDone(page);
  if (await page.isVisible('.chart-clip')) {
    await page.focus('.clip-tensor');
    const wanted = await page.textContent('.clip-tensor .clip-name');
    await page.keyboard.press('Enter');
    await settle(page);
    const selected = await page.textContent('.detail-title');
    console.log(`${file}: Enter on the first outlier tensor selects ${selected}`);
    if (!selected.includes(wanted))
      problems.push(`${file}: Enter on ${wanted} selected ${selected}`);
    await page.focus('.clip-toggle');
    await page.keyboard.press('Enter');
    await settle(page);
    const full = await page.textContent('.clip-headline');
    if (!full.startsWith('Full range'))
      problems.push(`${file}: the toggle did not show the full range: ${full}`);
    await shot(page, `real-${slug}-dark-full-range`);
    await page.keyboard.press('Enter');
    await settle(page);
    if (!(await page.textContent('.clip-headline')).startsWith('Range'))
      problems.push(`${file}: the toggle did not clip again`);
  }
  await page.close();
}
if (process.argv.includes('--real')) {
  await finish();
  process.exit();
}

for (const theme of ['light', 'dark', 'hc']) {
  const page = await open(`theme=${theme}`);
  await statsDone(page);
  await page.focus('.grid');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await shot(page, `resnet-${theme}`);
  const canvas = await page.$('#detail-histogram');
  const box = await canvas.boundingBox();
  await page.mouse.move(box.x + box.width * 0.55, box.y + box.height * 0.6);
  await shot(page, `resnet-${theme}-hover`);
  console.log(
    `${theme}: detail histogram inked pixels = ${await inkedPixels(page, '#detail-histogram')}, [data-row] = ${await page.locator('[data-row]').count()}`,
  );
  await page.close();
}

{
  const page = await open('theme=dark&hold=60');
  await page.waitForFunction(() =>
    document.querySelector('.status')?.textContent?.includes('60 /'),
  );
  await page.focus('.grid');
  await page.keyboard.press('End');
  await shot(page, 'resnet-dark-streaming');
  // Theme switch at runtime must redraw the canvases.
  await page.evaluate(() => window.harness.applyTheme('light'));
  await shot(page, 'resnet-streaming-switched-to-light');
  await page.close();
}

{
  const page = await open('theme=dark', { width: 1800, height: 950 });
  await statsDone(page);
  await page.click('[data-column="sparsity"]');
  await page.click('[data-column="sparsity"]');
  await page.fill('.filter >> input', 'layer3');
  await page.waitForTimeout(300);
  await page.focus('.grid');
  for (const key of ['PageDown', 'PageDown', 'ArrowDown', 'ArrowDown'])
    await page.keyboard.press(key);
  await page.click('.log-toggle');
  await shot(page, 'resnet-dark-wide-sorted-filtered');
  // State survives the webview being torn down and recreated (tab hidden and shown again).
  const snapshot = () =>
    page.evaluate(() => {
      const sorted = document.querySelector('.grid-header-cell:not([aria-sort="none"])');
      return {
        filter: document.querySelector('.filter').value,
        sort: `${sorted?.dataset.column} ${sorted?.getAttribute('aria-sort')}`,
        selected: document.querySelector('.detail-title').textContent,
        scrollTop: document.querySelector('.grid').scrollTop,
        log: document.querySelector('.log-toggle').checked,
      };
    });
  const before = await snapshot();
  await page.waitForTimeout(300);
  await page.reload();
  await statsDone(page);
  await settle(page);
  const after = await snapshot();
  console.log('state before reload:', JSON.stringify(before));
  console.log(
    'state after reload: ',
    JSON.stringify(after),
    JSON.stringify(before) === JSON.stringify(after) ? 'RESTORED' : 'MISMATCH',
  );
  if (JSON.stringify(before) !== JSON.stringify(after))
    problems.push('state was not restored after reload');
  await page.close();
}

{
  // Keyboard only: tab order, sorting from a header, reading histogram bins with arrow keys.
  const page = await open('theme=dark');
  await statsDone(page);
  const order = [];
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press('Tab');
    order.push(
      await page.evaluate(() => {
        const el = document.activeElement;
        return (
          el.id || el.dataset.column || el.getAttribute('aria-label') || el.className || el.tagName
        );
      }),
    );
  }
  console.log('tab order:', order.join(' → '));
  await page.focus('[data-column="layer"]');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Enter');
  const sorted = await page.evaluate(() => [
    document.querySelector('[data-column="tensor"]').getAttribute('aria-sort'),
    [...document.querySelectorAll('.grid-row[data-row] .col-tensor')]
      .slice(0, 3)
      .map((c) => c.textContent),
  ]);
  console.log('keyboard sort by tensor:', JSON.stringify(sorted));
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('PageDown');
  await page.focus('#detail-histogram');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  console.log(
    'histogram read-out:',
    await page.getAttribute('#detail-histogram', 'aria-valuetext'),
  );
  await shot(page, 'keyboard-dark');
  await page.close();
}

{
  const page = await open('theme=light', { width: 900, height: 700, scale: 2 });
  await statsDone(page);
  await shot(page, 'resnet-light-narrow-hidpi');
  await page.close();
}

{
  const page = await open('theme=dark&exportError=1');
  await statsDone(page);
  await page.click('vscode-button[data-format="csv"]');
  await page.waitForSelector('.banner:not([hidden])');
  await shot(page, 'export-error-dark');
  await page.close();
}

for (const theme of ['dark', 'light']) {
  const page = await open(`theme=${theme}&scenario=failed`);
  await page.waitForSelector('.failure:not([hidden])');
  await shot(page, `failed-${theme}`);
  await page.close();
}

{
  const page = await open('theme=dark&reload=hold');
  await page.waitForFunction(() => document.body.classList.contains('reloading'), null, {
    timeout: 10_000,
  });
  await shot(page, 'reloading-dark');
  await page.close();
}

{
  const page = await open('theme=dark&scenario=empty');
  await page.waitForSelector('.inspector:not([hidden])');
  await shot(page, 'empty-dark');
  await page.close();
}

{
  const page = await open('theme=dark&scenario=big', { width: 1400, height: 900 });
  await statsDone(page);
  const timings = await page.evaluate(async () => {
    const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const result = {};
    for (const column of ['sparsity', 'tensor', 'mean', 'count']) {
      const header = document.querySelector(`[data-column="${column}"]`);
      const runs = [];
      for (let i = 0; i < 4; i++) {
        const s = performance.now();
        header.click();
        const sync = performance.now() - s;
        await frame();
        runs.push([sync, performance.now() - s]);
      }
      result[column] = runs.map(([a, b]) => `${a.toFixed(1)}/${b.toFixed(1)}`).join(' ');
    }
    // Time the grid's own frame callback: ours run just before and just after it in the same frame.
    const grid = document.querySelector('.grid');
    const renders = [];
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => {
        let before = 0;
        requestAnimationFrame(() => (before = performance.now()));
        grid.scrollTop = (((i * 7919) % 50) / 50) * grid.scrollHeight;
        grid.dispatchEvent(new Event('scroll'));
        requestAnimationFrame(() => {
          renders.push(performance.now() - before);
          r();
        });
      });
    }
    renders.sort((a, b) => a - b);
    result.scrollJumpRenderMs = { median: renders[25].toFixed(2), max: renders[49].toFixed(2) };
    result.rowsInDom = document.querySelectorAll('[data-row]').length;
    result.rowCount = document.querySelector('.grid').getAttribute('aria-rowcount');
    // Last, as a fresh model message clears the statistics the sorts above used.
    const t0 = performance.now();
    window.dispatchEvent(new MessageEvent('message', { data: window.harness.lastModel }));
    result.loadModelSync = performance.now() - t0;
    await frame();
    result.loadModelToPaint = performance.now() - t0;
    return result;
  });
  console.log(
    '20k timings (ms, sort+render sync / to next paint):',
    JSON.stringify(timings, null, 1),
  );
  await page.close();
  const page2 = await open('theme=dark&scenario=big', { width: 1400, height: 900 });
  await statsDone(page2);
  await page2.click('[data-column="sparsity"]');
  await page2.focus('.grid');
  await page2.keyboard.press('Home');
  await shot(page2, 'big-20k-dark-sorted-by-sparsity');
  await page2.click('.actions .icon-button[aria-controls="model-summary"]');
  await page2.focus('.grid');
  await page2.keyboard.press('PageDown');
  await page2.keyboard.press('PageDown');
  await shot(page2, 'big-20k-dark-summary-collapsed');
  await page2.close();
}

await finish();
