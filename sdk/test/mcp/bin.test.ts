// `npx modular-message-bus-library mcp` after `npm install`: the packed tarball carries the committed,
// executable bin, npm links it, and it serves a Redis room to the SDK's stdio client.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../redis/server.js';
import { call } from './support.js';

const sdk = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const project = mkdtempSync(join(tmpdir(), 'mmb-bin-'));
const run = (command: string, args: string[], cwd: string) =>
  execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(async () => {
  await redis?.dispose();
  rmSync(project, { recursive: true, force: true });
});

describe('the mcp bin', () => {
  it('is a committed executable file, not a build output', () => {
    const bin = join(sdk, 'bin/modular-message-bus-library.mjs');
    expect(statSync(bin).mode & 0o111).not.toBe(0);
    const tracked = run('git', ['ls-files', '-s', 'bin/modular-message-bus-library.mjs'], sdk);
    expect(tracked.startsWith('100755')).toBe(true);
  });

  it('works through npx after npm install of the packed package', async () => {
    run('npm', ['pack', '--pack-destination', project], sdk);
    const tarball = readdirSync(project).find((f) => f.endsWith('.tgz')) as string;
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    run('npm', ['install', `./${tarball}`, 'redis', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], project);
    expect(run('npx', ['modular-message-bus-library', 'mcp', '--help'], project)).toBe('');

    const transport = new StdioClientTransport({
      command: 'npx',
      args: ['modular-message-bus-library', 'mcp', '--redis', redis.url, '--room', 'installed', '--agent', 'pat'],
      cwd: project,
      stderr: 'pipe',
    });
    const client = new Client({ name: 'installed-client', version: '1.0.0' });
    await client.connect(transport);
    try {
      expect((await client.listTools()).tools.length).toBeGreaterThanOrEqual(7);
      expect((await call(client, 'join_room')).structuredContent).toEqual({ id: 'pat', groups: [], online: true });
    } finally {
      await client.close();
    }
  }, 180_000);
});
