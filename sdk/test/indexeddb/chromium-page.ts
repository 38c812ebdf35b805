/**
 * The Chromium tests' page: a TypeScript module bundled with esbuild from the sdk folder (so it imports `./src/...`)
 * and served at an origin no request ever leaves the browser for. Each context is one origin's IndexedDB; each tab
 * of it a "tab" of the app.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { chromiumLaunchOptions } from '../../../e2e/support/chromium.mjs';

const ORIGIN = 'http://localhost:9';
const SDK = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ChromiumPage {
  browser: Browser;
  /** A fresh context (its own IndexedDB) that serves the page. */
  context(): Promise<BrowserContext>;
  /** A new tab of `context` with the page loaded and `window.ready` set. */
  tab(context: BrowserContext): Promise<Page>;
}

/** Bundles `source` (which sets `window.ready = true` once set up) and launches Chromium; close `browser` after. */
export async function launchPage(source: string): Promise<ChromiumPage> {
  const bundle = await build({
    stdin: { contents: source, resolveDir: SDK, loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'warning',
  });
  const script = bundle.outputFiles[0]?.text ?? '';
  const browser = await chromium.launch({ ...chromiumLaunchOptions, headless: true });
  return {
    browser,
    context: async () => {
      const context = await browser.newContext();
      await context.route(`${ORIGIN}/**`, (route) =>
        new URL(route.request().url()).pathname === '/page.js'
          ? route.fulfill({ body: script, contentType: 'text/javascript' })
          : route.fulfill({ body: '<!doctype html><script type="module" src="/page.js"></script>', contentType: 'text/html' }),
      );
      return context;
    },
    tab: async (context) => {
      const page = await context.newPage();
      await page.goto(`${ORIGIN}/`);
      await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
      return page;
    },
  };
}
