import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { InMemoryStorageBackend } from '../src/backends/memory/index.js';
import { Message, MessageBus, MetricsRegistry, mergeExpositions, type StorageBackend } from '../src/index.js';
import { BroadcastRoutingPolicy, IndividualRoutingPolicy } from '../src/routing-policies/index.js';

interface Family {
  name: string;
  type: string;
  metrics: Array<{ labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; count?: string; sum?: string }>;
}

function parse(text: string): Map<string, Family> {
  const families = parsePrometheusTextFormat(text) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

function sample(families: Map<string, Family>, name: string, labels: Record<string, string>): number | undefined {
  const metric = families.get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return metric?.value === undefined ? undefined : Number(metric.value);
}

describe('metrics', () => {
  it('renders sends, deliveries, rejections, latency, online agents and lag in a format a Prometheus parser reads', async () => {
    const bus = new MessageBus(new InMemoryStorageBackend(), new IndividualRoutingPolicy(), { room: 'obs', logLevel: 'silent' });
    await bus.connectAgent('a');
    await bus.connectAgent('b');
    await bus.connectAgent('c');
    await bus.disconnectAgent('c');
    for (let i = 0; i < 3; i++) await bus.sendMessage(new Message('a', i, ['b', 'c']));
    await bus.sendMessage(new Message('a', 'again', ['b'], { idempotencyKey: 'k' }));
    await bus.sendMessage(new Message('a', 'again', ['b'], { idempotencyKey: 'k' }));
    await expect(bus.sendMessage(new Message('a', 'x', ['ghost']))).rejects.toThrow();
    await expect(bus.sendMessage(new Message('c', 'x', ['a']))).rejects.toThrow();
    await bus.ackMessages('b', 2);
    await bus.fetchMessages('b');

    const text = await bus.metrics();
    const families = parse(text);
    expect(sample(families, 'mmb_messages_sent_total', { room: 'obs', policy: 'individual' })).toBe(4);
    expect(sample(families, 'mmb_messages_deduplicated_total', { room: 'obs' })).toBe(1);
    expect(sample(families, 'mmb_deliveries_total', { room: 'obs' })).toBe(7);
    expect(sample(families, 'mmb_rejections_total', { room: 'obs', code: 'UNKNOWN_RECIPIENT' })).toBe(1);
    expect(sample(families, 'mmb_rejections_total', { room: 'obs', code: 'AGENT_OFFLINE' })).toBe(1);
    expect(sample(families, 'mmb_agents_online', { room: 'obs' })).toBe(2);
    expect(sample(families, 'mmb_agents_members', { room: 'obs' })).toBe(3);
    // b was routed ids 1-4 and acked 2; c was routed 1-3 and never acked.
    expect(sample(families, 'mmb_agent_lag_messages', { room: 'obs', agent: 'b' })).toBe(2);
    expect(sample(families, 'mmb_agent_lag_messages', { room: 'obs', agent: 'c' })).toBe(3);
    expect(families.get('mmb_send_duration_seconds')?.type).toBe('HISTOGRAM');
    // parse-prometheus-text-format drops _sum/_count of labelled histograms, so read those lines directly.
    expect(text).toMatch(/^mmb_send_duration_seconds_count\{room="obs"\} 5$/m);
    expect(text).toMatch(/^mmb_send_duration_seconds_bucket\{room="obs",le="\+Inf"\} 5$/m);
    expect(text).toMatch(/^mmb_fetch_duration_seconds_count\{room="obs"\} 1$/m);

    await bus.removeAgent('c');
    const after = parse(await bus.metrics());
    expect(sample(after, 'mmb_agent_lag_messages', { room: 'obs', agent: 'c' })).toBeUndefined();
  });

  it('a shared registry exposes several rooms at once, and expositions merge into one valid document', async () => {
    const registry = new MetricsRegistry();
    const storage = new InMemoryStorageBackend();
    const rooms = ['one', 'two'].map(
      (room) => new MessageBus(storage, new BroadcastRoutingPolicy(), { room, metrics: registry, logLevel: 'silent', closeStorage: false }),
    );
    for (const [i, bus] of rooms.entries()) {
      await bus.connectAgent('a');
      await bus.connectAgent('b');
      for (let n = 0; n <= i; n++) await bus.sendMessage(new Message('a', n));
    }
    const shared = parse(await registry.render());
    expect(sample(shared, 'mmb_messages_sent_total', { room: 'one' })).toBe(1);
    expect(sample(shared, 'mmb_messages_sent_total', { room: 'two' })).toBe(2);

    const separate = await Promise.all(
      ['x', 'y'].map(async (room) => {
        const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room, logLevel: 'silent', closeStorage: false });
        await bus.connectAgent('a');
        await bus.sendMessage(new Message('a', room));
        return bus.metrics();
      }),
    );
    const merged = mergeExpositions(separate);
    expect(merged.match(/^# TYPE mmb_messages_sent_total counter$/gm)).toHaveLength(1);
    const families = parse(merged);
    expect(sample(families, 'mmb_messages_sent_total', { room: 'x' })).toBe(1);
    expect(sample(families, 'mmb_messages_sent_total', { room: 'y' })).toBe(1);
    expect(merged.match(/^mmb_send_duration_seconds_count\{room="[xy]"\} 1$/gm)).toHaveLength(2);
  });

  it('escapes label values', async () => {
    const registry = new MetricsRegistry();
    registry.counter('odd_total', 'help with \\ and\nnewline').inc({ v: 'quote " backslash \\ newline \n' });
    const families = parse(await registry.render());
    expect(families.get('odd_total')?.metrics[0]?.labels?.v).toBe('quote " backslash \\ newline \n');
  });
});

describe('logging and events', () => {
  it('prints warnings and errors only by default, with room and agent on each line', async () => {
    const lines: Array<[string, string]> = [];
    const logger = {
      debug: (m: string) => lines.push(['debug', m]),
      info: (m: string) => lines.push(['info', m]),
      warn: (m: string) => lines.push(['warn', m]),
      error: (m: string) => lines.push(['error', m]),
    };
    const storage: StorageBackend = new InMemoryStorageBackend();
    const bus = new MessageBus(storage, new BroadcastRoutingPolicy(), { room: 'logs', logger });
    await bus.connectAgent('a');
    expect(lines).toEqual([]);
    storage.append = async () => {
      throw new Error('disk full');
    };
    await expect(bus.sendMessage(new Message('a', 'x'))).rejects.toMatchObject({ code: 'STORAGE_FAILURE' });
    expect(
      lines.some(
        ([level, line]) => level === 'error' && line.includes('room=logs') && line.includes('agent=a') && line.includes('disk full'),
      ),
    ).toBe(true);

    const verbose: string[] = [];
    const chatty = new MessageBus(new InMemoryStorageBackend(), new BroadcastRoutingPolicy(), {
      room: 'chatty',
      logLevel: 'info',
      logger: { ...logger, info: (m: string) => verbose.push(m) },
    });
    await chatty.connectAgent('z');
    expect(verbose).toEqual([expect.stringMatching(/room=chatty agent=z agent connected/)]);
  });

  it('emits message, connect and disconnect events; a throwing listener becomes an error event', async () => {
    const bus = new MessageBus(new InMemoryStorageBackend(), new BroadcastRoutingPolicy(), { room: 'events', logLevel: 'silent' });
    const seen: string[] = [];
    bus.on('connect', (e) => seen.push(`connect:${e.agent}`));
    bus.on('disconnect', (e) => seen.push(`disconnect:${e.agent}:${e.removed}`));
    bus.on('message', (m) => seen.push(`message:${m.id}`));
    bus.on('message', () => {
      throw new Error('listener bug');
    });
    bus.on('error', (e) => seen.push(`error:${e.message}`));
    await bus.connectAgent('a');
    await bus.connectAgent('b');
    await bus.sendMessage(new Message('a', 'hi'));
    await bus.disconnectAgent('b');
    await bus.removeAgent('b');
    expect(seen).toEqual(['connect:a', 'connect:b', 'message:1', 'error:listener bug', 'disconnect:b:false', 'disconnect:b:true']);
  });

  it('a subscription of a removed agent ends with an error', async () => {
    const bus = new MessageBus(new InMemoryStorageBackend(), new BroadcastRoutingPolicy(), { room: 'subs', logLevel: 'silent' });
    const errors: string[] = [];
    bus.subscribe('ghost', () => {}, { onError: (e) => errors.push((e as { code?: string }).code ?? e.message) });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(errors).toEqual(['UNKNOWN_AGENT']);
  });
});
