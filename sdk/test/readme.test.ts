// Runs every TypeScript example of the README, so the front door cannot rot. Each `// prints: X` comment in an
// example must match a line the example logged. Examples that need another runtime name the test that runs them
// in their fence (```ts test=path/to/file), and that file must exist and mention the README.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startRedis } from './redis/server.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// The repository's README and the package's own (what npm shows).
const blocks = ['README.md', 'sdk/README.md'].flatMap((name) => {
  const text = readFileSync(join(root, name), 'utf8');
  return [...text.matchAll(/^```(ts|typescript)([^\n]*)\n([\s\S]*?)^```$/gm)].map((m, index) => ({
    index: `${name.replace(/\W/g, '-')}-${index}`,
    info: (m[2] ?? '').trim(),
    code: m[3] ?? '',
    line: `${name}:${text.slice(0, m.index).split('\n').length}`,
  }));
});
const work = join(root, '.tmp', 'readme');

describe('README examples', () => {
  it('has examples to run', () => {
    expect(blocks.length).toBeGreaterThan(5);
  });

  for (const block of blocks) {
    const elsewhere = /test=(\S+)/.exec(block.info)?.[1];
    if (elsewhere) {
      it(`example at ${block.line} is run by ${elsewhere}`, () => {
        const file = join(root, elsewhere);
        expect(existsSync(file), `${elsewhere} exists`).toBe(true);
        expect(readFileSync(file, 'utf8')).toContain('README');
      });
      continue;
    }
    it(`example at ${block.line} runs and prints what it says`, async () => {
      mkdirSync(work, { recursive: true });
      const expected = [...block.code.matchAll(/^\s*\/\/ prints: (.*)$/gm)].map((m) => m[1]);
      if (block.code.includes("from 'vitest'")) {
        // A test-suite example: run it as its own Vitest run.
        const dir = join(work, `suite-${block.index}`);
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'example.test.ts'), block.code);
        writeFileSync(join(dir, 'vitest.config.mjs'), 'export default { test: { include: ["example.test.ts"] } };\n');
        const output = execFileSync(
          process.execPath,
          [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'vitest.config.mjs'],
          {
            cwd: dir,
            encoding: 'utf8',
            env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
          },
        );
        expect(output).toMatch(/Tests\s+\d+ passed/);
        expect(output).not.toMatch(/failed/);
        return;
      }
      // A Redis example gets a real redis-server of its own, on a free port instead of 6379.
      const redis = /\bredis\b/.test(block.info) ? await startRedis() : undefined;
      const code = redis ? block.code.replaceAll('redis://127.0.0.1:6379', redis.url) : block.code;
      const file = join(work, `example-${block.index}.ts`);
      writeFileSync(file, `${code}\nexport {};\n`);
      // Examples that write files (the file backend's ./data) write them into a scratch directory.
      const scratch = mkdtempSync(join(tmpdir(), 'mmb-readme-'));
      const cwd = process.cwd();
      const logged: string[] = [];
      const original = console.log;
      console.log = (...args: unknown[]) => void logged.push(format(...args));
      try {
        process.chdir(scratch);
        await import(`${pathToFileURL(file).href}?t=${Date.now()}`);
      } finally {
        console.log = original;
        process.chdir(cwd);
        rmSync(scratch, { recursive: true, force: true });
        await redis?.dispose();
      }
      for (const line of expected) expect(logged).toContain(line);
    }, 60_000);
  }
});
