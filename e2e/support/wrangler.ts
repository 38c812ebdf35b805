/**
 * `wrangler dev` and free ports for the specs: the shared launchers in scripts/support (plain JS, so the
 * benchmarks and `npm start` use the very same code), under the names the specs import.
 */
export { freePort } from '../../scripts/support/ports.mjs';
export { ROOT, type StartWranglerOptions, startWrangler, type WranglerServer } from '../../scripts/support/wrangler.mjs';
