import { COMMON } from './layout.js';

/**
 * Membership scripts. Each change bumps `mver` (the version an append checks its routing against) and
 * publishes `members` so watching processes drop their cached list.
 */

/**
 * ARGV: prefix, agent, online ('1'|'0'), groups JSON or '' to keep. Returns {joinedAfter, groups JSON}.
 * A new membership is kit `newMember`: joined after the room's last id, counters at zero, no old deliveries.
 */
export const PUT_MEMBER = `${COMMON}
local a = ARGV[2]
if not member(a) then
  local last = redis.call('HGET', KEYS[1], 'last') or '0'
  redis.call('HSET', p .. 'join', a, last)
  redis.call('HSET', p .. 'grp', a, ARGV[4] ~= '' and ARGV[4] or '[]')
  redis.call('HSET', p .. 'cur', a, 0)
  redis.call('HSET', KEYS[1], 'n:' .. a, 0)
  redis.call('HDEL', KEYS[1], 't:' .. a)
  redis.call('HDEL', p .. 'sent', a)
  redis.call('HDEL', p .. 'lastAt', a)
  redis.call('DEL', p .. 'dl:' .. a, p .. 'bs:' .. a)
  redis.call('HDEL', KEYS[1], 'ep')
elseif ARGV[4] ~= '' then
  redis.call('HSET', p .. 'grp', a, ARGV[4])
end
redis.call('HSET', p .. 'on', a, ARGV[3])
redis.call('HINCRBY', KEYS[1], 'mver', 1)
redis.call('PUBLISH', p .. 'live', 'members')
return {tonumber(redis.call('HGET', p .. 'join', a)), redis.call('HGET', p .. 'grp', a)}
`;

/** ARGV: prefix, agent. Returns 1 when removed, 0 when it was not a member. */
export const REMOVE_MEMBER = `${COMMON}
local a = ARGV[2]
if not member(a) then return 0 end
for _, h in ipairs({'join', 'on', 'grp', 'cur', 'sent', 'lastAt'}) do redis.call('HDEL', p .. h, a) end
redis.call('HDEL', KEYS[1], 'n:' .. a, 't:' .. a)
redis.call('DEL', p .. 'dl:' .. a, p .. 'bs:' .. a)
redis.call('HDEL', KEYS[1], 'ep')
redis.call('HINCRBY', KEYS[1], 'mver', 1)
redis.call('PUBLISH', p .. 'live', 'members')
return 1
`;

/** ARGV: prefix. Returns {mver, join (flat field/value list), on, grp}. */
export const GET_MEMBERS = `${COMMON}
return {redis.call('HGET', KEYS[1], 'mver') or '0', redis.call('HGETALL', p .. 'join'), redis.call('HGETALL', p .. 'on'), redis.call('HGETALL', p .. 'grp')}
`;

/** ARGV: prefix, agent, upTo. Returns the stored cursor, or -1 for a non-member. */
export const ACK = `${COMMON}
local a = ARGV[2]
if not member(a) then return -1 end
local cur = tonumber(redis.call('HGET', p .. 'cur', a) or '0')
local upTo = tonumber(ARGV[3])
if upTo > cur then
  redis.call('HSET', p .. 'cur', a, upTo)
  cur = upTo
end
return cur
`;
