import { type Context, Hono } from 'hono';
import { cors } from 'hono/cors';
import { isValidId, mergeExpositions } from 'modular-message-bus-library';
import { authenticate, credentialsOf, grantOf, type Principal, refuseAgent, refuseNonAdmin } from './auth.js';
import type { ErrorBody, LimitName, Outcome } from './contract.js';
import { serveDevtools } from './devtools.js';
import { type Env, limitsOf } from './env.js';
import { closeCodeOf, errorResponse, fail } from './errors.js';
import { readDecimal, readGroups, readRouting, readSendInput, readUpTo } from './input.js';
import { mcpRoute } from './mcp/route.js';
import { NOSNIFF, withHeaders } from './security-headers.js';
import { directoryOf, type RoomStub, roomOf as stubOf } from './stubs.js';

type AppEnv = { Bindings: Env; Variables: { principal: Principal; protocol: string | undefined } };
type Ctx = Context<AppEnv>;

/** Options of `createApp`. */
export interface AppOptions {
  /** Path prefix under which the devtools build (the `ASSETS` binding) is served. Default `/devtools`. */
  devtoolsPath?: string;
}

const MISCONFIGURED = fail(
  'MISCONFIGURED',
  'BUS_SECRET is not set: put BUS_SECRET=<secret> in .dev.vars for `wrangler dev`, or run `npx wrangler secret put BUS_SECRET` before deploying',
);

/**
 * The HTTP + WebSocket API in front of the room objects (`CHAT_ROOM`
 * binding) and the room directory (`ROOM_DIRECTORY`). Every route is under
 * `/v1`, plus `/metrics` and the devtools under `/devtools`. Input is checked
 * here (input.ts) before any RPC; the room objects are called through the
 * types of contract.ts.
 *
 * @example
 * ```ts
 * // src/index.ts of a worker with its own routing policy
 * import { createApp, createChatRoom, RoomDirectory } from 'modular-message-bus-worker';
 * export const ChatRoom = createChatRoom({ routing: { 'round-robin': () => roundRobin } });
 * export { RoomDirectory };
 * export default createApp();
 * ```
 */
