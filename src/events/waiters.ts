/**
 * Held long polls (SPEC §7, RFC 7240 `Prefer: wait`): each held request is a small Waiter
 * indexed by resource (`orders`) or item (`orders#12`). The bus wakes the waiters an event
 * concerns — nothing here ever polls the database — and shutdown wakes them all, so every
 * held request is answered before the process exits.
 */
import type { StoredEvent } from '../store/store.js';

export type WakeReason = 'event' | 'timeout' | 'shutdown' | 'aborted';

/** The key an item's waiters are indexed under. */
export function itemKey(resource: string, id: string): string {
  return `${resource}#${id}`;
}

export class Waiter {
  private caught: StoredEvent[] = [];
  private wake: ((reason: WakeReason) => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private aborted = false;

  constructor(
    private readonly registry: Waiters,
    readonly keys: readonly string[],
    private readonly accept: (event: StoredEvent) => boolean,
  ) {}

  /** From the bus: keeps the event if it is one this waiter waits for. */
  offer(event: StoredEvent): void {
    if (!this.accept(event)) return;
    this.caught.push(event);
    this.settle('event');
  }

  /**
   * Resolves when an event is caught (at once if one already was), at `deadline`
   * (`Date.now()` milliseconds), on shutdown, or when the client goes away.
   */
  wait(deadline: number): Promise<WakeReason> {
    if (this.caught.length > 0) return Promise.resolve('event');
    if (this.aborted) return Promise.resolve('aborted');
    if (this.registry.closing) return Promise.resolve('shutdown');
    const ms = deadline - Date.now();
    if (ms <= 0) return Promise.resolve('timeout');
    return new Promise<WakeReason>((resolve) => {
      this.wake = resolve;
      this.registry.held++;
      this.timer = setTimeout(() => this.settle('timeout'), ms);
    });
  }

  /** The events caught since the last call. */
  take(): StoredEvent[] {
    const caught = this.caught;
    this.caught = [];
    return caught;
  }

  /** The client went away: stop holding. */
  abort(): void {
    this.aborted = true;
    this.settle('aborted');
  }

  /** Called by the registry on shutdown. */
  settle(reason: WakeReason): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const wake = this.wake;
    if (!wake) return;
    this.wake = null;
    this.registry.held--;
    wake(reason);
  }

  /** Stops catching events; always call it when the request is answered. */
  close(): void {
    this.settle('aborted');
    this.registry.remove(this);
  }
}

export class Waiters {
  private readonly byKey = new Map<string, Set<Waiter>>();
  /** Requests currently held (waiting), for SPEC §11's metrics. */
  held = 0;
  closing = false;

  /** Starts catching events under `keys` before the first read, so nothing falls between. */
  open(keys: readonly string[], accept: (event: StoredEvent) => boolean): Waiter {
    const waiter = new Waiter(this, keys, accept);
    for (const key of keys) {
      let set = this.byKey.get(key);
      if (!set) this.byKey.set(key, (set = new Set()));
      set.add(waiter);
    }
    return waiter;
  }

  remove(waiter: Waiter): void {
    for (const key of waiter.keys) {
      const set = this.byKey.get(key);
      if (!set) continue;
      set.delete(waiter);
      if (set.size === 0) this.byKey.delete(key);
    }
  }

  /** From the bus: wakes the waiters each event concerns (by resource, and by item). */
  offer(batch: readonly StoredEvent[]): void {
    if (this.byKey.size === 0) return;
    for (const event of batch) {
      for (const key of [event.resource, itemKey(event.resource, event.resourceId)]) {
        const set = this.byKey.get(key);
        if (set) for (const waiter of set) waiter.offer(event);
      }
    }
  }

  /** Answers every held request now, and every later one at once. */
  shutdown(): void {
    this.closing = true;
    for (const set of this.byKey.values()) for (const waiter of set) waiter.settle('shutdown');
  }
}
