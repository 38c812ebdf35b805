const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A new stream id: 32 hex digits of randomness (128 bits), unique without coordination between buses. */
export function newStreamId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let id = '';
  for (const byte of bytes) id += HEX[byte];
  return id;
}

/** The idempotency key `end()` stores under when the stream's message has none, so a retried `end()` stores once. */
export function streamIdempotencyKey(streamId: string): string {
  return `stream:${streamId}`;
}