export function createApp(options: AppOptions = {}): Hono<AppEnv> {
  const devtools = options.devtoolsPath ?? '/devtools';
  const app = new Hono<AppEnv>();

  // Outermost, so preflights and refusals say it too.
  app.use('*', async (c, next) => {
    await next();
    c.res = withHeaders(c.res, NOSNIFF);
  });

  app.use('*', async (c, next) => {
    const allowed = (c.env.CORS_ORIGINS ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean);
    const middleware = cors({
      origin: (origin) => (allowed.includes('*') ? origin || '*' : allowed.includes(origin) ? origin : null),
      // Mcp-* and Last-Event-ID: browser-based MCP clients of /v1/rooms/:room/mcp.
      allowHeaders: ['Authorization', 'Content-Type', 'Mcp-Session-Id', 'Mcp-Protocol-Version', 'Last-Event-ID'],
      allowMethods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
      exposeHeaders: ['Retry-After', 'Mcp-Session-Id'],
      maxAge: 600,
    });
    return middleware(c, next);
  });

  app.get(devtools, (c) => serveDevtools(c.req.raw, c.env, devtools));
  app.get(`${devtools}/*`, (c) => serveDevtools(c.req.raw, c.env, devtools));

  // Authentication for everything else: a missing secret is a deployment error, not a client one.
  app.use('*', async (c, next) => {
    const upgrade = isUpgrade(c);
    const credentials = credentialsOf(c.req.raw, upgrade);
    if ('code' in credentials) return errorResponse(credentials);
    const secret = c.env.BUS_SECRET;
    if (!secret) {
      console.error(`[mmb-worker] ${MISCONFIGURED.message}`);
      return upgrade ? refuseSocket(MISCONFIGURED, credentials.protocol) : errorResponse(MISCONFIGURED);
    }
    const principal = await authenticate(credentials.token, secret);
    if ('code' in principal) return upgrade ? refuseSocket(principal, credentials.protocol) : errorResponse(principal);
    c.set('principal', principal);
    c.set('protocol', credentials.protocol);
    await next();
  });

  app.post('/v1/rooms/:room/agents/:agent/connect', async (c) => {
    const { room, agent } = ids(c);
    const refused = checkIds(room, agent) ?? refuseAgent(c.var.principal, room, agent);
    if (refused) return errorResponse(refused);
    const body = await readBody(c, room, true);
    if (body instanceof Response) return body;
    const groups = readGroups(body.groups, limitsOf(c.env).maxGroupsPerMember);
    if (!groups.ok) return errorResponse(groups.error);
    return reply(c, await roomOf(c, room).connectAgent(room, agent, groups.value, grantOf(c.var.principal)), 200);
  });

  app.post('/v1/rooms/:room/agents/:agent/disconnect', async (c) => {
    const { room, agent } = ids(c);
    const refused = checkIds(room, agent) ?? refuseAgent(c.var.principal, room, agent);
    if (refused) return errorResponse(refused);
    return reply(c, await roomOf(c, room).disconnectAgent(room, agent), 200);
  });

  app.delete('/v1/rooms/:room/agents/:agent', async (c) => {
    const { room, agent } = ids(c);
    const refused = checkIds(room, agent) ?? refuseAgent(c.var.principal, room, agent);
    if (refused) return errorResponse(refused);
    return reply(c, await roomOf(c, room).removeAgent(room, agent), 200);
  });

  app.put('/v1/rooms/:room/agents/:agent/groups/:group', async (c) => {
    const { room, agent } = ids(c);
    const group = c.req.param('group');
    const refused = checkIds(room, agent, group) ?? refuseAgent(c.var.principal, room, agent);
    if (refused) return errorResponse(refused);
    return reply(c, await roomOf(c, room).joinGroup(room, agent, group, grantOf(c.var.principal)), 200);
  });

  app.delete('/v1/rooms/:room/agents/:agent/groups/:group', async (c) => {
    const { room, agent } = ids(c);
    const group = c.req.param('group');
    const refused = checkIds(room, agent, group) ?? refuseAgent(c.var.principal, room, agent);
    if (refused) return errorResponse(refused);
    return reply(c, await roomOf(c, room).leaveGroup(room, agent, group, grantOf(c.var.principal)), 200);
  });

  app.post('/v1/rooms/:room/agents/:agent/ack', async (c) => {
    const { room, agent } = ids(c);
    const refused = checkIds(room, agent) ?? refuseAgent(c.var.principal, room, agent);
    if (refused) return errorResponse(refused);
    const body = await readBody(c, room, false);
    if (body instanceof Response) return body;
    const upTo = readUpTo(body.upTo);
    if (!upTo.ok) return errorResponse(upTo.error);
    return reply(c, await roomOf(c, room).ackMessages(room, agent, upTo.value), 200);
  });

  app.post('/v1/rooms/:room/messages', async (c) => {
    const room = c.req.param('room');
    const principal = c.var.principal;
    const body = await readBody(c, room, false);
    if (body instanceof Response) return body;
    let sender = principal.sub;
    if (body.sender !== undefined) {
      if (principal.role !== 'admin' && body.sender !== principal.sub) {
        return errorResponse(fail('FORBIDDEN', 'the sender is the token\'s agent: only an admin token may name a "sender"'));
      }
      const named = checkIds(body.sender);
      if (named) return errorResponse(named);
      sender = body.sender as string;
    } else if (principal.role === 'admin') {
      return errorResponse(fail('INVALID_MESSAGE', 'an admin token must name the "sender" of the message'));
    }
    const refused = checkIds(room, sender) ?? refuseAgent(principal, room, sender);
    if (refused) return errorResponse(refused);
    const input = readSendInput(body, limitsOf(c.env).maxContentDepth);
    if (!input.ok) return errorResponse(input.error);
    return reply(c, await roomOf(c, room).sendMessage(room, sender, input.value), 201);
  });

  app.get('/v1/rooms/:room/messages', async (c) => {
    const room = c.req.param('room');
    const agent = c.req.query('agent') ?? c.var.principal.sub;
    const refused = checkIds(room, agent) ?? refuseAgent(c.var.principal, room, agent);
    if (refused) return errorResponse(refused);
    const after = readDecimal(c.req.query('after'), 'after');
    if (!after.ok) return errorResponse(after.error);
    const limit = readDecimal(c.req.query('limit'), 'limit');
    if (!limit.ok) return errorResponse(limit.error);
    const outcome = await roomOf(c, room).fetchMessages(room, agent, after.value, limit.value);
    return outcome.ok ? c.json({ messages: outcome.value }) : errorResponse(outcome.error);
  });

  app.get('/v1/rooms/:room/ws', async (c) => {
    const room = c.req.param('room');
    const agent = c.req.query('agent') ?? c.var.principal.sub;
    if (!isUpgrade(c)) return errorResponse(fail('INVALID_ARGUMENT', 'this route is a WebSocket: send "Upgrade: websocket"'));
    const refused = checkIds(room, agent) ?? refuseAgent(c.var.principal, room, agent);
    if (refused) return refuseSocket(refused, c.var.protocol);
    return upgrade(c, room, 'agent', agent);
  });

  app.on(['GET', 'POST', 'DELETE'], '/v1/rooms/:room/mcp', (c) =>
    mcpRoute(c.req.raw, c.env, c.var.principal, c.req.param('room'), (work) => c.executionCtx.waitUntil(work)),
  );

  // --- admin routes ---

  app.get('/v1/rooms', async (c) => {
    const refused = refuseNonAdmin(c.var.principal, '*');
    if (refused) return errorResponse(refused);
    const names = await directoryOf(c.env).list();
    const outcomes = await Promise.all(names.map((room) => roomOf(c, room).summary(room)));
    const rooms = outcomes.flatMap((o) => (o.ok ? [o.value] : []));
    return c.json({ rooms });
  });

  app.put('/v1/rooms/:room', async (c) => {
    const room = c.req.param('room');
    const refused = checkIds(room) ?? refuseNonAdmin(c.var.principal, room);
    if (refused) return errorResponse(refused);
    const body = await readBody(c, room, false);
    if (body instanceof Response) return body;
    const routing = readRouting(body.routing);
    if (!routing.ok) return errorResponse(routing.error);
    return reply(c, await roomOf(c, room).configure(room, routing.value), 200);
  });

  app.get('/v1/rooms/:room', async (c) => {
    const room = c.req.param('room');
    const refused = checkIds(room) ?? refuseNonAdmin(c.var.principal, room);
    if (refused) return errorResponse(refused);
    return reply(c, await roomOf(c, room).describe(room), 200);
  });

  app.get('/v1/rooms/:room/history', async (c) => {
    const room = c.req.param('room');
    const refused = checkIds(room) ?? refuseNonAdmin(c.var.principal, room);
    if (refused) return errorResponse(refused);
    const after = readDecimal(c.req.query('after'), 'after');
    if (!after.ok) return errorResponse(after.error);
    const limit = readDecimal(c.req.query('limit'), 'limit');
    if (!limit.ok) return errorResponse(limit.error);
    const outcome = await roomOf(c, room).history(room, after.value ?? 0, limit.value);
    return outcome.ok ? c.json({ messages: outcome.value }) : errorResponse(outcome.error);
  });

  app.get('/v1/rooms/:room/events', async (c) => {
    const room = c.req.param('room');
    if (!isUpgrade(c)) return errorResponse(fail('INVALID_ARGUMENT', 'this route is a WebSocket: send "Upgrade: websocket"'));
    const refused = checkIds(room) ?? refuseNonAdmin(c.var.principal, room);
    if (refused) return refuseSocket(refused, c.var.protocol);
    return upgrade(c, room, 'events', null);
  });

  app.get('/metrics', async (c) => {
    const refused = refuseNonAdmin(c.var.principal, '*');
    if (refused) return errorResponse(refused);
    const names = await directoryOf(c.env).list();
    const outcomes = await Promise.all(names.map((room) => roomOf(c, room).metrics(room)));
    const rooms = `# HELP mmb_rooms Rooms known to this deployment.\n# TYPE mmb_rooms gauge\nmmb_rooms ${names.length}\n`;
    const texts = [rooms, ...outcomes.flatMap((o) => (o.ok ? [o.value] : []))];
    return c.text(mergeExpositions(texts), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  });

  app.notFound(() => errorResponse(fail('NOT_FOUND', 'no such route: see docs/worker.md for the API')));
  app.onError((error) => {
    console.error('[mmb-worker] unhandled error:', error);
    return errorResponse(fail('STORAGE_FAILURE', `[mmb-worker] the request failed: ${error.message}`));
  });
  return app;
}

// --- internal helpers ---

function roomOf(c: Ctx, room: string): RoomStub {
  return stubOf(c.env, room);
}

function ids(c: Ctx): { room: string; agent: string } {
  return { room: c.req.param('room') as string, agent: c.req.param('agent') as string };
}

function checkIds(...values: unknown[]): ErrorBody | undefined {
  for (const value of values) {
    if (!isValidId(value)) {
      const shown = typeof value === 'string' ? JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value) : `a ${typeof value}`;
      return fail('INVALID_ARGUMENT', `${shown} is not a valid id: use 1-128 letters, digits and "._:-"`);
    }
  }
  return undefined;
}

