/**
 * Sends a message as any member (admin only): pick the sender, name agents or
 * groups (empty = the policy's default audience; in an `addressed` room agents
 * and `#groups` mixed), write content (JSON or text) and optional metadata,
 * and optionally answer the selected message. The result — the stored
 * message's id and audience, or the refusal — is shown.
 */
import { type FormEvent, memo, useState } from 'react';
import type { ApiClient } from '../api/client.js';
import { ApiError } from '../api/errors.js';
import type { StoredMessage } from '../api/types.js';
import type { Membership } from '../hooks/useMembership.js';
import { Panel } from '../ui/Panel.js';
import { buildSendRequest, groupRecipient, replyDefaults } from './parse.js';

export interface ComposerProps {
  client: ApiClient;
  room: string;
  /** The room's routing policy: says how groups are written and which chips make sense. */
  policy: string | null;
  membership: Membership;
  /** The message selected in the timeline, which the composer can answer. */
  selected: StoredMessage | null;
  onSent(message: StoredMessage): void;
}

type Outcome = { ok: true; message: StoredMessage } | { ok: false; code: string; text: string } | null;

export const Composer = memo(function Composer({ client, room, policy, membership, selected, onSent }: ComposerProps) {
  const { ids, online, groupNames: groups } = membership;
  const [sender, setSender] = useState('');
  const [recipients, setRecipients] = useState('');
  const [content, setContent] = useState('');
  const [idempotencyKey, setIdempotencyKey] = useState('');
  const [metadata, setMetadata] = useState('');
  const [inReplyTo, setInReplyTo] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome>(null);
  const from = sender || ids[0] || '';

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setOutcome(null);
    try {
      const request = buildSendRequest({ sender: from, recipients, content, idempotencyKey, inReplyTo, metadata, policy });
      const message = await client.send(room, request);
      setOutcome({ ok: true, message });
      setContent('');
      setIdempotencyKey('');
      setInReplyTo(null);
      onSent(message);
    } catch (error) {
      const e =
        error instanceof ApiError
          ? error
          : new ApiError('server', 'CLIENT_ERROR', 0, error instanceof Error ? error.message : String(error));
      setOutcome({ ok: false, code: e.code, text: e.message });
    } finally {
      setBusy(false);
    }
  };

  const addRecipient = (name: string) => setRecipients((r) => (r.trim() ? `${r.trim()}, ${name}` : name));
  const replyToSelected = () => {
    if (!selected) return;
    const defaults = replyDefaults(selected, online, policy);
    if (defaults.sender) setSender(defaults.sender);
    setRecipients(defaults.recipients);
    setInReplyTo(selected.id);
  };
  const addressesAgents = policy === 'addressed' || policy === 'individual';
  const addressesGroups = policy !== 'individual' && policy !== 'broadcast';

  return (
    <Panel title="Composer" testId="composer">
      <form className="composer" onSubmit={submit}>
        <label>
          As
          <select aria-label="Sender" data-testid="composer-sender" value={from} onChange={(e) => setSender(e.target.value)}>
            {ids.map((id) => (
              <option key={id} value={id}>
                {id}
                {online.get(id) ? '' : ' (offline)'}
              </option>
            ))}
          </select>
        </label>
        <label>
          To
          <input
            aria-label="Recipients"
            data-testid="composer-recipients"
            list="composer-recipient-options"
            placeholder={
              policy === 'addressed'
                ? 'empty = everyone; agents and #groups, comma separated'
                : 'empty = policy default; agents or groups, comma separated'
            }
            value={recipients}
            onChange={(e) => setRecipients(e.target.value)}
          />
          <datalist id="composer-recipient-options">
            {groups.map((g) => (
              <option key={`g:${g}`} value={groupRecipient(g, policy)} />
            ))}
            {ids.map((id) => (
              <option key={id} value={id} />
            ))}
          </datalist>
        </label>
        {((addressesGroups && groups.length > 0) || (addressesAgents && ids.length > 0)) && (
          <div className="chips">
            {addressesGroups &&
              groups.map((g) => (
                <button
                  type="button"
                  key={`g:${g}`}
                  className="chip"
                  onClick={() => addRecipient(groupRecipient(g, policy))}
                  data-testid={`composer-group-${g}`}
                >
                  #{g}
                </button>
              ))}
            {addressesAgents &&
              ids
                .filter((id) => id !== from)
                .map((id) => (
                  <button
                    type="button"
                    key={`a:${id}`}
                    className="chip agent"
                    onClick={() => addRecipient(id)}
                    data-testid={`composer-agent-${id}`}
                  >
                    @{id}
                  </button>
                ))}
          </div>
        )}
        <div className="row reply-row">
          {inReplyTo === null ? (
            <button
              type="button"
              className="secondary small"
              disabled={!selected}
              onClick={replyToSelected}
              data-testid="composer-reply"
              title={selected ? `Answer message #${selected.id}` : 'Select a message in the timeline to answer it'}
            >
              {selected ? `Reply to #${selected.id}` : 'Reply to the selected message'}
            </button>
          ) : (
            <span className="chip reply" data-testid="composer-replying">
              ↩ replying to #{inReplyTo}{' '}
              <button
                type="button"
                className="link"
                onClick={() => setInReplyTo(null)}
                aria-label="Do not reply"
                data-testid="composer-reply-cancel"
              >
                ✕
              </button>
            </span>
          )}
        </div>
        <textarea
          aria-label="Content"
          data-testid="composer-content"
          placeholder='text, or JSON such as {"task": "summarise"}'
          rows={3}
          value={content}
          onChange={(e) => setContent(e.target.value)}
        />
        <input
          aria-label="Metadata"
          data-testid="composer-metadata"
          className="mono"
          placeholder='metadata (optional JSON object), e.g. {"kind": "tool_call"}'
          value={metadata}
          onChange={(e) => setMetadata(e.target.value)}
        />
        <div className="row">
          <input
            aria-label="Idempotency key"
            data-testid="composer-idempotency"
            placeholder="idempotency key (optional)"
            value={idempotencyKey}
            onChange={(e) => setIdempotencyKey(e.target.value)}
          />
          <button type="submit" disabled={busy || !from || content.trim() === ''} data-testid="composer-send">
            {busy ? 'Sending…' : 'Send'}
          </button>
        </div>
        {outcome?.ok && (
          <p className="ok-text" data-testid="composer-result">
            Stored as #{outcome.message.id} → {outcome.message.recipients.length} recipient(s) by {outcome.message.routing.policy}
            {outcome.message.inReplyTo === undefined ? '' : `, in reply to #${outcome.message.inReplyTo}`}.
          </p>
        )}
        {outcome && !outcome.ok && (
          <p className="error-text" data-testid="composer-error" data-code={outcome.code}>
            {outcome.code}: {outcome.text}
          </p>
        )}
        {ids.length === 0 && <p className="muted">Connect an agent first (Agents panel): only members can send.</p>}
      </form>
    </Panel>
  );
});
