import { Message, MessageBusError, type StoredMessage } from 'modular-message-bus-library';
import type { WebSocketConstructorLike, WebSocketLike } from 'modular-message-bus-library/client';
import type { WebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, freshRoom, NodeWebSocket, startWrangler, tokenFor, type WranglerServer, waitFor } from './support.js';

let dev: WranglerServer;

beforeAll(async () => {
  dev = await startWrangler({ vars: { RATE_LIMIT_PER_SECOND: '10000', RATE_LIMIT_BURST: '10000' } });
});
afterAll(async () => {
  await dev?.stop();
});

/** A WebSocket class that remembers its instances and how they were opened, so a test can drop or inspect them. */
function trackedWebSocket(): {
  WebSocket: WebSocketConstructorLike;
  sockets: WebSocketLike[];
  opened: Array<{ url: string; protocols: string | string[] | undefined }>;
} {
  const sockets: WebSocketLike[] = [];
  const opened: Array<{ url: string; protocols: string | string[] | undefined }> = [];
  const Base = NodeWebSocket;
  const Tracked = function (this: unknown, url: string, protocols?: string | string[]) {
    const ws = new Base(url, protocols);
    sockets.push(ws);
    opened.push({ url, protocols });
    return ws;
  } as unknown as WebSocketConstructorLike;
  return { WebSocket: Tracked, sockets, opened };
}

