// Runs the extension-host suite in desktop VS Code (`npm run test:vscode`), downloaded by @vscode/test-electron.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runTests } from '@vscode/test-electron';

// This file is bundled to dist/test/vscode/runDesktop.js.
const root = resolve(__dirname, '../../..');

async function main(): Promise<void> {
  const workspace = mkdtempSync(join(tmpdir(), 'model-lens-vscode-'));
  try {
    execFileSync(process.execPath, [join(root, 'dist/test/fixtures/generate.js'), workspace], {
      stdio: 'inherit',
    });
    await runTests({
      // Offline machines can point this at an installed VS Code instead of downloading one.
      vscodeExecutablePath: process.env.VSCODE_EXECUTABLE_PATH,
      extensionDevelopmentPath: root,
      extensionTestsPath: join(root, 'dist/test/vscode/suite.js'),
      // test-electron itself adds --disable-workspace-trust, --skip-welcome and --skip-release-notes.
      launchArgs: [workspace, '--disable-extensions'],
    });
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
