import type { ChatRoomBase } from '../src/chat-room.js';
import type { Env as WorkerEnv } from '../src/env.js';

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      CUSTOM_ROOM: DurableObjectNamespace<ChatRoomBase>;
    }
  }
}
