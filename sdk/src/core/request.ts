/**
 * Request/reply on top of send and subscribe, shared by `MessageBus` and
 * `RemoteMessageBus`: store the request, then wait for the first message
 * routed to the requester whose `inReplyTo` is the request's id.
 */
import { MessageBusError } from './errors.js';
import type { StoredMessage } from './types.js';

/** Default `timeoutMs` of `request`. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Timers hold 32-bit signed milliseconds: anything longer would fire at once. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** The part of an `AbortSignal` that `request` uses (so the core needs no DOM typings). */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** Options of `request`. */
export interface RequestOptions {
  /** How long to wait for the reply after calling, in ms (1 to 2^31-1). Default 30,000. On expiry: `TIMEOUT`. */
  timeoutMs?: number;
  /** Stops waiting with `ABORTED`. Already aborted: nothing is sent. The request stays stored either way. */
  signal?: AbortSignalLike;
}

/** What a bus provides to `awaitReply`. */
export interface ReplyChannel {
  /** Stores the request (or finds the earlier one with the same idempotency key). */
  send(): Promise<StoredMessage>;
  /**
   * Calls `onMessage` with each message routed to the request's sender with an
   * id above the request's, in id order, replayed and then live, until the
   * returned function is called. `onEnd` reports a watch that ended on its own
   * (the agent removed, the bus closed); no message follows it.
   */
  watch(request: StoredMessage, onMessage: (message: StoredMessage) => void, onEnd: (error: MessageBusError) => void): () => void;
}

/**
 * Sends a request and resolves with its first reply. The watch starts after
 * the request's id, so a reply stored between the send and the watch is
 * replayed, and an idempotent re-send resolves with the earliest reply already
 * stored. Rejects with the send's error (nothing stored), `TIMEOUT` or
 * `ABORTED` (both with `details.requestId` once the request is stored), or
 * the error that ended the watch.
 */
export function awaitReply(channel: ReplyChannel, options: RequestOptions = {}): Promise<StoredMessage> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
    return Promise.reject(new MessageBusError('INVALID_ARGUMENT', `timeoutMs must be an integer from 1 to ${MAX_TIMEOUT_MS}`));
  }
  const signal = options.signal;
  if (signal?.aborted) return Promise.reject(abortedError(undefined, signal.reason));
  return new Promise<StoredMessage>((resolve, reject) => {
    let settled = false;
    let requestId: number | undefined;
    let stopWatch: (() => void) | undefined;
    // Set when the deadline passes or the signal fires before the send finished: the outcome waits for its id.
    let pending: ((id: number) => MessageBusError) | undefined;
    const finish = (error: MessageBusError | Error | undefined, reply?: StoredMessage) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      stopWatch?.();
      if (error) reject(error);
      else resolve(reply as StoredMessage);
    };
    const fail = (make: (id: number) => MessageBusError) => {
      if (requestId === undefined) pending ??= make;
      else finish(make(requestId));
    };
    const onAbort = () => fail((id) => abortedError(id, signal?.reason));
    const timer = setTimeout(() => fail((id) => timeoutError(id, timeoutMs)), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    channel.send().then(
      (request) => {
        if (settled) return;
        requestId = request.id;
        if (pending) return finish(pending(request.id));
        let stop: () => void;
        try {
          stop = channel.watch(
            request,
            (message) => {
              if (message.inReplyTo === request.id) finish(undefined, message);
            },
            (error) => finish(error),
          );
        } catch (error) {
          return finish(error instanceof Error ? error : new Error(String(error)));
        }
        if (settled) stop();
        else stopWatch = stop;
      },
      (error: unknown) => finish(error instanceof Error ? error : new Error(String(error))),
    );
  });
}

function timeoutError(requestId: number, timeoutMs: number): MessageBusError {
  return new MessageBusError(
    'TIMEOUT',
    `no reply to message ${requestId} within ${timeoutMs} ms; it stays stored, so a late answer can still be fetched (details.requestId)`,
    { details: { requestId } },
  );
}

function abortedError(requestId: number | undefined, reason: unknown): MessageBusError {
  const message =
    requestId === undefined
      ? 'the request was aborted before it was sent: nothing was stored'
      : `stopped waiting for a reply to message ${requestId}: the signal aborted; the request stays stored (details.requestId)`;
  return new MessageBusError('ABORTED', message, {
    ...(reason === undefined ? {} : { cause: reason }),
    ...(requestId === undefined ? {} : { details: { requestId } }),
  });
}
