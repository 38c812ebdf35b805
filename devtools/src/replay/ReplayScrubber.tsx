/**
 * Replays the room's history into the graph and the timeline up to a chosen
 * message: drag the slider, step one message at a time, or play it back.
 * "Live" returns to following the feed.
 */
import { useEffect, useState } from 'react';
import type { StoredMessage } from '../api/types.js';
import { formatTime } from '../ui/format.js';

export interface ReplayScrubberProps {
  messages: readonly StoredMessage[];
  total: number;
  /** Number of messages shown, or null when live. */
  position: number | null;
  onChange(position: number | null): void;
}

export function ReplayScrubber({ messages, total, position, onChange }: ReplayScrubberProps) {
  const [playing, setPlaying] = useState(false);
  const shown = position ?? total;
  const current = shown > 0 ? messages[shown - 1] : undefined;

  useEffect(() => {
    if (!playing) return;
    const timer = setInterval(() => {
      const next = (position ?? 0) + Math.max(1, Math.round(total / 200));
      if (next >= total) {
        setPlaying(false);
        onChange(null);
      } else onChange(next);
    }, 100);
    return () => clearInterval(timer);
  }, [playing, position, total, onChange]);

  const step = (by: number) => {
    setPlaying(false);
    const next = Math.min(total, Math.max(0, shown + by));
    onChange(next >= total ? null : next);
  };

  return (
    <div className={`replay${position !== null ? ' replaying' : ''}`} data-testid="replay">
      <button type="button" title="Back one message" onClick={() => step(-1)} disabled={shown === 0} data-testid="replay-back">
        ◀
      </button>
      <button
        type="button"
        title={playing ? 'Pause' : 'Play from the start'}
        onClick={() => {
          if (!playing && position === null) onChange(0);
          setPlaying(!playing);
        }}
        disabled={total === 0}
        data-testid="replay-play"
      >
        {playing ? '❚❚' : '▶'}
      </button>
      <button type="button" title="Forward one message" onClick={() => step(1)} disabled={position === null} data-testid="replay-forward">
        ▶|
      </button>
      <input
        type="range"
        aria-label="Replay position"
        data-testid="replay-slider"
        min={0}
        max={total}
        value={shown}
        onChange={(e) => {
          setPlaying(false);
          const next = Number(e.target.value);
          onChange(next >= total ? null : next);
        }}
      />
      <span className="replay-label mono" data-testid="replay-label">
        {position === null
          ? `live · ${total} messages`
          : `replay ${shown}/${total}${current ? ` · up to #${current.id} ${formatTime(current.timestamp)}` : ''}`}
      </span>
      <button
        type="button"
        onClick={() => {
          setPlaying(false);
          onChange(null);
        }}
        disabled={position === null}
        data-testid="replay-live"
      >
        Live
      </button>
    </div>
  );
}
