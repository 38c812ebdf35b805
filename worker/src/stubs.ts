import type { DirectoryRpc, RoomRpc } from './contract.js';
import type { Env } from './env.js';

/** A room object's stub as the worker calls it: the contract's RPC plus `fetch` for WebSocket upgrades. */
export type RoomStub = RoomRpc & { fetch(request: Request): Promise<Response> };

/**
 * The room object of `room`. The cast is from workerd's deep `Rpc` stub type to the plain
 * contract: `ChatRoomBase implements RoomRpc`, so the two agree method by method.
 */
export function roomOf(env: Env, room: string): RoomStub {
  return env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName(room)) as unknown as RoomStub;
}

/** The directory's stub: one object per deployment. */
export function directoryOf(env: Env): DirectoryRpc {
  return env.ROOM_DIRECTORY.get(env.ROOM_DIRECTORY.idFromName('directory')) as unknown as DirectoryRpc;
}
