import { describe, expect, it } from 'vitest';
import { DeliveryIndex } from './delivery-index.js';
import { type AsyncBroadcastSource, broadcastWalk, lastBroadcastWalk, type OwnRun, RunBuilder, walkAsync, walkSync } from './own-runs.js';

/** A random room's broadcasts: long and short runs of own broadcasts, `members` broadcasts, gaps of direct ids. */
function randomBroadcasts(seed: number): { id: number; excluded: string | null }[] {
  let state = seed;
  const random = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const senders = ['a', 'b', 'c'];
  const out: { id: number; excluded: string | null }[] = [];
  let id = 0;
  while (out.length < 600) {
    const run = random() < 0.2 ? 10 + Math.floor(random() * 60) : 1;
    const sender = senders[Math.floor(random() * senders.length)] as string;
    const excluded = random() < 0.15 ? null : sender;
    for (let i = 0; i < run; i++) {
      id += random() < 0.3 ? 2 : 1; // a direct message in between does not break a run
      out.push({ id, excluded });
    }
  }
  return out;
}

describe('own-run walks', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`give what a scan of every broadcast gives (seed ${seed})`, async () => {
      const broadcasts = randomBroadcasts(seed);
      const index = new DeliveryIndex();
      for (const b of broadcasts) index.addBroadcast(b.id, b.excluded);
      const asyncSource: AsyncBroadcastSource = {
        ownRuns: async (...args) => index.ownRuns(...args),
        broadcasts: async (...args) => index.broadcasts(...args),
        broadcastBefore: async (...args) => index.broadcastBefore(...args),
        ownRunAt: async (...args) => index.ownRunAt(...args),
      };
      const lastId = broadcasts.at(-1)?.id ?? 0;
      for (const agent of ['a', 'b', 'z']) {
        for (let start = 0; start <= lastId; start += 37) {
          for (const limit of [1, 5, 100]) {
            for (const ceiling of [Number.POSITIVE_INFINITY, start + 50]) {
              const expected = broadcasts
                .filter((b) => b.id > start && b.id <= ceiling && b.excluded !== agent)
                .slice(0, limit)
                .map((b) => b.id);
              expect(walkSync(broadcastWalk(agent, start, limit, ceiling), index)).toEqual(expected);
              expect(await walkAsync(broadcastWalk(agent, start, limit, ceiling), asyncSource)).toEqual(expected);
            }
          }
          const routed = broadcasts.filter((b) => b.id > start && b.excluded !== agent).at(-1)?.id ?? 0;
          expect(walkSync(lastBroadcastWalk(agent, start), index)).toBe(routed);
        }
      }
    });
  }

  it('RunBuilder groups stored broadcasts into the runs the append rule builds one at a time', () => {
    const broadcasts = randomBroadcasts(7);
    const index = new DeliveryIndex();
    for (const b of broadcasts) index.addBroadcast(b.id, b.excluded);
    const built = new Map<string, OwnRun[]>();
    const builder = new RunBuilder((room, sender, run) => {
      expect(room).toBe('room');
      built.set(sender, [...(built.get(sender) ?? []), run]);
    });
    for (const b of broadcasts) builder.add('room', b);
    builder.finish();
    for (const sender of ['a', 'b', 'c']) expect(built.get(sender)).toEqual(index.ownRuns(sender, 0, 10_000));
  });

  it('jump a run of 50,000 own broadcasts with a handful of requests', () => {
    const index = new DeliveryIndex();
    for (let id = 1; id <= 50_000; id++) index.addBroadcast(id, 'a');
    index.addBroadcast(50_001, 'b');
    let requests = 0;
    let rows = 0;
    const counting = {
      ownRuns: (agent: string, after: number, limit: number) => {
        requests++;
        return index.ownRuns(agent, after, limit);
      },
      broadcasts: (agent: string, after: number, before: number, limit: number) => {
        requests++;
        const page = index.broadcasts(agent, after, before, limit);
        rows += page.length;
        return page;
      },
      broadcastBefore: (agent: string, before: number) => {
        requests++;
        return index.broadcastBefore(agent, before);
      },
      ownRunAt: (agent: string, id: number) => {
        requests++;
        return index.ownRunAt(agent, id);
      },
    };
    expect(walkSync(broadcastWalk('a', 0, 1), counting)).toEqual([50_001]);
    expect(requests).toBeLessThanOrEqual(3);
    expect(rows).toBeLessThanOrEqual(3);
    requests = 0;
    expect(walkSync(broadcastWalk('a', 20_000, 10), counting)).toEqual([50_001]);
    expect(requests).toBeLessThanOrEqual(3);
    requests = 0;
    index.addBroadcast(50_002, 'a');
    expect(walkSync(lastBroadcastWalk('a', 0), counting)).toBe(50_001);
    expect(walkSync(lastBroadcastWalk('b', 0), counting)).toBe(50_002);
  });
});
