/**
 * `modular-message-bus-library/backends` in both worlds, from the built package
 * (sdk/dist, `npm run build` first): a Vite browser build of it pulls in no
 * Node module and no Redis client, the browser bundle's Node-only backends
 * throw a clear error, and importing it in Node touches no DOM global.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build, type Rolldown } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const dist = join(repo, 'sdk/dist/backends/index.browser.js');
/** Node-only code a browser bundle must not contain: builtins (plain, `node:` or Vite's stub for them) and the Redis client. */
const NODE_ONLY = [
  /["']node:[a-z_/]+["']/,
  /__vite-browser-external/,
  /\bfrom\s*["'](fs|path|net|tls|os|crypto|child_process|worker_threads)["']/,
  /\brequire\(\s*["']/,
  /@redis\//,
  /\bRESP[23]?\b/,
];

let work: string;

beforeAll(async () => {
  if (!existsSync(dist)) throw new Error('sdk/dist is missing: run `npm run build` before the bundling tests');
  // Inside node_modules so the entry resolves the workspace package like an app would (and tools ignore it).
  await mkdir(join(repo, 'node_modules/.cache'), { recursive: true });
  work = await mkdtemp(join(repo, 'node_modules/.cache/mmb-bundling-'));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Builds `source` as an ES library with Vite under `conditions`; returns the output file and its code. */
async function viteBuild(name: string, source: string, conditions: string[]): Promise<{ file: string; code: string }> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'entry.js'), source);
  const result = await build({
    root: dir,
    configFile: false,
    logLevel: 'silent',
    resolve: { conditions },
    build: {
      outDir: join(dir, 'out'),
      emptyOutDir: true,
      minify: false,
      lib: { entry: join(dir, 'entry.js'), formats: ['es'], fileName: 'bundle' },
    },
  });
  const outputs = (Array.isArray(result) ? result : [result]) as Rolldown.RolldownOutput[];
  const chunks = outputs.flatMap((o) => o.output).filter((o): o is Rolldown.OutputChunk => o.type === 'chunk');
  expect(chunks.length).toBeGreaterThan(0);
  const code = chunks.map((c) => c.code).join('\n');
  return { file: join(dir, 'out', (chunks[0] as Rolldown.OutputChunk).fileName), code };
}

const ENTRY = `export * from 'modular-message-bus-library/backends';
export { MessageBus, Message } from 'modular-message-bus-library';
`;

describe('a browser bundle of modular-message-bus-library/backends (Vite)', () => {
  let bundle: { file: string; code: string };

  beforeAll(async () => {
    bundle = await viteBuild('browser', ENTRY, ['browser', 'module', 'production']);
  }, 60_000);

  it('contains no Node module and no Redis client, and does contain the IndexedDB backend with idb', () => {
    for (const pattern of NODE_ONLY) expect(bundle.code, `matches ${pattern}`).not.toMatch(pattern);
    expect(bundle.code).toMatch(/IDBKeyRange/);
    expect(bundle.code).toMatch(/modular-message-bus:/); // the BroadcastChannel name
  });

  it('the check above would catch a Node module: the Node entry bundled the same way trips it', async () => {
    const nodeEntry = await viteBuild('node-entry', ENTRY, ['node', 'module', 'production']);
    expect(NODE_ONLY.some((pattern) => pattern.test(nodeEntry.code))).toBe(true);
  }, 60_000);

  it('its Node-only backends throw a clear MISCONFIGURED error naming the runtime they need', async () => {
    const mod = await import(pathToFileURL(bundle.file).href);
    expect(() => new mod.FileStorageBackend({ directory: '/tmp/x' })).toThrowError(
      /\[FileStorageBackend\] FileStorageBackend needs Node\.js/,
    );
    expect(() => new mod.RedisStorageBackend({ url: 'redis://127.0.0.1' })).toThrowError(/RedisStorageBackend needs Node\.js/);
    try {
      new mod.FileStorageBackend({ directory: '/tmp/x' });
    } catch (error) {
      expect((error as { code?: string }).code).toBe('MISCONFIGURED');
    }
    // Node has no IndexedDB: the browser backend says so instead of failing later.
    expect(() => new mod.IndexedDBStorageBackend()).toThrowError(/IndexedDBStorageBackend needs a browser/);
    expect(new mod.InMemoryStorageBackend().name).toBe('memory');
  });
});

describe('modular-message-bus-library/backends in Node.js', () => {
  it('imports without touching any DOM global, and exports every backend', async () => {
    // A fresh process: trap the DOM globals before the import and report which were read.
    const script = `
      const touched = [];
      for (const name of ['window', 'document', 'self', 'indexedDB', 'IDBKeyRange', 'IDBRequest', 'localStorage', 'location']) {
        Object.defineProperty(globalThis, name, { configurable: true, get() { touched.push(name); return undefined; } });
      }
      const mod = await import('modular-message-bus-library/backends');
      const main = await import('modular-message-bus-library');
      console.log(JSON.stringify({ touched, exports: Object.keys(mod).sort(), main: typeof main.MessageBus }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: repo });
    const result = JSON.parse(stdout.trim().split('\n').at(-1) as string);
    expect(result.touched).toEqual([]);
    expect(result.main).toBe('function');
    for (const name of ['FileStorageBackend', 'InMemoryStorageBackend', 'IndexedDBStorageBackend', 'RedisStorageBackend']) {
      expect(result.exports).toContain(name);
    }
  });

  it('resolves the Node entry (not the browser one) under Node conditions', async () => {
    const resolved = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '-e', "console.log(import.meta.resolve('modular-message-bus-library/backends'))"],
      { cwd: repo },
    );
    expect(resolved.stdout.trim()).toMatch(/sdk\/dist\/backends\/index\.js$/);
    const browserEntry = await readFile(dist, 'utf8');
    for (const pattern of NODE_ONLY) expect(browserEntry).not.toMatch(pattern);
  });
});
