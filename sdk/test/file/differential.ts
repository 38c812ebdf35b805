import { InMemoryStorageBackend } from '../../src/backends/memory/index.js';
import { MessageBusError } from '../../src/core/errors.js';
import type { Audience, MessageDraft, StorageBackend } from '../../src/core/types.js';

/**
 * Drives a backend and the in-memory reference backend through the same random history (joins, leaves,
 * direct, subgroup-like and broadcast sends, long runs of one agent's broadcasts, idempotent repeats, acks,
 * retention) and returns every observation of both, to be compared for equality.
 */
export async function differential(
  backend: StorageBackend,
  room: string,
  seed: number,
  maxMessages?: number,
): Promise<{ expected: string[]; actual: string[] }> {
  const reference = new InMemoryStorageBackend({ maxMessages });
  const random = mulberry32(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const agents = ['a', 'b', 'c', 'd', 'e', 'f'];
  const expected: string[] = [];
  const actual: string[] = [];
  const both = async (label: string, op: (s: StorageBackend) => Promise<unknown> | unknown) => {
    expected.push(`${label} → ${await outcome(() => op(reference))}`);
    actual.push(`${label} → ${await outcome(() => op(backend))}`);
  };
  let time = 1_700_000_000_000;
  for (const agent of ['a', 'b', 'c']) await both(`join ${agent}`, (s) => s.putMember(room, { id: agent, online: true }));
  for (let step = 0; step < 220; step++) {
    const members = (await reference.getMembers(room)).map((m) => m.id);
    const roll = random();
    if (roll < 0.06) {
      const agent = pick(agents);
      const update = { id: agent, online: random() < 0.8, groups: random() < 0.5 ? ['g'] : undefined };
      await both(`join ${agent}`, (s) => s.putMember(room, update));
    } else if (roll < 0.1 && members.length > 2) {
      const agent = pick(members);
      await both(`remove ${agent}`, (s) => s.removeMember(room, agent));
    } else if (roll < 0.16) {
      const agent = pick(agents);
      const upTo = Math.floor(random() * (step + 1));
      await both(`ack ${agent} ${upTo}`, (s) => s.ack(room, agent, upTo));
    } else {
      // A run of one sender's broadcasts that exclude it (fetch must jump over them), or a single send.
      const run = random() < 0.08 ? 20 + Math.floor(random() * 20) : 1;
      const sender = random() < 0.95 && members.length > 0 ? pick(members) : 'ghost';
      const audience: Audience = run > 1 ? 'members-except-sender' : pick(['list', 'list', 'members', 'members-except-sender'] as const);
      for (let i = 0; i < run; i++) {
        const recipients = audience === 'list' ? [...new Set(agents.filter(() => random() < 0.4))].sort() : [];
        const key = random() < 0.15 ? `k${Math.floor(random() * 10)}` : undefined;
        const content = { step, i, text: random() < 0.1 ? 'héllo 👋' : 'x' };
        const draft: MessageDraft = {
          timestamp: time++,
          sender,
          content,
          contentJson: JSON.stringify(content),
          recipients,
          audience,
          routing: { policy: 'test', requested: recipients.length ? recipients : null },
          ...(key ? { idempotencyKey: key } : {}),
        };
        await both(`append ${sender} ${audience} ${recipients} ${key ?? ''}`, (s) => s.append(room, draft));
      }
    }
    if (step % 20 === 19) await observe(both, room, agents, random);
  }
  await observe(both, room, agents, random);
  await reference.close();
  return { expected, actual };
}

async function observe(
  both: (label: string, op: (s: StorageBackend) => Promise<unknown> | unknown) => Promise<void>,
  room: string,
  agents: string[],
  random: () => number,
): Promise<void> {
  await both('getRoom', (s) => s.getRoom(room));
  await both('history', (s) => s.history(room, 0, 1000));
  for (const agent of agents) {
    for (const after of [null, 0, Math.floor(random() * 300)]) {
      for (const limit of [1, 7, 1000]) await both(`fetch ${agent} ${after} ${limit}`, (s) => s.fetch(room, agent, after, limit));
    }
  }
}

async function outcome(op: () => Promise<unknown> | unknown): Promise<string> {
  try {
    return JSON.stringify(await op());
  } catch (error) {
    if (MessageBusError.is(error)) return `${error.code} ${JSON.stringify(error.details)}`;
    throw error;
  }
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
