/**
 * Webview hygiene: every panel's HTML has a strict CSP with a fresh nonce and no remote resources,
 * resources come only from shipped folders, and every message from a webview is validated by the
 * host (random JSON is rejected, never a throw).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { inspectorHtml, makeNonce } from '../../src/extension/webviewHtml';
import {
  COMPARE_ACTIONS,
  parseFromCompare,
  parseFromReport,
  REPORT_ACTIONS,
} from '../../src/shared/reportProtocol';
import { rng } from '../../src/fuzz/harness';
import { LAYER_CHOICES } from '../../src/core/compress/spec';
import { MAX_PINS, parseFromWebview, SCAN_METHODS } from '../../src/shared/protocol';
import { distFile } from './helpers';

const repo = join(distFile(''), '..');
const extensionSources = (): Map<string, string> =>
  new Map(
    readdirSync(join(repo, 'src', 'extension'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => [f, readFileSync(join(repo, 'src', 'extension', f), 'utf8')]),
  );

describe('webview HTML', () => {
  const origin = 'https://file+.vscode-resource.vscode-cdn.net';
  const html = (nonce = makeNonce()) =>
    inspectorHtml({
      cspSource: origin,
      nonce,
      scriptUri: `${origin}/ext/dist/webview/main.js`,
      styleUri: `${origin}/ext/media/x.css`,
      codiconUri: `${origin}/ext/dist/webview/codicon.css`,
    });

  it("CSP: default-src 'none', scripts only by nonce, no unsafe-eval or unsafe-inline", () => {
    const page = html('N0nce+/=');
    const csp = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(page)?.[1] ?? '';
    const directives = new Map(
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .map(([k, ...v]) => [k, v]),
    );
    assert.deepEqual(directives.get('default-src'), ["'none'"]);
    assert.deepEqual(directives.get('script-src'), ["'nonce-N0nce+/='"]);
    assert.doesNotMatch(csp, /unsafe-eval|unsafe-inline|\*|http:/);
    for (const [k, v] of directives)
      if (k !== 'default-src' && k !== 'script-src')
        for (const s of v) assert.ok(s === origin || s === 'data:', `${k} ${s}`);
  });

  it('every URL in the page is on the webview resource origin: no remote resources', () => {
    const urls = html().match(/https?:\/\/[^"'\s;)]+/g) ?? [];
    assert.ok(urls.length >= 3);
    for (const u of urls) assert.ok(u.startsWith(origin), u);
  });

  it('nonces are fresh, 128 random bits each', () => {
    const nonces = new Set(Array.from({ length: 1000 }, makeNonce));
    assert.equal(nonces.size, 1000);
    for (const n of nonces) assert.equal(Buffer.from(n, 'base64').length, 16);
  });

  it('every panel builds its HTML with the strict shell and limits localResourceRoots to shipped folders', () => {
    const sources = extensionSources();
    let panels = 0;
    for (const [file, src] of sources) {
      for (const m of src.matchAll(/\.html\s*=\s*(\w+)\(/g))
        assert.equal(m[1], 'inspectorHtml', `${file} sets webview HTML through the strict shell`);
      for (const m of src.matchAll(/localResourceRoots:\s*\[([^\]]*)\]/g)) {
        panels++;
        for (const root of m[1].split(',').map((s) => s.trim()))
          assert.match(root, /^(webviewRoot|media)$/, `${file}: ${root}`);
        // Both names are joined onto the extension's own folder.
        assert.match(
          src,
          /(webviewRoot|media) = vscode\.Uri\.joinPath\((this\.)?(deps\.)?extensionUri, '(dist|media)'/,
        );
      }
    }
    // The inspector, and the one factory the report and Compare panels share.
    assert.ok(panels >= 2, `found ${panels} panels`);
  });

  it('every webview message handler validates before acting', () => {
    let handlers = 0;
    for (const [file, src] of extensionSources()) {
      for (const m of src.matchAll(/onDidReceiveMessage\(\((\w+)\) => this\.(\w+)\(\1\)\)/g)) {
        handlers++;
        const body = new RegExp(
          `private ${m[2]}\\(raw: unknown\\): void \\{\\s*const message = (parseFrom\\w+)\\(raw\\);\\s*if \\(!message\\)`,
        ).exec(src);
        assert.ok(
          body,
          `${file}: ${m[2]} parses the raw message first and ignores a malformed one`,
        );
      }
      assert.doesNotMatch(
        src,
        /onDidReceiveMessage\((?!\((\w+)\) => this\.\w+\(\1\)\))/,
        `${file}: every handler goes through a validating method`,
      );
    }
    assert.ok(handlers >= 3, `found ${handlers} handlers`);
  });

  it('webview bundles do not evaluate strings', () => {
    for (const f of readdirSync(distFile('webview')).filter((f) => f.endsWith('.js'))) {
      const js = readFileSync(join(distFile('webview'), f), 'utf8');
      assert.doesNotMatch(js, /\beval\s*\(|new Function\s*\(/, f);
    }
  });
});

const SCAN_REQUESTS = ['sensitivity', 'cancelScan', 'compressMixed'];

/** Parameters of the Sensitivity tab's requests, valid and not, field by field. */
function scanParams(r: () => number, pick: <T>(xs: T[]) => T): Record<string, unknown> {
  const o: Record<string, unknown> = {
    method: pick([...SCAN_METHODS, 'prune', 'float', 'toString', 3]),
    samples: pick([1, 8, 1000, 0, 1001, 2.5, '8', NaN]),
    seed: pick([0, 7, 2 ** 53, -1, 0.5, '0']),
    cachedOnly: pick([true, false, 'yes', undefined]),
    overrides: pick([
      {},
      { 'fc1.weight': 'float', 'fc3.weight': 'int8' },
      { a: 'int3' },
      { '': 'fp16' },
      ['float'],
      null,
      JSON.parse('{"__proto__":"float"}'),
      { ['x'.repeat(5000)]: 'int4' },
    ]),
    goal: pick([
      null,
      { targetCosine: 0.999 },
      { sizeBudget: 80_000 },
      { targetCosine: 1.5 },
      { targetCosine: -1 },
      { sizeBudget: 0.5 },
      { targetCosine: 0.9, sizeBudget: 5 },
      {},
      undefined,
      'x',
    ]),
  };
  for (const k of Object.keys(o)) if (r() < 0.1) delete o[k];
  return o;
}

