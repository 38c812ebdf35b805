// RemoteMessageBus streams against a real `wrangler dev`, each client with its own agent token: stream() and
// subscribe(..., { onStream }) over the WebSocket, only the recipients seeing the stream, the sender's presence
// left alone, resume after a recipient's socket and the writer's socket are dropped mid-way through a
// 1,000-write stream (the text compared at the end), a stream the room aborts closing the writer's stream, and
// a write past MAX_CONTENT_BYTES failing at once, as in a MessageBus.
import { Message, MessageBusError, type StoredMessage, type StreamEvent } from 'modular-message-bus-library';
import type { WebSocketConstructorLike, WebSocketLike } from 'modular-message-bus-library/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, freshRoom, NodeWebSocket, startWrangler, tokenFor, type WranglerServer, waitFor } from './support.js';

let dev: WranglerServer;

beforeAll(async () => {
  dev = await startWrangler({ vars: { RATE_LIMIT_PER_SECOND: '10000', RATE_LIMIT_BURST: '10000', STREAM_IDLE_MS: '3000' } });
});
afterAll(async () => {
  await dev?.stop();
});

/** A WebSocket constructor that keeps every socket it made, so a test can cut one as a network would. */
function tracked(): { WebSocket: WebSocketConstructorLike; sockets: { url: string; ws: WebSocketLike }[] } {
  const sockets: { url: string; ws: WebSocketLike }[] = [];
  const Base = NodeWebSocket as unknown as new (url: string, protocols?: string | string[]) => WebSocketLike;
  class Tracked extends (Base as new (url: string, protocols?: string | string[]) => object) {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push({ url, ws: this as unknown as WebSocketLike });
    }
  }
  const WebSocket = Tracked as unknown as WebSocketConstructorLike;
  return { WebSocket, sockets };
}

