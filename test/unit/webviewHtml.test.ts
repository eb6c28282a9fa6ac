import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { inspectorHtml, makeNonce } from '../../src/extension/webviewHtml';

const opts = {
  cspSource: 'https://file+.vscode-resource.vscode-cdn.net',
  nonce: 'abc123',
  scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/main.js',
  styleUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/media/inspector.css',
  codiconUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/codicon.css',
};

test('the shell has a strict CSP: nothing inline, scripts only with the nonce', () => {
  const html = inspectorHtml(opts);
  const csp = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)?.[1] ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'nonce-abc123'/);
  assert.match(csp, /style-src https:\/\/file\+\.vscode-resource\.vscode-cdn\.net(;|$)/);
  assert.match(csp, /img-src https:\/\/file\+\.vscode-resource\.vscode-cdn\.net data:/);
  assert.match(csp, /font-src https:\/\/file\+\.vscode-resource\.vscode-cdn\.net/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  const scripts = html.match(/<script[^>]*>/g) ?? [];
  assert.equal(scripts.length, 1);
  assert.match(scripts[0], /nonce="abc123"/);
  assert.match(scripts[0], new RegExp(`src="${opts.scriptUri.replace(/[.+]/g, '\\$&')}"`));
  assert.doesNotMatch(html, /style="/);
});

test('codicons are linked with the id vscode-elements looks up', () => {
  const html = inspectorHtml(opts);
  assert.match(
    html,
    /<link rel="stylesheet" href="[^"]*codicon\.css" id="vscode-codicon-stylesheet">/,
  );
  assert.match(html, /<link rel="stylesheet" href="[^"]*inspector\.css">/);
});

test('attribute values are escaped', () => {
  const html = inspectorHtml({ ...opts, scriptUri: 'x"><script>alert(1)</script>' });
  assert.equal((html.match(/<script/g) ?? []).length, 1);
  assert.match(html, /src="x&quot;&gt;&lt;script&gt;/);
});

test('nonces are long and fresh each time', () => {
  const a = makeNonce();
  const b = makeNonce();
  assert.notEqual(a, b);
  assert.ok(Buffer.from(a, 'base64').length >= 16);
});
