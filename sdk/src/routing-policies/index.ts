export type { MessageMetadata, RoomMember, RoomView, RoutableMessage, RouteResult, RoutingPolicy } from '../core/types.js';
export { AddressedRoutingPolicy } from './addressed.js';
export { type BroadcastOptions, BroadcastRoutingPolicy } from './broadcast.js';
export { IndividualRoutingPolicy } from './individual.js';
export { SubgroupRoutingPolicy } from './subgroup.js';
