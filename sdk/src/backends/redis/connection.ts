import { createHash } from 'node:crypto';
import { asStorageFailure, MessageBusError } from '../../core/errors.js';
import { closedError } from '../kit/index.js';
import { createRedisClient, describeConnectionError, loadRedis } from './client.js';
import { NAME, type RedisClientLike, type ResolvedOptions } from './options.js';

/**
 * The command connection of one backend: connects on first use, reconnects by itself, and bounds every
 * operation by `commandTimeoutMs`. Every failure becomes `STORAGE_FAILURE` naming the operation and, while
 * Redis is unreachable, the last connection error (a refused TLS certificate, a refused connection).
 */
export class RedisConnection {
  readonly #options: ResolvedOptions;
  readonly #onReady: () => void;
  readonly #beforeOther: () => void;
  #client: Promise<RedisClientLike> | undefined;
  /** The clients this backend created, reachable synchronously so `close` never waits on a hanging connect. */
  readonly #created = new Set<RedisClientLike>();
  readonly #shas = new Map<string, string>();
  /**
   * Scripts sent by EVAL on the current connection. A script's first call on a connection is an EVAL, which
   * loads it, and every later call goes by EVALSHA: it reaches Redis after that EVAL on the same connection, so
   * it never meets NOSCRIPT. (A NOSCRIPT answer would be retried as EVAL a round trip later, and a command the
   * process issued in between would overtake it.) Cleared on every (re)connection: Redis may have restarted.
   */
  readonly #loaded = new Set<string>();
  /** True between a `ready` and the next connection error: only then may an operation wait for a reply. */
  #ready = false;
  /** The last connection error since the client was last ready. */
  #lastError: unknown;
  /** Operations waiting for a connection (with what they do): a connection error fails them at once. */
  readonly #waiting = new Map<(error: MessageBusError) => void, string>();
  #closed = false;

