import { type Context, Hono } from 'hono';
import { cors } from 'hono/cors';
import { isValidId, mergeExpositions } from 'modular-message-bus-library';
import { authenticate, type Principal, refuseAgent, refuseNonAdmin, tokenOf } from './auth.js';
import type { ErrorBody, LimitName, Outcome, SendInput } from './contract.js';
import { type Env, limitsOf } from './env.js';
import { closeCodeOf, errorResponse, fail } from './errors.js';
import { directoryOf, type RoomStub, roomOf as stubOf } from './stubs.js';

type AppEnv = { Bindings: Env; Variables: { principal: Principal } };
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
 * `/v1`, plus `/metrics` and the devtools under `/devtools`.
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

  app.use('*', async (c, next) => {
    const allowed = (c.env.CORS_ORIGINS ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean);
    const middleware = cors({
      origin: (origin) => (allowed.includes('*') ? origin || '*' : allowed.includes(origin) ? origin : null),
      allowHeaders: ['Authorization', 'Content-Type'],
      allowMethods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
      exposeHeaders: ['Retry-After'],
      maxAge: 600,
    });
    return middleware(c, next);
  });

  app.get(`${devtools}`, (c) => c.redirect(`${devtools}/`, 301));
  app.get(`${devtools}/*`, async (c) => {
    if (!c.env.ASSETS)
      return errorResponse(fail('NOT_FOUND', 'the devtools are not built: run `npm run build -w modular-message-bus-devtools`'));
    const url = new URL(c.req.url);
    url.pathname = url.pathname.slice(devtools.length) || '/';
    const response = await c.env.ASSETS.fetch(new Request(url, c.req.raw));
    if (response.status === 404) return errorResponse(fail('NOT_FOUND', `no devtools file at ${url.pathname}: build the devtools first`));
    return response;
  });

  // Authentication for everything else: a missing secret is a deployment error, not a client one.
  app.use('*', async (c, next) => {
    const secret = c.env.BUS_SECRET;
    if (!secret) {
      console.error(`[mmb-worker] ${MISCONFIGURED.message}`);
      return isUpgrade(c) ? refuseSocket(MISCONFIGURED) : errorResponse(MISCONFIGURED);
    }
    const principal = await authenticate(tokenOf(c.req.raw), secret);
    if ('code' in principal) return isUpgrade(c) ? refuseSocket(principal) : errorResponse(principal);
    c.set('principal', principal);
    await next();
  });

  app.post('/v1/rooms/:room/agents/:agent/connect', async (c) => {
    const { room, agent } = ids(c);
    const refused = checkIds(room, agent) ?? refuseAgent(c.var.principal, room, agent);
    if (refused) return errorResponse(refused);
    const body = await readBody(c, room, true);
    if (body instanceof Response) return body;
    return reply(c, await roomOf(c, room).connectAgent(room, agent, body.groups as string[] | undefined), 200);
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

  app.post('/v1/rooms/:room/agents/:agent/ack', async (c) => {
    const { room, agent } = ids(c);
    const refused = checkIds(room, agent) ?? refuseAgent(c.var.principal, room, agent);
    if (refused) return errorResponse(refused);
    const body = await readBody(c, room, false);
    if (body instanceof Response) return body;
    return reply(c, await roomOf(c, room).ackMessages(room, agent, body.upTo as number), 200);
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
      sender = body.sender as string;
    } else if (principal.role === 'admin') {
      return errorResponse(fail('INVALID_MESSAGE', 'an admin token must name the "sender" of the message'));
    }
    const refused = checkIds(room, sender) ?? refuseAgent(principal, room, sender);
    if (refused) return errorResponse(refused);
    const input: SendInput = { content: body.content as SendInput['content'] };
    if (body.recipients !== undefined) input.recipients = body.recipients as string[];
    if (body.idempotencyKey !== undefined) input.idempotencyKey = body.idempotencyKey as string;
    if (body.inReplyTo !== undefined) input.inReplyTo = body.inReplyTo as number;
    if (body.metadata !== undefined) input.metadata = body.metadata as NonNullable<SendInput['metadata']>;
    return reply(c, await roomOf(c, room).sendMessage(room, sender, input), 201);
  });

  app.get('/v1/rooms/:room/messages', async (c) => {
    const room = c.req.param('room');
    const agent = c.req.query('agent') ?? c.var.principal.sub;
    const refused = checkIds(room, agent) ?? refuseAgent(c.var.principal, room, agent);
    if (refused) return errorResponse(refused);
    const after = cursorParam(c, 'after');
    const limit = cursorParam(c, 'limit');
    if (typeof after === 'object') return errorResponse(after);
    if (typeof limit === 'object') return errorResponse(limit);
    const outcome = await roomOf(c, room).fetchMessages(room, agent, after, limit);
    return outcome.ok ? c.json({ messages: outcome.value }) : errorResponse(outcome.error);
  });

  app.get('/v1/rooms/:room/messages/latest', async (c) => {
    const room = c.req.param('room');
    const agent = c.req.query('agent') ?? c.var.principal.sub;
    const refused = checkIds(room, agent) ?? refuseAgent(c.var.principal, room, agent);
    if (refused) return errorResponse(refused);
    const before = cursorParam(c, 'before');
    const limit = cursorParam(c, 'limit');
    if (typeof before === 'object') return errorResponse(before);
    if (typeof limit === 'object') return errorResponse(limit);
    const outcome = await roomOf(c, room).fetchLatest(room, agent, before, limit);
    return outcome.ok ? c.json({ messages: outcome.value }) : errorResponse(outcome.error);
  });

  app.get('/v1/rooms/:room/threads/:thread', async (c) => {
    const room = c.req.param('room');
    const agent = c.req.query('agent') ?? c.var.principal.sub;
    const refused = checkIds(room, agent) ?? refuseAgent(c.var.principal, room, agent);
    if (refused) return errorResponse(refused);
    const raw = c.req.param('thread');
    const thread = /^[1-9][0-9]{0,15}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(thread)) return errorResponse(fail('INVALID_ARGUMENT', `the thread must be a message id; got "${raw}"`));
    const after = cursorParam(c, 'after');
    const limit = cursorParam(c, 'limit');
    if (typeof after === 'object') return errorResponse(after);
    if (typeof limit === 'object') return errorResponse(limit);
    const outcome = await roomOf(c, room).fetchThread(room, agent, thread, after, limit);
    return outcome.ok ? c.json({ messages: outcome.value }) : errorResponse(outcome.error);
  });

  app.get('/v1/rooms/:room/ws', async (c) => {
    const room = c.req.param('room');
    const agent = c.req.query('agent') ?? c.var.principal.sub;
    if (!isUpgrade(c)) return errorResponse(fail('INVALID_ARGUMENT', 'this route is a WebSocket: send "Upgrade: websocket"'));
    const refused = checkIds(room, agent) ?? refuseAgent(c.var.principal, room, agent);
    if (refused) return refuseSocket(refused);
    // `watch=1`: the agent's messages without its presence (RemoteMessageBus.request waits on one).
    const watch = c.req.query('watch');
    if (watch !== undefined && watch !== '1') return refuseSocket(fail('INVALID_ARGUMENT', `watch must be "1" or absent; got "${watch}"`));
    return upgrade(c, room, watch === '1' ? 'watch' : 'agent', agent);
  });

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
    return reply(c, await roomOf(c, room).configure(room, body.routing), 200);
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
    const after = cursorParam(c, 'after');
    const limit = cursorParam(c, 'limit');
    if (typeof after === 'object') return errorResponse(after);
    if (typeof limit === 'object') return errorResponse(limit);
    const outcome = await roomOf(c, room).history(room, after ?? 0, limit);
    return outcome.ok ? c.json({ messages: outcome.value }) : errorResponse(outcome.error);
  });

  app.get('/v1/rooms/:room/events', async (c) => {
    const room = c.req.param('room');
    if (!isUpgrade(c)) return errorResponse(fail('INVALID_ARGUMENT', 'this route is a WebSocket: send "Upgrade: websocket"'));
    const refused = checkIds(room) ?? refuseNonAdmin(c.var.principal, room);
    if (refused) return refuseSocket(refused);
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

function checkIds(...values: string[]): ErrorBody | undefined {
  for (const value of values) {
    if (!isValidId(value)) return fail('INVALID_ARGUMENT', `"${value}" is not a valid id: use 1-128 letters, digits and "._:-"`);
  }
  return undefined;
}

function reply<T>(c: Ctx, outcome: Outcome<T>, status: 200 | 201): Response {
  return outcome.ok ? c.json(outcome.value as object, status) : errorResponse(outcome.error);
}

/** A query parameter that must be a non-negative integer, if present. */
function cursorParam(c: Ctx, name: string): number | undefined | ErrorBody {
  const raw = c.req.query(name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw === '' || !Number.isSafeInteger(value) || value < 0)
    return fail('INVALID_ARGUMENT', `${name} must be a non-negative integer; got "${raw}"`);
  return value;
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
function upgrade(c: Ctx, room: string, kind: 'agent' | 'watch' | 'events', agent: string | null): Promise<Response> {
  const after = c.req.query('after');
  const headers = new Headers({ upgrade: 'websocket', 'x-mmb-room': room, 'x-mmb-kind': kind });
  if (agent !== null) headers.set('x-mmb-agent', agent);
  if (after !== undefined) headers.set('x-mmb-after', after);
  return roomOf(c, room).fetch(new Request('https://room.internal/ws', { headers }));
}

/** Accepts the socket only to say why it is refused: browsers cannot read the status of a refused upgrade. */
function refuseSocket(error: ErrorBody): Response {
  const { 0: client, 1: server } = new WebSocketPair();
  server.accept();
  server.send(JSON.stringify({ type: 'error', ref: null, error }));
  server.close(closeCodeOf(error.code), error.message.slice(0, 120));
  return new Response(null, { status: 101, webSocket: client });
}
