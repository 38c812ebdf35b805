/**
 * The dashboard against a real `wrangler dev`: rooms, agents, timeline, flow
 * graph, inspector, composer, replay and metrics. Each test saves a screenshot
 * to e2e/screenshots/ for the README.
 */
import { expect, type Page, test } from '@playwright/test';
import {
  AdminApi,
  type DevWorker,
  ensureDevtoolsBuilt,
  openDashboard,
  type StoredMessageJson,
  screenshotPath,
  startDevWorker,
} from './devtools-fixtures.js';

test.describe.configure({ mode: 'serial' });
test.use({ viewport: { width: 1600, height: 1000 } });

let worker: DevWorker;
let api: AdminApi;
const seeded: StoredMessageJson[] = [];

test.beforeAll(async () => {
  test.setTimeout(180_000);
  await ensureDevtoolsBuilt();
  worker = await startDevWorker();
  api = new AdminApi(worker.url);
  // lab: subgroup routing, a research subgroup and a build subgroup.
  await api.connect('lab', 'planner', ['leads']);
  await api.connect('lab', 'r1', ['research']);
  await api.connect('lab', 'r2', ['research']);
  await api.connect('lab', 'coder', ['build']);
  await api.connect('lab', 'critic', ['build']);
  await api.setRouting('lab', 'subgroup');
  seeded.push(await api.send('lab', 'planner', { task: 'survey vector databases' }, ['research']));
  seeded.push(await api.send('lab', 'r1', 'three candidates found', ['leads']));
  seeded.push(await api.send('lab', 'coder', 'prototype ready for review', ['build'], 'build-42'));
  // lobby: broadcast; dm: individual.
  for (const agent of ['planner', 'coder', 'critic']) await api.connect('lobby', agent);
  await api.setRouting('lobby', 'broadcast');
  await api.send('lobby', 'planner', 'stand-up in five minutes');
  await api.connect('dm', 'planner');
  await api.connect('dm', 'coder');
  await api.setRouting('dm', 'individual');
  await api.send('dm', 'planner', 'can you pair on the parser?', ['coder']);
});

test.afterAll(async () => {
  await worker?.stop();
});

async function openLab(page: Page): Promise<void> {
  await openDashboard(page, worker.url, { room: 'lab' });
  await expect(page.getByTestId('feed-status')).toHaveAttribute('data-status', 'live');
  // Membership loaded too: the graph needs the groups to draw group edges.
  await expect(page.getByTestId('agent-row-planner')).toBeVisible();
}

test('rooms list shows each room with policy, members, online count and last id, and picks one', async ({ page }) => {
  await openDashboard(page, worker.url);
  const rooms = page.getByTestId('rooms-panel');
  await expect(rooms.getByTestId('room-row-lab')).toContainText('subgroup');
  await expect(rooms.getByTestId('room-row-lobby')).toContainText('broadcast');
  await expect(rooms.getByTestId('room-row-dm')).toContainText('individual');
  const cells = (name: string) => rooms.getByTestId(`room-row-${name}`).locator('td');
  await expect(cells('lab')).toHaveText(['lab', 'subgroup', '5', '5', String(seeded.length), /\d|…/]);
  await expect(cells('dm')).toHaveText(['dm', 'individual', '2', '2', '1', /\d|…/]);
  // The token came from ?token= and was moved to localStorage: the address bar no longer shows it.
  expect(page.url()).not.toContain('token=');

  await rooms.getByTestId('room-row-lobby').click();
  await expect(page).toHaveURL(/room=lobby/);
  await expect(page.getByTestId('timeline').getByTestId('timeline-row')).toHaveCount(1);
  await expect(page.getByTestId('timeline')).toContainText('stand-up in five minutes');
  await page.screenshot({ path: screenshotPath('devtools-rooms') });
});

test('agents panel shows online state, groups, acked cursor, lag and last sent', async ({ page }) => {
  await api.disconnect('lab', 'critic');
  await api.ack('lab', 'r2', 1);
  await openLab(page);
  const agents = page.getByTestId('agents-panel');
  await expect(agents).toContainText('4/5 online');
  await expect(agents.getByTestId('agent-row-critic')).toHaveAttribute('data-online', 'false');
  await expect(agents.getByTestId('agent-row-r1')).toHaveAttribute('data-online', 'true');
  // r1 and r2 received message 1; r2 acknowledged it, r1 did not.
  await expect(agents.getByTestId('agent-row-r1').locator('td')).toHaveText(['r1', 'research', '0', '1', /ago/, '1']);
  await expect(agents.getByTestId('agent-row-r2').locator('td')).toHaveText(['r2', 'research', '1', '0', 'never', '0']);
  await expect(agents.getByTestId('agent-row-coder').locator('td').nth(1)).toHaveText('build');

  // Presence changes arrive over the events feed: reconnecting critic turns it online without a reload.
  await api.connect('lab', 'critic');
  await expect(agents.getByTestId('agent-row-critic')).toHaveAttribute('data-online', 'true');
  await expect(agents).toContainText('5/5 online');
  await page.screenshot({ path: screenshotPath('devtools-agents') });
});