/** Random JSON-like values, biased toward the shapes the parsers look at. */
function randomValue(r: () => number, depth = 0): unknown {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const k = Math.floor(r() * (depth > 3 ? 6 : 9));
  switch (k) {
    case 0:
      return null;
    case 1:
      return pick([0, -1, 1.5, 2 ** 53, -(2 ** 60), NaN, Infinity, 1e308]);
    case 2:
      return pick([
        '',
        'ready',
        'request',
        'action',
        'json',
        'csv',
        '__proto__',
        'constructor',
        ...REPORT_ACTIONS,
        ...COMPARE_ACTIONS,
        'x'.repeat(10_000),
      ]);
    case 3:
      return r() < 0.5;
    case 4:
      return undefined;
    case 5:
      return pick([10n, Symbol('s'), () => 1]);
    case 6:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (const key of [
        'type',
        'id',
        'method',
        'params',
        'action',
        'format',
        '__proto__',
        'constructor',
      ])
        if (r() < 0.5) o[key] = randomValue(r, depth + 1);
      if (r() < 0.3) o.type = pick(['ready', 'request', 'action']);
      if (r() < 0.3)
        o.method = pick([
          'exportStatistics',
          'openAsText',
          'recompute',
          'openWholeModel',
          'chooseData',
          'toString',
          'hasOwnProperty',
          ...SCAN_REQUESTS,
        ]);
      if (r() < 0.3) o.params = scanParams(r, pick);
      return o;
    }
  }
}

/** What the host may rely on in an accepted scan or Re-run request. */
function wellFormedScan(method: string, params: Record<string, unknown>): void {
  assert.ok((SCAN_METHODS as readonly unknown[]).includes(params.method), String(params.method));
  assert.ok(
    Number.isInteger(params.samples) &&
      (params.samples as number) >= 1 &&
      (params.samples as number) <= 1000,
  );
  assert.ok(Number.isSafeInteger(params.seed) && (params.seed as number) >= 0);
  if (method === 'sensitivity') {
    assert.deepEqual(Object.keys(params).sort(), ['cachedOnly', 'method', 'samples', 'seed']);
    assert.equal(typeof params.cachedOnly, 'boolean');
    return;
  }
  assert.deepEqual(Object.keys(params).sort(), ['goal', 'method', 'overrides', 'samples', 'seed']);
  const overrides = params.overrides as Record<string, unknown>;
  assert.equal(
    Object.getPrototypeOf(overrides),
    null,
    'overrides come back without a prototype to pollute',
  );
  for (const [name, choice] of Object.entries(overrides)) {
    assert.ok(name.length > 0 && name.length <= 4096);
    assert.ok((LAYER_CHOICES as readonly unknown[]).includes(choice));
  }
  const goal = params.goal as Record<string, unknown> | null;
  if (goal === null) return;
  assert.equal(Object.keys(goal).length, 1);
  if ('targetCosine' in goal)
    assert.ok((goal.targetCosine as number) > -1 && (goal.targetCosine as number) <= 1);
  else assert.ok(Number.isSafeInteger(goal.sizeBudget) && (goal.sizeBudget as number) > 0);
}

