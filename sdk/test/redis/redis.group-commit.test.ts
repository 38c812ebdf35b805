import { describe, expect, it } from 'vitest';
import { InMemoryStorageBackend } from '../../src/backends/memory/backend.js';
import { RedisStorageBackend } from '../../src/backends/redis/index.js';
import { isMembersChanged } from '../../src/core/errors.js';
import type { MessageDraft, StorageBackend } from '../../src/core/types.js';
import { redisForFile } from './server.js';

const testRedis = redisForFile();

const ROOM = 'batch';
const MEMBERS = ['a', 'b', 'c'];

function draft(sender: string, content: string, extra: Partial<MessageDraft> = {}): MessageDraft {
  const direct = extra.recipients !== undefined;
  return {
    timestamp: 1_700_000_000_000 + content.length,
    sender,
    content,
    contentJson: JSON.stringify(content),
    recipients: extra.recipients ?? MEMBERS.filter((m) => m !== sender),
    audience: direct ? 'list' : 'members-except-sender',
    routing: { policy: 'test', requested: direct ? [...(extra.recipients ?? [])] : null },
    ...extra,
  };
}

/** The appends of one batch, some of them about others in the same batch (ids 1.. as the room starts empty). */
function drafts(members: MessageDraft['members']): MessageDraft[] {
  return [
    draft('a', 'one', { members }),
    draft('b', 'two, direct to c', { recipients: ['c'], members }),
    draft('a', 'keyed', { idempotencyKey: 'k1', members }),
    draft('a', 'keyed again: a duplicate of the one before, in the same call', { idempotencyKey: 'k1', members }),
    draft('c', 'a reply to one, stored in the same call', { inReplyTo: 1, members }),
    draft('zed', 'not a member', { members }),
    draft('a', 'a reply to a message a never saw (b to c)', { inReplyTo: 2, recipients: ['b'] }),
    draft('b', 'a reply to the reply (id 4)', { inReplyTo: 4 }),
    draft('c', 'to everyone, the sender too', { audience: 'members', recipients: MEMBERS }),
    draft('b', 'last', { idempotencyKey: 'k1' }),
  ];
}

async function outcomes(storage: StorageBackend, members?: MessageDraft['members']): Promise<unknown[]> {
  const settled = await Promise.allSettled(drafts(members).map((d) => storage.append(ROOM, d)));
  return settled.map((s) =>
    s.status === 'fulfilled'
      ? { id: s.value.message.id, duplicate: s.value.duplicate, thread: s.value.message.thread, recipients: s.value.message.recipients }
      : { error: (s.reason as { code?: string }).code },
  );
}

async function state(storage: StorageBackend): Promise<unknown> {
  const room = await storage.getRoom(ROOM);
  const fetched: Record<string, unknown> = {};
  for (const m of MEMBERS)
    fetched[m] = (await storage.fetch(ROOM, m, room.oldestId - 1, 100)).map((x) => [x.id, x.content, x.thread ?? null]);
  return { lastId: room.lastId, oldestId: room.oldestId, members: room.members, fetched };
}

/** Script calls Redis has run: EVALSHA and EVAL (a script's first call on a connection is an EVAL). */
async function scriptCalls(): Promise<number> {
  const stats = String(await testRedis.client.sendCommand(['INFO', 'commandstats']));
  const calls = (command: string) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
  return calls('evalsha') + calls('eval');
}

describe('RedisStorageBackend group commit', () => {
  for (const maxMessages of [undefined, 3]) {
    it(`appends issued together are one script call, each message as if appended alone${maxMessages ? `, maxMessages ${maxMessages}` : ''}`, async () => {
      const keyPrefix = `gc${maxMessages ?? 0}:`;
      const redis = new RedisStorageBackend({ url: testRedis.server.url, keyPrefix, maxMessages });
      const memory = new InMemoryStorageBackend({ maxMessages });
      for (const storage of [redis, memory]) for (const id of MEMBERS) await storage.putMember(ROOM, { id, online: true });
      // Routed with the list Redis handed out: its version is checked, and its members need no lookup.
      const members = await redis.getMembers(ROOM);
      await redis.fetch(ROOM, 'a', 0, 1); // the script cache warm, so the count below is of the batch alone
      const before = await scriptCalls();
      const got = await outcomes(redis, members);
      expect(await scriptCalls()).toBe(before + 1);
      const want: unknown[] = [];
      for (const d of drafts(undefined)) {
        want.push(
          await Promise.resolve()
            .then(() => memory.append(ROOM, d))
            .then(
              (r) => ({ id: r.message.id, duplicate: r.duplicate, thread: r.message.thread, recipients: r.message.recipients }),
              (error: { code?: string }) => ({ error: error.code }),
            ),
        );
      }
      expect(got).toEqual(want);
      expect(got.filter((o) => (o as { error?: string }).error).length).toBe(2); // the outsider and the unseen parent
      expect(await state(redis)).toEqual(await state(memory));
      await redis.close();
    });
  }

  it('a membership change between routing and the call: every message routed on the old list is refused, nothing stored', async () => {
    const storage = new RedisStorageBackend({ url: testRedis.server.url, keyPrefix: 'gcv:' });
    for (const id of MEMBERS) await storage.putMember(ROOM, { id, online: true });
    const members = await storage.getMembers(ROOM);
    await testRedis.client.hIncrBy(`gcv:{${ROOM}}:meta`, 'mver', 1); // another process changed the membership meanwhile
    const settled = await Promise.allSettled(
      [draft('a', 'x', { members }), draft('b', 'y', { members }), draft('c', 'z')].map((d) => storage.append(ROOM, d)),
    );
    const changed = (s: PromiseSettledResult<unknown>) => s.status === 'rejected' && isMembersChanged(s.reason);
    expect(settled.map((s) => (changed(s) ? 'route again' : s.status === 'fulfilled' ? s.value.message.id : s.reason))).toEqual([
      'route again',
      'route again',
      1,
    ]);
    await storage.close();
  });

  it('another operation issued after queued appends runs after them, as the process issued it', async () => {
    const storage = new RedisStorageBackend({ url: testRedis.server.url, keyPrefix: 'gco:' });
    for (const id of MEMBERS) await storage.putMember(ROOM, { id, online: true });
    // Redis knows the removal script but not the append script (another process loaded only that one): a first
    // EVALSHA of the append would fail NOSCRIPT and be retried after the removal had run. Each script's first
    // call on a connection is an EVAL instead, in line with the rest.
    await testRedis.client.sendCommand(['SCRIPT', 'FLUSH']);
    const other = new RedisStorageBackend({ url: testRedis.server.url, keyPrefix: 'gco:' });
    expect(await other.removeMember(ROOM, 'nobody')).toBe(false);
    await other.close();
    const sent = storage.append(ROOM, draft('a', 'before the removal'));
    const removed = storage.removeMember(ROOM, 'a');
    const after = storage.append(ROOM, draft('a', 'after the removal'));
    expect((await sent).message.id).toBe(1);
    expect(await removed).toBe(true);
    await expect(after).rejects.toMatchObject({ code: 'UNKNOWN_AGENT' });
    await storage.close();
  });
});
