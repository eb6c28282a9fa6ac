/** Promise-based requests to the extension host over postMessage. */
import type {
  FromWebview,
  ResponseMessage,
  WebviewMethod,
  WebviewParams,
  WebviewReplies,
} from '../src/shared/protocol';

export class RequestClient {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();

  constructor(private readonly post: (message: FromWebview) => void) {}

  request<M extends WebviewMethod>(
    method: M,
    params: WebviewParams<M>,
  ): Promise<WebviewReplies[M]> {
    const id = this.nextId++;
    return new Promise<WebviewReplies[M]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.post({ type: 'request', id, method, params } as FromWebview);
    });
  }

  /** Settles the matching request; replies to unknown ids (e.g. from before a reload) are ignored. */
  handleResponse(message: ResponseMessage): void {
    const p = this.pending.get(message.id);
    if (!p) return;
    this.pending.delete(message.id);
    if (message.error !== undefined) p.reject(new Error(message.error));
    else p.resolve(message.result);
  }
}
