/** The SDK's sources as a differential run drives them (Node.js and browser tests of the SDK itself). */
import { Message, MessageBus, MessageBusError } from '../../../src/index.js';
import { BroadcastRoutingPolicy, IndividualRoutingPolicy, SubgroupRoutingPolicy } from '../../../src/routing-policies/index.js';
import type { Sdk } from './sdk.js';

export const sdkSources: Sdk = {
  Message,
  MessageBus,
  MessageBusError,
  BroadcastRoutingPolicy,
  IndividualRoutingPolicy,
  SubgroupRoutingPolicy,
};
