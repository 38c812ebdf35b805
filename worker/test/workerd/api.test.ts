import { createExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/index.js';
import { adminToken, api, freshRoom, join, token } from './helpers.js';

describe('auth', () => {
  it('refuses a missing, forged, expired or incomplete token with 401', async () => {
    const room = freshRoom();
    const path = `/v1/rooms/${room}/agents/alice/connect`;
    expect((await api('POST', path)).json.error.code).toBe('UNAUTHORIZED');
    const forged = await token('alice', room, 'agent', { secret: 'not-the-secret' });
    expect(await api('POST', path, { token: forged })).toMatchObject({ status: 401, json: { error: { code: 'UNAUTHORIZED' } } });
    const expired = await token('alice', room, 'agent', { exp: Math.floor(Date.now() / 1000) - 60 });
    expect((await api('POST', path, { token: expired })).status).toBe(401);
    expect((await api('POST', path, { headers: { authorization: 'Basic abc' } })).status).toBe(401);
    expect((await api('GET', '/metrics')).status).toBe(401);
  });

  it('lets an agent token act only as its own agent in its own room', async () => {
    const room = freshRoom();
    const alice = await token('alice', room);
    const refusals = [
      await api('POST', `/v1/rooms/${room}/agents/bob/connect`, { token: alice }),
      await api('POST', `/v1/rooms/other-room/agents/alice/connect`, { token: alice }),
      await api('POST', `/v1/rooms/${room}/agents/bob/disconnect`, { token: alice }),
      await api('DELETE', `/v1/rooms/${room}/agents/bob`, { token: alice }),
      await api('POST', `/v1/rooms/${room}/agents/bob/ack`, { token: alice, body: { upTo: 0 } }),
      await api('GET', `/v1/rooms/${room}/messages?agent=bob`, { token: alice }),
      await api('POST', `/v1/rooms/${room}/messages`, { token: alice, body: { content: 'x', sender: 'bob' } }),
    ];
    for (const res of refusals) expect(res).toMatchObject({ status: 403, json: { error: { code: 'FORBIDDEN' } } });
  });

  it('keeps admin routes for admin tokens', async () => {
    const room = freshRoom();
    const alice = await token('alice', room);
    for (const [method, path, body] of [
      ['GET', '/v1/rooms'],
      ['PUT', `/v1/rooms/${room}`, { routing: 'individual' }],
      ['GET', `/v1/rooms/${room}`],
      ['GET', `/v1/rooms/${room}/history`],
      ['GET', '/metrics'],
    ] as const) {
      expect((await api(method, path, { token: alice, body })).status, `${method} ${path}`).toBe(403);
    }
    const roomAdmin = await token('ops', room, 'admin');
    expect((await api('GET', `/v1/rooms/${room}`, { token: roomAdmin })).status).toBe(200);
    expect((await api('GET', '/v1/rooms', { token: roomAdmin })).status).toBe(403);
    expect((await api('GET', `/v1/rooms/${room}`, { token: await adminToken() })).status).toBe(200);
  });

  it('answers 500 MISCONFIGURED when BUS_SECRET is missing', async () => {
    const app = createApp();
    const request = new Request('https://bus.test/v1/rooms', { headers: { authorization: `Bearer ${await adminToken()}` } });
    const response = await app.fetch(request, { ...env, BUS_SECRET: undefined }, createExecutionContext());
    expect(response.status).toBe(500);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('MISCONFIGURED');
    expect(body.error.message).toContain('.dev.vars');
  });
});

describe('messages over HTTP', () => {
  it('connects, sends as the token agent, fetches, acks and reports the room', async () => {
    const room = freshRoom();
    const { alice, bob } = await join(room, 'alice', 'bob');
    const sent = await api('POST', `/v1/rooms/${room}/messages`, { token: alice, body: { content: { text: 'hi' } } });
    expect(sent.status).toBe(201);
    expect(sent.json).toMatchObject({ id: 1, room, sender: 'alice', content: { text: 'hi' }, recipients: ['bob'] });
    const fetched = await api('GET', `/v1/rooms/${room}/messages?agent=bob&after=0&limit=10`, { token: bob });
    expect(fetched.json.messages.map((m: { id: number }) => m.id)).toEqual([1]);
    expect((await api('POST', `/v1/rooms/${room}/agents/bob/ack`, { token: bob, body: { upTo: 1 } })).json).toEqual({
      agent: 'bob',
      cursor: 1,
    });
    expect((await api('GET', `/v1/rooms/${room}/messages`, { token: bob })).json.messages).toEqual([]);
    const view = await api('GET', `/v1/rooms/${room}`, { token: await adminToken() });
    expect(view.json).toMatchObject({ room, routing: 'broadcast', lastId: 1 });
    expect(view.json.members.map((m: { id: string; cursor: number; sentCount: number }) => [m.id, m.cursor, m.sentCount])).toEqual([
      ['alice', 0, 1],
      ['bob', 1, 0],
    ]);
    const history = await api('GET', `/v1/rooms/${room}/history?after=0`, { token: await adminToken() });
    expect(history.json.messages).toHaveLength(1);
    const rooms = await api('GET', '/v1/rooms', { token: await adminToken() });
    expect(rooms.json.rooms.find((r: { room: string }) => r.room === room)).toMatchObject({ members: 2, online: 2, lastId: 1 });
  });

  it('an idempotency key stores a retried send once', async () => {
    const room = freshRoom();
    const { alice } = await join(room, 'alice', 'bob');
    const body = { content: 'once', idempotencyKey: 'k-1' };
    const first = await api('POST', `/v1/rooms/${room}/messages`, { token: alice, body });
    const again = await api('POST', `/v1/rooms/${room}/messages`, { token: alice, body });
    expect(again.json).toEqual(first.json);
    const history = await api('GET', `/v1/rooms/${room}/history`, { token: await adminToken() });
    expect(history.json.messages).toHaveLength(1);
  });

  it('keeps direct messages private to their recipients', async () => {
    const room = freshRoom();
    const admin = await adminToken();
    expect((await api('PUT', `/v1/rooms/${room}`, { token: admin, body: { routing: 'individual' } })).json).toEqual({
      room,
      routing: 'individual',
    });
    const { alice, bob, carol } = await join(room, 'alice', 'bob', 'carol');
    const dm = await api('POST', `/v1/rooms/${room}/messages`, { token: alice, body: { content: 'secret', recipients: ['bob'] } });
    expect(dm.json.recipients).toEqual(['bob']);
    expect((await api('GET', `/v1/rooms/${room}/messages?agent=bob&after=0`, { token: bob })).json.messages).toHaveLength(1);
    expect((await api('GET', `/v1/rooms/${room}/messages?after=0`, { token: carol })).json.messages).toEqual([]);
    expect((await api('GET', `/v1/rooms/${room}/messages?agent=bob&after=0`, { token: carol })).status).toBe(403);
  });

  it('lets an admin token name the sender (the dashboard composer) and requires it', async () => {
    const room = freshRoom();
    await join(room, 'alice', 'bob');
    const admin = await adminToken();
    const sent = await api('POST', `/v1/rooms/${room}/messages`, {
      token: admin,
      body: { content: 'from the dashboard', sender: 'alice' },
    });
    expect(sent).toMatchObject({ status: 201, json: { sender: 'alice' } });
    expect((await api('POST', `/v1/rooms/${room}/messages`, { token: admin, body: { content: 'x' } })).status).toBe(400);
  });

  it('maps bus errors to their statuses and changes nothing', async () => {
    const room = freshRoom();
    const admin = await adminToken();
    await api('PUT', `/v1/rooms/${room}`, { token: admin, body: { routing: 'individual' } });
    const { alice } = await join(room, 'alice', 'bob');
    const ghost = await token('ghost', room);
    const send = (tok: string, body: unknown) => api('POST', `/v1/rooms/${room}/messages`, { token: tok, body });
    expect((await send(alice, '{"content": ')).json.error.code).toBe('INVALID_MESSAGE');
    expect((await send(alice, '[1,2]')).status).toBe(400);
    expect(await send(alice, { content: 'x', recipients: ['nobody'] })).toMatchObject({
      status: 400,
      json: { error: { code: 'UNKNOWN_RECIPIENT' } },
    });
    expect(await send(alice, { recipients: ['bob'] })).toMatchObject({ status: 400, json: { error: { code: 'INVALID_MESSAGE' } } });
    expect(await send(ghost, { content: 'x', recipients: ['bob'] })).toMatchObject({
      status: 404,
      json: { error: { code: 'UNKNOWN_AGENT' } },
    });
    await api('POST', `/v1/rooms/${room}/agents/alice/disconnect`, { token: alice });
    expect(await send(alice, { content: 'x', recipients: ['bob'] })).toMatchObject({
      status: 409,
      json: { error: { code: 'AGENT_OFFLINE' } },
    });
    expect((await api('GET', `/v1/rooms/${room}/messages?after=-1`, { token: alice })).json.error.code).toBe('INVALID_ARGUMENT');
    expect((await api('GET', `/v1/rooms/${room}/messages?limit=5000`, { token: alice })).json.error.code).toBe('INVALID_ARGUMENT');
    expect((await api('POST', `/v1/rooms/${room}/agents/alice/ack`, { token: alice, body: { upTo: 99 } })).status).toBe(400);
    expect((await api('PUT', `/v1/rooms/${room}`, { token: admin, body: { routing: 'chaos' } })).status).toBe(400);
    expect((await api('POST', `/v1/rooms/bad room/agents/alice/connect`, { token: alice })).status).toBe(400);
    expect(await api('GET', '/v1/nowhere', { token: admin })).toMatchObject({ status: 404, json: { error: { code: 'NOT_FOUND' } } });
    expect((await api('DELETE', `/v1/rooms/${room}/agents/ghost`, { token: admin })).status).toBe(404);
    expect((await api('GET', `/v1/rooms/${room}/history`, { token: admin })).json.messages).toEqual([]);
  });

  it('answers CORS preflights for allowed origins only', async () => {
    const preflight = (origin: string) =>
      api('OPTIONS', '/v1/rooms/x/messages', {
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
      });
    expect((await preflight('https://app.example')).headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
  });
});
