// Live delivery: a caught-up subscription takes the room's next message as it is stored and fetches only on a gap.
// A wrapped in-memory backend counts fetches per agent and can lose, delay or fail notices, so the tests can check
// both halves: no fetch (and no wake-up) where none is needed, and every message in order, exactly once, where
// direct delivery and gap fetches interleave.
import { afterEach, describe, expect, it } from 'vitest';
import { InMemoryStorageBackend } from '../src/backends/memory/index.js';
import { Message, MessageBus, MessageBusError, type RoutingPolicy, type StorageBackend, type StoredMessage } from '../src/index.js';
import { BroadcastRoutingPolicy, IndividualRoutingPolicy } from '../src/routing-policies/index.js';

const ROOM = 'live';

interface WrapOptions {
  /** Offer a `watch` feed (default true). */
  watch?: boolean;
  /** Decides what happens to each notice: pass it on now, later (`setTimeout`), or never. */
  notice?: (message: StoredMessage) => 'now' | 'later' | 'drop';
  /** How many fetches fail with STORAGE_FAILURE before fetches work again. */
  failingFetches?: number;
}

/** A StorageBackend over a shared memory backend that counts `fetch` calls per agent. */
function observed(inner: InMemoryStorageBackend, options: WrapOptions = {}) {
  const fetches = new Map<string, number>();
  let failing = options.failingFetches ?? 0;
  const backend: StorageBackend = {
    name: 'observed',
    getMembers: (room) => inner.getMembers(room),
    getRoom: (room) => inner.getRoom(room),
    listRooms: () => inner.listRooms(),
    putMember: (room, update) => inner.putMember(room, update),
    removeMember: (room, agent) => inner.removeMember(room, agent),
    append: (room, draft) => inner.append(room, draft),
    fetch: async (room, agent, after, limit) => {
      fetches.set(agent, (fetches.get(agent) ?? 0) + 1);
      if (failing > 0) {
        failing--;
        throw new MessageBusError('STORAGE_FAILURE', 'observed: this fetch fails on purpose');
      }
      return inner.fetch(room, agent, after, limit);
    },
    history: (room, after, limit) => inner.history(room, after, limit),
    ack: (room, agent, upTo) => inner.ack(room, agent, upTo),
    close: async () => {},
  };
  if (options.watch !== false) {
    backend.watch = (room, listener) =>
      inner.watch(room, (message) => {
        const fate = options.notice?.(message) ?? 'now';
        if (fate === 'now') listener(message);
        else if (fate === 'later') setTimeout(() => listener(message), 0);
      });
  }
  return { backend, fetchesOf: (agent: string) => fetches.get(agent) ?? 0 };
}

/** Collects what a subscription delivers; `until(n)` resolves once `n` messages arrived. */
function collector() {
  const ids: number[] = [];
  let waiting: { n: number; resolve: () => void } | undefined;
  return {
    ids,
    handler: (message: StoredMessage) => {
      ids.push(message.id);
      if (waiting && ids.length >= waiting.n) waiting.resolve();
    },
    until: (n: number) =>
      new Promise<void>((resolve) => {
        if (ids.length >= n) resolve();
        else waiting = { n, resolve };
      }),
  };
}

function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** Ids routed to `agent`, from the store itself. */
async function routedTo(storage: InMemoryStorageBackend, agent: string): Promise<number[]> {
  const history = await storage.history(ROOM, 0, 100_000);
  return history.filter((m) => m.recipients.includes(agent)).map((m) => m.id);
}

const buses: MessageBus[] = [];
function bus(backend: StorageBackend, policy: RoutingPolicy = new IndividualRoutingPolicy()): MessageBus {
  const created = new MessageBus(backend, policy, { room: ROOM, logLevel: 'silent', closeStorage: false });
  buses.push(created);
  return created;
}
afterEach(async () => {
  for (const b of buses.splice(0)) await b.close();
});

