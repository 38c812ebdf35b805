// The send loop the counting benches run in a child process (gc-deopts.mjs, runtime-calls.mjs), as source text:
// the child defines `kind` ('bus' or 'safe') and `root` (the repository) first, and this defines `send(i)`, a
// direct send in a room of 10 live subscribers, on the bus or on the hand-written safe bus.

/** Source text that defines `send(i)` for `kind` and `root` (see the file comment). */
export const SEND_LOOP_SETUP = `
let send;
if (kind === 'bus') {
  const { InMemoryStorageBackend } = await import(root + '/sdk/dist/backends/index.js');
  const { Message, MessageBus } = await import(root + '/sdk/dist/index.js');
  const { IndividualRoutingPolicy } = await import(root + '/sdk/dist/routing-policies/index.js');
  const bus = new MessageBus(new InMemoryStorageBackend(), new IndividualRoutingPolicy(), { room: 'bench', logLevel: 'silent' });
  for (let i = 0; i < 10; i++) await bus.connectAgent('agent-' + i);
  for (let i = 0; i < 10; i++) bus.subscribe('agent-' + i, () => {});
  send = (i) => bus.sendMessage(new Message('agent-0', { text: 'hello', i }, ['agent-' + ((i % 9) + 1)]));
} else {
  const { safeBusRoom } = await import(root + '/bench/safe-bus-baseline.mjs');
  const safe = safeBusRoom(10);
  send = (i) => safe.send('agent-0', { text: 'hello', i }, ['agent-' + ((i % 9) + 1)]);
}
`;
