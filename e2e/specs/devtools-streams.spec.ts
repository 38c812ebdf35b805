/**
 * Streams in the dashboard against a real `wrangler dev`: an agent (a
 * RemoteMessageBus with its own agent token) streams a reply, and the
 * timeline shows it growing with a "streaming" badge, its sender and
 * recipients; the inspector shows its text as it grows; the flow graph marks
 * the sender → recipient edge while it streams; the stored message takes its
 * place when it ends; an aborted stream is shown as aborted. Screenshots go
 * to e2e/screenshots/.
 */
import { expect, type Page, test } from '@playwright/test';
import { Message } from 'modular-message-bus-library';
import { RemoteMessageBus, type RemoteMessageStream, type WebSocketConstructorLike } from 'modular-message-bus-library/client';
import { WebSocket } from 'undici';
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

const ROOM = 'studio';
let worker: DevWorker;
let writer: RemoteMessageBus;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  await ensureDevtoolsBuilt();
  worker = await startDevWorker({ vars: { STREAM_IDLE_MS: '60000' } });
  const api = new AdminApi(worker.url);
  for (const agent of ['writer', 'critic', 'planner']) await api.connect(ROOM, agent);
  await api.setRouting(ROOM, 'addressed');
  await api.send(ROOM, 'planner', 'kick-off: draft the summary', ['writer']);
  writer = new RemoteMessageBus({
    url: worker.url,
    room: ROOM,
    token: signToken({ sub: 'writer', room: ROOM, role: 'agent' }),
    WebSocket: WebSocket as unknown as WebSocketConstructorLike,
  });
});

test.afterAll(async () => {
  await writer?.close();
  await worker?.stop();
});

async function openStudio(page: Page): Promise<void> {
  await openDashboard(page, worker.url, { room: ROOM });
  await expect(page.getByTestId('feed-status')).toHaveAttribute('data-status', 'live');
  await expect(page.getByTestId('agent-row-writer')).toBeVisible();
}

/** Writes `words` one by one at a few dozen tokens a second, as a model would. */
async function speak(stream: RemoteMessageStream, words: readonly string[], perSecond = 30): Promise<void> {
  for (const word of words) {
    stream.write(word);
    await new Promise((resolve) => setTimeout(resolve, 1000 / perSecond));
  }
}

const WORDS = 'The summary, in three parts: what changed, why it matters, and what to do next. '.split(/(?<= )/);

test('a stream grows live in the timeline and the inspector, marked on the flow graph, then becomes its stored message', async ({
  page,
}) => {
  await openStudio(page);
  const stream = await writer.stream(new Message('writer', '', ['critic'], { inReplyTo: 1, metadata: { kind: 'answer' } }));
  await speak(stream, WORDS.slice(0, 6));
  const row = page.locator(`[data-testid="stream-row"][data-stream-id="${stream.id}"]`);
  await expect(row).toBeVisible();
  await expect(row).toHaveAttribute('data-status', 'streaming');
  await expect(row.getByTestId('stream-badge')).toHaveText('streaming');
  await expect(row).toContainText('writer → critic');
  await expect(row.getByTestId('stream-text')).toContainText('The summary,');
  await row.click();
  const inspector = page.getByTestId('inspector');
  await expect(inspector.getByTestId('inspector-stream-status')).toHaveText('streaming');
  await expect(inspector.getByTestId('inspector-sender')).toHaveText('writer');
  await expect(inspector.getByTestId('inspector-recipients')).toContainText('critic');
  const edge = page.locator(`[data-testid="rf__edge-s:${stream.id}->critic"]`);
  await expect(edge).toHaveCount(1);
  await expect(edge).toHaveClass(/streaming/);
  // The text keeps growing while the agent writes.
  const before = (await inspector.getByTestId('inspector-stream-text').textContent()) ?? '';
  await speak(stream, WORDS.slice(6, 12));
  await expect
    .poll(async () => ((await inspector.getByTestId('inspector-stream-text').textContent()) ?? '').length)
    .toBeGreaterThan(before.length);
  await page.screenshot({ path: screenshotPath('devtools-streams'), fullPage: false });
  await speak(stream, WORDS.slice(12));
  const stored = await stream.end();
  // The stream's row gives way to its stored message, which the inspector now shows.
  await expect(row).toHaveCount(0);
  await expect(page.locator(`[data-testid="timeline-row"][data-id="${stored.id}"]`)).toBeVisible();
  await expect(inspector).toContainText(`#${stored.id}`);
  await expect(inspector.getByTestId('inspector-content')).toContainText('what to do next');
  await expect(edge).toHaveCount(0);
});

test('an aborted stream is shown as aborted, with its reason', async ({ page }) => {
  await openStudio(page);
  const stream = await writer.stream(new Message('writer', '', ['planner']));
  await speak(stream, WORDS.slice(0, 4));
  const row = page.locator(`[data-testid="stream-row"][data-stream-id="${stream.id}"]`);
  await expect(row).toHaveAttribute('data-status', 'streaming');
  await stream.abort('model error');
  await expect(row).toHaveAttribute('data-status', 'aborted');
  await expect(row.getByTestId('stream-badge')).toHaveText('aborted · model error');
  await row.click();
  await expect(page.getByTestId('inspector').getByTestId('inspector-stream-status')).toContainText('aborted');
  await page.screenshot({ path: screenshotPath('devtools-streams-aborted'), fullPage: false });
});
