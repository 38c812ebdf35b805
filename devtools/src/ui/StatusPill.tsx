/** The live feed's state in the header: live, connecting, reconnecting (with why), loading history. */
import type { RoomFeed } from '../hooks/useRoomFeed.js';

export interface StatusPillProps {
  status: RoomFeed['status'];
  problem: RoomFeed['problem'];
  onReconnect(): void;
}

const LABELS: Record<RoomFeed['status'], string> = {
  live: 'live',
  connecting: 'connecting…',
  reconnecting: 'reconnecting…',
  stopped: 'no room',
  'loading-history': 'loading history…',
};

export function StatusPill({ status, problem, onReconnect }: StatusPillProps) {
  return (
    <span
      className={`status-pill ${status}`}
      data-testid="feed-status"
      data-status={status}
      title={problem ? `${problem.code}: ${problem.message}` : undefined}
    >
      <span className="dot" /> {LABELS[status]}
      {status === 'live' && (
        <button type="button" className="link" onClick={onReconnect} title="Drop and reopen the live feed">
          ↻
        </button>
      )}
    </span>
  );
}
