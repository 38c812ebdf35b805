import { createExecutionContext, SELF, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { sign } from 'hono/jwt';
import { FrameReader } from 'modular-message-bus-library/client';
import { createApp } from '../../src/index.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies and frames are JSON checked by expect().
export type Json = any;

export const SECRET = 'test-secret';
let counter = 0;

/** A fresh room id per test, so tests never share state. */
export function freshRoom(prefix = 'room'): string {
  return `${prefix}-${Date.now().toString(36)}-${++counter}`;
}

/** Signs a token as the worker expects (HS256, sub/room/role/exp, and the optional `groups` claim). */
export function token(
  sub: string,
  room: string,
  role: 'agent' | 'admin' = 'agent',
  options: { exp?: number; secret?: string; groups?: unknown } = {},
) {
  const exp = options.exp ?? Math.floor(Date.now() / 1000) + 3600;
  const claims: Record<string, unknown> = { sub, room, role, exp };
  if (options.groups !== undefined) claims.groups = options.groups;
  return sign(claims, options.secret ?? SECRET, 'HS256');
}

export async function adminToken(room = '*'): Promise<string> {
  return token('admin', room, 'admin');
}

/** Calls the worker; `body` objects are sent as JSON, strings as they are. */
export async function api(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string>; vars?: Record<string, string> } = {},
): Promise<{ status: number; json: Json; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const request = new Request(`https://bus.test${path}`, { method, headers, body });
  const response = options.vars ? await fetchWithVars(request, options.vars) : await SELF.fetch(request);
  const text = await response.text();
  let json: Json = text;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, json, headers: response.headers };
}

/**
 * The real app with the real bindings, but some vars of the worker (not of the room objects) changed: for limits
 * the test config sets too low for one test, such as MAX_BODY_BYTES.
 */
async function fetchWithVars(request: Request, vars: Record<string, string>): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await createApp().fetch(request, { ...env, ...vars }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

/** Connects `agents` to `room` (each with its own token) and returns their tokens. */
export async function join<A extends string>(room: string, ...agents: A[]): Promise<Record<A, string>> {
  const tokens = {} as Record<A, string>;
  for (const agent of agents) {
    tokens[agent] = await token(agent, room);
    const res = await api('POST', `/v1/rooms/${room}/agents/${agent}/connect`, { token: tokens[agent] });
    if (res.status !== 200) throw new Error(`connect ${agent}: ${res.status} ${JSON.stringify(res.json)}`);
  }
  return tokens;
}

/** A client WebSocket through the worker, with every frame it received and its close code. */
export interface TestSocket {
  ws: WebSocket;
  /** The `Sec-WebSocket-Protocol` the server chose, if any. */
  protocol: string | null;
  frames: Json[];
  closed: Promise<{ code: number; reason: string }>;
  send(frame: unknown): void;
  /** Waits until `predicate` holds for the frames received so far. */
  until(predicate: (frames: Json[]) => boolean, what: string, timeoutMs?: number): Promise<Json[]>;
}

export async function openSocket(path: string, headers: Record<string, string> = {}): Promise<TestSocket> {
  const response = await SELF.fetch(`https://bus.test${path}`, { headers: { upgrade: 'websocket', ...headers } });
  const ws = response.webSocket;
  if (!ws) throw new Error(`no WebSocket in the response (status ${response.status})`);
  const frames: Json[] = [];
  const texts: string[] = [];
  received.set(frames, { room: decodeURIComponent(/^\/v1\/rooms\/([^/]+)\//.exec(path)?.[1] ?? ''), texts });
  let resolveClosed: (value: { code: number; reason: string }) => void = () => {};
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (resolveClosed = resolve));
  ws.addEventListener('message', (event) => {
    texts.push(event.data as string);
    frames.push(JSON.parse(event.data as string));
  });
  ws.addEventListener('close', (event) => resolveClosed({ code: event.code, reason: event.reason }));
  ws.accept();
  return {
    ws,
    protocol: response.headers.get('sec-websocket-protocol'),
    frames,
    closed,
    send: (frame) => ws.send(JSON.stringify(frame)),
    until: async (predicate, what, timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(frames)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(frames)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return frames;
    },
  };
}

/** The frame texts of each socket's `frames`, and the socket's room, for `messagesOf`. */
const received = new WeakMap<Json[], { room: string; texts: string[] }>();

/**
 * The messages of a socket's `frames`, read as a client reads them: through the SDK's `FrameReader`, which puts
 * back what a message frame leaves out (`room`, a root's `thread`, an audience's `recipients` and `routing`).
 * `frames` keeps the frames as they came.
 */
export function messagesOf(frames: Json[]): Json[] {
  const socket = received.get(frames);
  if (!socket) throw new Error('messagesOf takes the frames of a socket opened by openSocket');
  const reader = new FrameReader(socket.room);
  const messages: Json[] = [];
  for (const text of socket.texts.slice(0, frames.length)) {
    const frame = reader.read(text);
    if (frame?.type === 'message') messages.push(frame.message);
  }
  return messages;
}

/** A fixture of SQLite tables (fixtures/*.json): its schema statements, and each table's rows as they were. */
interface TableFixture {
  schema: { type?: string; sql: unknown }[];
  tables: unknown;
}

/**
 * Writes `fixture` into an object's SQLite: its schema, then its rows as they were. With `triggersLast` the
 * triggers are created after the rows, so loading old rows does not fire them.
 */
export function loadFixture(
  sql: { exec(query: string, ...bindings: unknown[]): unknown },
  fixture: TableFixture,
  { triggersLast = false } = {},
): void {
  const later = (type: string | undefined) => triggersLast && type === 'trigger';
  for (const { type, sql: ddl } of fixture.schema) if (!later(type)) sql.exec(ddl as string);
  for (const [table, rows] of Object.entries(fixture.tables as Record<string, Record<string, unknown>[]>)) {
    for (const row of rows) {
      const columns = Object.keys(row);
      sql.exec(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`, ...columns.map((c) => row[c]));
    }
  }
  for (const { type, sql: ddl } of fixture.schema) if (later(type)) sql.exec(ddl as string);
}
