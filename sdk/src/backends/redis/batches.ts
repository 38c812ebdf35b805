import type { MessageDraft } from '../../core/types.js';

/** One message's outcome in an append call: the script's three entries for it (scripts/append.ts). */
export interface AppendOutcome {
  readonly status: number;
  /** The id, or the current membership version for -3. */
  readonly result: number | string;
  /** The head line of a stored message, or a whole stored value. */
  readonly text: string;
}

/** An append waiting for the call that carries it. */
export interface QueuedAppend {
  readonly draft: MessageDraft;
  /** The membership version it was routed with ('' = not known). */
  readonly version: string;
  /** The sender and recipients are in the list of `version` (the script may skip their lookup). */
  readonly checked: boolean;
  readonly resolve: (outcome: AppendOutcome) => void;
  readonly reject: (error: unknown) => void;
}

/** Most messages in one script call: Redis runs a call without interruption, so a call stays short. */
const MAX_BATCH = 64;

/**
 * Group commit for the append script. Appends to one room issued in the same turn of the event loop (a
 * `Promise.all` of sends, several agents answering at once) go to Redis as one script call, which pays the fixed
 * cost of a call (parsing, the room's head read and write) once for all of them; each message is still
 * appended on its own, in order, with its own result. Nothing waits for a timer or for an earlier call: the call
 * leaves at the end of the current turn (a microtask), and any other operation of the backend sends what is
 * queued first, so Redis sees every command in the order the process issued it, as without batching.
 */
export class AppendBatches {
  readonly #send: (room: string, batch: readonly QueuedAppend[]) => void;
  #queues = new Map<string, QueuedAppend[]>();
  #scheduled = false;

  /** `send` issues one script call for `batch` (at most `MAX_BATCH` appends of `room`) and settles each. */
  constructor(send: (room: string, batch: readonly QueuedAppend[]) => void) {
    this.#send = send;
  }

  add(room: string, append: QueuedAppend): void {
    const queue = this.#queues.get(room);
    if (queue) queue.push(append);
    else this.#queues.set(room, [append]);
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.flush());
  }

  /** Sends every queued append now (before any other command, to keep the order they were issued in). */
  flush(): void {
    this.#scheduled = false;
    if (this.#queues.size === 0) return;
    const queues = this.#queues;
    this.#queues = new Map();
    for (const [room, queue] of queues) {
      for (let i = 0; i < queue.length; i += MAX_BATCH) this.#send(room, queue.slice(i, i + MAX_BATCH));
    }
  }
}
