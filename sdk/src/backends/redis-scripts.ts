/**
 * The Lua scripts of `RedisStorageBackend`. Each runs atomically in Redis, so
 * several processes on one room never interleave inside an operation.
 *
 * Keys of a room share the prefix `<keyPrefix>{<room>}:` (the braces are a
 * Redis Cluster hash tag: the whole room lives on one slot). KEYS[1] is the
 * room's `meta` hash; the other keys are derived from ARGV[1], the room prefix:
 * - `meta` hash: `last` (last id), `oldest` (oldest retained id), `ep` (current
 *   broadcast audience epoch, absent after a membership change), `epn` (epoch
 *   counter), `epmin` (oldest epoch not yet collected), `mver` (membership version).
 * - `join`, `on`, `grp`, `cur`, `sent`, `lastAt` hashes: per member, joinedAfter,
 *   online ('1'/'0'), groups (JSON), acked cursor, send count, last send time.
 * - `msg` hash: id → `<head>\n<body>`; head is `L<recipients, comma-separated>`
 *   for a list audience, `M<epoch>` for every member, `X<epoch>` for every
 *   member but the sender; body is the client's JSON (t, s, p, q, k, c).
 * - `dl:<agent>` sorted set: ids of list-audience messages routed to the agent (score = id).
 * - `bc` sorted set: one entry `<id>:<epoch>:<excluded sender or empty>` per broadcast (score = id), and
 *   `bs:<agent>` the ids of the agent's own broadcasts that exclude it (so fetch jumps over runs of them).
 * - `ep:<n>` set and `epl:<n>` string: the members of audience epoch n, stored once.
 * - `idem` hash `sender \0 key` → id, and `ik` hash id → that field, for retention.
 * Appends are published on the `live` channel as `<id>\n<head>\n<body>`, membership
 * changes as `members` (watching processes drop their cached member list).
 */

const COMMON = `
local p = ARGV[1]
local function member(a) return redis.call('HEXISTS', p .. 'join', a) == 1 end
`;

/**
 * ARGV: prefix, sender, kind (l|m|x), recipients (comma list), idempotency field or '',
 * maxMessages (0 = keep all), body, timestamp, the epoch whose list the client already has, the writer's token
 * (published with the message so the writer can skip its own echo).
 * Returns {1, id, value, epochList|false} or {0, id, value, false} for a duplicate, {-1} for a non-member sender.
 */
export const APPEND = `${COMMON}
local sender = ARGV[2]
if not member(sender) then return {-1} end
local idem = ARGV[5]
if idem ~= '' then
  local earlier = redis.call('HGET', p .. 'idem', idem)
  if earlier then return {0, tonumber(earlier), redis.call('HGET', p .. 'msg', earlier), false} end
end
local id = redis.call('HINCRBY', KEYS[1], 'last', 1)
if id == 1 then redis.call('HSET', KEYS[1], 'oldest', 1) end
local kind = ARGV[3]
local head
local epochList = false
if kind == 'l' then
  local kept = {}
  for r in string.gmatch(ARGV[4], '[^,]+') do
    if member(r) then
      kept[#kept + 1] = r
      redis.call('ZADD', p .. 'dl:' .. r, id, id)
    end
  end
  head = 'L' .. table.concat(kept, ',')
else
  local ep = redis.call('HGET', KEYS[1], 'ep')
  if not ep then
    ep = tostring(redis.call('HINCRBY', KEYS[1], 'epn', 1))
    local members = redis.call('HKEYS', p .. 'join')
    table.sort(members)
    for i = 1, #members, 1000 do
      redis.call('SADD', p .. 'ep:' .. ep, unpack(members, i, math.min(i + 999, #members)))
    end
    redis.call('SET', p .. 'epl:' .. ep, table.concat(members, ','))
    redis.call('HSET', KEYS[1], 'ep', ep)
  end
  if ep ~= ARGV[9] then epochList = redis.call('GET', p .. 'epl:' .. ep) end
  if kind == 'm' then
    head = 'M' .. ep
    redis.call('ZADD', p .. 'bc', id, id .. ':' .. ep .. ':')
  else
    head = 'X' .. ep
    redis.call('ZADD', p .. 'bc', id, id .. ':' .. ep .. ':' .. sender)
    redis.call('ZADD', p .. 'bs:' .. sender, id, id)
  end
end
local value = head .. '\\n' .. ARGV[7]
redis.call('HSET', p .. 'msg', id, value)
if idem ~= '' then
  redis.call('HSET', p .. 'idem', idem, id)
  redis.call('HSET', p .. 'ik', id, idem)
end
redis.call('HINCRBY', p .. 'sent', sender, 1)
redis.call('HSET', p .. 'lastAt', sender, ARGV[8])
local max = tonumber(ARGV[6])
if max > 0 then
  local oldest = tonumber(redis.call('HGET', KEYS[1], 'oldest') or '1')
  local trimmed = false
  while id - oldest + 1 > max do
    local v = redis.call('HGET', p .. 'msg', oldest)
    if v and string.sub(v, 1, 1) == 'L' then
      local nl = string.find(v, '\\n', 1, true)
      for r in string.gmatch(string.sub(v, 2, nl - 1), '[^,]+') do redis.call('ZREM', p .. 'dl:' .. r, oldest) end
    elseif v then
      if string.sub(v, 1, 1) == 'X' then
        local entry = redis.call('ZRANGEBYSCORE', p .. 'bc', oldest, oldest)[1]
        if entry then redis.call('ZREM', p .. 'bs:' .. string.match(entry, '^%d+:%d+:(.*)$'), oldest) end
      end
      redis.call('ZREMRANGEBYSCORE', p .. 'bc', '-inf', oldest)
    end
    redis.call('HDEL', p .. 'msg', oldest)
    local field = redis.call('HGET', p .. 'ik', oldest)
    if field then
      redis.call('HDEL', p .. 'idem', field)
      redis.call('HDEL', p .. 'ik', oldest)
    end
    oldest = oldest + 1
    trimmed = true
  end
  if trimmed then
    redis.call('HSET', KEYS[1], 'oldest', oldest)
    -- Audience epochs older than the oldest retained broadcast (and not current) are no longer needed.
    local first = redis.call('ZRANGE', p .. 'bc', 0, 0)[1]
    local keep = tonumber(redis.call('HGET', KEYS[1], 'ep') or (tonumber(redis.call('HGET', KEYS[1], 'epn') or '0') + 1))
    if first then keep = math.min(keep, tonumber(string.match(first, '^%d+:(%d+):'))) end
    local epmin = tonumber(redis.call('HGET', KEYS[1], 'epmin') or '1')
    for e = epmin, keep - 1 do redis.call('DEL', p .. 'ep:' .. e, p .. 'epl:' .. e) end
    if keep > epmin then redis.call('HSET', KEYS[1], 'epmin', keep) end
  end
end
redis.call('PUBLISH', p .. 'live', id .. '\\n' .. ARGV[10] .. '\\n' .. value)
return {1, id, value, epochList}
`;

