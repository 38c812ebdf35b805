/**
 * The differential run in real Chromium, on its own IndexedDB: the harness and
 * the backend are bundled for the browser (esbuild, browser conditions) and
 * driven through playwright-core on the system Chromium, as bench/indexeddb.mjs
 * does. Shorter than the fake-indexeddb run: a browser per file is slow to start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DifferentialResult, firstDifference } from '../support/differential/index.js';
import { type ChromiumPage, launchPage } from './chromium-page.js';

const PAGE = `
import { IndexedDBStorageBackend } from './src/backends/indexeddb/index.js';
import { differential } from './test/support/differential/index.js';
import { sdkSources as sdk } from './test/support/differential/sdk-sources.js';
window.run = (seed, max, steps) => {
  const dbName = 'diff-' + seed + '-' + Date.now();
  const maxMessages = max ?? undefined;
  return differential({ open: () => new IndexedDBStorageBackend({ dbName, maxMessages }), persistent: true }, { sdk, seed, maxMessages, steps });
};
window.ready = true;
`;

let chromium: ChromiumPage;

beforeAll(async () => {
  chromium = await launchPage(PAGE);
}, 60_000);

afterAll(async () => {
  await chromium?.browser.close();
});

describe('IndexedDBStorageBackend in Chromium against the scanning reference', () => {
  for (const [seed, maxMessages] of [
    [11, undefined],
    [12, undefined],
    [13, 30],
  ] as const) {
    it(`random history #${seed}${maxMessages ? `, maxMessages ${maxMessages}` : ''}, two instances`, async () => {
      const context = await chromium.context();
      try {
        const page = await chromium.tab(context);
        const result = (await page.evaluate(
          ([s, m]) => (window as unknown as { run: (...args: unknown[]) => Promise<unknown> }).run(s, m, 120),
          [seed, maxMessages ?? null] as const,
        )) as DifferentialResult;
        expect(firstDifference(result)).toBeUndefined();
      } finally {
        await context.close();
      }
    }, 120_000);
  }
});
