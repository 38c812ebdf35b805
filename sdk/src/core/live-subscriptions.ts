/**
 * A bus's live subscriptions, and how a stored message reaches them. While
 * the bus hears the room's ids one after another (its own sends, a watching
 * backend's echo), a message is handed only to the subscriptions of its
 * recipients, and each is told that the ids it was not handed since the run
 * began were not routed to it: a direct send costs one notice, not one per
 * subscription. Any other id (a gap, an id out of order) goes to every
 * subscription, which fetches if it must, and starts a new run.
 */
import type { Subscription } from './subscription.js';
import type { StoredMessage } from './types.js';

const NONE: readonly Subscription[] = Object.freeze([]);

export class LiveSubscriptions {
  readonly #all = new Set<Subscription>();
  /** Per agent, rebuilt on change (never while a message is handed out): read by index, no iterator per send. */
  readonly #byAgent = new Map<string, readonly Subscription[]>();
  /**
   * The run: every id in (start, end] went to at least the subscriptions of its recipients, and the one at
   * `start` to every subscription. `NaN` before the first message: no id extends it.
   */
  #start = Number.NaN;
  #end = Number.NaN;

  get size(): number {
    return this.#all.size;
  }

  add(subscription: Subscription): void {
    this.#all.add(subscription);
    this.#byAgent.set(subscription.agentId, [...(this.#byAgent.get(subscription.agentId) ?? NONE), subscription]);
  }

  delete(subscription: Subscription): void {
    if (!this.#all.delete(subscription)) return;
    const left = (this.#byAgent.get(subscription.agentId) ?? NONE).filter((s) => s !== subscription);
    if (left.length === 0) this.#byAgent.delete(subscription.agentId);
    else this.#byAgent.set(subscription.agentId, left);
  }

  /** A copy: the caller may stop them as it goes. */
  list(): Subscription[] {
    return [...this.#all];
  }

  /** Hands a newly stored message to the subscriptions it concerns (see the file comment). */
  deliver(message: StoredMessage): void {
    const id = message.id;
    const recipients: unknown = message.recipients;
    if (id === this.#end + 1 && Array.isArray(recipients)) {
      this.#end = id;
      const start = this.#start;
      if (recipients.length < this.#all.size) {
        for (let i = 0; i < recipients.length; i++) {
          const subscriptions = this.#byAgent.get(recipients[i] as string);
          if (subscriptions) for (let j = 0; j < subscriptions.length; j++) (subscriptions[j] as Subscription).notify(message, start);
        }
      } else {
        for (const subscription of this.#all) subscription.notify(message, start);
      }
      return;
    }
    for (const subscription of this.#all) subscription.notify(message);
    this.#start = this.#end = id;
  }
}
