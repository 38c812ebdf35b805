/** "streaming" while a stream grows, "aborted: REASON" once given up. */
import type { LiveStream } from '../state/stream-store.js';

export function StreamBadge({ stream }: { stream: LiveStream }) {
  return stream.status === 'streaming' ? (
    <span className="stream-badge streaming" data-testid="stream-badge">
      streaming
    </span>
  ) : (
    <span className="stream-badge aborted" data-testid="stream-badge" title={`aborted: ${stream.reason ?? ''}`}>
      aborted · {stream.reason}
    </span>
  );
}
