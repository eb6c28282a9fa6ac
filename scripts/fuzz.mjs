// Bundles the fuzzing harness (src/fuzz) and runs it with this script's arguments; see src/fuzz/main.ts.
import * as esbuild from 'esbuild';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { watPlugin } from './wat.mjs';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'dist', 'fuzz.js');
await esbuild.build({
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  absWorkingDir: root,
  entryPoints: ['src/fuzz/main.ts'],
  outfile: out,
  plugins: [watPlugin],
});
const run = spawnSync(process.execPath, ['--enable-source-maps', out, ...process.argv.slice(2)], {
  stdio: 'inherit',
});
process.exit(run.status ?? 2);
