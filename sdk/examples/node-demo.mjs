// A small multi-agent room on the in-memory backend: a planner broadcasts, researchers talk in a subgroup, and
// the critic sends a direct message. Three buses share one storage, one per routing policy, so each message is
// routed the way its kind needs. Run: npm run demo:node
import { Message, MessageBus, MetricsRegistry } from 'modular-message-bus-library';
import { InMemoryStorageBackend } from 'modular-message-bus-library/backends';
import { BroadcastRoutingPolicy, IndividualRoutingPolicy, SubgroupRoutingPolicy } from 'modular-message-bus-library/routing-policies';

const storage = new InMemoryStorageBackend();
const room = 'demo';
const shared = { room, closeStorage: false, logLevel: 'warn', metrics: new MetricsRegistry() };
const broadcast = new MessageBus(storage, new BroadcastRoutingPolicy(), shared);
const subgroup = new MessageBus(storage, new SubgroupRoutingPolicy(), shared);
const direct = new MessageBus(storage, new IndividualRoutingPolicy(), shared);

const agents = { planner: [], ana: ['research'], ben: ['research'], coder: ['build'], critic: [] };
for (const [agent, groups] of Object.entries(agents)) await broadcast.connectAgent(agent, { groups });

// Every agent listens live; the bus replays from the start, then delivers as messages arrive.
const stops = Object.keys(agents).map((agent) =>
  broadcast.subscribe(
    agent,
    (m) => console.log(`  ${agent.padEnd(7)} <- #${m.id} ${m.sender} [${m.routing.policy}] ${JSON.stringify(m.content)}`),
    { after: 0 },
  ),
);

const say = async (bus, sender, content, recipients) => {
  const sent = await bus.sendMessage(new Message(sender, content, recipients));
  console.log(
    `#${sent.id} ${sender} -> ${sent.recipients.join(', ')} (${sent.routing.policy}${recipients ? `: ${recipients.join(', ')}` : ''})`,
  );
  await new Promise((resolve) => setTimeout(resolve, 20));
};

await say(broadcast, 'planner', 'Goal: a summary of message-bus designs by noon.');
await say(subgroup, 'planner', 'Research: collect three sources.', ['research']);
await say(subgroup, 'ana', 'I take Socket.IO adapters.', ['research']);
await say(direct, 'critic', 'Check the ordering guarantees first.', ['coder']);
await say(subgroup, 'coder', 'Build is green.', ['build', 'research']);

await broadcast.ackMessages('ana', 3);
console.log('\nagents:');
for (const a of await broadcast.agents())
  console.log(`  ${a.id.padEnd(7)} groups=${a.groups.join('|') || '-'} sent=${a.sentCount} cursor=${a.cursor} lag=${a.lag}`);
console.log('\nmetrics (excerpt):');
for (const line of (await broadcast.metrics()).split('\n')) if (line.startsWith('mmb_messages_sent_total')) console.log(`  ${line}`);

for (const stop of stops) stop();
await Promise.all([broadcast.close(), subgroup.close(), direct.close()]);
await storage.close();
