/**
 * The dashboard under its own security headers (issue 9, defect 2): served by
 * a real `wrangler dev`, it carries a strict CSP, nosniff and no-referrer, and
 * still works under that CSP (rooms, timeline, live feed, flow graph, metrics)
 * with zero CSP violations and no console errors. Its events socket carries
 * the token as the `bearer.<jwt>` subprotocol, never in the URL (defect 6).
 */
import { expect, type Page, test } from '@playwright/test';
import { AdminApi, type DevWorker, ensureDevtoolsBuilt, openDashboard, startDevWorker } from './devtools-fixtures.js';

test.describe.configure({ mode: 'serial' });
test.use({ viewport: { width: 1600, height: 1000 } });

const EXTRA_API = 'https://bus.example.com';
let worker: DevWorker;
let api: AdminApi;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  await ensureDevtoolsBuilt();
  worker = await startDevWorker({ vars: { DEVTOOLS_API_ORIGINS: EXTRA_API } });
  api = new AdminApi(worker.url);
  await api.connect('csp', 'planner', ['leads']);
  await api.connect('csp', 'r1', ['research']);
  await api.setRouting('csp', 'subgroup');
  await api.send('csp', 'planner', 'find sources', ['research']);
});

test.afterAll(async () => {
  await worker?.stop();
});

interface Watch {
  violations: string[];
  errors: string[];
  /** URLs of the WebSockets the page opened. */
  sockets: string[];
}

/** Records CSP violations (the page's own `securitypolicyviolation` events), console errors, page errors and sockets. */
async function watch(page: Page): Promise<Watch> {
  const watched: Watch = { violations: [], errors: [], sockets: [] };
  await page.exposeFunction('reportCspViolation', (line: string) => void watched.violations.push(line));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      const report = (window as unknown as { reportCspViolation: (line: string) => void }).reportCspViolation;
      report(`${event.effectiveDirective} blocked ${event.blockedURI || 'inline'} (${event.sourceFile}:${event.lineNumber})`);
    });
  });
  page.on('console', (message) => {
    if (message.type() === 'error') watched.errors.push(message.text());
  });
  page.on('pageerror', (error) => void watched.errors.push(error.message));
  page.on('websocket', (socket) => void watched.sockets.push(socket.url()));
  return watched;
}

test('the dashboard page carries a strict CSP, nosniff and no-referrer', async ({ page }) => {
  const response = await page.goto(`${worker.url}/devtools/`);
  expect(response?.status()).toBe(200);
  const headers = response?.headers() ?? {};
  const csp = (headers['content-security-policy'] ?? '').split(';').map((d) => d.trim());
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  const connect = csp.find((d) => d.startsWith('connect-src ')) ?? '';
  expect(connect).toContain(worker.url);
  expect(connect).toContain(EXTRA_API);
  expect(csp.some((d) => d.includes("'unsafe-inline'") || d.includes("'unsafe-eval'"))).toBe(false);
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['referrer-policy']).toBe('no-referrer');
});

test('the dashboard works under that CSP with zero violations and no console errors', async ({ page }) => {
  const watched = await watch(page);
  const opened = new Promise<string>((resolve) => page.once('websocket', (socket) => resolve(socket.url())));
  await openDashboard(page, worker.url, { room: 'csp' });
  await expect(page.getByTestId('room-row-csp')).toContainText('subgroup');
  await expect(page.getByTestId('feed-status')).toHaveAttribute('data-status', 'live');
  await expect(page.getByTestId('agent-row-planner')).toBeVisible();
  const timeline = page.getByTestId('timeline');
  await expect(timeline.getByTestId('timeline-row')).toHaveCount(1);

  // Live over the events socket (connect-src), drawn in the flow graph (the library's styles come from the CSS file).
  const sent = await api.send('csp', 'r1', 'two candidates', ['leads']);
  await expect(timeline.locator(`[data-testid="timeline-row"][data-id="${sent.id}"]`)).toContainText('two candidates');
  await expect(page.locator('[data-testid="rf__edge-e:agent:r1->group:leads"]')).toHaveCount(1);
  await expect(page.getByTestId('metrics-panel').getByTestId('chart-messages').locator('polyline')).toHaveCount(1);

  // The token never rides in a socket URL: the worker echoed the bearer subprotocol instead.
  const socketUrl = await opened;
  expect(socketUrl).toContain('/v1/rooms/csp/events');
  expect(socketUrl).not.toContain('token=');
  expect(watched.sockets.length).toBeGreaterThan(0);
  expect(watched.sockets.filter((url) => url.includes('token='))).toEqual([]);

  // Give late reports (fonts, images, styles applied after render) a moment to arrive.
  await page.waitForTimeout(500);
  expect(watched.violations).toEqual([]);
  expect(watched.errors).toEqual([]);

  // The watch itself works and the policy is enforced: an injected inline script is refused and reported.
  await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.inlineRan = true';
    document.head.append(script);
  });
  await expect.poll(() => watched.violations.length).toBe(1);
  expect(watched.violations[0]).toContain('script-src');
  expect(await page.evaluate(() => (window as unknown as { inlineRan?: boolean }).inlineRan)).toBeUndefined();
});