test('a message sent through the API appears live in the timeline and the flow graph', async ({ page }) => {
  await openLab(page);
  const timeline = page.getByTestId('timeline');
  await expect(timeline.getByTestId('timeline-row')).toHaveCount(seeded.length);
  const edge = page.locator('[data-testid="rf__edge-e:agent:r2->group:leads"]');
  await expect(edge).toHaveCount(0);

  const sent = await api.send('lab', 'r2', 'benchmarks attached', ['leads']);
  seeded.push(sent);
  const row = timeline.locator(`[data-testid="timeline-row"][data-id="${sent.id}"]`);
  await expect(row).toContainText('r2 → leads (1)');
  await expect(row).toContainText('benchmarks attached');
  await expect(edge).toHaveCount(1);
  await expect(edge).toHaveAttribute('aria-label', /1 messages \(subgroup\)/);
  await expect(page.locator('[data-testid="rf__node-group:leads"]')).toBeVisible();

  // A second message on the same path thickens the same edge instead of drawing another.
  seeded.push(await api.send('lab', 'r2', 'and the raw numbers', ['leads']));
  await expect(edge).toHaveAttribute('aria-label', /2 messages/);
  await page.screenshot({ path: screenshotPath('devtools-flow') });
});

test('timeline filters by agent, group and text', async ({ page }) => {
  await openLab(page);
  const timeline = page.getByTestId('timeline');
  const rows = timeline.getByTestId('timeline-row');
  await expect(rows).toHaveCount(seeded.length);
  await page.getByTestId('filter-agent').selectOption('coder');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('prototype ready');
  await page.getByTestId('filter-agent').selectOption('');
  await page.getByTestId('filter-group').selectOption('research');
  // Addressed to #research (message 1) or sent by one of its members (r1, r2).
  await expect(rows).toHaveCount(
    seeded.filter((m) => m.sender === 'r1' || m.sender === 'r2' || m.routing.requested?.includes('research')).length,
  );
  await page.getByTestId('filter-group').selectOption('');
  await page.getByTestId('filter-text').fill('VECTOR');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('survey vector databases');
});

test('inspector shows the routing decision of a clicked message', async ({ page }) => {
  await openLab(page);
  const message = seeded[2] as StoredMessageJson;
  await page.locator(`[data-testid="timeline-row"][data-id="${message.id}"]`).click();
  const inspector = page.getByTestId('inspector');
  await expect(inspector).toContainText(`#${message.id}`);
  await expect(inspector.getByTestId('inspector-sender')).toHaveText('coder');
  await expect(inspector.getByTestId('inspector-policy')).toHaveText('subgroup');
  await expect(inspector.getByTestId('inspector-requested')).toHaveText('build');
  await expect(inspector.getByTestId('inspector-recipients')).toHaveText(/^critic\s+\(1\)$/);
  await expect(inspector.getByTestId('inspector-idempotency')).toHaveText('build-42');
  await expect(inspector.getByTestId('inspector-timestamp')).toContainText(new Date(message.timestamp).toISOString());
  await expect(inspector.getByTestId('inspector-excluded')).toContainText('planner');
  await page.screenshot({ path: screenshotPath('devtools-inspector') });
});

