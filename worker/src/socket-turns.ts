/**
 * Runs the room's socket events (frames, closes, errors) in arrival order, and
 * those that arrive together in one batch.
 *
 * Why: the object's SQLite commits once per turn of its event loop (writes made
 * without real I/O in between are one implicit transaction), and that commit
 * costs several times an append's own statement. A client with frames in flight
 * has several delivered back to back; handled one per turn, each pays a commit,
 * handled in one turn they share it. Nothing else changes: each frame is
 * answered by the same code, one after another, in the order the runtime
 * delivered them (a close waits behind the frames before it), and an `ok` still
 * leaves only once its write is durable (the runtime's output gate holds it
 * until the commit).
 *
 * An event that finds the object idle runs at once, so a lone frame waits for
 * nothing. It opens a window until the next turn (`setTimeout(0)`): the events
 * the runtime delivers meanwhile wait in order, and run together when it ends.
 */
export class SocketTurns {
  #pending: (() => Promise<void>)[] = [];
  /** The task started at once, which the window's batch waits for. */
  #first: Promise<void> | undefined;
  #open = false;

  /** Runs `task` now when idle, else queues it behind the events before it for the window's batch. */
  run(task: () => Promise<void>): void {
    if (this.#open) {
      this.#pending.push(task);
      return;
    }
    this.#open = true;
    this.#first = settled(task);
    setTimeout(() => void this.#drain(), 0);
  }

  async #drain(): Promise<void> {
    try {
      await this.#first;
      // Events that arrive while a task waits on real I/O join this batch, after the ones before them.
      while (this.#pending.length > 0) {
        const batch = this.#pending;
        this.#pending = [];
        for (const task of batch) await settled(task);
      }
    } finally {
      this.#first = undefined;
      this.#open = false;
    }
  }
}

/** Runs `task`; a task answers its own errors (an error frame), so anything left is a bug to log, not a reason to stop. */
async function settled(task: () => Promise<void>): Promise<void> {
  try {
    await task();
  } catch (error) {
    console.error('[mmb-worker] socket event failed:', error);
  }
}
