// Reads one variable from the committed `.dev.vars` (the local development secrets wrangler dev uses), so the
// token script, the demo and the test helper sign tokens with the secret the local worker checks.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The value of `name` in the repository's `.dev.vars`, or `undefined` when the file or the line is missing. */
export function devVar(name) {
  const file = join(root, '.dev.vars');
  if (!existsSync(file)) return undefined;
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}=`));
  return line?.slice(name.length + 1).trim();
}
