// The stdio command in --url mode (RemoteMessageBus) against a real wrangler dev, talking with an agent on the
// room's Streamable HTTP endpoint: both ways of serving the tool set share one room.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcpClient, tool } from './mcp-support.js';
import { freshRoom, startWrangler, tokenFor, type WranglerServer } from './support.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
let dev: WranglerServer;
const clients: Client[] = [];

beforeAll(async () => {
  dev = await startWrangler({ vars: { RATE_LIMIT_PER_SECOND: '1000', RATE_LIMIT_BURST: '1000' } });
});
afterAll(async () => {
  for (const client of clients) await client.close().catch(() => {});
  await dev?.stop();
});

describe('npx modular-message-bus-library mcp --url', () => {
  it('joins a worker room through RemoteMessageBus and talks with an agent on the HTTP endpoint', async () => {
    const room = freshRoom('mcp-stdio');
    const transport = new StdioClientTransport({
      command: 'npx',
      args: ['modular-message-bus-library', 'mcp', '--url', dev.url, '--room', room, '--token', await tokenFor(dev.secret, 'desk', room)],
      cwd: root,
      stderr: 'pipe',
    });
    const desk = new Client({ name: 'desktop-app', version: '1.0.0' });
    await desk.connect(transport);
    clients.push(desk);
    const ide = await mcpClient(dev.url, room, await tokenFor(dev.secret, 'ide', room), 'ide');
    clients.push(ide);

    expect((await tool(desk, 'join_room')).structuredContent).toEqual({ id: 'desk', groups: [], online: true });
    await tool(ide, 'join_room');
    const waiting = tool(desk, 'wait_for_messages', { timeout_seconds: 20 });
    await new Promise((r) => setTimeout(r, 300));
    await tool(ide, 'send_message', { content: 'from the IDE' });
    expect((await waiting).structuredContent).toMatchObject({ messages: [{ id: 1, sender: 'ide', content: 'from the IDE' }] });

    await tool(desk, 'send_message', { content: { ok: true } });
    expect((await tool(ide, 'wait_for_messages', { timeout_seconds: 10 })).structuredContent).toMatchObject({
      messages: [{ id: 2, sender: 'desk', content: { ok: true } }],
    });
    const agents = await tool(desk, 'list_agents');
    expect(agents.structuredContent).toEqual({
      agents: [
        { id: 'desk', online: true, groups: [], via: 'websocket' },
        { id: 'ide', online: true, groups: [], via: 'mcp' },
      ],
    });
    expect((await tool(desk, 'ack_messages', { up_to: 1 })).structuredContent).toEqual({ cursor: 1 });
    expect((await tool(desk, 'leave_room')).structuredContent).toEqual({ left: true });
  });
});
