/**
 * modular-message-bus-library: a message bus for multi-agent chatrooms.
 * The core imports no runtime API; backends and the remote client live in their own entry points.
 */

export type { AgentInfo, ConnectOptions, MessageBusEvents, MessageBusOptions } from './core/bus.js';
export { DEFAULT_FETCH_LIMIT, DEFAULT_MAX_CONTENT_BYTES, DEFAULT_MAX_GROUPS_PER_MEMBER, MAX_FETCH_LIMIT, MessageBus } from './core/bus.js';
export { DEFAULT_MAX_METADATA_BYTES } from './core/conversation.js';
export { ERROR_CODES, type ErrorCode, type ErrorDetails, MessageBusError } from './core/errors.js';
export type { Logger, LogLevel } from './core/logger.js';
export { Message, type MessageOptions } from './core/message.js';
export { Counter, Gauge, Histogram, LATENCY_BUCKETS, MetricsRegistry, mergeExpositions } from './core/metrics.js';
export { type AbortSignalLike, DEFAULT_REQUEST_TIMEOUT_MS, type RequestOptions } from './core/request.js';
export type { MessageStream } from './core/stream/message-stream.js';
export type { StreamInfo, StreamSnapshot, StreamWatcher } from './core/stream/stream-board.js';
export { DEFAULT_STREAM_IDLE_MS } from './core/stream/stream-hub.js';
export type { MessageHandler, SubscribeOptions } from './core/subscription.js';
export type * from './core/types.js';
export { DEFAULT_MAX_CONTENT_DEPTH, exceedsContentDepth, isValidId } from './core/validate.js';
