// SocketTurns (src/socket-turns.ts): the room's socket events in arrival order; those delivered while the first of a
// turn runs wait and run together after it, in order, even when a task waits on real I/O or throws.
import { expect, it } from 'vitest';
import { SocketTurns } from '../../src/socket-turns.js';

it('runs an event at once when idle, queues the ones that follow until the next turn, and keeps their order', async () => {
  const turns = new SocketTurns();
  const log: string[] = [];
  let finished = () => {};
  const done = new Promise<void>((resolve) => (finished = resolve));
  turns.run(async () => {
    log.push('first starts');
    await new Promise((resolve) => setTimeout(resolve, 20)); // real I/O: the queued events must still wait for it
    log.push('first ends');
  });
  expect(log).toEqual(['first starts']);
  turns.run(async () => {
    log.push('second');
    throw new Error('a bug in one event');
  });
  turns.run(async () => {
    log.push('third');
    finished();
  });
  expect(log).toEqual(['first starts']);
  const errors: unknown[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args);
  try {
    await done;
  } finally {
    console.error = original;
  }
  expect(log).toEqual(['first starts', 'first ends', 'second', 'third']);
  expect(errors).toHaveLength(1);
  // Idle again once the batch is over (a turn later): the next event runs at once.
  await new Promise((resolve) => setTimeout(resolve, 0));
  turns.run(async () => {
    log.push('later');
  });
  expect(log.at(-1)).toBe('later');
});
