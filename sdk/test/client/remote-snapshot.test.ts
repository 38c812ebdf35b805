// RemoteMessageBus reads its inputs once, at the call, like MessageBus: a caller who changes the content, the
// recipients or the groups after calling sendMessage() or connectAgent() changes neither the request nor any retry
// of it (a retry carries the same idempotency key, so it must carry the same message). Content that cannot be
// serialised is INVALID_MESSAGE before anything is sent. Against a small real HTTP server that records each body.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteMessageBus } from '../../src/client/index.js';
import { MessageBusError } from '../../src/core/errors.js';
import { Message } from '../../src/core/message.js';

let server: Server;
let url: string;
const bodies = new Map<string, string[]>();

beforeAll(async () => {
  server = createServer(async (request, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    const path = request.url ?? '';
    bodies.set(path, [...(bodies.get(path) ?? []), body]);
    const json = (status: number, value: unknown) =>
      response.writeHead(status, { 'content-type': 'application/json', 'retry-after': '0' }).end(JSON.stringify(value));
    // Sends are refused twice (429), so the client retries; everything else is answered at once.
    if (path.endsWith('/messages') && (bodies.get(path)?.length ?? 0) < 3) {
      return json(429, { error: { code: 'RATE_LIMITED', message: 'slow down', retryAfter: 0 } });
    }
    json(path.endsWith('/messages') ? 201 : 200, { id: 1, ...JSON.parse(body || '{}') });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A token from an async function: the client awaits it before its first request, which is where a late change could slip in. */
const slowToken = async () => {
  await new Promise((resolve) => setTimeout(resolve, 5));
  return 't';
};

describe('RemoteMessageBus snapshots its inputs at the call', () => {
  it('every attempt of a retried send carries the message as it was when sendMessage() was called', async () => {
    const bus = new RemoteMessageBus({ url, room: 'snap', token: slowToken, backoff: { initialMs: 1 } });
    const content = { text: 'original', list: [1] };
    const recipients = ['bob'];
    const pending = bus.sendMessage(new Message('alice', content, recipients, { idempotencyKey: 'k1' }));
    content.text = 'changed';
    content.list.push(2);
    recipients.push(...Array.from({ length: 1500 }, (_, i) => `extra${i}`));
    await pending;
    const sent = (bodies.get('/v1/rooms/snap/messages') ?? []).map((body) => JSON.parse(body));
    expect(sent).toHaveLength(3);
    for (const body of sent) {
      expect(body).toEqual({ sender: 'alice', content: { text: 'original', list: [1] }, recipients: ['bob'], idempotencyKey: 'k1' });
    }
  });

  it('groups changed after connectAgent() is called are not sent', async () => {
    const bus = new RemoteMessageBus({ url, room: 'snap', token: slowToken });
    const groups = ['research'];
    const pending = bus.connectAgent('alice', { groups });
    groups.push('leads');
    await pending;
    expect((bodies.get('/v1/rooms/snap/agents/alice/connect') ?? []).map((body) => JSON.parse(body))).toEqual([{ groups: ['research'] }]);
  });

  it('content whose getter throws is INVALID_MESSAGE, and nothing is sent', async () => {
    const bus = new RemoteMessageBus({ url, room: 'getter', token: 't' });
    const content = Object.defineProperty({}, 'x', {
      enumerable: true,
      get: () => {
        throw new Error('trap sprung');
      },
    });
    const error = await bus.sendMessage(new Message('alice', content)).catch((e: unknown) => e);
    expect(MessageBusError.is(error, 'INVALID_MESSAGE')).toBe(true);
    expect(bodies.has('/v1/rooms/getter/messages')).toBe(false);
  });
});
