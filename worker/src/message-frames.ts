import type { RoutingDecision, StoredMessage } from 'modular-message-bus-library';
import { audienceRecipients } from 'modular-message-bus-library/client';
import type { AudienceFrame, MessageFrame, WireMessage } from './contract.js';

/** A message's frame, as text, and the audience a socket must have received before it (null: the list is inline). */
export interface EncodedMessage {
  text: string;
  audience: Audience | null;
}

/** A recipient list sent once per socket as an `audience` frame, then named by id in message frames. */
export interface Audience {
  id: number;
  /** The `audience` frame, as text. */
  text: string;
}

/** Shorter lists go inline: a few ids cost less than an extra frame per socket. */
const MIN_AUDIENCE = 8;
/** Audiences kept for reuse (a room alternating between a few lists, say broadcasts and one big subgroup). */
const MAX_AUDIENCES = 16;

/**
 * Encodes the room's `message` frames (MessageFrame in contract.ts, read back by the SDK's `FrameReader`):
 * every frame leaves out `room` (the socket's) and a root's `thread` (its own id), and a long recipient list is
 * replaced by the id of an audience, so each message is stringified once whichever socket gets it. An audience
 * is "the message's recipients plus its sender", in the stored order: a socket that receives a message learns no
 * id the message does not show it.
 * Broadcasts of one membership share one audience across senders, because the room lists members in one order.
 */
export class MessageFrames {
  /** Audiences by their member list (joined), oldest first. */
  readonly #audiences = new Map<string, AudienceEntry>();
  /** Storage backends share one recipients array between broadcasts of a membership: decide once per array. */
  readonly #byList = new WeakMap<readonly string[], Verdict | null>();
  #nextId = 1;

  /** The frame of `message` (one `JSON.stringify`). */
  encode(message: StoredMessage): EncodedMessage {
    const inline = wireFields(message);
    const verdict = this.#verdict(message.recipients, message.sender, message.routing);
    if (verdict) {
      const { audience, withSender } = verdict;
      // The audience frame carries the routing of the message that made it: a message routed alike leaves it out.
      const { recipients: _recipients, routing: _routing, ...rest } = inline;
      const wire = sameRouting(verdict.routing, message.routing) ? rest : { ...rest, routing: message.routing };
      const frame: MessageFrame = { type: 'message', audience: audience.id, ...(withSender ? { withSender: true } : {}), message: wire };
      return { text: JSON.stringify(frame), audience };
    }
    const frame: MessageFrame = { type: 'message', message: inline };
    return { text: JSON.stringify(frame), audience: null };
  }

  // --- internal helpers ---

  /** How `recipients` of a message from `sender` travel: as an audience, or inline (null). */
  #verdict(recipients: readonly string[], sender: string, routing: RoutingDecision): Verdict | null {
    if (recipients.length < MIN_AUDIENCE) return null;
    const known = this.#byList.get(recipients);
    // "All of the audience" holds whoever sends; "all but the sender" only for the sender it was checked for.
    if (known === null || (known && (known.withSender || known.sender === sender))) return known;
    const entry = this.#entry(withMember(recipients, sender), routing);
    const withSender = recipients.length === entry.members.length;
    // Lossless by the reader's own rule, or not sent this way.
    const verdict = sameList(audienceRecipients(entry.members, sender, withSender), recipients)
      ? { audience: entry.audience, withSender, sender, routing: entry.routing }
      : null;
    this.#byList.set(recipients, verdict);
    return verdict;
  }

  /** The audience of `members`, made with `routing` (the routing of the first message to name it) if it is new. */
  #entry(members: readonly string[], routing: RoutingDecision): AudienceEntry {
    const key = members.join('\n');
    let entry = this.#audiences.get(key);
    if (entry) {
      this.#audiences.delete(key); // re-inserted below as the newest
    } else {
      const id = this.#nextId++;
      const frame: AudienceFrame = { type: 'audience', audience: id, members: [...members], routing };
      entry = { audience: { id, text: JSON.stringify(frame) }, members, routing };
    }
    this.#audiences.set(key, entry);
    if (this.#audiences.size > MAX_AUDIENCES) this.#audiences.delete(this.#audiences.keys().next().value as string);
    return entry;
  }
}

/**
 * The message without `room` (the socket's) and, for a message that answers nothing, without `thread` (its own id):
 * `FrameReader` puts both back. The other fields keep their stored order.
 */
function wireFields(message: StoredMessage): WireMessage {
  if (message.thread === message.id) {
    const { room: _room, thread: _thread, ...wire } = message;
    return wire;
  }
  const { room: _room, ...wire } = message;
  return wire;
}

interface AudienceEntry {
  audience: Audience;
  members: readonly string[];
  /** Sent in the audience frame: the routing of the messages that name it and carry none. */
  routing: RoutingDecision;
}

interface Verdict {
  audience: Audience;
  withSender: boolean;
  /** The sender it was checked for. */
  sender: string;
  routing: RoutingDecision;
}

/** Same policy, and the same requested list (or none): what a reader rebuilds from the audience is exact. */
function sameRouting(a: RoutingDecision, b: RoutingDecision): boolean {
  if (a === b) return true;
  if (a.policy !== b.policy) return false;
  if (a.requested === null || b.requested === null) return a.requested === b.requested;
  return sameList(a.requested, b.requested);
}

/** `list` with `id` in its place when the list is sorted (as rooms list members), else at the end; `list` when it has it. */
function withMember(list: readonly string[], id: string): readonly string[] {
  if (list.includes(id)) return list;
  let at = list.length;
  for (let i = 0; i < list.length; i++) {
    if (i > 0 && (list[i - 1] as string) >= (list[i] as string)) {
      at = list.length; // not sorted: no canonical place
      break;
    }
    if (at === list.length && (list[i] as string) > id) at = i;
  }
  return [...list.slice(0, at), id, ...list.slice(at)];
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
