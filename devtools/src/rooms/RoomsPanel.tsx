/** Every room of the deployment with its policy, members, online count, last id and message rate; click one to inspect it. */
import { memo } from 'react';
import type { RoomRow } from '../hooks/useRooms.js';
import { Panel } from '../ui/Panel.js';
import { policyColor } from '../ui/policy.js';

export interface RoomsPanelProps {
  rooms: RoomRow[] | null;
  selected: string | null;
  onSelect(room: string): void;
}

export const RoomsPanel = memo(function RoomsPanel({ rooms, selected, onSelect }: RoomsPanelProps) {
  return (
    <Panel title="Rooms" testId="rooms-panel">
      {rooms === null ? (
        <p className="muted">Loading rooms…</p>
      ) : rooms.length === 0 ? (
        <p className="muted" data-testid="rooms-empty">
          No rooms yet. A room appears when an agent connects to it (<code>POST /v1/rooms/:room/agents/:agent/connect</code>).
        </p>
      ) : (
        <table className="table rooms-table">
          <thead>
            <tr>
              <th>Room</th>
              <th>Policy</th>
              <th title="members">Mem.</th>
              <th title="online">On</th>
              <th title="last message id">Last</th>
              <th title="messages per second">msg/s</th>
            </tr>
          </thead>
          <tbody>
            {rooms.map((room) => (
              <tr
                key={room.room}
                data-testid={`room-row-${room.room}`}
                className={room.room === selected ? 'selected' : undefined}
                onClick={() => onSelect(room.room)}
                tabIndex={0}
                onKeyDown={(e) => e.key === 'Enter' && onSelect(room.room)}
                aria-selected={room.room === selected}
              >
                <td className="mono">{room.room}</td>
                <td>
                  <span className="policy" style={{ color: policyColor(room.policy) }}>
                    {room.policy ?? '—'}
                  </span>
                </td>
                <td>{room.members}</td>
                <td>{room.online}</td>
                <td>{room.lastId}</td>
                <td>{room.rate === null ? '…' : room.rate.toFixed(1)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
});
