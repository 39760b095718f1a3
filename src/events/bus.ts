/**
 * The event bus: how committed events reach every subscriber, long poll and socket of
 * every instance (SPEC §10). One instance uses the in-process bus below; several instances
 * on one PostgreSQL will use a bus over LISTEN/NOTIFY (or NATS/Redis) behind the same
 * interface, so nothing above it changes.
 */
import type { StoredEvent } from '../store/store.js';

export type BusListener = (events: readonly StoredEvent[]) => void;

/**
 * A bus delivers each committed batch to every listener of every instance — the
 * publishing one included — once, in log order (ascending `seq`). Implementations:
 * - in-process (below): delivers the batch itself on the next turn of the event loop;
 * - PostgreSQL: `publish` sends `NOTIFY carte_events, '<first seq>:<last seq>'` after the
 *   commit; each instance's LISTEN connection reads that range from the log
 *   (`Store.readEvents`) and hands it to its listeners — the publisher too, through its
 *   own notification, never directly — so every instance sees the same order;
 * - NATS/Redis: the same, carrying the events themselves, reordered by `seq` on receipt.
 * A listener that needs events it may have missed (a reconnect) reads them from the log:
 * the bus is a doorbell and a fast path, the log is the truth.
 */
export interface EventBus {
  /** Hands the events of one committed transaction to the bus. */
  publish(events: readonly StoredEvent[]): void;
  /** Hears every committed batch; returns the function that stops listening. */
  listen(listener: BusListener): () => void;
  close(): Promise<void>;
}

export class InProcessBus implements EventBus {
  private readonly listeners = new Set<BusListener>();
  private queue: (readonly StoredEvent[])[] = [];
  private scheduled = false;
  private closed = false;

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

  async close(): Promise<void> {
    this.closed = true;
    this.queue = [];
    this.listeners.clear();
  }
}
