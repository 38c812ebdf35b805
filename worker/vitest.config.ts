import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

/**
 * Tests that run inside workerd: the storage conformance suite on
 * DurableObjectStorageBackend, the HTTP/WebSocket API and hibernation. The
 * test wrangler config (the root one without [assets], plus a custom-policy room) provides the bindings; test vars lower the limits so
 * each one can be hit.
 */
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: './test/wrangler.test.toml' },
      miniflare: {
        bindings: {
          BUS_SECRET: 'test-secret',
          RATE_LIMIT_PER_SECOND: '5',
          RATE_LIMIT_BURST: '5',
          MAX_BODY_BYTES: '4096',
          MAX_CONTENT_BYTES: '1024',
          MAX_METADATA_BYTES: '64',
          MAX_SOCKETS_PER_ROOM: '4',
          MAX_MEMBERS_PER_ROOM: '6',
          MAX_MESSAGES_PER_ROOM: '20',
          MAX_GROUPS_PER_MEMBER: '8',
          MAX_STREAM_DELTAS_PER_SECOND: '300',
          MAX_OPEN_STREAMS_PER_AGENT: '2',
          STREAM_IDLE_MS: '2000',
        },
      },
    }),
  ],
  test: {
    include: ['test/workerd/**/*.test.ts'],
    testTimeout: 30_000,
  },
});
