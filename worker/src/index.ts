/**
 * The edge worker: a Hono app in front of one `ChatRoom` Durable Object per
 * chatroom and a `RoomDirectory` singleton. wrangler.toml points `main` here.
 * For a custom routing policy, build your own entry from `createApp` and
 * `createChatRoom` (see docs/worker.md). The API's shapes and the room
 * object's RPC are typed in contract.ts (`modular-message-bus-worker/contract`).
 */
import { createApp } from './app.js';

export { type AppOptions, createApp } from './app.js';
export { ChatRoom, ChatRoomBase, type ChatRoomOptions, createChatRoom } from './chat-room.js';
export type * from './contract.js';
export { RoomDirectory } from './directory.js';
export type { Env, Limits } from './env.js';

export default createApp();
