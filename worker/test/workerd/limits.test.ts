import { describe, expect, it } from 'vitest';
import { adminToken, api, freshRoom, join, openSocket, token } from './helpers.js';

// vitest.config.ts lowers the limits: 5 msgs/s (burst 5), 4 KiB bodies, 1 KiB content, 4 sockets, 6 members per room.

async function limitCount(room: string, limit: string): Promise<number> {
  const text = (await api('GET', '/metrics', { token: await adminToken() })).json as string;
  const line = text.split('\n').find((l) => l.startsWith(`mmb_limit_rejections_total{room="${room}",limit="${limit}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('limits', () => {
  it('refuses content over MAX_CONTENT_BYTES with 413 and counts it', async () => {
    const room = freshRoom();
    const { alice } = await join(room, 'alice', 'bob');
    const res = await api('POST', `/v1/rooms/${room}/messages`, { token: alice, body: { content: 'x'.repeat(2000) } });
    expect(res).toMatchObject({ status: 413, json: { error: { code: 'CONTENT_TOO_LARGE' } } });
    expect(await limitCount(room, 'content')).toBe(1);
    expect((await api('GET', `/v1/rooms/${room}/history`, { token: await adminToken() })).json.messages).toEqual([]);
  });

  it('refuses a body over MAX_BODY_BYTES with 413 and counts it', async () => {
    const room = freshRoom();
    const { alice } = await join(room, 'alice', 'bob');
    const res = await api('POST', `/v1/rooms/${room}/messages`, { token: alice, body: { content: 'x', pad: 'y'.repeat(5000) } });
    expect(res).toMatchObject({ status: 413, json: { error: { code: 'CONTENT_TOO_LARGE' } } });
    // The worker counts it in the room object after answering (waitUntil): poll for it.
    const deadline = Date.now() + 5000;
    while ((await limitCount(room, 'body')) === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await limitCount(room, 'body')).toBe(1);
  });

  it('rate-limits each agent with 429 and Retry-After, not the others', async () => {
    const room = freshRoom();
    const { alice, bob } = await join(room, 'alice', 'bob');
    // Sent at once, so the bucket cannot refill between them even on a slow machine.
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => api('POST', `/v1/rooms/${room}/messages`, { token: alice, body: { content: i } })),
    );
    const statuses = results.map((res) => res.status);
    const limited = results.find((res) => res.status === 429);
    expect(limited?.json.error.code).toBe('RATE_LIMITED');
    const retryAfter = limited?.headers.get('retry-after') ?? null;
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(5);
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await api('POST', `/v1/rooms/${room}/messages`, { token: bob, body: { content: 'bob is fine' } })).status).toBe(201);
    expect(await limitCount(room, 'rate')).toBeGreaterThanOrEqual(1);
  });

  it('refuses members over MAX_MEMBERS_PER_ROOM with 409 ROOM_FULL', async () => {
    const room = freshRoom();
    await join(room, 'a1', 'a2', 'a3', 'a4', 'a5', 'a6');
    const res = await api('POST', `/v1/rooms/${room}/agents/a7/connect`, { token: await token('a7', room) });
    expect(res).toMatchObject({ status: 409, json: { error: { code: 'ROOM_FULL' } } });
    // A member reconnecting is not a new member.
    expect((await api('POST', `/v1/rooms/${room}/agents/a1/connect`, { token: await token('a1', room) })).status).toBe(200);
    expect(await limitCount(room, 'members')).toBe(1);
  });

  it('refuses sockets over MAX_SOCKETS_PER_ROOM with an error frame and close code 4409', async () => {
    const room = freshRoom();
    const { alice } = await join(room, 'alice');
    const sockets = [];
    for (let i = 0; i < 4; i++) sockets.push(await openSocket(`/v1/rooms/${room}/ws?agent=alice&token=${alice}`));
    const extra = await openSocket(`/v1/rooms/${room}/ws?agent=alice&token=${alice}`);
    expect((await extra.closed).code).toBe(4409);
    expect(extra.frames[0]).toMatchObject({ type: 'error', error: { code: 'ROOM_FULL' } });
    expect(await limitCount(room, 'sockets')).toBe(1);
    for (const s of sockets) s.ws.close(1000);
  });
});
