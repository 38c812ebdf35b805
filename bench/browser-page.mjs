// The Chromium half of the browser benches (indexeddb, own-runs, conversations, streams): the bench's page script,
// bundled with esbuild against the built SDK, served at a fake origin that no request ever leaves the browser for.
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { chromiumLaunchOptions } from '../e2e/support/chromium.mjs';

/** Never contacted: every request to it is answered by the context's route. */
export const BENCH_ORIGIN = 'http://localhost:9';

/**
 * Bundles `source` (a module that sets `window.ready = true` when it is set up), launches Chromium and calls
 * `use({ open, browser })`, where `open()` gives a new tab of the page, ready. The browser is closed afterwards,
 * whatever `use` does; its result is returned.
 */
export async function withBenchPage(source, resolveDir, use) {
  const bundle = await build({
    stdin: { contents: source, resolveDir, loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'warning',
  });
  const script = bundle.outputFiles[0].text;
  const html = '<!doctype html><meta charset="utf-8"><script type="module" src="/bench.js"></script>';
  const browser = await chromium.launch({ ...chromiumLaunchOptions, headless: true });
  try {
    const context = await browser.newContext();
    await context.route(`${BENCH_ORIGIN}/**`, (route) =>
      new URL(route.request().url()).pathname === '/bench.js'
        ? route.fulfill({ body: script, contentType: 'text/javascript' })
        : route.fulfill({ body: html, contentType: 'text/html' }),
    );
    const open = async () => {
      const tab = await context.newPage();
      await tab.goto(`${BENCH_ORIGIN}/`);
      await tab.waitForFunction(() => window.ready === true);
      return tab;
    };
    return await use({ open, browser });
  } finally {
    await browser.close();
  }
}
