import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from './support/chromium.mjs';

/**
 * One config for every end-to-end spec. Chromium comes from the OS packages
 * (`apt-get install chromium`), never from a Playwright download. Specs start
 * the servers they need (wrangler dev, a static server) on free loopback ports
 * through the helpers in `support/`.
 */
export default defineConfig({
  testDir: './specs',
  outputDir: './test-results',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: chromiumLaunchOptions,
    screenshot: 'only-on-failure',
    trace: 'off',
  },
});
