// Every room is an MCP server: the official MCP SDK client, over its Streamable HTTP transport, against a real
// `wrangler dev` — tools, wake-up, privacy, refusals, limits, CORS, the inbox resource and a restart.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
// @ts-expect-error: the parser ships no type declarations.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcpClient, sessionOf, textOf, tool } from './mcp-support.js';
import { freshRoom, startWrangler, tokenFor, type WranglerServer, waitFor } from './support.js';

let dev: WranglerServer;
let admin: string;
const clients: Client[] = [];

beforeAll(async () => {
  dev = await startWrangler({
    vars: {
      RATE_LIMIT_PER_SECOND: '10',
      RATE_LIMIT_BURST: '30',
      MAX_BODY_BYTES: '16384',
      MAX_CONTENT_BYTES: '2048',
      CORS_ORIGINS: 'http://page.test',
    },
  });
  admin = await tokenFor(dev.secret, 'admin', '*', 'admin');
});
afterAll(async () => {
  for (const client of clients) await client.close().catch(() => {});
  await dev?.stop();
});

async function agent(room: string, id: string, groups?: string[]): Promise<Client> {
  const client = await mcpClient(dev.url, room, await tokenFor(dev.secret, id, room, 'agent', groups ? { groups } : {}), id);
  clients.push(client);
  return client;
}

async function api(method: string, path: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}) {
  const all: Record<string, string> = { ...headers };
  if (token) all.authorization = `Bearer ${token}`;
  if (body !== undefined) all['content-type'] = 'application/json';
  const response = await fetch(`${dev.url}${path}`, { method, headers: all, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await response.text();
  let json: Record<string, unknown> & { error?: { code: string; message: string } } = {};
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, json, text, headers: response.headers };
}

async function individualRoom(): Promise<string> {
  const room = freshRoom('mcp');
  expect((await api('PUT', `/v1/rooms/${room}`, admin, { routing: 'individual' })).status).toBe(200);
  return room;
}

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};
const mcpHeaders = { accept: 'application/json, text/event-stream' };

