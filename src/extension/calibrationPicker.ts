/**
 * Choosing what a model's runs are fed (files, a folder, or random inputs) and editing its
 * preprocessing recipe; the choice goes to the one store (calibrationData.ts) every run reads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { RecipeError, recipePathFor } from '../core/data/recipe';
import { DATA_FILE_TYPES } from '../core/data/types';
import { capabilitiesOf, FORMATS, formatOfFileName } from '../core/formats/capabilities';
import type { ModelService } from '../node/modelService';
import { recipeFor, writeRecipe } from '../node/recipe';
import { INPUT_FILE_TYPES } from '../node/verify/inputFiles';
import { splitChoice, type CalibrationStore } from './calibrationData';

const FILE_FILTERS = {
  'Images, recordings and tensors': [
    ...DATA_FILE_TYPES.image,
    ...DATA_FILE_TYPES.audio,
    ...INPUT_FILE_TYPES,
  ],
  Images: [...DATA_FILE_TYPES.image],
  Audio: [...DATA_FILE_TYPES.audio],
  Tensors: [...INPUT_FILE_TYPES],
};

const CHOOSE_FILES = 'Choose Input Files…';
const CHOOSE_FOLDER = 'Choose a Folder…';

/** The recipe's one line, naming its file: 'cls.lens.json: inputs.x.width must be …'. */
export function recipeLine(err: RecipeError): string {
  return `${path.basename(err.file)}: ${err.message}`;
}

/** An error notification about recipe `file` (`line` names it) with a button that opens it. */
export function notifyRecipe(file: string, line: string): void {
  void vscode.window.showErrorMessage(`Model Lens: ${line}`, 'Edit Recipe').then((c) => {
    if (c) void vscode.window.showTextDocument(vscode.Uri.file(file));
  });
}

/** Shows a recipe's error as an error notification that opens the file; false when `err` is something else. */
export function showRecipeError(err: unknown): boolean {
  if (!(err instanceof RecipeError)) return false;
  notifyRecipe(err.file, recipeLine(err));
  return true;
}

/**
 * Asks for files (images, recordings, tensor files) or, with `folder`, folders, and remembers them
 * for `model`; resolves to true when something was chosen. Two dialogs, because on Windows and
 * Linux one dialog cannot select both files and folders.
 */
export async function pickCalibrationFiles(
  store: CalibrationStore,
  model: string,
  folder: boolean,
): Promise<boolean> {
  const name = path.basename(model);
  const current = store.get(model);
  const near = [...(current?.data ?? []), ...(current?.inputs ?? [])][0];
  const picked = await vscode.window.showOpenDialog({
    canSelectFiles: !folder,
    canSelectFolders: folder,
    canSelectMany: true,
    defaultUri: vscode.Uri.file(near ? path.dirname(near) : path.dirname(model)),
    ...(folder ? {} : { filters: FILE_FILTERS }),
    title: folder
      ? `Calibration data for ${name}: folders of images or recordings`
      : `Calibration data for ${name}: images (PNG, JPEG), recordings (WAV) or tensors (.npy, .npz, .pb)`,
    openLabel: 'Use for Calibration',
  });
  if (!picked?.length) return false;
  await store.set(model, splitChoice(picked.map((u) => u.fsPath)));
  return true;
}

/**
 * When a model cannot run on the inputs chosen for it: `message` (an InputsRejectedError's line) for
 * `model` as an error notification with buttons that choose files or a folder, remember them and
 * call `rerun`. Does not wait for the user.
 */
export function offerCalibrationData(
  store: CalibrationStore,
  model: string,
  message: string,
  rerun: () => void,
): void {
  void vscode.window
    .showErrorMessage(
      `Model Lens: ${path.basename(model)}: ${message}`,
      CHOOSE_FILES,
      CHOOSE_FOLDER,
    )
    .then(async (choice) => {
      if (choice && (await pickCalibrationFiles(store, model, choice === CHOOSE_FOLDER))) rerun();
    });
}

/** Checks `model`'s recipe file against the model; a bad one is an error notification. */
async function checkRecipe(service: ModelService, model: string): Promise<void> {
  try {
    const r = recipeFor(model, await service.open(model));
    if (r.fromFile)
      vscode.window.setStatusBarMessage(
        `Model Lens: ${path.basename(r.path)} fits ${path.basename(model)}`,
        5000,
      );
  } catch (err) {
    if (!showRecipeError(err))
      void vscode.window.showErrorMessage(
        `Model Lens: ${path.basename(model)}: ${err instanceof Error ? err.message : String(err)}`,
      );
  }
}

