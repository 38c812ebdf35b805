import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { expect, test } from '@playwright/test';
import { sign } from 'hono/jwt';
import { freePort, ROOT, startWrangler, type WranglerServer } from '../support/wrangler.js';

// The remote client in a real Chromium page served from another origin than the worker (CORS),
// using the browser's own fetch and WebSocket against a real wrangler dev.
let dev: WranglerServer;
let page: { server: Server; url: string };

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html', '.map': 'application/json' };

test.beforeAll(async () => {
  const port = await freePort();
  const pageOrigin = `http://127.0.0.1:${port}`;
  dev = await startWrangler({ vars: { CORS_ORIGINS: pageOrigin, RATE_LIMIT_PER_SECOND: '1000', RATE_LIMIT_BURST: '1000' } });
  // Serves the SDK build as plain ES modules, the way a page would load it from a CDN.
  const server = createServer(async (request, response) => {
    const path = normalize(new URL(request.url ?? '/', pageOrigin).pathname);
    if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>remote client</title>');
      return;
    }
    if (!path.startsWith('/sdk/')) return void response.writeHead(404).end();
    try {
      const body = await readFile(join(ROOT, 'sdk/dist', path.slice('/sdk/'.length)));
      response.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  page = { server, url: pageOrigin };
});

test.afterAll(async () => {
  await dev?.stop();
  await new Promise((resolve) => page?.server.close(resolve));
});

const token = (sub: string, room: string, role = 'agent') =>
  sign({ sub, room, role, exp: Math.floor(Date.now() / 1000) + 3600 }, dev.secret, 'HS256');

test('RemoteMessageBus works in a browser page on another origin', async ({ page: browser }) => {
  const room = `browser-${Date.now().toString(36)}`;
  const alice = await token('alice', room);
  const bob = await token('bob', room);
  await browser.goto(page.url);
  // bob lives in the page: connect, subscribe, and wait for alice's messages.
  await browser.evaluate(
    async ({ url, room, bob }) => {
      // A string variable: the module exists only in the page, not for the type checker.
      const clientModule = '/sdk/client/index.js';
      const { RemoteMessageBus } = await import(clientModule);
      const bus = new RemoteMessageBus({ url, room, token: bob });
      await bus.connectAgent('bob');
      const seen: unknown[] = [];
      const errors: string[] = [];
      bus.subscribe('bob', (m: { content: unknown }) => void seen.push(m.content), {
        after: 0,
        onError: (e: Error) => void errors.push(e.message),
      });
      Object.assign(window, { bus, seen, errors });
    },
    { url: dev.url, room, bob },
  );
  // alice sends from Node over plain HTTP.
  const headers = { authorization: `Bearer ${alice}`, 'content-type': 'application/json' };
  expect((await fetch(`${dev.url}/v1/rooms/${room}/agents/alice/connect`, { method: 'POST', headers })).status).toBe(200);
  for (const content of ['one', 'two', 'three']) {
    const res = await fetch(`${dev.url}/v1/rooms/${room}/messages`, { method: 'POST', headers, body: JSON.stringify({ content }) });
    expect(res.status).toBe(201);
  }
  await expect.poll(() => browser.evaluate(() => (window as unknown as { seen: unknown[] }).seen)).toEqual(['one', 'two', 'three']);
  const result = await browser.evaluate(async () => {
    const coreModule = '/sdk/index.js';
    const { Message } = await import(coreModule);
    const { bus } = window as unknown as {
      bus: { sendMessage(m: unknown): Promise<{ id: number; sender: string }>; connectAgent(a: string): Promise<unknown> };
    };
    const sent = await bus.sendMessage(new Message('bob', 'from the browser'));
    const refused = await bus.connectAgent('alice').then(
      () => null,
      (error: { name: string; code: string }) => ({ name: error.name, code: error.code }),
    );
    return { sent, refused };
  });
  expect(result.sent).toMatchObject({ id: 4, sender: 'bob' });
  expect(result.refused).toEqual({ name: 'MessageBusError', code: 'FORBIDDEN' });
  const fetched = await fetch(`${dev.url}/v1/rooms/${room}/messages?after=0`, { headers });
  const { messages } = (await fetched.json()) as { messages: Array<{ content: unknown }> };
  expect(messages.map((m) => m.content)).toEqual(['from the browser']);
});
