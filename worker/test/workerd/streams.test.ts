// Streams through the room object in workerd: the stream-* frames of agent and stream sockets, stream frames on
// the recipients' sockets only (agent tokens), the events feed, resume mid-way through a 1,000-delta stream, the
// limits (vitest.config.ts: 2 open streams per agent, 300 deltas/s, 1 KiB content, STREAM_IDLE_MS 2000), and a
// room object rebuilt after a restart telling the recipients of the streams it lost (RESTARTED).
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { ChatRoomBase } from '../../src/chat-room.js';
import { adminToken, api, freshRoom, type Json, join, messagesOf, openSocket, type TestSocket } from './helpers.js';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz';
/** The i-th one-character delta: 1,000 of them fit the test's 1 KiB MAX_CONTENT_BYTES, and any slip shows. */
const piece = (i: number) => ALPHABET[i % 26] as string;

const streamEvents = (frames: Json[], streamId?: string) =>
  frames.filter((f) => f.type === 'stream' && (streamId === undefined || f.event.streamId === streamId)).map((f) => f.event);

/** The text a UI shows: a `start` sets it, each `delta` appends. */
function textOf(events: Json[]): string {
  let text = '';
  for (const event of events) {
    if (event.type === 'start') text = event.text;
    else if (event.type === 'delta') text += event.text;
  }
  return text;
}