describe('webview messages', () => {
  const parsers = { parseFromWebview, parseFromReport, parseFromCompare };

  for (const [name, parse] of Object.entries(parsers)) {
    it(`${name}: 50000 random messages never throw; anything accepted is well formed`, () => {
      const r = rng(42);
      let accepted = 0;
      for (let i = 0; i < 50_000; i++) {
        const value = randomValue(r);
        const parsed = parse(value as never);
        if (parsed === null) continue;
        accepted++;
        assert.equal(typeof parsed, 'object');
        const p = parsed as Record<string, unknown>;
        if (p.type === 'ready') {
          assert.deepEqual(Object.keys(p), ['type']);
        } else if (p.type === 'request') {
          assert.ok(Number.isSafeInteger(p.id));
          assert.ok(
            [
              'exportStatistics',
              'openAsText',
              'recompute',
              'openWholeModel',
              ...SCAN_REQUESTS,
            ].includes(p.method as string),
          );
          const params = p.params as Record<string, unknown>;
          if (p.method === 'exportStatistics')
            assert.ok(params.format === 'json' || params.format === 'csv');
          else if (p.method === 'sensitivity' || p.method === 'compressMixed')
            wellFormedScan(p.method, params);
          else assert.deepEqual(params, {});
        } else {
          assert.equal(p.type, 'action');
          assert.ok(
            ([...REPORT_ACTIONS, ...COMPARE_ACTIONS] as string[]).includes(p.action as string),
          );
        }
      }
      assert.ok(accepted > 100, `${accepted} valid messages among the random ones`);
    });
  }

  it('parsed messages are fresh objects: extra fields and prototype keys are dropped', () => {
    const evil = JSON.parse(
      '{"type":"request","id":1,"method":"exportStatistics","params":{"format":"csv","__proto__":{"polluted":true}},"extra":"x"}',
    );
    const parsed = parseFromWebview(evil);
    assert.deepEqual(parsed, {
      type: 'request',
      id: 1,
      method: 'exportStatistics',
      params: { format: 'csv' },
    });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(
      parseFromWebview({
        type: 'request',
        id: 1,
        method: 'exportStatistics',
        params: { format: 'xml' },
      }),
      null,
    );
    assert.equal(parseFromWebview({ type: 'request', id: 1.5, method: 'recompute' }), null);
    assert.equal(parseFromReport({ type: 'action', action: 'toString' }), null);
    assert.equal(parseFromCompare({ type: 'action', action: 'constructor' }), null);
  });

  it('the Sensitivity tab\'s requests: bounded, typed, and a "__proto__" pin stays a plain key', () => {
    const base = {
      type: 'request',
      id: 3,
      method: 'compressMixed',
      params: { method: 'int4', samples: 8, seed: 0, goal: { targetCosine: 0.999 } },
    };
    const evil = parseFromWebview({
      ...base,
      params: {
        ...base.params,
        overrides: JSON.parse('{"__proto__":"float","fc3.weight":"fp16"}'),
      },
    });
    assert.ok(evil && evil.type === 'request' && evil.method === 'compressMixed');
    assert.deepEqual(Object.entries(evil.params.overrides), [
      ['__proto__', 'float'],
      ['fc3.weight', 'fp16'],
    ]);
    assert.equal(({} as Record<string, unknown>).fc3, undefined);
    const many = Object.fromEntries(
      Array.from({ length: MAX_PINS + 1 }, (_, i) => [`t${i}`, 'float']),
    );
    assert.equal(
      parseFromWebview({ ...base, params: { ...base.params, overrides: many } }),
      null,
      'more pins than MAX_PINS',
    );
    assert.equal(
      parseFromWebview({
        ...base,
        params: { ...base.params, overrides: { 'fc1.weight': 'prune' } },
      }),
      null,
      'prune is no storage choice',
    );
    assert.equal(
      parseFromWebview({
        ...base,
        params: { ...base.params, overrides: {}, goal: { targetCosine: 0.999, sizeBudget: 10 } },
      }),
      null,
      'two goals',
    );
    assert.equal(
      parseFromWebview({
        type: 'request',
        id: 4,
        method: 'sensitivity',
        params: { method: 'float', samples: 8, seed: 0, cachedOnly: false },
      }),
      null,
      'float is no scan method',
    );
    assert.equal(
      parseFromWebview({
        type: 'request',
        id: 4,
        method: 'sensitivity',
        params: { method: 'int8', samples: 1_000_000, seed: 0, cachedOnly: false },
      }),
      null,
      'a million samples',
    );
  });
});

describe('untrusted workspaces', () => {
  it('package.json declares limited support with a reason', () => {
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
    assert.equal(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
    assert.match(pkg.capabilities.untrustedWorkspaces.description, /never executes/);
  });
});
