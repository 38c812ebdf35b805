// RemoteMessageBus and the security rules of issue 9 against a real wrangler dev: its socket carries the token as the
// bearer.<jwt> subprotocol (never in the URL), group changes follow the token's groups claim, and removal while
// subscribed ends the subscription at once with a typed error, without a reconnect loop.

import { sign } from 'hono/jwt';
import { Message, MessageBusError } from 'modular-message-bus-library';
import type { WebSocketConstructorLike } from 'modular-message-bus-library/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, freshRoom, NodeWebSocket, startWrangler, type WranglerServer, waitFor } from './support.js';

let dev: WranglerServer;
beforeAll(async () => {
  dev = await startWrangler({ vars: { RATE_LIMIT_PER_SECOND: '1000', RATE_LIMIT_BURST: '1000' } });
});
afterAll(async () => {
  await dev?.stop();
});

function agentToken(sub: string, room: string, groups?: string[]): Promise<string> {
  return sign({ sub, room, role: 'agent', exp: Math.floor(Date.now() / 1000) + 3600, ...(groups ? { groups } : {}) }, dev.secret, 'HS256');
}
const adminToken = () => sign({ sub: 'admin', room: '*', role: 'admin', exp: Math.floor(Date.now() / 1000) + 3600 }, dev.secret, 'HS256');

/** Records how the client opens its sockets. */
function recording(): { WebSocket: WebSocketConstructorLike; opened: Array<{ url: string; protocols: unknown }> } {
  const opened: Array<{ url: string; protocols: unknown }> = [];
  const Recording = function (this: unknown, url: string, protocols?: string | string[]) {
    opened.push({ url, protocols });
    return new NodeWebSocket(url, protocols);
  } as unknown as WebSocketConstructorLike;
  return { WebSocket: Recording, opened };
}

describe('RemoteMessageBus security', () => {
  it('subscribes with the token as the bearer subprotocol, never in the URL', async () => {
    const room = freshRoom();
    const alice = client(dev.url, room, await agentToken('alice', room));
    const sockets = recording();
    const bobToken = await agentToken('bob', room);
    const bob = client(dev.url, room, bobToken, { WebSocket: sockets.WebSocket });
    await alice.connectAgent('alice');
    await bob.connectAgent('bob');
    const seen: unknown[] = [];
    const stop = bob.subscribe('bob', (m) => void seen.push(m.content), { after: 0 });
    await alice.sendMessage(new Message('alice', 'via the subprotocol'));
    await waitFor(() => seen.length === 1, 'the message');
    expect(seen).toEqual(['via the subprotocol']);
    expect(sockets.opened).toHaveLength(1);
    expect(sockets.opened[0]?.url).not.toContain('token');
    expect(sockets.opened[0]?.protocols).toEqual([`bearer.${bobToken}`]);
    stop();
  });

  it('joins and leaves groups within the token groups claim, and is refused outside it', async () => {
    const room = freshRoom();
    const ana = client(dev.url, room, await agentToken('ana', room, ['research', 'leads']));
    const ben = client(dev.url, room, await agentToken('ben', room));
    expect((await ana.connectAgent('ana', { groups: ['research'] })).groups).toEqual(['research']);
    expect(await ana.joinGroup('ana', 'leads')).toEqual(['leads', 'research']);
    expect(await ana.leaveGroup('ana', 'research')).toEqual(['leads']);
    await expect(ana.joinGroup('ana', 'ops')).rejects.toMatchObject({ name: 'MessageBusError', code: 'FORBIDDEN' });
    const refused = await ben.connectAgent('ben', { groups: ['research'] }).catch((e: unknown) => e);
    expect(MessageBusError.is(refused, 'FORBIDDEN')).toBe(true);
    expect((refused as Error).message).toContain('groups claim');
    expect((await ben.connectAgent('ben')).groups).toEqual([]);
  });

  it('a removed agent’s subscription ends at once with UNKNOWN_AGENT and does not reconnect', async () => {
    const room = freshRoom();
    const sockets = recording();
    const bob = client(dev.url, room, await agentToken('bob', room), { WebSocket: sockets.WebSocket, backoff: { initialMs: 20 } });
    await client(dev.url, room, await agentToken('alice', room)).connectAgent('alice');
    await bob.connectAgent('bob');
    const errors: Error[] = [];
    const seen: unknown[] = [];
    bob.subscribe('bob', (m) => void seen.push(m.content), { after: 0, onError: (e) => void errors.push(e) });
    const admin = client(dev.url, room, await adminToken());
    await admin.sendMessage(new Message('alice', 'before removal'));
    await waitFor(() => seen.length === 1, 'the first message');
    const removedAt = Date.now();
    await admin.removeAgent('bob');
    await waitFor(() => errors.length === 1, 'the end of the subscription', 5000);
    const endedAfterMs = Date.now() - removedAt;
    expect(MessageBusError.is(errors[0], 'UNKNOWN_AGENT')).toBe(true);
    // Well under workerd's ~10 s TCP close (docs/worker.md): the error frame alone ended it.
    expect(endedAfterMs).toBeLessThan(3000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(sockets.opened).toHaveLength(1);
    expect(errors).toHaveLength(1);
  });
});
