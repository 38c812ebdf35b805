/** The timeline's filter bar: agent, group, thread and free text. */
import type { TimelineFilter } from './filter.js';

export interface TimelineFiltersProps {
  filter: TimelineFilter;
  agents: readonly string[];
  groups: readonly string[];
  onChange(filter: TimelineFilter): void;
}

export function TimelineFilters({ filter, agents, groups, onChange }: TimelineFiltersProps) {
  return (
    <div className="filters" data-testid="timeline-filters">
      <select
        aria-label="Filter by agent"
        data-testid="filter-agent"
        value={filter.agent}
        onChange={(e) => onChange({ ...filter, agent: e.target.value })}
      >
        <option value="">any agent</option>
        {filter.agent && !agents.includes(filter.agent) && <option value={filter.agent}>{filter.agent}</option>}
        {agents.map((a) => (
          <option key={a} value={a}>
            {a}
          </option>
        ))}
      </select>
      <select
        aria-label="Filter by group"
        data-testid="filter-group"
        value={filter.group}
        onChange={(e) => onChange({ ...filter, group: e.target.value })}
      >
        <option value="">any group</option>
        {groups.map((g) => (
          <option key={g} value={g}>
            #{g}
          </option>
        ))}
      </select>
      <input
        aria-label="Filter by thread"
        data-testid="filter-thread"
        className="thread-filter"
        type="number"
        min={1}
        placeholder="thread #"
        value={filter.thread ?? ''}
        onChange={(e) => {
          const value = Number.parseInt(e.target.value, 10);
          onChange({ ...filter, thread: Number.isSafeInteger(value) && value > 0 ? value : null });
        }}
      />
      {filter.thread !== null && (
        <button
          type="button"
          className="secondary small"
          onClick={() => onChange({ ...filter, thread: null })}
          data-testid="filter-thread-clear"
          aria-label="Show every thread"
        >
          all threads
        </button>
      )}
      <input
        aria-label="Filter by text"
        data-testid="filter-text"
        type="search"
        placeholder="text in content…"
        value={filter.text}
        onChange={(e) => onChange({ ...filter, text: e.target.value })}
      />
    </div>
  );
}
