/**
 * The calibration data chosen for each model, remembered in the workspace: the one place every
 * model-running path (verification, goals, the Sensitivity tab, the report's Verify Again) asks
 * what to feed a model. Pure (no vscode): it keeps its memory in a Memento it is given.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { VerifySettings } from '../core/verify/verify';
import { INPUT_FILE_TYPES } from '../node/verify/inputFiles';
import type { CalibrationView } from '../shared/calibration';

/** What a model's runs are fed: `data` through its recipe (images, recordings, folders), `inputs` as tensors. Absolute paths. */
export interface CalibrationChoice {
  data: string[];
  inputs: string[];
}

/** The part of vscode.Memento the store needs (workspaceState in the extension, a Map in tests). */
export interface Memento {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): PromiseLike<void>;
}

const KEY = 'modelLens.calibrationData';

const TENSOR_TYPES: ReadonlySet<string> = new Set(INPUT_FILE_TYPES.map((t) => `.${t}`));

/** Splits what the picker returned: tensor files (.npy/.npz/.pb) keep their meaning as inputs; images, recordings and folders are data. */
export function splitChoice(paths: readonly string[]): CalibrationChoice {
  const inputs = paths.filter((p) => TENSOR_TYPES.has(path.extname(p).toLowerCase()));
  return { data: paths.filter((p) => !inputs.includes(p)), inputs };
}

/** The run settings a choice gives (nothing for random inputs). */
export function choiceSettings(
  choice: CalibrationChoice | undefined,
): Pick<VerifySettings, 'data' | 'inputs'> {
  return {
    ...(choice?.data.length ? { data: choice.data } : {}),
    ...(choice?.inputs.length ? { inputs: choice.inputs } : {}),
  };
}

/** 'crops/', 'a.png', 'a.png, b.png', '3 paths'. */
function shortList(paths: readonly string[]): string {
  const one = (p: string) => {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    return `${path.basename(p)}${st?.isDirectory() ? '/' : ''}${st ? '' : ' (missing)'}`;
  };
  return paths.length <= 2 ? paths.map(one).join(', ') : `${paths.length} paths`;
}

/** The choice in one line and in full; a path that no longer exists says so. */
export function describeChoice(choice: CalibrationChoice | undefined): CalibrationView {
  const all = [...(choice?.data ?? []), ...(choice?.inputs ?? [])];
  if (!all.length)
    return {
      random: true,
      label: 'random inputs',
      detail: 'Seeded random inputs: no calibration data chosen for this model.',
    };
  const parts = [choice?.data ?? [], choice?.inputs ?? []].filter((p) => p.length).map(shortList);
  return { random: false, label: parts.join(' + '), detail: all.join('\n') };
}

function isChoice(v: unknown): v is CalibrationChoice {
  const paths = (x: unknown) =>
    Array.isArray(x) && x.every((p) => typeof p === 'string' && path.isAbsolute(p));
  return (
    typeof v === 'object' &&
    v !== null &&
    paths((v as CalibrationChoice).data) &&
    paths((v as CalibrationChoice).inputs)
  );
}

/** Choices by model file, kept in `memento` so they survive reloads; listeners hear of each change. */
export class CalibrationStore {
  private readonly listeners = new Set<(model: string) => void>();

  constructor(private readonly memento: Memento) {}

  private all(): Record<string, CalibrationChoice> {
    const raw = this.memento.get<unknown>(KEY);
    return typeof raw === 'object' && raw !== null && !Array.isArray(raw)
      ? (raw as Record<string, CalibrationChoice>)
      : {};
  }

  /** The choice for `model`, or undefined for random inputs. */
  get(model: string): CalibrationChoice | undefined {
    const all = this.all();
    const key = path.resolve(model);
    const c = Object.hasOwn(all, key) ? all[key] : undefined;
    return isChoice(c) && (c.data.length || c.inputs.length) ? c : undefined;
  }

  /** Remembers `choice` for `model`; undefined (or nothing chosen) goes back to random inputs. */
  async set(model: string, choice: CalibrationChoice | undefined): Promise<void> {
    const key = path.resolve(model);
    const next = { ...this.all() };
    if (choice && (choice.data.length || choice.inputs.length))
      next[key] = { data: [...choice.data], inputs: [...choice.inputs] };
    else delete next[key];
    await this.memento.update(KEY, next);
    for (const l of this.listeners) l(key);
  }

  /** What runs of `model` are fed, as run settings. */
  settings(model: string): Pick<VerifySettings, 'data' | 'inputs'> {
    return choiceSettings(this.get(model));
  }

  /** The choice for `model` as the webviews show it. */
  view(model: string): CalibrationView {
    return describeChoice(this.get(model));
  }

  /** Calls `listener` with the model's absolute path whenever its choice changes. */
  onDidChange(listener: (model: string) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }
}
