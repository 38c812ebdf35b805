import { MessageBusError } from '../../core/errors.js';
import { checkMaxMessages } from '../kit/index.js';

export const NAME = 'redis';

/**
 * The part of a node-redis (v4/v5) client this backend uses. Pass your own
 * client as `{ client }` to share its connection settings (TLS, auth); the
 * backend then never closes it.
 */
export interface RedisClientLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  sendCommand(args: string[]): Promise<unknown>;
  duplicate(): RedisClientLike;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  /** With the listener: node-redis then knows a subscribe issued before the reply needs a SUBSCRIBE of its own. */
  unsubscribe(channel: string, listener?: (message: string) => void): Promise<unknown>;
  on(event: 'error' | 'ready' | 'end' | 'reconnecting', listener: (...args: unknown[]) => void): unknown;
  /** node-redis 5 (closes at once); node-redis 4 has `disconnect` instead. */
  destroy?(): void;
  disconnect?(): Promise<unknown>;
}

/** PEM text or bytes (a Node `Buffer` is a `Uint8Array`). */
export type PemInput = string | Uint8Array;

/**
 * TLS settings for a `rediss://` url, passed through to Node's `tls.connect`. The server certificate is always
 * verified (there is deliberately no way to turn that off): against `ca` when given, else the system's CAs.
 */
export interface RedisTlsOptions {
  /** The CA certificate(s) that signed the server's certificate. */
  ca?: PemInput | readonly PemInput[];
  /** A client certificate, for servers that require one (`tls-auth-clients yes`). */
  cert?: PemInput;
  /** The client certificate's private key. */
  key?: PemInput;
  /** The name the server certificate must carry, when it differs from the url's host (e.g. connecting by IP). */
  servername?: string;
}

/** Options of `RedisStorageBackend`: a `url` (the backend connects and reconnects itself) or a node-redis `client`. */
export interface RedisStorageOptions {
  /**
   * e.g. `redis://127.0.0.1:6379`, or `rediss://user:password@redis.internal:6380` for TLS and a Redis ACL user
   * (URL-encode special characters of the password).
   */
  url?: string;
  /** TLS settings; needs a `rediss://` url. */
  tls?: RedisTlsOptions;
  /** An existing node-redis client (connected or not), with its own connection settings. */
  client?: RedisClientLike;
  /** Prefix of every key. Default `mmb:`. */
  keyPrefix?: string;
  /** Keep at most this many messages per room, trimming the oldest. Default: keep all. */
  maxMessages?: number;
  /**
   * Longest wait for any operation (connecting included), in ms; then it fails with `STORAGE_FAILURE`.
   * Default 2000. A send that times out has an unknown outcome: retry it with the same `idempotencyKey`.
   */
  commandTimeoutMs?: number;
}

/** The options after validation, with defaults applied. */
export interface ResolvedOptions {
  url: string | undefined;
  tls: RedisTlsOptions | undefined;
  client: RedisClientLike | undefined;
  prefix: string;
  maxMessages: number;
  timeoutMs: number;
}

const TLS_KEYS = new Set(['ca', 'cert', 'key', 'servername']);

/** Checks the options, throwing `INVALID_ARGUMENT` with what to change. */
export function resolveOptions(options: RedisStorageOptions): ResolvedOptions {
  const { url, tls, client, keyPrefix = 'mmb:', maxMessages, commandTimeoutMs = 2000 } = options ?? {};
  const invalid = (message: string) => new MessageBusError('INVALID_ARGUMENT', `[${NAME}] ${message}`);
  if ((url === undefined) === (client === undefined)) {
    throw invalid(`pass exactly one of { url: 'redis://host:6379' } or { client } (a node-redis client)`);
  }
  if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\//.test(url))) {
    // The url may hold a password: name the scheme, never echo the url.
    throw invalid(`url must start with redis:// or rediss://; got ${typeof url === 'string' ? `"${url.split(':')[0]}:…"` : typeof url}`);
  }
  if (client !== undefined && typeof client?.sendCommand !== 'function') {
    throw invalid('client must be a node-redis client (from createClient)');
  }
  if (tls !== undefined) checkTls(tls, url, client, invalid);
  if (typeof keyPrefix !== 'string' || /[{}]/.test(keyPrefix)) {
    throw invalid(`keyPrefix must be a string without braces (they are the room's hash tag)`);
  }
  checkMaxMessages(NAME, maxMessages);
  if (!Number.isInteger(commandTimeoutMs) || commandTimeoutMs < 1) {
    throw invalid(`commandTimeoutMs must be a positive integer; got ${commandTimeoutMs}`);
  }
  return { url, tls, client, prefix: keyPrefix, maxMessages: maxMessages ?? 0, timeoutMs: commandTimeoutMs };
}

function checkTls(
  tls: RedisTlsOptions,
  url: string | undefined,
  client: RedisClientLike | undefined,
  invalid: (message: string) => MessageBusError,
): void {
  if (client !== undefined) throw invalid('tls applies to a url; configure TLS on the client you pass instead');
  if (!url?.startsWith('rediss://')) throw invalid('tls needs a rediss:// url (redis:// is plain TCP)');
  if (typeof tls !== 'object' || tls === null) throw invalid('tls must be an object { ca, cert, key, servername }');
  for (const key of Object.keys(tls)) {
    if (!TLS_KEYS.has(key)) {
      throw invalid(`tls.${key} is not supported: pass only ca, cert, key and servername (certificates are always verified)`);
    }
  }
  const pem = (value: unknown) => typeof value === 'string' || value instanceof Uint8Array;
  const { ca, cert, key, servername } = tls;
  if (ca !== undefined && !(pem(ca) || (Array.isArray(ca) && ca.length > 0 && ca.every(pem)))) {
    throw invalid('tls.ca must be PEM text or bytes (a string or Buffer), or a non-empty array of them');
  }
  if (cert !== undefined && !pem(cert)) throw invalid('tls.cert must be PEM text or bytes (a string or Buffer)');
  if (key !== undefined && !pem(key)) throw invalid('tls.key must be PEM text or bytes (a string or Buffer)');
  if ((cert === undefined) !== (key === undefined)) throw invalid('tls.cert and tls.key go together: pass both or neither');
  if (servername !== undefined && (typeof servername !== 'string' || servername === '')) {
    throw invalid('tls.servername must be a non-empty host name');
  }
}
