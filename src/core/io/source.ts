import { invalid } from '../errors';

/**
 * Random access to the bytes of a file. Readers never hold a whole file: they read ranges.
 * Synchronous on purpose: parsing runs in worker threads or the CLI, never on the extension host.
 */
export interface RandomAccessSource {
  /** Total size in bytes. */
  size(): number;
  /** Fills `into` from `offset`; returns bytes read (short only at end of file). */
  read(offset: number, into: Uint8Array): number;
  /** A display name for messages (usually the path). */
  readonly name: string;
}

/** Reads exactly `length` bytes at `offset`, refusing ranges outside the source. */
export function readExactly(
  source: RandomAccessSource,
  offset: number,
  length: number,
): Uint8Array {
  if (offset < 0 || length < 0 || offset + length > source.size()) {
    invalid(`range ${offset}+${length} is outside ${source.name} (${source.size()} bytes)`);
  }
  const out = new Uint8Array(length);
  readInto(source, offset, out);
  return out;
}

/** Fills all of `into` from `offset`; a file that ends first is an invalid model. */
export function readInto(source: RandomAccessSource, offset: number, into: Uint8Array): void {
  for (let done = 0; done < into.length;) {
    const n = source.read(offset + done, into.subarray(done));
    if (n <= 0) invalid(`unexpected end of ${source.name} at ${offset + done}`);
    done += n;
  }
}

/** An in-memory source; keeps tests hermetic and serves small buffers. */
export class MemorySource implements RandomAccessSource {
  constructor(
    private readonly bytes: Uint8Array,
    readonly name = 'memory',
  ) {}
  size(): number {
    return this.bytes.length;
  }
  read(offset: number, into: Uint8Array): number {
    const n = Math.max(0, Math.min(into.length, this.bytes.length - offset));
    into.set(this.bytes.subarray(offset, offset + n));
    return n;
  }
}

/** Resolves a data file named inside a model (ONNX external data) to a source, or refuses it. */
export interface ExternalDataResolver {
  open(location: string): RandomAccessSource;
}
