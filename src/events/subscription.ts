/**
 * One subscriber's stream of events: with a cursor, the log is replayed page by page (at
 * the listener's pace) while live events are kept aside, then the kept events follow and
 * the stream goes live — in log order, with no duplicate and no gap within retention.
 */
import type { EventReadResult, StoredEvent } from '../store/store.js';
import type { EventSelection } from './selection.js';
import type { CarteEvent, EventListener } from './types.js';

/** Live events kept aside during a replay before the replay reads them from the log instead. */
const MAX_PENDING = 10_000;
const REPLAY_PAGE = 100;

export interface SubscriptionDeps {
  readEvents(after: number, selection: EventSelection, limit: number): Promise<EventReadResult>;
  present(event: StoredEvent): CarteEvent;
  onError(error: unknown): void;
}

export class Subscription {
  /** Until live, events from the bus are kept aside. */
  private replaying = true;
  private pending: StoredEvent[] = [];
  private overflowed = false;
  private closed = false;
  /** The last position delivered (first, the cursor to resume after). */
  private lastSeq = 0;

  constructor(
    private readonly deps: SubscriptionDeps,
    readonly selection: EventSelection,
    private readonly listener: EventListener,
  ) {}

  /**
   * Starts delivering on the next turn of the event loop (so the caller can answer
   * "subscribed" first): the log after `after` when `replay`, then live events.
   */
  start(after: number, replay: boolean): void {
    this.lastSeq = after;
    setImmediate(() => void (replay ? this.replay() : this.goLive()));
  }

  /** From the bus. */
  offer(batch: readonly StoredEvent[]): void {
    if (this.closed) return;
    for (const event of batch) {
      if (!this.selection.matches(event)) continue;
      if (!this.replaying) {
        this.deliver(event);
      } else if (this.pending.length >= MAX_PENDING) {
        // Too many to keep: forget them; the replay goes on reading them from the log.
        this.overflowed = true;
        this.pending = [];
      } else {
        this.pending.push(event);
      }
    }
  }

  private deliver(event: StoredEvent): void {
    if (event.seq <= this.lastSeq) return;
    this.lastSeq = event.seq;
    try {
      const result = this.listener(this.deps.present(event));
      if (result && typeof result.catch === 'function') result.catch((e: unknown) => this.deps.onError(e));
    } catch (e) {
      this.deps.onError(e);
    }
  }

  /** Replays the log after the cursor, then switches to live events. */
  private async replay(): Promise<void> {
    try {
      for (;;) {
        if (this.closed) return;
        // Every live event committed after this read starts is kept aside, unless kept events overflow.
        this.overflowed = false;
        const page = await this.deps.readEvents(this.lastSeq, this.selection, REPLAY_PAGE);
        for (const event of page.events) {
          if (this.closed) return;
          if (event.seq <= this.lastSeq) continue;
          this.lastSeq = event.seq;
          try {
            await this.listener(this.deps.present(event));
          } catch (e) {
            this.deps.onError(e); // one listener failure does not stop the stream
          }
        }
        if (page.events.length < REPLAY_PAGE && !this.overflowed) break;
      }
    } catch (e) {
      // The log could not be read (the store is closing): the subscription ends here.
      if (!this.closed) this.deps.onError(e);
      this.close();
      return;
    }
    this.goLive();
  }

  /** Delivers the events kept aside, then each live event as it comes. */
  private goLive(): void {
    const pending = this.pending;
    this.pending = [];
    this.replaying = false;
    for (const event of pending) {
      if (this.closed) return;
      this.deliver(event);
    }
  }

  close(): void {
    this.closed = true;
    this.pending = [];
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
