/** A minimal typed event emitter; runtime-agnostic (no `node:events`). */
export class Emitter<Events extends Record<string, unknown[]>> {
  // biome-ignore lint/suspicious/noExplicitAny: listeners of different events share one map
  readonly #listeners = new Map<keyof Events, Set<(...args: any[]) => void>>();

  /** Adds a listener; returns a function that removes it. */
  on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  off<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): void {
    this.#listeners.get(event)?.delete(listener);
  }

  /** Calls listeners in order. A throwing listener is reported through `onListenerError` and the rest still run. */
  emit<E extends keyof Events>(event: E, args: Events[E], onListenerError: (error: unknown) => void): void {
    const set = this.#listeners.get(event);
    if (!set || set.size === 0) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        onListenerError(error);
      }
    }
  }

  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.size ?? 0;
  }
}