test('composer sends as any agent to a group, and shows a refusal plainly', async ({ page }) => {
  await openLab(page);
  await page.getByTestId('composer-sender').selectOption('critic');
  await page.getByTestId('composer-group-build').click();
  await expect(page.getByTestId('composer-recipients')).toHaveValue('build');
  await page.getByTestId('composer-content').fill('{"verdict": "ship it"}');
  await page.getByTestId('composer-idempotency').fill('review-1');
  await page.getByTestId('composer-send').click();
  const result = page.getByTestId('composer-result');
  await expect(result).toContainText('→ 1 recipient(s) by subgroup');
  const id = Number((await result.textContent())?.match(/#(\d+)/)?.[1]);
  expect(id).toBe(seeded.length + 1);
  const row = page.locator(`[data-testid="timeline-row"][data-id="${id}"]`);
  await expect(row).toContainText('critic → build (1)');
  await expect(row).toContainText('{"verdict":"ship it"}');
  // The composer selects what it sent, so the inspector shows where it went.
  await expect(page.getByTestId('inspector-recipients')).toContainText('coder');
  await expect(page.getByTestId('inspector-idempotency')).toHaveText('review-1');
  const history = (await api.request('GET', `/v1/rooms/lab/history?after=${id - 1}`)) as { messages: StoredMessageJson[] };
  expect(history.messages[0]).toMatchObject({ id, sender: 'critic', recipients: ['coder'], idempotencyKey: 'review-1' });
  seeded.push(history.messages[0] as StoredMessageJson);
  await page.screenshot({ path: screenshotPath('devtools-composer') });

  await page.getByTestId('composer-recipients').fill('nobody-here');
  await page.getByTestId('composer-content').fill('lost?');
  await page.getByTestId('composer-send').click();
  await expect(page.getByTestId('composer-error')).toHaveAttribute('data-code', 'UNKNOWN_GROUP');
  await expect(page.getByTestId('composer-error')).toContainText('nobody-here');
  // Nothing was stored by the refused send.
  const after = (await api.request('GET', `/v1/rooms/lab/history?after=${id}`)) as { messages: unknown[] };
  expect(after.messages).toHaveLength(0);
});

test('replay scrubs the history into the timeline and the graph, then returns to live', async ({ page }) => {
  await openLab(page);
  const rows = page.getByTestId('timeline').getByTestId('timeline-row');
  await expect(rows).toHaveCount(seeded.length);
  // While live the scrubber's range follows the feed twice a second: wait until it spans the whole history.
  await expect(page.getByTestId('replay-label')).toContainText(`live · ${seeded.length} messages`);
  const slider = page.getByTestId('replay-slider');
  await slider.fill('1');
  await expect(page.getByTestId('replay-label')).toContainText(`replay 1/${seeded.length}`);
  await expect(rows).toHaveCount(1);
  await expect(page.getByTestId('timeline')).toContainText('survey vector databases');
  // Only the first message's edge exists at this point of the replay.
  await expect(page.locator('[data-testid="rf__edge-e:agent:planner->group:research"]')).toHaveCount(1);
  await expect(page.locator('[data-testid="rf__edge-e:agent:coder->group:build"]')).toHaveCount(0);

  await page.getByTestId('replay-forward').click();
  await page.getByTestId('replay-forward').click();
  await expect(rows).toHaveCount(3);
  await expect(page.locator('[data-testid="rf__edge-e:agent:coder->group:build"]')).toHaveCount(1);
  await page.screenshot({ path: screenshotPath('devtools-replay') });

  // New messages during a replay are kept; "Live" shows them all again.
  seeded.push(await api.send('lab', 'planner', 'wrap up by noon', ['research', 'build']));
  await expect(page.getByTestId('replay-label')).toContainText(`replay 3/${seeded.length}`);
  await page.getByTestId('replay-live').click();
  await expect(rows).toHaveCount(seeded.length);
  await expect(page.getByTestId('replay-label')).toContainText(`live · ${seeded.length} messages`);
});

test('metrics charts show messages/s, deliveries, latency and rejections by code', async ({ page }) => {
  await openLab(page);
  // A few sends while the page scrapes, so the rates are non-zero between two scrapes.
  for (let i = 0; i < 6; i++) {
    seeded.push(await api.send('lab', 'planner', `status ping ${i}`, ['research']));
    await page.waitForTimeout(400);
  }
  const metrics = page.getByTestId('metrics-panel');
  await expect(metrics.getByTestId('chart-messages').locator('polyline')).toHaveCount(1);
  await expect(metrics.getByTestId('chart-deliveries').locator('polyline')).toHaveCount(1);
  await expect(metrics.getByTestId('chart-latency').locator('polyline')).toHaveCount(2);
  await expect(metrics.getByTestId('chart-messages').locator('.chart-axis')).not.toHaveText('0.00 /s');
  // The composer's refused send (previous test) is counted by code.
  await expect(metrics.getByTestId('rejection-totals').locator('li[data-code="UNKNOWN_GROUP"]')).toContainText('1');
  await page.screenshot({ path: screenshotPath('devtools-metrics') });
});
