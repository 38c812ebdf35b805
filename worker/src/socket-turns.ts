/**
 * Starts the room's socket events (frames, closes, errors) in arrival order,
 * those that arrive together in one batch.
 *
 * Why: the object's SQLite commits once per turn of its event loop (writes made
 * without real I/O in between are one implicit transaction), and that commit
 * costs several times an append's own statement. A client with frames in flight
 * has several delivered back to back; handled one per turn, each pays a commit,
 * handled in one turn they share it. Nothing else changes: each frame is
 * answered by the same code, started in the order the runtime delivered them (a
 * send is stored before its handler first waits, so ids follow that order, and a
 * close starts after the frames before it), and an `ok` still leaves only once
 * its write is durable (the runtime's output gate holds it until the commit).
 *
 * An event that finds the object idle starts at once, so a lone frame waits for
 * nothing. It opens a window until the next turn (`setTimeout(0)`): the events
 * the runtime delivers meanwhile wait in order, and start together when it ends.
 * A task is started, not awaited, before the next one starts, as the runtime
 * itself does with events: a `stream-end` may wait for a write that arrives after
 * it (write-order.ts), and that write must not wait for the end.
 */
export class SocketTurns {
  #pending: (() => Promise<void>)[] = [];
  #open = false;

  /** Starts `task` now when idle, else queues it behind the events before it for the window's batch. */
  run(task: () => Promise<void>): void {
    if (this.#open) {
      this.#pending.push(task);
      return;
    }
    this.#open = true;
    void settled(task);
    setTimeout(() => this.#startPending(), 0);
  }

  #startPending(): void {
    const batch = this.#pending;
    this.#pending = [];
    this.#open = false;
    for (const task of batch) void settled(task);
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
