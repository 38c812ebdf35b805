/** The selected stream: its badge, sender and recipients, what it answers, its metadata, and all its text so far. */
import { memo } from 'react';
import type { LiveStream } from '../state/stream-store.js';
import { Panel } from '../ui/Panel.js';
import { StreamBadge } from './StreamBadge.js';

export interface StreamInspectorProps {
  stream: LiveStream;
  onSelectMessage(id: number): void;
}

export const StreamInspector = memo(function StreamInspector({ stream, onSelectMessage }: StreamInspectorProps) {
  return (
    <Panel title={`Inspector · stream ${stream.streamId.slice(0, 8)}`} testId="inspector">
      <dl className="facts">
        <dt>Status</dt>
        <dd data-testid="inspector-stream-status">
          <StreamBadge stream={stream} />
        </dd>
        <dt>Sender</dt>
        <dd className="mono" data-testid="inspector-sender">
          {stream.sender}
        </dd>
        <dt>Recipients</dt>
        <dd className="mono" data-testid="inspector-recipients">
          {stream.recipients.length === 0 ? 'nobody' : stream.recipients.join(', ')}{' '}
          <span className="muted">({stream.recipients.length})</span>
        </dd>
        {stream.inReplyTo !== undefined && (
          <>
            <dt>In reply to</dt>
            <dd>
              <button type="button" className="link" onClick={() => onSelectMessage(stream.inReplyTo as number)}>
                #{stream.inReplyTo}
              </button>
            </dd>
          </>
        )}
        <dt>Deltas</dt>
        <dd className="mono" data-testid="inspector-stream-seq">
          {stream.seq} <span className="muted">({stream.text.length.toLocaleString()} characters)</span>
        </dd>
        <dt>Stream id</dt>
        <dd className="mono">{stream.streamId}</dd>
        {stream.metadata && (
          <>
            <dt>Metadata</dt>
            <dd className="mono">{JSON.stringify(stream.metadata)}</dd>
          </>
        )}
      </dl>
      <pre className="content-json stream-text" data-testid="inspector-stream-text">
        {stream.text}
      </pre>
    </Panel>
  );
});
