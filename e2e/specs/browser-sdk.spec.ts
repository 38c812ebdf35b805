// README example "IndexedDB (browsers)": the page in e2e/fixtures/browser-sdk builds a MessageBus on
// IndexedDBStorageBackend({ dbName, maxMessages }) with subscribe and sendMessage, as the README shows; this spec runs it.
/**
 * The SDK in real Chromium on IndexedDB: the storage conformance suite run in
 * the page, persistence across a reload and a browser restart, two tabs on one
 * room, and a real quota error. The page (fixtures/browser-sdk) is bundled
 * from sdk/dist with esbuild's browser conditions and served from loopback.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, expect, type Page, test } from '@playwright/test';
import { build } from 'esbuild';
import { storageBackendSuite } from 'modular-message-bus-library/testing';
import { type StaticServer, startStaticServer } from '../support/static-server.js';

const fixture = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'browser-sdk');

// The suite's test names, collected in Node: every one of them must run and pass in the page.
const conformanceNames: string[] = [];
storageBackendSuite('names only', {
  create: () => {
    throw new Error('not run in Node');
  },
  reopen: (backend) => backend,
  test: { describe: (_name, body) => body(), it: (name) => void conformanceNames.push(name) },
});

let outDir: string;
let server: StaticServer;

test.beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'mmb-browser-sdk-'));
  await build({
    entryPoints: [join(fixture, 'page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser', // resolves the SDK's `browser` export conditions
    target: 'es2022',
    outdir: outDir,
    logLevel: 'warning',
  });
  const { copyFile } = await import('node:fs/promises');
  await copyFile(join(fixture, 'index.html'), join(outDir, 'index.html'));
  server = await startStaticServer(outDir);
});

test.afterAll(async () => {
  await server?.close();
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

async function openPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => void errors.push(error.message));
  await page.goto(`${server.url}/`);
  await page
    .waitForFunction(() => window.ready === true, undefined, { timeout: 10_000 })
    .catch(() => {
      throw new Error(`the test page did not load: ${errors.join('; ') || 'no page error'}`);
    });
  return page;
}

function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

test.describe('storage conformance in Chromium', () => {
  let context: BrowserContext;
  let page: Page;

  test.beforeAll(async ({ browser }) => {
    context = await browser.newContext();
    page = await openPage(context);
  });

  test.afterAll(async () => {
    await context?.close();
  });

  test('the page registers the same conformance tests as Node', async () => {
    expect(conformanceNames.length).toBeGreaterThanOrEqual(20);
    expect(await page.evaluate(() => window.conformance.names)).toEqual(conformanceNames);
  });

  for (const name of conformanceNames) {
    test(name, async () => {
      const outcome = await page.evaluate((n) => window.conformance.run(n), name);
      expect(outcome.error, `"${name}" in Chromium`).toBeUndefined();
      expect(outcome.ok).toBe(true);
    });
  }
});

test('history, members, cursors and idempotency keys survive a reload', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await openPage(context);
  const db = uniqueName('reload');
  await page.evaluate(async (dbName) => {
    window.app.open(dbName, 'lobby');
    await window.app.connect('a');
    await window.app.connect('b');
    for (const text of ['one', 'two', 'three']) await window.app.send('a', text);
    await window.app.ack('b', 2);
  }, db);
  await page.reload();
  await page.waitForFunction(() => window.ready === true);
  const after = await page.evaluate(async (dbName) => {
    window.app.open(dbName, 'lobby');
    return {
      history: await window.app.history(),
      agents: await window.app.agents(),
      unread: await window.app.fetch('b'),
      next: await window.app.send('a', 'four'),
    };
  }, db);
  expect(after.history.map((m) => [m.id, m.content])).toEqual([
    [1, 'one'],
    [2, 'two'],
    [3, 'three'],
  ]);
  expect(after.agents.map((a) => [a.id, a.cursor, a.sentCount])).toEqual([
    ['a', 0, 3],
    ['b', 2, 0],
  ]);
  expect(after.unread).toEqual([3]);
  expect(after.next.id).toBe(4);
  await context.close();
});

test('the room survives a browser restart (persistent profile)', async ({ playwright, launchOptions }) => {
  const profile = await mkdtemp(join(tmpdir(), 'mmb-profile-'));
  const db = uniqueName('restart');
  try {
    const first = await playwright.chromium.launchPersistentContext(profile, { ...launchOptions, headless: true });
    const page = await openPage(first);
    await page.evaluate(async (dbName) => {
      window.app.open(dbName, 'lobby');
      await window.app.connect('a');
      await window.app.connect('b');
      await window.app.send('a', 'before restart');
    }, db);
    await first.close();
    const second = await playwright.chromium.launchPersistentContext(profile, { ...launchOptions, headless: true });
    const again = await openPage(second);
    const history = await again.evaluate(async (dbName) => {
      window.app.open(dbName, 'lobby');
      await window.app.send('b', 'after restart');
      return window.app.history();
    }, db);
    expect(history.map((m) => [m.id, m.sender, m.content])).toEqual([
      [1, 'a', 'before restart'],
      [2, 'b', 'after restart'],
    ]);
    await second.close();
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
});

test('two tabs on one room see each other live, and concurrent sends get gap-free ids', async ({ browser }) => {
  const context = await browser.newContext();
  const [one, two] = [await openPage(context), await openPage(context)];
  const db = uniqueName('tabs');
  await one.evaluate(async (dbName) => {
    window.app.open(dbName, 'lobby');
    await window.app.connect('alice');
  }, db);
  await two.evaluate(async (dbName) => {
    window.app.open(dbName, 'lobby');
    await window.app.connect('bob');
  }, db);
  await one.evaluate(() => window.app.subscribe('alice'));
  await two.evaluate(() => window.app.subscribe('bob'));

  // One message, tab one to tab two, through BroadcastChannel.
  const ping = await one.evaluate(() => window.app.send('alice', 'ping'));
  await expect.poll(() => two.evaluate(() => window.app.deliveries().length)).toBe(1);
  const [seen] = await two.evaluate(() => window.app.deliveries());
  expect(seen).toMatchObject({ id: ping.id, sender: 'alice', content: 'ping' });
  test.info().annotations.push({ type: 'cross-tab latency (ms)', description: String((seen?.at ?? 0) - ping.sentAt) });

  // Both tabs send 60 messages at once.
  const [idsOne, idsTwo] = await Promise.all([
    one.evaluate(() => window.app.sendMany('alice', 60, 'one')),
    two.evaluate(() => window.app.sendMany('bob', 60, 'two')),
  ]);
  expect([...idsOne, ...idsTwo, ping.id].sort((a, b) => a - b)).toEqual(Array.from({ length: 121 }, (_, i) => i + 1));
  const history = await two.evaluate(() => window.app.history());
  expect(history.map((m) => m.id)).toEqual(Array.from({ length: 121 }, (_, i) => i + 1));
  expect(history.filter((m) => m.sender === 'alice' && m.content !== 'ping').map((m) => m.content)).toEqual(
    Array.from({ length: 60 }, (_, i) => `one-${i}`),
  );

  // Each subscriber saw every message of the other tab exactly once, in id order, and nothing else.
  await expect.poll(() => one.evaluate(() => window.app.deliveries().length)).toBe(60);
  await expect.poll(() => two.evaluate(() => window.app.deliveries().length)).toBe(61);
  const toAlice = (await one.evaluate(() => window.app.deliveries())).map((d) => d.id);
  const toBob = (await two.evaluate(() => window.app.deliveries())).map((d) => d.id);
  expect(toAlice).toEqual([...idsTwo].sort((a, b) => a - b));
  expect(toBob).toEqual([ping.id, ...[...idsOne].sort((a, b) => a - b)]);
  await context.close();
});

test('a real quota error fails the send with STORAGE_FAILURE and the reason, and leaves the room consistent', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await openPage(context);
  const cdp = await context.newCDPSession(page);
  const origin = new URL(server.url).origin;
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 1024 * 1024 });
  const db = uniqueName('quota');
  const filled = await page.evaluate(async (dbName) => {
    window.app.open(dbName, 'lobby');
    await window.app.connect('a');
    await window.app.connect('b');
    return window.app.fillUntilFailure('a', 60_000, 200);
  }, db);
  expect(filled.error, 'the quota was never hit').toBeDefined();
  test.info().annotations.push({ type: 'quota error', description: `after ${filled.ids.length} sends: ${filled.error?.message}` });
  expect(filled.error?.code).toBe('STORAGE_FAILURE');
  expect(filled.error?.message).toMatch(/QuotaExceededError/);
  expect(filled.ids).toEqual(Array.from({ length: filled.ids.length }, (_, i) => i + 1));
  const state = await page.evaluate(async () => ({ room: await window.app.room(), history: await window.app.history() }));
  expect(state.room.lastId).toBe(filled.ids.length);
  expect(state.history.map((m) => m.id)).toEqual(filled.ids);

  await cdp.send('Storage.overrideQuotaForOrigin', { origin });
  const next = await page.evaluate(() => window.app.trySend('a', 'after the quota was raised'));
  expect(next).toEqual({ id: filled.ids.length + 1 });
  await context.close();
});
