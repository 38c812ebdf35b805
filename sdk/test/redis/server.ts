// The shared redis-server launcher (scripts/support/redis-server.mjs), under the name the SDK's tests import.
export { type RedisServer, type StartRedisOptions, startRedis } from '../../../scripts/support/redis-server.mjs';
