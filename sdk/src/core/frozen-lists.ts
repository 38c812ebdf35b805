/**
 * Frozen values the bus hands to backends, made once and shared where it can:
 * freezing costs more than building (V8 freezes and checks an array's
 * elements in its runtime, ~100 ns a call on a small VM), and a direct send
 * to one agent, the common case, would otherwise freeze a new one-id list and
 * a new routing decision every time.
 */
import type { RoutingDecision } from './types.js';

/** One-id lists kept; past that the cache starts afresh, so any number of ids costs bounded memory. */
const MAX_SOLE_LISTS = 4096;
const soleLists = new Map<string, readonly string[]>();

/**
 * The frozen list `[id]`, the same array for the same id (while it is cached):
 * callers and backends never mutate a list, and a shared one lets them
 * remember by identity what they checked about it.
 */
export function soleList(id: string): readonly string[] {
  let list = soleLists.get(id);
  if (list === undefined) {
    if (soleLists.size >= MAX_SOLE_LISTS) soleLists.clear();
    list = Object.freeze([id]);
    soleLists.set(id, list);
  }
  return list;
}

/** Routing decisions made by `frozenRouting`: frozen with a frozen `requested`, so a backend may store them as they are. */
const frozenRoutings = new WeakSet<RoutingDecision>();

/** A frozen routing decision; `requested` must be frozen (the bus's snapshot of the sender's list, or `null`). */
export function frozenRouting(policy: string, requested: readonly string[] | null): RoutingDecision {
  const routing = Object.freeze({ policy, requested });
  frozenRoutings.add(routing);
  return routing;
}

/**
 * `true` when `routing` and its `requested` list are frozen: one lookup for a
 * decision `frozenRouting` made, else `Object.isFrozen` on both (a backend's
 * caller may build drafts by hand).
 */
export function isFrozenRouting(routing: RoutingDecision): boolean {
  return frozenRoutings.has(routing) || (Object.isFrozen(routing) && (routing.requested === null || Object.isFrozen(routing.requested)));
}
