import { REPLY } from './conversations.js';
import { COMMON } from './layout.js';

/**
 * Retention, inlined into the append script (when a limit is set) as \`trim(id, max, oldest)\`, which returns the
 * new oldest id: trims the oldest messages beyond `max` with their index entries
 * and idempotency keys, then drops audience epochs no retained broadcast refers to. Mirrors what the kit's
 * `DeliveryIndex.dropBelow` does for the in-process backends (kit/delivery-index.ts).
 */
const TRIM = `
trim = function(id, max, oldest)
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
  if not trimmed then return oldest end
  redis.call('HSET', KEYS[1], 'oldest', string.format('%d', oldest))
  -- Audience epochs older than the oldest retained broadcast (and not current) are no longer needed.
  local first = redis.call('ZRANGE', p .. 'bc', 0, 0)[1]
  local keep = tonumber(redis.call('HGET', KEYS[1], 'ep') or (tonumber(redis.call('HGET', KEYS[1], 'epn') or '0') + 1))
  if first then keep = math.min(keep, tonumber(string.match(first, '^%d+:(%d+):'))) end
  local epmin = tonumber(redis.call('HGET', KEYS[1], 'epmin') or '1')
  for e = epmin, keep - 1 do redis.call('DEL', p .. 'ep:' .. e, p .. 'epl:' .. e) end
  if keep > epmin then redis.call('HSET', KEYS[1], 'epmin', keep) end
  return oldest
end
`;

/**
 * The append, atomically, of one message or of several a process issued together (group commit: one script call
 * for the lot, each message still appended on its own, in order, with its own result). Per message: the
 * membership version check (the bus re-routes on -3: `membersChanged` in core/errors.ts), the sender check (kit
 * `unknownAgent`), the idempotency check on the sender-scoped field the client computed with kit
 * `idempotencyField`, the id, the audience (a list, or the current epoch, which is kit `Epoch` kept as
 * `ep:<n>` / `epl:<n>`), the index, counters and retention, then the publication, as it always was.
 * The room's head is read once and written once per call.
 *
 * ARGV: prefix, sender, kind, maxMessages (0 = keep all), the value (\`<head>\\n<body>\`, the head as the client
 * expects it), timestamp, the epoch whose list the client already has, the writer's id (published with the message
 * so the writer can skip its own echo), the membership version the message was routed with ('' = not known: no
 * check), recipients (comma list), idempotency field, the id the message answers; a lone message may leave out
 * the last three when empty (each argument costs Redis ~1k instructions). Each further message adds a group of
 * 8: sender, kind, recipients, idempotency field, value, timestamp, version, the id it answers. The kind is l (a list), m (every member) or
 * x (every member but the sender); in upper case (with a version), the client found the sender and every
 * recipient in the member list of that version, so a matching version proves them members without a lookup.
 *
 * Returns three entries per message, then the current epoch's list (when the client did not have it, else false)
 * and that epoch: {1, id, head line} for a stored message (the full value for a reply, whose thread the script
 * wrote), {0, id, value} for a duplicate, {-1, 0, ''} for a non-member sender, {-3, mver, ''} when the members
 * changed since the routing read them (nothing stored: route again), {-4, 0, ''} for a reply to a message the
 * sender has not seen (nothing stored). A reply's body carries `"h":0` after its `"i"`: the script writes the
 * thread there, which only it can know atomically.
 */
