import * as path from 'node:path';
import { compressModel } from '../core/compress/pipeline';
import type { CompressHooks, CompressReport } from '../core/compress/report';
import type { CompressSpec } from '../core/compress/spec';
import { readModel } from '../core/formats';
import type { ByteSink } from '../core/formats/onnx/writer';
import type { RandomAccessSource } from '../core/io/source';
import type { Model } from '../core/model';
import { FileSource, FolderResolver } from './fileSource';

/** An open model file for the duration of a scan: compressed variants are built from it in memory. */
export interface OpenModel {
  file: string;
  source: FileSource;
  resolver: FolderResolver;
  model: Model;
}

export async function withOpenModel<T>(file: string, fn: (m: OpenModel) => Promise<T>): Promise<T> {
  const source = new FileSource(file);
  const resolver = new FolderResolver(file);
  try {
    return await fn({
      file,
      source,
      resolver,
      model: readModel(source, path.basename(file), resolver),
    });
  } finally {
    source.close();
    resolver.close();
  }
}

export interface InMemoryVariant {
  bytes: Uint8Array;
  externalData: { path: string; data: Uint8Array }[];
  report: CompressReport;
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A sink that keeps copies of what it is given (writers reuse their buffers). */
export function memorySink(): ByteSink & { bytes(): Uint8Array; length: number } {
  const chunks: Uint8Array[] = [];
  const sink = {
    length: 0,
    write(b: Uint8Array) {
      chunks.push(b.slice());
      sink.length += b.length;
    },
    bytes: () => concat(chunks, sink.length),
  };
  return sink;
}

/** The variant's bytes (and its external data, for models that have some), never touching the disk. */
export function compressInMemory(
  m: Pick<OpenModel, 'file' | 'model'> & {
    source: RandomAccessSource;
    resolver: { open(file: string): RandomAccessSource };
  },
  spec: CompressSpec,
  hooks: CompressHooks,
): InMemoryVariant {
  const main = memorySink();
  const externalData: InMemoryVariant['externalData'] = [];
  const shards = {
    mainName: 'variant.onnx',
    write(name: string, produce: (sink: ByteSink) => void): number {
      const s = memorySink();
      produce(s);
      externalData.push({ path: name, data: s.bytes() });
      return s.length;
    },
  };
  const report = compressModel(m.source, m.model, spec, (f) => m.resolver.open(f), main, {
    ...hooks,
    shards,
  });
  return { bytes: main.bytes(), externalData, report };
}

/** Only the report: the bytes go nowhere (sizes and weight errors of a whole-model setting). */
export function compressReportOnly(
  m: OpenModel,
  spec: CompressSpec,
  hooks: CompressHooks,
): CompressReport {
  let n = 0;
  const count: ByteSink = { write: (b) => void (n += b.length) };
  const shards = {
    mainName: 'variant.onnx',
    write: (_name: string, produce: (sink: ByteSink) => void) => ((n = 0), produce(count), n),
  };
  return compressModel(m.source, m.model, spec, (f) => m.resolver.open(f), count, {
    ...hooks,
    shards,
  });
}
