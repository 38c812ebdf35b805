import type { Counter, Gauge, Histogram, MetricsRegistry } from './metrics.js';
import type { RoomSnapshot } from './types.js';

/** The metric families a bus reports, labelled by room. Names are prefixed `mmb_`. */
export class BusMetrics {
  readonly registry: MetricsRegistry;
  readonly roomLabels: { room: string };
  readonly sent: Counter;
  readonly duplicates: Counter;
  readonly deliveries: Counter;
  readonly rejections: Counter;
  readonly sendDuration: Histogram;
  readonly fetchDuration: Histogram;
  readonly #members: Gauge;
  readonly #online: Gauge;
  readonly #lag: Gauge;
  readonly #lastId: Gauge;
  readonly #subscriptions: Gauge;
  readonly #removeCollector: () => void;
  /** Pre-bound series of the hot path. */
  readonly sentBound: { inc(by?: number): void };
  readonly deliveriesBound: { inc(by?: number): void };
  readonly sendDurationBound: { observe(seconds: number): void };

  constructor(registry: MetricsRegistry, room: string, policy: string, collect: () => Promise<void>) {
    this.registry = registry;
    this.roomLabels = { room };
    this.sent = registry.counter('mmb_messages_sent_total', 'Messages stored, by room and routing policy.');
    this.duplicates = registry.counter(
      'mmb_messages_deduplicated_total',
      'Sends answered with an earlier message because the idempotency key matched.',
    );
    this.deliveries = registry.counter('mmb_deliveries_total', 'Recipients resolved for stored messages (one per recipient per message).');
    this.rejections = registry.counter('mmb_rejections_total', 'Sends rejected, by error code.');
    this.sendDuration = registry.histogram('mmb_send_duration_seconds', 'Time from sendMessage to the stored message.');
    this.fetchDuration = registry.histogram('mmb_fetch_duration_seconds', 'Time taken by fetchMessages.');
    this.#members = registry.gauge('mmb_agents_members', 'Members of the room.');
    this.#online = registry.gauge('mmb_agents_online', 'Members currently online.');
    this.#lag = registry.gauge('mmb_agent_lag_messages', 'Last id routed to the agent minus its acknowledged cursor.');
    this.#lastId = registry.gauge('mmb_room_last_id', 'Highest message id of the room.');
    this.#subscriptions = registry.gauge('mmb_subscriptions', 'Live subscriptions on this bus.');
    this.#removeCollector = registry.addCollector(collect);
    this.sentBound = this.sent.bind({ room, policy });
    this.deliveriesBound = this.deliveries.bind({ room });
    this.sendDurationBound = this.sendDuration.bind(this.roomLabels);
  }

  rejected(code: string): void {
    this.rejections.inc({ room: this.roomLabels.room, code });
  }

  /** Refreshes the gauges from a room snapshot, dropping agents that left. */
  observeRoom(room: RoomSnapshot, subscriptions: number): void {
    const labels = this.roomLabels;
    this.#members.set(labels, room.members.length);
    this.#online.set(labels, room.members.filter((m) => m.online).length);
    this.#lastId.set(labels, room.lastId);
    this.#subscriptions.set(labels, subscriptions);
    this.#lag.reset(labels);
    for (const member of room.members) {
      this.#lag.set({ room: labels.room, agent: member.id }, Math.max(0, member.lastRoutedId - member.cursor));
    }
  }

  dispose(): void {
    this.#removeCollector();
  }
}
