#!/usr/bin/env node
// The house's shape, checked by `npm run lint`: no import cycles among the product's TypeScript
// (type imports included), and no import that runs against the layers: src/core imports nothing
// above it; src/shared and webview import nothing from src/extension, src/node or src/cli.
// Usage: node scripts/layers.mjs [ROOT]; exit 1 with one line per cycle or crossing.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';

const root = process.argv[2] ?? join(import.meta.dirname, '..');
const LAYERS = [
  'src/core',
  'src/shared',
  'src/node',
  'src/extension',
  'src/cli',
  'src/fuzz',
  'webview',
];
/** What each layer must not import. */
const FORBIDDEN = {
  'src/core': ['src/shared', 'src/node', 'src/extension', 'src/cli', 'src/fuzz', 'webview'],
  'src/shared': ['src/node', 'src/extension', 'src/cli', 'webview'],
  webview: ['src/node', 'src/extension', 'src/cli'],
};

function walk(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory()
      ? walk(p)
      : p.endsWith('.ts') && !p.endsWith('.d.ts')
        ? [p]
        : [];
  });
}

const posix = (p) => p.split(sep).join('/');
const files = new Set(
  ['src', 'webview'].flatMap((b) => walk(join(root, b))).map((f) => posix(relative(root, f))),
);
const IMPORT =
  /(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/gs;
const edges = new Map();
for (const f of files) {
  const out = new Set();
  for (const m of readFileSync(join(root, f), 'utf8').matchAll(IMPORT)) {
    const p = posix(normalize(join(dirname(f), m[1] ?? m[2])));
    const hit = [`${p}.ts`, `${p}/index.ts`, p].find((c) => files.has(c));
    if (hit) out.add(hit);
  }
  edges.set(f, out);
}

// Tarjan's strongly connected components, iteratively (no recursion limit on deep chains).
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];
let counter = 0;
for (const start of files) {
  if (index.has(start)) continue;
  const work = [[start, [...edges.get(start)], 0]];
  index.set(start, counter);
  low.set(start, counter++);
  stack.push(start);
  onStack.add(start);
  while (work.length) {
    const frame = work[work.length - 1];
    const [v, next] = frame;
    if (frame[2] < next.length) {
      const w = next[frame[2]++];
      if (!index.has(w)) {
        index.set(w, counter);
        low.set(w, counter++);
        stack.push(w);
        onStack.add(w);
        work.push([w, [...edges.get(w)], 0]);
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
      continue;
    }
    work.pop();
    if (work.length) {
      const parent = work[work.length - 1][0];
      low.set(parent, Math.min(low.get(parent), low.get(v)));
    }
    if (low.get(v) === index.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  }
}

const layerOf = (f) => LAYERS.find((l) => f.startsWith(`${l}/`)) ?? 'other';
const against = [];
for (const [a, out] of edges)
  for (const b of out)
    if ((FORBIDDEN[layerOf(a)] ?? []).includes(layerOf(b))) against.push(`${a} -> ${b}`);

for (const c of cycles) console.error(`layers: import cycle: ${c.join(' <-> ')}`);
for (const x of against.sort()) console.error(`layers: import against the layers: ${x}`);
if (cycles.length || against.length) process.exit(1);
console.log(`layers: ${files.size} files, no import cycles, no imports against the layers`);
