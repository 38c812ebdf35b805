// Conversations through the worker in workerd: replies and metadata over HTTP and the WebSocket `send` frame, the
// thread and paging routes with their refusals, the events feed, `"routing": "addressed"`, MAX_METADATA_BYTES and
// read-only watch sockets that leave presence alone.
import { describe, expect, it } from 'vitest';
import { adminToken, api, freshRoom, join, messagesOf, openSocket } from './helpers.js';

const send = (room: string, token: string, body: Record<string, unknown>) => api('POST', `/v1/rooms/${room}/messages`, { token, body });

describe('conversations over HTTP', () => {
  it('stores inReplyTo, thread and metadata, and returns them on every read', async () => {
    const room = freshRoom('conv');
    const { alice, bob, carol } = await join(room, 'alice', 'bob', 'carol');
    const question = await send(room, alice, { content: 'which sources?', metadata: { kind: 'question' } });
    expect(question.status).toBe(201);
    expect(question.json).toMatchObject({ id: 1, thread: 1, metadata: { kind: 'question' } });
    expect('inReplyTo' in question.json).toBe(false);
    const answer = await send(room, bob, { content: 'three', inReplyTo: 1, metadata: { kind: 'answer', n: 3 } });
    expect(answer.json).toMatchObject({ id: 2, inReplyTo: 1, thread: 1, metadata: { kind: 'answer', n: 3 } });
    const remark = await send(room, carol, { content: 'cite them', inReplyTo: 2 });
    expect(remark.json).toMatchObject({ id: 3, inReplyTo: 2, thread: 1 });
    const fetched = await api('GET', `/v1/rooms/${room}/messages?agent=alice&after=0`, { token: alice });
    expect(fetched.json.messages.map((m: { id: number; thread: number }) => [m.id, m.thread])).toEqual([
      [2, 1],
      [3, 1],
    ]);
    const history = await api('GET', `/v1/rooms/${room}/history`, { token: await adminToken() });
    expect(history.json.messages[1]).toEqual(answer.json);
  });

  it('refuses a reply to a hidden or missing message with one 400, and bad shapes before the room', async () => {
    const room = freshRoom('conv');
    // Several senders: each agent may send 5 messages at once (the test's RATE_LIMIT_BURST).
    const { alice, bob, carol, dave } = await join(room, 'alice', 'bob', 'carol', 'dave');
    await api('PUT', `/v1/rooms/${room}`, { token: await adminToken(), body: { routing: 'individual' } });
    await send(room, alice, { content: 'for bob', recipients: ['bob'] });
    const hidden = await send(room, carol, { content: 'x', recipients: ['alice'], inReplyTo: 1 });
    const missing = await send(room, carol, { content: 'x', recipients: ['alice'], inReplyTo: 99 });
    for (const res of [hidden, missing]) expect(res).toMatchObject({ status: 400, json: { error: { code: 'INVALID_ARGUMENT' } } });
    expect(hidden.json.error.message).toBe(missing.json.error.message);
    for (const inReplyTo of ['1', 0, 1.5, { id: 1 }]) {
      expect((await send(room, bob, { content: 'x', recipients: ['alice'], inReplyTo })).json.error.code).toBe('INVALID_ARGUMENT');
    }
    for (const metadata of [null, [1], 'tool_call']) {
      expect((await send(room, dave, { content: 'x', recipients: ['alice'], metadata })).json.error.code).toBe('INVALID_MESSAGE');
    }
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = { d: deep }; // deeper than MAX_CONTENT_DEPTH (64), within MAX_BODY_BYTES
    const tooDeep = await api('POST', `/v1/rooms/${room}/messages`, {
      token: bob,
      body: `{"content":"x","recipients":["alice"],"metadata":${JSON.stringify(deep)}}`,
    });
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.json.error.code).toBe('INVALID_MESSAGE');
    const history = await api('GET', `/v1/rooms/${room}/history`, { token: await adminToken() });
    expect(history.json.messages.map((m: { id: number }) => m.id)).toEqual([1]);
  });

  it('refuses metadata over MAX_METADATA_BYTES with 413 and counts it as a content refusal', async () => {
    const room = freshRoom('conv');
    const { alice } = await join(room, 'alice', 'bob');
    // The test vars set MAX_METADATA_BYTES to 64: {"k":"…"} is 8 bytes around the value.
    expect((await send(room, alice, { content: 'fits', metadata: { k: 'x'.repeat(56) } })).status).toBe(201);
    const over = await send(room, alice, { content: 'over', metadata: { k: 'x'.repeat(57) } });
    expect(over).toMatchObject({ status: 413, json: { error: { code: 'CONTENT_TOO_LARGE', limit: 64, size: 65 } } });
    const metrics = await api('GET', '/metrics', { token: await adminToken() });
    expect(metrics.json).toMatch(new RegExp(`mmb_limit_rejections_total\\{room="${room}",limit="content"\\} 1`));
  });

  it('serves a thread as the agent sees it, and pages back; another agent view is 403', async () => {
    const room = freshRoom('conv');
    const { alice, bob, carol } = await join(room, 'alice', 'bob', 'carol');
    const admin = await adminToken();
    await api('PUT', `/v1/rooms/${room}`, { token: admin, body: { routing: 'addressed' } });
    await send(room, alice, { content: 'root', recipients: ['bob'] }); // 1
    await send(room, bob, { content: 'to alice and carol', recipients: ['alice', 'carol'], inReplyTo: 1 }); // 2
    await send(room, alice, { content: 'to bob only', recipients: ['bob'], inReplyTo: 2 }); // 3
    await send(room, carol, { content: 'all hands' }); // 4
    const thread = (agent: string, token: string, query = '') =>
      api('GET', `/v1/rooms/${room}/threads/1?agent=${agent}${query}`, { token });
    const ids = (res: { json: { messages: { id: number }[] } }) => res.json.messages.map((m) => m.id);
    expect(ids(await thread('alice', alice))).toEqual([1, 2, 3]);
    expect(ids(await thread('carol', carol))).toEqual([2]);
    expect(ids(await thread('bob', bob, '&after=1&limit=1'))).toEqual([2]);
    expect(ids(await api('GET', `/v1/rooms/${room}/threads/2?agent=alice`, { token: alice }))).toEqual([]);
    expect(ids(await thread('carol', admin))).toEqual([2]);
    expect(await thread('bob', carol)).toMatchObject({ status: 403, json: { error: { code: 'FORBIDDEN' } } });
    expect((await api('GET', `/v1/rooms/${room}/threads/0x1?agent=alice`, { token: alice })).status).toBe(400);
    expect((await api('GET', `/v1/rooms/${room}/threads/0?agent=alice`, { token: alice })).json.error.code).toBe('INVALID_ARGUMENT');

    const latest = (query: string, token = bob) => api('GET', `/v1/rooms/${room}/messages/latest?agent=bob${query}`, { token });
    expect(ids(await latest(''))).toEqual([1, 3, 4]);
    expect(ids(await latest('&limit=2'))).toEqual([3, 4]);
    expect(ids(await latest('&limit=2&before=3'))).toEqual([1]);
    expect((await latest('', carol)).status).toBe(403);
    for (const bad of ['&before=-1', '&before=1e3', '&before=', '&limit=0', '&limit=1001']) {
      expect((await latest(bad)).json.error.code, bad).toBe('INVALID_ARGUMENT');
    }
  });
});

