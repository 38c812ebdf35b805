/**
 * Streams between two tabs of real Chromium on one IndexedDB database: the
 * signals cross through the backend's BroadcastChannel. A tab opened in the
 * middle of a 1,000-delta stream sees all text so far, then every following
 * delta (the text compared at the end), a non-recipient sees nothing, the
 * stored message arrives with its streamId, and a tab that closes mid-stream
 * is noticed by the other one's idle timer (abort IDLE, nothing stored).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredMessage, StreamEvent } from '../../src/index.js';
import { type ChromiumPage, launchPage } from './chromium-page.js';

const PAGE = `
import { IndexedDBStorageBackend } from './src/backends/indexeddb/index.js';
import { Message, MessageBus } from './src/index.js';
import { AddressedRoutingPolicy } from './src/routing-policies/index.js';
const seen = { events: [], messages: [], planner: [] };
let bus;
let stream;
window.openBus = async (dbName, streamIdleMs) => {
  bus = new MessageBus(new IndexedDBStorageBackend({ dbName }), new AddressedRoutingPolicy(), { room: 'tabs', logLevel: 'silent', streamIdleMs });
  for (const agent of ['writer', 'critic', 'planner']) await bus.connectAgent(agent);
};
window.watch = () => {
  bus.subscribe('critic', (m) => void seen.messages.push(m), { after: 0, onStream: (e) => void seen.events.push(e) });
  bus.subscribe('planner', () => {}, { onStream: (e) => void seen.planner.push(e) });
};
window.begin = async () => {
  stream = await bus.stream(new Message('writer', '', ['critic'], { metadata: { kind: 'answer' } }));
  return stream.id;
};
// Writes deltas first..last-1, yielding to the event loop every 20 so the other tab's signals interleave.
window.write = async (first, last) => {
  for (let i = first; i < last; i++) {
    stream.write('t' + i + ' ');
    if (i % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return stream.text;
};
window.finish = () => stream.end();
window.seen = () => seen;
window.readHistory = () => bus.history(0);
window.ready = true;
`;

interface Seen {
  events: StreamEvent[];
  messages: StoredMessage[];
  planner: StreamEvent[];
}

let chromium: ChromiumPage;

beforeAll(async () => {
  chromium = await launchPage(PAGE);
}, 60_000);

afterAll(async () => {
  await chromium?.browser.close();
});

type PageFunctions = Record<string, (...args: unknown[]) => unknown>;

/** Calls one of the functions the bundle put on the page's window. */
const call = <T>(page: Page, name: string, ...args: unknown[]): Promise<T> =>
  page.evaluate(([n, a]) => (window as unknown as PageFunctions)[n as string]?.(...(a as unknown[])), [name, args] as const) as Promise<T>;

function textOf(events: readonly StreamEvent[]): string {
  let text = '';
  for (const event of events) {
    if (event.type === 'start') text = event.text;
    else if (event.type === 'delta') text += event.text;
  }
  return text;
}

describe('streams between two Chromium tabs on IndexedDB', () => {
  it('a tab opened mid-way through a 1,000-delta stream gets all text so far, then every delta; only the recipient sees it', async () => {
    const context = await chromium.context();
    try {
      const dbName = `streams-${Date.now()}`;
      const writer = await chromium.tab(context);
      await call(writer, 'openBus', dbName, 30_000);
      const streamId = await call<string>(writer, 'begin');
      await call(writer, 'write', 0, 400);
      const reader = await chromium.tab(context);
      await call(reader, 'openBus', dbName, 30_000);
      await call(reader, 'watch');
      await reader.waitForFunction(() => (window as unknown as { seen(): Seen }).seen().events.length > 0);
      const text = await call<string>(writer, 'write', 400, 1000);
      const stored = await call<StoredMessage>(writer, 'finish');
      await reader.waitForFunction(() => (window as unknown as { seen(): Seen }).seen().messages.length === 1, undefined, {
        timeout: 20_000,
      });
      await reader.waitForFunction(() => (window as unknown as { seen(): Seen }).seen().events.at(-1)?.type === 'end', undefined, {
        timeout: 20_000,
      });
      const seen = await call<Seen>(reader, 'seen');
      expect(textOf(seen.events)).toBe(text);
      expect(text).toBe(Array.from({ length: 1000 }, (_, i) => `t${i} `).join(''));
      const start = seen.events[0];
      expect(start).toMatchObject({ type: 'start', streamId, sender: 'writer', recipients: ['critic'], metadata: { kind: 'answer' } });
      // It joined mid-stream: its first start already holds the 400 deltas written before the tab opened.
      const before = Array.from({ length: 400 }, (_, i) => `t${i} `).join('');
      expect(start?.type === 'start' && start.text.startsWith(before)).toBe(true);
      // After the (last) start, the deltas follow in seq order with none missing or doubled.
      const lastStart = seen.events.findLastIndex((e) => e.type === 'start');
      const seqs = seen.events.slice(lastStart + 1).flatMap((e) => (e.type === 'delta' ? [e.seq] : []));
      expect(seqs.length).toBeGreaterThan(0);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => (seqs[0] as number) + i));
      expect(seqs.at(-1)).toBe(1000);
      expect(seen.events.at(-1)).toEqual({ type: 'end', streamId, message: stored });
      expect(seen.messages).toEqual([stored]);
      expect(stored).toMatchObject({ content: text, streamId });
      expect(seen.planner).toEqual([]);
      expect((await call<StoredMessage[]>(reader, 'readHistory')).length).toBe(1);
    } finally {
      await context.close();
    }
  }, 120_000);

  it('a tab that closes mid-stream is noticed by the other tab: abort IDLE, nothing stored', async () => {
    const context = await chromium.context();
    try {
      const dbName = `streams-idle-${Date.now()}`;
      const writer = await chromium.tab(context);
      await call(writer, 'openBus', dbName, 60_000);
      const reader = await chromium.tab(context);
      await call(reader, 'openBus', dbName, 400);
      await call(reader, 'watch');
      const streamId = await call<string>(writer, 'begin');
      await call(writer, 'write', 0, 10);
      await reader.waitForFunction(() => (window as unknown as { seen(): Seen }).seen().events.length === 11);
      await writer.close(); // the sender's tab is gone: no abort is sent
      await reader.waitForFunction(() => (window as unknown as { seen(): Seen }).seen().events.at(-1)?.type === 'abort', undefined, {
        timeout: 10_000,
      });
      const seen = await call<Seen>(reader, 'seen');
      expect(seen.events.at(-1)).toEqual({ type: 'abort', streamId, reason: 'IDLE' });
      expect(await call<StoredMessage[]>(reader, 'readHistory')).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);
});
