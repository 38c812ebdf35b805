/** The inspector's conversation block: "in reply to #n" (click to jump), the thread, the replies and the metadata. */
import type { StoredMessage } from '../api/types.js';
import { contentPreview } from '../ui/format.js';
import type { ConversationFacts as Facts } from './conversation-facts.js';

export interface ConversationFactsProps {
  message: StoredMessage;
  facts: Facts;
  onSelect(id: number): void;
  onFilterThread(thread: number): void;
}

/** Replies listed before the list says how many more there are. */
const SHOWN_REPLIES = 20;

export function ConversationFacts({ message, facts, onSelect, onFilterThread }: ConversationFactsProps) {
  const { parent, replies, thread, threadSize } = facts;
  return (
    <>
      <dl className="facts">
        <dt>In reply to</dt>
        <dd data-testid="inspector-in-reply-to">
          {parent === null ? (
            <span className="muted">nothing (starts a thread)</span>
          ) : parent.message ? (
            <button type="button" className="link" onClick={() => onSelect(parent.id)} data-testid="inspector-parent-link">
              in reply to #{parent.id}
            </button>
          ) : (
            <span className="mono">
              in reply to #{parent.id} <span className="muted">(not loaded)</span>
            </span>
          )}
          {parent?.message && <span className="muted"> · {parent.message.sender}</span>}
        </dd>
        <dt>Thread</dt>
        <dd className="mono" data-testid="inspector-thread">
          #{thread} <span className="muted">({threadSize} here)</span>{' '}
          {threadSize > 1 && (
            <button type="button" className="link" onClick={() => onFilterThread(thread)} data-testid="inspector-filter-thread">
              show only this thread
            </button>
          )}
        </dd>
        <dt>Replies</dt>
        <dd data-testid="inspector-replies">
          {replies.length === 0 ? (
            <span className="muted">none yet</span>
          ) : (
            <ul className="reply-list">
              {replies.slice(0, SHOWN_REPLIES).map((reply) => (
                <li key={reply.id}>
                  <button
                    type="button"
                    className="link"
                    onClick={() => onSelect(reply.id)}
                    data-testid="inspector-reply"
                    data-id={reply.id}
                  >
                    #{reply.id}
                  </button>{' '}
                  <span className="mono">{reply.sender}</span> <span className="muted">{contentPreview(reply, reply.content)}</span>
                </li>
              ))}
              {replies.length > SHOWN_REPLIES && <li className="muted">… and {replies.length - SHOWN_REPLIES} more</li>}
            </ul>
          )}
        </dd>
      </dl>
      {message.metadata !== undefined && (
        <>
          <h3 className="subheading">Metadata</h3>
          <pre className="content-json" data-testid="inspector-metadata">
            {JSON.stringify(message.metadata, null, 2)}
          </pre>
        </>
      )}
    </>
  );
}
