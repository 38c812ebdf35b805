/**
 * The raw baseline of bench/worker.mjs: a Durable Object that only inserts
 * each message into SQLite and echoes (or, for fan-out, relays it to every
 * socket), with no auth, routing, bus or limits. A `mode=relay` socket's
 * frames are relayed without the insert (bench/streams.mjs: a delta is not stored). Bound only in
 * worker/test/wrangler.bench.toml, whose entry is this file: `/bench-echo/*`
 * goes to the raw object, everything else to the real app.
 */
import { DurableObject } from 'cloudflare:workers';
import { createApp } from './app.js';
import type { Env } from './env.js';

export { ChatRoom } from './chat-room.js';
export { RoomDirectory } from './directory.js';

export class BenchEcho extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  }

  #insert(body: string): number {
    return this.ctx.storage.sql.exec('INSERT INTO rows (body) VALUES (?) RETURNING id', body).one().id as number;
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('upgrade') === 'websocket') {
      const { 0: client, 1: server } = new WebSocketPair();
      this.ctx.acceptWebSocket(server, [new URL(request.url).searchParams.get('mode') ?? 'echo']);
      return new Response(null, { status: 101, webSocket: client });
    }
    const id = this.#insert(await request.text());
    return Response.json({ id }, { status: 201 });
  }

  /** The HTTP baseline's path: the worker reads the body and calls this over RPC, as the real worker does. */
  insert(body: string): number {
    return this.#insert(body);
  }

  override webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): void {
    const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
    const id = this.ctx.getTags(ws).includes('relay') ? 0 : this.#insert(text);
    const frame = JSON.parse(text) as { ref?: unknown };
    ws.send(JSON.stringify({ type: 'ok', ref: frame.ref ?? null, id }));
    // Fan-out baseline: relay to every listening socket.
    for (const other of this.ctx.getWebSockets('listen')) other.send(JSON.stringify({ type: 'message', id, body: text }));
  }
}

interface BenchEnv extends Env {
  BENCH_ECHO: DurableObjectNamespace<BenchEcho>;
}

const app = createApp();

export default {
  fetch(request: Request, env: BenchEnv, ctx: ExecutionContext): Response | Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname.startsWith('/bench-echo/')) {
      const name = url.pathname.slice('/bench-echo/'.length).split('/')[0] || 'default';
      const stub = env.BENCH_ECHO.get(env.BENCH_ECHO.idFromName(name));
      if (request.headers.get('upgrade') === 'websocket') return stub.fetch(request);
      return request.text().then(async (body) => Response.json({ id: await stub.insert(body) }, { status: 201 }));
    }
    return app.fetch(request, env, ctx);
  },
};
