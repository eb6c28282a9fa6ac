// Copies the last `npm run test:zoo` table (test-artifacts/zoo.md) into README.md between its zoo markers.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BEGIN = '<!-- zoo:begin -->';
const END = '<!-- zoo:end -->';
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const start = readme.indexOf(BEGIN);
const end = readme.indexOf(END);
if (start < 0 || end < start) throw new Error(`README.md has no ${BEGIN} … ${END} section`);
const table = readFileSync(join(ROOT, 'test-artifacts/zoo.md'), 'utf8').trim();
writeFileSync(
  join(ROOT, 'README.md'),
  `${readme.slice(0, start + BEGIN.length)}\n${table}\n${readme.slice(end)}`,
);
console.log('README.md: zoo table updated from test-artifacts/zoo.md');
