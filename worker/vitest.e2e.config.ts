import { defineConfig } from 'vitest/config';

/**
 * End-to-end tests in Node against a real `wrangler dev` (started by
 * e2e/support/wrangler.ts on a free port with a temp persistence dir): the
 * remote client, raw HTTP and WebSocket requests, restarts, /metrics.
 */
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 90_000,
    // Each file runs its own dev server; one at a time keeps the 2-core machine responsive.
    fileParallelism: false,
  },
});
