/** When a model cannot run on the inputs chosen for it: say so in one line and offer to choose input files. */
import * as vscode from 'vscode';
import { INPUT_FILE_TYPES } from '../node/verify/inputFiles';

const CHOOSE = 'Choose Input Files…';

/**
 * Shows `message` (an InputsRejectedError's line) for `name` as an error notification with a button
 * that asks for tensor files (what `--inputs` reads) and hands them to `rerun`. Does not wait for the user.
 */
export function offerInputFiles(name: string, message: string, rerun: (files: string[]) => void): void {
  void vscode.window.showErrorMessage(`Model Lens: ${name}: ${message}`, CHOOSE).then(async (choice) => {
    if (choice !== CHOOSE) return;
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: true,
      filters: { 'Input tensors': [...INPUT_FILE_TYPES] },
      title: `Inputs for ${name} (matched to its inputs by name, else in order)`,
      openLabel: 'Use as Inputs',
    });
    if (picked?.length) rerun(picked.map((u) => u.fsPath));
  });
}
