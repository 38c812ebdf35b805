/**
 * The random differential harness: one seeded history of bus operations run
 * against a real store (through one or two `MessageBus`es on one or two
 * handles) and against the scanning reference, recording every answer of both.
 * A run is deterministic for its seed, so a failure is replayed by its seed.
 *
 * It covers joins, leaves and re-joins, online state, group changes, the three
 * built-in policies and a custom one mixing audience kinds, rejected sends
 * (each code the bus can give), idempotent repeats (sequential, and concurrent
 * through both handles), long runs of one sender, acks, retention, fetch
 * windows, a bus closed and reopened on the same backend, every handle closed
 * and the store reopened, two handles on one store, and live subscriptions.
 *
 * Runtime-free (no node:*): it runs in Node.js, in Chromium and in workerd.
 */
import type { JsonValue, StorageBackend } from '../../../src/core/types.js';
import { POLICY_NAMES, type PolicyName, policyOf } from './policies.js';
import { Rejection, ScanningReference } from './reference.js';
import type { BusLike as MessageBus, Sdk } from './sdk.js';

/** The store a run checks. */
export interface StoreUnderTest {
  /**
   * Opens a handle on the store: every handle must see the same rooms (another
   * instance, tab or client). A store that cannot have two (memory) returns
   * the same instance every time.
   */
  open(options: { maxMessages?: number }): StorageBackend | Promise<StorageBackend>;
  /** The data outlives its handles (everything but memory): the run also closes every handle and reopens the store. */
  readonly persistent: boolean;
}

export interface DifferentialOptions {
  seed: number;
  /** The SDK to drive: `sdkSources` in the SDK's tests, the built package elsewhere. */
  sdk: Sdk;
  /** Default `diff-<seed>`; give each run its own room when runs share a store. */
  room?: string;
  /** Default 200. */
  steps?: number;
  maxMessages?: number;
  /** Default: one of the five, by seed. */
  policy?: PolicyName;
  /** Buses on separate handles (default 2). */
  handles?: 1 | 2;
  /** Live subscriptions of two watching agents, compared at the end. Default: on without retention. */
  subscribe?: boolean;
  /** Longest wait for subscriptions to catch up, ms. Default 5000. */
  settleMs?: number;
}

export interface DifferentialResult {
  seed: number;
  policy: PolicyName;
  /** One line per operation: what the reference answered. */
  expected: string[];
  /** The same operations: what the store answered. */
  actual: string[];
}

const AGENTS = ['a', 'b', 'c', 'd', 'e'];
const WATCHERS = ['w0', 'w1'];
const GROUPS = ['g', 'h'];
const MAX_CONTENT_BYTES = 512;

