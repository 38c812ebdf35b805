// README example "Your own worker, with your own routing policy": test/workerd/entry.ts builds a room class with
// createChatRoom({ routing: { 'round-robin': ... } }) exactly as the README does; these tests drive it.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { RoomRpc } from '../../src/contract.js';
import { STATUS } from '../../src/errors.js';
import { adminToken, api, freshRoom, token } from './helpers.js';

// The contract's plain RPC types for the stub (the generated Rpc types are too deep for these checks).
const roomStub = (room: string) => env.CUSTOM_ROOM.get(env.CUSTOM_ROOM.idFromName(room)) as unknown as RoomRpc;

describe('createChatRoom with custom policies', () => {
  it('routes with a custom policy chosen by PUT-style configuration', async () => {
    const room = freshRoom('custom');
    const stub = roomStub(room);
    expect(await stub.configure(room, 'round-robin')).toEqual({ ok: true, value: { room, routing: 'round-robin' } });
    for (const agent of ['a', 'b', 'c']) expect((await stub.connectAgent(room, agent, undefined, '*')).ok).toBe(true);
    const sent = await stub.sendMessage(room, 'b', { content: 'your turn' });
    expect(sent).toMatchObject({ ok: true, value: { recipients: ['c'], routing: { policy: 'round-robin' } } });
    const unknown = await stub.configure(room, 'chaos');
    expect(unknown).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
  });

  it('reports a throwing policy as ROUTING_FAILED (422) and a typed refusal as its own code', async () => {
    const room = freshRoom('custom');
    const stub = roomStub(room);
    await stub.configure(room, 'broken');
    await stub.connectAgent(room, 'a', undefined, '*');
    const failed = await stub.sendMessage(room, 'a', { content: 'x' });
    expect(failed).toMatchObject({ ok: false, error: { code: 'ROUTING_FAILED' } });
    expect(STATUS.ROUTING_FAILED).toBe(422);
    await stub.configure(room, 'picky');
    expect(await stub.sendMessage(room, 'a', { content: 'x' })).toMatchObject({ ok: false, error: { code: 'UNKNOWN_GROUP' } });
  });
});

describe('retention over HTTP', () => {
  it('answers 410 CURSOR_EXPIRED with oldestId once MAX_MESSAGES_PER_ROOM trimmed the history', async () => {
    const room = freshRoom('retention');
    const senders = ['s1', 's2', 's3', 's4', 's5'];
    const tokens: Record<string, string> = {};
    for (const agent of [...senders, 'reader']) {
      tokens[agent] = await token(agent, room);
      expect((await api('POST', `/v1/rooms/${room}/agents/${agent}/connect`, { token: tokens[agent] })).status).toBe(200);
    }
    // 5 senders × 5 (the test rate-limit burst) = 25 messages; the room keeps 20.
    for (const sender of senders) {
      for (let i = 0; i < 5; i++) {
        expect((await api('POST', `/v1/rooms/${room}/messages`, { token: tokens[sender], body: { content: i } })).status).toBe(201);
      }
    }
    const expired = await api('GET', `/v1/rooms/${room}/messages?after=0`, { token: tokens.reader });
    expect(expired).toMatchObject({ status: 410, json: { error: { code: 'CURSOR_EXPIRED', oldestId: 6 } } });
    const fromOldest = await api('GET', `/v1/rooms/${room}/messages?after=5`, { token: tokens.reader });
    expect(fromOldest.json.messages.map((m: { id: number }) => m.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 6));
    const view = await api('GET', `/v1/rooms/${room}`, { token: await adminToken() });
    expect(view.json).toMatchObject({ lastId: 25, oldestId: 6 });
  });
});
