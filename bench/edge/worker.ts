/**
 * The bench-only worker of bench/edge-peers.mjs: one `wrangler dev` hosting
 * the bus worker's real app and `ChatRoom` beside the PartyServer peer room,
 * so both run on the same workerd, machine and moment. The only additions are
 * the work counters (./counters.ts): `ChatRoom` is the worker's own class with
 * `sql.exec` counted, and `GET /bench-counters` reads the counts.
 */
import { routePartykitRequest } from 'partyserver';
import { createApp } from '../../worker/src/app.js';
import { ChatRoom as BusChatRoom } from '../../worker/src/chat-room.js';
import type { Env } from '../../worker/src/env.js';
import { countSql, countsText } from './counters.js';
import { PeerRoom } from './partyserver-room.js';

export { RoomDirectory } from '../../worker/src/directory.js';
export { PeerRoom };

/** The worker's `ChatRoom`, unchanged but for counting its SQL statements. */
export class ChatRoom extends BusChatRoom {
  constructor(ctx: DurableObjectState, env: Env) {
    countSql(ctx.storage);
    super(ctx, env);
  }
}

interface PeersEnv extends Env {
  PeerRoom: DurableObjectNamespace<PeerRoom>;
}

const app = createApp();

export default {
  async fetch(request: Request, env: PeersEnv, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === '/bench-counters') return new Response(countsText());
    if (url.pathname.startsWith('/parties/')) {
      return (await routePartykitRequest(request, env as unknown as Cloudflare.Env)) ?? new Response('no such party', { status: 404 });
    }
    return app.fetch(request, env, ctx);
  },
};
