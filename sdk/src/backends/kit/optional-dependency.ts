/**
 * Optional peer dependencies (node-redis, say) are imported on first use, so
 * an application that never constructs the backend never needs the package,
 * and one that does gets a clear `MISCONFIGURED` naming the install command.
 */
import { MessageBusError } from '../../core/errors.js';

/**
 * A loader for an optional dependency: call it to import the module (once; a
 * failed import is retried on the next call). `importer` is the backend's own
 * `() => import('pkg')`, so bundlers still see a static specifier.
 *
 * @example
 * ```ts
 * const loadRedis = optionalDependency('redis', 'RedisStorageBackend needs the "redis" package (node-redis): npm install redis', () => import('redis'));
 * const redis = await loadRedis();
 * ```
 */
export function optionalDependency<T>(backend: string, missing: string, importer: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= importer().catch((error: unknown) => {
      loading = undefined;
      throw new MessageBusError('MISCONFIGURED', `[${backend}] ${missing}`, { cause: error });
    });
    return loading;
  };
}
