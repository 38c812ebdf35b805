/**
 * Loads the room's history page by page into a `MessageStore`, then follows
 * the live events feed from the last id. Failures are retried (the worker may
 * be restarting); the latest one is reported so the UI can explain it.
 */
import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { ApiClient } from '../api/client.js';
import { HISTORY_PAGE } from '../api/client.js';
import { ApiError } from '../api/errors.js';
import { EventsFeed, type FeedStatus } from '../api/events.js';
import type { RoomEvent } from '../api/types.js';
import { MessageStore } from '../state/message-store.js';
import { StreamStore } from '../state/stream-store.js';

export interface RoomFeed {
  store: MessageStore;
  /** Store version: changes whenever messages were added. */
  version: number;
  /** Streams in flight (and lately aborted) in the room. */
  streams: StreamStore;
  /** Changes whenever a stream started, grew, ended or was aborted (at most ten times a second). */
  streamsVersion: number;
  status: FeedStatus | 'loading-history';
  /** Why the feed is not live, when it is not. */
  problem: ApiError | { code: string; message: string } | null;
  reconnect(): void;
}

export function useRoomFeed(client: ApiClient | null, room: string | null, onEvent: (event: RoomEvent) => void): RoomFeed {
  const [store, setStore] = useState(() => new MessageStore());
  const [streams, setStreams] = useState(() => new StreamStore());
  const [status, setStatus] = useState<RoomFeed['status']>('stopped');
  const [problem, setProblem] = useState<RoomFeed['problem']>(null);
  const feedRef = useRef<EventsFeed | null>(null);
  const onEventRef = useRef(onEvent);
  onEventRef.current = onEvent;

  useEffect(() => {
    if (!client || !room) return;
    const roomStore = new MessageStore();
    const roomStreams = new StreamStore();
    setStore(roomStore);
    setStreams(roomStreams);
    setProblem(null);
    setStatus('loading-history');
    let cancelled = false;
    let retry: ReturnType<typeof setTimeout> | undefined;

    const loadHistory = async (): Promise<void> => {
      try {
        for (;;) {
          const page = await client.history(room, roomStore.lastId, HISTORY_PAGE);
          if (cancelled) return;
          roomStore.append(page);
          if (page.length < HISTORY_PAGE) break;
        }
      } catch (error) {
        if (cancelled) return;
        setProblem(error instanceof ApiError ? error : new ApiError('server', 'CLIENT_ERROR', 0, String(error)));
        retry = setTimeout(loadHistory, 2000);
        return;
      }
      setProblem(null);
      feedRef.current = new EventsFeed(client, room, roomStore.lastId, {
        onMessages: (messages) => {
          roomStore.append(messages);
          // A stored message ends its stream even when the end event was missed (the feed reconnected meanwhile).
          for (const message of messages) if (message.streamId !== undefined) roomStreams.ended(message.streamId);
        },
        onEvent: (event) => onEventRef.current(event),
        onStream: (event) => roomStreams.apply(event),
        onStatus: (next, detail) => {
          if (cancelled) return;
          setStatus(next);
          setProblem(next === 'live' ? null : (detail ?? null));
        },
      });
    };
    void loadHistory();
    return () => {
      cancelled = true;
      if (retry) clearTimeout(retry);
      feedRef.current?.stop();
      feedRef.current = null;
    };
  }, [client, room]);

  const version = useSyncExternalStore(store.subscribe, store.getVersion);
  const streamsVersion = useSyncExternalStore(streams.subscribe, streams.getVersion);
  return { store, version, streams, streamsVersion, status, problem, reconnect: () => feedRef.current?.reconnect() };
}
