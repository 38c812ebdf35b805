/** The selected room's members and policy, polled, and reloaded at once on presence events. */
import { useCallback } from 'react';
import type { ApiClient } from '../api/client.js';
import type { RoomDetail } from '../api/types.js';
import { type Polled, usePolling } from './usePolling.js';

export function useRoomDetail(client: ApiClient | null, room: string | null, intervalMs = 3000): Polled<RoomDetail> {
  const load = useCallback((signal: AbortSignal) => (client as ApiClient).getRoom(room as string, signal), [client, room]);
  return usePolling(client && room ? load : null, intervalMs);
}