/** ARGV: prefix, agent, online ('1'|'0'), groups JSON or '' to keep. Returns {joinedAfter, groups JSON}. */
export const PUT_MEMBER = `${COMMON}
local a = ARGV[2]
if not member(a) then
  local last = redis.call('HGET', KEYS[1], 'last') or '0'
  redis.call('HSET', p .. 'join', a, last)
  redis.call('HSET', p .. 'grp', a, ARGV[4] ~= '' and ARGV[4] or '[]')
  redis.call('HSET', p .. 'cur', a, 0)
  redis.call('HSET', p .. 'sent', a, 0)
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
redis.call('DEL', p .. 'dl:' .. a, p .. 'bs:' .. a)
redis.call('HDEL', KEYS[1], 'ep')
redis.call('HINCRBY', KEYS[1], 'mver', 1)
redis.call('PUBLISH', p .. 'live', 'members')
return 1
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

/** ARGV: prefix. Returns {mver, join (flat field/value list), on, grp}. */
export const GET_MEMBERS = `${COMMON}
return {redis.call('HGET', KEYS[1], 'mver') or '0', redis.call('HGETALL', p .. 'join'), redis.call('HGETALL', p .. 'on'), redis.call('HGETALL', p .. 'grp')}
`;

const LAST_ROUTED = `
local function broadcastFor(entry, a)
  local id, ep, snd = string.match(entry, '^(%d+):(%d+):(.*)$')
  if snd ~= a and redis.call('SISMEMBER', p .. 'ep:' .. ep, a) == 1 then return tonumber(id) end
  return nil
end
local function isOwn(entry, a)
  return string.match(entry, '^%d+:%d+:(.*)$') == a
end
-- A run of the agent's own broadcasts (which exclude it) is jumped over by binary search on counts:
-- (i, t] holds someone else's broadcast when it holds more broadcasts than own ones. O(log^2 n), no scan.
local function nextOther(a, i, last)
  local own = p .. 'bs:' .. a
  local function others(lo, hi) return redis.call('ZCOUNT', p .. 'bc', lo, hi) > redis.call('ZCOUNT', own, lo, hi) end
  if i >= last or not others('(' .. i, last) then return nil end
  local lo, hi = i + 1, last
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if others('(' .. i, mid) then hi = mid else lo = mid + 1 end
  end
  return lo
end
local function prevOther(a, i, floor)
  local own = p .. 'bs:' .. a
  local function others(lo, hi) return redis.call('ZCOUNT', p .. 'bc', lo, hi) > redis.call('ZCOUNT', own, lo, hi) end
  if i <= floor + 1 or not others('(' .. floor, '(' .. i) then return nil end
  local lo, hi = floor + 1, i - 1
  while lo < hi do
    local mid = math.floor((lo + hi + 1) / 2)
    if others(mid, '(' .. i) then lo = mid else hi = mid - 1 end
  end
  return lo
