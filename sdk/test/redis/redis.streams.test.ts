/**
 * Streams between two processes through a real redis-server: the test
 * process opens its bus in the middle of a 1,000-delta stream written by a
 * child process, and must see all text so far, then every following delta
 * (the text compared at the end); a member that is not a recipient sees
 * nothing; and a writer process killed mid-stream is noticed by the reader's
 * idle timer (abort IDLE, nothing stored).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStorageBackend } from '../../src/backends/redis/index.js';
import { MessageBus } from '../../src/core/bus.js';
import type { StoredMessage, StreamEvent } from '../../src/core/types.js';
import { AddressedRoutingPolicy } from '../../src/routing-policies/addressed.js';
import { bundleChild } from '../file/bundle.js';
import { kill, startChild } from '../file/child.js';
import { type RedisServer, startRedis } from './server.js';

let server: RedisServer;
let writer: string;
beforeAll(async () => {
  [server, writer] = await Promise.all([startRedis(), bundleChild(join(import.meta.dirname, 'fixtures', 'stream-writer.ts'))]);
});
afterAll(async () => {
  await server?.dispose();
});

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function reader(room: string, streamIdleMs: number) {
  const storage = new RedisStorageBackend({ url: server.url });
  const bus = new MessageBus(storage, new AddressedRoutingPolicy(), { room, logLevel: 'silent', streamIdleMs });
  for (const agent of ['critic', 'planner']) await bus.connectAgent(agent);
  const seen = { critic: [] as StreamEvent[], planner: [] as StreamEvent[], messages: [] as StoredMessage[] };
  bus.subscribe('critic', (m) => void seen.messages.push(m), { after: 0, onStream: (e) => void seen.critic.push(e) });
  bus.subscribe('planner', () => {}, { onStream: (e) => void seen.planner.push(e) });
  return { storage, bus, seen };
}

function textOf(events: readonly StreamEvent[]): string {
  let text = '';
  for (const event of events) {
    if (event.type === 'start') text = event.text;
    else if (event.type === 'delta') text += event.text;
  }
  return text;
}

describe('streams across processes on Redis', () => {
  it('a bus opened mid-way through a 1,000-delta stream of another process gets all text so far, then every delta', async () => {
    const child = startChild(writer, [server.url, 'streams', '400', '600']);
    try {
      await child.ready;
      const streamId = (child.lines.find((l) => l.startsWith('half ')) as string).slice(5);
      const { storage, bus, seen } = await reader('streams', 30_000);
      await until(() => seen.critic.length > 0, 'the start');
      const before = Array.from({ length: 400 }, (_, i) => `t${i} `).join('');
      expect(seen.critic[0]).toMatchObject({
        type: 'start',
        streamId,
        sender: 'writer',
        recipients: ['critic'],
        metadata: { kind: 'answer' },
      });
      expect(seen.critic[0]?.type === 'start' && seen.critic[0].text.startsWith(before)).toBe(true);
      await storage.putMember('streams', { id: 'go', online: true });
      expect(await child.exited).toBe(0);
      const stored = JSON.parse((child.lines.find((l) => l.startsWith('stored ')) as string).slice(7)) as StoredMessage;
      await until(() => seen.critic.at(-1)?.type === 'end' && seen.messages.length === 1, 'the end and the stored message');
      const text = Array.from({ length: 1000 }, (_, i) => `t${i} `).join('');
      expect(textOf(seen.critic)).toBe(text);
      const lastStart = seen.critic.findLastIndex((e) => e.type === 'start');
      const seqs = seen.critic.slice(lastStart + 1).flatMap((e) => (e.type === 'delta' ? [e.seq] : []));
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => 1000 - seqs.length + 1 + i));
      expect(seen.critic.at(-1)).toEqual({ type: 'end', streamId, message: stored });
      expect(seen.messages).toEqual([stored]);
      expect(stored).toMatchObject({ content: text, streamId });
      expect(seen.planner).toEqual([]);
      expect((await bus.history(0)).length).toBe(1);
      await bus.close();
    } finally {
      await kill(child);
    }
  }, 60_000);

  it('a writer process killed mid-stream is aborted with IDLE by the reader; nothing is stored', async () => {
    const { bus, seen } = await reader('killed', 500);
    const child = startChild(writer, [server.url, 'killed', '10']);
    try {
      await child.ready;
      await until(() => textOf(seen.critic).length > 0, 'the stream');
      await kill(child);
      await until(() => seen.critic.at(-1)?.type === 'abort', 'the abort');
      expect(seen.critic.at(-1)).toMatchObject({ type: 'abort', reason: 'IDLE' });
      expect(await bus.history(0)).toEqual([]);
      await bus.close();
    } finally {
      await kill(child);
    }
  }, 60_000);
});
