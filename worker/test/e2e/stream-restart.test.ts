// A room object that really loses its streams, on a real `wrangler dev`: the runtime restarted (wrangler dev stopped
// and started again on the same persisted state and port). Every recipient gets `abort` with reason RESTARTED within
// STREAM_IDLE_MS + 5 s (the reconnecting ones, and through the alarm when no request comes), the writer's stream
// closes, and nothing is stored. workerd does not evict (hibernate) an object while one of its streams is open (the
// stream's idle timer is pending), so hibernation cannot lose a stream here: the last test shows the stream going on
// past the eviction window. The simulated rebuild (a fresh instance in workerd) is in worker/test/workerd/streams.test.ts.
import { Message, type StreamEvent } from 'modular-message-bus-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, freshRoom, NodeWebSocket, startWrangler, tokenFor, type WranglerServer, waitFor } from './support.js';

/** Long enough that the 10 s eviction of an idle object comes before the room's idle timer could abort the stream. */
const STREAM_IDLE_MS = 20_000;
const BOUND_MS = STREAM_IDLE_MS + 5000;

let dev: WranglerServer;

beforeAll(async () => {
  dev = await startWrangler({ vars: { STREAM_IDLE_MS: String(STREAM_IDLE_MS) } });
});
afterAll(async () => {
  await dev?.stop();
});

// biome-ignore lint/suspicious/noExplicitAny: frames are JSON checked by expect().
type Frame = Record<string, any>;

