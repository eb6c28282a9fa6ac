import type { DecodedAudio } from './types';

/** The mean of the channels (a mono recording is copied). */
export function toMono(a: DecodedAudio): Float32Array {
  const n = a.channels[0]?.length ?? 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (const ch of a.channels) s += ch[i];
    out[i] = s / a.channels.length;
  }
  return out;
}

/*
 * Resampling filter: a Kaiser-windowed sinc (β = 10.06, ≈100 dB stopband), cut off so that the
 * passband is flat to 90% of the lower rate's Nyquist frequency and the stopband starts at 100%:
 * nothing above the new Nyquist folds back (downsampling) and no images appear (upsampling).
 * It is applied polyphase: output n sits at input time n·from/to, computed in integers, so long
 * recordings do not drift. Rates are integers; for a ratio with more than MAX_PHASES phases
 * (e.g. 44101 → 16000) the table is interpolated linearly between neighbouring phases.
 */
const STOPBAND_DB = 100;
const PASSBAND = 0.9;
const MAX_PHASES = 1024;
const KAISER_BETA = 0.1102 * (STOPBAND_DB - 8.7);

/** Modified Bessel function of the first kind, order 0, by its power series (converges fast for β ≤ 20). */
function bessel0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

interface Polyphase {
  /** Taps each side of the output position: the filter covers input offsets −half+1 … half. */
  half: number;
  phases: number;
  /** (phases + 1) rows of 2·half weights; row p is the filter at fractional position p/phases. */
  table: Float64Array;
}

function design(from: number, to: number, phases: number): Polyphase {
  const lower = Math.min(from, to);
  // Frequencies in cycles per input sample.
  const stop = lower / 2 / from;
  const width = stop * (1 - PASSBAND);
  const cutoff = stop - width / 2;
  // Kaiser's estimate of the length that gives STOPBAND_DB across a transition of `width`.
  const length = (STOPBAND_DB - 7.95) / (2.285 * 2 * Math.PI * width) + 1;
  const half = Math.ceil(length / 2);
  const norm = bessel0(KAISER_BETA);
  const table = new Float64Array((phases + 1) * 2 * half);
  for (let p = 0; p <= phases; p++) {
    const row = p * 2 * half;
    let sum = 0;
    for (let k = 0; k < 2 * half; k++) {
      const t = k - half + 1 - p / phases;
      const r = t / half;
      const window = Math.abs(r) < 1 ? bessel0(KAISER_BETA * Math.sqrt(1 - r * r)) / norm : 0;
      const x = 2 * cutoff * t;
      sum += table[row + k] =
        2 * cutoff * (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x)) * window;
    }
    // Unit gain at DC in every phase, so a constant stays exactly constant.
    for (let k = 0; k < 2 * half; k++) table[row + k] /= sum;
  }
  return { half, phases, table };
}

/** Band-limited resampling from `from` to `to` samples per second (see the filter above); ⌈n·to/from⌉ samples out. */
export function resample(samples: Float32Array, from: number, to: number): Float32Array {
  for (const r of [from, to])
    if (!(Number.isInteger(r) && r > 0))
      throw new RangeError(`sample rates must be positive integers, not ${r}`);
  if (from === to) return samples.slice();
  const g = gcd(from, to);
  const up = to / g;
  const down = from / g;
  const f = design(from, to, Math.min(up, MAX_PHASES));
  const { half, phases, table } = f;
  const n = samples.length;
  const out = new Float32Array(Math.ceil((n * up) / down));
  const taps = 2 * half;
  const mixed = new Float64Array(taps);
  for (let o = 0; o < out.length; o++) {
    const pos = o * down;
    const base = Math.floor(pos / up);
    const frac = ((pos % up) * phases) / up;
    const p = Math.floor(frac);
    const a = frac - p;
    let w: Float64Array = table.subarray(p * taps, (p + 1) * taps);
    if (a > 0) {
      for (let k = 0; k < taps; k++)
        mixed[k] = (1 - a) * table[p * taps + k] + a * table[(p + 1) * taps + k];
      w = mixed;
    }
    const first = base - half + 1;
    const lo = Math.max(0, -first);
    const hi = Math.min(taps, n - first);
    let s = 0;
    for (let k = lo; k < hi; k++) s += samples[first + k] * w[k];
    out[o] = s;
  }
  return out;
}

/**
 * Cuts a recording into model inputs of `length` samples, `hop` apart (default: back to back),
 * each multiplied by `scale` (e.g. 32768 for a model trained on int16-valued audio). Only whole
 * chunks: a clip shorter than one chunk gives none, and the caller says so.
 */
export function chunks(
  samples: Float32Array,
  length: number,
  options: { hop?: number; scale?: number } = {},
): Float32Array[] {
  const hop = options.hop ?? length;
  const scale = options.scale ?? 1;
  for (const [what, v] of [
    ['length', length],
    ['hop', hop],
  ] as const) {
    if (!(Number.isInteger(v) && v > 0))
      throw new RangeError(`chunk ${what} must be a positive integer, not ${v}`);
  }
  const out: Float32Array[] = [];
  for (let start = 0; start + length <= samples.length; start += hop) {
    const c = samples.slice(start, start + length);
    if (scale !== 1) for (let i = 0; i < length; i++) c[i] *= scale;
    out.push(c);
  }
  return out;
}
