/** What the Sensitivity tab's Re-run sends: the goal as typed, and the per-layer overrides. Pure, so unit tests reach it. */
import { LAYER_CHOICES, parseTargetCosine, type LayerChoice } from '../src/core/compress/spec';
import { parseByteSize } from '../src/core/units';
import type { FidelityGoal } from '../src/shared/protocol';
import type { GoalState } from './state';

/** Parses the goal fields; a string says what is wrong. */
export function goalFrom(g: GoalState): FidelityGoal | null | string {
  if (g.mode === 'none') return null;
  if (g.mode === 'cosine') {
    const v = parseTargetCosine(g.cosine);
    return typeof v === 'number' ? { targetCosine: v } : v;
  }
  const n = parseByteSize(g.size);
  return n === undefined ? 'Enter a size such as 80KB, 3.5MiB or bytes' : { sizeBudget: n };
}

/**
 * The overrides a Re-run sends: pins always; without a goal also the search's last choices that
 * differ from the method, so "Choices as shown" writes exactly what the table shows.
 */
export function rerunOverrides(
  method: string,
  pins: Record<string, LayerChoice>,
  searched: Record<string, string>,
  withGoal: boolean,
): Record<string, LayerChoice> {
  const out: Record<string, LayerChoice> = {};
  if (!withGoal)
    for (const [t, c] of Object.entries(searched))
      if (c !== method && LAYER_CHOICES.includes(c as LayerChoice)) out[t] = c as LayerChoice;
  return Object.assign(out, pins);
}