/** Opens `model`'s recipe, writing Model Lens's proposal first when it has none (what `model-lens recipe --write` does). */
async function editRecipe(service: ModelService, model: string): Promise<void> {
  const file = recipePathFor(model);
  try {
    if (!fs.existsSync(file)) writeRecipe(recipeFor(model, await service.open(model)), false);
    // Not a preview: it would take the place of the inspector the user came from, which is one too.
    await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: false });
  } catch (err) {
    void vscode.window.showErrorMessage(
      `Model Lens: cannot open the recipe of ${path.basename(model)}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
    );
    return;
  }
  await checkRecipe(service, model);
}

/** The runnable model whose recipe `file` is, if one sits beside it. */
function modelOfRecipe(file: string): string | undefined {
  if (!file.endsWith('.lens.json')) return undefined;
  const stem = file.slice(0, -'.lens.json'.length);
  const endings = Object.values(FORMATS).flatMap((c) => (c.runnable ? c.extensions : []));
  return endings.map((e) => stem + e).find((m) => recipePathFor(m) === file && fs.existsSync(m));
}

type Item = vscode.QuickPickItem & { run?: () => Promise<boolean> };

/**
 * Model Lens: Choose Calibration Data…: files, a folder, random inputs, or the recipe. Resolves to
 * true when the model's choice changed.
 */
async function chooseData(
  store: CalibrationStore,
  service: ModelService,
  model: string,
): Promise<boolean> {
  const now = store.view(model);
  const recipe = recipePathFor(model);
  const items: Item[] = [
    {
      label: '$(files) Choose files…',
      description: 'images (PNG, JPEG), recordings (WAV) or tensors (.npy, .npz, .pb)',
      run: () => pickCalibrationFiles(store, model, false),
    },
    {
      label: '$(folder-opened) Choose a folder…',
      description: 'every image or recording in it and its subfolders',
      run: () => pickCalibrationFiles(store, model, true),
    },
    {
      label: '$(symbol-numeric) Use random inputs',
      description: now.random ? 'current' : 'seeded random tensors, as without data',
      run: async () => {
        if (now.random) return false;
        await store.set(model, undefined);
        return true;
      },
    },
    {
      label: '$(json) Edit preprocessing recipe…',
      description: `${path.basename(recipe)}${fs.existsSync(recipe) ? '' : ' (written from Model Lens\u2019s proposal)'}: how files become the model\u2019s inputs`,
      run: async () => {
        await editRecipe(service, model);
        return false;
      },
    },
  ];
  const chosen = await vscode.window.showQuickPick(items, {
    title: `Calibration data for ${path.basename(model)}`,
    placeHolder: `Now: ${now.label}. What should verification, goals and sensitivity scans feed the model?`,
  });
  return (await chosen?.run?.()) ?? false;
}

export interface CalibrationDeps {
  store: CalibrationStore;
  service: ModelService;
  /** The model a command acts on: its Uri argument, else the active inspector, else ask. */
  targetUri(arg: unknown): Promise<vscode.Uri | undefined>;
}

/** A model onnxruntime can run, to act on; undefined after saying why not. */
async function runnableTarget(deps: CalibrationDeps, arg: unknown): Promise<string | undefined> {
  const uri = await deps.targetUri(arg);
  if (!uri) return undefined;
  const caps = capabilitiesOf(formatOfFileName(uri.fsPath) ?? '');
  if (caps.runnable) return uri.fsPath;
  void vscode.window.showErrorMessage(
    `Model Lens: ${path.basename(uri.fsPath)}: calibration data feeds onnxruntime runs, and ${caps.label || 'this file'} holds weights without a graph to run`,
  );
  return undefined;
}

export function registerCalibrationCommands(deps: CalibrationDeps): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('modelLens.chooseData', async (arg?: unknown) => {
      const model = await runnableTarget(deps, arg);
      return model ? chooseData(deps.store, deps.service, model) : false;
    }),
    vscode.commands.registerCommand('modelLens.editRecipe', async (arg?: unknown) => {
      const model = await runnableTarget(deps, arg);
      if (model) await editRecipe(deps.service, model);
    }),
    // A saved recipe is checked at once, not at the next run.
    vscode.workspace.onDidSaveTextDocument((doc) => {
      const model = modelOfRecipe(doc.uri.fsPath);
      if (model) void checkRecipe(deps.service, model);
    }),
  ];
}