async function limitCount(room: string, limit: string): Promise<number> {
  const text = (await api('GET', '/metrics', { token: await adminToken() })).json as string;
  const line = text.split('\n').find((l) => l.startsWith(`mmb_limit_rejections_total{room="${room}",limit="${limit}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

let refs = 0;
/** Sends a frame with a fresh ref and waits for its answer. */
async function ask(socket: TestSocket, frame: Record<string, unknown>): Promise<Json> {
  const ref = `r${++refs}`;
  socket.send({ ...frame, ref });
  const frames = await socket.until((f) => f.some((x) => x.ref === ref), `the answer to ${String(frame.type)}`);
  return frames.find((x) => x.ref === ref);
}

async function room(policy = 'addressed') {
  const id = freshRoom('streams');
  const tokens = await join(id, 'writer', 'critic', 'planner');
  await api('PUT', `/v1/rooms/${id}`, { token: await adminToken(), body: { routing: policy } });
  return { id, tokens };
}

describe('streams through the room object', () => {
  it('stream frames reach the recipients and the events feed only; end stores one message with streamId', async () => {
    const { id, tokens } = await room();
    const critic = await openSocket(`/v1/rooms/${id}/ws?agent=critic&token=${tokens.critic}`);
    const planner = await openSocket(`/v1/rooms/${id}/ws?agent=planner&token=${tokens.planner}`);
    const feed = await openSocket(`/v1/rooms/${id}/events?token=${await adminToken()}`);
    const writer = await openSocket(`/v1/rooms/${id}/ws?agent=writer&stream=1&token=${tokens.writer}`);
    const started = await ask(writer, { type: 'stream-start', recipients: ['critic'], metadata: { kind: 'answer' } });
    expect(started).toMatchObject({ type: 'ok', stream: { recipients: ['critic'], maxContentBytes: 1024 } });
    const streamId = started.stream.id as string;
    expect(await ask(writer, { type: 'stream-write', streamId, seq: 1, text: 'Hel' })).toEqual({ type: 'ok', ref: expect.any(String) });
    expect((await ask(writer, { type: 'stream-write', streamId, seq: 2, text: 'lo' })).type).toBe('ok');
    // A write resent after a reconnect (same seq) is answered ok and not applied again.
    expect((await ask(writer, { type: 'stream-write', streamId, seq: 2, text: 'lo' })).type).toBe('ok');
    const ended = await ask(writer, { type: 'stream-end', streamId });
    expect(ended.message).toMatchObject({
      content: 'Hello',
      sender: 'writer',
      recipients: ['critic'],
      streamId,
      metadata: { kind: 'answer' },
    });
    // A resent end gets the same message back.
    expect((await ask(writer, { type: 'stream-end', streamId })).message).toEqual(ended.message);
    const expected = [
      { type: 'start', streamId, sender: 'writer', recipients: ['critic'], metadata: { kind: 'answer' }, text: '', seq: 0 },
      { type: 'delta', streamId, seq: 1, text: 'Hel' },
      { type: 'delta', streamId, seq: 2, text: 'lo' },
      { type: 'end', streamId, message: ended.message },
    ];
    await critic.until((f) => streamEvents(f).length === 4 && messagesOf(f).length === 1, 'the stream and its message');
    expect(streamEvents(critic.frames)).toEqual(expected);
    // The message frame, read back by FrameReader, is the message the stream's end event carries whole.
    expect(messagesOf(critic.frames)).toEqual([ended.message]);
    await feed.until((f) => streamEvents(f).length === 4, 'the events feed');
    expect(streamEvents(feed.frames)).toEqual(expected);
    // The sender's stream socket hears of its own stream (not the deltas it wrote), and gets no messages.
    expect(streamEvents(writer.frames)).toEqual(expected.filter((e) => e.type !== 'delta'));
    expect(messagesOf(writer.frames)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(streamEvents(planner.frames)).toEqual([]);
    const history = await api('GET', `/v1/rooms/${id}/history`, { token: await adminToken() });
    expect(history.json.messages).toEqual([ended.message]);
    for (const s of [critic, planner, feed, writer]) s.ws.close(1000);
  });

  it('a recipient that connects, or reconnects, mid-way through a 1,000-delta stream gets all text so far, then every delta', async () => {
    const { id, tokens } = await room();
    const writer = await openSocket(`/v1/rooms/${id}/ws?agent=writer&stream=1&token=${tokens.writer}`);
    const streamId = (await ask(writer, { type: 'stream-start', recipients: ['critic', 'planner'] })).stream.id as string;
    const write = async (from: number, to: number) => {
      // Paced under MAX_STREAM_DELTAS_PER_SECOND (300, burst 300): 100 writes, then a pause.
      for (let i = from; i < to; i++) {
        writer.send({ type: 'stream-write', streamId, seq: i + 1, text: piece(i) });
        if (i % 100 === 99) {
          await writer.until((f) => f.filter((x) => x.type === 'ok' && x.ref === null).length >= i + 1, 'the write answers');
          await new Promise((resolve) => setTimeout(resolve, 350));
        }
      }
    };
    await write(0, 300);
    const late = await openSocket(`/v1/rooms/${id}/ws?agent=critic&token=${tokens.critic}`);
    let dropping = await openSocket(`/v1/rooms/${id}/ws?agent=planner&token=${tokens.planner}`);
    await write(300, 500);
    // planner's socket drops mid-stream; what it saw on the first socket and the second together must be the text.
    dropping.ws.close(1000);
    await dropping.closed;
    const firstSocket = streamEvents(dropping.frames, streamId);
    await write(500, 700);
    dropping = await openSocket(`/v1/rooms/${id}/ws?agent=planner&token=${tokens.planner}`);
    await write(700, 1000);
    const stored = (await ask(writer, { type: 'stream-end', streamId, seq: 1000 })).message;
    const text = Array.from({ length: 1000 }, (_, i) => piece(i)).join('');
    expect(stored.content).toBe(text);
    for (const socket of [late, dropping]) {
      await socket.until((f) => streamEvents(f, streamId).at(-1)?.type === 'end', 'the end');
      const events = streamEvents(socket.frames, streamId);
      expect(events[0]).toMatchObject({ type: 'start', streamId, sender: 'writer' });
      expect(events[0].text.length).toBeGreaterThanOrEqual(300);
      expect(textOf(events)).toBe(text);
      // One start (with its seq), then every later delta once, in order.
      expect(events.filter((e: Json) => e.type === 'start')).toHaveLength(1);
      const seqs = events.filter((e: Json) => e.type === 'delta').map((e: Json) => e.seq);
      expect(seqs).toEqual(Array.from({ length: 1000 - events[0].seq }, (_, i) => events[0].seq + 1 + i));
    }
    expect(textOf(firstSocket).length).toBeGreaterThanOrEqual(500);
    expect(text.startsWith(textOf(firstSocket))).toBe(true);
    for (const s of [late, dropping, writer]) s.ws.close(1000);
  }, 60_000);

  it('refuses bad stream frames with typed errors and never acts on another agent’s stream', async () => {
    const { id, tokens } = await room();
    const writer = await openSocket(`/v1/rooms/${id}/ws?agent=writer&token=${tokens.writer}`);
    const critic = await openSocket(`/v1/rooms/${id}/ws?agent=critic&token=${tokens.critic}`);
    const watch = await openSocket(`/v1/rooms/${id}/ws?agent=critic&watch=1&token=${tokens.critic}`);
    const code = async (socket: TestSocket, frame: Record<string, unknown>) => (await ask(socket, frame)).error?.code;
    expect(await code(writer, { type: 'stream-start', content: 42 })).toBe('INVALID_MESSAGE');
    expect(await code(writer, { type: 'stream-start', recipients: ['nobody'] })).toBe('UNKNOWN_RECIPIENT');
    const streamId = (await ask(writer, { type: 'stream-start', recipients: ['critic'] })).stream.id;
    expect(await code(writer, { type: 'stream-write', streamId, text: 7 })).toBe('INVALID_ARGUMENT');
    expect(await code(writer, { type: 'stream-write', streamId, seq: 5000, text: 'x' })).toBe('INVALID_ARGUMENT');
    expect(await code(writer, { type: 'stream-write', streamId: 'nope', text: 'x' })).toBe('CLOSED');
    expect(await code(writer, { type: 'stream-write', text: 'x' })).toBe('INVALID_ARGUMENT');
    // The critic may not write to, end or abort the writer's stream: the same CLOSED as for no stream at all.
    expect(await code(critic, { type: 'stream-write', streamId, text: 'x' })).toBe('CLOSED');
    expect(await code(critic, { type: 'stream-end', streamId })).toBe('CLOSED');
    expect(await code(critic, { type: 'stream-abort', streamId })).toBe('CLOSED');
    expect(await code(watch, { type: 'stream-start' })).toBe('INVALID_MESSAGE');
    expect((await ask(writer, { type: 'stream-abort', streamId, reason: 'model error' })).type).toBe('ok');
    await critic.until((f) => streamEvents(f).at(-1)?.type === 'abort', 'the abort');
    expect(streamEvents(critic.frames).at(-1)).toEqual({ type: 'abort', streamId, reason: 'model error' });
    expect(await code(writer, { type: 'stream-end', streamId })).toBe('CLOSED');
    const streamSocket = await openSocket(`/v1/rooms/${id}/ws?agent=writer&stream=1&token=${tokens.writer}`);
    expect(await code(streamSocket, { type: 'send', content: 'x' })).toBe('INVALID_MESSAGE');
    expect((await api('GET', `/v1/rooms/${id}/history`, { token: await adminToken() })).json.messages).toEqual([]);
    for (const s of [writer, critic, watch, streamSocket]) s.ws.close(1000);
  });

  it('limits: open streams per agent, deltas per second and content size, each counted; an idle stream is aborted', async () => {
    const { id, tokens } = await room();
    const writer = await openSocket(`/v1/rooms/${id}/ws?agent=writer&stream=1&token=${tokens.writer}`);
    const critic = await openSocket(`/v1/rooms/${id}/ws?agent=critic&token=${tokens.critic}`);
    const a = (await ask(writer, { type: 'stream-start', recipients: ['critic'] })).stream.id;
    const b = (await ask(writer, { type: 'stream-start', recipients: ['critic'] })).stream.id;
    expect((await ask(writer, { type: 'stream-start', recipients: ['critic'] })).error).toMatchObject({ code: 'RATE_LIMITED' });
    expect(await limitCount(id, 'streams')).toBe(1);
    // 1 KiB content: one write past it aborts the stream.
    expect((await ask(writer, { type: 'stream-write', streamId: a, text: 'x'.repeat(1100) })).error).toMatchObject({
      code: 'CONTENT_TOO_LARGE',
    });
    expect(await limitCount(id, 'content')).toBe(1);
    // More than 300 writes at once (empty ones count too): the stream is aborted with RATE_LIMITED.
    for (let i = 0; i < 1000; i++) writer.send({ type: 'stream-write', streamId: b, text: '' });
    await critic.until((f) => streamEvents(f, b).at(-1)?.type === 'abort', 'the rate abort');
    expect(streamEvents(critic.frames, b).at(-1)).toEqual({ type: 'abort', streamId: b, reason: 'RATE_LIMITED' });
    expect(streamEvents(critic.frames, a).at(-1)).toEqual({ type: 'abort', streamId: a, reason: 'CONTENT_TOO_LARGE' });
    expect(await limitCount(id, 'stream-deltas')).toBe(1);
    // Both aborted: the agent may open streams again. One left alone is aborted after STREAM_IDLE_MS (2 s).
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the delta bucket refills
    const idle = (await ask(writer, { type: 'stream-start', recipients: ['critic'] })).stream.id;
    await critic.until((f) => streamEvents(f, idle).at(-1)?.type === 'abort', 'the idle abort', 10_000);
    expect(streamEvents(critic.frames, idle).at(-1)).toEqual({ type: 'abort', streamId: idle, reason: 'IDLE' });
    expect((await api('GET', `/v1/rooms/${id}/history`, { token: await adminToken() })).json.messages).toEqual([]);
    for (const s of [writer, critic]) s.ws.close(1000);
  }, 30_000);

  it('a room object rebuilt after a restart aborts the streams it lost with RESTARTED, also for sockets that open later', async () => {
    const { id, tokens } = await room();
    const critic = await openSocket(`/v1/rooms/${id}/ws?agent=critic&token=${tokens.critic}`);
    const writer = await openSocket(`/v1/rooms/${id}/ws?agent=writer&stream=1&token=${tokens.writer}`);
    const streamId = (await ask(writer, { type: 'stream-start', recipients: ['critic'] })).stream.id;
    await ask(writer, { type: 'stream-write', streamId, text: 'half an answer' });
    await critic.until((f) => streamEvents(f).length === 2, 'the start and the delta');
    const stub = env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName(id)) as unknown as DurableObjectStub<ChatRoomBase>;
    // What the runtime builds after eviction or a restart: a fresh instance over the same storage and sockets,
    // with nothing in memory. Its alarm (due within STREAM_IDLE_MS while streams are open) is what builds it
    // when no request comes.
    const later = await runInDurableObject(stub, async (instance: ChatRoomBase, state) => {
      const Fresh = instance.constructor as new (ctx: DurableObjectState, e: typeof env) => ChatRoomBase;
      const fresh = new Fresh(state, env);
      const alarmDue = await state.storage.getAlarm();
      await fresh.alarm();
      // A recipient reconnecting soon after (within STREAM_IDLE_MS + 5 s) is told too; one that is not a recipient is not.
      const open = async (agent: string) => {
        const headers = { 'x-mmb-room': id, 'x-mmb-kind': 'agent', 'x-mmb-agent': agent };
        const ws = (await fresh.fetch(new Request('https://room.internal/', { headers }))).webSocket as WebSocket;
        const frames: Json[] = [];
        ws.addEventListener('message', (event) => void frames.push(JSON.parse(event.data as string)));
        ws.accept();
        return { ws, frames };
      };
      const critic2 = await open('critic');
      const planner = await open('planner');
      const deadline = Date.now() + 5000;
      while (streamEvents(critic2.frames).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 100));
      critic2.ws.close(1000);
      planner.ws.close(1000);
      return { alarmDue, critic: streamEvents(critic2.frames), planner: streamEvents(planner.frames) };
    });
    expect(later.alarmDue).not.toBeNull();
    // (The test's first instance is still alive beside the fresh one: its own idle abort may follow later.)
    const firstAbort = (frames: Json[]) => streamEvents(frames).find((e: Json) => e.type === 'abort');
    await critic.until((f) => firstAbort(f) !== undefined, 'the RESTARTED abort');
    expect(firstAbort(critic.frames)).toEqual({ type: 'abort', streamId, reason: 'RESTARTED' });
    await writer.until((f) => firstAbort(f) !== undefined, 'the abort to the sender');
    expect(firstAbort(writer.frames)).toEqual({ type: 'abort', streamId, reason: 'RESTARTED' });
    expect(later.critic).toEqual([{ type: 'abort', streamId, reason: 'RESTARTED' }]);
    expect(later.planner).toEqual([]);
    for (const s of [critic, writer]) s.ws.close(1000);
  });
});