function reply<T>(c: Ctx, outcome: Outcome<T>, status: 200 | 201): Response {
  return outcome.ok ? c.json(outcome.value as object, status) : errorResponse(outcome.error);
}

/** Reads a JSON object body within MAX_BODY_BYTES. Malformed JSON is INVALID_MESSAGE. */
async function readBody(c: Ctx, room: string, optional: boolean): Promise<Record<string, unknown> | Response> {
  const limit = limitsOf(c.env).maxBodyBytes;
  const tooLarge = () => {
    if (isValidId(room)) c.executionCtx.waitUntil(countLimit(c, room, 'body'));
    return errorResponse(fail('CONTENT_TOO_LARGE', `the request body is over ${limit} bytes (MAX_BODY_BYTES)`, { limit }));
  };
  const declared = Number(c.req.header('content-length') ?? 0);
  if (declared > limit) return tooLarge();
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  if (bytes.byteLength > limit) return tooLarge();
  if (bytes.byteLength === 0 && optional) return {};
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return errorResponse(fail('INVALID_MESSAGE', 'the body is not valid JSON: send a JSON object with Content-Type: application/json'));
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return errorResponse(fail('INVALID_MESSAGE', 'the body must be a JSON object'));
  }
  return body as Record<string, unknown>;
}

async function countLimit(c: Ctx, room: string, limit: LimitName): Promise<void> {
  try {
    await roomOf(c, room).countLimit(room, limit);
  } catch (error) {
    console.warn('[mmb-worker] could not count a limit refusal:', error);
  }
}

