// Extension-host tests: run() executes inside real VS Code (desktop via runDesktop.ts, code-server via the e2e test).
import * as assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import Mocha from 'mocha';
import * as vscode from 'vscode';

const EXTENSION_ID = 'model-lens.model-lens';
const VIEW_TYPE = 'modelLens.inspector';
/** Set by the code-server e2e test, whose browser-hosted workbench cannot report an exit code. */
const RESULT_ENV = 'MODEL_LENS_TEST_RESULT';

export interface SuiteResult {
  passed: number;
  failed: number;
  tests: { title: string; state: 'passed' | 'failed'; error?: string }[];
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function sampleModel(): Promise<vscode.Uri> {
  const found = await vscode.workspace.findFiles('**/*.onnx');
  assert.ok(found.length > 0, 'the workspace has no .onnx file (generate fixtures into it first)');
  return found.find((u) => u.path.endsWith('/cnn.onnx')) ?? found[0];
}

/** The active tab once it shows `uri` in the Model Lens custom editor. */
function inspectorTabFor(uri: vscode.Uri): vscode.TabInputCustom | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  return input instanceof vscode.TabInputCustom && input.viewType === VIEW_TYPE && input.uri.toString() === uri.toString()
    ? input
    : undefined;
}

function defineTests(root: Mocha.Suite): void {
  const suite = Mocha.Suite.create(root, 'Model Lens in the extension host');
  suite.timeout(60_000);
  suite.afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  suite.addTest(
    new Mocha.Test('the extension is installed and activates', async () => {
      const extension = vscode.extensions.getExtension(EXTENSION_ID);
      assert.ok(extension, `${EXTENSION_ID} is not installed`);
      await extension.activate();
      assert.equal(extension.isActive, true);
    }),
  );

  suite.addTest(
    new Mocha.Test('its commands are registered', async () => {
      await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
      const commands = new Set(await vscode.commands.getCommands(true));
      for (const id of ['modelLens.inspect', 'modelLens.exportStatistics']) {
        assert.ok(commands.has(id), `command ${id} is not registered`);
      }
    }),
  );

  suite.addTest(
    new Mocha.Test(`vscode.openWith opens a ${VIEW_TYPE} custom editor tab`, async () => {
      const uri = await sampleModel();
      await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
      const input = await waitFor(`a ${VIEW_TYPE} tab for ${uri.path}`, () => inspectorTabFor(uri));
      assert.equal(input.viewType, VIEW_TYPE);
    }),
  );

  suite.addTest(
    new Mocha.Test('modelLens.inspect opens the inspector for a model', async () => {
      const uri = await sampleModel();
      await vscode.commands.executeCommand('modelLens.inspect', uri);
      await waitFor(`modelLens.inspect to show ${uri.path}`, () => inspectorTabFor(uri));
    }),
  );
}

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', color: false, reporter: 'spec' });
  defineTests(mocha.suite);
  const result: SuiteResult = { passed: 0, failed: 0, tests: [] };
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const file = process.env[RESULT_ENV];
      if (file) writeFileSync(file, JSON.stringify(result, null, 2));
      if (failures > 0) reject(new Error(`${failures} of ${result.tests.length} extension-host tests failed`));
      else resolve();
    });
    runner.on('pass', (test) => {
      result.passed++;
      result.tests.push({ title: test.fullTitle(), state: 'passed' });
    });
    runner.on('fail', (test, err: Error) => {
      result.failed++;
      result.tests.push({ title: test.fullTitle(), state: 'failed', error: err.stack ?? String(err) });
    });
  });
}
