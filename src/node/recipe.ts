import * as fs from 'node:fs';
import {
  formatRecipe,
  parseRecipe,
  proposeRecipe,
  recipePathFor,
  type Recipe,
} from '../core/data/recipe';
import type { Model } from '../core/model';
import { writeAtomically } from './atomicWrite';
import { describeFsError } from './fileSource';

export interface ModelRecipe {
  recipe: Recipe;
  /** The file it was read from, or where it would be written. */
  path: string;
  /** Read from `path` (checked against the model), rather than proposed from the model. */
  fromFile: boolean;
}

/** The recipe of `modelFile`: `explicit` or `<model>.lens.json` when it exists (checked), else Model Lens's proposal. */
export function recipeFor(modelFile: string, model: Model, explicit?: string): ModelRecipe {
  const file = explicit ?? recipePathFor(modelFile);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (explicit || (err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new Error(`${file}: ${describeFsError(err)}`);
    return { recipe: proposeRecipe(model), path: file, fromFile: false };
  }
  return { recipe: parseRecipe(text, file, model), path: file, fromFile: true };
}

/** Writes `recipe` beside the model (never over an existing one unless `force`). */
export function writeRecipe(r: ModelRecipe, force: boolean): void {
  const bytes = new TextEncoder().encode(formatRecipe(r.recipe));
  writeAtomically(r.path, { force }, (sink) => sink.write(bytes));
}
