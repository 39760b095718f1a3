/**
 * The event bus: how committed events reach every subscriber, long poll and socket of
 * every instance (SPEC §10). One instance on SQLite uses the in-process bus below; on
 * PostgreSQL, where several instances may share the database, the log bus
 * (src/events/log-bus.ts, over LISTEN/NOTIFY) takes its place behind the same interface, so
 * nothing above it changes.
 */
import type { StoredEvent } from '../store/store.js';

export type BusListener = (events: readonly StoredEvent[]) => void;

/**
 * A bus delivers each committed batch to every listener of every instance — the
 * publishing one included — once, in log order (ascending `seq`). Implementations:
 * - in-process (below): delivers the batch itself on the next turn of the event loop;
 * - the log bus (PostgreSQL): each event's append runs `pg_notify('carte_events:<schema>',
 *   '<seq>')`, delivered when its transaction commits; each instance's LISTEN connection
 *   then reads the log after the last position it delivered (`Store.readEvents`), so every
 *   instance sees the same order. The publisher hands its own batch over without reading
 *   it back only when it directly follows the last position delivered;
 * - NATS/Redis: the same, carrying the events themselves, reordered by `seq` on receipt.
 * A listener that needs events it may have missed (a reconnect) reads them from the log:
 * the bus is a doorbell and a fast path, the log is the truth.
 */
export interface EventBus {
  /** Hands the events of one committed transaction to the bus. */
  publish(events: readonly StoredEvent[]): void;
  /** Hears every committed batch; returns the function that stops listening. */
  listen(listener: BusListener): () => void;
  /**
   * Events this process appended in a transaction not yet committed (they may still roll
   * back): a bus that hears its own commits from outside may skip reading them back.
   */
  expect?(events: readonly StoredEvent[]): void;
  /** What /metrics shows of the bus (SPEC §11). */
  stats(): BusStats;
  close(): Promise<void>;
}

export interface BusStats {
  /** `in-process` (one instance) or `log` (instances sharing the database's log, src/events/log-bus.ts). */
  readonly kind: 'in-process' | 'log';
  /** The last log position handed to listeners (0 when unknown). */
  readonly position: number;
  /** Whether the connection that hears other instances is up (always true in process). */
  readonly connected: boolean;
  /** Times that connection was made again after a loss. */
  readonly reconnects: number;
  /** Batches of this instance's own commits handed over without reading them back. */
  readonly directBatches: number;
  /** Reads of the log after a signal. */
  readonly reads: number;
}

export class InProcessBus implements EventBus {
  private readonly listeners = new Set<BusListener>();
  private queue: (readonly StoredEvent[])[] = [];
  private scheduled = false;
  private closed = false;
  private batches = 0;
  private position = 0;

  constructor(private readonly onError: (error: unknown) => void = () => undefined) {}

  publish(events: readonly StoredEvent[]): void {
    if (this.closed || events.length === 0) return;
    this.queue.push(events);
    if (this.scheduled) return;
    this.scheduled = true;
    // Fan-out after the writer's response is on its way, not inside its request.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const batches = this.queue;
    this.queue = [];
    for (const batch of batches) {
      this.batches++;
      for (const event of batch) this.position = Math.max(this.position, event.seq);
      for (const listener of this.listeners) {
        try {
          listener(batch);
        } catch (e) {
          this.onError(e);
        }
      }
    }
  }

  listen(listener: BusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats(): BusStats {
    return { kind: 'in-process', position: this.position, connected: true, reconnects: 0, directBatches: this.batches, reads: 0 };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue = [];
    this.listeners.clear();
  }
}
