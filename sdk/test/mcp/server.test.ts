// The tool set over an in-process MessageBus, driven by the official MCP client through the SDK's linked
// in-memory transports: every tool's input and output contract, the refusals, the inbox resource and presence.
import { readFileSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { InMemoryStorageBackend } from '../../src/backends/index.js';
import { MessageBus } from '../../src/core/bus.js';
import { MessageBusError } from '../../src/core/errors.js';
import { Message } from '../../src/core/message.js';
import type { RoutingPolicy } from '../../src/core/types.js';
import { createMcpServer, MCP_SERVER_VERSION, type McpServerOptions } from '../../src/mcp/index.js';
import { BroadcastRoutingPolicy } from '../../src/routing-policies/broadcast.js';
import { IndividualRoutingPolicy } from '../../src/routing-policies/individual.js';
import { call, connect, textOf, until } from './support.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

function room(policy: RoutingPolicy = new IndividualRoutingPolicy(), maxContentBytes?: number): MessageBus {
  const bus = new MessageBus(new InMemoryStorageBackend(), policy, { room: 'lobby', ...(maxContentBytes ? { maxContentBytes } : {}) });
  open.push(bus);
  return bus;
}

async function agent(bus: MessageBus, id: string, options: Partial<McpServerOptions> = {}): Promise<Client> {
  const client = await connect(createMcpServer(bus, { agent: id, ...options }), id);
  open.push(client);
  return client;
}

describe('createMcpServer', () => {
  it('lists the tools with input and output schemas, and tells the model how to take part', async () => {
    const alice = await agent(room(), 'alice');
    const { tools } = await alice.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'ack_messages',
      'fetch_messages',
      'join_room',
      'leave_room',
      'list_agents',
      'send_message',
      'wait_for_messages',
    ]);
    for (const tool of tools) {
      expect(tool.description?.length).toBeGreaterThan(20);
      expect(tool.outputSchema?.type).toBe('object');
    }
    const send = tools.find((t) => t.name === 'send_message');
    expect(Object.keys(send?.inputSchema.properties ?? {}).sort()).toEqual(['content', 'idempotency_key', 'recipients']);
    expect(send?.inputSchema.required).toEqual(['content']);
    const instructions = alice.getInstructions() ?? '';
    for (const word of ['join_room', 'wait_for_messages', 'ack_messages', 'room://lobby/inbox', '"alice"'])
      expect(instructions).toContain(word);
  });

  it('joins, sends, waits, fetches, acks and lists, with structured results', async () => {
    const bus = room();
    const alice = await agent(bus, 'alice');
    const bob = await agent(bus, 'bob');
    const joined = await call(alice, 'join_room', { groups: ['research'] });
    expect(joined.structuredContent).toEqual({ id: 'alice', groups: ['research'], online: true });
    await call(bob, 'join_room');

    const waiting = call(bob, 'wait_for_messages', { timeout_seconds: 10 });
    const sent = await call(alice, 'send_message', { content: { text: 'hello' }, recipients: ['bob'], idempotency_key: 'k1' });
    expect(sent.isError).toBeUndefined();
    expect(sent.structuredContent).toMatchObject({ id: 1, sender: 'alice', recipients: ['bob'], content: { text: 'hello' } });
    expect(textOf(sent)).toBe('sent #1 alice -> bob: {"text":"hello"}');

    const woken = await waiting;
    expect(woken.structuredContent).toMatchObject({ messages: [{ id: 1, sender: 'alice', content: { text: 'hello' } }] });
    expect(textOf(woken)).toBe('#1 alice -> bob: {"text":"hello"}');

    // A retry with the same idempotency key stores nothing new.
    const again = await call(alice, 'send_message', { content: { text: 'hello' }, recipients: ['bob'], idempotency_key: 'k1' });
    expect(again.structuredContent).toMatchObject({ id: 1 });
    expect((await bus.history()).length).toBe(1);

    expect((await call(bob, 'fetch_messages')).structuredContent).toMatchObject({ messages: [{ id: 1 }] });
    expect((await call(bob, 'ack_messages', { up_to: 1 })).structuredContent).toEqual({ cursor: 1 });
    expect((await call(bob, 'fetch_messages')).structuredContent).toEqual({ messages: [] });
    expect((await call(bob, 'fetch_messages', { after: 0, limit: 1 })).structuredContent).toMatchObject({ messages: [{ id: 1 }] });

    const agents = await call(bob, 'list_agents');
    expect(agents.structuredContent).toEqual({
      agents: [
        { id: 'alice', online: true, groups: ['research'] },
        { id: 'bob', online: true, groups: [] },
      ],
    });
  });

  it('wait_for_messages returns at once when messages are there, and [] at its timeout', async () => {
    const bus = room(new BroadcastRoutingPolicy());
    const alice = await agent(bus, 'alice');
    const bob = await agent(bus, 'bob');
    await call(alice, 'join_room');
    await call(bob, 'join_room');
    expect((await call(bob, 'wait_for_messages', { timeout_seconds: 0 })).structuredContent).toEqual({ messages: [] });
    await call(alice, 'send_message', { content: 'one' });
    await call(alice, 'send_message', { content: 'two' });
    expect((await call(bob, 'wait_for_messages', { timeout_seconds: 5 })).structuredContent).toMatchObject({
      messages: [{ id: 1 }, { id: 2 }],
    });
    // `after` picks up after a given id; the default follows the acked cursor.
    expect((await call(bob, 'wait_for_messages', { after: 1, timeout_seconds: 5 })).structuredContent).toMatchObject({
      messages: [{ id: 2, content: 'two' }],
    });
    await call(bob, 'ack_messages', { up_to: 2 });
    const later = call(bob, 'wait_for_messages', { timeout_seconds: 10 });
    await call(alice, 'send_message', { content: 'three' });
    expect((await later).structuredContent).toMatchObject({ messages: [{ id: 3, content: 'three' }] });
  });

  it('refusals are isError results naming the code and what to do, and store nothing', async () => {
    const bus = room(new IndividualRoutingPolicy(), 100);
    const alice = await agent(bus, 'alice');
    const before = await call(alice, 'send_message', { content: 'hi', recipients: ['bob'] });
    expect(before.isError).toBe(true);
    expect(textOf(before)).toMatch(/^UNKNOWN_AGENT: .*call join_room first/);

    await call(alice, 'join_room');
    const unknown = await call(alice, 'send_message', { content: 'hi', recipients: ['bob'] });
    expect(unknown.isError).toBe(true);
    expect(textOf(unknown)).toBe(
      'UNKNOWN_RECIPIENT: recipient "bob" is not a member of room "lobby"; call list_agents to see who is in the room ({"recipient":"bob"})',
    );

    const wrongType = await call(alice, 'send_message', { content: 42, recipients: ['alice'] });
    expect(wrongType.isError).toBe(true);
    expect(textOf(wrongType)).toContain('INVALID_MESSAGE: content must be a string or a JSON object');

    const misspelt = await call(alice, 'send_message', { content: 'hi', recipient: ['alice'] });
    expect(misspelt.isError).toBe(true);
    expect(textOf(misspelt)).toContain('INVALID_ARGUMENT: send_message has no argument "recipient"');

    const large = await call(alice, 'send_message', { content: 'x'.repeat(200), recipients: ['alice'] });
    expect(large.isError).toBe(true);
    expect(textOf(large)).toMatch(/^CONTENT_TOO_LARGE: .*"limit":100,"size":202/);

    const badCursor = await call(alice, 'fetch_messages', { after: -1 });
    expect(textOf(badCursor)).toContain('INVALID_ARGUMENT: after must be a non-negative integer');
    const longWait = await call(alice, 'wait_for_messages', { timeout_seconds: 56 });
    expect(textOf(longWait)).toContain('INVALID_ARGUMENT: timeout_seconds must be a number from 0 to 55');
    const ackBeyond = await call(alice, 'ack_messages', { up_to: 5 });
    expect(textOf(ackBeyond)).toMatch(/^INVALID_ARGUMENT: cannot ack up to 5/);

    expect(await bus.history()).toEqual([]);
  });

  it('beforeCall can refuse a call, which becomes an isError result', async () => {
    const names: string[] = [];
    const alice = await agent(room(), 'alice', {
      beforeCall: (name) => {
        names.push(name);
        if (name === 'send_message') throw new MessageBusError('RATE_LIMITED', 'too fast', { details: { retryAfter: 2 } });
      },
    });
    await call(alice, 'join_room');
    const refused = await call(alice, 'send_message', { content: 'hi', recipients: ['alice'] });
    expect(textOf(refused)).toBe('RATE_LIMITED: too fast; wait, then call again ({"retryAfter":2})');
    expect(names).toEqual(['join_room', 'send_message']);
  });

  it('leave_room ends the membership', async () => {
    const bus = room();
    const alice = await agent(bus, 'alice');
    await call(alice, 'join_room');
    expect((await call(alice, 'leave_room')).structuredContent).toEqual({ left: true });
    expect(await bus.agents()).toEqual([]);
    expect(textOf(await call(alice, 'fetch_messages'))).toMatch(/^UNKNOWN_AGENT/);
  });

  it('notifies inbox subscribers with notifications/resources/updated, and the resource reads the inbox', async () => {
    const bus = room();
    const alice = await agent(bus, 'alice');
    const bob = await agent(bus, 'bob');
    await call(alice, 'join_room');
    await call(bob, 'join_room');
    const updates: string[] = [];
    bob.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updates.push(n.params.uri);
    });
    const { resources } = await bob.listResources();
    expect(resources.map((r) => r.uri)).toEqual(['room://lobby/inbox']);
    await bob.subscribeResource({ uri: 'room://lobby/inbox' });
    await call(alice, 'send_message', { content: 'ping', recipients: ['bob'] });
    await until(() => updates.length > 0);
    expect(updates[0]).toBe('room://lobby/inbox');
    const read = await bob.readResource({ uri: 'room://lobby/inbox' });
    const first = read.contents[0];
    expect(first && 'text' in first ? JSON.parse(first.text) : undefined).toMatchObject({ messages: [{ id: 1, content: 'ping' }] });
    await expect(bob.subscribeResource({ uri: 'room://elsewhere/inbox' })).rejects.toThrow(/subscribe to room:\/\/lobby\/inbox/);
  });

  it('goes offline after the idle time without a call, and back online at the next call', async () => {
    const bus = room();
    const alice = await agent(bus, 'alice', { idleTimeoutMs: 50 });
    await call(alice, 'join_room');
    await until(async () => (await bus.agents())[0]?.online === false);
    await call(alice, 'fetch_messages');
    expect((await bus.agents())[0]?.online).toBe(true);
  });

  it('closing the session takes the agent offline but keeps it a member', async () => {
    const bus = room();
    const alice = await agent(bus, 'alice');
    await call(alice, 'join_room');
    await alice.close();
    await until(async () => (await bus.agents())[0]?.online === false);
    expect((await bus.agents()).map((a) => a.id)).toEqual(['alice']);
  });

  it('refuses a bad agent id and a missing bus', () => {
    expect(() => createMcpServer(room(), { agent: 'not ok' })).toThrow(/agent id must be/);
    expect(() => createMcpServer(undefined as never, { agent: 'a' })).toThrow(/needs a MessageBus/);
  });

  it('reports the package version as its server version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(MCP_SERVER_VERSION).toBe(pkg.version);
  });

  it('its messages are ordinary bus messages', async () => {
    const bus = room(new BroadcastRoutingPolicy());
    await bus.connectAgent('carol');
    const alice = await agent(bus, 'alice');
    await call(alice, 'join_room');
    await call(alice, 'send_message', { content: 'via mcp' });
    const [received] = await bus.fetchMessages('carol');
    expect(received).toMatchObject({ sender: 'alice', content: 'via mcp', recipients: ['carol'] });
    await bus.sendMessage(new Message('carol', 'back to you'));
    expect((await call(alice, 'fetch_messages')).structuredContent).toMatchObject({
      messages: [{ sender: 'carol', content: 'back to you' }],
    });
  });
});
