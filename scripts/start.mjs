// `npm start`: builds and packages Model Lens, writes sample models to samples/, and opens them in VS Code:
// desktop `code` when it is on PATH, otherwise code-server on http://127.0.0.1:8080 (or the next free port).
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const vsix = join(root, 'dist/model-lens.vsix');
const samples = join(root, 'samples');

function step(what, command, args) {
  console.log(`\n> ${what}`);
  execFileSync(command, args, { cwd: root, stdio: 'inherit' });
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
// Samples first: the generator lives in the test build, and packaging empties dist/ afterwards.
step('build (with test fixtures)', process.execPath, ['scripts/build.mjs', '--tests']);
step('generate sample models into samples/', process.execPath, [
  'dist/test/fixtures/generate.js',
  samples,
]);
step('package the VSIX', npm, ['run', 'package']);

const code = spawnSync('code', ['--version'], {
  stdio: 'ignore',
  shell: process.platform === 'win32',
});
if (code.status === 0) {
  step('install into VS Code', 'code', ['--install-extension', vsix, '--force']);
  step('open samples/ in VS Code', 'code', [samples]);
} else {
  step('install code-server (first run takes a minute or two)', 'bash', [
    'scripts/install-code-server.sh',
  ]);
  const { startCodeServer } = await import('../test/e2e/codeServer.mjs');
  console.log('\n> start code-server with Model Lens installed');
  const server = await startCodeServer({ folder: samples, vsix, port: 8080 });
  console.log(
    `\nModel Lens is running in code-server: ${server.url}/?folder=${encodeURIComponent(samples).replaceAll('%2F', '/')}`,
  );
  console.log('Open a .onnx file in the explorer. Press Ctrl-C to stop.');
  // codeServer.mjs stops the server on Ctrl-C; an exit before that is a crash.
  server.exited.then((status) => {
    console.error(`code-server stopped unexpectedly (${status}):\n${server.log()}`);
    process.exit(1);
  });
}
