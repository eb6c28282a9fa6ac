import * as vscode from 'vscode';
import { inspectorHtml, makeNonce } from './webviewHtml';

/**
 * A webview panel for one of the bundled tool UIs (report, Compare) on the same strict HTML shell
 * as the inspector: scripts by nonce, resources only from the extension's dist/webview.
 */
export function createToolPanel(
  extensionUri: vscode.Uri,
  viewType: string,
  title: string,
  bundle: 'report' | 'compare',
): vscode.WebviewPanel {
  const webviewRoot = vscode.Uri.joinPath(extensionUri, 'dist', 'webview');
  const panel = vscode.window.createWebviewPanel(
    viewType,
    title,
    { viewColumn: vscode.ViewColumn.Active },
    { enableScripts: true, localResourceRoots: [webviewRoot] },
  );
  panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'icon.png');
  const w = panel.webview;
  w.html = inspectorHtml({
    cspSource: w.cspSource,
    nonce: makeNonce(),
    scriptUri: w.asWebviewUri(vscode.Uri.joinPath(webviewRoot, `${bundle}.js`)).toString(),
    styleUri: w.asWebviewUri(vscode.Uri.joinPath(webviewRoot, `${bundle}.css`)).toString(),
    codiconUri: w.asWebviewUri(vscode.Uri.joinPath(webviewRoot, 'codicon.css')).toString(),
  });
  return panel;
}
