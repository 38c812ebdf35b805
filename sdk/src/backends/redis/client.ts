import { optionalDependency } from '../kit/index.js';
import { NAME, type RedisClientLike, type RedisTlsOptions } from './options.js';

/** node-redis is an optional peer dependency: imported on first use, with a clear error when it is missing. */
export const loadRedis = optionalDependency(
  NAME,
  'RedisStorageBackend needs the "redis" package (node-redis): npm install redis',
  () => import('redis'),
);

/** A node-redis client for `url`; connection failures reach `onError` (node-redis reports them as events). */
export async function createRedisClient(
  url: string,
  tls: RedisTlsOptions | undefined,
  timeoutMs: number,
  onError: (error: unknown) => void,
): Promise<RedisClientLike> {
  const redis = await loadRedis();
  const client = redis.createClient({
    url,
    // Fail fast while disconnected instead of queueing: a queued send would run at some unknown later time.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: timeoutMs,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000),
      // Passed through to tls.connect as given (strings or Buffers); the url's rediss:// turns TLS on.
      ...(tls && tlsSettings(tls)),
    },
  }) as unknown as RedisClientLike;
  client.on('error', onError);
  return client;
}

function tlsSettings({ ca, cert, key, servername }: RedisTlsOptions) {
  const pem = (value: string | Uint8Array) => (typeof value === 'string' || Buffer.isBuffer(value) ? value : Buffer.from(value));
  return {
    ...(ca !== undefined && { ca: Array.isArray(ca) ? ca.map(pem) : pem(ca as string | Uint8Array) }),
    ...(cert !== undefined && { cert: pem(cert) }),
    ...(key !== undefined && { key: pem(key) }),
    ...(servername !== undefined && { servername }),
  };
}

/** Node's codes for a server certificate that does not verify (and TLS handshake failures in general). */
const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH)/;

/** A connection error in a few words for a `STORAGE_FAILURE` message: TLS failures say so, with Node's code. */
export function describeConnectionError(error: unknown): string {
  const { message, code } = (error ?? {}) as { message?: unknown; code?: unknown };
  const text = typeof message === 'string' && message !== '' ? message : String(error);
  const tag = typeof code === 'string' ? ` (${code})` : '';
  const isTls = (typeof code === 'string' && TLS_CODES.test(code)) || /certificate|\bTLS\b|\bSSL\b/i.test(text);
  return isTls ? `TLS handshake failed: ${text}${tag}` : `${text}${tag}`;
}
