import * as fs from 'node:fs';
import * as path from 'node:path';
import { chunks, resample, toMono } from '../../core/data/audio';
import type { Dataset, SkippedFile } from '../../core/data/dataset';
import { imageTensor } from '../../core/data/image';
import type { AudioRecipe, Recipe } from '../../core/data/recipe';
import { DATA_FILE_TYPES, DataError } from '../../core/data/types';
import type { ValueInfo } from '../../core/model';
import { checkShape, convertTo } from '../../core/verify/inputs';
import { parseNpy, parseNpz } from '../../core/verify/npy';
import { VerifyError, verifyError, type HostTensor } from '../../core/verify/tensor';
import { parseTensorProto } from '../../core/verify/tensorProto';
import { CancelledError } from '../../core/errors';
import type { DataWatch } from '../../core/verify/verify';
import { describeFsError } from '../fileSource';
import { inflateRaw } from '../verify/inputFiles';
import { decodeImage, decodeWav } from './decode';

const IMAGE_TYPES: ReadonlySet<string> = new Set(DATA_FILE_TYPES.image.map((t) => `.${t}`));
const AUDIO_TYPES: ReadonlySet<string> = new Set(DATA_FILE_TYPES.audio.map((t) => `.${t}`));
const TENSOR_TYPES = new Set(['.npy', '.pb']);
const ARCHIVE_TYPES = new Set(['.npz']);

