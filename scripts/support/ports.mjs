// Free loopback ports for the servers the tests, benchmarks and the demo start (wrangler dev, redis-server,
// static servers). The one place this is written: every caller imports it.
import { createServer } from 'node:net';

/** A port on 127.0.0.1 that was free a moment ago (the OS picks it; the caller binds it next). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** `true` when nothing listens on `port` of 127.0.0.1 right now. */
export function isPortFree(port) {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}
