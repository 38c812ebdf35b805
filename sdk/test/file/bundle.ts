import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
// esbuild (a dev dependency of the sdk) bundles the TypeScript child scripts from source, which keeps the
// multi-process tests independent of a fresh `npm run build`.
import { build } from 'esbuild';
import { afterAll } from 'vitest';

// Inside the repository, so the bundles resolve external packages (redis) from its node_modules.
const cache = join(import.meta.dirname, '..', '..', '..', 'node_modules', '.cache');
mkdirSync(cache, { recursive: true });
const outDir = mkdtempSync(join(cache, 'mmb-test-child-'));
// Registered in the test file that imports this module (Vitest may end its workers without an 'exit' event).
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

/** Bundles a TypeScript child-process script (and the SDK source it imports) to one .mjs file; returns its path. */
export async function bundleChild(entry: string): Promise<string> {
  const outfile = join(outDir, `${basename(entry, '.ts')}.mjs`);
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    packages: 'external',
    logLevel: 'error',
  });
  return outfile;
}
