import { COMMON } from './layout.js';

/**
 * Read scripts: the delivery index walked for one agent (fetch, lastRoutedId) and the room's history.
 * Broadcasts live once in the shared `bc` set; a run of an agent's own broadcasts (which exclude it) is jumped
 * over, so neither fetch nor lastRoutedId scans it.
 *
 * What they return mirrors the kit (kit/own-runs.ts): `nextOther`/the fetch loop give what `broadcastWalk`
 * gives, `lastRouted` what `lastBroadcastWalk` gives (with `retainedOrZero`, kit/fetch-window.ts), and the
 * final merge is `mergeAscending`. How a run is jumped differs, because the Redis key layout is kept as it is:
 * it holds each sender's own broadcast ids (`bs:<agent>`) rather than runs as first/last pairs, so the end of a
 * run is found by binary search on counts (ZCOUNT of `bc` against ZCOUNT of `bs:<agent>`), O(log² n).
 */

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
-- One batch of a broadcast walk (kit broadcastWalk's step): appends the ids in it routed to \`a\` to \`out\`, at most
-- \`limit\` in all, and after 8 of the agent's own broadcasts in a row asks \`jumpFrom(id)\` where to go on. Returns
-- that position, false when no other broadcast is left, or nil to read on after the batch (or when \`out\` is full).
local function walkBatch(batch, a, out, limit, jumpFrom)
  local streak = 0
  for _, entry in ipairs(batch) do
    local id = broadcastFor(entry, a)
    if id then
      out[#out + 1] = id
      if #out >= limit then return nil end
    end
    if isOwn(entry, a) then streak = streak + 1 else streak = 0 end
    if streak >= 8 then return jumpFrom(tonumber(string.match(entry, '^(%d+):'))) or false end
  end
  return nil
end
-- Mirrors kit lastBroadcastWalk + retainedOrZero.
local function lastRouted(a, join, oldest)
  local last = 0
  local d = redis.call('ZRANGE', p .. 'dl:' .. a, -1, -1)[1]
  if d then last = tonumber(d) end
  local floor = math.max(last, join)
  local top = '+inf'
  while true do
    local batch = redis.call('ZREVRANGEBYSCORE', p .. 'bc', top, '(' .. floor, 'LIMIT', 0, 100)
    if #batch == 0 then break end
    local found = {}
    local jump = walkBatch(batch, a, found, 1, function(i) return prevOther(a, i, floor) end)
    if found[1] then
      last = found[1]
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
  -- The send count and time live in the head; a member without \`n:\` there has them in the older hashes.
  local sent, lastAt = unpack(redis.call('HMGET', KEYS[1], 'n:' .. a, 't:' .. a))
  if not sent then sent, lastAt = redis.call('HGET', p .. 'sent', a), redis.call('HGET', p .. 'lastAt', a) end
  out[#out + 1] = {a, redis.call('HGET', p .. 'on', a), redis.call('HGET', p .. 'grp', a), join,
    tonumber(redis.call('HGET', p .. 'cur', a) or '0'), tonumber(sent or '0'), lastAt or false, lastRouted(a, join, oldest)}
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
-- The window: mirrors kit fetchStart (kit/fetch-window.ts); -2 is its CURSOR_EXPIRED.
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
-- Enough for the page plus the start of an own run (8 in a row trigger a jump), and no more.
local size = math.min(200, limit + 8)
while #b < limit do
  local batch = redis.call('ZRANGEBYSCORE', p .. 'bc', low, bound, 'LIMIT', 0, size)
  local jump = walkBatch(batch, a, b, limit, function(i) return nextOther(a, i, last) end)
  if jump == false or #b >= limit then break end
  if jump then
    low = jump
  else
    if #batch < size then break end
    low = '(' .. string.match(batch[#batch], '^(%d+):')
  end
end
-- Mirrors kit mergeAscending.
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

/**
 * ARGV: prefix, agent, before ('' = none), limit. Returns {1, ids, values} or {-1} for a non-member: the newest
 * `limit` messages routed to the agent below `before`, ascending (`fetchLatest`). The window is `latestWindow`
 * of the storage kit (above the membership's start and the oldest retained id, so never CURSOR_EXPIRED); the
 * broadcasts are walked back like `lastRouted`, own runs jumped by `prevOther`: O(log n + k).
 */
export const FETCH_LATEST = `${COMMON}${LAST_ROUTED}
local a = ARGV[2]
if not member(a) then return {-1} end
local join = tonumber(redis.call('HGET', p .. 'join', a))
local oldest = tonumber(redis.call('HGET', KEYS[1], 'oldest') or '1')
local floor = math.max(join, oldest - 1)
local limit = tonumber(ARGV[4])
local top = ARGV[3] == '' and '+inf' or '(' .. ARGV[3]
local d = redis.call('ZREVRANGEBYSCORE', p .. 'dl:' .. a, top, '(' .. floor, 'LIMIT', 0, limit)
-- With a full page of direct ids, no broadcast below the oldest of them can make the answer.
local lowest = floor
if #d == limit then lowest = math.max(floor, tonumber(d[#d])) end
local b = {}
local size = math.min(200, limit + 8)
while #b < limit do
  local batch = redis.call('ZREVRANGEBYSCORE', p .. 'bc', top, '(' .. lowest, 'LIMIT', 0, size)
  if #batch == 0 then break end
  local jump = walkBatch(batch, a, b, limit, function(i) return prevOther(a, i, lowest) end)
  if jump == false or #b >= limit then break end
  if jump then
    top = jump
  else
    if #batch < size then break end
    top = '(' .. string.match(batch[#batch], '^(%d+):')
  end
end
-- The newest \`limit\` of both (each newest first), then ascending.
local ids = {}
local i, j = 1, 1
while #ids < limit and (i <= #d or j <= #b) do
  local x = d[i] and tonumber(d[i]) or -1
  local y = b[j] or -1
  if x >= y then
    ids[#ids + 1] = x
    i = i + 1
    if x == y then j = j + 1 end
  else
    ids[#ids + 1] = y
    j = j + 1
  end
end
local asc = {}
for k = #ids, 1, -1 do asc[#asc + 1] = ids[k] end
if #asc == 0 then return {1, {}, {}} end
return {1, asc, redis.call('HMGET', p .. 'msg', unpack(asc))}
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
