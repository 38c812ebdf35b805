/**
 * Sends a message as any member (admin only): pick the sender, name agents or
 * groups (empty = the policy's default audience), write content (JSON or text).
 * The result — the stored message's id and audience, or the refusal — is shown.
 */
import { type FormEvent, memo, useState } from 'react';
import type { ApiClient } from '../api/client.js';
import { ApiError } from '../api/errors.js';
import type { StoredMessage } from '../api/types.js';
import type { Membership } from '../hooks/useMembership.js';
import { Panel } from '../ui/Panel.js';
import { buildSendRequest } from './parse.js';

export interface ComposerProps {
  client: ApiClient;
  room: string;
  membership: Membership;
  onSent(message: StoredMessage): void;
}

type Outcome = { ok: true; message: StoredMessage } | { ok: false; code: string; text: string } | null;

export const Composer = memo(function Composer({ client, room, membership, onSent }: ComposerProps) {
  const { ids, online, groupNames: groups } = membership;
  const [sender, setSender] = useState('');
  const [recipients, setRecipients] = useState('');
  const [content, setContent] = useState('');
  const [idempotencyKey, setIdempotencyKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome>(null);
  const from = sender || ids[0] || '';

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setOutcome(null);
    try {
      const message = await client.send(room, buildSendRequest({ sender: from, recipients, content, idempotencyKey }));
      setOutcome({ ok: true, message });
      setContent('');
      setIdempotencyKey('');
      onSent(message);
    } catch (error) {
      const e = error instanceof ApiError ? error : new ApiError('server', 'CLIENT_ERROR', 0, String(error));
      setOutcome({ ok: false, code: e.code, text: e.message });
    } finally {
      setBusy(false);
    }
  };

  const addRecipient = (name: string) => setRecipients((r) => (r.trim() ? `${r.trim()}, ${name}` : name));

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
            placeholder="empty = policy default; agents or groups, comma separated"
            value={recipients}
            onChange={(e) => setRecipients(e.target.value)}
          />
          <datalist id="composer-recipient-options">
            {groups.map((g) => (
              <option key={`g:${g}`} value={g} />
            ))}
            {ids.map((id) => (
              <option key={id} value={id} />
            ))}
          </datalist>
        </label>
        {groups.length > 0 && (
          <div className="chips">
            {groups.map((g) => (
              <button type="button" key={g} className="chip" onClick={() => addRecipient(g)} data-testid={`composer-group-${g}`}>
                #{g}
              </button>
            ))}
          </div>
        )}
        <textarea
          aria-label="Content"
          data-testid="composer-content"
          placeholder='text, or JSON such as {"task": "summarise"}'
          rows={3}
          value={content}
          onChange={(e) => setContent(e.target.value)}
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
            Stored as #{outcome.message.id} → {outcome.message.recipients.length} recipient(s) by {outcome.message.routing.policy}.
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