async function room() {
  const id = freshRoom('restart');
  const admin = await tokenFor(dev.secret, 'ops', id, 'admin');
  const tokens: Record<string, string> = {};
  for (const agent of ['writer', 'critic', 'planner']) {
    tokens[agent] = await tokenFor(dev.secret, agent, id);
    await client(dev.url, id, tokens[agent] as string).connectAgent(agent);
  }
  const put = await fetch(`${dev.url}/v1/rooms/${id}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ routing: 'addressed' }),
  });
  expect(put.status).toBe(200);
  const get = async (path: string) =>
    (await (await fetch(`${dev.url}/v1/rooms/${id}${path}`, { headers: { authorization: `Bearer ${admin}` } })).json()) as Frame;
  return { id, tokens, history: async () => (await get('/history')).messages as unknown[], describe: () => get('') };
}

/** A raw WebSocket that keeps every frame; `ask` sends one with a fresh ref and waits for its answer. */
async function socket(room: string, agent: string, token: string, query = '') {
  const frames: Frame[] = [];
  const ws = new (NodeWebSocket as unknown as typeof WebSocket)(
    `${dev.url.replace('http', 'ws')}/v1/rooms/${room}/ws?agent=${agent}${query}&token=${token}`,
  );
  ws.onmessage = (event) => void frames.push(JSON.parse(String(event.data)));
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let refs = 0;
  const ask = async (frame: Frame) => {
    const ref = `r${++refs}`;
    ws.send(JSON.stringify({ ...frame, ref }));
    await waitFor(() => frames.some((f) => f.ref === ref), `the answer to ${frame.type}`);
    return frames.find((f) => f.ref === ref) as Frame;
  };
  return { ws, frames, ask };
}

const streamEvents = (frames: Frame[]) => frames.filter((f) => f.type === 'stream').map((f) => f.event as Frame);
const abortOf = (events: Frame[], streamId: string) => events.find((e) => e.type === 'abort' && e.streamId === streamId);

describe('a room object that lost its streams, on wrangler dev', () => {
  it('a restart of the runtime: the reconnecting recipient and the writer get abort RESTARTED in time; nothing is stored', async () => {
    const { id, tokens, history } = await room();
    // The clients' own idle timers are longer than the test, so the abort they see is the room's.
    const critic = client(dev.url, id, tokens.critic as string, { streamIdleMs: 120_000 });
    const writer = client(dev.url, id, tokens.writer as string, { streamIdleMs: 120_000 });
    const seen: StreamEvent[] = [];
    const stop = critic.subscribe('critic', () => {}, { after: 0, onStream: (e) => void seen.push(e) });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stream = await writer.stream(new Message('writer', 'half ', ['critic']));
    stream.write('an answer');
    await waitFor(() => seen.some((e) => e.type === 'delta'), 'the delta before the restart');
    await dev.restart();
    const back = Date.now();
    // The subscription reconnects by itself and is told of the stream the new instance lost.
    await waitFor(() => seen.some((e) => e.type === 'abort'), 'the RESTARTED abort', BOUND_MS);
    expect(Date.now() - back).toBeLessThan(BOUND_MS);
    expect(seen.filter((e) => e.type === 'abort')).toEqual([{ type: 'abort', streamId: stream.id, reason: 'RESTARTED' }]);
    // The writer's stream socket reconnects too (its stream is open) and closes the stream.
    await waitFor(() => !stream.open, "the writer's stream closing", BOUND_MS);
    expect(() => stream.write('more')).toThrow(/aborted \(RESTARTED\)/);
    await expect(stream.end()).rejects.toMatchObject({ code: 'CLOSED' });
    expect(await history()).toEqual([]);
    expect(await critic.fetchMessages('critic', 0)).toEqual([]);
    stop();
    await Promise.all([critic.close(), writer.close()]);
  }, 120_000);

  it('a restart with no request after it: the alarm builds the object within STREAM_IDLE_MS, and a recipient opening later is told', async () => {
    const { id, tokens, history, describe: describeRoom } = await room();
    const writer = await socket(id, 'writer', tokens.writer as string, '&stream=1');
    const critic = await socket(id, 'critic', tokens.critic as string);
    const startedAt = Date.now();
    const started = await writer.ask({ type: 'stream-start', recipients: ['critic'] });
    const streamId = started.stream.id as string;
    expect(await writer.ask({ type: 'stream-write', streamId, seq: 1, text: 'half an answer' })).toMatchObject({ type: 'ok' });
    await waitFor(() => streamEvents(critic.frames).length === 2, 'the start and the delta');
    await dev.restart();
    const back = Date.now();
    // Nobody asks the room anything until its alarm (due STREAM_IDLE_MS after the start) has had time to fire:
    // only the alarm can build the new instance.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, startedAt + STREAM_IDLE_MS + 2000 - Date.now())));
    const askedAt = Date.now();
    const late = await socket(id, 'critic', tokens.critic as string);
    const planner = await socket(id, 'planner', tokens.planner as string);
    await waitFor(() => abortOf(streamEvents(late.frames), streamId) !== undefined, 'the abort on the late socket', 5000);
    expect(streamEvents(late.frames)).toEqual([{ type: 'abort', streamId, reason: 'RESTARTED' }]);
    const { instanceStartedAt } = await describeRoom();
    expect(instanceStartedAt).toBeGreaterThanOrEqual(back - 1000);
    // Built before the first request after the restart, within STREAM_IDLE_MS of it.
    expect(instanceStartedAt).toBeLessThan(askedAt - 500);
    expect(instanceStartedAt).toBeLessThanOrEqual(back + STREAM_IDLE_MS + 1000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(streamEvents(planner.frames)).toEqual([]);
    expect(await history()).toEqual([]);
    for (const s of [writer, critic, late, planner]) s.ws.close(1000);
  }, 120_000);

  it('no eviction (hibernation) while a stream is open: after the 10 s that evict an idle object, it is the same instance and the stream goes on', async () => {
    const { id, tokens, history, describe: describeRoom } = await room();
    const writer = await socket(id, 'writer', tokens.writer as string, '&stream=1');
    const critic = await socket(id, 'critic', tokens.critic as string);
    const { instanceStartedAt: before } = await describeRoom();
    const started = await writer.ask({ type: 'stream-start', recipients: ['critic'] });
    const streamId = started.stream.id as string;
    await writer.ask({ type: 'stream-write', streamId, seq: 1, text: 'half ' });
    // No frame and no request for longer than workerd lets an idle object live (remote-client.test.ts sees it
    // evicted after ~10 s): the stream's idle timer keeps this one in memory, so it cannot lose the stream this way.
    await new Promise((resolve) => setTimeout(resolve, 14_000));
    expect(await writer.ask({ type: 'stream-write', streamId, seq: 2, text: 'an answer' })).toMatchObject({ type: 'ok' });
    const ended = await writer.ask({ type: 'stream-end', streamId, seq: 2 });
    expect(ended).toMatchObject({ type: 'ok', message: { content: 'half an answer', streamId } });
    expect((await describeRoom()).instanceStartedAt).toBe(before);
    await waitFor(() => streamEvents(critic.frames).some((e) => e.type === 'end'), 'the end');
    expect(streamEvents(critic.frames).map((e) => e.type)).toEqual(['start', 'delta', 'delta', 'end']);
    expect(await history()).toHaveLength(1);
    for (const s of [writer, critic]) s.ws.close(1000);
  }, 120_000);
});
