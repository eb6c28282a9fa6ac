/** The inspector webview's HTML shell: strict CSP, nonce'd script, assets from the extension only. */
import { randomBytes } from 'node:crypto';

export interface InspectorHtmlOptions {
  /** webview.cspSource: the origin asWebviewUri URIs are served from. */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
  codiconUri: string;
}

const escapeAttr = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function inspectorHtml(opts: InspectorHtmlOptions): string {
  const src = escapeAttr(opts.cspSource);
  const nonce = escapeAttr(opts.nonce);
  // No 'unsafe-inline' styles: lit adopts constructed stylesheets and sets styles through CSSOM, which CSP allows.
  const csp = [
    "default-src 'none'",
    `img-src ${src} data:`,
    `style-src ${src}`,
    `font-src ${src}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeAttr(opts.codiconUri)}" id="vscode-codicon-stylesheet">
<link rel="stylesheet" href="${escapeAttr(opts.styleUri)}">
<title>Model Lens</title>
</head>
<body>
<main id="app"></main>
<script nonce="${nonce}" src="${escapeAttr(opts.scriptUri)}"></script>
</body>
</html>
`;
}

/** 128 random bits, base64: unguessable by content injected into the page. */
export function makeNonce(): string {
  return randomBytes(16).toString('base64');
}
