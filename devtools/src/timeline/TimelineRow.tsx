/** One message in the timeline: id, time, sender → recipients, policy, the message it answers, its kind and a line of content. */
import { memo } from 'react';
import type { StoredMessage } from '../api/types.js';
import { contentPreview, formatTime } from '../ui/format.js';
import { policyColor } from '../ui/policy.js';

export interface TimelineRowProps {
  message: StoredMessage;
  selected: boolean;
  top: number;
  height: number;
  onSelect(id: number): void;
}

function recipientsText(message: StoredMessage): string {
  const requested = message.routing.requested;
  const resolved = message.recipients.length;
  if (requested && requested.length > 0) return `${requested.join(', ')} (${resolved})`;
  return `all (${resolved})`;
}

export const TimelineRow = memo(function TimelineRow({ message, selected, top, height, onSelect }: TimelineRowProps) {
  return (
    <button
      type="button"
      className={`timeline-row${selected ? ' selected' : ''}`}
      data-testid="timeline-row"
      data-id={message.id}
      style={{ transform: `translateY(${top}px)`, height }}
      onClick={() => onSelect(message.id)}
    >
      <span className="id mono">#{message.id}</span>
      <span className="time mono">{formatTime(message.timestamp)}</span>
      <span className="who mono">
        {message.sender} → {recipientsText(message)}
      </span>
      <span className="policy-tag" style={{ background: policyColor(message.routing.policy) }}>
        {message.routing.policy}
      </span>
      {message.inReplyTo !== undefined && (
        <span className="reply-mark mono" data-testid="timeline-reply-mark" title={`in reply to #${message.inReplyTo}`}>
          ↩ #{message.inReplyTo}
        </span>
      )}
      {typeof message.metadata?.kind === 'string' && (
        <span className="kind-tag mono" data-testid="timeline-kind">
          {message.metadata.kind}
        </span>
      )}
      <span className="content">{contentPreview(message, message.content)}</span>
    </button>
  );
});