describe('conversations over WebSockets', () => {
  it('a send frame carries inReplyTo and metadata; the agent socket and the events feed deliver them', async () => {
    const room = freshRoom('conv');
    const { alice, bob } = await join(room, 'alice', 'bob');
    const feed = await openSocket(`/v1/rooms/${room}/events?after=0&token=${await adminToken()}`);
    const aliceSocket = await openSocket(`/v1/rooms/${room}/ws?agent=alice&after=0&token=${alice}`);
    const bobSocket = await openSocket(`/v1/rooms/${room}/ws?agent=bob&after=0&token=${bob}`);
    bobSocket.send({ type: 'send', ref: 1, content: 'question', metadata: { kind: 'question' } });
    await aliceSocket.until((f) => messagesOf(f).length === 1, 'the question');
    aliceSocket.send({ type: 'send', ref: 2, content: 'answer', inReplyTo: 1, metadata: { kind: 'answer' } });
    const frames = await aliceSocket.until((f) => f.some((x) => x.type === 'ok' && x.ref === 2), 'the ok');
    // The ok names the stored id, timestamp and thread: the sender has the rest.
    expect(frames.find((x) => x.ref === 2)).toMatchObject({ type: 'ok', id: 2, thread: 1, timestamp: expect.any(Number) });
    await bobSocket.until((f) => messagesOf(f).length === 1, 'the answer');
    expect(messagesOf(bobSocket.frames)[0]).toMatchObject({ id: 2, inReplyTo: 1, thread: 1 });
    await feed.until((f) => messagesOf(f).length === 2, 'both on the feed');
    expect(messagesOf(feed.frames).map((m) => [m.id, m.thread, m.inReplyTo ?? null, m.metadata?.kind])).toEqual([
      [1, 1, null, 'question'],
      [2, 1, 1, 'answer'],
    ]);
    aliceSocket.send({ type: 'send', ref: 3, content: 'x', inReplyTo: 'one' });
    const refused = await aliceSocket.until((f) => f.some((x) => x.ref === 3), 'the refusal');
    expect(refused.find((x) => x.ref === 3)).toMatchObject({ type: 'error', error: { code: 'INVALID_ARGUMENT' } });
    for (const socket of [feed, aliceSocket, bobSocket]) socket.ws.close(1000);
  });

  it('a watch socket gets what is routed to the agent, is read-only, and changes no presence', async () => {
    const room = freshRoom('conv');
    const { alice, bob } = await join(room, 'alice', 'bob');
    const admin = await adminToken();
    const online = async () => {
      const view = await api('GET', `/v1/rooms/${room}`, { token: admin });
      return Object.fromEntries(view.json.members.map((m: { id: string; online: boolean }) => [m.id, m.online]));
    };
    await api('POST', `/v1/rooms/${room}/agents/bob/disconnect`, { token: bob });
    expect(await online()).toEqual({ alice: true, bob: false });
    // Opening a watch socket does not bring bob online, and it still receives what is routed to bob.
    const watch = await openSocket(`/v1/rooms/${room}/ws?agent=bob&after=0&watch=1&token=${bob}`);
    await send(room, alice, { content: 'while bob is away' });
    await watch.until((f) => messagesOf(f).length === 1, 'the message on the watch socket');
    expect(await online()).toEqual({ alice: true, bob: false });
    watch.send({ type: 'send', ref: 1, content: 'from a watch socket' });
    const answer = await watch.until((f) => f.some((x) => x.ref === 1), 'the refusal');
    expect(answer.find((x) => x.ref === 1)).toMatchObject({ type: 'error', error: { code: 'INVALID_MESSAGE' } });
    // An agent online through its own socket stays online when a watch socket of it closes.
    const socket = await openSocket(`/v1/rooms/${room}/ws?agent=bob&token=${bob}`);
    await socket.until(() => true, 'open');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await online()).toEqual({ alice: true, bob: true });
    const second = await openSocket(`/v1/rooms/${room}/ws?agent=bob&watch=1&token=${bob}`);
    second.ws.close(1000);
    watch.ws.close(1000);
    await Promise.all([second.closed, watch.closed]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await online()).toEqual({ alice: true, bob: true });
    expect(await (await openSocket(`/v1/rooms/${room}/ws?agent=bob&watch=yes&token=${bob}`)).closed).toMatchObject({ code: 4400 });
    socket.ws.close(1000);
  });
});
