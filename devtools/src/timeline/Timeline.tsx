/**
 * Every message of the room (up to the replay point), virtualised: only the
 * rows in view exist in the DOM, so 100,000 messages scroll like 100. While
 * "follow" is on, the view sticks to the newest message.
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { StoredMessage } from '../api/types.js';
import type { LiveStream } from '../state/stream-store.js';
import { StreamRows } from '../streams/StreamRows.js';
import { Panel } from '../ui/Panel.js';
import { FilterCache, rowOf, type TimelineFilter } from './filter.js';
import { TimelineFilters } from './TimelineFilters.js';
import { TimelineRow } from './TimelineRow.js';

export interface TimelineProps {
  messages: readonly StoredMessage[];
  limit: number;
  /** Changes whenever `messages` grew. */
  version: number;
  filter: TimelineFilter;
  agents: readonly string[];
  groups: ReadonlyMap<string, readonly string[]>;
  selectedId: number | null;
  onFilterChange(filter: TimelineFilter): void;
  onSelect(id: number): void;
  /** Streams in flight and lately aborted: shown below the stored messages, growing live. */
  streams: readonly LiveStream[];
  selectedStream: string | null;
  onSelectStream(streamId: string): void;
}

const ROW_HEIGHT = 28;

export function Timeline({
  messages,
  limit,
  version,
  filter,
  agents,
  groups,
  selectedId,
  onFilterChange,
  onSelect,
  streams,
  selectedStream,
  onSelectStream,
}: TimelineProps) {
  const cache = useRef(new FilterCache()).current;
  const groupMembers = useMemo(() => new Set(groups.get(filter.group) ?? []), [groups, filter.group]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `version` marks growth of the shared `messages` array.
  const indexes = useMemo(() => cache.compute(messages, limit, filter, groupMembers), [version, limit, filter, groupMembers]);

  const scroller = useRef<HTMLDivElement>(null);
  const [follow, setFollow] = useState(true);
  const virtualizer = useVirtualizer({
    count: indexes.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });

  // Following: jump straight to the bottom after each render. One scrollTop write instead of the virtualizer's
  // scrollToIndex, which measures and re-checks the position over several frames (costly at 100 messages/s).
  useLayoutEffect(() => {
    const el = scroller.current;
    if (follow && el && indexes.length > 0) el.scrollTop = indexes.length * ROW_HEIGHT;
  }, [follow, indexes]);

  // ...and after the panel changes size (the graph hidden or shown, the window resized).
  const followRef = useRef(follow);
  followRef.current = follow;
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const observer = new ResizeObserver(() => {
      if (followRef.current) el.scrollTop = el.scrollHeight;
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  // A message selected elsewhere (the inspector's "in reply to #n", a reply) is scrolled into view; that stops
  // following, or the next render would jump back to the newest message.
  const shownSelection = useRef<number | null>(null);
  useEffect(() => {
    const el = scroller.current;
    if (selectedId === null || selectedId === shownSelection.current || !el) return;
    shownSelection.current = selectedId;
    const row = rowOf(messages, indexes, selectedId);
    if (row < 0) return;
    const top = row * ROW_HEIGHT;
    if (top >= el.scrollTop && top + ROW_HEIGHT <= el.scrollTop + el.clientHeight) return;
    setFollow(false);
    virtualizer.scrollToIndex(row, { align: 'center' });
  }, [selectedId, messages, indexes, virtualizer]);

  // Scrolling up by hand stops following; scrolling back to the bottom resumes it. A layout change (the graph
  // hidden, the window resized) moves no scroll position up, so it never turns following off.
  const lastTop = useRef(0);
  const onScroll = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < ROW_HEIGHT * 1.5;
    if (atBottom) setFollow(true);
    else if (el.scrollTop < lastTop.current) setFollow(false);
    lastTop.current = el.scrollTop;
  }, []);

  return (
    <Panel
      title={`Timeline · ${indexes.length.toLocaleString()} of ${limit.toLocaleString()}`}
      testId="timeline"
      className="timeline-panel"
      actions={
        <label className="follow">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} data-testid="timeline-follow" /> follow
        </label>
      }
    >
      <TimelineFilters filter={filter} agents={agents} groups={[...groups.keys()].sort()} onChange={onFilterChange} />
      <div className="timeline-scroll" ref={scroller} onScroll={onScroll} data-testid="timeline-scroll">
        {indexes.length === 0 ? (
          <p className="muted" data-testid="timeline-empty">
            {limit === 0
              ? streams.length > 0
                ? 'No stored message yet: a stream is being written below.'
                : 'No messages in this room yet. Send one with the composer.'
              : 'No message matches the filter.'}
          </p>
        ) : (
          <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
            {virtualizer.getVirtualItems().map((item) => {
              const message = messages[indexes[item.index] as number] as StoredMessage;
              return (
                <TimelineRow
                  key={message.id}
                  message={message}
                  selected={message.id === selectedId}
                  top={item.start}
                  height={ROW_HEIGHT}
                  onSelect={onSelect}
                />
              );
            })}
          </div>
        )}
      </div>
      <StreamRows streams={streams} selected={selectedStream} onSelect={onSelectStream} />
    </Panel>
  );
}
