import type { Model } from '../../core/model';
import {
  openRunData,
  planInputs,
  type InputPlan,
  type OpenData,
  type VerifySettings,
} from '../../core/verify/verify';
import { loadInputFiles } from '../verify/inputFiles';
import { recipeFor } from '../recipe';
import { openDataset } from './dataset';

/**
 * How runs of `modelFile` open the user's data (`settings.data`) through its recipe: the one given,
 * `<model>.lens.json` beside it, or the one proposed from the model; undefined without data.
 */
export function dataOpener(modelFile: string, settings: VerifySettings): OpenData | undefined {
  const paths = settings.data;
  if (!paths?.length) return undefined;
  return (model, inputs, limit, watch) => {
    const r = recipeFor(modelFile, model, settings.recipe);
    return openDataset(
      paths,
      r.recipe,
      inputs,
      r.fromFile ? ` (recipe ${r.path.split(/[\\/]/).pop()})` : ' (proposed recipe)',
      limit,
      watch,
    );
  };
}

/**
 * The inputs of runs of `modelFile` under `settings`: its `--data` through the recipe, tensor
 * files, or seeded random samples (what hessian pruning, low rank and structural runs feed).
 */
export async function runInputs(
  modelFile: string,
  model: Model,
  settings: VerifySettings,
  warnings: string[],
  cancelled?: () => boolean,
): Promise<InputPlan> {
  const data = await openRunData(model, settings, dataOpener(modelFile, settings), { cancelled });
  return planInputs(
    model,
    () => loadInputFiles(settings.inputs ?? []),
    settings,
    warnings,
    0,
    data,
  );
}
