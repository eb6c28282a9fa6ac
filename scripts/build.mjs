// Bundles every entry with esbuild. Flags: --tests (also test bundles), --production (minify), --clean, --watch.
import * as esbuild from 'esbuild';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { watPlugin } from './wat.mjs';

const args = new Set(process.argv.slice(2));
const production = args.has('--production');
const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'warning',
  absWorkingDir: root,
  plugins: [watPlugin],
};

const builds = [
  {
    ...node,
    entryPoints: { extension: 'src/extension/extension.ts' },
    outdir: dist,
    external: ['vscode'],
  },
  { ...node, entryPoints: { worker: 'src/node/worker.ts' }, outdir: dist },
  {
    ...node,
    entryPoints: { cli: 'src/cli/main.ts' },
    outdir: dist,
    banner: { js: '#!/usr/bin/env node' },
  },
  {
    bundle: true,
    platform: 'browser',
    target: 'chrome120',
    format: 'iife',
    sourcemap: production ? false : 'linked',
    minify: production,
    logLevel: 'warning',
    absWorkingDir: root,
    plugins: [watPlugin],
    // report and compare import their stylesheets from media/, so esbuild ships them as dist/webview/*.css.
    entryPoints: {
      main: 'webview/main.ts',
      report: 'webview/report/main.ts',
      compare: 'webview/compare/main.ts',
    },
    outdir: join(dist, 'webview'),
  },
];

if (args.has('--tests')) {
  const entries = {};
  for (const dir of ['test/unit', 'test/fixtures', 'test/vscode']) {
    for (const f of readdirSync(join(root, dir))) {
      if (f.endsWith('.ts')) entries[join(dir, f.slice(0, -3))] = join(dir, f);
    }
  }
  builds.push({
    ...node,
    entryPoints: entries,
    outdir: dist,
    external: ['vscode', 'mocha', 'playwright-core'],
  });
}

// Only --clean empties dist/: several builds (tests, packaging, a watcher) may share it at once,
// and esbuild overwrites what it writes anyway.
if (args.has('--clean')) {
  for (const entry of existsSync(dist) ? readdirSync(dist) : []) {
    if (!entry.endsWith('.vsix')) rmSync(join(dist, entry), { recursive: true, force: true });
  }
}
mkdirSync(join(dist, 'webview'), { recursive: true });
cpSync(
  join(root, 'node_modules/@vscode/codicons/dist/codicon.css'),
  join(dist, 'webview/codicon.css'),
);
cpSync(
  join(root, 'node_modules/@vscode/codicons/dist/codicon.ttf'),
  join(dist, 'webview/codicon.ttf'),
);
// onnxruntime-web's Node entry loads its WebAssembly at run time from here (src/node/verify/ortWeb.ts).
mkdirSync(join(dist, 'ort'), { recursive: true });
for (const f of ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm']) {
  cpSync(join(root, 'node_modules/onnxruntime-web/dist', f), join(dist, 'ort', f));
}

if (args.has('--watch')) {
  for (const b of builds) await (await esbuild.context(b)).watch();
  console.log('watching…');
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
