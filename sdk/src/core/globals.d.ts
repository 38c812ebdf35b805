/**
 * The few globals the core relies on. Every target runtime (browsers, Node.js
 * 20+, workerd) provides them; declaring them here, instead of pulling in the
 * DOM or Node typings, makes the compiler reject any other runtime API in the core.
 */
declare var console: {
  debug(message?: unknown, ...args: unknown[]): void;
  info(message?: unknown, ...args: unknown[]): void;
  warn(message?: unknown, ...args: unknown[]): void;
  error(message?: unknown, ...args: unknown[]): void;
};
declare var performance: { now(): number };
declare function setTimeout(callback: () => void, ms?: number): unknown;
declare function clearTimeout(handle: unknown): void;
/** Random stream ids. Unlike `crypto.randomUUID`, this exists outside secure contexts (a page served over plain http). */
declare var crypto: { getRandomValues<T extends Uint8Array>(array: T): T };
