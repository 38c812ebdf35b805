/**
 * The dashboard for one worker: rooms and agents on the left, the flow graph,
 * replay and timeline in the middle, inspector, composer and metrics on the
 * right. State that several panels share (selected room, message, filter,
 * replay position) lives here; panels get it through props.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { AgentsPanel } from './agents/AgentsPanel.js';
import type { ApiClient } from './api/client.js';
import { ApiError } from './api/errors.js';
import type { StoredMessage } from './api/types.js';
import { Composer } from './composer/Composer.js';
import { FlowGraph } from './flow-graph/FlowGraph.js';
import { useMembership } from './hooks/useMembership.js';
import { useMetrics } from './hooks/useMetrics.js';
import { useRoomDetail } from './hooks/useRoomDetail.js';
import { useRoomFeed } from './hooks/useRoomFeed.js';
import { useRooms } from './hooks/useRooms.js';
import type { Settings } from './hooks/useSettings.js';
import { useThrottled } from './hooks/useThrottled.js';
import { conversationFacts } from './inspector/conversation-facts.js';
import { Inspector } from './inspector/Inspector.js';
import { MetricsPanel } from './metrics/MetricsPanel.js';
import { ReplayScrubber } from './replay/ReplayScrubber.js';
import { RoomsPanel } from './rooms/RoomsPanel.js';
import { RoutingControl } from './rooms/RoutingControl.js';
import { StreamInspector } from './streams/StreamInspector.js';
import { EMPTY_FILTER, type TimelineFilter } from './timeline/filter.js';
import { Timeline } from './timeline/Timeline.js';
import { ErrorNotice } from './ui/ErrorNotice.js';
import { StatusPill } from './ui/StatusPill.js';

export interface DashboardProps {
  settings: Settings;
  client: ApiClient;
  onChangeToken(): void;
}

export function Dashboard({ settings, client, onChangeToken }: DashboardProps) {
  const { room, setRoom, apiBase } = settings;
  const rooms = useRooms(client);
  const detail = useRoomDetail(client, room);

  // Presence and membership events reload the room; a burst of them reloads it once.
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const refreshDetail = detail.refresh;
  const onEvent = useCallback(() => {
    if (refreshTimer.current) return;
    refreshTimer.current = setTimeout(() => {
      refreshTimer.current = null;
      refreshDetail();
    }, 200);
  }, [refreshDetail]);
  const feed = useRoomFeed(client, room, onEvent);
  const metrics = useMetrics(client, room);

  const [replay, setReplay] = useState<number | null>(null);
  const [filter, setFilter] = useState<TimelineFilter>(EMPTY_FILTER);
  const [selectedId, setSelectedId] = useState<number | null>(null);
  const [selectedStream, setSelectedStream] = useState<string | null>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new room starts with a clean view.
  useEffect(() => {
    setReplay(null);
    setFilter(EMPTY_FILTER);
    setSelectedId(null);
    setSelectedStream(null);
  }, [room]);

  useEffect(() => {
    if (!room && rooms.data && rooms.data.length > 0) setRoom((rooms.data[0] as { room: string }).room);
  }, [room, rooms.data, setRoom]);

  const refreshRooms = rooms.refresh;
  const refreshRoom = useCallback(() => {
    refreshDetail();
    refreshRooms();
  }, [refreshDetail, refreshRooms]);

  const total = feed.store.messages.length;
  const limit = replay === null ? total : Math.min(replay, total);
  const membership = useMembership(detail.data?.members ?? null);
  // Moving the range input's max repaints far more than the bar itself (with the graph beside it, a frame per
  // update): while live the scrubber follows the feed twice a second.
  const scrubberTotal = Math.min(useThrottled(total, 500), total);
  // Throttled, and clamped: right after a room switch the throttled value may still be the old room's.
  // A large room's graph costs a full layout per update: it follows the feed once a second, a small one four times.
  const graphLimit = Math.min(useThrottled(limit, membership.ids.length > 60 ? 1000 : 250), total);
  const filterByAgent = useCallback((agent: string) => setFilter((f) => ({ ...f, agent })), []);
  const selectSent = useCallback((m: { id: number }) => setSelectedId(m.id), []);
  const filterByThread = useCallback((thread: number) => setFilter((f) => ({ ...f, thread })), []);
  const selectMessage = useCallback((id: number) => {
    setSelectedStream(null);
    setSelectedId(id);
  }, []);
  const selectStream = useCallback((streamId: string) => setSelectedStream(streamId), []);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `feed.streamsVersion` marks changes of the stream store.
  const streams = useMemo(() => feed.streams.list(), [feed.streams, feed.streamsVersion]);
  const streaming = useMemo(() => streams.filter((s) => s.status === 'streaming'), [streams]);
  const selectedLive = selectedStream === null ? undefined : feed.streams.get(selectedStream);
  // A selected stream that ended is replaced by the message it stored.
  // biome-ignore lint/correctness/useExhaustiveDependencies: `feed.version` marks new messages, one of which may have ended it.
  useEffect(() => {
    if (selectedStream === null || selectedLive) return;
    const messages = feed.store.messages;
    for (let i = messages.length - 1; i >= Math.max(0, messages.length - 500); i--) {
      if ((messages[i] as StoredMessage).streamId === selectedStream) {
        setSelectedStream(null);
        setSelectedId((messages[i] as StoredMessage).id);
        return;
      }
    }
  }, [selectedStream, selectedLive, feed.version]);
  const selected = selectedId === null ? null : (feed.store.get(selectedId) ?? null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `feed.version` marks new messages, which may be replies to the selected one.
  const conversation = useMemo(() => (selected ? conversationFacts(selected, feed.store) : null), [selected, feed.store, feed.version]);

  useEffect(() => {
    // A handle for the end-to-end suite and for curious developers in the console.
    (window as unknown as { __mmbDevtools?: unknown }).__mmbDevtools = { store: feed.store, streams: feed.streams, room };
  }, [feed.store, feed.streams, room]);

  const globalError = rooms.error;
  const roomMissing =
    room !== null &&
    (detail.error?.kind === 'not-found' ||
      (rooms.data !== null &&
        !rooms.data.some((r) => r.room === room) &&
        detail.data !== null &&
        detail.data.members.length === 0 &&
        detail.data.lastId === 0));
  const roomError = roomMissing
    ? detail.error?.kind === 'not-found'
      ? detail.error
      : new ApiError('not-found', 'NOT_FOUND', 404, `No agent ever joined "${room}" and it holds no messages.`)
    : (detail.error ?? (feed.problem instanceof ApiError ? feed.problem : null));

  return (
    <div className="app">
      <header className="app-header">
        <h1>Message bus devtools</h1>
        <span className="muted mono">{apiBase}</span>
        {room && <span className="mono room-name">room: {room}</span>}
        <StatusPill status={room ? feed.status : 'stopped'} problem={feed.problem} onReconnect={feed.reconnect} />
        <span className="spacer" />
        <button type="button" className="secondary" onClick={onChangeToken} data-testid="change-token">
          Change token
        </button>
      </header>
      {globalError && (
        <ErrorNotice
          error={globalError}
          apiBase={apiBase}
          action={
            globalError.kind === 'unauthorized' || globalError.kind === 'forbidden' ? (
              <button type="button" onClick={onChangeToken}>
                Change token
              </button>
            ) : (
              <button type="button" onClick={rooms.refresh}>
                Retry now
              </button>
            )
          }
        />
      )}
      {feed.problem && !(feed.problem instanceof ApiError) && feed.status === 'reconnecting' && !globalError && (
        <div className="warning-notice" data-testid="feed-problem">
          Live feed dropped ({feed.problem.code}: {feed.problem.message}). Reconnecting from message #{feed.store.lastId}…
        </div>
      )}
      <main className="layout">
        <div className="column left">
          <RoomsPanel rooms={rooms.data} selected={room} onSelect={setRoom} />
          {room && detail.data && <RoutingControl client={client} room={room} policy={detail.data.policy} onChanged={refreshRoom} />}
          {room && !roomMissing && (
            <AgentsPanel
              client={client}
              room={room}
              members={detail.data?.members ?? null}
              onFilterAgent={filterByAgent}
              onChanged={refreshRoom}
            />
          )}
        </div>
        <div className="column middle">
          {!room ? (
            <p className="muted placeholder">{rooms.data?.length === 0 ? 'No rooms yet.' : 'Pick a room.'}</p>
          ) : roomError && (roomMissing || !globalError) ? (
            <ErrorNotice error={roomError} apiBase={apiBase} room={room} />
          ) : null}
          {room && !roomMissing && (
            <>
              <FlowGraph
                key={room}
                messages={feed.store.messages}
                limit={graphLimit}
                membership={membership}
                streaming={replay === null ? streaming : []}
                onSelectAgent={filterByAgent}
              />
              <ReplayScrubber
                messages={feed.store.messages}
                total={replay === null ? scrubberTotal : total}
                position={replay}
                onChange={setReplay}
              />
              <Timeline
                messages={feed.store.messages}
                limit={limit}
                version={feed.version}
                filter={filter}
                agents={membership.ids}
                groups={membership.groups}
                selectedId={selectedId}
                onFilterChange={setFilter}
                onSelect={selectMessage}
                streams={replay === null ? streams : []}
                selectedStream={selectedStream}
                onSelectStream={selectStream}
              />
            </>
          )}
        </div>
        <div className="column right">
          {room && !roomMissing && (
            <>
              {selectedLive ? (
                <StreamInspector stream={selectedLive} onSelectMessage={selectMessage} />
              ) : (
                <Inspector
                  message={selected}
                  memberIds={membership.ids}
                  conversation={conversation}
                  onSelect={selectMessage}
                  onFilterThread={filterByThread}
                />
              )}
              <Composer
                client={client}
                room={room}
                policy={detail.data?.policy ?? null}
                membership={membership}
                selected={selected}
                onSent={selectSent}
              />
            </>
          )}
          <MetricsPanel metrics={metrics} room={room} />
        </div>
      </main>
    </div>
  );
}
