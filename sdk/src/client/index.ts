/**
 * `modular-message-bus-library/client`: the `MessageBus` API over the edge
 * worker's HTTP + WebSocket API. Runtime-agnostic: fetch and WebSocket are
 * taken from the globals or injected.
 */
export { audienceRecipients, FrameReader, type ReadFrame } from './frames.js';
export {
  type FetchLike,
  RemoteMessageBus,
  type RemoteMessageBusOptions,
  type WebSocketConstructorLike,
  type WebSocketLike,
} from './remote-bus.js';
export { RemoteMessageStream } from './remote-stream.js';
