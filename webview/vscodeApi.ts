/** The API VS Code gives a webview: messages of type `Out` to the host, and a saved state of type `State`. */
export interface VsCodeApi<Out, State> {
  postMessage(message: Out): void;
  getState(): unknown;
  setState(state: State): void;
}

declare function acquireVsCodeApi(): VsCodeApi<never, never>;

/** The webview's API, typed by the panel's own messages and state (VS Code allows one call per page). */
export function vsCodeApi<Out, State>(): VsCodeApi<Out, State> {
  return acquireVsCodeApi() as unknown as VsCodeApi<Out, State>;
}
