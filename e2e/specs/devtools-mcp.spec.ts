/**
 * The dashboard with an MCP client in the room: the official MCP SDK client joins over the room's Streamable
 * HTTP endpoint, and the agents panel marks it as joined through MCP; its messages flow through the timeline
 * like any other, live.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
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

test.use({ viewport: { width: 1600, height: 1000 } });

let worker: DevWorker;
let api: AdminApi;
let assistant: Client;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  await ensureDevtoolsBuilt();
  worker = await startDevWorker();
  api = new AdminApi(worker.url);
  await api.setRouting('studio', 'broadcast');
  await api.connect('studio', 'human');
  const token = signToken({ sub: 'assistant', room: 'studio', role: 'agent' });
  assistant = new Client({ name: 'ide-assistant', version: '1.0.0' });
  await assistant.connect(
    new StreamableHTTPClientTransport(new URL(`${worker.url}/v1/rooms/studio/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  await assistant.callTool({ name: 'join_room', arguments: {} });
});

test.afterAll(async () => {
  await assistant?.close();
  await worker?.stop();
});

test('agents that joined through MCP are marked, and their messages flow like any other', async ({ page }) => {
  await openDashboard(page, worker.url, { room: 'studio' });
  await expect(page.getByTestId('feed-status')).toHaveAttribute('data-status', 'live');
  await expect(page.getByTestId('agent-row-assistant')).toHaveAttribute('data-online', 'true');
  await expect(page.getByTestId('agent-via-mcp-assistant')).toHaveText('MCP');
  await expect(page.getByTestId('agent-row-human')).toBeVisible();
  await expect(page.getByTestId('agent-via-mcp-human')).toHaveCount(0);

  const result = await assistant.callTool({ name: 'send_message', arguments: { content: { text: 'drafted the release notes' } } });
  const id = (result.structuredContent as { id: number }).id;
  const row = page.locator(`[data-testid="timeline-row"][data-id="${id}"]`);
  await expect(row).toContainText('assistant');
  await expect(row).toContainText('drafted the release notes');
  await api.send('studio', 'human', 'thanks, looks good');
  const reply = await assistant.callTool({ name: 'wait_for_messages', arguments: { timeout_seconds: 10 } });
  expect(reply.structuredContent).toMatchObject({ messages: [{ sender: 'human', content: 'thanks, looks good' }] });
  await expect(page.getByTestId('timeline').getByTestId('timeline-row')).toHaveCount(2);
  // The panel polls the room every 3 s: the MCP agent's send is counted like any other.
  await expect(page.getByTestId('agent-row-assistant').locator('td').last()).toHaveText('1');
  await page.getByTestId('agents-panel').screenshot({ path: screenshotPath('devtools-mcp-agents') });
});
