import { defineConfig } from 'vitest/config';

/** Unit tests of the dashboard's pure helpers (parsers, stores, graph building); the UI itself is covered by Playwright in e2e/. */
export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
