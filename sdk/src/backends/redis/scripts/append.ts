import { REPLY } from './conversations.js';
import { COMMON } from './layout.js';

/**
 * Retention, inlined into the append script: trims the oldest messages beyond `max` with their index entries
 * and idempotency keys, then drops audience epochs no retained broadcast refers to. Mirrors what the kit's
 * `DeliveryIndex.dropBelow` does for the in-process backends (kit/delivery-index.ts).
 */
const TRIM = `
local function trim(id, max, oldest)
  local trimmed = false
  while id - oldest + 1 > max do
    local o = string.format('%d', oldest)
    local v = redis.call('HGET', p .. 'msg', o)
    if v and string.sub(v, 1, 1) == 'L' then
      local nl = string.find(v, '\\n', 1, true)
      for r in string.gmatch(string.sub(v, 2, nl - 1), '[^,]+') do redis.call('ZREM', p .. 'dl:' .. r, o) end
    elseif v then
      if string.sub(v, 1, 1) == 'X' then
        local entry = redis.call('ZRANGEBYSCORE', p .. 'bc', o, o)[1]
        if entry then redis.call('ZREM', p .. 'bs:' .. string.match(entry, '^%d+:%d+:(.*)$'), o) end
      end
      redis.call('ZREMRANGEBYSCORE', p .. 'bc', '-inf', o)
    end
    redis.call('HDEL', p .. 'msg', o)
    local root = redis.call('HGET', p .. 'thr', o)
    if root then
      redis.call('ZREM', p .. 'th:' .. root, o)
      redis.call('HDEL', p .. 'thr', o)
    end
    local field = redis.call('HGET', p .. 'ik', o)
    if field then
      redis.call('HDEL', p .. 'idem', field)
      redis.call('HDEL', p .. 'ik', o)
    end
    oldest = oldest + 1
    trimmed = true
  end
  if not trimmed then return end
  redis.call('HSET', KEYS[1], 'oldest', string.format('%d', oldest))
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
 * routed with ('' = not known: no check), the id the message answers ('' = none).
 * Returns {1, id, value, epochList|false}, {0, id, value, false} for a duplicate, {-1} for a non-member sender,
 * {-3, mver} when the members changed since the routing read them (nothing stored: route again), {-4} for a
 * reply to a message the sender has not seen (nothing stored). A reply's body carries `"h":0` after its `"i"`:
 * the script writes the thread there, which only it can know atomically.
 */
export const APPEND = `${COMMON}
local sender = ARGV[2]
-- Every field of the room's head this append reads, in one call: each redis.call costs Redis ~1.5-2.5 µs.
local head = redis.call('HMGET', KEYS[1], 'mver', 'ep', 'last', 'oldest', 'n:' .. sender)
local mver = head[1] or '0'
if ARGV[11] ~= '' and ARGV[11] ~= mver then return {-3, mver} end
if not member(sender) then return {-1} end
local idem = ARGV[5]
if idem ~= '' then
  local earlier = redis.call('HGET', p .. 'idem', idem)
  if earlier then return {0, tonumber(earlier), redis.call('HGET', p .. 'msg', earlier), false} end
end
-- The retention and reply rules are defined only where they run: a closure made per call costs Redis too.
local thread = nil
if ARGV[12] ~= '' then
  ${REPLY}
  thread = replyTo(sender, ARGV[12])
  if thread == false then return {-4} end
  thread = string.format('%d', thread)
end
local body = ARGV[7]
if thread then body = string.gsub(body, '^({"t":[^,]*,"s":"[^"]*","i":%d+,"h":)0', '%1' .. thread, 1) end
local n = tonumber(head[3] or '0') + 1
-- The id as text, formatted once as an integer: Lua turns a number handed to redis.call into text with %.14g,
-- glibc's slow floating-point path, which was ~8% of Redis's CPU when each append did it seven times.
local id = string.format('%d', n)
local oldest = tonumber(head[4] or '1')
local kind = ARGV[3]
local audience
local epochList = false
if kind == 'l' then
  local kept = {}
  for r in string.gmatch(ARGV[4], '[^,]+') do
    if member(r) then
      kept[#kept + 1] = r
      redis.call('ZADD', p .. 'dl:' .. r, id, id)
    end
  end
  audience = 'L' .. table.concat(kept, ',')
else
  local ep = head[2]
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
    audience = 'M' .. ep
    redis.call('ZADD', p .. 'bc', id, id .. ':' .. ep .. ':')
  else
    audience = 'X' .. ep
    redis.call('ZADD', p .. 'bc', id, id .. ':' .. ep .. ':' .. sender)
    redis.call('ZADD', p .. 'bs:' .. sender, id, id)
  end
end
local value = audience .. '\\n' .. body
redis.call('HSET', p .. 'msg', id, value)
if thread then
  redis.call('HSET', p .. 'thr', id, thread)
  redis.call('ZADD', p .. 'th:' .. thread, id, id)
end
if idem ~= '' then
  redis.call('HSET', p .. 'idem', idem, id)
  redis.call('HSET', p .. 'ik', id, idem)
end
-- The sender's count: rooms stored before the counters moved into the head keep it in the \`sent\` hash.
local sent = string.format('%d', tonumber(head[5] or redis.call('HGET', p .. 'sent', sender) or '0') + 1)
-- The id, the sender's count and last send time: one write of the head (which \`last\` orders, as HINCRBY did).
if n == 1 then
  redis.call('HSET', KEYS[1], 'last', id, 'oldest', '1', 'n:' .. sender, sent, 't:' .. sender, ARGV[8])
else
  redis.call('HSET', KEYS[1], 'last', id, 'n:' .. sender, sent, 't:' .. sender, ARGV[8])
end
local max = tonumber(ARGV[6])
if max > 0 then
  ${TRIM}
  trim(n, max, oldest)
end
redis.call('PUBLISH', p .. 'live', id .. '\\n' .. ARGV[10] .. '\\n' .. value)
return {1, n, value, epochList}
`;