/** Runs one seeded history. Never throws for a difference: compare `expected` and `actual` (see `firstDifference`). */
export async function differential(store: StoreUnderTest, options: DifferentialOptions): Promise<DifferentialResult> {
  const { seed, steps = 200, maxMessages, sdk } = options;
  const policyName = options.policy ?? (POLICY_NAMES[seed % POLICY_NAMES.length] as PolicyName);
  const policy = policyOf(policyName, sdk);
  const room = options.room ?? `diff-${seed}`;
  const handleCount = options.handles ?? 2;
  const subscribing = options.subscribe ?? maxMessages === undefined;
  const random = mulberry32(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const chance = (p: number) => random() < p;
  const model = new ScanningReference(room, { maxMessages, maxContentBytes: MAX_CONTENT_BYTES });
  const clock = { time: 1_700_000_000_000 };
  const expected: string[] = [];
  const actual: string[] = [];

  let handles: StorageBackend[] = [];
  const buses: MessageBus[] = [];
  const delivered: number[][] = WATCHERS.map(() => []);
  const stops: (() => void)[] = [];
  const newBus = (i: number) => {
    buses[i] = new sdk.MessageBus(handles[i] as StorageBackend, policy, {
      room,
      closeStorage: false,
      now: () => clock.time,
      logLevel: 'silent',
      maxContentBytes: MAX_CONTENT_BYTES,
    });
  };
  const watch = (i: number) => {
    if (!subscribing) return;
    const seen = delivered[i] as number[];
    stops[i] = (buses[i] as MessageBus).subscribe(WATCHERS[i] as string, (m) => void seen.push(m.id), { after: seen.at(-1) ?? 0 });
  };
  const openHandles = async () => {
    handles = [];
    for (let i = 0; i < handleCount; i++) handles.push(await store.open({ maxMessages }));
    for (let i = 0; i < handleCount; i++) newBus(i);
  };
  const closeAll = async () => {
    for (const bus of buses) await bus.close();
    for (const handle of new Set(handles)) await handle.close();
  };

  /** Runs `reference` on the model and `real` on the store; records both outcomes. */
  const both = async (label: string, reference: () => unknown, real: () => Promise<unknown>) => {
    expected.push(`${label} → ${await outcome(async () => reference())}`);
    actual.push(`${label} → ${await outcome(real)}`);
  };
  /** An event both sides share (it has no answer to compare), kept for the context of a difference. */
  const note = (event: string) => {
    expected.push(event);
    actual.push(event);
  };
  const tag = (b: MessageBus) => `[bus ${buses.indexOf(b)}]`;
  const bus = () => buses[handleCount === 2 && chance(0.5) ? 1 : 0] as MessageBus;

  await openHandles();
  for (let i = 0; i < handleCount; i++) {
    const watcher = WATCHERS[i] as string;
    const b = buses[i] as MessageBus;
    await both(
      `connect ${watcher}`,
      () => model.connect(watcher),
      () => b.connectAgent(watcher),
    );
  }
  for (const agent of AGENTS.slice(0, 3)) {
    const groups = [pick(GROUPS)];
    const b = bus();
    await both(
      `${tag(b)} connect ${agent} ${groups}`,
      () => model.connect(agent, groups),
      () => b.connectAgent(agent, { groups }),
    );
  }
  for (let i = 0; i < handleCount; i++) watch(i);

  let n = 0;
  const send = async (sender: string, b: MessageBus, shape?: 'run') => {
    const { content, recipients } = draw(policyName, sender, shape, ++n, random);
    const key = chance(0.15) ? `k${Math.floor(random() * 6)}` : undefined;
    const message = new sdk.Message(sender, content, recipients, key === undefined ? {} : { idempotencyKey: key }) as never;
    await both(
      `${tag(b)} send ${sender} ${JSON.stringify(content)} to ${JSON.stringify(recipients)} key ${key}`,
      () => model.send(policy, sender, content, recipients, key, clock.time),
      () => b.sendMessage(message),
    );
  };

  for (let step = 0; step < steps; step++) {
    clock.time += 1000;
    const members = model.memberIds();
    const removable = members.filter((m) => !WATCHERS.includes(m));
    const online = members.filter((m) => model.isOnline(m));
    const roll = random();
    const b = bus();
    if (roll < 0.06) {
      const agent = pick(AGENTS);
      const groups = chance(0.5) ? GROUPS.filter(() => chance(0.5)) : undefined;
      await both(
        `${tag(b)} connect ${agent} ${groups}`,
        () => model.connect(agent, groups),
        () => b.connectAgent(agent, groups === undefined ? {} : { groups }),
      );
    } else if (roll < 0.1) {
      const agent = chance(0.9) && removable.length > 0 ? pick(removable) : 'ghost';
      await both(
        `${tag(b)} disconnect ${agent}`,
        () => model.disconnect(agent),
        () => b.disconnectAgent(agent),
      );
    } else if (roll < 0.14 && removable.length > 2) {
      const agent = pick(removable);
      await both(
        `${tag(b)} remove ${agent}`,
        () => model.remove(agent),
        () => b.removeAgent(agent),
      );
    } else if (roll < 0.2) {
      const agent = chance(0.9) ? pick([...removable, ...WATCHERS]) : 'ghost';
      const group = pick(GROUPS);
      if (chance(0.6))
        await both(
          `${tag(b)} join ${agent} ${group}`,
          () => model.joinGroup(agent, group),
          () => b.joinGroup(agent, group),
        );
      else
        await both(
          `${tag(b)} leave ${agent} ${group}`,
          () => model.leaveGroup(agent, group),
          () => b.leaveGroup(agent, group),
        );
    } else if (roll < 0.25) {
      const agent = chance(0.9) ? pick([...AGENTS, ...WATCHERS]) : 'ghost';
      const upTo = Math.floor(random() * (model.lastId + 3));
      await both(
        `${tag(b)} ack ${agent} ${upTo}`,
        () => model.ack(agent, upTo),
        () => b.ackMessages(agent, upTo),
      );
    } else if (roll < 0.29) {
      await fetchOne(pick([...members, 'ghost']), b);
    } else if (roll < 0.31) {
      await both(
        `${tag(b)} agents`,
        () => withLag(model.snapshot().members),
        () => b.agents(),
      );
    } else if (roll < 0.33) {
      // Close a bus and open another on the same backend (its subscription resumes where it stopped).
      const i = buses.indexOf(b);
      stops[i]?.();
      await b.close();
      newBus(i);
      watch(i);
      note(`bus ${i} closed and reopened on the same backend`);
    } else if (roll < 0.345 && store.persistent) {
      // Close every handle and reopen the store: everything must come back as it was.
      for (const stop of stops) stop?.();
      await closeAll();
      await openHandles();
      for (let i = 0; i < handleCount; i++) watch(i);
      note('every handle closed, the store reopened');
      await both(
        'room after reopen',
        () => model.snapshot(),
        () => (buses[0] as MessageBus).storage.getRoom(room),
      );
    } else if (roll < 0.38 && online.length > 0) {
      // The same keyed send twice at once, through both handles: one message, both answers equal.
      const sender = pick(online);
      const { content, recipients } = draw(policyName, sender, undefined, ++n, random);
      const key = `c${Math.floor(random() * 3)}`;
      const message = new sdk.Message(sender, content, recipients, { idempotencyKey: key }) as never;
      const label = `concurrent ${sender} ${JSON.stringify(content)} to ${JSON.stringify(recipients)} key ${key}`;
      expected.push(
        `${label} → ${await outcome(async () => {
          const first = await outcome(async () => model.send(policy, sender, content, recipients, key, clock.time));
          return [first, await outcome(async () => model.send(policy, sender, content, recipients, key, clock.time))];
        })}`,
      );
      const [x, y] = [buses[0] as MessageBus, buses[handleCount - 1] as MessageBus];
      actual.push(
        `${label} → ${await outcome(async () => Promise.all([outcome(() => x.sendMessage(message)), outcome(() => y.sendMessage(message))]))}`,
      );
    } else if (roll < 0.43 && online.length > 0) {
      // A run of one sender's messages (broadcasts that exclude it, under the broadcast policies): fetch must jump it.
      const sender = pick(online);
      const first = model.lastId;
      const length = 15 + Math.floor(random() * 30);
      for (let i = 0; i < length; i++) await send(sender, b, 'run');
      await both(
        `${tag(b)} fetch ${sender} after run ${first} 1`,
        () => model.fetch(sender, first, 1),
        () => b.fetchMessages(sender, first, { limit: 1 }),
      );
    } else {
      const sender = chance(0.93) && members.length > 0 ? pick(chance(0.9) && online.length > 0 ? online : members) : 'ghost';
      await send(sender, b);
    }
    if (step % 25 === 24) await observe();
  }
  await observe();

  if (subscribing) {
    const deadline = Date.now() + (options.settleMs ?? 5000);
    const want = WATCHERS.slice(0, handleCount).map((w) => model.routedIds(w, 0));
    while (Date.now() < deadline && !want.every((ids, i) => (delivered[i] as number[]).length >= ids.length)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    want.forEach((ids, i) => {
      expected.push(`subscription ${WATCHERS[i]} → ${JSON.stringify(ids)}`);
      actual.push(`subscription ${WATCHERS[i]} → ${JSON.stringify(delivered[i])}`);
    });
  }
  for (const stop of stops) stop?.();
  await closeAll();
  return { seed, policy: policyName, expected, actual };

  async function fetchOne(agent: string, b: MessageBus): Promise<void> {
    const after = pick([undefined, 0, Math.floor(random() * (model.lastId + 1)), model.lastId]);
    const limit = pick([1, 7, 1000]);
    await both(
      `${tag(b)} fetch ${agent} ${after} ${limit}`,
      () => model.fetch(agent, after, limit),
      () => b.fetchMessages(agent, after, { limit }),
    );
  }

  async function observe(): Promise<void> {
    const b = bus();
    await both(
      `${tag(b)} room`,
      () => model.snapshot(),
      () => b.storage.getRoom(room),
    );
    await both(
      `${tag(b)} history`,
      () => model.history(0, 1000),
      () => b.history(0, { limit: 1000 }),
    );
    await both(
      `${tag(b)} agents`,
      () => withLag(model.snapshot().members),
      () => b.agents(),
    );
    for (const agent of [...AGENTS, ...WATCHERS]) {
      for (const after of [undefined, 0, Math.floor(random() * (model.lastId + 1))]) {
        for (const limit of [1, 7, 1000]) {
          const x = bus();
          await both(
            `${tag(x)} fetch ${agent} ${after} ${limit}`,
            () => model.fetch(agent, after, limit),
            () => x.fetchMessages(agent, after, { limit }),
          );
        }
      }
    }
  }
}

/** The first line where the store and the reference disagree, with the seed, or `undefined` when they agree everywhere. */
export function firstDifference(result: DifferentialResult): string | undefined {
  const { expected, actual } = result;
  for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
    if (expected[i] !== actual[i]) {
      return [
        `seed ${result.seed} (policy ${result.policy}), operation ${i + 1} of ${expected.length}:`,
        ...expected.slice(Math.max(0, i - 6), i).map((line) => `  ok:       ${line.length > 300 ? `${line.slice(0, 300)}…` : line}`),
        `  expected: ${expected[i]}`,
        `  actual:   ${actual[i]}`,
      ].join('\n');
    }
  }
  return undefined;
}

// --- internal helpers ---

/** Content and recipients of one send under `policy`: mostly valid, sometimes each kind of rejection. */
function draw(
  policy: PolicyName,
  sender: string,
  shape: 'run' | undefined,
  n: number,
  random: () => number,
): { content: JsonValue; recipients: string[] | undefined } {
  const chance = (p: number) => random() < p;
  const text = chance(0.05) ? 'x'.repeat(600) : chance(0.1) ? 'héllo 👋 \u0000' : `m${n}`;
  const someAgents = () => [...AGENTS, ...WATCHERS].filter(() => chance(0.3));
  switch (policy) {
    case 'broadcast':
    case 'broadcast-all':
      return { content: { n, text }, recipients: shape !== 'run' && chance(0.04) ? ['a'] : undefined };
    case 'subgroup': {
      const groups = GROUPS.filter(() => chance(0.6));
      if (shape !== 'run' && chance(0.05)) groups.push('nogroup');
      return { content: { n, text }, recipients: shape !== 'run' && chance(0.03) ? [] : groups.length > 0 ? groups : ['g'] };
    }
    case 'individual': {
      const to = someAgents().filter((id) => id !== sender || chance(0.2));
      return { content: { n, text }, recipients: to.length > 0 ? to : ['w0'] };
    }
    case 'mixed': {
      const route =
        shape === 'run' ? 'others' : (['all', 'others', 'others', 'list', 'list', 'bogus', 'throw'][Math.floor(random() * 7)] as string);
      const to = [...someAgents(), ...someAgents()];
      return { content: route === 'list' ? { n, text, route, to } : { n, text, route }, recipients: undefined };
    }
  }
}

function withLag(members: { lastRoutedId: number; cursor: number }[]): unknown[] {
  return members.map((m) => ({ ...m, lag: Math.max(0, m.lastRoutedId - m.cursor) }));
}

/** An answer as comparable text: a value in canonical JSON (content as stored), or an error's code and details. */
async function outcome(op: () => Promise<unknown>, isBusError: Sdk['MessageBusError']['is'] = sdkErrorCheck): Promise<string> {
  try {
    const value = await op();
    return value === undefined ? 'ok' : canonical(value);
  } catch (error) {
    if (error instanceof Rejection) return `error ${error.code} ${canonical(error.details)}`;
    if (isBusError(error)) return `error ${error.code} ${canonical(error.details)}`;
    return `threw ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** A `MessageBusError` by its shape (as `MessageBusError.is` tells it), whichever copy of the SDK threw it. */
function sdkErrorCheck(value: unknown): value is Error & { code: string; details: Record<string, unknown> } {
  return value instanceof Error && value.name === 'MessageBusError';
}

/** JSON with object keys sorted, except inside message content (whose key order is part of what is stored). */
function canonical(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown, key?: string): unknown {
  if (key === 'content' || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => sortKeys(v));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k], k);
  return out;
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
