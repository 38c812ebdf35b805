// The `mcp` command as MCP clients run it: the SDK's stdio client transport spawns
// `npx modular-message-bus-library mcp --redis ...` (the package's committed bin, which loads the build),
// and two such processes share one room in a real redis-server.
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStorageBackend } from '../../src/backends/redis/index.js';
import { MessageBus } from '../../src/core/bus.js';
import { BroadcastRoutingPolicy } from '../../src/routing-policies/broadcast.js';
import { type RedisServer, startRedis } from '../redis/server.js';
import { call, textOf, until } from './support.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
let redis: RedisServer;
const clients: Client[] = [];

beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(async () => {
  for (const client of clients) await client.close();
  await redis?.dispose();
});

/** An MCP client that spawns the command, as a desktop app or IDE would. */
async function stdioAgent(agent: string, room: string, extra: string[] = []): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: 'npx',
    args: [
      'modular-message-bus-library',
      'mcp',
      '--redis',
      redis.url,
      '--room',
      room,
      '--agent',
      agent,
      '--key-prefix',
      'stdio:',
      ...extra,
    ],
    cwd: root,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const errors: Error[] = [];
  const client = new Client({ name: `${agent}-client`, version: '1.0.0' });
  client.onerror = (error) => errors.push(error);
  await client.connect(transport);
  clients.push(client);
  // Anything on stdout that is not protocol makes the client's reader report an error.
  expect(errors).toEqual([]);
  return { client, stderr: () => stderr };
}

/** Runs the command with bad flags; resolves with its exit code and output. */
function runCommand(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [join(root, 'sdk/bin/modular-message-bus-library.mjs'), ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdin.end();
    child.on('exit', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

describe('npx modular-message-bus-library mcp --redis', () => {
  it("two stdio processes on one Redis room see each other's messages", async () => {
    const alice = await stdioAgent('alice', 'pair');
    const bob = await stdioAgent('bob', 'pair');
    expect((await alice.client.listTools()).tools.map((t) => t.name)).toContain('wait_for_messages');
    expect((await call(alice.client, 'join_room')).structuredContent).toEqual({ id: 'alice', groups: [], online: true });
    await call(bob.client, 'join_room');

    const waiting = call(bob.client, 'wait_for_messages', { timeout_seconds: 20 });
    await new Promise((r) => setTimeout(r, 200)); // bob is waiting before alice sends
    const sent = await call(alice.client, 'send_message', { content: 'hello from another process' });
    const sentAt = Date.now();
    const got = await waiting;
    const latency = Date.now() - sentAt;
    expect(sent.structuredContent).toMatchObject({ id: 1, sender: 'alice', recipients: ['bob'] });
    expect(got.structuredContent).toMatchObject({ messages: [{ id: 1, sender: 'alice', content: 'hello from another process' }] });
    expect(latency).toBeLessThan(1000);

    await call(bob.client, 'send_message', { content: { reply: 'hi alice' } });
    expect((await call(alice.client, 'wait_for_messages', { timeout_seconds: 10 })).structuredContent).toMatchObject({
      messages: [{ id: 2, sender: 'bob', content: { reply: 'hi alice' } }],
    });
    const agents = await call(alice.client, 'list_agents');
    expect(agents.structuredContent).toEqual({
      agents: [
        { id: 'alice', online: true, groups: [] },
        { id: 'bob', online: true, groups: [] },
      ],
    });
    expect(alice.stderr()).toContain('serving room "pair" as agent "alice"');
  }, 60_000);

  it('sends notifications/resources/updated to an inbox subscriber over stdio', async () => {
    const carol = await stdioAgent('carol', 'notify', ['--routing', 'individual']);
    const dave = await stdioAgent('dave', 'notify', ['--routing', 'individual']);
    await call(carol.client, 'join_room');
    await call(dave.client, 'join_room');
    const updates: string[] = [];
    dave.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updates.push(n.params.uri);
    });
    await dave.client.subscribeResource({ uri: 'room://notify/inbox' });
    const refused = await call(carol.client, 'send_message', { content: 'to nobody known', recipients: ['erin'] });
    expect(textOf(refused)).toMatch(/^UNKNOWN_RECIPIENT: recipient "erin" is not a member of room "notify"; call list_agents/);
    await call(carol.client, 'send_message', { content: 'just for dave', recipients: ['dave'] });
    await until(() => updates.length > 0, 5000);
    expect(updates[0]).toBe('room://notify/inbox');
    const read = await dave.client.readResource({ uri: 'room://notify/inbox' });
    const first = read.contents[0];
    expect(first && 'text' in first ? JSON.parse(first.text) : undefined).toMatchObject({
      messages: [{ id: 1, content: 'just for dave' }],
    });
  }, 60_000);

  it('the agent goes offline when its client closes the process, and stays a member', async () => {
    const frank = await stdioAgent('frank', 'bye');
    await call(frank.client, 'join_room');
    const bus = new MessageBus(new RedisStorageBackend({ url: redis.url, keyPrefix: 'stdio:' }), new BroadcastRoutingPolicy(), {
      room: 'bye',
    });
    try {
      expect((await bus.agents()).map((a) => [a.id, a.online])).toEqual([['frank', true]]);
      await frank.client.close();
      await until(async () => (await bus.agents())[0]?.online === false, 10_000);
      expect((await bus.agents()).map((a) => a.id)).toEqual(['frank']);
    } finally {
      await bus.close();
    }
  }, 60_000);

  it('a missing, bad or unknown flag exits non-zero with a message naming it, and nothing on stdout', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['mcp', '--redis', redis.url, '--room', 'r'], /--agent is required with --redis/],
      [['mcp', '--redis', redis.url, '--agent', 'a'], /--room is required/],
      [
        ['mcp', '--redis', redis.url, '--room', 'r', '--agent', 'a', '--routing', 'random'],
        /--routing must be one of broadcast, subgroup, individual; got "random"/,
      ],
      [['mcp', '--redis', redis.url, '--room', 'no spaces', '--agent', 'a'], /--room must be 1-128 letters/],
      [['mcp', '--redis', 'http://x', '--room', 'r', '--agent', 'a'], /--redis must be a redis:\/\/ or rediss:\/\/ URL/],
      [['mcp', '--redis', redis.url, '--room', 'r', '--agent', 'a', '--colour', 'red'], /unknown flag --colour/],
      [['mcp', '--redis', redis.url, '--room', 'r', '--agent'], /--agent needs a value/],
      [['mcp', '--url', 'http://127.0.0.1:1', '--room', 'r'], /--token is required with --url/],
      [['mcp', '--url', 'http://127.0.0.1:1', '--room', 'r', '--token', 'not-a-jwt'], /--token is not a JWT with a "sub" claim/],
      [['mcp', '--url', 'http://127.0.0.1:1', '--room', 'r', '--token', 't', '--agent', 'a'], /--agent applies to --redis only/],
      [['mcp'], /pass --url <worker URL> or --redis <redis URL>/],
      [['serve'], /unknown command "serve"/],
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await runCommand(args);
      expect({ args, code, stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(stderr).toMatch(message);
    }
    const unreachable = await runCommand(['mcp', '--redis', 'redis://127.0.0.1:1', '--room', 'r', '--agent', 'a']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stdout).toBe('');
    expect(unreachable.stderr).toMatch(/cannot open room "r" \(--redis\): .*Redis/);
  }, 60_000);
});
