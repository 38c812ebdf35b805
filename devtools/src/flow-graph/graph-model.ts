/**
 * What the flow graph draws: one edge per (sender, target) pair with the number
 * of messages that took it. A target is the agent addressed, the group
 * addressed (the group node fans out to its members), or the room's
 * "everyone" node for a message that reached the whole room, so 200 agents
 * broadcasting draw 200 edges rather than 40,000. A reply also draws a reply
 * edge from its sender back to the sender of the message it answers, so a
 * request and its answer show as a pair.
 */
import type { StoredMessage } from '../api/types.js';

export const EVERYONE = 'room:everyone';
export const agentNode = (id: string): string => `agent:${id}`;
export const groupNode = (name: string): string => `group:${name}`;

export interface FlowEdgeStats {
  id: string;
  /** `message`: where messages went; `reply`: who answered whom. */
  kind: 'message' | 'reply';
  source: string;
  target: string;
  count: number;
  /** Policy of the latest message on this edge. */
  policy: string;
  lastId: number;
  lastAt: number;
}

export interface RoomShape {
  memberIds: ReadonlySet<string>;
  groupNames: ReadonlySet<string>;
}

/** Node ids a message is drawn to, from its sender. */
export function targetsOf(message: StoredMessage, room: RoomShape): string[] {
  const requested = message.routing.requested;
  if (requested === null || requested.length === 0) {
    const others = message.recipients.filter((r) => r !== message.sender).length;
    const roomSize = Math.max(room.memberIds.size - 1, 1);
    if (others >= 2 && others >= roomSize) return [EVERYONE];
    return message.recipients.filter((r) => r !== message.sender).map(agentNode);
  }
  const targets: string[] = [];
  for (const name of requested) {
    // `#name` is always a group (addressed routing): `#` is outside the id alphabet.
    if (name.startsWith('#')) targets.push(groupNode(name.slice(1)));
    // A name is a group when the room knows such a group and no agent of that name received the message.
    else if (room.groupNames.has(name) && !(room.memberIds.has(name) && message.recipients.includes(name))) targets.push(groupNode(name));
    else targets.push(agentNode(name));
  }
  return targets;
}

export const edgeId = (source: string, target: string): string => `e:${source}->${target}`;
export const replyEdgeId = (source: string, target: string): string => `r:${source}->${target}`;

/** Edge totals over `messages[0..limit)`, updated incrementally while `limit` only grows. */
export class FlowAggregate {
  readonly edges = new Map<string, FlowEdgeStats>();
  /** Agents seen as senders or recipients (members who left still get a node). */
  readonly agents = new Set<string>();
  /** Sender of each message counted so far, to find whom a reply answers. */
  readonly #senders = new Map<number, string>();
  #upTo = 0;
  #shapeKey = '';

  update(messages: readonly StoredMessage[], requested: number, room: RoomShape): boolean {
    const limit = Math.min(requested, messages.length);
    const shapeKey = `${[...room.groupNames].sort().join(',')}|${room.memberIds.size}`;
    if (limit < this.#upTo || shapeKey !== this.#shapeKey) {
      this.edges.clear();
      this.agents.clear();
      this.#senders.clear();
      this.#upTo = 0;
      this.#shapeKey = shapeKey;
    }
    if (limit === this.#upTo) return false;
    for (let i = this.#upTo; i < limit; i++) this.#add(messages[i] as StoredMessage, room);
    this.#upTo = limit;
    return true;
  }

  #add(message: StoredMessage, room: RoomShape): void {
    const source = agentNode(message.sender);
    this.agents.add(message.sender);
    this.#senders.set(message.id, message.sender);
    for (const recipient of message.recipients) this.agents.add(recipient);
    for (const target of targetsOf(message, room)) {
      if (target !== source) this.#count('message', edgeId(source, target), source, target, message);
    }
    // The answered message may be older than the loaded history: then there is no one to draw the reply to.
    const answered = message.inReplyTo === undefined ? undefined : this.#senders.get(message.inReplyTo);
    if (answered !== undefined && answered !== message.sender) {
      const target = agentNode(answered);
      this.#count('reply', replyEdgeId(source, target), source, target, message);
    }
  }

  #count(kind: FlowEdgeStats['kind'], id: string, source: string, target: string, message: StoredMessage): void {
    const edge = this.edges.get(id);
    if (edge) {
      edge.count++;
      edge.policy = message.routing.policy;
      edge.lastId = message.id;
      edge.lastAt = message.timestamp;
    } else {
      this.edges.set(id, {
        id,
        kind,
        source,
        target,
        count: 1,
        policy: message.routing.policy,
        lastId: message.id,
        lastAt: message.timestamp,
      });
    }
  }
}
