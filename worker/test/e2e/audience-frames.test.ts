// Message frames as sockets carry them (MessageFrame and AudienceFrame in contract.ts), through wrangler dev:
// one text per message for every socket, a long recipient list sent once per socket as an audience, the SDK's
// FrameReader and RemoteMessageBus giving back exactly the stored messages, and `ok` answers with id and timestamp.
import type { StoredMessage } from 'modular-message-bus-library';
import { FrameReader } from 'modular-message-bus-library/client';
import type { WebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, freshRoom, NodeWebSocket, startWrangler, tokenFor, type WranglerServer, waitFor } from './support.js';

// biome-ignore lint/suspicious/noExplicitAny: frames are JSON checked by expect().
type Json = any;

let dev: WranglerServer;

beforeAll(async () => {
  dev = await startWrangler({ vars: { RATE_LIMIT_PER_SECOND: '10000', RATE_LIMIT_BURST: '10000' } });
});
afterAll(async () => {
  await dev?.stop();
});

const AGENTS = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9'];

interface RawSocket {
  ws: WebSocket;
  texts: string[];
  frames: Json[];
}

/** A raw socket that keeps every frame text in order. */
async function openRaw(path: string, token: string): Promise<RawSocket> {
  const ws = new (NodeWebSocket as unknown as typeof WebSocket)(`${dev.url.replace('http', 'ws')}${path}`, [`bearer.${token}`]);
  const socket: RawSocket = { ws, texts: [], frames: [] };
  ws.onmessage = (event) => {
    socket.texts.push(String(event.data));
    socket.frames.push(JSON.parse(String(event.data)));
  };
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  return socket;
}

const messages = (socket: RawSocket) => socket.frames.filter((f) => f.type === 'message');
const messageTexts = (socket: RawSocket) => socket.texts.filter((t) => t.startsWith('{"type":"message"'));

/** The socket's messages as `FrameReader` completes them, in order. */
function decoded(socket: RawSocket, room: string): StoredMessage[] {
  const reader = new FrameReader(room);
  return socket.texts.flatMap((text) => {
    const frame = reader.read(text);
    return frame?.type === 'message' && frame.message ? [frame.message] : [];
  });
}

