/**
 * The routing decision of one message (policy, what the sender asked for, who
 * it resolved to, idempotency key and timestamps) and its conversation: what it
 * answers, its thread, its replies and its metadata.
 */
import { memo } from 'react';
import type { StoredMessage } from '../api/types.js';
import { Panel } from '../ui/Panel.js';
import { policyColor } from '../ui/policy.js';
import { ConversationFacts } from './ConversationFacts.js';
import type { ConversationFacts as Facts } from './conversation-facts.js';

export interface InspectorProps {
  message: StoredMessage | null;
  /** Members who were not among the recipients, to show who the policy left out. */
  memberIds: readonly string[];
  /** The selected message's conversation (`conversationFacts`); `null` with no message. */
  conversation: Facts | null;
  /** Selects another message (the one answered, a reply). */
  onSelect(id: number): void;
  /** Filters the timeline to one thread. */
  onFilterThread(thread: number): void;
}

export const Inspector = memo(function Inspector({ message, memberIds, conversation, onSelect, onFilterThread }: InspectorProps) {
  if (!message) {
    return (
      <Panel title="Inspector" testId="inspector">
        <p className="muted">Click a message in the timeline to see how it was routed.</p>
      </Panel>
    );
  }
  const requested = message.routing.requested;
  const excluded = memberIds.filter((id) => id !== message.sender && !message.recipients.includes(id));
  return (
    <Panel title={`Inspector · #${message.id}`} testId="inspector">
      <dl className="facts">
        <dt>Sender</dt>
        <dd className="mono" data-testid="inspector-sender">
          {message.sender}
        </dd>
        <dt>Policy</dt>
        <dd data-testid="inspector-policy" style={{ color: policyColor(message.routing.policy) }}>
          {message.routing.policy}
        </dd>
        <dt>Requested</dt>
        <dd className="mono" data-testid="inspector-requested">
          {requested === null ? 'nothing (policy default)' : requested.join(', ')}
        </dd>
        <dt>Resolved to</dt>
        <dd className="mono" data-testid="inspector-recipients">
          {message.recipients.length === 0 ? 'nobody' : message.recipients.join(', ')}{' '}
          <span className="muted">({message.recipients.length})</span>
        </dd>
        {excluded.length > 0 && (
          <>
            <dt>Not routed to</dt>
            <dd className="mono muted" data-testid="inspector-excluded">
              {excluded.length > 20 ? `${excluded.slice(0, 20).join(', ')} … (+${excluded.length - 20})` : excluded.join(', ')}
            </dd>
          </>
        )}
        <dt>Idempotency key</dt>
        <dd className="mono" data-testid="inspector-idempotency">
          {message.idempotencyKey ?? '—'}
        </dd>
        <dt>Accepted</dt>
        <dd className="mono" data-testid="inspector-timestamp">
          {new Date(message.timestamp).toISOString()} <span className="muted">({message.timestamp})</span>
        </dd>
        <dt>Room · id</dt>
        <dd className="mono">
          {message.room} · {message.id}
        </dd>
      </dl>
      {conversation && <ConversationFacts message={message} facts={conversation} onSelect={onSelect} onFilterThread={onFilterThread} />}
      <pre className="content-json" data-testid="inspector-content">
        {JSON.stringify(message.content, null, 2)}
      </pre>
    </Panel>
  );
});
