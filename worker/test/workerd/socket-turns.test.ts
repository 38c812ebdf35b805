// SocketTurns (src/socket-turns.ts): the room's socket events started in arrival order; those delivered while the
// window of the first is open wait, and start together a turn later. A task is started, not awaited: one that waits
// for a later one (a stream-end for its last write) does not hold it up, and one that throws stops nothing.
import { expect, it } from 'vitest';
import { SocketTurns } from '../../src/socket-turns.js';

const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

it('starts an event at once when idle, queues the ones that follow until the next turn, in order', async () => {
  const turns = new SocketTurns();
  const log: string[] = [];
  let writeApplied = () => {};
  const written = new Promise<void>((resolve) => (writeApplied = resolve));
  let ended = () => {};
  const endDone = new Promise<void>((resolve) => (ended = resolve));
  turns.run(async () => {
    log.push('end starts');
    await written; // waits for a frame delivered after it
    log.push('end done');
    ended();
  });
  expect(log).toEqual(['end starts']);
  turns.run(async () => {
    log.push('bug');
    throw new Error('a bug in one event');
  });
  turns.run(async () => {
    log.push('write');
    writeApplied();
  });
  // Queued until the next turn.
  expect(log).toEqual(['end starts']);
  const errors: unknown[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args);
  try {
    await endDone;
    await nextTurn();
  } finally {
    console.error = original;
  }
  expect(log).toEqual(['end starts', 'bug', 'write', 'end done']);
  expect(errors).toHaveLength(1);
  // The window closed with its batch: the next event starts at once.
  turns.run(async () => {
    log.push('later');
  });
  expect(log.at(-1)).toBe('later');
});
