import * as fs from 'node:fs';
import * as path from 'node:path';
import { readModel } from '../core/formats';
import { compressModel } from '../core/compress/pipeline';
import type { CompressFileResult, CompressHooks, CompressReport } from '../core/compress/report';
import { normaliseSpec, variantSuffix, type CompressSpec } from '../core/compress/spec';
import type { ByteSink } from '../core/formats/onnx/writer';
import { variantPath, writeAtomically } from './atomicWrite';
import { FileSource, FolderResolver } from './fileSource';
import { tensorThreads } from './tensorThreads';

export interface CompressFileOptions extends CompressHooks {
  /** Output path; default `<stem>.<suffix>.onnx` next to the input. */
  output?: string;
  /** Overwrite an existing output. */
  force?: boolean;
  /** Compress tensors in this many helper threads running `script` (worker.js); default: on the calling thread. */
  tensorThreads?: { script: string; count: number };
}

/** Below this much weight data, starting helper threads costs more than it saves. */
const THREADED_BYTES = 16 * 2 ** 20;

export type { CompressFileResult };

/**
 * Compresses a model file into a new file. The input is only read; the output appears whole
 * under its name or not at all, and an existing file is never replaced unless `force`.
 */
export function compressFile(
  input: string,
  spec: CompressSpec,
  options: CompressFileOptions = {},
): CompressFileResult {
  const started = performance.now();
  const normalised = normaliseSpec(spec);
  const output = path.resolve(options.output ?? variantPath(input, variantSuffix(normalised)));
  if (path.resolve(input) === output) throw new Error('the output would overwrite the original');
  const before = fs.statSync(input);
  const source = new FileSource(input);
  const resolver = new FolderResolver(input);
  try {
    const model = readModel(source, path.basename(input), resolver);
    const threaded =
      options.tensorThreads &&
      options.tensorThreads.count > 1 &&
      model.tensors.reduce((n, t) => n + t.bytes, 0) >= THREADED_BYTES &&
      fs.existsSync(options.tensorThreads.script);
    const parallel = threaded
      ? tensorThreads(options.tensorThreads!.script, input, options.tensorThreads!.count)
      : undefined;
    let report: CompressReport | undefined;
    const atomic = { force: options.force ?? false, cancelled: options.cancelled };
    // Sibling files (safetensors shards, ONNX external data): each written whole before the file that names them; all removed if anything fails.
    const shards: string[] = [];
    const shardWriter = {
      mainName: path.basename(output),
      write(name: string, produce: (sink: ByteSink) => void): number {
        const target = path.join(path.dirname(output), name);
        const n = writeAtomically(target, atomic, produce);
        shards.push(target);
        return n;
      },
    };
    try {
      writeAtomically(output, atomic, (sink) => {
        report = compressModel(source, model, normalised, (f) => resolver.open(f), sink, {
          ...options,
          shards: shardWriter,
          parallel,
        });
      });
      const after = fs.statSync(input);
      if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
        // A writer raced us: the variant may mix old and new bytes, so it must not stay.
        fs.rmSync(output, { force: true });
        throw new Error(
          'the model changed on disk while it was being compressed; nothing was written',
        );
      }
    } catch (err) {
      for (const s of shards) fs.rmSync(s, { force: true });
      throw err;
    }
    return { input, output, elapsedMs: performance.now() - started, report: report! };
  } finally {
    source.close();
    resolver.close();
  }
}

/** Removes an ONNX variant and its external data (written as `<variant>.data`). */
export function removeVariant(output: string): void {
  for (const f of [output, `${output}.data`]) fs.rmSync(f, { force: true });
}

/**
 * Runs the checks that follow a write (held-out runs, comparisons). If they fail or are
 * cancelled, the variant and its external data go too: a cancelled command leaves nothing.
 */
export async function afterWrite<T>(output: string, checks: () => Promise<T>): Promise<T> {
  try {
    return await checks();
  } catch (err) {
    removeVariant(output);
    throw err;
  }
}