  /**
   * `onReady` runs on every (re)connection: Redis may have restarted without its data, so caches are dropped.
   * `beforeOther` runs before every operation but an append: it sends the appends still queued for a group
   * commit, so Redis runs commands in the order the process issued them.
   */
  constructor(options: ResolvedOptions, onReady: () => void, beforeOther: () => void = () => {}) {
    this.#options = options;
    this.#onReady = onReady;
    this.#beforeOther = beforeOther;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs a script: by EVAL the first time on a connection, by EVALSHA after that (see `#loaded`). */
  script(operation: string, room: string, script: string, keys: string[], args: string[]): Promise<unknown> {
    let sha = this.#shas.get(script);
    if (!sha) this.#shas.set(script, (sha = createHash('sha1').update(script).digest('hex')));
    const tail = [String(keys.length), ...keys, ...args];
    return this.run(operation, room, async (client) => {
      if (!this.#loaded.has(script)) {
        this.#loaded.add(script);
        return client.sendCommand(['EVAL', script, ...tail]);
      }
      try {
        return await client.sendCommand(['EVALSHA', sha, ...tail]);
      } catch (error) {
        // Only if someone flushed Redis's script cache under a live connection (SCRIPT FLUSH).
        if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
        return client.sendCommand(['EVAL', script, ...tail]);
      }
    });
  }

  command(operation: string, args: string[]): Promise<unknown> {
    return this.run(operation, undefined, (client) => client.sendCommand(args));
  }

  /** Runs `body` with a connected client, bounded by `commandTimeoutMs`; every failure becomes `STORAGE_FAILURE`. */
  async run<T>(operation: string, room: string | undefined, body: (client: RedisClientLike) => Promise<T>): Promise<T> {
    if (operation !== 'append') this.#beforeOther();
    this.assertOpen();
    const what = room === undefined ? operation : `${operation} in room "${room}"`;
    // Loading node-redis (once) is not talking to Redis: it does not count against the timeout.
    if (!this.#options.client) await loadRedis();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let fail: ((error: MessageBusError) => void) | undefined;
    const failed = new Promise<never>((_, reject) => {
      fail = reject;
      timer = setTimeout(() => reject(this.#timedOut(operation, what)), this.#options.timeoutMs);
    });
    const give = fail as (error: MessageBusError) => void;
    try {
      const client = this.#connected();
      if (!this.#ready) {
        // Not connected: fail at once if the last attempt failed, else at the next failed attempt (or the timeout).
        if (this.#lastError !== undefined) give(this.#unreachable(what, this.#lastError));
        else this.#waiting.set(give, what);
      }
      return await Promise.race([client.then(body), failed]);
    } catch (error) {
      if (MessageBusError.is(error)) throw error;
      if (this.#lastError !== undefined && !this.#ready) throw this.#unreachable(what, this.#lastError, error);
      throw asStorageFailure(NAME, what, error);
    } finally {
      clearTimeout(timer);
      this.#waiting.delete(give);
    }
  }

  /** The connected command client (for `duplicate`); its failures are not bounded here. */
  client(): Promise<RedisClientLike> {
    return this.#connected();
  }

  /** Closes what `adopt` or this connection created, with the command client; further operations reject with `CLOSED`. */
  adopt(client: RedisClientLike): void {
    if (this.#closed) destroy(client);
    else this.#created.add(client);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const client of this.#created) destroy(client);
    this.#created.clear();
    for (const reject of this.#waiting.keys()) reject(closedError(NAME));
  }

  assertOpen(): void {
    if (this.#closed) throw closedError(NAME);
  }

  // --- internal helpers ---

  /** The command client, connected. A failed first connection is forgotten so the next operation tries again. */
  #connected(): Promise<RedisClientLike> {
    this.#client ??= this.#open().catch((error) => {
      this.#client = undefined;
      throw error;
    });
    return this.#client;
  }

  async #open(): Promise<RedisClientLike> {
    const { client: given, url, tls, timeoutMs } = this.#options;
    const client = given ?? (await createRedisClient(url as string, tls, timeoutMs, (error) => this.#connectionFailed(error)));
    if (this.#closed) throw closedError(NAME);
    if (given === undefined) this.#created.add(client);
    else client.on('error', (error) => this.#connectionFailed(error));
    client.on('ready', () => {
      this.#loaded.clear();
      this.#ready = true;
      this.#lastError = undefined;
      this.#onReady();
    });
    client.on('end', () => {
      this.#ready = false;
    });
    // node-redis retries a refused connection by itself: this resolves once connected, however long that takes.
    if (!client.isOpen) await client.connect();
    this.#ready = client.isReady;
    return client;
  }

  #connectionFailed(error: unknown): void {
    this.#ready = false;
    this.#lastError = error;
    if (this.#waiting.size === 0) return;
    for (const [reject, what] of this.#waiting) reject(this.#unreachable(what, error));
    this.#waiting.clear();
  }

  #unreachable(what: string, connectionError: unknown, cause: unknown = connectionError): MessageBusError {
    return new MessageBusError(
      'STORAGE_FAILURE',
      `[${NAME}] ${what} failed: Redis is unreachable: ${describeConnectionError(connectionError)}`,
      { cause },
    );
  }

  #timedOut(operation: string, what: string): MessageBusError {
    const appending = operation === 'append';
    const unknown = appending ? ' The outcome is unknown: it may have been stored. Retrying with the same idempotencyKey is safe.' : '';
    const last = this.#lastError === undefined ? '' : ` Last connection error: ${describeConnectionError(this.#lastError)}.`;
    return new MessageBusError(
      'STORAGE_FAILURE',
      `[${NAME}] ${what} timed out after ${this.#options.timeoutMs} ms: Redis did not answer.${last}${unknown}`,
      { details: { timeoutMs: this.#options.timeoutMs, outcomeUnknown: appending } },
    );
  }
}

function destroy(client: RedisClientLike): void {
  try {
    if (client.destroy) client.destroy();
    else void client.disconnect?.().catch(() => {});
  } catch {
    // Already closed.
  }
}
