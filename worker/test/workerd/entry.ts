// The test worker: the real entry plus a room class built with createChatRoom and custom policies.
import { MessageBusError, type RoutingPolicy } from 'modular-message-bus-library';
import { createChatRoom } from '../../src/index.js';

export * from '../../src/index.js';
export { default } from '../../src/index.js';

/** Each message goes to the next member after the sender. */
const roundRobin: RoutingPolicy = {
  name: 'round-robin',
  route(message, room) {
    const ids = room.members.map((m) => m.id);
    return [ids[(ids.indexOf(message.sender) + 1) % ids.length] as string];
  },
};

const broken: RoutingPolicy = {
  name: 'broken',
  route() {
    throw new Error('policy bug');
  },
};

const picky: RoutingPolicy = {
  name: 'picky',
  route() {
    throw new MessageBusError('UNKNOWN_GROUP', 'no such group');
  },
};

export const CustomRoom = createChatRoom({ routing: { 'round-robin': () => roundRobin, broken: () => broken, picky: () => picky } });
