/** The selected room's members: online state, how they connected (MCP is marked), groups, acked cursor, lag and when each last sent. */
import { memo } from 'react';
import type { ApiClient } from '../api/client.js';
import type { AgentState } from '../api/types.js';
import { useNow } from '../hooks/useNow.js';
import { formatAgo } from '../ui/format.js';
import { Panel } from '../ui/Panel.js';
import { ConnectAgentForm } from './ConnectAgentForm.js';
import { ViaMcp } from './ViaMcp.js';

export interface AgentsPanelProps {
  client: ApiClient;
  room: string;
  members: AgentState[] | null;
  onFilterAgent(agent: string): void;
  onChanged(): void;
}

export const AgentsPanel = memo(function AgentsPanel({ client, room, members, onFilterAgent, onChanged }: AgentsPanelProps) {
  const now = useNow(2000);
  const online = members?.filter((m) => m.online).length ?? 0;
  return (
    <Panel title={members ? `Agents · ${online}/${members.length} online` : 'Agents'} testId="agents-panel" className="agents-panel">
      {members === null ? (
        <p className="muted">Loading members…</p>
      ) : members.length === 0 ? (
        <p className="muted">No members in this room.</p>
      ) : (
        <div className="scroll">
          <table className="table agents-table">
            <thead>
              <tr>
                <th>Agent</th>
                <th>Groups</th>
                <th title="acknowledged cursor">Ack</th>
                <th title="messages routed but not acknowledged">Lag</th>
                <th>Last sent</th>
                <th title="messages sent">Sent</th>
              </tr>
            </thead>
            <tbody>
              {members.map((m) => (
                <tr key={m.id} data-testid={`agent-row-${m.id}`} data-online={m.online}>
                  <td>
                    <button
                      type="button"
                      className="link mono"
                      title="Filter the timeline by this agent"
                      onClick={() => onFilterAgent(m.id)}
                    >
                      <span className={`dot ${m.online ? 'online' : 'offline'}`} role="img" aria-label={m.online ? 'online' : 'offline'} />
                      {m.id}
                    </button>
                    {m.via === 'mcp' && <ViaMcp agent={m.id} />}
                  </td>
                  <td className="groups">{m.groups.join(', ') || '—'}</td>
                  <td>{m.cursor}</td>
                  <td className={m.lag > 0 ? 'warn' : undefined}>{m.lag}</td>
                  <td>{formatAgo(m.lastSentAt, now)}</td>
                  <td>{m.sentCount}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ConnectAgentForm client={client} room={room} onConnected={onChanged} />
    </Panel>
  );
});
