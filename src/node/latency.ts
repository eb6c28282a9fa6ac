import type { InputPlan } from '../core/verify/verify';
import type { ModelBytes } from './activations';
import { openOrtWebSession, type loadOrtWeb } from './verify/ortWeb';

/** Timed runs of each model at least (after one untimed warm-up run each)... */
export const LATENCY_ROUNDS = 7;
/** ...and more, up to LATENCY_MAX_ROUNDS, until each model has run this long: a sub-millisecond model needs many runs for a stable median. */
const LATENCY_MIN_MS = 400;
const LATENCY_MAX_ROUNDS = 500;

/**
 * Median time of one inference of each model on the same first sample, measured in turns (A, B,
 * B, A, ...) in one process so that whatever else the machine does falls on both alike.
 */
export async function measureLatency(
  ort: ReturnType<typeof loadOrtWeb>['ort'],
  models: readonly { label: string; bytes: ModelBytes }[],
  feeds: InputPlan,
): Promise<{ medians: number[]; runs: number }> {
  const sessions = await Promise.all(
    models.map((m) => openOrtWebSession(ort, m.label, m.bytes.bytes, m.bytes.externalData)),
  );
  try {
    const fed = sessions.map((s) => feeds.feeds(0, s.inputNames));
    const fetch = sessions.map((s) => [...s.outputNames]);
    for (const [i, s] of sessions.entries()) await s.run(fed[i], fetch[i]);
    const times = sessions.map(() => [] as number[]);
    const spent = () => Math.min(...times.map((t) => t.reduce((a, b) => a + b, 0)));
    for (
      let r = 0;
      r < LATENCY_MAX_ROUNDS && (r < LATENCY_ROUNDS || spent() < LATENCY_MIN_MS);
      r++
    ) {
      const order = r % 2 ? [...sessions.keys()].reverse() : [...sessions.keys()];
      for (const i of order) {
        const t0 = performance.now();
        await sessions[i].run(fed[i], fetch[i]);
        times[i].push(performance.now() - t0);
      }
    }
    return {
      medians: times.map((t) => t.sort((a, b) => a - b)[t.length >> 1]),
      runs: times[0].length,
    };
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
}
