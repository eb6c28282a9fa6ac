import { invalid } from '../errors';
import type { ExternalDataResolver, RandomAccessSource } from '../io/source';
import type { Model } from '../model';
import { readGguf, sniffGguf } from './gguf/reader';
import { readOnnx, sniffOnnx } from './onnx/reader';
import { readPytorch, sniffPytorch } from './pytorch/reader';
import { readSafetensors, sniffSafetensorsFile } from './safetensors/reader';

/** A format: `sniff` looks at bytes (and the name, for formats without a magic number). */
interface FormatModule {
  name: string;
  sniff(source: RandomAccessSource, fileName: string): boolean;
  read(source: RandomAccessSource, external?: ExternalDataResolver, fileName?: string): Model;
}

/** Ordered: formats with a magic number first, protobuf (no magic) last. */
const formats: FormatModule[] = [
  { name: 'gguf', sniff: (source) => sniffGguf(source), read: readGguf },
  { name: 'safetensors', sniff: sniffSafetensorsFile, read: readSafetensors },
  { name: 'pytorch', sniff: sniffPytorch, read: readPytorch },
  {
    name: 'onnx',
    sniff: (source, fileName) => fileName.toLowerCase().endsWith('.onnx') || sniffOnnx(source),
    read: readOnnx,
  },
];

export function readModel(
  source: RandomAccessSource,
  fileName: string,
  external?: ExternalDataResolver,
): Model {
  if (source.size() === 0) invalid('file is empty');
  const format = formats.find((f) => f.sniff(source, fileName));
  if (!format) invalid('not a recognised model format');
  return format.read(source, external, fileName);
}
