/**
 * The dashboard's conversation views against a real `wrangler dev`: replies
 * and threads in the inspector and the timeline, reply edges in the flow
 * graph, and the composer answering the selected message and addressing
 * agents and #groups in an `addressed` room. Screenshots go to e2e/screenshots/.
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

interface ConversationMessage extends StoredMessageJson {
  thread: number;
  inReplyTo?: number;
  metadata?: Record<string, unknown>;
}

let worker: DevWorker;
let api: AdminApi;
let question: ConversationMessage;
let answer: ConversationMessage;
let remark: ConversationMessage;

/** A send with the conversation fields (the shared AdminApi.send predates them). */
function say(sender: string, content: unknown, recipients?: string[], extra: { inReplyTo?: number; metadata?: object } = {}) {
  return api.request('POST', '/v1/rooms/crew/messages', {
    sender,
    content,
    ...(recipients ? { recipients } : {}),
    ...extra,
  }) as Promise<ConversationMessage>;
}

test.beforeAll(async () => {
  test.setTimeout(180_000);
  await ensureDevtoolsBuilt();
  worker = await startDevWorker();
  api = new AdminApi(worker.url);
  await api.connect('crew', 'planner', ['leads']);
  await api.connect('crew', 'researcher', ['research']);
  await api.connect('crew', 'coder', ['build']);
  await api.connect('crew', 'critic', ['build']);
  await api.setRouting('crew', 'addressed');
  question = await say('planner', { question: 'which vector store?' }, ['researcher'], { metadata: { kind: 'question' } });
  answer = await say('researcher', 'three candidates, details inside', ['planner', '#build'], {
    inReplyTo: question.id,
    metadata: { kind: 'answer', sources: 3 },
  });
  remark = await say('critic', 'which one is peer-reviewed?', ['researcher'], { inReplyTo: answer.id });
  await say('planner', 'stand-up in five minutes');
  await say('coder', 'build is green', ['#build', 'planner'], { metadata: { kind: 'status' } });
});

test.afterAll(async () => {
  await worker?.stop();
});

async function openCrew(page: Page): Promise<void> {
  await openDashboard(page, worker.url, { room: 'crew' });
  await expect(page.getByTestId('feed-status')).toHaveAttribute('data-status', 'live');
  await expect(page.getByTestId('agent-row-planner')).toBeVisible();
}

const row = (page: Page, id: number) => page.locator(`[data-testid="timeline-row"][data-id="${id}"]`);

test('the inspector shows what a message answers (click to jump), its thread, its replies and its metadata', async ({ page }) => {
  await openCrew(page);
  await row(page, answer.id).click();
  const inspector = page.getByTestId('inspector');
  await expect(inspector).toContainText(`#${answer.id}`);
  await expect(inspector.getByTestId('inspector-parent-link')).toHaveText(`in reply to #${question.id}`);
  await expect(inspector.getByTestId('inspector-thread')).toContainText(`#${question.id}`);
  await expect(inspector.getByTestId('inspector-replies')).toContainText(`#${remark.id}`);
  await expect(inspector.getByTestId('inspector-replies')).toContainText('critic');
  await expect(inspector.getByTestId('inspector-metadata')).toContainText('"kind": "answer"');
  await expect(inspector.getByTestId('inspector-requested')).toHaveText('planner, #build');
  await page.screenshot({ path: screenshotPath('devtools-conversations-inspector') });

  // "in reply to #1" jumps to the question: it is selected in the timeline and shown, with its replies.
  await inspector.getByTestId('inspector-parent-link').click();
  await expect(inspector).toContainText(`Inspector · #${question.id}`);
  await expect(row(page, question.id)).toHaveClass(/selected/);
  await expect(inspector.getByTestId('inspector-in-reply-to')).toContainText('starts a thread');
  await expect(inspector.getByTestId('inspector-replies').getByTestId('inspector-reply')).toHaveText([`#${answer.id}`]);
  // And a reply in the list jumps down again.
  await inspector.getByTestId('inspector-reply').first().click();
  await expect(inspector).toContainText(`Inspector · #${answer.id}`);
});