describe('RemoteMessageBus against wrangler dev', () => {
  it('has the MessageBus API: connect, send, fetch, ack, subscribe, disconnect', async () => {
    const room = freshRoom();
    const alice = client(dev.url, room, await tokenFor(dev.secret, 'alice', room));
    const bob = client(dev.url, room, await tokenFor(dev.secret, 'bob', room, 'agent', { groups: ['team'] }));
    await alice.connectAgent('alice');
    const info = await bob.connectAgent('bob', { groups: ['team'] });
    expect(info).toMatchObject({ id: 'bob', online: true, groups: ['team'], cursor: 0 });
    const seen: StoredMessage[] = [];
    const stop = bob.subscribe('bob', (m) => void seen.push(m));
    const sent = await alice.sendMessage(new Message('alice', { text: 'hi' }));
    expect(sent).toMatchObject({ id: 1, sender: 'alice', recipients: ['bob'] });
    await waitFor(() => seen.length === 1, 'the live message');
    expect(seen[0]).toEqual(sent);
    expect(await bob.fetchMessages('bob', 0)).toEqual([sent]);
    expect(await bob.ackMessages('bob', 1)).toBe(1);
    expect(await bob.fetchMessages('bob')).toEqual([]);
    stop();
    await bob.disconnectAgent('bob');
    await alice.close();
    await bob.close();
  });

  it('raises MessageBusError with the server codes', async () => {
    const room = freshRoom();
    const alice = client(dev.url, room, await tokenFor(dev.secret, 'alice', room));
    await expect(alice.sendMessage(new Message('alice', 'x'))).rejects.toMatchObject({ name: 'MessageBusError', code: 'UNKNOWN_AGENT' });
    await expect(alice.connectAgent('bob')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const forged = client(dev.url, room, await tokenFor('wrong-secret', 'alice', room));
    const error = await forged.connectAgent('alice').catch((e: unknown) => e);
    expect(MessageBusError.is(error, 'UNAUTHORIZED')).toBe(true);
    const failures: Error[] = [];
    forged.subscribe('alice', () => {}, { onError: (e) => void failures.push(e) });
    await waitFor(() => failures.length === 1, 'the refused subscription');
    expect(MessageBusError.is(failures[0], 'UNAUTHORIZED')).toBe(true);
  });

  it('a retried send carries one idempotency key and is stored once', async () => {
    const room = freshRoom();
    const token = await tokenFor(dev.secret, 'alice', room);
    let calls = 0;
    // The first POST reaches the server but its answer is "lost": the client must retry with the same key.
    const flakyFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (init?.method === 'POST' && String(input).endsWith('/messages') && calls++ === 0) throw new TypeError('socket hang up');
      return response;
    };
    const alice = client(dev.url, room, token, { fetch: flakyFetch as never, backoff: { initialMs: 10 } });
    await alice.connectAgent('alice');
    await client(dev.url, room, await tokenFor(dev.secret, 'bob', room)).connectAgent('bob');
    const stored = await alice.sendMessage(new Message('alice', 'exactly once'));
    expect(calls).toBe(2);
    const admin = client(dev.url, room, await tokenFor(dev.secret, 'admin', '*', 'admin'));
    const history = await admin.history(0);
    expect(history.map((m) => m.id)).toEqual([stored.id]);
  });

  it('a dropped socket resumes after the last delivered id: no gap, no duplicate', async () => {
    const room = freshRoom();
    const alice = client(dev.url, room, await tokenFor(dev.secret, 'alice', room));
    const tracked = trackedWebSocket();
    const bob = client(dev.url, room, await tokenFor(dev.secret, 'bob', room), {
      WebSocket: tracked.WebSocket,
      backoff: { initialMs: 50 },
    });
    await alice.connectAgent('alice');
    await bob.connectAgent('bob');
    const seen: number[] = [];
    const stop = bob.subscribe('bob', (m) => void seen.push(m.content as number), { after: 0 });
    for (let i = 1; i <= 20; i++) await alice.sendMessage(new Message('alice', i));
    await waitFor(() => seen.length === 20, 'the first 20');
    tracked.sockets[0]?.close(3000, 'test drop');
    for (let i = 21; i <= 40; i++) await alice.sendMessage(new Message('alice', i));
    await waitFor(() => seen.length >= 40, 'all 40 after the reconnect');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(tracked.sockets.length).toBeGreaterThanOrEqual(2);
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    stop();
  });

  it('survives a dev-server restart mid-stream: nothing acknowledged is lost, nothing is stored twice', async () => {
    const room = freshRoom();
    const options = { retries: 200, backoff: { initialMs: 50, maxMs: 500 } };
    const alice = client(dev.url, room, await tokenFor(dev.secret, 'alice', room), options);
    const bob = client(dev.url, room, await tokenFor(dev.secret, 'bob', room), options);
    await alice.connectAgent('alice');
    await bob.connectAgent('bob');
    const seen: number[] = [];
    const stop = bob.subscribe('bob', (m) => void seen.push(m.content as number), { after: 0 });
    const acknowledged: number[] = [];
    let sending = true;
    const sender = (async () => {
      for (let i = 1; sending || i <= 60; i++) {
        await alice.sendMessage(new Message('alice', i));
        acknowledged.push(i);
        if (i >= 60 && !sending) break;
      }
    })();
    await waitFor(() => acknowledged.length >= 20 && seen.length >= 10, '20 acknowledged sends');
    // bob acknowledges what it has seen so far: the cursor must survive the restart too.
    const ackedUpTo = await bob.ackMessages('bob', seen.length);
    await dev.restart();
    sending = false;
    await sender;
    const total = acknowledged.length;
    await waitFor(() => seen.length >= total, `all ${total} delivered after the restart`, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(acknowledged).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(seen).toEqual(acknowledged);
    const admin = client(dev.url, room, await tokenFor(dev.secret, 'admin', '*', 'admin'));
    const history = await admin.history(0, { limit: 1000 });
    expect(history.map((m) => m.content)).toEqual(acknowledged);
    const pending = await bob.fetchMessages('bob', undefined, { limit: 1000 });
    expect(pending.map((m) => m.id)).toEqual(acknowledged.slice(ackedUpTo));
    stop();
  });
});

describe('hibernation on wrangler dev', () => {
  it('an object evicted while its sockets stay open still knows every socket when it wakes', async () => {
    const room = freshRoom('hib');
    const admin = await tokenFor(dev.secret, 'admin', '*', 'admin');
    const describeRoom = async () =>
      (await (await fetch(`${dev.url}/v1/rooms/${room}`, { headers: { authorization: `Bearer ${admin}` } })).json()) as {
        instanceStartedAt: number;
        members: Array<{ id: string; online: boolean; sockets: number }>;
      };
    const tokens: Record<string, string> = {};
    for (const agent of ['alice', 'bob', 'carol']) {
      tokens[agent] = await tokenFor(dev.secret, agent, room);
      await client(dev.url, room, tokens[agent] as string).connectAgent(agent);
    }
    const open = (agent: string) => {
      const frames: Array<Record<string, unknown>> = [];
      const ws = new (NodeWebSocket as unknown as typeof WebSocket)(
        `${dev.url.replace('http', 'ws')}/v1/rooms/${room}/ws?agent=${agent}&after=0&token=${tokens[agent]}`,
      );
      ws.onmessage = (event) => void frames.push(JSON.parse(String(event.data)));
      return { ws, frames, opened: new Promise((resolve) => (ws.onopen = resolve)) };
    };
    const alice = open('alice');
    const bob = open('bob');
    const carol = open('carol');
    await Promise.all([alice.opened, bob.opened, carol.opened]);
    alice.ws.send(JSON.stringify({ type: 'send', ref: 'before', content: 'before sleep' }));
    await waitFor(() => bob.frames.some((f) => f.type === 'message'), 'the first message');
    carol.ws.close(1000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = await describeRoom();
    // workerd evicts an idle object whose sockets are all hibernatable after ~10 s; wait until it has.
    let after = before;
    for (let i = 0; i < 4 && after.instanceStartedAt === before.instanceStartedAt; i++) {
      await new Promise((resolve) => setTimeout(resolve, 12_000));
      after = await describeRoom();
    }
    expect(after.instanceStartedAt).toBeGreaterThan(before.instanceStartedAt);
    // The woken instance knows the sockets from their attachments: counts, presence, and who sends.
    expect(after.members.map((m) => [m.id, m.online, m.sockets])).toEqual([
      ['alice', true, 1],
      ['bob', true, 1],
      ['carol', false, 0],
    ]);
    alice.ws.send(JSON.stringify({ type: 'send', ref: 'after', content: 'after wake' }));
    await waitFor(() => bob.frames.filter((f) => f.type === 'message').length === 2, 'the message after waking');
    expect(alice.frames.find((f) => f.ref === 'after')).toMatchObject({ type: 'ok', id: 2 });
    const bobIds = bob.frames.filter((f) => f.type === 'message').map((f) => (f.message as { id: number }).id);
    expect(bobIds).toEqual([1, 2]);
    expect(carol.frames.filter((f) => f.type === 'message')).toHaveLength(1);
    alice.ws.close(1000);
    bob.ws.close(1000);
  }, 90_000);
});
