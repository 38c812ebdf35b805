/**
 * Timeline filtering by agent, group, thread and text. The filter result is a list of
 * indexes into the store's array, extended incrementally as messages arrive so
 * 100 messages per second never re-filter 100,000.
 */
import type { StoredMessage } from '../api/types.js';
import { threadOf } from '../state/conversation.js';
import { contentPreview } from '../ui/format.js';

export interface TimelineFilter {
  /** Sender or recipient; '' for any. */
  agent: string;
  /** Messages addressed to the group or sent by one of its members; '' for any. */
  group: string;
  /** Case-insensitive text in the content or the sender; '' for any. */
  text: string;
  /** Only the messages of the thread with this root id; `null` for any. */
  thread: number | null;
}

export const EMPTY_FILTER: TimelineFilter = { agent: '', group: '', text: '', thread: null };

export function isEmptyFilter(filter: TimelineFilter): boolean {
  return filter.agent === '' && filter.group === '' && filter.text.trim() === '' && filter.thread === null;
}

/** `groupMembers`: the current members of `filter.group`. */
export function matchesFilter(message: StoredMessage, filter: TimelineFilter, groupMembers: ReadonlySet<string>): boolean {
  if (filter.thread !== null && threadOf(message) !== filter.thread) return false;
  if (filter.agent && message.sender !== filter.agent && !message.recipients.includes(filter.agent)) return false;
  if (filter.group && !(addresses(message, filter.group) || groupMembers.has(message.sender))) return false;
  const text = filter.text.trim().toLowerCase();
  if (text) {
    const haystack = `${message.sender} ${contentPreview(message, message.content)}`.toLowerCase();
    if (!haystack.includes(text)) return false;
  }
  return true;
}

/** The sender named the group: `research` (subgroup routing) or `#research` (addressed routing). */
function addresses(message: StoredMessage, group: string): boolean {
  const requested = message.routing.requested;
  return requested !== null && (requested.includes(group) || requested.includes(`#${group}`));
}

/**
 * Remembers the last result so a new call with the same filter only scans the
 * messages added since. `limit` is how many messages count (replay shows a prefix).
 */
export class FilterCache {
  #key = '';
  #scanned = 0;
  #indexes: number[] = [];

  compute(messages: readonly StoredMessage[], requested: number, filter: TimelineFilter, groupMembers: ReadonlySet<string>): number[] {
    const limit = Math.min(requested, messages.length);
    const key = JSON.stringify([filter, [...groupMembers].sort()]);
    if (key !== this.#key || limit < this.#scanned) {
      this.#key = key;
      this.#scanned = 0;
      this.#indexes = [];
    }
    if (limit === this.#scanned) return this.#indexes;
    const indexes = this.#indexes.slice();
    for (let i = this.#scanned; i < limit; i++) {
      if (matchesFilter(messages[i] as StoredMessage, filter, groupMembers)) indexes.push(i);
    }
    this.#scanned = limit;
    this.#indexes = indexes;
    return indexes;
  }
}

/**
 * Where the message with `id` sits among the filtered rows, or -1 when the
 * filter hides it. `indexes` ascend and so do the ids they point at: two binary searches.
 */
export function rowOf(messages: readonly StoredMessage[], indexes: readonly number[], id: number): number {
  let lo = 0;
  let hi = indexes.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const value = (messages[indexes[mid] as number] as StoredMessage).id;
    if (value === id) return mid;
    if (value < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
