import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalid } from '../core/errors';
import type { ExternalDataResolver, RandomAccessSource } from '../core/io/source';

/** Turns an fs error into the one-line reason a user should read. */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
      return 'file not found';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/** A file read with positional reads; the descriptor stays open until close(). */
export class FileSource implements RandomAccessSource {
  private readonly fd: number;
  private readonly bytes: number;

  constructor(readonly name: string) {
    try {
      this.fd = fs.openSync(name, 'r');
    } catch (err) {
      throw new Error(describeFsError(err));
    }
    const st = fs.fstatSync(this.fd);
    if (!st.isFile()) {
      fs.closeSync(this.fd);
      throw new Error(st.isDirectory() ? 'is a directory' : 'not a regular file');
    }
    this.bytes = st.size;
  }

  size(): number {
    return this.bytes;
  }

  read(offset: number, into: Uint8Array): number {
    if (offset >= this.bytes || into.length === 0) return 0;
    return fs.readSync(this.fd, into, 0, Math.min(into.length, this.bytes - offset), offset);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/**
 * Opens external data files named by a model, only inside the model's own folder: absolute
 * paths, `..` escapes and symlinks resolving outside it are refused, so a model cannot make
 * Model Lens read arbitrary files.
 */
export class FolderResolver implements ExternalDataResolver {
  private readonly dir: string;
  private readonly open_ = new Map<string, FileSource>();

  constructor(modelPath: string) {
    this.dir = path.dirname(path.resolve(modelPath));
  }

  open(location: string): RandomAccessSource {
    const cached = this.open_.get(location);
    if (cached) return cached;
    if (location.includes('\0') || path.isAbsolute(location) || path.win32.isAbsolute(location)) {
      invalid(
        `external data location '${location}' is absolute; only files next to the model are read`,
      );
    }
    const parts = location.split(/[\\/]+/);
    if (parts.includes('..'))
      invalid(`external data location '${location}' leaves the model's folder`);
    const full = path.join(this.dir, ...parts);
    let real: string;
    let realDir: string;
    try {
      real = fs.realpathSync(full);
      realDir = fs.realpathSync(this.dir);
    } catch {
      invalid(`external data file '${location}' not found next to the model`);
    }
    if (!real.startsWith(realDir + path.sep))
      invalid(`external data location '${location}' resolves outside the model's folder`);
    let source: FileSource;
    try {
      source = new FileSource(real);
    } catch (err) {
      invalid(`external data file '${location}': ${(err as Error).message}`);
    }
    this.open_.set(location, source);
    return source;
  }

  close(): void {
    for (const s of this.open_.values()) s.close();
    this.open_.clear();
  }
}