end
local function lastRouted(a, join, oldest)
  local last = 0
  local d = redis.call('ZRANGE', p .. 'dl:' .. a, -1, -1)[1]
  if d then last = tonumber(d) end
  local floor = math.max(last, join)
  local top = '+inf'
  while true do
    local batch = redis.call('ZREVRANGEBYSCORE', p .. 'bc', top, '(' .. floor, 'LIMIT', 0, 100)
    if #batch == 0 then break end
    local found = nil
    local jump = nil
    local streak = 0
    for _, entry in ipairs(batch) do
      found = broadcastFor(entry, a)
      if found then break end
      if isOwn(entry, a) then streak = streak + 1 else streak = 0 end
      if streak >= 8 then
        jump = prevOther(a, tonumber(string.match(entry, '^(%d+):')), floor)
        if not jump then jump = false end
        break
      end
    end
    if found then
      last = found
      break
    end
    if jump == false then break end
    if jump then top = jump else top = '(' .. string.match(batch[#batch], '^(%d+):') end
  end
  if last < oldest then return 0 end
  return last
end
`;

/** ARGV: prefix. Returns {last, oldest, {id, on, grp, join, cur, sent, lastAt|false, lastRouted}...}. */
export const GET_ROOM = `${COMMON}${LAST_ROUTED}
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
local oldest = tonumber(redis.call('HGET', KEYS[1], 'oldest') or '1')
local out = {last, oldest}
local joins = redis.call('HGETALL', p .. 'join')
for i = 1, #joins, 2 do
  local a = joins[i]
  local join = tonumber(joins[i + 1])
  out[#out + 1] = {a, redis.call('HGET', p .. 'on', a), redis.call('HGET', p .. 'grp', a), join,
    tonumber(redis.call('HGET', p .. 'cur', a) or '0'), tonumber(redis.call('HGET', p .. 'sent', a) or '0'),
    redis.call('HGET', p .. 'lastAt', a) or false, lastRouted(a, join, oldest)}
end
return out
`;

/**
 * ARGV: prefix, agent, after ('' = the acked cursor), limit.
 * Returns {1, ids, values}, {-1} for a non-member, {-2, oldest, from} for a cursor in trimmed history.
 * Direct messages come from the agent's own sorted set; broadcasts from the shared one, skipping those
 * whose audience does not hold the agent (its own, mostly): O(log n + k).
 */
export const FETCH = `${COMMON}${LAST_ROUTED}
local a = ARGV[2]
if not member(a) then return {-1} end
local from = tonumber(ARGV[3] ~= '' and ARGV[3] or (redis.call('HGET', p .. 'cur', a) or '0'))
local join = tonumber(redis.call('HGET', p .. 'join', a))
local oldest = tonumber(redis.call('HGET', KEYS[1], 'oldest') or '1')
if math.max(from, join) + 1 < oldest then return {-2, oldest, from} end
local start = math.max(from, oldest - 1, join)
local limit = tonumber(ARGV[4])
local d = redis.call('ZRANGEBYSCORE', p .. 'dl:' .. a, '(' .. start, '+inf', 'LIMIT', 0, limit)
local bound = '+inf'
if #d == limit then bound = d[#d] end
local b = {}
local low = '(' .. start
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
while #b < limit do
  local batch = redis.call('ZRANGEBYSCORE', p .. 'bc', low, bound, 'LIMIT', 0, 200)
  local streak = 0
  local jump = nil
  for _, entry in ipairs(batch) do
    local id = broadcastFor(entry, a)
    if id then
      b[#b + 1] = id
      if #b >= limit then break end
    end
    if isOwn(entry, a) then streak = streak + 1 else streak = 0 end
    if streak >= 8 then
      jump = nextOther(a, tonumber(string.match(entry, '^(%d+):')), last) or false
      break
    end
  end
  if jump == false or #b >= limit then break end
  if jump then
    low = jump
  else
    if #batch < 200 then break end
    low = '(' .. string.match(batch[#batch], '^(%d+):')
  end
end
local ids = {}
local i, j = 1, 1
while #ids < limit and (i <= #d or j <= #b) do
  local x = d[i] and tonumber(d[i]) or math.huge
  local y = b[j] or math.huge
  if x <= y then
    ids[#ids + 1] = x
    i = i + 1
    if x == y then j = j + 1 end
  else
    ids[#ids + 1] = y
    j = j + 1
  end
end
if #ids == 0 then return {1, {}, {}} end
return {1, ids, redis.call('HMGET', p .. 'msg', unpack(ids))}
`;

/** ARGV: prefix, after, limit. Returns {firstId, values}. */
export const HISTORY = `${COMMON}
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
local oldest = tonumber(redis.call('HGET', KEYS[1], 'oldest') or '1')
local first = math.max(tonumber(ARGV[2]) + 1, oldest)
local stop = math.min(last, first + tonumber(ARGV[3]) - 1)
if first > stop then return {first, {}} end
local ids = {}
for id = first, stop do ids[#ids + 1] = id end
return {first, redis.call('HMGET', p .. 'msg', unpack(ids))}
`;
