/**
 * The key layout every Lua script of `RedisStorageBackend` shares. Each script runs atomically in Redis, so
 * several processes on one room never interleave inside an operation.
 *
 * Keys of a room share the prefix `<keyPrefix>{<room>}:` (the braces are a Redis Cluster hash tag: the whole
 * room lives on one slot). KEYS[1] is the room's `meta` hash; the other keys are derived from ARGV[1], the
 * room prefix:
 * - `meta` hash: `last` (last id), `oldest` (oldest retained id), `ep` (current broadcast audience epoch,
 *   absent after a membership change), `epn` (epoch counter), `epmin` (oldest epoch not yet collected),
 *   `mver` (membership version: +1 on every membership change), and per member `n:<agent>` (send count) and
 *   `t:<agent>` (last send time): the append reads and writes them with the room's head, one call each way.
 * - `join`, `on`, `grp`, `cur` hashes: per member, joinedAfter, online ('1'/'0'), groups (JSON), acked cursor.
 *   Rooms stored before the counters moved into `meta` keep them in `sent` and `lastAt` hashes: read while a
 *   member has no `n:` field yet (the first append moves them), and deleted with the member.
 * - `msg` hash: id → `<head>\n<body>`; head is `L<recipients, comma-separated>` for a list audience,
 *   `M<epoch>` for every member, `X<epoch>` for every member but the sender; body is the client's JSON
 *   (t, s, p, q, k, c).
 * - `dl:<agent>` sorted set: ids of list-audience messages routed to the agent (score = id).
 * - `bc` sorted set: one entry `<id>:<epoch>:<excluded sender or empty>` per broadcast (score = id), and
 *   `bs:<agent>` the ids of the agent's own broadcasts that exclude it (so fetch jumps over runs of them).
 * - `ep:<n>` set and `epl:<n>` string: the members of audience epoch n, stored once.
 * - `idem` hash `sender \0 key` → id, and `ik` hash id → that field, for retention.
 * - `thr` hash: reply id → its thread root; `th:<root>` sorted set: the replies of that thread (see
 *   conversations.ts). A message that answers nothing is in neither: it is its own thread. The body of a reply
 *   carries `i` (inReplyTo) and `h` (thread) right after `s`, and `m` (metadata) before `c`.
 * Appends are published on the `live` channel as `<id>\n<writer>\n<head>\n<body>`, membership changes as
 * `members` (watching processes drop their cached member list). Stream signals go on the `streams` channel
 * (`<writer>\n<signal JSON>`, published by the backend, no script: nothing of a stream is stored).
 *
 * The room list, `<keyPrefix>rooms`, is a set outside any room's slot; the backend adds to it beside the
 * membership script.
 */

/** The prelude of every script: the room prefix and the membership test. */
export const COMMON = `
local p = ARGV[1]
local function member(a) return redis.call('HEXISTS', p .. 'join', a) == 1 end
`;
