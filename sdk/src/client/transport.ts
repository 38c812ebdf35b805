/**
 * The two runtime primitives the remote client needs, typed structurally so
 * the browser's, undici's, the `ws` package's and workerd's implementations
 * all fit without DOM or Node typings.
 */

/** The slice of `fetch` the client uses. */
export type FetchLike = (
  input: string,
  init: { method: string; headers: Record<string, string>; body?: string | undefined },
) => Promise<{ ok: boolean; status: number; headers: { get(name: string): string | null }; text(): Promise<string> }>;

/** The slice of a WebSocket the client uses (the standard event-handler properties). */
export interface WebSocketLike {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/**
 * A WebSocket constructor: `globalThis.WebSocket`, `ws`'s `WebSocket`, undici's `WebSocket`. The client passes
 * `protocols` (its token as the `bearer.<jwt>` subprotocol), so a wrapper must hand them on.
 */
export type WebSocketConstructorLike = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** The subprotocol that carries a bearer token on a WebSocket (browsers cannot set headers there); the worker echoes it. */
export function bearerProtocol(token: string): string {
  return `bearer.${token}`;
}

/** `http(s)://host/path` → `ws(s)://host/path`. */
export function wsUrl(base: string): string {
  return base.replace(/^http/, 'ws');
}