describe('live delivery', () => {
  it('is never woken for direct messages to others, and takes its own without a fetch once caught up', async () => {
    const storage = new InMemoryStorageBackend();
    const { backend, fetchesOf } = observed(storage);
    const room = bus(backend);
    for (const agent of ['a', 'b', 'c']) await room.connectAgent(agent);
    const b = collector();
    const c = collector();
    room.subscribe('b', b.handler, { after: 0 });
    room.subscribe('c', c.handler, { after: 0 });
    // The first notice after subscribing is a gap (nothing proves the mark yet): one fetch each.
    await room.sendMessage(new Message('a', 'first', ['b']));
    await room.sendMessage(new Message('a', 'first', ['c']));
    await Promise.all([b.until(1), c.until(1)]);
    const bFetches = fetchesOf('b');
    const cFetches = fetchesOf('c');

    for (let i = 0; i < 200; i++) await room.sendMessage(new Message('a', i, ['c']));
    await c.until(201);
    expect(fetchesOf('b')).toBe(bFetches);
    expect(b.ids).toEqual([1]);
    expect(fetchesOf('c')).toBe(cFetches);

    const last = await room.sendMessage(new Message('a', 'yours', ['b']));
    await b.until(2);
    expect(b.ids).toEqual([1, last.id]);
    expect(fetchesOf('b')).toBe(bFetches);
    expect(c.ids).toEqual(await routedTo(storage, 'c'));
  });

  it('never calls a handler inside the send that stored the message', async () => {
    const room = bus(new InMemoryStorageBackend());
    for (const agent of ['a', 'b']) await room.connectAgent(agent);
    let sending = false;
    const calledDuringSend: boolean[] = [];
    const done = collector();
    room.subscribe(
      'b',
      (message) => {
        calledDuringSend.push(sending);
        done.handler(message);
      },
      { after: 0 },
    );
    for (let i = 0; i < 20; i++) {
      sending = true;
      const sent = room.sendMessage(new Message('a', i, ['b']));
      sending = false;
      await sent;
    }
    await done.until(20);
    expect(calledDuringSend).toEqual(new Array(20).fill(false));
  });

  for (const seed of [1, 2, 3]) {
    it(`delivers every message once and in order when direct delivery and gap fetches interleave (seed ${seed})`, async () => {
      const storage = new InMemoryStorageBackend();
      const next = random(seed);
      // The reader hears of other writers' messages only through its watch, which loses some notices and delays others.
      const reader = observed(storage, { notice: () => (next() < 0.06 ? 'drop' : next() < 0.06 ? 'later' : 'now') });
      const readerBus = bus(reader.backend);
      const writerBus = bus(observed(storage, { watch: false }).backend);
      for (const agent of ['a', 'b', 'c', 'd']) await writerBus.connectAgent(agent);
      const b = collector();
      let handled = 0;
      readerBus.subscribe(
        'b',
        async (message) => {
          // Some deliveries take a while, so notices pile up in the queue behind them.
          if (++handled % 13 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
          b.handler(message);
        },
        { after: 0 },
      );
      for (let step = 0; step < 60; step++) {
        const burst = Array.from({ length: 1 + Math.floor(next() * 8) }, () => {
          const to = ['b', 'c', 'd'][Math.floor(next() * 3)] as string;
          const sender = next() < 0.2 ? readerBus : writerBus;
          return sender.sendMessage(new Message('a', step, [to]));
        });
        await Promise.all(burst);
      }
      // The reader's own send is always heard (the bus tells its subscriptions itself), so a lost last notice cannot stall.
      await readerBus.sendMessage(new Message('a', 'end', ['b']));
      const expected = await routedTo(storage, 'b');
      await b.until(expected.length);
      expect(b.ids).toEqual(expected);
      // Both paths ran: some gaps were fetched, most messages came without one.
      expect(reader.fetchesOf('b')).toBeGreaterThan(1);
      expect(reader.fetchesOf('b')).toBeLessThan(expected.length);
    });
  }

  it('keeps order when a slow handler lets more than a queue of messages wait', async () => {
    const storage = new InMemoryStorageBackend();
    const { backend, fetchesOf } = observed(storage);
    const room = bus(backend);
    for (const agent of ['a', 'b']) await room.connectAgent(agent);
    const b = collector();
    room.subscribe(
      'b',
      async (message) => {
        await new Promise((resolve) => setTimeout(resolve, 0));
        b.handler(message);
      },
      { after: 0 },
    );
    await room.sendMessage(new Message('a', 'first', ['b']));
    await b.until(1);
    // 2,500 sends while the handler is busy with the first of them: the queue overflows and the store takes over.
    for (let i = 0; i < 2500; i++) await room.sendMessage(new Message('a', i, ['b']));
    await b.until(2501);
    expect(b.ids).toEqual(await routedTo(storage, 'b'));
    expect(fetchesOf('b')).toBeGreaterThan(1);
  });

  it('retries failed gap fetches and still delivers everything in order', async () => {
    const storage = new InMemoryStorageBackend();
    const errors: string[] = [];
    // The replay fetch and the next two fail; messages keep arriving meanwhile.
    const { backend } = observed(storage, { failingFetches: 3 });
    const room = bus(backend);
    for (const agent of ['a', 'b']) await room.connectAgent(agent);
    const b = collector();
    room.subscribe('b', b.handler, { after: 0, onError: (e) => errors.push((e as MessageBusError).code) });
    for (let i = 0; i < 50; i++) await room.sendMessage(new Message('a', i, ['b']));
    await b.until(50);
    expect(b.ids).toEqual(await routedTo(storage, 'b'));
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors.every((code) => code === 'STORAGE_FAILURE')).toBe(true);
  });

  it('keeps delivering after a handler throws and its onError throws too', async () => {
    const storage = new InMemoryStorageBackend();
    const room = bus(observed(storage).backend);
    for (const agent of ['a', 'b']) await room.connectAgent(agent);
    const b = collector();
    room.subscribe(
      'b',
      (message) => {
        b.handler(message);
        if (message.id % 3 === 0) throw new Error(`handler fails on ${message.id}`);
      },
      {
        after: 0,
        onError: () => {
          throw new Error('onError fails too');
        },
      },
    );
    for (let i = 0; i < 12; i++) await room.sendMessage(new Message('a', i, ['b']));
    await b.until(12);
    expect(b.ids).toEqual(await routedTo(storage, 'b'));
  });

  it('joins replay and live delivery without a gap or duplicate while sends keep coming', async () => {
    const storage = new InMemoryStorageBackend();
    const room = bus(observed(storage).backend);
    for (const agent of ['a', 'b', 'c']) await room.connectAgent(agent);
    for (let i = 0; i < 30; i++) await room.sendMessage(new Message('a', i, [i % 2 ? 'b' : 'c']));
    const b = collector();
    const sends: Promise<StoredMessage>[] = [];
    room.subscribe('b', b.handler, { after: 10 });
    for (let i = 0; i < 40; i++) sends.push(room.sendMessage(new Message('a', i, [i % 3 ? 'b' : 'c'])));
    await Promise.all(sends);
    const expected = (await routedTo(storage, 'b')).filter((id) => id > 10);
    await b.until(expected.length);
    expect(b.ids).toEqual(expected);
  });

  it('delivers broadcasts to each subscriber of a large room and not back to the sender', async () => {
    const storage = new InMemoryStorageBackend();
    const room = bus(observed(storage).backend, new BroadcastRoutingPolicy());
    const agents = Array.from({ length: 20 }, (_, i) => `agent-${String(i).padStart(2, '0')}`);
    for (const agent of agents) await room.connectAgent(agent);
    const seen = new Map(agents.map((agent) => [agent, collector()]));
    for (const [agent, c] of seen) room.subscribe(agent, c.handler, { after: 0 });
    for (let i = 0; i < 30; i++) await room.sendMessage(new Message(agents[i % 3] as string, i));
    for (const [agent, c] of seen) {
      const expected = await routedTo(storage, agent);
      await c.until(expected.length);
      expect(c.ids).toEqual(expected);
    }
    expect(seen.get('agent-00')?.ids).toHaveLength(20);
    expect(seen.get('agent-10')?.ids).toHaveLength(30);
  });
});
