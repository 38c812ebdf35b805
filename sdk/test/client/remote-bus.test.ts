import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteMessageBus } from '../../src/client/index.js';
import { MessageBusError } from '../../src/core/errors.js';
import { Message } from '../../src/core/message.js';

// The client against a small real HTTP server that answers like the worker; the full client/worker
// round trip runs against wrangler dev in worker/test/e2e.
let server: Server;
let url: string;
const seen: Array<{ method: string; path: string; auth: string | undefined; body: string }> = [];
let attempts = 0;

beforeAll(async () => {
  server = createServer(async (request: IncomingMessage, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    seen.push({ method: request.method ?? '', path: request.url ?? '', auth: request.headers.authorization, body });
    const json = (status: number, value: unknown, headers: Record<string, string> = {}) =>
      response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(value));
    if (request.url?.startsWith('/v1/rooms/limited/messages')) {
      attempts++;
      if (attempts < 3) return json(429, { error: { code: 'RATE_LIMITED', message: 'slow down', retryAfter: 0 } }, { 'retry-after': '0' });
      return json(201, { id: 1, room: 'limited', sender: 'alice', content: JSON.parse(body).content });
    }
    if (request.url?.startsWith('/v1/rooms/lobby/messages')) {
      return json(409, { error: { code: 'AGENT_OFFLINE', message: 'connect first' } });
    }
    if (request.url?.startsWith('/v1/rooms/lobby/agents/alice/ack')) return json(200, { agent: 'alice', cursor: 7 });
    if (request.url === '/v1/rooms/lobby/agents/alice/groups/research') {
      return request.method === 'PUT'
        ? json(200, { agent: 'alice', groups: ['leads', 'research'] })
        : json(403, { error: { code: 'FORBIDDEN', message: 'not in the groups claim' } });
    }
    if (request.url?.startsWith('/v1/rooms/html'))
      return response.writeHead(502, { 'content-type': 'text/html' }).end('<h1>bad gateway</h1>');
    json(404, { error: { code: 'NOT_FOUND', message: 'no such route' } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('RemoteMessageBus', () => {
  it('validates its options with typed errors', () => {
    expect(() => new RemoteMessageBus({ url: 'ftp://x', room: 'lobby', token: 't' })).toThrow(MessageBusError);
    expect(() => new RemoteMessageBus({ url, room: 'bad room', token: 't' })).toThrow(/room/);
    const bus = new RemoteMessageBus({ url, room: 'lobby', token: 't', WebSocket: undefined });
    // Node 20 has no global WebSocket: subscribe says how to inject one.
    if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined') {
      expect(() => bus.subscribe('alice', () => {})).toThrow(/pass \{ WebSocket \}/);
    }
  });

  it('turns the server JSON error into a MessageBusError with its code', async () => {
    const bus = new RemoteMessageBus({ url, room: 'lobby', token: () => 'token-from-a-function' });
    const error = await bus.sendMessage(new Message('alice', 'hi')).catch((e: unknown) => e);
    expect(MessageBusError.is(error, 'AGENT_OFFLINE')).toBe(true);
    expect((error as Error).message).toBe('connect first');
    expect(await bus.ackMessages('alice', 7)).toBe(7);
    const last = seen.at(-1);
    expect(last).toMatchObject({ method: 'POST', path: '/v1/rooms/lobby/agents/alice/ack', auth: 'Bearer token-from-a-function' });
    expect(JSON.parse(last?.body ?? '{}')).toEqual({ upTo: 7 });
  });

  it('joins with PUT and leaves with DELETE on the group route, with the server codes', async () => {
    const bus = new RemoteMessageBus({ url, room: 'lobby', token: 't' });
    expect(await bus.joinGroup('alice', 'research')).toEqual(['leads', 'research']);
    expect(seen.at(-1)).toMatchObject({ method: 'PUT', path: '/v1/rooms/lobby/agents/alice/groups/research', auth: 'Bearer t' });
    await expect(bus.leaveGroup('alice', 'research')).rejects.toMatchObject({ name: 'MessageBusError', code: 'FORBIDDEN' });
    expect(seen.at(-1)).toMatchObject({ method: 'DELETE', path: '/v1/rooms/lobby/agents/alice/groups/research' });
    await expect(bus.joinGroup('alice', 'bad group')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('retries RATE_LIMITED sends with the same idempotency key', async () => {
    const bus = new RemoteMessageBus({ url, room: 'limited', token: 't', backoff: { initialMs: 1 } });
    const stored = await bus.sendMessage(new Message('alice', 'persist'));
    expect(stored.id).toBe(1);
    const keys = seen.filter((s) => s.path === '/v1/rooms/limited/messages').map((s) => JSON.parse(s.body).idempotencyKey);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(typeof keys[0]).toBe('string');
  });

  it('reports an unreachable server or a non-JSON answer as STORAGE_FAILURE, and CLOSED after close', async () => {
    const down = new RemoteMessageBus({ url: 'http://127.0.0.1:9', room: 'lobby', token: 't', retries: 0 });
    await expect(down.fetchMessages('alice')).rejects.toMatchObject({ code: 'STORAGE_FAILURE' });
    const html = new RemoteMessageBus({ url, room: 'html', token: 't' });
    await expect(html.fetchMessages('alice')).rejects.toMatchObject({ code: 'STORAGE_FAILURE', message: expect.stringContaining('502') });
    await html.close();
    await expect(html.fetchMessages('alice')).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
