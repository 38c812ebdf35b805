import { type ErrorCode, MessageBusError } from '../core/errors.js';

/** The two functions of a test runner the suites need; Vitest, Jest, Mocha and `node:test` all provide them. */
export interface TestApi {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void> | void, timeout?: number): void;
}

/** Takes `describe`/`it` from the options or from the globals a runner installs (Vitest with `globals`, Jest, Mocha). */
export function resolveTestApi(api: Partial<TestApi> | undefined): TestApi {
  const g = globalThis as unknown as Partial<TestApi>;
  const describe = api?.describe ?? g.describe;
  const it = api?.it ?? g.it;
  if (typeof describe !== 'function' || typeof it !== 'function') {
    throw new Error(
      '[modular-message-bus/testing] pass { describe, it } from your test runner (e.g. `import { describe, it } from "vitest"`)',
    );
  }
  return { describe, it };
}

/** Thrown by the suites' checks; the message says what was expected. */
export class ConformanceError extends Error {
  override name = 'ConformanceError';
}

/** Deep equality through JSON: stored messages are JSON data, so this is exact for them. */
export function assertEqual(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new ConformanceError(`${what}: expected ${e}, got ${a}`);
}

export function assert(condition: unknown, what: string): asserts condition {
  if (!condition) throw new ConformanceError(what);
}

/** Awaits `promise` and checks it rejects with a `MessageBusError` of `code`; returns the error. */
export async function assertRejects(promise: Promise<unknown>, code: ErrorCode, what: string): Promise<MessageBusError> {
  try {
    await promise;
  } catch (error) {
    if (MessageBusError.is(error, code)) return error;
    const got = MessageBusError.is(error) ? error.code : String(error);
    throw new ConformanceError(`${what}: expected MessageBusError ${code}, got ${got}`);
  }
  throw new ConformanceError(`${what}: expected MessageBusError ${code}, but it resolved`);
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new ConformanceError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
