import * as fs from 'node:fs';
import * as path from 'node:path';
import { chunks, resample, toMono } from '../../core/data/audio';
import type { Dataset, SkippedFile } from '../../core/data/dataset';
import { imageTensor } from '../../core/data/image';
import type { AudioRecipe, ImageRecipe, Recipe } from '../../core/data/recipe';
import { DataError } from '../../core/data/types';
import type { ValueInfo } from '../../core/model';
import { verifyError, type HostTensor } from '../../core/verify/tensor';
import { describeFsError } from '../fileSource';
import { decodeImage, decodeWav } from './decode';

const IMAGE_TYPES = new Set(['.png', '.jpg', '.jpeg']);
const AUDIO_TYPES = new Set(['.wav']);

/** `*` and `?` in the last component of a path (Node 20 has no fs.glob). */
function globFiles(pattern: string): string[] {
  const dir = path.dirname(pattern);
  const re = new RegExp(`^${path.basename(pattern).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    verifyError(`${pattern}: ${describeFsError(err)}`);
  }
  return names.filter((n) => re.test(n)).map((n) => path.join(dir, n));
}

/** Every file under `p` (a file, a folder walked in name order, or a glob), sorted so runs repeat. */
function filesOf(p: string): string[] {
  if (/[*?]/.test(path.basename(p))) return globFiles(p).sort();
  let stat: fs.Stats;
  try {
    stat = fs.statSync(p);
  } catch (err) {
    verifyError(`${p}: ${describeFsError(err)}`);
  }
  if (!stat.isDirectory()) return [p];
  return fs
    .readdirSync(p, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.'))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e) => (e.isDirectory() ? filesOf(path.join(p, e.name)) : e.isFile() ? [path.join(p, e.name)] : []));
}

/** Where the files came from, for "measured on": a folder, a file, or the number of paths. */
function where(paths: readonly string[]): string {
  if (paths.length !== 1) return `${paths.length} paths`;
  const p = paths[0];
  return fs.existsSync(p) && fs.statSync(p).isDirectory() ? `${path.basename(p)}/` : path.basename(p);
}

function read(file: string): Uint8Array {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new DataError(file, describeFsError(err));
  }
}

interface Source {
  file: string;
  /** Samples it gives (an image 1, a recording its whole chunks). */
  count: number;
}

/**
 * The samples `paths` give under `recipe`: each image a sample for the recipe's image input, each
 * WAV file its whole chunks for the audio input. A file that cannot be used is skipped with its
 * reason; none usable is an error naming the paths. Files are decoded once to count and check them,
 * then again when their sample is fed, so memory holds one file at a time, not the folder.
 */
export function openDataset(paths: readonly string[], recipe: Recipe, inputs: readonly ValueInfo[], recipeNote = ''): Dataset {
  const byKind = (kind: 'image' | 'audio') => inputs.filter((i) => recipe.inputs[i.name]?.kind === kind).map((i) => i.name);
  const imageInputs = byKind('image');
  const audioInputs = byKind('audio');
  const skipped: SkippedFile[] = [];
  const images: Source[] = [];
  const audio: Source[] = [];
  const files = paths.flatMap(filesOf);
  if (!files.length) verifyError(`${paths.join(', ')}: no files`);
  for (const file of files) {
    const ext = path.extname(file).toLowerCase();
    try {
      if (IMAGE_TYPES.has(ext)) {
        if (imageInputs.length !== 1) throw new DataError(file, imageInputs.length ? 'the recipe has several image inputs' : 'the recipe gives the model no image input');
        decodeImage(read(file), file);
        images.push({ file, count: 1 });
      } else if (AUDIO_TYPES.has(ext)) {
        if (audioInputs.length !== 1) throw new DataError(file, audioInputs.length ? 'the recipe has several audio inputs' : 'the recipe gives the model no audio input');
        const r = recipe.inputs[audioInputs[0]] as AudioRecipe;
        const count = chunksOf(file, r).length;
        if (!count) throw new DataError(file, `shorter than one ${r.length}-sample chunk at ${r.rate} Hz`);
        audio.push({ file, count });
      } else throw new DataError(file, 'not an image (.png, .jpg) or a recording (.wav)');
    } catch (err) {
      if (!(err instanceof DataError)) throw err;
      skipped.push({ file, reason: err.message });
    }
  }
  if (images.length && audio.length) verifyError(`${paths.join(', ')}: both images and recordings; give one kind of data per run`);
  const sources = images.length ? images : audio;
  if (!sources.length) verifyError(`${paths.join(', ')}: no usable data (${skipped.length} file${skipped.length === 1 ? '' : 's'} skipped; the first: ${skipped[0]?.reason ?? 'none'})`);
  const name = images.length ? imageInputs[0] : audioInputs[0];
  const r = recipe.inputs[name] as ImageRecipe | AudioRecipe;
  const total = sources.reduce((a, s) => a + s.count, 0);
  const starts: number[] = [];
  sources.reduce((at, s) => (starts.push(at), at + s.count), 0);
  let cached: { file: string; pieces: Float32Array[] } | undefined;
  const sample = (k: number): { dims: number[]; data: Float32Array } => {
    let at = starts.length - 1;
    while (starts[at] > k) at--;
    const src = sources[at];
    if (r.kind === 'image') return imageTensor(decodeImage(read(src.file), src.file), r);
    if (cached?.file !== src.file) cached = { file: src.file, pieces: chunksOf(src.file, r) };
    return { dims: [1, r.length], data: cached.pieces[k - starts[at]] };
  };
  const dims = sample(0).dims;
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const what = r.kind === 'image' ? plural(total, 'image') : `${plural(total, 'chunk')} of ${r.length} samples at ${r.rate} Hz from ${plural(sources.length, 'WAV file')}`;
  return {
    inputs: [name],
    samples: total,
    describe: `${what} in ${where(paths)}${recipeNote}`,
    dims: new Map([[name, dims]]),
    feed: (k) => {
      const { dims: d, data } = sample(k);
      const tensor: HostTensor = { dtype: 1, dims: d, data };
      return new Map([[name, tensor]]);
    },
    skipped,
    values: Object.fromEntries(Object.entries(recipe.inputs).flatMap(([k, v]) => (v.kind === 'value' ? [[k, v.value]] : []))),
  };
}

/** A recording as the recipe's chunks: mono, resampled to its rate, scaled, whole chunks only. */
function chunksOf(file: string, r: AudioRecipe): Float32Array[] {
  const a = decodeWav(read(file), file);
  const mono = toMono(a);
  return chunks(a.rate === r.rate ? mono : resample(mono, a.rate, r.rate), r.length, { scale: r.scale });
}
