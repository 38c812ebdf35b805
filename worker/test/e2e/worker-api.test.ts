// @ts-expect-error: the parser ships no type declarations.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { WebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshRoom, startWrangler, tokenFor, type WranglerServer, waitFor } from './support.js';

// Raw HTTP and WebSocket requests against a real wrangler dev with low limits.
let dev: WranglerServer;
let admin: string;

beforeAll(async () => {
  dev = await startWrangler({
    vars: {
      RATE_LIMIT_PER_SECOND: '3',
      RATE_LIMIT_BURST: '3',
      MAX_BODY_BYTES: '2048',
      MAX_CONTENT_BYTES: '512',
      MAX_SOCKETS_PER_ROOM: '2',
      MAX_MEMBERS_PER_ROOM: '3',
      CORS_ORIGINS: 'http://page.test',
    },
  });
  admin = await tokenFor(dev.secret, 'admin', '*', 'admin');
});
afterAll(async () => {
  await dev?.stop();
});

async function call(method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${dev.url}${path}`, { method, headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await response.text();
  let json: { error?: { code: string } } & Record<string, unknown> = {};
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, code: json.error?.code, json, text, headers: response.headers };
}

function socket(path: string): Promise<{ frames: Array<Record<string, unknown>>; code: number }> {
  return new Promise((resolve) => {
    const frames: Array<Record<string, unknown>> = [];
    const ws = new WebSocket(`${dev.url.replace('http', 'ws')}${path}`);
    ws.onmessage = (event) => void frames.push(JSON.parse(String(event.data)));
    ws.onclose = (event) => resolve({ frames, code: event.code });
  });
}

describe('worker API on wrangler dev', () => {
  it('refuses bad tokens (401), other agents and non-admins (403), and keeps DMs private', async () => {
    const room = freshRoom();
    const alice = await tokenFor(dev.secret, 'alice', room);
    const bob = await tokenFor(dev.secret, 'bob', room);
    const carol = await tokenFor(dev.secret, 'carol', room);
    expect((await call('POST', `/v1/rooms/${room}/agents/alice/connect`)).status).toBe(401);
    expect((await call('POST', `/v1/rooms/${room}/agents/alice/connect`, await tokenFor('nope', 'alice', room))).status).toBe(401);
    expect((await call('POST', `/v1/rooms/${room}/agents/bob/connect`, alice)).status).toBe(403);
    expect((await call('GET', '/v1/rooms', alice)).status).toBe(403);
    expect((await call('GET', '/metrics', alice)).status).toBe(403);
    expect((await call('PUT', `/v1/rooms/${room}`, admin, { routing: 'individual' })).status).toBe(200);
    for (const [agent, token] of [
      ['alice', alice],
      ['bob', bob],
      ['carol', carol],
    ] as const) {
      expect((await call('POST', `/v1/rooms/${room}/agents/${agent}/connect`, token)).status).toBe(200);
    }
    expect((await call('POST', `/v1/rooms/${room}/messages`, alice, { content: 'psst', recipients: ['bob'] })).status).toBe(201);
    expect((await call('GET', `/v1/rooms/${room}/messages?after=0`, bob)).json.messages).toHaveLength(1);
    expect((await call('GET', `/v1/rooms/${room}/messages?after=0`, carol)).json.messages).toEqual([]);
    expect((await call('GET', `/v1/rooms/${room}/messages?agent=bob&after=0`, carol)).status).toBe(403);
    const snooping = await socket(`/v1/rooms/${room}/ws?agent=bob&after=0&token=${carol}`);
    expect(snooping.code).toBe(4403);
    expect(snooping.frames.some((f) => f.type === 'message')).toBe(false);
  });

  it('enforces each limit and rejects malformed input without storing anything', async () => {
    const room = freshRoom();
    const tokens: Record<string, string> = {};
    for (const agent of ['a', 'b', 'c', 'd']) tokens[agent] = await tokenFor(dev.secret, agent, room);
    for (const agent of ['a', 'b', 'c'])
      expect((await call('POST', `/v1/rooms/${room}/agents/${agent}/connect`, tokens[agent])).status).toBe(200);
    expect(await call('POST', `/v1/rooms/${room}/agents/d/connect`, tokens.d)).toMatchObject({ status: 409, code: 'ROOM_FULL' });
    const send = (body: unknown) => call('POST', `/v1/rooms/${room}/messages`, tokens.a, body);
    expect(await send('{"content":')).toMatchObject({ status: 400, code: 'INVALID_MESSAGE' });
    expect(await send({ content: 'x'.repeat(600) })).toMatchObject({ status: 413, code: 'CONTENT_TOO_LARGE' });
    expect(await send({ content: 'x', padding: 'y'.repeat(3000) })).toMatchObject({ status: 413, code: 'CONTENT_TOO_LARGE' });
    // Sent at once, so the bucket cannot refill between them even on a slow machine.
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => send({ content: i })));
    const statuses = results.map((res) => res.status);
    const retryAfter = results.find((res) => res.status === 429)?.headers.get('retry-after') ?? null;
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    const stored = statuses.filter((s) => s === 201).length;
    const history = await call('GET', `/v1/rooms/${room}/history`, admin);
    expect((history.json.messages as unknown[]).length).toBe(stored);
    const open = [new WebSocket(`${dev.url.replace('http', 'ws')}/v1/rooms/${room}/ws?agent=b&token=${tokens.b}`)];
    open.push(new WebSocket(`${dev.url.replace('http', 'ws')}/v1/rooms/${room}/ws?agent=c&token=${tokens.c}`));
    await waitFor(() => open.every((ws) => ws.readyState === 1), 'two open sockets');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const third = await socket(`/v1/rooms/${room}/ws?agent=a&token=${tokens.a}`);
    expect(third.code).toBe(4409);
    expect(third.frames[0]).toMatchObject({ type: 'error', error: { code: 'ROOM_FULL' } });
    for (const ws of open) ws.close();
  });

  it('serves /metrics as one valid Prometheus exposition across rooms, counting limit refusals', async () => {
    const rooms = [freshRoom('m'), freshRoom('m')];
    for (const room of rooms) {
      const a = await tokenFor(dev.secret, 'a', room);
      await call('POST', `/v1/rooms/${room}/agents/a/connect`, a);
      await call('POST', `/v1/rooms/${room}/agents/b/connect`, await tokenFor(dev.secret, 'b', room));
      await call('POST', `/v1/rooms/${room}/messages`, a, { content: 'hello' });
      await call('POST', `/v1/rooms/${room}/messages`, a, { content: 'x'.repeat(600) });
    }
    const res = await call('GET', '/metrics', admin);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const families = parsePrometheusTextFormat(res.text) as Array<{
      name: string;
      type: string;
      metrics: Array<{ labels?: Record<string, string>; value?: string }>;
    }>;
    const names = families.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    const sent = families.find((f) => f.name === 'mmb_messages_sent_total');
    for (const room of rooms) expect(sent?.metrics.find((m) => m.labels?.room === room)?.value).toBe('1');
    const limits = families.find((f) => f.name === 'mmb_limit_rejections_total');
    for (const room of rooms)
      expect(limits?.metrics.find((m) => m.labels?.room === room && m.labels?.limit === 'content')?.value).toBe('1');
    expect(families.find((f) => f.name === 'mmb_send_duration_seconds')?.type).toBe('HISTOGRAM');
  });

  it('answers CORS preflights for the configured origin and serves the devtools path', async () => {
    const preflight = await fetch(`${dev.url}/v1/rooms/x/messages`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://page.test',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://page.test');
    const devtools = await fetch(`${dev.url}/devtools/`);
    // 200 with the dashboard when devtools/dist is built, otherwise a JSON 404 that says how to build it.
    expect([200, 404]).toContain(devtools.status);
    if (devtools.status === 404) expect(((await devtools.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });
});
