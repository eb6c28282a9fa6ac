// scripts/layers.mjs (part of `npm run lint`) fails on what it promises to catch, and passes the repository.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';

const ROOT = join(import.meta.dirname, '../..');
const SCRIPT = join(ROOT, 'scripts/layers.mjs');
const work = mkdtempSync(join(tmpdir(), 'model-lens-layers-'));
after(() => rmSync(work, { recursive: true, force: true }));

function tree(name, files) {
  const dir = join(work, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  return spawnSync(process.execPath, [SCRIPT, dir], { encoding: 'utf8' });
}

describe('layers lint', () => {
  it('the repository has no import cycles and no imports against the layers', () => {
    const r = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });

  it('fails on a cycle made of type imports, and on core, shared or webview importing upward', () => {
    const r = tree('bad', {
      'src/core/a.ts': "import type { B } from './b';\nexport type A = B;\n",
      'src/core/b.ts': "import type { A } from './a';\nexport type B = A | 1;\n",
      'src/core/c.ts': "export { x } from '../node/x';\n",
      'src/shared/s.ts': "import { e } from '../extension/e';\n",
      'webview/w.ts': "import type { E } from '../src/extension/e';\n",
      'src/node/x.ts': 'export const x = 1;\n',
      'src/extension/e.ts':
        "import { x } from '../node/x';\nexport const e = x;\nexport type E = number;\n",
    });
    assert.equal(r.status, 1);
    assert.deepEqual(r.stderr.trim().split('\n'), [
      'layers: import cycle: src/core/a.ts <-> src/core/b.ts',
      'layers: import against the layers: src/core/c.ts -> src/node/x.ts',
      'layers: import against the layers: src/shared/s.ts -> src/extension/e.ts',
      'layers: import against the layers: webview/w.ts -> src/extension/e.ts',
    ]);
  });

  it('allows what the layers allow: extension and cli on everything, shared on core', () => {
    const r = tree('good', {
      'src/core/m.ts': 'export const m = 1;\n',
      'src/shared/p.ts': "import { m } from '../core/m';\nexport const p = m;\n",
      'src/node/n.ts': "import { p } from '../shared/p';\nexport const n = p;\n",
      'src/extension/e.ts': "import { n } from '../node/n';\nexport const e = n;\n",
      'webview/w.ts': "import { p } from '../src/shared/p';\nexport const w = p;\n",
    });
    assert.equal(r.status, 0, r.stderr);
  });
});
