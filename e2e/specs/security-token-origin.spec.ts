/**
 * Issue 9, defect 1: an admin token is never sent to an origin other than the
 * one it was entered for. A listener on another loopback port stands in for
 * `https://evil.example`: it answers like the admin API (with permissive CORS,
 * so a browser would really send it an `Authorization` header if the dashboard
 * tried) and records every HTTP request and WebSocket upgrade. Opening the
 * dashboard with `?api=<listener>` must ask for a token for that origin, showing
 * it plainly, and the listener must never see the admin token: not in an
 * `Authorization` header, not in `?token=`, not in `Sec-WebSocket-Protocol`,
 * not anywhere in a request. Meanwhile the dashboard keeps working against its
 * own origin with the token stored for it.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, type Page, test } from '@playwright/test';
import { AdminApi, adminToken, type DevWorker, ensureDevtoolsBuilt, openDashboard, startDevWorker } from './devtools-fixtures.js';

/** One request the listener received. */
interface Seen {
  kind: 'http' | 'websocket';
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Listener {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  seen: Seen[];
  /** Every credential a request carried, however it carried it. */
  credentials(): string[];
  close(): Promise<void>;
}

/** A stand-in for a foreign API origin that records what it is sent. */
async function startListener(): Promise<Listener> {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      seen.push({ kind: 'http', method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      response.setHeader('access-control-allow-origin', request.headers.origin ?? '*');
      response.setHeader('access-control-allow-headers', 'authorization, content-type');
      response.setHeader('access-control-allow-methods', 'GET, POST, PUT, DELETE, OPTIONS');
      if (request.method === 'OPTIONS') return void response.writeHead(204).end();
      const path = new URL(request.url ?? '/', 'http://listener').pathname;
      const room = { room: 'lobby', policy: 'broadcast', members: [], lastId: 0 };
      if (path === '/metrics') return void response.writeHead(200, { 'content-type': 'text/plain' }).end('');
      const answer = path === '/v1/rooms' ? { rooms: [room] } : path.endsWith('/history') ? { messages: [] } : room;
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  server.on('upgrade', (request, socket) => {
    seen.push({ kind: 'websocket', method: request.method ?? '', url: request.url ?? '', headers: request.headers, body: '' });
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    seen,
    credentials: () =>
      seen.flatMap((request) => {
        const found: string[] = [];
        const authorization = request.headers.authorization;
        if (authorization) found.push(authorization.replace(/^Bearer\s+/i, ''));
        const query = new URL(request.url, 'http://listener').searchParams.get('token');
        if (query) found.push(query);
        for (const protocol of String(request.headers['sec-websocket-protocol'] ?? '').split(',')) {
          if (protocol.trim()) found.push(protocol.trim().replace(/^bearer\./, ''));
        }
        return found;
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test.describe.configure({ mode: 'serial' });
test.use({ viewport: { width: 1400, height: 900 } });

let worker: DevWorker;
let listener: Listener;
const admin = adminToken();

test.beforeAll(async () => {
  test.setTimeout(180_000);
  await ensureDevtoolsBuilt();
  worker = await startDevWorker();
  const api = new AdminApi(worker.url, admin);
  await api.connect('lobby', 'planner');
  await api.connect('lobby', 'coder');
  await api.send('lobby', 'planner', 'hello from the real worker');
  listener = await startListener();
});

test.afterAll(async () => {
  await listener?.close();
  await worker?.stop();
});

/** The dashboard on its own origin: rooms, the timeline and a live feed, with the token stored for that origin. */
async function expectWorkingOnOwnOrigin(page: Page): Promise<void> {
  await expect(page.getByTestId('token-form')).toHaveCount(0);
  await expect(page.getByTestId('room-row-lobby')).toBeVisible();
  await expect(page.getByTestId('timeline')).toContainText('hello from the real worker');
  await expect(page.getByTestId('feed-status')).toHaveAttribute('data-status', 'live');
  await expect(page.getByTestId('error-notice')).toHaveCount(0);
}

/** Waits until the page has made no request for 500 ms, so whatever it was going to send has been sent. */
async function settle(page: Page): Promise<void> {
  await page.waitForLoadState('networkidle');
}

function expectAdminTokenNeverSeen(): void {
  expect(listener.credentials()).not.toContain(admin);
  // However it might travel (a header, a query, a subprotocol, a body), the token's text never reached the listener.
  expect(JSON.stringify(listener.seen)).not.toContain(admin.split('.')[2]);
}

test('a foreign ?api= asks for a token for that origin, and the stored token goes nowhere but its own', async ({ page }) => {
  await test.step('the dashboard works on its own origin and keeps the token', async () => {
    await openDashboard(page, worker.url, { room: 'lobby' });
    await expectWorkingOnOwnOrigin(page);
    // An admin who used the dashboard before tokens were kept per origin has the token under the old key too.
    await page.evaluate((token) => localStorage.setItem('mmb-devtools:token', token), admin);
  });

  await test.step('?api= naming another origin asks for that origin’s token and shows the origin plainly', async () => {
    await page.goto(`${worker.url}/devtools/?api=${encodeURIComponent(`${listener.origin}/`)}&room=lobby`);
    await settle(page);
    expect(listener.credentials()).toEqual([]);
    expectAdminTokenNeverSeen();
    const form = page.getByTestId('token-form');
    await expect(form).toBeVisible();
    await expect(page.getByTestId('token-origin')).toHaveText(listener.origin);
    await expect(form).toContainText('not the origin this dashboard was loaded from');
  });

  await test.step('a ?token= in a link with a foreign ?api= is not taken for that origin either', async () => {
    await page.goto(`${worker.url}/devtools/?api=${encodeURIComponent(listener.origin)}&room=lobby&token=${admin}`);
    await expect(page.getByTestId('token-origin')).toHaveText(listener.origin);
    expect(page.url()).not.toContain('token=');
    await settle(page);
    expect(listener.credentials()).toEqual([]);
    expectAdminTokenNeverSeen();
  });

  await test.step('a token entered for the foreign origin is used only there', async () => {
    await page.getByTestId('token-input').fill('token-for-the-other-origin');
    await page.getByRole('button', { name: 'Use this token' }).click();
    await expect(page.getByTestId('token-form')).toHaveCount(0);
    await settle(page);
    // Whatever reached the listener (a page CSP may stop it all) carried only the token entered for it.
    for (const credential of listener.credentials()) expect(credential).toBe('token-for-the-other-origin');
    expectAdminTokenNeverSeen();
  });

  await test.step('the own origin still has its own token, with or without ?api= naming it', async () => {
    await page.goto(`${worker.url}/devtools/?room=lobby`);
    await expectWorkingOnOwnOrigin(page);
    await page.goto(`${worker.url}/devtools/?api=${encodeURIComponent(worker.url)}&room=lobby`);
    await expectWorkingOnOwnOrigin(page);
    await settle(page);
    expectAdminTokenNeverSeen();
  });
});
