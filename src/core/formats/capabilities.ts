/**
 * What each model format can do, in one table: the extension, the CLI and the webview ask here
 * rather than testing a file extension or a format name. Pure data, so every layer can import it.
 */

import type { MethodName } from '../compress/types';
import { METHODS } from '../compress/spec';

export type ModelFormat = 'onnx' | 'safetensors' | 'gguf' | 'pytorch';

export interface FormatCapabilities {
  /** Shown to people: 'ONNX', 'GGUF'. */
  label: string;
  /** File name endings that say the format without reading a byte (the explorer, an output path). */
  extensions: readonly string[];
  /**
   * A graph onnxruntime can run: verification, the report card's fidelity, sensitivity, fidelity
   * goals, Hessian pruning and preprocessing recipes all need one.
   */
  runnable: boolean;
  /** Each layer can get its own method (fidelity goals, pins, overrides). */
  perLayer: boolean;
  /** The methods a variant of this format can store (each alone; ONNX also chains them). */
  methods: readonly MethodName[];
  /** How a method is stored in this format, where it differs from the method's own name. */
  storedAs?: Partial<Record<MethodName, string>>;
  /** Weights can live in several files (shards) named by an index. */
  sharded: boolean;
}

export const FORMATS: Readonly<Record<ModelFormat, FormatCapabilities>> = {
  onnx: {
    label: 'ONNX',
    extensions: ['.onnx'],
    runnable: true,
    perLayer: true,
    // ONNX stores every method: weights as QDQ/Cast/codebook subgraphs, structure as graph edits.
    methods: METHODS,
    sharded: false,
  },
  safetensors: {
    label: 'safetensors',
    extensions: ['.safetensors', '.safetensors.index.json'],
    runnable: false,
    perLayer: false,
    methods: ['int8', 'fp16', 'bf16', 'prune', 'cluster'],
    sharded: true,
  },
  gguf: {
    label: 'GGUF',
    extensions: ['.gguf'],
    runnable: false,
    perLayer: false,
    methods: ['int8', 'int4', 'fp16', 'bf16'],
    storedAs: { int8: 'Q8_0', int4: 'Q4_0' },
    sharded: false,
  },
  pytorch: {
    label: 'PyTorch',
    extensions: ['.pt', '.pth', '.ckpt', '.bin'],
    runnable: false,
    perLayer: false,
    methods: [],
    sharded: false,
  },
};

/** The capabilities of a model's format (an unknown name can do nothing). */
export function capabilitiesOf(format: string): FormatCapabilities {
  return (
    FORMATS[format as ModelFormat] ?? {
      label: format,
      extensions: [],
      runnable: false,
      perLayer: false,
      methods: [],
      sharded: false,
    }
  );
}

/** The format a file name says, or undefined (a `.bin` may be anything: PyTorch is only a guess). */
export function formatOfFileName(name: string): ModelFormat | undefined {
  const lower = name.toLowerCase();
  let best: { format: ModelFormat; length: number } | undefined;
  for (const [format, caps] of Object.entries(FORMATS) as [ModelFormat, FormatCapabilities][]) {
    for (const ext of caps.extensions)
      if (lower.endsWith(ext) && (!best || ext.length > best.length))
        best = { format, length: ext.length };
  }
  return best?.format;
}

/** 'ONNX: every method; safetensors: int8, fp16, bf16, prune, cluster; GGUF: int8 (Q8_0), …' for help texts. */
export function methodsByFormat(all: readonly MethodName[]): string {
  return (Object.values(FORMATS) as FormatCapabilities[])
    .filter((c) => c.methods.length)
    .map(
      (c) =>
        `${c.label}: ${c.methods.length === all.length ? 'every method' : c.methods.map((m) => (c.storedAs?.[m] ? `${m} (${c.storedAs[m]})` : m)).join(', ')}`,
    )
    .join('; ');
}
