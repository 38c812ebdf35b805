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
export async function routeMessage(policy: RoutingPolicy, message: RoutableMessage, view: RoomView): Promise<Routed> {
  let result: unknown;
  try {
    result = policy.route(message, view);
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') result = await result;
  } catch (error) {
    if (MessageBusError.is(error)) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new MessageBusError('ROUTING_FAILED', `routing policy "${policy.name}" threw: ${reason}`, { cause: error });
  }
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
      const recipients: string[] = [];
      for (const member of view.members) if (audience === 'members' || member.id !== message.sender) recipients.push(member.id);
      return { recipients, audience };
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
