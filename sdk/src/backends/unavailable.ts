import { MessageBusError } from '../core/errors.js';

/**
 * A stand-in exported where a backend cannot run (the Redis backend in a
 * browser bundle, say), so one import line works everywhere and the mistake
 * is reported by name at construction instead of as a bundler error.
 */
export function unavailableBackend(name: string, runtime: string): new (...args: unknown[]) => never {
  return class {
    constructor() {
      throw new MessageBusError(
        'MISCONFIGURED',
        `[${name}] ${name} needs ${runtime}; it is not available in this runtime. Use InMemoryStorageBackend or a backend made for this runtime.`,
      );
    }
  } as unknown as new (
    ...args: unknown[]
  ) => never;
}
