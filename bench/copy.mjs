// Baseline for compression: read a file and write the same bytes elsewhere, in 1 MiB chunks.
import { closeSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';

const [from, to] = process.argv.slice(2);
const input = openSync(from, 'r');
const output = openSync(to, 'w');
const buf = Buffer.allocUnsafe(1 << 20);
for (let n; (n = readSync(input, buf, 0, buf.length, null)) > 0;) writeSync(output, buf, 0, n);
fsyncSync(output);
closeSync(input);
closeSync(output);