describe('/v1/rooms/:room/mcp on wrangler dev', () => {
  it("lists the tools; two agents join; one sends and the other's wait_for_messages returns it within 1 s", async () => {
    const room = await individualRoom();
    const alice = await agent(room, 'alice');
    const bob = await agent(room, 'bob', ['team']);
    const names = (await alice.listTools()).tools.map((t) => t.name).sort();
    expect(names).toEqual([
      'ack_messages',
      'fetch_messages',
      'join_room',
      'leave_room',
      'list_agents',
      'send_message',
      'wait_for_messages',
    ]);
    expect(alice.getInstructions()).toContain(`room "${room}"`);
    expect((await tool(alice, 'join_room')).structuredContent).toEqual({ id: 'alice', groups: [], online: true });
    expect((await tool(bob, 'join_room', { groups: ['team'] })).structuredContent).toEqual({ id: 'bob', groups: ['team'], online: true });

    const waiting = tool(bob, 'wait_for_messages', { timeout_seconds: 20 });
    await new Promise((resolve) => setTimeout(resolve, 300)); // bob is waiting before alice sends
    const sent = await tool(alice, 'send_message', { content: { text: 'hello over MCP' }, recipients: ['bob'] });
    const sentAt = Date.now();
    const woken = await waiting;
    const latency = Date.now() - sentAt;
    expect(sent.structuredContent).toMatchObject({ id: 1, sender: 'alice', recipients: ['bob'], routing: { policy: 'individual' } });
    expect(woken.structuredContent).toMatchObject({ messages: [{ id: 1, sender: 'alice', content: { text: 'hello over MCP' } }] });
    expect(latency).toBeLessThan(1000);

    expect((await tool(bob, 'ack_messages', { up_to: 1 })).structuredContent).toEqual({ cursor: 1 });
    expect((await tool(bob, 'fetch_messages')).structuredContent).toEqual({ messages: [] });
    expect((await tool(alice, 'list_agents')).structuredContent).toEqual({
      agents: [
        { id: 'alice', online: true, groups: [], via: 'mcp' },
        { id: 'bob', online: true, groups: ['team'], via: 'mcp' },
      ],
    });
    // The room API reports how each member connected; MCP messages are ordinary messages.
    const view = await api('GET', `/v1/rooms/${room}`, admin);
    expect((view.json.members as Array<{ id: string; via: string; online: boolean }>).map((m) => [m.id, m.via, m.online])).toEqual([
      ['alice', 'mcp', true],
      ['bob', 'mcp', true],
    ]);
    const history = await api('GET', `/v1/rooms/${room}/history`, admin);
    expect(history.json.messages).toEqual([sent.structuredContent]);

    expect((await tool(bob, 'leave_room')).structuredContent).toEqual({ left: true });
    const after = await api('GET', `/v1/rooms/${room}`, admin);
    expect((after.json.members as Array<{ id: string }>).map((m) => m.id)).toEqual(['alice']);
  });

  it('a direct message is invisible to a third agent', async () => {
    const room = await individualRoom();
    const [alice, bob, carol] = [await agent(room, 'alice'), await agent(room, 'bob'), await agent(room, 'carol')];
    for (const client of [alice, bob, carol]) await tool(client, 'join_room');
    await tool(alice, 'send_message', { content: 'only for bob', recipients: ['bob'] });
    expect((await tool(bob, 'fetch_messages')).structuredContent).toMatchObject({ messages: [{ content: 'only for bob' }] });
    expect((await tool(carol, 'fetch_messages', { after: 0 })).structuredContent).toEqual({ messages: [] });
    expect((await tool(carol, 'wait_for_messages', { after: 0, timeout_seconds: 0.5 })).structuredContent).toEqual({ messages: [] });
    const read = await carol.readResource({ uri: `room://${room}/inbox` });
    const first = read.contents[0];
    expect(first && 'text' in first ? JSON.parse(first.text) : undefined).toEqual({ messages: [] });
  });

  it('bad inputs come back as isError results naming the code, and nothing is stored', async () => {
    const room = await individualRoom();
    const alice = await agent(room, 'alice');
    await tool(alice, 'join_room');
    const wrongType = await tool(alice, 'send_message', { content: 7, recipients: ['alice'] });
    expect(wrongType.isError).toBe(true);
    expect(textOf(wrongType)).toContain('INVALID_MESSAGE: content must be a string or a JSON object');
    const unknown = await tool(alice, 'send_message', { content: 'hi', recipients: ['bob'] });
    expect(textOf(unknown)).toMatch(/^UNKNOWN_RECIPIENT: recipient "bob" is not a member of room "mcp-[^"]+"; call list_agents/);
    const oversized = await tool(alice, 'send_message', { content: 'x'.repeat(3000), recipients: ['alice'] });
    expect(textOf(oversized)).toMatch(/^CONTENT_TOO_LARGE: .*"limit":2048/);
    // Groups are an access boundary: a token without a groups claim may not choose them (docs/security.md).
    const grouped = await tool(alice, 'join_room', { groups: ['research'] });
    expect(textOf(grouped)).toMatch(/^FORBIDDEN: this agent token has no groups claim/);
    const misspelt = await tool(alice, 'send_message', { content: 'hi', to: ['alice'] });
    expect(textOf(misspelt)).toContain('INVALID_ARGUMENT: send_message has no argument "to"');
    expect((await api('GET', `/v1/rooms/${room}/history`, admin)).json.messages).toEqual([]);
    const metrics = await api('GET', '/metrics', admin);
    expect(limitCount(metrics.text, room, 'content')).toBe(1);
  });

  it('refuses no token and a forged token (401), and admin, other-room and other-agent tokens (403)', async () => {
    const room = await individualRoom();
    const path = `/v1/rooms/${room}/mcp`;
    expect((await api('POST', path, undefined, initialize, mcpHeaders)).status).toBe(401);
    expect((await api('POST', path, await tokenFor('not-the-secret', 'alice', room), initialize, mcpHeaders)).status).toBe(401);
    const asAdmin = await api('POST', path, admin, initialize, mcpHeaders);
    expect(asAdmin.status).toBe(403);
    expect(asAdmin.json.error?.message).toMatch(/admin token cannot join a room over MCP/);
    const otherRoom = await api('POST', path, await tokenFor(dev.secret, 'alice', 'elsewhere'), initialize, mcpHeaders);
    expect(otherRoom.status).toBe(403);
    expect(otherRoom.json.error?.message).toMatch(/this token is for room "elsewhere"/);
    // A token only in the query string is refused: the agent comes from the Authorization header alone.
    const inQuery = await api('POST', `${path}?token=${await tokenFor(dev.secret, 'alice', room)}`, undefined, initialize, mcpHeaders);
    expect(inQuery.status).toBe(401);

    // Alice's session presented with Bob's token: refused, and ?agent= picks nobody.
    const alice = await agent(room, 'alice');
    await tool(alice, 'join_room');
    const bob = await tokenFor(dev.secret, 'bob', room);
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} };
    const hijack = await api('POST', `${path}?agent=alice`, bob, list, {
      ...mcpHeaders,
      'mcp-session-id': sessionOf(alice),
      'mcp-protocol-version': '2025-06-18',
    });
    expect(hijack.status).toBe(403);
    expect(hijack.json.error?.code).toBe('FORBIDDEN');
    const unknownSession = await api('POST', path, bob, list, { ...mcpHeaders, 'mcp-session-id': 'no-such-session' });
    expect(unknownSession.status).toBe(404);
  });

  it('a body over MAX_BODY_BYTES is 413 and counted; tool calls count against the rate limit', async () => {
    const room = await individualRoom();
    const alice = await agent(room, 'alice');
    await tool(alice, 'join_room');
    const huge = {
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'send_message', arguments: { content: 'y'.repeat(20_000) } },
    };
    const token = await tokenFor(dev.secret, 'alice', room);
    const tooLarge = await api('POST', `/v1/rooms/${room}/mcp`, token, huge, { ...mcpHeaders, 'mcp-session-id': sessionOf(alice) });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.json.error?.code).toBe('CONTENT_TOO_LARGE');

    const results = await Promise.all(Array.from({ length: 45 }, () => tool(alice, 'list_agents')));
    const limited = results.filter((r) => r.isError);
    expect(limited.length).toBeGreaterThan(0);
    expect(textOf(limited[0] as (typeof limited)[number])).toMatch(
      /^RATE_LIMITED: agent "alice" makes more than 10 requests per second.*retry after/,
    );
    const metrics = (await api('GET', '/metrics', admin)).text;
    expect(limitCount(metrics, room, 'body')).toBe(1);
    expect(limitCount(metrics, room, 'rate')).toBe(limited.length);
  });

  it('hostile requests get a 4xx or an isError result, never a 5xx', async () => {
    const room = await individualRoom();
    const alice = await agent(room, 'alice');
    await tool(alice, 'join_room');
    const token = await tokenFor(dev.secret, 'alice', room);
    const path = `/v1/rooms/${room}/mcp`;
    const session = { ...mcpHeaders, 'mcp-session-id': sessionOf(alice), 'mcp-protocol-version': '2025-06-18' };
    const answers = [
      await api('POST', path, token, '{"jsonrpc":"2.0",', session),
      await api('POST', path, token, 'not json at all', { ...session, 'content-type': 'text/plain' }),
      await api('POST', path, token, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'content-type': 'application/json' }),
      await api('GET', path, token, undefined, { accept: 'text/event-stream' }),
      await api('DELETE', path, token),
      await api('PUT', path, token, {}),
      await api(
        'POST',
        path,
        token,
        Array.from({ length: 300 }, (_, id) => ({ jsonrpc: '2.0', id, method: 'ping' })),
        session,
      ),
    ];
    for (const answer of answers) expect(answer.status, answer.text).toBeGreaterThanOrEqual(400);
    for (const answer of answers) expect(answer.status, answer.text).toBeLessThan(500);
    let deep: unknown = 'x';
    for (let i = 0; i < 1500; i++) deep = { d: deep };
    const nested = await tool(alice, 'send_message', { content: deep as Record<string, unknown>, recipients: ['alice'] });
    expect(nested.isError).toBe(true);
    expect(textOf(nested)).toMatch(/^INVALID_MESSAGE: content nests arrays and objects deeper than \d+ levels \(MAX_CONTENT_DEPTH\)/);
    const unknownTool = await alice.callTool({ name: 'drop_database', arguments: {} }).catch((error: Error) => error);
    expect(unknownTool instanceof Error ? unknownTool.message : textOf(unknownTool as never)).toMatch(/drop_database not found/);
    expect((await api('GET', `/v1/rooms/${room}/history`, admin)).json.messages).toEqual([]);
  });

  it('CORS lets browser MCP clients send Mcp-Session-Id and Mcp-Protocol-Version and read Mcp-Session-Id', async () => {
    const room = freshRoom('mcp');
    const preflight = await fetch(`${dev.url}/v1/rooms/${room}/mcp`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://page.test',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, mcp-session-id, mcp-protocol-version',
      },
    });
    const allowed = (preflight.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    for (const header of ['authorization', 'mcp-session-id', 'mcp-protocol-version']) expect(allowed).toContain(header);
    const token = await tokenFor(dev.secret, 'alice', room);
    const opened = await fetch(`${dev.url}/v1/rooms/${room}/mcp`, {
      method: 'POST',
      headers: { ...mcpHeaders, origin: 'http://page.test', authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(initialize),
    });
    await opened.body?.cancel();
    expect(opened.status).toBe(200);
    expect(opened.headers.get('mcp-session-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect((opened.headers.get('access-control-expose-headers') ?? '').toLowerCase()).toContain('mcp-session-id');
  });

  it('sends notifications/resources/updated on the session stream when a message is routed to a subscriber', async () => {
    const room = await individualRoom();
    const alice = await agent(room, 'alice');
    const bob = await agent(room, 'bob');
    await tool(alice, 'join_room');
    await tool(bob, 'join_room');
    const updates: string[] = [];
    bob.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updates.push(n.params.uri);
    });
    await bob.subscribeResource({ uri: `room://${room}/inbox` });
    await tool(alice, 'send_message', { content: 'news', recipients: ['bob'] });
    await waitFor(() => updates.length > 0, 'the resource update');
    expect(updates[0]).toBe(`room://${room}/inbox`);
  });

  it('after the room object restarts, the old session is gone (404) and its agent is offline', async () => {
    const room = await individualRoom();
    const alice = await agent(room, 'alice');
    await tool(alice, 'join_room');
    const session = sessionOf(alice);
    await dev.restart();
    const token = await tokenFor(dev.secret, 'alice', room);
    const list = { jsonrpc: '2.0', id: 9, method: 'tools/list', params: {} };
    const stale = await api('POST', `/v1/rooms/${room}/mcp`, token, list, { ...mcpHeaders, 'mcp-session-id': session });
    expect(stale.status).toBe(404);
    const view = await api('GET', `/v1/rooms/${room}`, admin);
    expect((view.json.members as Array<{ id: string; online: boolean; via: string }>).map((m) => [m.id, m.online, m.via])).toEqual([
      ['alice', false, 'mcp'],
    ]);
    // A new session joins again.
    const again = await agent(room, 'alice');
    expect((await tool(again, 'join_room')).structuredContent).toEqual({ id: 'alice', groups: [], online: true });
  }, 120_000);
});

function limitCount(text: string, room: string, limit: string): number {
  const families = parsePrometheusTextFormat(text) as Array<{
    name: string;
    metrics: Array<{ labels?: Record<string, string>; value?: string }>;
  }>;
  const family = families.find((f) => f.name === 'mmb_limit_rejections_total');
  return Number(family?.metrics.find((m) => m.labels?.room === room && m.labels?.limit === limit)?.value ?? 0);
}
