import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStorageBackend } from '../../src/backends/file/index.js';
import { MessageBusError } from '../../src/core/errors.js';
import { bundleChild } from './bundle.js';
import { kill, startChild } from './child.js';

const directory = mkdtempSync(join(tmpdir(), 'mmb-file-lock-'));
let holder: string;
beforeAll(async () => {
  holder = await bundleChild(join(import.meta.dirname, 'fixtures', 'holder.ts'));
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function startTimeOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] as string;
}

function writeLock(room: string, owner: { pid: number; start: string | null }): void {
  mkdirSync(join(directory, `r-${room}`), { recursive: true });
  writeFileSync(join(directory, `r-${room}`, 'LOCK'), JSON.stringify({ ...owner, host: hostname(), since: new Date().toISOString() }));
}

describe('FileStorageBackend room lock', () => {
  it('refuses a room another live process holds, then takes it over once that process is killed', async () => {
    const child = startChild(holder, [directory, 'held']);
    try {
      await child.ready;
      const storage = new FileStorageBackend({ directory });
      const error = await storage.putMember('held', { id: 'intruder', online: true }).catch((e: unknown) => e);
      expect(MessageBusError.is(error, 'STORAGE_FAILURE')).toBe(true);
      expect((error as Error).message).toContain(`locked by process ${child.proc.pid}`);
      expect((error as Error).message).toContain('RedisStorageBackend');
      // Refusing changed nothing, and other rooms stay usable.
      await storage.putMember('free', { id: 'a', online: true });
      await kill(child);
      // The killed holder left its LOCK behind: it is stale and taken over.
      const room = await storage.getRoom('held');
      expect(room.members.map((m) => m.id)).toEqual(['holder']);
      await storage.close();
    } finally {
      await kill(child);
    }
  }, 30_000);

  it('takes over a lock whose pid was reused by another process (same pid, other start time)', async () => {
    // Our own pid is alive, so a pid check alone would call this lock live.
    writeLock('reused', { pid: process.pid, start: '1' });
    const storage = new FileStorageBackend({ directory });
    await storage.putMember('reused', { id: 'a', online: true });
    expect(JSON.parse(readFileSync(join(directory, 'r-reused', 'LOCK'), 'utf8')).start).toBe(startTimeOf(process.pid));
    await storage.close();
  });

  it('takes over a lock held by a killed process that nobody has reaped yet (a zombie)', async () => {
    // `sleep 0.05` becomes a child of `sleep 30`, which never waits for it: once it exits it stays a zombie.
    const parent = spawn('bash', ['-c', 'sleep 0.05 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((resolve) => parent.stdout?.once('data', (d: Buffer) => resolve(d.toString().trim()))));
      const start = startTimeOf(pid);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      expect(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]).toBe('Z');
      expect(() => process.kill(pid, 0)).not.toThrow(); // it still answers to its pid
      writeLock('zombie', { pid, start });
      const storage = new FileStorageBackend({ directory });
      await storage.putMember('zombie', { id: 'a', online: true });
      await storage.close();
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('refuses a lock whose live holder matches pid and start time, without touching the room', async () => {
    const child = startChild(holder, [directory, 'other-room']);
    try {
      await child.ready;
      const pid = child.proc.pid as number;
      writeLock('claimed', { pid, start: startTimeOf(pid) });
      const storage = new FileStorageBackend({ directory });
      await expect(storage.getRoom('claimed')).resolves.toMatchObject({ lastId: 0, members: [] }); // no journal yet: an empty room
      const error = await storage.putMember('claimed', { id: 'a', online: true }).catch((e: unknown) => e);
      expect(MessageBusError.is(error, 'STORAGE_FAILURE')).toBe(true);
      expect(JSON.parse(readFileSync(join(directory, 'r-claimed', 'LOCK'), 'utf8')).pid).toBe(pid);
      await storage.close();
    } finally {
      await kill(child);
    }
  }, 30_000);

  it('shares one open room between instances in the same process and releases the lock with the last one', async () => {
    const one = new FileStorageBackend({ directory });
    const two = new FileStorageBackend({ directory });
    await one.putMember('shared', { id: 'a', online: true });
    expect((await two.getMembers('shared')).map((m) => m.id)).toEqual(['a']);
    await one.close();
    await two.putMember('shared', { id: 'b', online: true });
    expect(readFileSync(join(directory, 'r-shared', 'LOCK'), 'utf8')).toContain(`"pid":${process.pid}`);
    await two.close();
    expect(() => readFileSync(join(directory, 'r-shared', 'LOCK'))).toThrow();
  });
});
