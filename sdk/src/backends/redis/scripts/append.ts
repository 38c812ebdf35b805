import { COMMON } from './layout.js';

/**
 * Retention, inlined into the append script: trims the oldest messages beyond `max` with their index entries
 * and idempotency keys, then drops audience epochs no retained broadcast refers to. Mirrors what the kit's
 * `DeliveryIndex.dropBelow` does for the in-process backends (kit/delivery-index.ts).
 */
const TRIM = `
local function trim(id, max)
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
  if not trimmed then return end
  redis.call('HSET', KEYS[1], 'oldest', oldest)
  -- Audience epochs older than the oldest retained broadcast (and not current) are no longer needed.
  local first = redis.call('ZRANGE', p .. 'bc', 0, 0)[1]
  local keep = tonumber(redis.call('HGET', KEYS[1], 'ep') or (tonumber(redis.call('HGET', KEYS[1], 'epn') or '0') + 1))
  if first then keep = math.min(keep, tonumber(string.match(first, '^%d+:(%d+):'))) end
  local epmin = tonumber(redis.call('HGET', KEYS[1], 'epmin') or '1')
  for e = epmin, keep - 1 do redis.call('DEL', p .. 'ep:' .. e, p .. 'epl:' .. e) end
  if keep > epmin then redis.call('HSET', KEYS[1], 'epmin', keep) end
end
`;

/**
 * The append, atomically: the membership version check (the bus re-routes on -3: `membersChanged` in
 * core/errors.ts), the sender check (kit `unknownAgent`), the idempotency check on the sender-scoped field the
 * client computed with kit `idempotencyField`, the id, the audience (a list, or the current epoch, which is
 * kit `Epoch` kept as `ep:<n>` / `epl:<n>`), the index, counters and retention, then the publication.
 *
 * ARGV: prefix, sender, kind (l|m|x), recipients (comma list), idempotency field or '',
 * maxMessages (0 = keep all), body, timestamp, the epoch whose list the client already has, the writer's id
 * (published with the message so the writer can skip its own echo), the membership version the message was
 * routed with ('' = not known: no check).
 * Returns {1, id, value, epochList|false}, {0, id, value, false} for a duplicate, {-1} for a non-member sender,
 * {-3, mver} when the members changed since the routing read them (nothing stored: route again).
 */
export const APPEND = `${COMMON}${TRIM}
if ARGV[11] ~= '' and ARGV[11] ~= (redis.call('HGET', KEYS[1], 'mver') or '0') then
  return {-3, redis.call('HGET', KEYS[1], 'mver') or '0'}
end
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
if max > 0 then trim(id, max) end
redis.call('PUBLISH', p .. 'live', id .. '\\n' .. ARGV[10] .. '\\n' .. value)
return {1, id, value, epochList}
`;