/** `*` and `?` in the last component of a path (Node 20 has no fs.glob). */
function globFiles(pattern: string): string[] {
  const dir = path.dirname(pattern);
  const re = new RegExp(
    `^${path
      .basename(pattern)
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
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
    .flatMap((e) =>
      e.isDirectory() ? filesOf(path.join(p, e.name)) : e.isFile() ? [path.join(p, e.name)] : [],
    );
}

/** Where the files came from, for "measured on": a folder, a file, or the number of paths. */
function where(paths: readonly string[]): string {
  if (paths.length !== 1) return `${paths.length} paths`;
  const p = paths[0];
  return fs.existsSync(p) && fs.statSync(p).isDirectory()
    ? `${path.basename(p)}/`
    : path.basename(p);
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
  kind: 'image' | 'audio' | 'tensor' | 'arrays';
  /** The inputs it feeds (an .npz: one per array). */
  inputs: string[];
  /** Samples it gives (an image or a tensor file 1, a recording its whole chunks). */
  count: number;
}

/**
 * The samples `paths` give under `recipe`: each image a sample for the recipe's image input, each
 * WAV file its whole chunks for the audio input, each .npy/.pb file a sample for the input its name
 * names (else the recipe's one tensor input), each .npz file a sample feeding the inputs its arrays
 * are named after. A file that cannot be used is skipped with its reason;
 * none usable is an error naming the paths. Files are decoded once to count and check them, then
 * again when their sample is fed, so memory holds one file at a time, not the folder.
 */
export async function openDataset(
  paths: readonly string[],
  recipe: Recipe,
  inputs: readonly ValueInfo[],
  recipeNote = '',
  limit = Infinity,
  watch: DataWatch = {},
): Promise<Dataset> {
  const byKind = (kind: 'image' | 'audio' | 'tensor') =>
    inputs.filter((i) => recipe.inputs[i.name]?.kind === kind);
  const only = (kind: 'image' | 'audio' | 'tensor', file: string): string => {
    const found = byKind(kind);
    if (found.length !== 1)
      throw new DataError(
        file,
        found.length
          ? `the recipe has ${found.length} ${kind} inputs (${found.map((i) => i.name).join(', ')}); give one kind of file for each run`
          : `the recipe gives the model no ${kind} input`,
      );
    return found[0].name;
  };
  const skipped: SkippedFile[] = [];
  const sources: Source[] = [];
  const files = paths.flatMap(filesOf);
  if (!files.length) verifyError(`${paths.join(', ')}: no files`);
  let found = 0;
  let looked = 0;
  for (const file of files) {
    // Enough samples for the run (--samples): the rest of the folder is not read.
    if (found >= limit) break;
    // Between files: let a cancel arrive and say how far the read has come.
    await new Promise((resolve) => setImmediate(resolve));
    if (watch.signal?.aborted || watch.cancelled?.()) throw new CancelledError();
    watch.progress?.(looked, files.length);
    looked++;
    const ext = path.extname(file).toLowerCase();
    try {
      if (IMAGE_TYPES.has(ext)) {
        const input = only('image', file);
        decodeImage(read(file), file);
        sources.push({ file, kind: 'image', inputs: [input], count: 1 });
      } else if (AUDIO_TYPES.has(ext)) {
        const input = only('audio', file);
        const r = recipe.inputs[input] as AudioRecipe;
        const count = chunksOf(file, r).length;
        if (!count)
          throw new DataError(file, `shorter than one ${r.length}-sample chunk at ${r.rate} Hz`);
        sources.push({ file, kind: 'audio', inputs: [input], count });
      } else if (TENSOR_TYPES.has(ext)) {
        const { name } = tensorOf(file);
        const named = inputs.find(
          (i) => i.name === name && recipe.inputs[i.name]?.kind !== 'value',
        );
        sources.push({
          file,
          kind: 'tensor',
          inputs: [named?.name ?? only('tensor', file)],
          count: 1,
        });
      } else if (ARCHIVE_TYPES.has(ext)) {
        const names = arraysOf(file).map((a) => a.name);
        const unknown = names.filter((n) => !inputs.some((i) => i.name === n));
        if (unknown.length)
          throw new DataError(
            file,
            `arrays ${unknown.map((n) => `'${n}'`).join(', ')} name no input of the model (${inputs.map((i) => i.name).join(', ')})`,
          );
        sources.push({ file, kind: 'arrays', inputs: [...names].sort(), count: 1 });
      } else
        throw new DataError(
          file,
          'not an image (.png, .jpg), a recording (.wav) or tensors (.npy, .pb, .npz)',
        );
      found += sources[sources.length - 1].count;
    } catch (err) {
      if (!(err instanceof DataError || err instanceof VerifyError)) throw err;
      skipped.push({
        file,
        reason: err instanceof DataError ? err.message : `${file}: ${err.message}`,
      });
    }
  }
  const kinds = new Set(sources.map((s) => `${s.kind} of ${s.inputs.join(', ')}`));
  if (kinds.size > 1)
    verifyError(
      `${paths.join(', ')}: files of different kinds or for different inputs (${[...kinds].join('; ')}); give one kind of file per run`,
    );
  if (!sources.length)
    verifyError(
      `${paths.join(', ')}: no usable data (${skipped.length} file${skipped.length === 1 ? '' : 's'} skipped; the first: ${skipped[0]?.reason ?? 'none'})`,
    );
  const { kind, inputs: names } = sources[0];
  const specOf = (n: string) => inputs.find((i) => i.name === n)!;
  const r = recipe.inputs[names[0]];
  const total = Math.min(
    limit,
    sources.reduce((a, s) => a + s.count, 0),
  );
  const unread = files.length - looked;
  const starts: number[] = [];
  sources.reduce((at, s) => (starts.push(at), at + s.count), 0);
  let cached: { file: string; pieces: Float32Array[] } | undefined;
  const sample = (k: number): Map<string, HostTensor> => {
    let at = starts.length - 1;
    while (starts[at] > k) at--;
    const src = sources[at];
    const one = (t: HostTensor) => new Map([[names[0], t]]);
    const typed = (n: string, t: HostTensor) =>
      convertTo(t, specOf(n).dtype, `input '${n}' from ${path.basename(src.file)}`, []);
    if (kind === 'arrays')
      return new Map(arraysOf(src.file).map((a) => [a.name, typed(a.name, a.tensor)]));
    // A tensor file feeds its input as it is, even one the recipe would fill from pictures or sound.
    if (kind === 'tensor') return one(typed(names[0], tensorOf(src.file).tensor));
    if (r.kind === 'image')
      return one({ dtype: 1, ...imageTensor(decodeImage(read(src.file), src.file), r) });
    if (r.kind === 'audio') {
      if (cached?.file !== src.file) cached = { file: src.file, pieces: chunksOf(src.file, r) };
      return one({ dtype: 1, dims: [1, r.length], data: cached.pieces[k - starts[at]] });
    }
    return one(typed(names[0], tensorOf(src.file).tensor));
  };
  const first = sample(0);
  for (const [n, t] of first)
    checkShape(specOf(n), t.dims, `input '${n}' from ${path.basename(sources[0].file)}`);
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const what =
    kind === 'arrays'
      ? plural(total, '.npz file')
      : kind === 'image'
        ? plural(total, 'image')
        : kind === 'audio' && r.kind === 'audio'
          ? `${plural(total, 'chunk')} of ${r.length} samples at ${r.rate} Hz from ${plural(sources.length, 'WAV file')}`
          : plural(total, 'tensor file');
  const tensors = kind === 'tensor' || kind === 'arrays';
  return {
    inputs: names,
    samples: total,
    describe: `${what} in ${where(paths)}${unread ? ` (the first ${looked} of ${files.length} files)` : ''}${tensors ? '' : recipeNote}`,
    dims: new Map([...first].map(([n, t]) => [n, t.dims])),
    feed: (k) => {
      const got = k === 0 ? first : sample(k);
      for (const [n, t] of got) {
        const want = first.get(n)!.dims;
        if (t.dims.length !== want.length || t.dims.some((d, a) => d !== want[a]))
          verifyError(
            `input '${n}': sample ${k + 1} is [${t.dims.join(',')}], the first was [${want.join(',')}]; every sample has one shape`,
          );
      }
      return got;
    },
    skipped,
    values: Object.fromEntries(
      Object.entries(recipe.inputs).flatMap(([k, v]) => (v.kind === 'value' ? [[k, v.value]] : [])),
    ),
  };
}

/** A .npy or TensorProto .pb file: its tensor, and the input name it gives (the .pb's own, else the file's stem). */
function tensorOf(file: string): { name: string; tensor: HostTensor } {
  const bytes = read(file);
  const base = path.basename(file);
  const stem = base.replace(/\.[^.]*$/, '');
  if (path.extname(file).toLowerCase() === '.npy')
    return { name: stem, tensor: parseNpy(bytes, base) };
  const { name, tensor } = parseTensorProto(bytes, base);
  return { name: name || stem, tensor };
}

/** An .npz file's arrays, each named after the input it feeds. */
function arraysOf(file: string): { name: string; tensor: HostTensor }[] {
  return parseNpz(read(file), inflateRaw, path.basename(file));
}

/** A recording as the recipe's chunks: mono, resampled to its rate, scaled, whole chunks only. */
function chunksOf(file: string, r: AudioRecipe): Float32Array[] {
  const a = decodeWav(read(file), file);
  const mono = toMono(a);
  return chunks(a.rate === r.rate ? mono : resample(mono, a.rate, r.rate), r.length, {
    scale: r.scale,
  });
}
