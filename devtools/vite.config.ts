import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The worker serves the built dashboard at `/devtools/`, so every asset URL is
 * relative to that base. Under `vite dev` the API routes are proxied to a
 * running `wrangler dev` (WORKER_URL, default http://127.0.0.1:8787) so the app
 * always talks to its own origin, exactly as it does when the worker serves it.
 */
const workerUrl = process.env.WORKER_URL ?? 'http://127.0.0.1:8787';

export default defineConfig({
  base: '/devtools/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1024 },
  server: {
    proxy: {
      '/v1': { target: workerUrl, changeOrigin: true, ws: true },
      '/metrics': { target: workerUrl, changeOrigin: true },
    },
  },
});
