import { Rng } from '../verify/random';
import type { HostTensor } from '../verify/tensor';

/** A file that was left out of a dataset, and why (one line). */
export interface SkippedFile {
  file: string;
  reason: string;
}

/**
 * Samples made from the user's files by a recipe: sample k feeds `inputs` with `feed(k)`. Samples
 * are made when asked for, so memory holds the sample in flight (and the file it comes from), not
 * the folder.
 */
export interface Dataset {
  /** The inputs the files feed (the recipe's image or audio input). */
  inputs: string[];
  samples: number;
  /** What the samples are, for "measured on": '16 images from crops/', '40 chunks of 512 samples from 3 WAV files in speech/'. */
  describe: string;
  /** Every sample's shape per input: files are resized or cut to one shape. */
  dims: Map<string, number[]>;
  feed(sample: number): Map<string, HostTensor>;
  skipped: SkippedFile[];
  /** Constants the recipe gives other inputs (a sample rate, a zero state); --value overrides them. */
  values: Record<string, number>;
}

/** The first `count` samples of `d` (a --samples cap), or `d` when it has no more. */
export function firstSamples(d: Dataset, count: number): Dataset {
  if (count >= d.samples) return d;
  return { ...d, samples: count, describe: `the first ${count} of ${d.describe}` };
}

/**
 * A seeded split of `d` for a fidelity search: the samples in a seeded random order, the first half
 * (rounded up) to calibrate on and the rest to check on ('held-out'), so a folder sorted by class
 * still lands in both; each part says which it is.
 */
export function halfOf(d: Dataset, part: 'calibration' | 'held-out', seed: number): Dataset {
  const order = Array.from({ length: d.samples }, (_, k) => k);
  const rng = new Rng(seed, 0x5eed);
  for (let k = order.length - 1; k > 0; k--) {
    const j = rng.u32() % (k + 1);
    [order[k], order[j]] = [order[j], order[k]];
  }
  const cut = Math.ceil(d.samples / 2);
  const picked = part === 'calibration' ? order.slice(0, cut) : order.slice(cut);
  return {
    ...d,
    samples: picked.length,
    feed: (k) => d.feed(picked[k]),
    describe: `${picked.length} of ${d.describe}, ${part} half of a split seeded ${seed}`,
  };
}
