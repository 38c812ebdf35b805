// Where a token may travel (issue 9, defects 6 and 7): the Authorization header on HTTP; on a WebSocket upgrade also
// the `bearer.<jwt>` subprotocol (echoed back) or `?token=`. And only one spelling of a token verifies.
import { describe, expect, it } from 'vitest';
import { adminToken, api, freshRoom, join, messagesOf, openSocket, token } from './helpers.js';

describe('?token= on HTTP routes', () => {
  it('is refused with 401 naming the Authorization header, on sends and /metrics too', async () => {
    const room = freshRoom();
    const { alice } = await join(room, 'alice', 'bob');
    const admin = await adminToken();
    for (const [method, path, tok] of [
      ['POST', `/v1/rooms/${room}/messages?token=${alice}`, alice],
      ['GET', `/v1/rooms/${room}/messages?after=0&token=${alice}`, alice],
      ['GET', `/metrics?token=${admin}`, admin],
      ['GET', `/v1/rooms?token=${admin}`, admin],
      // A non-upgrade request to a socket route is an HTTP request too.
      ['GET', `/v1/rooms/${room}/ws?token=${alice}`, alice],
    ] as const) {
      const res = await api(method, path, { body: method === 'POST' ? { content: 'leaked' } : undefined });
      expect(res.status, `${method} ${path.replace(tok, 'T')}`).toBe(401);
      expect(res.json.error.code).toBe('UNAUTHORIZED');
      expect(res.json.error.message).toContain('Authorization');
    }
    // Even next to a valid header: the token is already in a URL, and clients must learn to stop putting it there.
    const both = await api('GET', `/v1/rooms/${room}/messages?token=${alice}`, { token: alice });
    expect(both.status).toBe(401);
    const history = await api('GET', `/v1/rooms/${room}/history`, { token: admin });
    expect(history.json.messages).toEqual([]);
  });

  it('still works on WebSocket upgrades', async () => {
    const room = freshRoom();
    const { bob } = await join(room, 'alice', 'bob');
    const socket = await openSocket(`/v1/rooms/${room}/ws?agent=bob&token=${bob}`);
    socket.send({ type: 'ping', ref: 'p' });
    await socket.until((f) => f.some((x) => x.ref === 'p'), 'the ping answer');
    expect(socket.frames.find((x) => x.ref === 'p')).toEqual({ type: 'ok', ref: 'p' });
    socket.ws.close(1000);
  });
});

describe('the bearer.<jwt> subprotocol', () => {
  it('authenticates an agent socket and is echoed back', async () => {
    const room = freshRoom();
    const { alice, bob } = await join(room, 'alice', 'bob');
    const offered = `bearer.${bob}`;
    const socket = await openSocket(`/v1/rooms/${room}/ws?agent=bob&after=0`, { 'sec-websocket-protocol': offered });
    expect(socket.protocol).toBe(offered);
    await api('POST', `/v1/rooms/${room}/messages`, { token: alice, body: { content: 'over the subprotocol' } });
    await socket.until((f) => messagesOf(f).length === 1, 'the live message');
    expect(messagesOf(socket.frames)[0]).toMatchObject({ sender: 'alice', content: 'over the subprotocol' });
    socket.ws.close(1000);
  });

  it('authenticates the admin events feed, and picks the bearer entry among other offered protocols', async () => {
    const room = freshRoom();
    await join(room, 'alice');
    const offered = `bearer.${await adminToken()}`;
    const feed = await openSocket(`/v1/rooms/${room}/events?after=0`, { 'sec-websocket-protocol': `chat.v2, ${offered}` });
    expect(feed.protocol).toBe(offered);
    feed.send({ type: 'ping', ref: 1 });
    await feed.until((f) => f.some((x) => x.type === 'ok' && x.ref === 1), 'the ping answer');
    feed.ws.close(1000);
  });

  it('echoes the protocol on a refused socket too, so a browser can read the error frame', async () => {
    const room = freshRoom();
    const { alice } = await join(room, 'alice');
    const forged = `bearer.${await token('alice', room, 'agent', { secret: 'not-the-secret' })}`;
    const refused = await openSocket(`/v1/rooms/${room}/ws?agent=alice`, { 'sec-websocket-protocol': forged });
    expect(refused.protocol).toBe(forged);
    expect((await refused.closed).code).toBe(4401);
    expect(refused.frames[0]).toMatchObject({ type: 'error', error: { code: 'UNAUTHORIZED' } });
    const asBob = await openSocket(`/v1/rooms/${room}/ws?agent=bob`, { 'sec-websocket-protocol': `bearer.${alice}` });
    expect((await asBob.closed).code).toBe(4403);
  });
});

describe('canonical token encoding', () => {
  const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

  /** The same signature bytes, spelled differently: the last character's unused low bits set. */
  function withUnusedBitsSet(jwt: string): string {
    const signature = jwt.split('.')[2] as string;
    // 32 HMAC bytes are 43 characters: the last one carries 2 bits of data and 4 unused bits.
    expect(signature.length % 4).toBe(3);
    const last = B64URL.indexOf(signature.at(-1) as string);
    const variant = B64URL[(last & ~0b11) | ((last & 0b11) ^ 0b01)] as string;
    return `${jwt.slice(0, -1)}${variant}`;
  }

  it('refuses a padded signature and one with non-zero unused bits, while the canonical one works', async () => {
    const room = freshRoom();
    const alice = await token('alice', room);
    const path = `/v1/rooms/${room}/agents/alice/connect`;
    for (const variant of [
      `${alice}=`,
      withUnusedBitsSet(alice),
      `${alice.split('.').slice(0, 2).join('.')}.${`${alice.split('.')[2]}`}==`,
    ]) {
      expect(variant).not.toBe(alice);
      const res = await api('POST', path, { token: variant });
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('UNAUTHORIZED');
    }
    expect((await api('POST', path, { token: alice })).status).toBe(200);
  });
});
