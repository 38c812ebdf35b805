/**
 * The dashboard's failure states, each shown plainly with what to do: a wrong
 * token, a token that is not an admin's, a room that does not exist, and a
 * worker that goes down and comes back (the live feed reconnects and resumes).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import {
  AdminApi,
  type DevWorker,
  ensureDevtoolsBuilt,
  openDashboard,
  screenshotPath,
  signToken,
  startDevWorker,
} from './devtools-fixtures.js';

test.describe.configure({ mode: 'serial' });
test.use({ viewport: { width: 1600, height: 1000 } });

let worker: DevWorker;
let api: AdminApi;
// Our own state folder, so stopping the worker for an outage keeps its rooms for the restart.
const state = mkdtempSync(join(tmpdir(), 'mmb-devtools-outage-'));

test.beforeAll(async () => {
  test.setTimeout(180_000);
  await ensureDevtoolsBuilt();
  worker = await startDevWorker({ persistTo: state });
  api = new AdminApi(worker.url);
  await api.connect('ops', 'watcher');
  await api.connect('ops', 'pager');
  await api.send('ops', 'watcher', 'all quiet');
});

test.afterAll(async () => {
  await worker?.stop();
  rmSync(state, { recursive: true, force: true });
});

test('a wrong token is refused plainly, and a new one can be pasted', async ({ page }) => {
  await openDashboard(page, worker.url, { token: 'not-a-jwt' });
  const notice = page.getByTestId('error-notice');
  await expect(notice).toHaveAttribute('data-kind', 'unauthorized');
  await expect(notice).toContainText('The admin token was refused');
  await expect(notice).toContainText('npm run -s token -- --admin');
  await page.screenshot({ path: screenshotPath('devtools-wrong-token') });

  await notice.getByRole('button', { name: 'Change token' }).click();
  await page.getByTestId('token-input').fill(signToken({ sub: 'e2e-admin', room: '*', role: 'admin' }));
  await page.getByRole('button', { name: 'Use this token' }).click();
  await expect(page.getByTestId('room-row-ops')).toBeVisible();
  await expect(page.getByTestId('error-notice')).toHaveCount(0);
  // The pasted token is kept: a reload needs no token in the URL.
  await page.goto(`${worker.url}/devtools/?room=ops`);
  await expect(page.getByTestId('timeline')).toContainText('all quiet');
});

test('an agent token is told it is not an admin token', async ({ page }) => {
  await openDashboard(page, worker.url, { token: signToken({ sub: 'watcher', room: 'ops', role: 'agent' }) });
  const notice = page.getByTestId('error-notice').first();
  await expect(notice).toHaveAttribute('data-kind', 'forbidden');
  await expect(notice).toContainText('This token is not an admin token');
});

test('without any token the dashboard asks for one', async ({ page }) => {
  await page.goto(`${worker.url}/devtools/`);
  await expect(page.getByTestId('token-form')).toContainText('npm run -s token -- --admin');
});

test('a room that does not exist says so', async ({ page }) => {
  await openDashboard(page, worker.url, { room: 'no-such-room' });
  const notice = page.getByTestId('error-notice');
  await expect(notice).toHaveAttribute('data-kind', 'not-found');
  await expect(notice).toContainText('Room "no-such-room" does not exist');
  // The rooms that do exist stay listed to pick from.
  await expect(page.getByTestId('room-row-ops')).toBeVisible();
  await page.screenshot({ path: screenshotPath('devtools-unknown-room') });
  await page.getByTestId('room-row-ops').click();
  await expect(page.getByTestId('error-notice')).toHaveCount(0);
  await expect(page.getByTestId('timeline')).toContainText('all quiet');
});

test('a worker that goes down is reported, and the live feed resumes when it is back', async ({ page }) => {
  test.setTimeout(180_000);
  await openDashboard(page, worker.url, { room: 'ops' });
  const status = page.getByTestId('feed-status');
  await expect(status).toHaveAttribute('data-status', 'live');
  const rows = page.getByTestId('timeline').getByTestId('timeline-row');
  const before = await rows.count();

  // The outage: the dev server is stopped (the page keeps running), then started again on the same port and state.
  await worker.stop();
  const notice = page.getByTestId('error-notice');
  await expect(notice).toHaveAttribute('data-kind', 'unreachable', { timeout: 15_000 });
  await expect(notice).toContainText('The worker is not answering');
  await expect(notice).toContainText('npm start');
  await expect(status).toHaveAttribute('data-status', 'reconnecting');
  // What was shown before the outage stays on screen.
  await expect(rows).toHaveCount(before);
  await page.screenshot({ path: screenshotPath('devtools-server-down') });

  worker = await startDevWorker({ persistTo: state, port: worker.port });
  await expect(status).toHaveAttribute('data-status', 'live', { timeout: 30_000 });
  await expect(page.getByTestId('error-notice')).toHaveCount(0, { timeout: 15_000 });
  const sent = await api.send('ops', 'pager', 'back online');
  await expect(page.locator(`[data-testid="timeline-row"][data-id="${sent.id}"]`)).toContainText('back online');
  await expect(rows).toHaveCount(before + 1);
});