async function call(method: string, path: string, token: string, body?: unknown): Promise<Json> {
  const response = await fetch(`${dev.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function roomOf(agents: string[]): Promise<{ room: string; tokens: Record<string, string>; admin: string }> {
  const room = freshRoom('aud');
  const tokens: Record<string, string> = {};
  for (const agent of agents) {
    tokens[agent] = await tokenFor(dev.secret, agent, room);
    await call('POST', `/v1/rooms/${room}/agents/${agent}/connect`, tokens[agent] as string, {});
  }
  return { room, tokens, admin: await tokenFor(dev.secret, 'admin', room, 'admin') };
}

describe('message frames', () => {
  it('sends each broadcast as one text to every socket, its recipients as an audience sent once per socket', async () => {
    const { room, tokens, admin } = await roomOf(AGENTS);
    const one = await openRaw(`/v1/rooms/${room}/ws?agent=a1`, tokens.a1 as string);
    const two = await openRaw(`/v1/rooms/${room}/ws?agent=a2`, tokens.a2 as string);
    const feed = await openRaw(`/v1/rooms/${room}/events`, admin);
    const remote = client(dev.url, room, tokens.a1 as string);
    const viaClient: StoredMessage[] = [];
    const stop = remote.subscribe('a1', (m) => void viaClient.push(m), { after: 0 });
    for (const sender of ['a0', 'a3', 'a0', 'a9']) {
      await call('POST', `/v1/rooms/${room}/messages`, tokens[sender] as string, { content: { from: sender } });
    }
    // A member joins: the next broadcast has a new audience.
    await call('POST', `/v1/rooms/${room}/agents/b0/connect`, await tokenFor(dev.secret, 'b0', room), {});
    await call('POST', `/v1/rooms/${room}/messages`, tokens.a0 as string, { content: 'after b0' });
    await waitFor(() => [one, two, feed].every((s) => messages(s).length === 5) && viaClient.length === 5, 'five on every socket');
    stop();

    const { messages: history } = await call('GET', `/v1/rooms/${room}/history?after=0`, admin);
    const routedTo = async (agent: string) =>
      (await call('GET', `/v1/rooms/${room}/messages?agent=${agent}&after=0`, tokens[agent] as string)).messages;
    expect(decoded(one, room)).toEqual(await routedTo('a1'));
    expect(decoded(two, room)).toEqual(await routedTo('a2'));
    expect(decoded(feed, room)).toEqual(history);
    // RemoteMessageBus hands its handler StoredMessage.recipients exactly as stored.
    expect(viaClient).toEqual(await routedTo('a1'));
    expect(viaClient[0]?.recipients).toEqual(AGENTS.filter((a) => a !== 'a0'));
    // The same frame text on every socket, with neither room nor recipients in it.
    expect(messageTexts(two)).toEqual(messageTexts(one));
    expect(messageTexts(feed)).toEqual(messageTexts(one));
    for (const frame of messages(one)) {
      expect(frame.audience).toEqual(expect.any(Number));
      expect(frame.message).not.toHaveProperty('recipients');
      expect(frame.message).not.toHaveProperty('room');
      // Routed as its audience frame says (a broadcast, nothing requested): the routing travels there, once.
      expect(frame.message).not.toHaveProperty('routing');
      // A message that answers nothing is its own thread: FrameReader puts `thread` back.
      expect(frame.message).not.toHaveProperty('thread');
    }
    expect(one.frames.filter((f) => f.type === 'audience').map((f) => f.routing)).toEqual([
      { policy: 'broadcast', requested: null },
      { policy: 'broadcast', requested: null },
    ]);
    // Two audiences (before and after b0 joined), each sent once per socket, just before its first message.
    expect(one.frames.filter((f) => f.type === 'audience').map((f) => f.members)).toEqual([AGENTS, [...AGENTS, 'b0']]);
    expect(one.frames.filter((f) => f.type === 'audience' || f.type === 'message').map((f) => f.type)).toEqual([
      'audience',
      'message',
      'message',
      'message',
      'message',
      'audience',
      'message',
    ]);
    for (const socket of [one, two, feed]) socket.ws.close(1000);
  });

  it('keeps short lists inline and shows a socket no id its messages do not show', async () => {
    const { room, tokens, admin } = await roomOf(AGENTS);
    await call('PUT', `/v1/rooms/${room}`, admin, { routing: 'individual' });
    const socket = await openRaw(`/v1/rooms/${room}/ws?agent=a1`, tokens.a1 as string);
    const many = AGENTS.filter((a) => a !== 'a0' && a !== 'a5');
    await call('POST', `/v1/rooms/${room}/messages`, tokens.a0 as string, { content: 'dm', recipients: ['a1'] });
    await call('POST', `/v1/rooms/${room}/messages`, tokens.a9 as string, { content: 'many', recipients: many.filter((a) => a !== 'a9') });
    await call('POST', `/v1/rooms/${room}/messages`, tokens.a0 as string, { content: 'many', recipients: many });
    await waitFor(() => messages(socket).length === 3, 'three messages');
    const [dm, seven, eight] = messages(socket);
    expect(dm).toMatchObject({ message: { recipients: ['a1'] } });
    expect(dm).not.toHaveProperty('audience');
    expect(seven.message.recipients).toHaveLength(7);
    // Eight recipients travel as an audience: the recipients and the sender, never a5, who got nothing.
    expect(eight).toHaveProperty('audience');
    expect(socket.frames.filter((f) => f.type === 'audience').map((f) => f.members)).toEqual([['a0', ...many].sort()]);
    const { messages: stored } = await call('GET', `/v1/rooms/${room}/messages?agent=a1&after=0`, tokens.a1 as string);
    expect(decoded(socket, room)).toEqual(stored);
    socket.ws.close(1000);
  });

  it("leaves out a root's thread and keeps a reply's, and FrameReader gives back the stored fields in their order", async () => {
    const { room, tokens } = await roomOf(['alice', 'bob']);
    const socket = await openRaw(`/v1/rooms/${room}/ws?agent=bob`, tokens.bob as string);
    const root = await call('POST', `/v1/rooms/${room}/messages`, tokens.alice as string, { content: 'q' });
    await call('POST', `/v1/rooms/${room}/messages`, tokens.alice as string, { content: 'a', inReplyTo: root.id, metadata: { k: 'v' } });
    await waitFor(() => messages(socket).length === 2, 'both messages');
    const [first, second] = messages(socket);
    expect(first.message).not.toHaveProperty('thread');
    expect(second.message).toMatchObject({ thread: root.id, inReplyTo: root.id });
    const { messages: stored } = await call('GET', `/v1/rooms/${room}/messages?agent=bob&after=0`, tokens.bob as string);
    expect(stored[0].thread).toBe(root.id);
    // Byte for byte: the same keys in the same order as the stored message.
    expect(JSON.stringify(decoded(socket, room))).toBe(JSON.stringify(stored));
    socket.ws.close(1000);
  });

  it('replays with the same frames, and each new socket gets the audience again', async () => {
    const { room, tokens } = await roomOf(AGENTS);
    for (let i = 0; i < 3; i++) await call('POST', `/v1/rooms/${room}/messages`, tokens.a0 as string, { content: i });
    const { messages: stored } = await call('GET', `/v1/rooms/${room}/messages?agent=a4&after=0`, tokens.a4 as string);
    for (let round = 0; round < 2; round++) {
      const socket = await openRaw(`/v1/rooms/${room}/ws?agent=a4&after=0`, tokens.a4 as string);
      await waitFor(() => messages(socket).length === 3, 'the replay');
      expect(socket.frames.filter((f) => f.type === 'audience')).toHaveLength(1);
      expect(decoded(socket, room)).toEqual(stored);
      socket.ws.close(1000);
    }
  });

  it('sends the audience again after the object hibernated and woke, whose audience numbers start over', async () => {
    const { room, tokens, admin } = await roomOf(AGENTS);
    const socket = await openRaw(`/v1/rooms/${room}/ws?agent=a1`, tokens.a1 as string);
    await call('POST', `/v1/rooms/${room}/messages`, tokens.a0 as string, { content: 'before sleep' });
    await waitFor(() => messages(socket).length === 1, 'the first message');
    // A member joins while the object sleeps: the woken object's first audience differs from the socket's.
    const startedAt = async () => (await call('GET', `/v1/rooms/${room}`, admin)).instanceStartedAt as number;
    const before = await startedAt();
    let after = before;
    for (let i = 0; i < 4 && after === before; i++) {
      await new Promise((resolve) => setTimeout(resolve, 12_000));
      after = await startedAt();
    }
    expect(after).toBeGreaterThan(before);
    await call('POST', `/v1/rooms/${room}/agents/b0/connect`, await tokenFor(dev.secret, 'b0', room), {});
    await call('POST', `/v1/rooms/${room}/messages`, tokens.a0 as string, { content: 'after wake' });
    await waitFor(() => messages(socket).length === 2, 'the message after waking');
    const audiences = socket.frames.filter((f) => f.type === 'audience');
    expect(audiences.map((f) => f.members)).toEqual([AGENTS, [...AGENTS, 'b0']]);
    const { messages: stored } = await call('GET', `/v1/rooms/${room}/messages?agent=a1&after=0`, tokens.a1 as string);
    expect(decoded(socket, room)).toEqual(stored);
    socket.ws.close(1000);
  });
});

describe('ok answers', () => {
  it('answer a send with the stored id, timestamp and thread, the first message’s for a repeated key', async () => {
    const { room, tokens } = await roomOf(['alice', 'bob']);
    const socket = await openRaw(`/v1/rooms/${room}/ws?agent=alice`, tokens.alice as string);
    socket.ws.send(JSON.stringify({ type: 'send', ref: 1, content: 'x', idempotencyKey: 'k' }));
    await waitFor(() => socket.frames.some((f) => f.ref === 1), 'the first answer');
    socket.ws.send(JSON.stringify({ type: 'send', ref: 2, content: 'x', idempotencyKey: 'k' }));
    await waitFor(() => socket.frames.some((f) => f.ref === 2), 'the second answer');
    const { messages: stored } = await call('GET', `/v1/rooms/${room}/messages?agent=bob&after=0`, tokens.bob as string);
    expect(stored).toHaveLength(1);
    expect(socket.frames.filter((f) => f.type === 'ok')).toEqual([
      { type: 'ok', ref: 1, id: stored[0].id, timestamp: stored[0].timestamp, thread: stored[0].thread },
      { type: 'ok', ref: 2, id: stored[0].id, timestamp: stored[0].timestamp, thread: stored[0].thread },
    ]);
    socket.ws.close(1000);
  });
});
