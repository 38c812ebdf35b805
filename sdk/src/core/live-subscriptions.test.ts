// LiveSubscriptions hands a message in a run of consecutive ids only to its recipients' subscriptions, and vouches
// to each that the ids it was not handed were not routed to it. These tests check that against the store: every
// subscription of a crowded room gets exactly the ids routed to it, once and in order, while several buses write,
// notices are lost or late, and subscriptions start (with and without `after`) and stop mid-stream.
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../test/support/seeded-random.js';
import { InMemoryStorageBackend } from '../backends/memory/index.js';
import { BroadcastRoutingPolicy, IndividualRoutingPolicy } from '../routing-policies/index.js';
import { MessageBus } from './bus.js';
import { Message } from './message.js';
import type { StorageBackend, StoredMessage } from './types.js';

const ROOM = 'crowd';
const AGENTS = Array.from({ length: 12 }, (_, i) => `agent-${i}`);

/** The memory backend behind a watch that loses or delays some notices, counting fetches. */
function lossy(inner: InMemoryStorageBackend, fate: () => 'now' | 'later' | 'drop') {
  let fetches = 0;
  const backend = new Proxy(inner, {
    get(target, key) {
      if (key === 'watch') {
        return (room: string, listener: (message: StoredMessage) => void) =>
          target.watch(room, (message) => {
            const chosen = fate();
            if (chosen === 'now') listener(message);
            else if (chosen === 'later') setTimeout(() => listener(message), 0);
          });
      }
      if (key === 'fetch') {
        return (...args: Parameters<StorageBackend['fetch']>) => {
          fetches++;
          return target.fetch(...args);
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { backend: backend as StorageBackend, fetches: () => fetches };
}

interface Watched {
  agent: string;
  /** Ids above this are owed to it. */
  from: number;
  ids: number[];
  stop: () => void;
  /** Set when stopped: ids above this are not owed. */
  until?: number;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setTimeout(() => resolve(), 5));
}

describe('LiveSubscriptions', () => {
  for (const seed of [11, 12, 13]) {
    it(`every subscription of a crowded room gets what is routed to it, once and in order (seed ${seed})`, async () => {
      const random = mulberry32(seed);
      const storage = new InMemoryStorageBackend();
      const reader = lossy(storage, () => (random() < 0.05 ? 'drop' : random() < 0.05 ? 'later' : 'now'));
      const readerBus = new MessageBus(reader.backend, new IndividualRoutingPolicy(), {
        room: ROOM,
        logLevel: 'silent',
        closeStorage: false,
      });
      const writerBus = new MessageBus(storage, new IndividualRoutingPolicy(), { room: ROOM, logLevel: 'silent', closeStorage: false });
      for (const agent of AGENTS) await writerBus.connectAgent(agent);
      const watched: Watched[] = [];
      const start = async (agent: string, withAfter: boolean) => {
        const lastId = (await storage.getRoom(ROOM)).lastId;
        const from = withAfter ? Math.max(0, lastId - Math.floor(random() * 5)) : 0;
        const entry: Watched = { agent, from, ids: [], stop: () => {} };
        entry.stop = readerBus.subscribe(agent, (message) => void entry.ids.push(message.id), { after: from });
        watched.push(entry);
      };
      for (const agent of AGENTS.slice(0, 8)) await start(agent, false);
      for (let step = 0; step < 80; step++) {
        const burst = Array.from({ length: 1 + Math.floor(random() * 6) }, () => {
          const sender = AGENTS[Math.floor(random() * AGENTS.length)] as string;
          const count = 1 + Math.floor(random() * 3);
          const to = [...new Set(Array.from({ length: count }, () => AGENTS[Math.floor(random() * AGENTS.length)] as string))];
          return (random() < 0.3 ? readerBus : writerBus).sendMessage(new Message(sender, step, to));
        });
        await Promise.all(burst);
        if (random() < 0.1) await start(AGENTS[Math.floor(random() * AGENTS.length)] as string, random() < 0.5);
        if (random() < 0.05) {
          const live = watched.filter((w) => w.until === undefined);
          const victim = live[Math.floor(random() * live.length)];
          if (victim) {
            victim.stop();
            victim.until = (await storage.getRoom(ROOM)).lastId;
          }
        }
      }
      // The reader's own sends are always heard: one to everyone ends any wait on a lost notice.
      await readerBus.sendMessage(new Message('agent-0', 'end', AGENTS));
      await settle();
      const history = await storage.history(ROOM, 0, 10_000);
      for (const entry of watched) {
        const owed = history.filter((m) => m.id > entry.from && m.recipients.includes(entry.agent)).map((m) => m.id);
        if (entry.until === undefined) expect(entry.ids, `${entry.agent} from ${entry.from}`).toEqual(owed);
        else expect(owed.slice(0, entry.ids.length), `${entry.agent} stopped at ${entry.until}`).toEqual(entry.ids);
      }
      await readerBus.close();
      await writerBus.close();
    });
  }

  it('wakes a caught-up subscription of a crowded room only for its own messages, with no fetch', async () => {
    const storage = new InMemoryStorageBackend();
    const counted = lossy(storage, () => 'now');
    const bus = new MessageBus(counted.backend, new IndividualRoutingPolicy(), { room: ROOM, logLevel: 'silent' });
    for (const agent of AGENTS) await bus.connectAgent(agent);
    const received = new Map<string, number[]>(AGENTS.map((a) => [a, []]));
    for (const agent of AGENTS) bus.subscribe(agent, (m) => void received.get(agent)?.push(m.id));
    await bus.sendMessage(new Message('agent-0', 'hello', AGENTS));
    await settle();
    const fetchesBefore = counted.fetches();
    for (let i = 0; i < 300; i++) await bus.sendMessage(new Message('agent-0', i, [AGENTS[(i % 11) + 1] as string]));
    await settle();
    expect(counted.fetches()).toBe(fetchesBefore);
    for (const [agent, ids] of received) {
      const history = await storage.history(ROOM, 0, 1000);
      expect(ids, agent).toEqual(history.filter((m) => m.recipients.includes(agent)).map((m) => m.id));
    }
    await bus.close();
  });

  it('hands broadcasts to every subscription and a gap to all of them', async () => {
    const storage = new InMemoryStorageBackend();
    // This bus hears only its own sends: every message of the other writer is a gap for it.
    const bus = new MessageBus(lossy(storage, () => 'drop').backend, new BroadcastRoutingPolicy(), {
      room: ROOM,
      logLevel: 'silent',
      closeStorage: false,
    });
    const other = new MessageBus(storage, new BroadcastRoutingPolicy(), { room: ROOM, logLevel: 'silent', closeStorage: false });
    for (const agent of AGENTS) await bus.connectAgent(agent);
    const received = new Map<string, number[]>(AGENTS.map((a) => [a, []]));
    for (const agent of AGENTS) bus.subscribe(agent, (m) => void received.get(agent)?.push(m.id));
    for (let i = 0; i < 40; i++) await (i % 7 === 3 ? other : bus).sendMessage(new Message(AGENTS[i % AGENTS.length] as string, i));
    await bus.sendMessage(new Message('agent-0', 'end'));
    await settle();
    const history = await storage.history(ROOM, 0, 1000);
    for (const [agent, ids] of received) expect(ids, agent).toEqual(history.filter((m) => m.recipients.includes(agent)).map((m) => m.id));
    await other.close();
    await bus.close();
  });
});
