/**
 * The room's membership (ids, online flags, groups) as one object whose
 * identity changes only when membership does — not when cursors or lag move —
 * so the graph, the composer and the filters do not redraw on every poll.
 */
import { useMemo, useRef } from 'react';
import type { AgentState } from '../api/types.js';

export interface Membership {
  ids: readonly string[];
  online: ReadonlyMap<string, boolean>;
  /** Group name → member ids, sorted by group name. */
  groups: ReadonlyMap<string, readonly string[]>;
  groupNames: readonly string[];
}

export function useMembership(members: readonly AgentState[] | null): Membership {
  const key = members ? members.map((m) => `${m.id}:${m.online ? 1 : 0}:${m.groups.join(',')}`).join('|') : '';
  const previous = useRef<{ key: string; value: Membership } | null>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` summarises `members`; the members array itself changes on every poll.
  return useMemo(() => {
    if (previous.current?.key === key) return previous.current.value;
    const list = members ?? [];
    const groups = new Map<string, string[]>();
    for (const m of list) for (const g of m.groups) groups.set(g, [...(groups.get(g) ?? []), m.id]);
    const sorted = new Map([...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
    const value: Membership = {
      ids: list.map((m) => m.id),
      online: new Map(list.map((m) => [m.id, m.online])),
      groups: sorted,
      groupNames: [...sorted.keys()],
    };
    previous.current = { key, value };
    return value;
  }, [key]);
}
