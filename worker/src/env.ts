/**
 * Bindings and vars of the worker (see the root wrangler.toml), and the limits read from them.
 * The namespaces are untyped on purpose: the classes bound to them import this file, and their
 * RPC is typed once, in contract.ts (see stubs.ts), so nothing here imports them back.
 */

import { DEFAULT_MAX_CONTENT_DEPTH } from 'modular-message-bus-library';

/** What the worker and its Durable Objects receive as `env`. */
export interface Env {
  /** One `ChatRoom` object per room (`RoomRpc`). */
  CHAT_ROOM: DurableObjectNamespace;
  /** The `RoomDirectory` singleton (`DirectoryRpc`). */
  ROOM_DIRECTORY: DurableObjectNamespace;
  /** The devtools build (`[assets]` in wrangler.toml); absent when the folder was not built. */
  ASSETS?: Fetcher;
  /** HS256 secret for bearer tokens: `.dev.vars` locally, `wrangler secret put BUS_SECRET` in production. */
  BUS_SECRET?: string;
  /** Comma-separated allowed origins for CORS, or `*`. */
  CORS_ORIGINS?: string;
  /** Routing policy of a room that was never configured: `broadcast`, `subgroup`, `individual` or `addressed`. */
  DEFAULT_ROUTING?: string;
  MAX_BODY_BYTES?: string;
  MAX_CONTENT_BYTES?: string;
  /** Largest `metadata` of a message, UTF-8 JSON bytes (default 4096). */
  MAX_METADATA_BYTES?: string;
  RATE_LIMIT_PER_SECOND?: string;
  RATE_LIMIT_BURST?: string;
  MAX_SOCKETS_PER_ROOM?: string;
  MAX_MEMBERS_PER_ROOM?: string;
  /** Keep at most this many messages per room (0 or absent: keep all). */
  MAX_MESSAGES_PER_ROOM?: string;
  /** Deepest nesting of arrays and objects in message content (default 64). */
  MAX_CONTENT_DEPTH?: string;
  /** Most groups one member may be in (default 100). */
  MAX_GROUPS_PER_MEMBER?: string;
  /** Deltas one agent may write per second over all its streams; more aborts the stream with RATE_LIMITED (default 100). */
  MAX_STREAM_DELTAS_PER_SECOND?: string;
  /** Streams one agent may have open at once; one more is refused with RATE_LIMITED (default 4). */
  MAX_OPEN_STREAMS_PER_AGENT?: string;
  /** A stream nothing is written to for this long is aborted with IDLE, in ms (default 30000). */
  STREAM_IDLE_MS?: string;
  /** Comma-separated API origins the dashboard may call besides its own (added to its CSP `connect-src`). */
  DEVTOOLS_API_ORIGINS?: string;
}

/** The limits a deployment enforces, with their defaults. */
export interface Limits {
  maxBodyBytes: number;
  maxContentBytes: number;
  maxMetadataBytes: number;
  ratePerSecond: number;
  rateBurst: number;
  maxSocketsPerRoom: number;
  maxMembersPerRoom: number;
  maxMessagesPerRoom: number | undefined;
  maxContentDepth: number;
  maxGroupsPerMember: number;
  maxStreamDeltasPerSecond: number;
  maxOpenStreamsPerAgent: number;
  streamIdleMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxBodyBytes: 128 * 1024,
  maxContentBytes: 64 * 1024,
  maxMetadataBytes: 4 * 1024,
  ratePerSecond: 20,
  rateBurst: 40,
  maxSocketsPerRoom: 1000,
  maxMembersPerRoom: 1000,
  maxMessagesPerRoom: undefined,
  maxContentDepth: DEFAULT_MAX_CONTENT_DEPTH,
  maxGroupsPerMember: 100,
  maxStreamDeltasPerSecond: 100,
  maxOpenStreamsPerAgent: 4,
  streamIdleMs: 30_000,
};

/** Reads the limits from vars; a var that is not a positive integer falls back to its default (and says so once). */
export function limitsOf(env: Env): Limits {
  const read = (name: keyof Env, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (Number.isInteger(value) && value > 0) return value;
    console.warn(`[mmb-worker] ${String(name)}=${String(raw)} is not a positive integer; using ${fallback}`);
    return fallback;
  };
  const maxMessages = read('MAX_MESSAGES_PER_ROOM', 0);
  return {
    maxBodyBytes: read('MAX_BODY_BYTES', DEFAULT_LIMITS.maxBodyBytes),
    maxContentBytes: read('MAX_CONTENT_BYTES', DEFAULT_LIMITS.maxContentBytes),
    maxMetadataBytes: read('MAX_METADATA_BYTES', DEFAULT_LIMITS.maxMetadataBytes),
    ratePerSecond: read('RATE_LIMIT_PER_SECOND', DEFAULT_LIMITS.ratePerSecond),
    rateBurst: read('RATE_LIMIT_BURST', DEFAULT_LIMITS.rateBurst),
    maxSocketsPerRoom: read('MAX_SOCKETS_PER_ROOM', DEFAULT_LIMITS.maxSocketsPerRoom),
    maxMembersPerRoom: read('MAX_MEMBERS_PER_ROOM', DEFAULT_LIMITS.maxMembersPerRoom),
    maxMessagesPerRoom: maxMessages > 0 ? maxMessages : undefined,
    maxContentDepth: read('MAX_CONTENT_DEPTH', DEFAULT_LIMITS.maxContentDepth),
    maxGroupsPerMember: read('MAX_GROUPS_PER_MEMBER', DEFAULT_LIMITS.maxGroupsPerMember),
    maxStreamDeltasPerSecond: read('MAX_STREAM_DELTAS_PER_SECOND', DEFAULT_LIMITS.maxStreamDeltasPerSecond),
    maxOpenStreamsPerAgent: read('MAX_OPEN_STREAMS_PER_AGENT', DEFAULT_LIMITS.maxOpenStreamsPerAgent),
    streamIdleMs: read('STREAM_IDLE_MS', DEFAULT_LIMITS.streamIdleMs),
  };
}