test('the timeline marks replies and filters by thread', async ({ page }) => {
  await openCrew(page);
  const rows = page.getByTestId('timeline').getByTestId('timeline-row');
  await expect(rows).toHaveCount(5);
  await expect(row(page, answer.id).getByTestId('timeline-reply-mark')).toHaveText(`↩ #${question.id}`);
  await expect(row(page, remark.id).getByTestId('timeline-reply-mark')).toHaveText(`↩ #${answer.id}`);
  await expect(row(page, question.id).getByTestId('timeline-reply-mark')).toHaveCount(0);
  await expect(row(page, answer.id).getByTestId('timeline-kind')).toHaveText('answer');

  await row(page, remark.id).click();
  await page.getByTestId('inspector-filter-thread').click();
  await expect(page.getByTestId('filter-thread')).toHaveValue(String(question.id));
  await expect(rows).toHaveCount(3);
  await expect(rows).toHaveText([/which vector store/, /three candidates/, /peer-reviewed/]);
  await page.screenshot({ path: screenshotPath('devtools-conversations-thread') });

  await page.getByTestId('filter-thread-clear').click();
  await expect(rows).toHaveCount(5);
  await page.getByTestId('filter-thread').fill(String(answer.id));
  await expect(rows).toHaveCount(0); // the answer is not a thread root
});

test('the flow graph pairs a request with its answer: a reply edge back to who asked', async ({ page }) => {
  await openCrew(page);
  const request = page.locator('[data-testid="rf__edge-e:agent:planner->agent:researcher"]');
  const reply = page.locator('[data-testid="rf__edge-r:agent:researcher->agent:planner"]');
  await expect(request).toHaveCount(1);
  await expect(reply).toHaveCount(1);
  await expect(reply).toHaveAttribute('aria-label', /replied to agent:planner: 1 replies/);
  await expect(page.locator('[data-testid="rf__edge-r:agent:critic->agent:researcher"]')).toHaveCount(1);
  // An addressed message to #build is drawn to the group node.
  await expect(page.locator('[data-testid="rf__edge-e:agent:coder->group:build"]')).toHaveCount(1);
  await page.screenshot({ path: screenshotPath('devtools-conversations-flow') });
});

test('the composer replies to the selected message and addresses agents and #groups', async ({ page }) => {
  await openCrew(page);
  await row(page, remark.id).click();
  await page.getByTestId('composer-reply').click();
  await expect(page.getByTestId('composer-replying')).toContainText(`replying to #${remark.id}`);
  await expect(page.getByTestId('composer-sender')).toHaveValue('researcher');
  await expect(page.getByTestId('composer-recipients')).toHaveValue('critic');
  await page.getByTestId('composer-group-leads').click();
  await expect(page.getByTestId('composer-recipients')).toHaveValue('critic, #leads');
  await page.getByTestId('composer-content').fill('the second one');
  await page.getByTestId('composer-metadata').fill('{"kind": "answer"}');
  await page.getByTestId('composer-send').click();
  const result = page.getByTestId('composer-result');
  await expect(result).toContainText(`in reply to #${remark.id}`);
  const id = Number(/#(\d+)/.exec((await result.textContent()) ?? '')?.[1]);
  await expect(row(page, id).getByTestId('timeline-reply-mark')).toHaveText(`↩ #${remark.id}`);
  await expect(page.getByTestId('inspector-recipients')).toContainText('critic, planner');
  await expect(page.getByTestId('inspector-thread')).toContainText(`#${question.id}`);
  await expect(page.getByTestId('inspector-metadata')).toContainText('"kind": "answer"');
  await page.screenshot({ path: screenshotPath('devtools-conversations-composer') });

  // Agents and a #group in one message, without replying.
  await page.getByTestId('composer-sender').selectOption('planner');
  await page.getByTestId('composer-recipients').fill('');
  await page.getByTestId('composer-agent-researcher').click();
  await page.getByTestId('composer-group-build').click();
  await expect(page.getByTestId('composer-recipients')).toHaveValue('researcher, #build');
  await page.getByTestId('composer-content').fill('retro at four');
  await page.getByTestId('composer-metadata').fill('');
  await page.getByTestId('composer-send').click();
  await expect(page.getByTestId('composer-result')).toContainText('3 recipient(s) by addressed');
  await expect(page.getByTestId('inspector-recipients')).toContainText('coder, critic, researcher');

  // A reply to a message the sender never saw is refused, and the refusal is shown plainly.
  await row(page, question.id).click();
  await page.getByTestId('composer-reply').click();
  await page.getByTestId('composer-sender').selectOption('coder');
  await page.getByTestId('composer-content').fill('me neither');
  await page.getByTestId('composer-send').click();
  await expect(page.getByTestId('composer-error')).toHaveAttribute('data-code', 'INVALID_ARGUMENT');
});