function isUpgrade(c: Ctx): boolean {
  return c.req.header('upgrade')?.toLowerCase() === 'websocket';
}

/** Forwards an authorised upgrade to the room, with the principal's facts in headers only the worker sets. */
async function upgrade(c: Ctx, room: string, kind: 'agent' | 'events', agent: string | null): Promise<Response> {
  const after = readDecimal(c.req.query('after'), 'after');
  if (!after.ok) return refuseSocket(after.error, c.var.protocol);
  const headers = new Headers({ upgrade: 'websocket', 'x-mmb-room': room, 'x-mmb-kind': kind });
  if (agent !== null) headers.set('x-mmb-agent', agent);
  if (after.value !== undefined) headers.set('x-mmb-after', String(after.value));
  const response = await roomOf(c, room).fetch(new Request('https://room.internal/ws', { headers }));
  return withProtocol(response, c.var.protocol);
}

/** Accepts the socket only to say why it is refused: browsers cannot read the status of a refused upgrade. */
function refuseSocket(error: ErrorBody, protocol: string | undefined): Response {
  const { 0: client, 1: server } = new WebSocketPair();
  server.accept();
  server.send(JSON.stringify({ type: 'error', ref: null, error }));
  server.close(closeCodeOf(error.code), error.message.slice(0, 120));
  return withProtocol(new Response(null, { status: 101, webSocket: client }), protocol);
}

/** Names the `bearer.<jwt>` subprotocol the client offered: a browser drops a socket whose answer does not. */
function withProtocol(response: Response, protocol: string | undefined): Response {
  if (protocol === undefined || !response.webSocket) return response;
  return new Response(null, { status: 101, webSocket: response.webSocket, headers: { 'sec-websocket-protocol': protocol } });
}