export const APPEND = `${COMMON}
-- Costs, in Redis instructions: each redis.call ~5k; each Lua allocation (a table, a closure, a long string, a
-- number turned into text) ~1.5-3k with its share of garbage collection. So one message allocates next to
-- nothing beyond what it stores, and the tables that several messages need exist only when there are several.
local count = #ARGV <= 12 and 1 or 1 + (#ARGV - 12) / 8
local countField = 'n:' .. ARGV[2]
local head, slots, senders
if count == 1 then
  head = redis.call('HMGET', KEYS[1], 'mver', 'ep', 'last', 'oldest', countField)
else
  -- The version, epoch, last and oldest ids, and the count of each sender (slot i: head[4 + i]), in one HMGET.
  local fields = {'mver', 'ep', 'last', 'oldest', countField}
  slots = {[ARGV[2]] = 1}
  senders = {ARGV[2]}
  for k = 1, count - 1 do
    local s = ARGV[5 + 8 * k]
    if not slots[s] then
      senders[#senders + 1] = s
      slots[s] = #senders
      fields[#fields + 1] = 'n:' .. s
    end
  end
  head = redis.call('HMGET', KEYS[1], unpack(fields))
end
local mver = head[1] or '0'
local ep = head[2]
local first = tonumber(head[3] or '0')
local n = first
local lastId = nil
-- The oldest id as a number only where retention or a reply needs it.
local oldest = nil
local max = ARGV[4] ~= '0' and tonumber(ARGV[4])
local known = ARGV[7]
local sent1, at1, sent, at = nil, nil, nil, nil
local epochList = false
local out = {false, false, false, false, false}
-- Strings a run of messages shares, made once: the broadcast index key, the sender's own-run key.
local bcKey = p .. 'bc'
local ownKey, ownOf
-- One message: \`store\` is redis.call itself, each write at once. Several: their stored values and index entries
-- are gathered per key and written with one command per key after the last message (or before a read that could
-- see them: a duplicate's value, a reply's parent, retention). Closures cost Redis too, so they exist only then.
local store = redis.call
local writeDeferred = nil
if count > 1 then
  sent, at = {}, {}
  local pending = {}
  store = function(command, key, a, b)
    local w = pending[key]
    if not w then
      w = {command, key}
      pending[key] = w
    end
    w[#w + 1] = a
    w[#w + 1] = b
  end
  writeDeferred = function()
    for _, w in pairs(pending) do redis.call(unpack(w)) end
    pending = {}
  end
end
-- The retention rule is compiled only where it runs: a closure made per call costs Redis too.
local trim
if max then
  ${TRIM}
end
for k = 0, count - 1 do
  local sender, kind, recipients, idem, body, ts, version, parent
  if k == 0 then
    sender, kind, body, ts, version = ARGV[2], ARGV[3], ARGV[5], ARGV[6], ARGV[9]
    recipients, idem, parent = ARGV[10] or '', ARGV[11] or '', ARGV[12] or ''
  else
    local b = 5 + 8 * k
    sender, kind, recipients, idem, body, ts, version, parent = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5], ARGV[b + 6], ARGV[b + 7]
  end
  local status, result, text = 1, 0, ''
  local given = body
  -- One message; \`break\` ends it early with its refusal or duplicate in status, result, text.
  repeat
    local checked = false
    if version ~= '' then
      if version ~= mver then
        status, result = -3, mver
        break
      end
      checked = kind == 'X' or kind == 'M' or kind == 'L'
    end
    if not checked and not member(sender) then
      status = -1
      break
    end
    if idem ~= '' then
      local earlier = redis.call('HGET', p .. 'idem', idem)
      if earlier then
        if writeDeferred then writeDeferred() end
        status, result, text = 0, tonumber(earlier), redis.call('HGET', p .. 'msg', earlier)
        break
      end
    end
    local thread = nil
    if parent ~= '' then
      ${REPLY}
      if writeDeferred then writeDeferred() end
      oldest = oldest or tonumber(head[4] or '1')
      thread = replyTo(sender, parent, oldest, n)
      if thread == false then
        status = -4
        break
      end
      thread = string.format('%d', thread)
      body = string.gsub(body, '^([^\\n]*\\n{"t":[^,]*,"s":"[^"]*","i":%d+,"h":)0', '%1' .. thread, 1)
    end
    n = n + 1
    -- The id as text, formatted once as an integer: Lua turns a number handed to redis.call into text with %.14g,
    -- glibc's slow floating-point path, which was ~8% of Redis's CPU when each append did it seven times.
    local id = string.format('%d', n)
    lastId = id
    -- The value: the client sent it with the head it expects (\`L<recipients>\`, or the audience of the epoch it
    -- knows), right but for a list it could not check or an epoch it has not seen: then the head is replaced.
    local value = body
    if kind == 'L' then
      for r in string.gmatch(recipients, '[^,]+') do store('ZADD', p .. 'dl:' .. r, id, id) end
    elseif kind == 'l' then
      local kept = {}
      for r in string.gmatch(recipients, '[^,]+') do
        if member(r) then
          kept[#kept + 1] = r
          store('ZADD', p .. 'dl:' .. r, id, id)
        end
      end
      value = 'L' .. table.concat(kept, ',') .. string.sub(body, #recipients + 2)
    else
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
      if ep ~= known then
        epochList = redis.call('GET', p .. 'epl:' .. ep)
        known = ep
      end
      local everyone = kind == 'm' or kind == 'M'
      if everyone then
        store('ZADD', bcKey, id, id .. ':' .. ep .. ':')
      else
        if ownOf ~= sender then ownKey, ownOf = p .. 'bs:' .. sender, sender end
        store('ZADD', bcKey, id, id .. ':' .. ep .. ':' .. sender)
        store('ZADD', ownKey, id, id)
      end
      if ep ~= ARGV[7] then value = (everyone and 'M' or 'X') .. ep .. string.sub(body, #ARGV[7] + 2) end
    end
    store('HSET', p .. 'msg', id, value)
    if thread then
      redis.call('HSET', p .. 'thr', id, thread)
      redis.call('ZADD', p .. 'th:' .. thread, id, id)
    end
    if idem ~= '' then
      redis.call('HSET', p .. 'idem', idem, id)
      redis.call('HSET', p .. 'ik', id, idem)
    end
    -- The sender's count: rooms stored before the counters moved into the head keep it in the \`sent\` hash.
    if count == 1 then
      sent1 = tonumber(head[5] or redis.call('HGET', p .. 'sent', sender) or '0') + 1
      at1 = ts
    else
      local i = slots[sender]
      sent[i] = (sent[i] or tonumber(head[4 + i] or redis.call('HGET', p .. 'sent', sender) or '0')) + 1
      at[i] = ts
    end
    if trim then
      if writeDeferred then writeDeferred() end
      oldest = trim(n, max, oldest or tonumber(head[4] or '1'))
    end
    redis.call('PUBLISH', p .. 'live', id .. '\\n' .. ARGV[8] .. '\\n' .. value)
    result = n
    -- '' when the value is the one the client sent.
    if value ~= given then text = value end
  until true
  out[3 * k + 1], out[3 * k + 2], out[3 * k + 3] = status, result, text
end
if writeDeferred then writeDeferred() end
-- The head, written once: the last id (which orders appends, as HINCRBY did), and each sender's count and time.
if lastId then
  local start = first == 0 and string.format('%d', oldest or 1) or nil
  if count == 1 then
    local s = ARGV[2]
    if start then
      redis.call('HSET', KEYS[1], 'last', lastId, 'oldest', start, countField, string.format('%d', sent1), 't:' .. s, at1)
    else
      redis.call('HSET', KEYS[1], 'last', lastId, countField, string.format('%d', sent1), 't:' .. s, at1)
    end
  else
    local w = {'last', lastId}
    if start then
      w[3] = 'oldest'
      w[4] = start
    end
    for i = 1, #senders do
      if sent[i] then
        local j = #w
        w[j + 1] = 'n:' .. senders[i]
        w[j + 2] = string.format('%d', sent[i])
        w[j + 3] = 't:' .. senders[i]
        w[j + 4] = at[i]
      end
    end
    redis.call('HSET', KEYS[1], unpack(w))
  end
end
out[3 * count + 1] = epochList
out[3 * count + 2] = ep or false
return out
`;
