import { MessageBusError } from './errors.js';
import type { Audience, RoomView, RoutableMessage, RoutingPolicy } from './types.js';

/** A routing outcome the bus can store. */
export interface Routed {
  recipients: string[];
  audience: Audience;
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
const audiences = new WeakMap<RoomView, Map<string, string[]>>();

function audienceOf(view: RoomView, sender: string | null): string[] {
  let bySender = audiences.get(view);
  if (!bySender) audiences.set(view, (bySender = new Map()));
  const key = sender ?? '';
  let list = bySender.get(key);
  if (!list) {
    list = [];
    for (const member of view.members) if (member.id !== sender) list.push(member.id);
    bySender.set(key, list);
  }
  return list;
}

function checkResult(policy: RoutingPolicy, message: RoutableMessage, view: RoomView, result: unknown): Routed {
  if (Array.isArray(result)) {
    const seen = new Set<string>();
    for (const id of result) {
      if (typeof id !== 'string' || !view.has(id)) {
        throw new MessageBusError(
          'ROUTING_FAILED',
          `routing policy "${policy.name}" returned ${JSON.stringify(id)}, which is not a member of room "${view.id}"`,
        );
      }
      seen.add(id);
    }
    const recipients = result.length === 1 ? [result[0] as string] : [...seen].sort();
    return { recipients, audience: 'list' };
  }
  if (result !== null && typeof result === 'object') {
    const audience = (result as { audience?: unknown }).audience;
    if (audience === 'members' || audience === 'members-except-sender') {
      return { recipients: audienceOf(view, audience === 'members' ? null : message.sender), audience };
    }
  }
  throw new MessageBusError(
    'ROUTING_FAILED',
    `routing policy "${policy.name}" must return an array of agent ids or { audience }; got ${describe(result)}`,
  );
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return typeof value;
  }
}
