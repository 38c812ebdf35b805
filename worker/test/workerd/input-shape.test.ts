// Hostile shapes over HTTP (issue 9, defects 3 and 11): checked in the worker before any RPC, answered with the
// same typed 400s as the WebSocket path, and one number rule for `after`, `limit` and `upTo` on both.
import { describe, expect, it } from 'vitest';
import { adminToken, api, freshRoom, join, messagesOf, openSocket, type TestSocket } from './helpers.js';

/** `levels` nested arrays around `leaf`: `nest(2, 1)` is `[[1]]`. */
function nest(levels: number, leaf: unknown = 1): unknown {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

/** The same nesting as JSON text without building it (5,000 levels overflow a naive recursive walk). */
const deepJson = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`;

async function historyOf(room: string): Promise<unknown[]> {
  return (await api('GET', `/v1/rooms/${room}/history`, { token: await adminToken() })).json.messages;
}

describe('nesting over HTTP', () => {
  it('answers 400 with a typed code for 5,000 levels in content, recipients, groups and upTo, and stores nothing', async () => {
    const room = freshRoom();
    const { alice } = await join(room, 'alice', 'bob');
    const admin = await adminToken();
    const deep = deepJson(5000);
    // 10 KB bodies: over the test config's MAX_BODY_BYTES, so this worker instance gets the default limit.
    const vars = { MAX_BODY_BYTES: '131072' };
    const send = (field: string) => {
      const body = field === 'content' ? `{"content":${deep}}` : `{"content":"x","${field}":${deep}}`;
      return api('POST', `/v1/rooms/${room}/messages`, { token: alice, body, vars });
    };
    expect(await send('content')).toMatchObject({ status: 400, json: { error: { code: 'INVALID_MESSAGE' } } });
    expect(await send('recipients')).toMatchObject({ status: 400, json: { error: { code: 'INVALID_MESSAGE' } } });
    expect(await send('idempotencyKey')).toMatchObject({ status: 400, json: { error: { code: 'INVALID_MESSAGE' } } });
    const connect = await api('POST', `/v1/rooms/${room}/agents/bob/connect`, { token: admin, body: `{"groups":${deep}}`, vars });
    expect(connect).toMatchObject({ status: 400, json: { error: { code: 'INVALID_ARGUMENT' } } });
    const ack = await api('POST', `/v1/rooms/${room}/agents/alice/ack`, { token: alice, body: `{"upTo":${deep}}`, vars });
    expect(ack).toMatchObject({ status: 400, json: { error: { code: 'INVALID_ARGUMENT' } } });
    const routing = await api('PUT', `/v1/rooms/${room}`, { token: admin, body: `{"routing":${deep}}`, vars });
    expect(routing).toMatchObject({ status: 400, json: { error: { code: 'INVALID_ARGUMENT' } } });
    expect(await historyOf(room)).toEqual([]);
  });

  it('accepts content nested MAX_CONTENT_DEPTH (64) levels and refuses one more, over HTTP and WebSocket alike', async () => {
    const room = freshRoom();
    const { alice, bob } = await join(room, 'alice', 'bob');
    const send = (content: unknown) => api('POST', `/v1/rooms/${room}/messages`, { token: alice, body: { content } });
    expect((await send(nest(64))).status).toBe(201);
    const refused = await send(nest(65));
    expect(refused).toMatchObject({ status: 400, json: { error: { code: 'INVALID_MESSAGE' } } });
    expect(refused.json.error.message).toContain('MAX_CONTENT_DEPTH');
    const socket = await openSocket(`/v1/rooms/${room}/ws?agent=bob&token=${bob}`);
    socket.send({ type: 'send', ref: 'ok', content: { a: nest(63) } });
    socket.send({ type: 'send', ref: 'deep', content: { a: nest(64) } });
    await socket.until((f) => f.filter((x) => x.type !== 'message').length === 2, 'two answers');
    const answer = (ref: string) => socket.frames.find((f) => f.ref === ref);
    expect(answer('ok')).toMatchObject({ type: 'ok', id: 2 });
    expect(answer('deep')).toMatchObject({ type: 'error', error: { code: 'INVALID_MESSAGE' } });
    expect(answer('deep').error.message).toBe(refused.json.error.message);
    socket.ws.close(1000);
    expect((await historyOf(room)).length).toBe(2);
  });

  it('refuses recipients that are not a list of strings with INVALID_MESSAGE, like the WebSocket path', async () => {
    const room = freshRoom();
    const { alice, bob } = await join(room, 'alice', 'bob');
    for (const recipients of [[['bob']], 'bob', [{ id: 'bob' }], [1]]) {
      const res = await api('POST', `/v1/rooms/${room}/messages`, { token: alice, body: { content: 'x', recipients } });
      expect(res, JSON.stringify(recipients)).toMatchObject({ status: 400, json: { error: { code: 'INVALID_MESSAGE' } } });
    }
    const socket = await openSocket(`/v1/rooms/${room}/ws?agent=bob&token=${bob}`);
    socket.send({ type: 'send', ref: 1, content: 'x', recipients: [['alice']] });
    await socket.until((f) => f.some((x) => x.ref === 1), 'the answer');
    expect(socket.frames.find((x) => x.ref === 1)).toMatchObject({ type: 'error', error: { code: 'INVALID_MESSAGE' } });
    socket.ws.close(1000);
    expect(await historyOf(room)).toEqual([]);
  });

  it('answers a frame whose ref is not a string or number with ref null', async () => {
    const room = freshRoom();
    const { bob } = await join(room, 'alice', 'bob');
    const socket = await openSocket(`/v1/rooms/${room}/ws?agent=bob&token=${bob}`);
    socket.ws.send(`{"type":"ping","ref":${deepJson(1500)}}`);
    await socket.until((f) => f.length === 1, 'the answer');
    expect(socket.frames[0]).toMatchObject({ type: 'error', ref: null, error: { code: 'INVALID_MESSAGE' } });
    socket.ws.close(1000);
  });
});

describe('numbers: decimal digits only, one rule for HTTP and WebSocket', () => {
  const LENIENT = ['0x2', ' 1', '1e3', '', '+1', '1.0', '-1', '01x', '99999999999999999999'];

  it('refuses lenient after and limit on fetch and history', async () => {
    const room = freshRoom();
    const { alice } = await join(room, 'alice', 'bob');
    const admin = await adminToken();
    for (const raw of LENIENT) {
      const q = encodeURIComponent(raw);
      for (const [path, tok] of [
        [`/v1/rooms/${room}/messages?after=${q}`, alice],
        [`/v1/rooms/${room}/messages?limit=${q}`, alice],
        [`/v1/rooms/${room}/history?after=${q}`, admin],
        [`/v1/rooms/${room}/history?limit=${q}`, admin],
      ] as const) {
        const res = await api('GET', path, { token: tok });
        expect(res.status, `${path} (${JSON.stringify(raw)})`).toBe(400);
        expect(res.json.error.code).toBe('INVALID_ARGUMENT');
      }
    }
    expect((await api('GET', `/v1/rooms/${room}/messages?after=0&limit=10`, { token: alice })).status).toBe(200);
    expect((await api('GET', `/v1/rooms/${room}/messages?after=007`, { token: alice })).status).toBe(200);
  });

  it('refuses the same after on the agent socket and the events feed (4400), empty included', async () => {
    const room = freshRoom();
    const { bob } = await join(room, 'alice', 'bob');
    const admin = await adminToken();
    for (const raw of LENIENT) {
      const q = encodeURIComponent(raw);
      const sockets: TestSocket[] = [
        await openSocket(`/v1/rooms/${room}/ws?agent=bob&after=${q}&token=${bob}`),
        await openSocket(`/v1/rooms/${room}/events?after=${q}&token=${admin}`),
      ];
      for (const socket of sockets) {
        expect((await socket.closed).code, JSON.stringify(raw)).toBe(4400);
        expect(socket.frames[0]).toMatchObject({ type: 'error', error: { code: 'INVALID_ARGUMENT' } });
        expect(messagesOf(socket.frames)).toEqual([]);
      }
    }
  });

  it('takes upTo only as a JSON integer, over HTTP and WebSocket', async () => {
    const room = freshRoom();
    const { alice, bob } = await join(room, 'alice', 'bob');
    await api('POST', `/v1/rooms/${room}/messages`, { token: alice, body: { content: 'one' } });
    for (const upTo of ['1', '0x1', 1.5, -1, null, [1], { n: 1 }, true]) {
      const res = await api('POST', `/v1/rooms/${room}/agents/bob/ack`, { token: bob, body: { upTo } });
      expect(res, JSON.stringify(upTo)).toMatchObject({ status: 400, json: { error: { code: 'INVALID_ARGUMENT' } } });
    }
    const socket = await openSocket(`/v1/rooms/${room}/ws?agent=bob&after=1&token=${bob}`);
    socket.send({ type: 'ack', ref: 'str', upTo: '1' });
    socket.send({ type: 'ack', ref: 'num', upTo: 1 });
    await socket.until((f) => f.filter((x) => x.type !== 'message').length === 2, 'two answers');
    expect(socket.frames.find((x) => x.ref === 'str')).toMatchObject({ type: 'error', error: { code: 'INVALID_ARGUMENT' } });
    expect(socket.frames.find((x) => x.ref === 'num')).toEqual({ type: 'ok', ref: 'num', cursor: 1 });
    socket.ws.close(1000);
  });
});
