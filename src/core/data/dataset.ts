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
 * A seeded-free, repeatable split of `d` for a fidelity search: the first half of the samples (rounded
 * up) calibrate, the rest check ('held-out'); both say which part of the data they are.
 */
export function halfOf(d: Dataset, part: 'calibration' | 'held-out'): Dataset {
  const cut = Math.ceil(d.samples / 2);
  const [from, to] = part === 'calibration' ? [0, cut] : [cut, d.samples];
  return { ...d, samples: to - from, feed: (k) => d.feed(from + k), describe: `samples ${from + 1}–${to} (${part}) of ${d.describe}` };
}
