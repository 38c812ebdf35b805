/** Streams in flight at the foot of the timeline: sender → recipients, a "streaming" (or "aborted") badge, the text as it grows. */
import { memo } from 'react';
import type { LiveStream } from '../state/stream-store.js';
import { StreamBadge } from './StreamBadge.js';

export interface StreamRowsProps {
  streams: readonly LiveStream[];
  selected: string | null;
  onSelect(streamId: string): void;
}

/** The end of the text: what was written last is what a reader watches. */
const TAIL = 140;

export const StreamRows = memo(function StreamRows({ streams, selected, onSelect }: StreamRowsProps) {
  if (streams.length === 0) return null;
  return (
    <div className="stream-rows" data-testid="stream-rows">
      {streams.map((stream) => (
        <button
          key={stream.streamId}
          type="button"
          className={`timeline-row stream-row ${stream.status}${stream.streamId === selected ? ' selected' : ''}`}
          data-testid="stream-row"
          data-stream-id={stream.streamId}
          data-status={stream.status}
          onClick={() => onSelect(stream.streamId)}
        >
          <StreamBadge stream={stream} />
          <span className="who mono">
            {stream.sender} → {stream.recipients.join(', ') || 'nobody'}
          </span>
          {typeof stream.metadata?.kind === 'string' && <span className="kind-tag mono">{stream.metadata.kind}</span>}
          <span className="content" data-testid="stream-text">
            {stream.text.length > TAIL ? `…${stream.text.slice(-TAIL)}` : stream.text}
          </span>
        </button>
      ))}
    </div>
  );
});
