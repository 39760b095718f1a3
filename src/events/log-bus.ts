/**
 * The bus of several Carte instances on one database (SPEC §10): the store's commit watch
 * (PostgreSQL LISTEN/NOTIFY) is a doorbell that says "the log grew to N"; each instance
 * then reads the log after the last position it delivered and hands the events to its
 * listeners — in log order, each once, with no gap, whoever wrote them.
 *
 * Why reading after a position is enough: positions increase in commit order (the store
 * serializes writers, see StoredEvent), so a read sees a prefix of the log, and every
 * event after the position read up to is committed later. A lost or merged signal costs
 * latency, never an event: the next signal, or the catch-up after a reconnection, reads
 * everything after the last position delivered.
 */
import type { CommitWatch, EventSelector, Store, StoredEvent } from '../store/store.js';
import { TRUE } from '../store/store.js';
import type { ApiModel } from '../schema/types.js';
import type { BusListener, BusStats, EventBus } from './bus.js';

/** Events read from the log at once; a longer backlog is read page after page. */
const PAGE = 500;
/** When the log cannot be read (the database is away), the read is retried after this, doubling up to the max. */
const MIN_RETRY_MS = 250;
const MAX_RETRY_MS = 10_000;
/** How long our own commit's signal waits for the commit to reach `publish` before the log is read instead. */
const OWN_COMMIT_GRACE_MS = 1000;

export interface LogBusOptions {
  readonly store: Store;
  readonly api: ApiModel;
  /** Where failures of background work go (the server's logger). */
  readonly onError: (error: unknown, what: string) => void;
}

export class LogBus implements EventBus {
  private readonly listeners = new Set<BusListener>();
  private readonly selectors: readonly EventSelector[];
  /** Every event up to this position has been handed to the listeners (or came before the bus started). */
  private delivered: number;
  /** Our own committed batches, handed over on the next turn of the event loop. */
  private local: (readonly StoredEvent[])[] = [];
  private scheduled = false;
  private reading: Promise<void> | null = null;
  private again = false;
  private retryDelay = MIN_RETRY_MS;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;
  private watch: CommitWatch | null = null;
  /** Batches taken from our own commits without reading them back, and reads of the log. */
  private directBatches = 0;
  private reads = 0;
  /** Positions this process appended and has not handed over yet: their signals need no read. */
  private readonly own = new Set<number>();
  private fallback: NodeJS.Timeout | null = null;

  private constructor(
    private readonly store: Store,
    api: ApiModel,
    head: number,
    private readonly onError: (error: unknown, what: string) => void,
  ) {
    this.delivered = head;
    // Every event of every resource: subscriptions and waiters select what they want.
    this.selectors = [...api.resources.keys()].map((resource) => ({ resource, types: null, where: TRUE }));
  }

  /**
   * Starts at the head of the log (events before it are history: subscribers replay them
   * from the log) and starts the watch. Null when the store is one process's own.
   */
  static async open(options: LogBusOptions): Promise<LogBus | null> {
    const { store } = options;
    if (!store.watchCommits) return null;
    const bounds = await store.readEvents({ after: 0, selectors: [], offset: 0, limit: 0, count: false });
    const bus = new LogBus(store, options.api, bounds.head, options.onError);
    bus.watch = store.watchCommits({
      committed: (seq) => bus.signalled(seq),
      // Signals sent while the watch was down are lost: read whatever the log holds now.
      connected: () => bus.wake(Number.POSITIVE_INFINITY),
      lost: (e) => bus.onError(e, 'event bus connection (reconnecting)'),
    });
    return bus;
  }

  /**
   * Our own transaction committed these events. Everything before them committed earlier
   * (writers are serialized), so when nothing lies between the last position delivered
   * and the first of them, they are handed over as they are, without reading them back;
   * otherwise (another instance wrote in between, or a rolled-back transaction left a hole
   * in the positions) the log is read.
   */
  publish(events: readonly StoredEvent[]): void {
    if (this.closed || events.length === 0) return;
    this.local.push(events);
    if (this.scheduled) return;
    this.scheduled = true;
    // Fan-out after the writer's response is on its way, not inside its request.
    setImmediate(() => this.flushLocal());
  }

