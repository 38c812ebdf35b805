import { COMMON } from './layout.js';

/**
 * The conversation rules inside Redis, where atomicity forces them: the `seenBy` rule of the storage kit
 * (kit/conversation.ts) as `seen`, the `replyThread` rule in the append script (append.ts uses `REPLY`), and the
 * thread and paging reads. Keys (see layout.ts): `thr` hash, reply id → its thread root; `th:<root>` sorted
 * set, the replies of each thread (score = id). Rooms stored before conversations have neither: every message
 * there is its own thread.
 */

/**
 * `seen(a, join, id, value)`: mirrors `seenBy` in kit/conversation.ts. The agent sent it (the body's `s`, the
 * second field the client writes), or the message is in its current membership (`id > join`) and routed to it:
 * a list that names it, or a broadcast (every member at that id, the sender aside, and the agent is not the
 * sender here).
 */
export const SEEN = `
local function senderOf(value)
  local nl = string.find(value, '\\n', 1, true)
  return string.match(string.sub(value, nl + 1, nl + 300), '^{"t":[^,]*,"s":"([^"]*)"')
end
local function seen(a, join, id, value)
  if senderOf(value) == a then return true end
  if id <= join then return false end
  if string.sub(value, 1, 1) ~= 'L' then return true end
  local nl = string.find(value, '\\n', 1, true)
  return string.find(',' .. string.sub(value, 2, nl - 1) .. ',', ',' .. a .. ',', 1, true) ~= nil
end
`;

/**
 * Inlined into the append script: `replyTo(sender, parent, oldest, last)` mirrors `replyThread` in
 * kit/conversation.ts, with the room's oldest and last ids as the append has them (it writes the head once, after
 * every message of its call). It returns the thread of a reply to `parent` ('' = none: nil), or false when
 * `sender` has not seen a retained message of that id (missing, trimmed, too new, hidden: one answer for all).
 */
export const REPLY = `${SEEN}
local function replyTo(sender, parent, oldest, last)
  if parent == '' then return nil end
  local pid = tonumber(parent)
  if pid < oldest or pid > last then return false end
  local value = redis.call('HGET', p .. 'msg', pid)
  if not value then return false end
  if not seen(sender, tonumber(redis.call('HGET', p .. 'join', sender)), pid, value) then return false end
  return tonumber(redis.call('HGET', p .. 'thr', pid) or pid)
end
`;

/**
 * ARGV: prefix, agent, thread root, after, limit. Returns {1, ids, values} or {-1} for a non-member: the
 * thread's retained messages the agent has seen (`seen`), ascending. The root (when `thread` is one) and then
 * its replies from `th:<root>`, read a page at a time: O(log n + t) for the t thread messages read.
 */
export const FETCH_THREAD = `${COMMON}${SEEN}
local a = ARGV[2]
if not member(a) then return {-1} end
local join = tonumber(redis.call('HGET', p .. 'join', a))
local thread = tonumber(ARGV[3])
local limit = tonumber(ARGV[5])
local oldest = tonumber(redis.call('HGET', KEYS[1], 'oldest') or '1')
local from = math.max(tonumber(ARGV[4]), oldest - 1)
local ids, values = {}, {}
local function keep(id, value)
  if value and seen(a, join, id, value) then
    ids[#ids + 1] = id
    values[#values + 1] = value
  end
end
if thread > from and redis.call('HEXISTS', p .. 'thr', thread) == 0 then keep(thread, redis.call('HGET', p .. 'msg', thread)) end
local low = '(' .. from
while #ids < limit do
  local want = math.max(16, limit - #ids)
  local page = redis.call('ZRANGEBYSCORE', p .. 'th:' .. thread, low, '+inf', 'LIMIT', 0, want)
  if #page == 0 then break end
  local found = redis.call('HMGET', p .. 'msg', unpack(page))
  for i, id in ipairs(page) do
    if #ids >= limit then break end
    keep(tonumber(id), found[i])
  end
  if #page < want then break end
  low = '(' .. page[#page]
end
return {1, ids, values}
`;
