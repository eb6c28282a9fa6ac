import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Ort from 'onnxruntime-web';
import {
  InferenceError,
  verifyError,
  type HostTensor,
  type TensorData,
} from '../../core/verify/tensor';
import type { RuntimeSession } from '../../core/verify/verify';

type OrtModule = typeof Ort;

/** The WebAssembly build the Node entry of onnxruntime-web loads (scripts/build.mjs copies it to dist/ort). */
const ORT_WASM_FILES = ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];

/** ONNX dtype code ↔ onnxruntime tensor type name. */
const ORT_TYPES: Record<number, Ort.Tensor.Type> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
};
const DTYPES = new Map(
  Object.entries(ORT_TYPES).map(([code, type]) => [type as string, Number(code)]),
);

let loaded: { ort: OrtModule; wasmDir: string; threads: number } | undefined;

/**
 * Loads onnxruntime-web once per process (thread), pointing it at the WebAssembly files in `wasmDir`.
 * Its settings are global to the module, so a later call with other settings gets the first ones.
 */
export function loadOrtWeb(wasmDir: string, threads: number): { ort: OrtModule; version: string } {
  if (!loaded) {
    for (const f of ORT_WASM_FILES) {
      if (!fs.existsSync(path.join(wasmDir, f)))
        verifyError(
          `onnxruntime-web is not installed with Model Lens: ${path.join(wasmDir, f)} is missing`,
        );
    }
    // require, not import: esbuild would pick the package's ESM entry, whose import.meta.url a CJS bundle cannot provide.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ort = require('onnxruntime-web') as OrtModule;
    ort.env.wasm.wasmPaths = pathToFileURL(wasmDir + path.sep).href;
    ort.env.wasm.numThreads = threads;
    // Its own logging (warnings about old opsets, multi-line errors) floods stderr; failures reach the user as one line from us.
    ort.env.logLevel = 'fatal';
    loaded = { ort, wasmDir, threads };
  }
  return {
    ort: loaded.ort,
    version: `onnxruntime-web ${loaded.ort.env.versions.web ?? loaded.ort.env.versions.common}`,
  };
}

/** Logging threshold of sessions and runs: fatal only (4), so onnxruntime prints nothing of its own. */
const SILENT = 4;

/** A failure inside nested subgraphs (If, Loop) repeats the status of each enclosing node: the innermost node and status say what broke. */
const NESTED_STATUS =
  /^(?:Non-zero status code returned while running \w+ node\. Name:'[^']*' Status Message: )+/;
const INNER_NODE = /running (\w+) node\. Name:'([^']*)' Status Message: $/;

/** onnxruntime's message without its boilerplate, first line only; of nested node failures, the innermost. */
export function ortMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const line =
    text
      .replace(/^Can't create a session\.\s*/, '')
      .replace(/^failed to call OrtRun\(\)\.\s*/, '')
      .replace(/^ERROR_CODE: \d+, ERROR_MESSAGE:\s*/, '')
      .split('\n')[0]
      .trim() || text;
  const chain = NESTED_STATUS.exec(line)?.[0];
  const inner = chain && INNER_NODE.exec(chain);
  return inner ? `${inner[1]} node '${inner[2]}': ${line.slice(chain.length)}` : line;
}

function toOrt(ort: OrtModule, t: HostTensor): Ort.Tensor {
  const type = ORT_TYPES[t.dtype];
  if (!type) verifyError(`dtype ${t.dtype} cannot be fed to onnxruntime-web`);
  return new ort.Tensor(type, t.data as never, t.dims);
}

function fromOrt(name: string, t: Ort.Tensor): HostTensor {
  const dtype = DTYPES.get(t.type);
  if (dtype === undefined)
    verifyError(`output '${name}' is of type ${t.type}, which the verifier cannot compare`);
  return { dtype, dims: [...t.dims], data: t.data as TensorData };
}

/**
 * Creates a session from the model bytes and its external data files (keyed by the location
 * the model names them by). `label` names the model in error messages.
 */
export async function openOrtWebSession(
  ort: OrtModule,
  label: string,
  bytes: Uint8Array,
  externalData: { path: string; data: Uint8Array }[],
): Promise<RuntimeSession> {
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['wasm'],
      logSeverityLevel: SILENT,
      externalData,
    });
  } catch (err) {
    verifyError(`${label}: onnxruntime-web cannot load it: ${ortMessage(err)}`);
  }
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds, fetch) {
      // The WebAssembly run resolves without reaching the event loop; let a queued cancel message in first.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const ortFeeds: Record<string, Ort.Tensor> = {};
      for (const [name, t] of feeds) ortFeeds[name] = toOrt(ort, t);
      let results: Ort.InferenceSession.ReturnType;
      try {
        results = await session.run(ortFeeds, fetch, { logSeverityLevel: SILENT });
      } catch (err) {
        throw new InferenceError(label, ortMessage(err));
      }
      const out = new Map<string, HostTensor>();
      for (const name of fetch) out.set(name, fromOrt(name, results[name]));
      return out;
    },
    release: () => session.release(),
  };
}
