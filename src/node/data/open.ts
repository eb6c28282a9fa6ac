import type { OpenData, VerifySettings } from '../../core/verify/verify';
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
