import * as path from 'node:path';
import { InvalidModelError } from '../../core/errors';
import { readModel } from '../../core/formats';
import { readExactly } from '../../core/io/source';
import type { Model, TensorStorage } from '../../core/model';
import type { VerifyReport } from '../../core/verify/report';
import { verifyError } from '../../core/verify/tensor';
import { verifyModels, type ModelUnderTest, type VerifyOptions } from '../../core/verify/verify';
import { FileSource, FolderResolver } from '../fileSource';
import { dataOpener } from '../data/open';
import { loadInputFiles } from './inputFiles';
import { loadOrtWeb, openOrtWebSession } from './ortWeb';

export interface RunVerifyOptions extends VerifyOptions {
  /** Folder holding onnxruntime-web's .wasm/.mjs (default: `ort` next to the running bundle). */
  wasmDir?: string;
}

/**
 * A model plus its external data must fit WebAssembly's 4 GiB address space alongside the
 * weights the runtime derives from them; past this the load would fail deep inside the runtime.
 */
export const MAX_WASM_MODEL_BYTES = 2 ** 31;

function externalFiles(storage: TensorStorage, into: Set<string>): void {
  if (storage.kind === 'external') into.add(storage.file);
  else if (storage.kind === 'sparse') externalFiles(storage.values, into);
}

/** Opens a model file (and its folder, for external data) for the duration of `fn`; file problems become VerifyErrors naming it. */
export function withModelFile<T>(
  file: string,
  fn: (source: FileSource, resolver: FolderResolver) => T,
): T {
  let source: FileSource;
  try {
    source = new FileSource(file);
  } catch (err) {
    verifyError(`${file}: ${(err as Error).message}`);
  }
  const resolver = new FolderResolver(file);
  try {
    return fn(source, resolver);
  } catch (err) {
    if (err instanceof InvalidModelError) verifyError(`${file}: ${err.message}`);
    throw err;
  } finally {
    source.close();
    resolver.close();
  }
}

/** The bytes onnxruntime needs: the model file and its external data files, keyed by the location the model names. */
export function modelBytes(
  file: string,
  model: Model,
): { bytes: Uint8Array; externalData: { path: string; data: Uint8Array }[] } {
  return withModelFile(file, (source, resolver) => {
    const locations = new Set<string>();
    for (const t of model.tensors) externalFiles(t.storage, locations);
    const sources = [...locations].map((location) => ({ location, s: resolver.open(location) }));
    const total = sources.reduce((n, x) => n + x.s.size(), source.size());
    if (total > MAX_WASM_MODEL_BYTES) {
      verifyError(
        `${file}: ${(total / 2 ** 30).toFixed(1)} GiB with its external data, more than onnxruntime-web (WebAssembly, 4 GiB memory) can load; the limit is ${MAX_WASM_MODEL_BYTES / 2 ** 30} GiB`,
      );
    }
    return {
      bytes: readExactly(source, 0, source.size()),
      externalData: sources.map(({ location, s }) => ({
        path: location,
        data: readExactly(s, 0, s.size()),
      })),
    };
  });
}

/** Loads onnxruntime-web for this process (see loadOrtWeb), checking the thread count first. */
export function ortFor(options: RunVerifyOptions): ReturnType<typeof loadOrtWeb> {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 64)
    verifyError(`threads must be an integer from 1 to 64`);
  return loadOrtWeb(options.wasmDir ?? path.join(__dirname, 'ort'), threads);
}

/** A model file ready to be loaded into onnxruntime-web; its bytes are read only when the session opens. */
export function modelUnderTest(
  ort: ReturnType<typeof loadOrtWeb>['ort'],
  file: string,
): ModelUnderTest {
  const model = withModelFile(file, (source, resolver) =>
    readModel(source, path.basename(file), resolver),
  );
  return {
    label: file,
    model,
    // Bytes are read when the session opens, so only one model's bytes are alive at a time.
    open: () => {
      const { bytes, externalData } = modelBytes(file, model);
      return openOrtWebSession(ort, file, bytes, externalData);
    },
  };
}

/**
 * Runs ORIGINAL and VARIANT with onnxruntime-web on the same inputs (seeded random ones shaped
 * from the model's declared inputs, or tensors from `options.inputs` files) and compares every
 * output. Throws VerifyError with a one-line reason when the run cannot be done.
 */
export async function runVerify(
  original: string,
  variant: string,
  options: RunVerifyOptions = {},
): Promise<VerifyReport> {
  const { ort, version } = ortFor(options);
  return verifyModels(
    modelUnderTest(ort, original),
    modelUnderTest(ort, variant),
    () => loadInputFiles(options.inputs ?? []),
    { ...options, openData: dataOpener(original, options) },
    version,
  );
}
