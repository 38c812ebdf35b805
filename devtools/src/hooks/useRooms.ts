/** The rooms list, polled, with a message rate per room from the change of `lastId` between polls. */
import { useCallback, useRef } from 'react';
import type { ApiClient } from '../api/client.js';
import type { RoomSummary } from '../api/types.js';
import { type Polled, usePolling } from './usePolling.js';

export interface RoomRow extends RoomSummary {
  /** Messages per second since the previous poll; null on the first. */
  rate: number | null;
}

export function useRooms(client: ApiClient | null, intervalMs = 2000): Polled<RoomRow[]> {
  const previous = useRef(new Map<string, { lastId: number; at: number }>());
  const load = useCallback(
    async (signal: AbortSignal): Promise<RoomRow[]> => {
      if (!client) return [];
      const rooms = await client.listRooms(signal);
      const now = performance.now();
      const rows = rooms.map((room) => {
        const before = previous.current.get(room.room);
        const seconds = before ? (now - before.at) / 1000 : 0;
        const rate = before && seconds > 0 ? Math.max(0, (room.lastId - before.lastId) / seconds) : null;
        previous.current.set(room.room, { lastId: room.lastId, at: now });
        return { ...room, rate };
      });
      return rows;
    },
    [client],
  );
  return usePolling(client ? load : null, intervalMs);
}
