import { CancelledError } from '../errors';
import { OutputComparison, type OutputReport } from './metrics';
import { isSupportedDtype, verifyError, type HostTensor } from './tensor';
import { runAll, type InputPlan, type ModelUnderTest } from './verify';

/** How far a variant's outputs moved from the original's over a set of samples. */
export interface Fidelity {
  /** The worst output's cosine (each output's cosine is its mean over samples). */
  cosine: number;
  /** The worst output's mean relative L2 error. */
  relL2: number;
  samples: number;
  outputs: OutputReport[];
}

/** Worst-output summary of per-output comparisons. */
export function summariseOutputs(outputs: OutputReport[], samples: number): Fidelity {
  return {
    cosine: Math.min(...outputs.map((o) => o.cosine)),
    relL2: Math.max(...outputs.map((o) => o.relL2)),
    samples,
    outputs,
  };
}

/**
 * The original model's outputs on a fixed set of inputs, kept so that many variants (one per
 * layer in a sensitivity scan, one per step of a mixed-precision search) are each compared
 * after a single run of their own.
 */
export class Calibration {
  private constructor(
    private readonly plan: InputPlan,
    private readonly fed: readonly string[],
    readonly fetch: readonly string[],
    private readonly reference: Map<string, HostTensor>[],
    private readonly signal?: AbortSignal,
  ) {}

  /** Runs the original on every sample of `plan`. */
  static async create(
    original: ModelUnderTest,
    plan: InputPlan,
    signal?: AbortSignal,
  ): Promise<Calibration> {
    const fetch = original.model.outputs
      .filter((o) => isSupportedDtype(o.dtype))
      .map((o) => o.name);
    if (!fetch.length)
      verifyError(`${original.label}: no output is a tensor the comparison can read`);
    const reference: Map<string, HostTensor>[] = [];
    let fed: readonly string[] = [];
    await runAll(
      original,
      { ...plan, fetch },
      (session) => {
        fed = session.inputNames;
      },
      (s, out) => {
        if (signal?.aborted) throw new CancelledError();
        reference[s] = out;
      },
      (err) => plan.rejected(original.label, fed, err),
    );
    return new Calibration(plan, fed, fetch, reference, signal);
  }

  get samples(): number {
    return this.plan.samples;
  }

  /** Inputs as the runtime took them, for reports. */
  inputReports() {
    return this.plan.reports(this.fed);
  }

  /** What every measurement of this calibration is made on, in one line (see measuredOn). */
  measuredOn(): string {
    return this.plan.measuredOn(this.fed);
  }

  /** Runs `variant` on the same samples and compares each output with the original's. */
  async measure(variant: Pick<ModelUnderTest, 'label' | 'open'>): Promise<Fidelity> {
    const comparisons = this.fetch.map((n) => new OutputComparison(n));
    await runAll(
      variant,
      { ...this.plan, fetch: this.fetch },
      () => {},
      (s, out) => {
        if (this.signal?.aborted) throw new CancelledError();
        for (const c of comparisons) c.add(this.reference[s].get(c.name)!, out.get(c.name)!);
      },
    );
    return summariseOutputs(
      comparisons.map((c) => c.report()),
      this.plan.samples,
    );
  }
}
