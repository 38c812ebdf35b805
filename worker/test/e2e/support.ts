import { sign } from 'hono/jwt';
import { RemoteMessageBus, type WebSocketConstructorLike } from 'modular-message-bus-library/client';
import { WebSocket } from 'undici';

export { startWrangler, type WranglerServer } from '../../../e2e/support/wrangler.js';

/** Node 20 has no global WebSocket: the client gets undici's (the same implementation Node 22 exposes). */
export const NodeWebSocket = WebSocket as unknown as WebSocketConstructorLike;

export function tokenFor(
  secret: string,
  sub: string,
  room: string,
  role: 'agent' | 'admin' = 'agent',
  options: { groups?: string[] } = {},
): Promise<string> {
  const groups = options.groups ? { groups: options.groups } : {};
  return sign({ sub, room, role, exp: Math.floor(Date.now() / 1000) + 3600, ...groups }, secret, 'HS256');
}

let counter = 0;
export function freshRoom(prefix = 'e2e'): string {
  return `${prefix}-${Date.now().toString(36)}-${++counter}`;
}

export function client(url: string, room: string, token: string, extra: Partial<ConstructorParameters<typeof RemoteMessageBus>[0]> = {}) {
  return new RemoteMessageBus({ url, room, token, WebSocket: NodeWebSocket, ...extra });
}

export async function waitFor(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