  private flushLocal(): void {
    this.scheduled = false;
    const batches = this.local;
    this.local = [];
    for (const batch of batches) {
      if (this.closed) return;
      const sorted = [...batch].sort((a, b) => a.seq - b.seq);
      const first = sorted[0] as StoredEvent;
      const last = sorted[sorted.length - 1] as StoredEvent;
      if (first.seq === this.delivered + 1 && last.seq - first.seq === sorted.length - 1) {
        this.directBatches++;
        this.deliver(sorted);
      } else {
        this.wake(last.seq);
      }
    }
  }

  expect(events: readonly StoredEvent[]): void {
    for (const event of events) this.own.add(event.seq);
  }

  /**
   * A commit signal. Our own commit's signal often arrives before the commit is handed to
   * `publish`: reading then would find what `publish` brings anyway. Events of other
   * instances before ours have their own, earlier signals. Should `publish` never come (a
   * failure after the commit), a late read makes sure the event is delivered.
   */
  private signalled(seq: number): void {
    if (!this.own.has(seq)) return this.wake(seq);
    if (this.fallback || this.closed) return;
    this.fallback = setTimeout(() => {
      this.fallback = null;
      const missing = [...this.own].filter((s) => s > this.delivered);
      if (missing.length > 0) this.wake(Math.max(...missing));
    }, OWN_COMMIT_GRACE_MS);
    this.fallback.unref();
  }

  /** The log holds events up to `seq`: read what has not been delivered. */
  private wake(seq: number): void {
    if (this.closed || seq <= this.delivered) return;
    if (this.reading) {
      // The read in flight may have started before this commit: read once more after it.
      this.again = true;
      return;
    }
    this.reading = this.readLog().finally(() => {
      this.reading = null;
    });
  }

  private async readLog(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      this.again = false;
      let events: StoredEvent[];
      try {
        this.reads++;
        events = (await this.store.readEvents({ after: this.delivered, selectors: this.selectors, offset: 0, limit: PAGE, count: false })).events;
      } catch (e) {
        if (this.closed) return;
        this.onError(e, 'event bus read');
        this.scheduleRetry();
        return;
      }
      this.retryDelay = MIN_RETRY_MS;
      // Our own batches may have been delivered while the read was in flight.
      const fresh = events.filter((e) => e.seq > this.delivered);
      if (fresh.length > 0) this.deliver(fresh);
      if (events.length < PAGE && !this.again) return;
    }
  }

  private scheduleRetry(): void {
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.wake(Number.POSITIVE_INFINITY);
    }, this.retryDelay);
    this.retry.unref();
    this.retryDelay = Math.min(this.retryDelay * 2, MAX_RETRY_MS);
  }

  private deliver(batch: readonly StoredEvent[]): void {
    this.delivered = (batch[batch.length - 1] as StoredEvent).seq;
    // Delivered, or rolled back (a position below one delivered never commits later).
    for (const seq of this.own) if (seq <= this.delivered) this.own.delete(seq);
    for (const listener of this.listeners) {
      try {
        listener(batch);
      } catch (e) {
        this.onError(e, 'event delivery');
      }
    }
  }

  listen(listener: BusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats(): BusStats {
    return {
      kind: 'log',
      position: this.delivered,
      connected: this.watch?.isConnected ?? false,
      reconnects: this.watch?.reconnects ?? 0,
      directBatches: this.directBatches,
      reads: this.reads,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.local = [];
    if (this.retry) clearTimeout(this.retry);
    if (this.fallback) clearTimeout(this.fallback);
    this.own.clear();
    await this.watch?.close();
    await this.reading;
    this.listeners.clear();
  }
}
