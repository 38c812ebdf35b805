import { MessageBusError } from './errors.js';
import type { Audience, RoomView, RoutableMessage, RoutingPolicy } from './types.js';

/** A routing outcome the bus can store. */
export interface Routed {
  readonly recipients: string[];
  readonly audience: Audience;
}

/**
 * Runs a policy and checks what it returned. Typed errors from the policy pass
 * through (`UNKNOWN_RECIPIENT`, ...); anything else it throws, and any result
 * that is not a list of member ids, becomes `ROUTING_FAILED`.
 */
export function routeMessage(policy: RoutingPolicy, message: RoutableMessage, view: RoomView): Routed | Promise<Routed> {
  let result: unknown;
  try {
    result = policy.route(message, view);
  } catch (error) {
    throw policyThrew(policy, error);
  }
  // Synchronous policies (the built-in ones) skip a microtask per send.
  if (
    result instanceof Promise ||
    (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function')
  ) {
    return Promise.resolve(result).then(
      (value) => checkResult(policy, message, view, value),
      (error) => {
        throw policyThrew(policy, error);
      },
    );
  }
  return checkResult(policy, message, view, result);
}

function policyThrew(policy: RoutingPolicy, error: unknown): MessageBusError {
  if (MessageBusError.is(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new MessageBusError('ROUTING_FAILED', `routing policy "${policy.name}" threw: ${reason}`, { cause: error });
}

/** Every member but (maybe) the sender, cached per view and sender: broadcasts in a stable room cost O(1) here. */
const audiences = new WeakMap<RoomView, Map<string | null, Routed>>();

function audienceOf(view: RoomView, audience: 'members' | 'members-except-sender', sender: string): Routed {
  let bySender = audiences.get(view);
  if (!bySender) audiences.set(view, (bySender = new Map()));
  // `null` for everyone: no agent id is null.
  const key = audience === 'members' ? null : sender;
  let routed = bySender.get(key);
  if (!routed) {
    const list: string[] = [];
    for (const member of view.members) if (member.id !== key) list.push(member.id);
    routed = Object.freeze({ recipients: Object.freeze(list) as string[], audience });
    bySender.set(key, routed);
  }
  return routed;
}

/**
 * Checked recipient lists per view: a policy that keeps answering with the same members (a subgroup policy
 * sending to the same groups) costs a lookup and a comparison instead of a check, a dedupe and a sort. Keyed by
 * the answer's first id; an entry matches only an answer with exactly the same ids in the same order. A view
 * stands for one membership, so a list checked against it stays valid for as long as the view is used.
 */
const checkedLists = new WeakMap<RoomView, Map<string, CheckedList[]>>();
/** Answers remembered per view and first id; past that, that bucket starts afresh. */
const MAX_CHECKED_LISTS = 64;

interface CheckedList {
  /** The policy's answer, as given. */
  answer: readonly string[];
  /** Sorted, unique, frozen: shared by every draft that gets it (the bus and the backends never mutate it). */
  recipients: string[];
}

/**
 * Frozen answers already checked, by identity: a policy that keeps its answers (the subgroup policy, per group and
 * view) costs one lookup. Frozen means the list cannot have changed since; the view must be the same membership.
 */
const checkedFrozen = new WeakMap<readonly unknown[], { view: RoomView; routed: Routed }>();

function checkResult(policy: RoutingPolicy, message: RoutableMessage, view: RoomView, result: unknown): Routed {
  if (Array.isArray(result)) {
    // `Object.isFrozen` on an array is a runtime call: asked only when neither identity below answers it.
    if (result.length === 1) {
      const id = checkMember(policy, view, result[0]);
      // A frozen answer (the individual policy returns the bus's frozen snapshot of the request) is shared as it is.
      const frozen = result === message.recipients || Object.isFrozen(result);
      return { recipients: frozen ? (result as string[]) : [id], audience: 'list' };
    }
    // Only frozen answers are remembered, and a frozen array stays frozen.
    const known = checkedFrozen.get(result);
    if (known?.view === view) return known.routed;
    if (Object.isFrozen(result)) {
      const routed = Object.freeze(checkList(policy, view, result));
      checkedFrozen.set(result, { view, routed });
      return routed;
    }
    return checkList(policy, view, result);
  }
  if (result !== null && typeof result === 'object') {
    const audience = (result as { audience?: unknown }).audience;
    if (audience === 'members' || audience === 'members-except-sender') {
      return audienceOf(view, audience, message.sender);
    }
  }
  throw new MessageBusError(
    'ROUTING_FAILED',
    `routing policy "${policy.name}" must return an array of agent ids or { audience }; got ${describe(result)}`,
  );
}

/** A list answer of several ids (or none), checked, deduplicated and sorted; remembered per view (see `checkedLists`). */
function checkList(policy: RoutingPolicy, view: RoomView, result: readonly unknown[]): Routed {
  const first = result.length === 0 ? '' : result[0];
  let lists = checkedLists.get(view);
  const bucket = typeof first === 'string' ? lists?.get(first) : undefined;
  const known = bucket?.find((entry) => sameIds(entry.answer, result));
  if (known) return { recipients: known.recipients, audience: 'list' };
  const seen = new Set<string>();
  for (const id of result) seen.add(checkMember(policy, view, id));
  const recipients = Object.freeze([...seen].sort()) as string[];
  if (typeof first === 'string') {
    if (!lists) checkedLists.set(view, (lists = new Map()));
    const entries = bucket && bucket.length < MAX_CHECKED_LISTS ? bucket : [];
    entries.push({ answer: Object.freeze([...(result as string[])]), recipients });
    lists.set(first, entries);
  }
  return { recipients, audience: 'list' };
}

function sameIds(a: readonly string[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `id`, if it names a member of the view; `ROUTING_FAILED` otherwise. */
function checkMember(policy: RoutingPolicy, view: RoomView, id: unknown): string {
  if (typeof id !== 'string' || !view.has(id)) {
    throw new MessageBusError(
      'ROUTING_FAILED',
      `routing policy "${policy.name}" returned ${JSON.stringify(id)}, which is not a member of room "${view.id}"`,
    );
  }
  return id;
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return typeof value;
  }
}
