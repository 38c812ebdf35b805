// The "safe bus" baseline of bench/core.mjs: the least a bus with MessageBus's send-path safety must do, written
// by hand in one class, so the core bench can say how far the real bus is from the cost of its own guarantees.
// Per send: sender and recipient id checks (pattern and membership), the 64 KiB content limit on the JSON text,
// a JSON copy of the content, a deep freeze of the copy and of the stored message, an id, an append to an
// in-memory log, and delivery to live subscribers, behind an async send. Nothing else: no routing policy
// objects, no metrics, no idempotency, no storage interface, no events.

const ID = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_CONTENT_BYTES = 64 * 1024;

/** A hand-written in-memory bus with the bus's send-path checks and nothing more. */
export class SafeBus {
  #members = new Set();
  #subscribers = new Map();
  #log = [];
  #nextId = 1;

  join(agent) {
    if (!ID.test(agent)) throw new TypeError(`bad agent id ${agent}`);
    this.#members.add(agent);
  }

  subscribe(agent, handler) {
    this.#subscribers.set(agent, handler);
  }

  /** Direct when `recipients` is given, else broadcast to everyone but the sender. */
  async send(sender, content, recipients) {
    if (typeof sender !== 'string' || !ID.test(sender) || !this.#members.has(sender)) throw new TypeError('unknown sender');
    if (recipients !== undefined) {
      if (!Array.isArray(recipients) || recipients.length > 1000) throw new TypeError('bad recipients');
      for (const r of recipients) if (typeof r !== 'string' || !ID.test(r) || !this.#members.has(r)) throw new TypeError('bad recipient');
    }
    const json = JSON.stringify(content);
    if (json === undefined) throw new TypeError('content is not JSON');
    if (json.length * 3 > MAX_CONTENT_BYTES && Buffer.byteLength(json) > MAX_CONTENT_BYTES) throw new RangeError('content over 64 KiB');
    const to = recipients === undefined ? [...this.#members].filter((m) => m !== sender) : [...recipients];
    const message = deepFreeze({ id: this.#nextId++, timestamp: Date.now(), sender, recipients: to, content: JSON.parse(json) });
    this.#log.push(message);
    if (this.#log.length > 100_000) this.#log = [];
    for (const r of to) this.#subscribers.get(r)?.(message);
    return message;
  }
}

function deepFreeze(value) {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const key of Object.keys(value)) deepFreeze(value[key]);
    Object.freeze(value);
  }
  return value;
}

/** A room of `agents` (agent-0 …), each with a live no-op subscriber. */
export function safeBusRoom(agents) {
  const bus = new SafeBus();
  for (let i = 0; i < agents; i++) {
    bus.join(`agent-${i}`);
    bus.subscribe(`agent-${i}`, () => {});
  }
  return bus;
}