async function crew(extra: { writer?: WebSocketConstructorLike; critic?: WebSocketConstructorLike } = {}) {
  const room = freshRoom('streams');
  const admin = client(dev.url, room, await tokenFor(dev.secret, 'ops', room, 'admin'));
  const writer = client(dev.url, room, await tokenFor(dev.secret, 'writer', room), extra.writer ? { WebSocket: extra.writer } : {});
  const critic = client(dev.url, room, await tokenFor(dev.secret, 'critic', room), extra.critic ? { WebSocket: extra.critic } : {});
  const planner = client(dev.url, room, await tokenFor(dev.secret, 'planner', room));
  for (const [bus, agent] of [
    [writer, 'writer'],
    [critic, 'critic'],
    [planner, 'planner'],
  ] as const)
    await bus.connectAgent(agent);
  const put = await fetch(`${dev.url}/v1/rooms/${room}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${await tokenFor(dev.secret, 'ops', room, 'admin')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ routing: 'addressed' }),
  });
  expect(put.status).toBe(200);
  const close = () => Promise.all([admin.close(), writer.close(), critic.close(), planner.close()]);
  return { room, admin, writer, critic, planner, close };
}

function watch(bus: ReturnType<typeof client>, agent: string) {
  const seen = { events: [] as StreamEvent[], messages: [] as StoredMessage[] };
  const stop = bus.subscribe(agent, (m) => void seen.messages.push(m), { after: 0, onStream: (e) => void seen.events.push(e) });
  return { ...seen, stop };
}

function textOf(events: readonly StreamEvent[]): string {
  let text = '';
  for (const event of events) {
    if (event.type === 'start') text = event.text;
    else if (event.type === 'delta') text += event.text;
  }
  return text;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('RemoteMessageBus streams against wrangler dev', () => {
  it('stream() reaches the recipients through onStream and stores one message; others see nothing; presence unchanged', async () => {
    const { admin, writer, critic, planner, close } = await crew();
    const criticSees = watch(critic, 'critic');
    const plannerSees = watch(planner, 'planner');
    const writerSees = watch(writer, 'writer');
    await pause(300);
    await writer.disconnectAgent('writer');
    await writer.connectAgent('writer');
    const before = (await admin.agents()).map((a) => [a.id, a.online]);
    const stream = await writer.stream(new Message('writer', '', ['critic'], { metadata: { kind: 'answer' } }));
    expect(stream.recipients).toEqual(['critic']);
    const words = Array.from({ length: 60 }, (_, i) => `w${i} `);
    for (const word of words) {
      stream.write(word);
      await pause(2);
    }
    const stored = await stream.end();
    expect(stored).toMatchObject({
      content: words.join(''),
      sender: 'writer',
      recipients: ['critic'],
      streamId: stream.id,
      metadata: { kind: 'answer' },
    });
    await waitFor(() => criticSees.events.at(-1)?.type === 'end' && criticSees.messages.length === 1, 'the end and the message');
    expect(criticSees.events[0]).toEqual({
      type: 'start',
      streamId: stream.id,
      sender: 'writer',
      recipients: ['critic'],
      metadata: { kind: 'answer' },
      text: '',
    });
    expect(textOf(criticSees.events)).toBe(words.join(''));
    // Writes were coalesced: fewer deltas than writes, numbered 1, 2, 3...
    const seqs = criticSees.events.flatMap((e) => (e.type === 'delta' ? [e.seq] : []));
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(seqs.length).toBeLessThan(words.length);
    expect(criticSees.events.at(-1)).toEqual({ type: 'end', streamId: stream.id, message: stored });
    expect(criticSees.messages).toEqual([stored]);
    // The sender may watch its own stream.
    await waitFor(() => writerSees.events.at(-1)?.type === 'end', "the sender's watch");
    expect(textOf(writerSees.events)).toBe(words.join(''));
    await pause(300);
    expect(plannerSees.events).toEqual([]);
    expect(await stream.end()).toEqual(stored);
    expect(() => stream.write('more')).toThrow(MessageBusError);
    // The stream socket left the writer exactly as online as it was.
    await pause(2500);
    expect((await admin.agents()).map((a) => [a.id, a.online])).toEqual(before);
    for (const s of [criticSees, plannerSees, writerSees]) s.stop();
    await close();
  }, 60_000);

  it('resumes after a dropped recipient socket and a dropped writer socket mid-way through 1,000 writes: the text is whole', async () => {
    const criticNet = tracked();
    const writerNet = tracked();
    const { writer, critic, close } = await crew({ writer: writerNet.WebSocket, critic: criticNet.WebSocket });
    const criticSees = watch(critic, 'critic');
    await pause(300);
    const stream = await writer.stream(new Message('writer', '', ['critic']));
    const pieces = Array.from({ length: 1000 }, (_, i) => `${i.toString(36)}.`);
    for (let i = 0; i < pieces.length; i++) {
      stream.write(pieces[i] as string);
      if (i % 10 === 9) await pause(3);
      if (i === 300) criticNet.sockets.at(-1)?.ws.close(); // the recipient's connection drops
      if (i === 600) writerNet.sockets.at(-1)?.ws.close(); // and then the writer's
    }
    const stored = await stream.end();
    const text = pieces.join('');
    expect(stored.content).toBe(text);
    await waitFor(() => criticSees.events.at(-1)?.type === 'end', 'the end');
    expect(textOf(criticSees.events)).toBe(text);
    // The recipient reconnected once and started afresh from all text so far; deltas after each start follow in order.
    const starts = criticSees.events.flatMap((e, i) => (e.type === 'start' ? [i] : []));
    expect(starts.length).toBeGreaterThanOrEqual(1);
    const last = starts.at(-1) as number;
    const seqs = criticSees.events.slice(last + 1).flatMap((e) => (e.type === 'delta' ? [e.seq] : []));
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => (seqs[0] ?? 0) + i));
    expect(criticNet.sockets.length).toBeGreaterThanOrEqual(2);
    expect(writerNet.sockets.length).toBeGreaterThanOrEqual(2);
    criticSees.stop();
    await close();
  }, 90_000);

  it('a write past MAX_CONTENT_BYTES throws CONTENT_TOO_LARGE at once and aborts the stream with that reason; up to it is stored', async () => {
    const { writer, critic, close } = await crew();
    const criticSees = watch(critic, 'critic');
    await pause(300);
    // The room's limit is the default 64 KiB, counted as the JSON string: the quotes are 2 bytes.
    const full = 64 * 1024 - 2;
    const fits = await writer.stream(new Message('writer', 'a', ['critic']));
    fits.write('é'); // 2 bytes of UTF-8
    fits.write('x'.repeat(full - 3));
    const stored = await fits.end();
    expect((stored.content as string).length).toBe(full - 1);
    const over = await writer.stream(new Message('writer', 'a', ['critic']));
    over.write('x'.repeat(full - 1));
    let thrown: unknown;
    try {
      over.write('z');
    } catch (error) {
      thrown = error;
    }
    expect(MessageBusError.is(thrown, 'CONTENT_TOO_LARGE')).toBe(true);
    expect((thrown as MessageBusError).details).toEqual({ limit: 64 * 1024, size: 64 * 1024 + 1 });
    expect(over.open).toBe(false);
    expect(() => over.write('more')).toThrow(/aborted \(CONTENT_TOO_LARGE\)/);
    await expect(over.end()).rejects.toMatchObject({ code: 'CLOSED' });
    await waitFor(() => criticSees.events.some((e) => e.type === 'abort'), 'the abort on the recipient');
    expect(criticSees.events.filter((e) => e.type === 'abort')).toEqual([
      { type: 'abort', streamId: over.id, reason: 'CONTENT_TOO_LARGE' },
    ]);
    await pause(300);
    expect((await critic.fetchMessages('critic', 0)).map((m) => m.streamId)).toEqual([fits.id]);
    criticSees.stop();
    await close();
  }, 60_000);

  it('refusals: a bad recipient fails stream(); the room aborting a stream (idle) closes it on the writer too', async () => {
    const { writer, critic, close } = await crew();
    const refused = await writer.stream(new Message('writer', '', ['nobody'])).catch((e: unknown) => e);
    expect(MessageBusError.is(refused, 'UNKNOWN_RECIPIENT')).toBe(true);
    const notText = await writer.stream(new Message('writer', { a: 1 } as never, ['critic'])).catch((e: unknown) => e);
    expect(MessageBusError.is(notText, 'INVALID_MESSAGE')).toBe(true);
    const criticSees = watch(critic, 'critic');
    await pause(300);
    const stream = await writer.stream(new Message('writer', 'thinking', ['critic']));
    // STREAM_IDLE_MS is 3 s here: nothing written, the room aborts it, and the writer's stream closes.
    await waitFor(() => !stream.open, 'the idle abort', 15_000);
    expect(() => stream.write('late')).toThrow(/aborted \(IDLE\)/);
    await waitFor(() => criticSees.events.at(-1)?.type === 'abort', 'the abort on the recipient');
    expect(criticSees.events.at(-1)).toEqual({ type: 'abort', streamId: stream.id, reason: 'IDLE' });
    expect(await critic.fetchMessages('critic', 0)).toEqual([]);
    criticSees.stop();
    await close();
  }, 60_000);
});
