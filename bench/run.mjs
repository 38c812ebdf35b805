// `npm run bench`: runs every benchmark module, prints a table each, and writes bench/results/latest.json.
// Usage: npm run bench [-- core file redis indexeddb worker own-runs conversations edge-peers redis-peers redis-instructions mcp streams]   (default: all that are present)
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const all = [
  'core',
  'file',
  'redis',
  'indexeddb',
  'worker',
  'own-runs',
  'conversations',
  'edge-peers',
  'redis-peers',
  'redis-instructions',
  'mcp',
  'streams',
];
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const modules = (wanted.length ? wanted : all).filter((name) => existsSync(join(here, `${name}.mjs`)));

const report = { date: new Date().toISOString(), node: process.version, results: [] };
for (const name of modules) {
  process.stdout.write(`\n== ${name} ==\n`);
  try {
    const { run } = await import(`./${name}.mjs`);
    const result = await run();
    console.table(result.rows);
    for (const note of result.notes ?? []) console.log(`  - ${note}`);
    report.results.push({ name, ...result });
  } catch (error) {
    console.error(`  ${name} failed: ${error?.stack ?? error}`);
    report.results.push({ name, error: String(error?.message ?? error) });
    process.exitCode = 1;
  }
}
mkdirSync(join(here, 'results'), { recursive: true });
const out = join(here, 'results', 'latest.json');
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nwrote ${out}`);
