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
    // An addressed room: everyone when no recipients are named, direct when they are (ask_agent names them).
    const admin = await tokenFor(dev.secret, 'admin', '*', 'admin');
    const configured = await fetch(`${dev.url}/v1/rooms/${room}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ routing: 'addressed' }),
    });
    expect(configured.status).toBe(200);
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
    // ask_agent over RemoteMessageBus.request: the IDE agent answers the question it waited for.
    const asking = tool(desk, 'ask_agent', { content: 'ready to ship?', recipients: ['ide'], timeout_seconds: 20 });
    const incoming = await tool(ide, 'wait_for_messages', { after: 2, timeout_seconds: 20 });
    const [question] = (incoming.structuredContent as { messages: Array<{ id: number }> }).messages;
    await tool(ide, 'send_message', { content: 'ship it', recipients: ['desk'], in_reply_to: question?.id });
    const answered = await asking;
    expect(answered.isError, JSON.stringify(answered.content)).toBeUndefined();
    expect(answered.structuredContent).toMatchObject({ reply: { sender: 'ide', content: 'ship it', inReplyTo: question?.id } });
    expect((await tool(desk, 'ack_messages', { up_to: 1 })).structuredContent).toEqual({ cursor: 1 });
    expect((await tool(desk, 'leave_room')).structuredContent).toEqual({ left: true });
  });
});
