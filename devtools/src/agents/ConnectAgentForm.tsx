/** Adds (or re-connects) an agent with groups, so a room can be set up from the dashboard. */
import { type FormEvent, useState } from 'react';
import type { ApiClient } from '../api/client.js';
import { ApiError } from '../api/errors.js';

export interface ConnectAgentFormProps {
  client: ApiClient;
  room: string;
  onConnected(): void;
}

export function ConnectAgentForm({ client, room, onConnected }: ConnectAgentFormProps) {
  const [agent, setAgent] = useState('');
  const [groups, setGroups] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const list = groups
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean);
    try {
      await client.connectAgent(room, agent.trim(), list.length ? list : undefined);
      setAgent('');
      setGroups('');
      onConnected();
    } catch (e) {
      setError(e instanceof ApiError ? `${e.code}: ${e.message}` : String(e));
    }
  };
  return (
    <form className="inline-form" onSubmit={submit} data-testid="connect-agent-form">
      <input aria-label="Agent id" placeholder="agent id" value={agent} onChange={(e) => setAgent(e.target.value)} />
      <input aria-label="Groups" placeholder="groups, comma separated" value={groups} onChange={(e) => setGroups(e.target.value)} />
      <button type="submit" disabled={!agent.trim()}>
        Connect
      </button>
      {error && <span className="error-text">{error}</span>}
    </form>
  );
}
