// Every input of a call is read once, when the call is made: what is checked is what is routed and stored.
// Changing an array or object after calling sendMessage() or connectAgent() changes nothing, on a backend that
// answers synchronously (memory) and on one that awaits between the check and the write (file).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileStorageBackend } from '../src/backends/file/index.js';
import { InMemoryStorageBackend } from '../src/backends/memory/index.js';
import { Message, MessageBus, type RoutingPolicy, type StorageBackend } from '../src/index.js';
import { IndividualRoutingPolicy, SubgroupRoutingPolicy } from '../src/routing-policies/index.js';

const directory = mkdtempSync(join(tmpdir(), 'mmb-snapshot-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
let rooms = 0;

const backends: Record<string, () => StorageBackend> = {
  memory: () => new InMemoryStorageBackend(),
  file: () => new FileStorageBackend({ directory, fsync: 'never' }),
};

for (const [name, create] of Object.entries(backends)) {
  describe(`inputs are snapshotted at the call (${name} backend)`, () => {
    const open = async (policy: RoutingPolicy, members: number) => {
      const bus = new MessageBus(create(), policy, { room: `snap-${++rooms}`, logLevel: 'silent' });
      for (let i = 0; i < members; i++) await bus.connectAgent(`m${i}`, { groups: ['team'] });
      return bus;
    };

    it('recipients grown past the 1,000 cap after sendMessage() is called are not stored', async () => {
      const bus = await open(new IndividualRoutingPolicy(), 3);
      try {
        const recipients = ['m1'];
        const pending = bus.sendMessage(new Message('m0', 'hi', recipients));
        for (let i = 0; i < 1501; i++) recipients.push(i % 2 ? 'm1' : 'm2');
        recipients[0] = 'm2';
        const sent = await pending;
        expect(sent.routing.requested).toEqual(['m1']);
        expect(sent.recipients).toEqual(['m1']);
        const [stored] = await bus.history();
        expect(stored?.routing.requested).toEqual(['m1']);
        expect(stored?.recipients).toEqual(['m1']);
        expect(await bus.fetchMessages('m2')).toEqual([]);
      } finally {
        await bus.close();
      }
    });

    it('a recipient that reads differently the second time is read once', async () => {
      const bus = await open(new SubgroupRoutingPolicy(), 2);
      try {
        let reads = 0;
        const shifty = ['team'];
        Object.defineProperty(shifty, 0, { enumerable: true, get: () => (++reads === 1 ? 'team' : 'x'.repeat(500)) });
        const sent = await bus.sendMessage(new Message('m0', 'hi', shifty));
        expect(reads).toBe(1);
        expect(sent.routing.requested).toEqual(['team']);
        expect((await bus.history())[0]?.routing.requested).toEqual(['team']);
      } finally {
        await bus.close();
      }
    });

    it('content and groups changed after the call are not stored', async () => {
      const bus = await open(new SubgroupRoutingPolicy(), 2);
      try {
        const content = { text: 'original', list: [1] };
        const pending = bus.sendMessage(new Message('m0', content, ['team']));
        content.text = 'changed';
        content.list.push(2);
        expect((await pending).content).toEqual({ text: 'original', list: [1] });
        const groups = ['a'];
        const joining = bus.connectAgent('late', { groups });
        groups.push(...Array.from({ length: 500 }, (_, i) => `g${i}`));
        expect((await joining).groups).toEqual(['a']);
        expect((await bus.agents()).find((m) => m.id === 'late')?.groups).toEqual(['a']);
        expect((await bus.history())[0]?.content).toEqual({ text: 'original', list: [1] });
      } finally {
        await bus.close();
      }
    });
  });
}
