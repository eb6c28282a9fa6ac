import type { WeightPlan } from '../core/compress/hessianPlan';
import { accumulateConv, accumulateRows, convGeometry, Gram } from '../core/compress/methods/obs';
import { writeOnnx } from '../core/formats/onnx/writer';
import { MemorySource } from '../core/io/source';
import type { Model } from '../core/model';
import { Rng } from '../core/verify/random';
import { realInputs } from '../core/verify/inputs';
import { numericValues, type HostTensor } from '../core/verify/tensor';
import type { InputPlan, RuntimeSession } from '../core/verify/verify';
import { memorySink } from './inMemory';
import type { modelBytes } from './verify';
import { openOrtWebSession, type loadOrtWeb } from './verify/ortWeb';

export type ModelBytes = ReturnType<typeof modelBytes>;

/** Hessians (one Gram per Conv group) per weight index, and the original's outputs of the last run. */
export interface Hessians {
  byWeight: Map<number, Gram[]>;
  outputs: Map<string, HostTensor>;
}

/** How collectHessians samples rows: at most `budget` per activation tensor per run, drawn from `seed`. */
export interface HessianSampling {
  budget: number;
  seed: number;
}

/**
 * Runs the original with every needed activation added as a graph output and streams each into the
 * Grams of the weights it feeds; a weight whose activation does not fit its Hessian falls back.
 * Without `sampling` every row counts (exact H); with it, a seeded unbiased estimate (sampleRows).
 */
export async function collectHessians(
  ort: ReturnType<typeof loadOrtWeb>['ort'],
  label: string,
  model: Model,
  plans: Map<number, WeightPlan>,
  original: ModelBytes,
  feeds: InputPlan,
  fetch: string[],
  step: (sample: number) => void,
  sampling?: HessianSampling,
): Promise<Hessians> {
  const inputs = new Set(realInputs(model).map((i) => i.name));
  const outputs = new Set(model.outputs.map((o) => o.name));
  const active = [...plans.values()].filter((p) => !p.fallback);
  const extra = new Map<string, number>();
  for (const p of active)
    for (const t of p.taps)
      if (!inputs.has(t.activation) && !outputs.has(t.activation)) extra.set(t.activation, p.dtype);
  const sink = memorySink();
  writeOnnx(
    new MemorySource(original.bytes, label),
    { edits: [], outputs: [...extra].map(([name, dtype]) => ({ name, dtype })) },
    sink,
  );
  const tapped = { bytes: sink.bytes(), externalData: original.externalData };
  const byWeight = new Map<number, Gram[]>();
  const wanted = [
    ...new Set([
      ...fetch,
      ...extra.keys(),
      ...active.flatMap((p) => p.taps.map((t) => t.activation)).filter((a) => outputs.has(a)),
    ]),
  ];
  let last = new Map<string, HostTensor>();
  await runSamples(
    ort,
    label,
    tapped,
    feeds,
    wanted,
    feeds.samples,
    0,
    (i, out, fed) => {
      step(i);
      for (const p of active) {
        if (p.fallback) continue;
        try {
          p.taps.forEach((t, tap) => {
            const a = out.get(t.activation) ?? fed.get(t.activation)!;
            const values = numericValues(a);
            let grams = byWeight.get(p.index);
            if (!grams)
              byWeight.set(
                p.index,
                (grams = Array.from({ length: p.groups }, () => new Gram(p.n, p.diagonal))),
              );
            // One stream per (run, weight, tap): the draw does not depend on which other weights were collected.
            const rows = sampling && {
              budget: sampling.budget,
              rng: new Rng(
                sampling.seed,
                (Math.imul(i, 0x9e3779b1) ^ Math.imul(p.index, 0x85ebca77) ^ tap) >>> 0,
              ),
            };
            if (t.conv)
              accumulateConv(
                grams,
                values,
                a.dims,
                convGeometry(t.conv, a.dims, p.layout.dims),
                rows,
              );
            else
              accumulateRows(
                grams[0],
                values,
                a.dims,
                t.axis! < 0 ? Math.max(0, a.dims.length + t.axis!) : t.axis!,
                rows,
              );
          });
        } catch (err) {
          if (!(err instanceof RangeError)) throw err;
          p.fallback = `its activations do not fit a Hessian: ${err.message}`;
          byWeight.delete(p.index);
        }
      }
      last = out;
    },
    true,
  );
  return { byWeight, outputs: last };
}

/**
 * Opens `bytes` in onnxruntime-web and runs samples [first, first + count), one at a time; `each` gets
 * the outputs and the feeds. `original`: a failed run blames the inputs (InputPlan.rejected), not the model.
 */
export async function runSamples(
  ort: ReturnType<typeof loadOrtWeb>['ort'],
  label: string,
  bytes: ModelBytes,
  feeds: InputPlan,
  fetch: string[],
  count: number,
  first: number,
  each: (i: number, out: Map<string, HostTensor>, fed: Map<string, HostTensor>) => void,
  original = false,
): Promise<void> {
  const session: RuntimeSession = await openOrtWebSession(
    ort,
    label,
    bytes.bytes,
    bytes.externalData,
  );
  try {
    for (let i = 0; i < count; i++) {
      const fed = feeds.feeds(first + i, session.inputNames);
      const out = await session.run(fed, fetch).catch((err: unknown) => {
        throw original ? feeds.rejected(label, session.inputNames, err) : err;
      });
      each(i, out, fed);
    }
  } finally {
    await session.release();
  }
}
