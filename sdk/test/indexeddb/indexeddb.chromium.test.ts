/**
 * The differential run in real Chromium, on its own IndexedDB: the harness and
 * the backend are bundled for the browser (esbuild, browser conditions) and
 * driven through playwright-core on the system Chromium, as bench/indexeddb.mjs
 * does. Shorter than the fake-indexeddb run: a browser per file is slow to start.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumLaunchOptions } from '../../../e2e/support/chromium.mjs';
import { type DifferentialResult, firstDifference } from '../support/differential/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const ORIGIN = 'http://localhost:9'; // never contacted: page.route answers every request
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

let browser: Browser;
let script: string;

beforeAll(async () => {
  const bundle = await build({
    stdin: { contents: PAGE, resolveDir: join(here, '..', '..'), loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'warning',
  });
  script = bundle.outputFiles[0]?.text ?? '';
  browser = await chromium.launch({ ...chromiumLaunchOptions, headless: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe('IndexedDBStorageBackend in Chromium against the scanning reference', () => {
  for (const [seed, maxMessages] of [
    [11, undefined],
    [12, undefined],
    [13, 30],
  ] as const) {
    it(`random history #${seed}${maxMessages ? `, maxMessages ${maxMessages}` : ''}, two instances`, async () => {
      const context = await browser.newContext();
      try {
        await context.route(`${ORIGIN}/**`, (route) =>
          new URL(route.request().url()).pathname === '/diff.js'
            ? route.fulfill({ body: script, contentType: 'text/javascript' })
            : route.fulfill({ body: '<!doctype html><script type="module" src="/diff.js"></script>', contentType: 'text/html' }),
        );
        const page = await context.newPage();
        await page.goto(`${ORIGIN}/`);
        await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
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
