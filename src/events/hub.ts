/**
 * The events room's one object (SPEC §7): it records events through the service's change
 * seam, fans committed ones out through the bus to subscriptions and held long polls,
 * reads the log for polling and resumes, purges it after the retention window, and shuts
 * every held request, stream and socket down gracefully (SPEC §11). Front ends — REST
 * polling and SSE, WebSockets, later GraphQL subscriptions and webhooks — use only this.
 */
import type { EventsConfig } from '../config/config.js';
import { errors } from '../errors.js';
import type { QueryLimits } from '../query/types.js';
import type { ApiModel, ResourceModel } from '../schema/types.js';
import { Presenter } from '../service/present.js';
import type { EventReadResult, Store, StoredEvent } from '../store/store.js';
import { InProcessBus, type EventBus } from './bus.js';
import type { Principal } from '../auth/principal.js';
import type { CarteError } from '../errors.js';
import { credentialEnded, watchCredential, type CredentialCheck } from './credentials.js';
import { decodeEventCursor, encodeEventCursor } from './cursor.js';
import { EventRecorder } from './recorder.js';
import { EventSelection, selectEvents } from './selection.js';
import { Subscription } from './subscription.js';
import type { CarteEvent, EventListener, EventQuery, EventStats, SubscribeOptions, Unsubscribe } from './types.js';
import { Waiters } from './waiters.js';

export interface EventHubOptions {
  readonly api: ApiModel;
  readonly store: Store;
  readonly config: EventsConfig;
  readonly limits: QueryLimits;
  /** Defaults to the in-process bus (one instance). */
  readonly bus?: EventBus;
  /** Where failures of background work go (the server's logger). */
  readonly onError?: (error: unknown, what: string) => void;
  /** Whether a connection's credential still works (revocation); without it, only expiry ends a connection. */
  readonly checkCredential?: CredentialCheck;
}

/** A page of the feed (`GET /v1/events`). */
export interface FeedPage {
  readonly events: CarteEvent[];
  /** Selected events after the cursor; null when not counted. */
  readonly total: number | null;
  /** The position the page was read after (the cursor, resolved). */
  readonly after: number;
  /** The cursor to continue from: the last event's id, or the cursor given when the page is empty. */
  readonly nextCursor: string;
}

export interface FeedRequest {
  /** A cursor, `now` (the newest position), or nothing (the oldest event kept). */
  readonly after?: string;
  readonly offset: number;
  readonly limit: number;
  readonly count: boolean;
}

export type ConnectionKind = 'websocket' | 'sse';

interface Tracked {
  readonly kind: ConnectionKind;
  /** Ends the connection for a shutdown (WebSocket close 1001, end of stream). */
  readonly close: () => Promise<void>;
}

export class EventHub {
  readonly api: ApiModel;
  readonly config: EventsConfig;
  readonly bus: EventBus;
  readonly recorder: EventRecorder;
  readonly waiters = new Waiters();
  private readonly store: Store;
  private readonly limits: QueryLimits;
  private readonly presenter: Presenter;
  private readonly prefix: string;
  private readonly subscriptions = new Set<Subscription>();
  private readonly connections = new Set<Tracked>();
  private readonly heartbeats = new Set<() => void>();
  private readonly purgeListeners = new Set<(deleted: number) => void>();
  private readonly presented = new WeakMap<StoredEvent, Map<string, CarteEvent>>();
  private readonly stopListening: () => void;
  private readonly onError: (error: unknown, what: string) => void;
  private readonly checkCredential: CredentialCheck | null;
  private readonly credentialChecks = new Map<string, { readonly at: number; readonly valid: Promise<boolean> }>();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private purgeTimer: NodeJS.Timeout | null = null;
  private purging: Promise<number> | null = null;
  private closing = false;
  private slowClosed = 0;

  constructor(options: EventHubOptions) {
    this.api = options.api;
    this.store = options.store;
    this.config = options.config;
    this.limits = options.limits;
    this.onError = options.onError ?? (() => undefined);
    this.checkCredential = options.checkCredential ?? null;
    this.prefix = `/v${options.api.version}`;
    this.presenter = new Presenter(options.api, () => ({ kind: 'true' }));
    this.bus = options.bus ?? new InProcessBus((e) => this.onError(e, 'event delivery'));
    this.recorder = new EventRecorder(options.api, (events) => this.bus.publish(events));
    this.stopListening = this.bus.listen((batch) => this.dispatch(batch));
    const bus = this.bus;
    if (bus.expect) this.recorder.addInTransaction(async (_tx, events) => bus.expect?.(events));
  }

  /** Starts the background purge (retention) — once now, then every `purgeInterval`. */
  start(): void {
    if (this.purgeTimer || this.closing) return;
    void this.purge();
    this.purgeTimer = setInterval(() => void this.purge(), this.config.purgeInterval);
    this.purgeTimer.unref();
  }

  private dispatch(batch: readonly StoredEvent[]): void {
    for (const subscription of this.subscriptions) subscription.offer(batch);
    this.waiters.offer(batch);
  }

  // -------------------------------------------------------------------------------------
  // Presentation

  /** The event as a subscriber at `baseUrl` sees it; shared by every subscriber of that base URL. */
  present(event: StoredEvent, baseUrl: string): CarteEvent {
    let byBase = this.presented.get(event);
    if (!byBase) this.presented.set(event, (byBase = new Map()));
    let presented = byBase.get(baseUrl);
    if (!presented) {
      const resource = this.api.resources.get(event.resource) as ResourceModel;
      const item = this.presenter.shape(resource, event.item, null, { baseUrl, prefix: this.prefix });
      presented = {
        id: encodeEventCursor(event.seq),
        type: event.type,
        resource: event.resource,
        resourceId: event.resourceId,
        occurredAt: event.occurredAt,
        data: { ...item, changes: event.changes },
      };
      byBase.set(baseUrl, presented);
    }
    return presented;
  }

  // -------------------------------------------------------------------------------------
  // Selection and the log

  /** Checks what a subscriber asks for against the model and its access rules (400/401/403). */
  select(query: EventQuery): EventSelection {
    return selectEvents(this.api, query, this.limits);
  }

  private read(after: number, selection: EventSelection, offset: number, limit: number, count: boolean): Promise<EventReadResult> {
    return this.store.readEvents({ after, selectors: selection.selectors, offset, limit, count });
  }

  /** 410 when events after the position were purged; 400 when the log never reached it. */
  private checkPosition(seq: number, bounds: { head: number; horizon: number }, name: string): void {
    if (seq < bounds.horizon) throw errors.cursorExpired(describeDuration(this.config.retention));
    if (seq > bounds.head) throw errors.invalidRequest(`The cursor given in ${name} is ahead of the event log: it was not made by this server.`);
  }

  /** Resolves a cursor (or `now`, or nothing: the start) to a checked position of the log. */
  private async position(cursor: string | undefined, name: string): Promise<number> {
    if (cursor === undefined) return 0;
    const seq = cursor === 'now' ? null : decodeEventCursor(cursor, name);
    const bounds = await this.store.readEvents({ after: 0, selectors: [], offset: 0, limit: 0, count: false });
    if (seq === null) return bounds.head;
    this.checkPosition(seq, bounds, name);
    return seq;
  }

  /** A page of the feed (polling): events after the cursor, oldest first. */
  async readFeed(selection: EventSelection, request: FeedRequest, baseUrl: string): Promise<FeedPage> {
    // One read for a cursor: the page comes with the bounds it is checked against.
    const known = request.after === undefined || request.after === 'now' ? null : decodeEventCursor(request.after, 'after');
    const after = known ?? (await this.position(request.after, 'after'));
    const page = await this.read(after, selection, request.offset, request.limit, request.count);
    if (known !== null) this.checkPosition(known, page, 'after');
    const events = page.events.map((e) => this.present(e, baseUrl));
    const last = page.events[page.events.length - 1];
    return { events, total: page.total, after, nextCursor: encodeEventCursor(last ? last.seq : after) };
  }

  /** Presents events caught by a held request as a feed page. */
  caughtPage(events: readonly StoredEvent[], after: number, limit: number, baseUrl: string): FeedPage {
    const fresh = events.filter((e) => e.seq > after).sort((a, b) => a.seq - b.seq);
    const page = fresh.slice(0, limit);
    const last = page[page.length - 1];
    return { events: page.map((e) => this.present(e, baseUrl)), total: fresh.length, after, nextCursor: encodeEventCursor(last ? last.seq : after) };
  }

  // -------------------------------------------------------------------------------------
  // Subscriptions (WebSocket, SSE, GraphQL subscriptions, …)

  /**
   * Subscribes to events: `after` replays the log from that cursor first (no gap within
   * retention; 410 beyond it). Throws the CarteError of a bad query or a refused read
   * rule. Events reach the listener only after the returned promise has settled, in log
   * order; call the returned function to stop.
   */
  async subscribe(options: SubscribeOptions, listener: EventListener): Promise<Unsubscribe> {
    if (this.closing) throw errors.unavailable('The server is shutting down; reconnect in a moment.');
    const selection = this.select(options);
    const subscription = new Subscription(
      {
        readEvents: (after, sel, limit) => this.read(after, sel, 0, limit, false),
        present: (event) => this.present(event, options.baseUrl),
        onError: (e) => this.onError(e, 'subscriber'),
      },
      selection,
      listener,
    );
    // Listening before the cursor is checked: an event committed meanwhile is kept, not lost.
    this.subscriptions.add(subscription);
    let after: number;
    try {
      after = await this.position(options.after, 'after');
    } catch (e) {
      this.subscriptions.delete(subscription);
      throw e;
    }
    subscription.start(after, options.after !== undefined);
    return () => {
      subscription.close();
      this.subscriptions.delete(subscription);
    };
  }

  // -------------------------------------------------------------------------------------
  // Connections, heartbeats, stats

  /** Registers an open stream or socket so shutdown can end it; returns the function that forgets it. */
  track(kind: ConnectionKind, close: () => Promise<void>): () => void {
    const entry: Tracked = { kind, close };
    this.connections.add(entry);
    return () => this.connections.delete(entry);
  }

  /** Calls `fn` every `heartbeat` (one timer for every socket and stream). */
  onHeartbeat(fn: () => void): () => void {
    this.heartbeats.add(fn);
    if (!this.heartbeatTimer) {
      this.heartbeatTimer = setInterval(() => {
        for (const beat of this.heartbeats) {
          try {
            beat();
          } catch (e) {
            this.onError(e, 'heartbeat');
          }
        }
      }, this.config.heartbeat);
      this.heartbeatTimer.unref();
    }
    return () => {
      this.heartbeats.delete(fn);
      if (this.heartbeats.size === 0 && this.heartbeatTimer) {
        clearInterval(this.heartbeatTimer);
        this.heartbeatTimer = null;
      }
    };
  }

  /**
   * SPEC §8 on long-lived connections: `onEnd` hears, once, that the connection's token or
   * key expired (at once, by a timer) or was revoked (seen at the next heartbeat). Returns
   * the function that stops watching.
   */
  watchCredential(principal: Principal, onEnd: (error: CarteError) => void): () => void {
    return watchCredential(principal, this.checkCredential ? (p) => this.checkOncePerBeat(p) : null, (fn) => this.onHeartbeat(fn), onEnd);
  }

  /** One credential read per heartbeat, however many sockets and streams share the credential. */
  private checkOncePerBeat(principal: Principal): Promise<boolean> {
    const key = `${principal.kind}:${principal.credentialId ?? principal.subject ?? ''}`;
    const now = Date.now();
    const known = this.credentialChecks.get(key);
    if (known && now - known.at < this.config.heartbeat / 2) return known.valid;
    if (this.credentialChecks.size >= 10_000) this.credentialChecks.clear();
    const valid = (this.checkCredential as CredentialCheck)(principal);
    this.credentialChecks.set(key, { at: now, valid });
    return valid;
  }

  /** Null while the principal's credential still works; otherwise the error it ended with. */
  async credentialError(principal: Principal): Promise<CarteError | null> {
    if (principal.kind === 'anonymous') return null;
    const now = Date.now();
    const expired = principal.expiresAt !== undefined && principal.expiresAt * 1000 <= now;
    if (!expired && (!this.checkCredential || (await this.checkCredential(principal)))) return null;
    // The check takes time: a credential that expired meanwhile ended by expiring, not by revocation.
    return credentialEnded(principal, Date.now());
  }

  /** A connection was closed for reading too slowly. */
  countSlowConsumer(): void {
    this.slowClosed++;
  }

  get isClosing(): boolean {
    return this.closing;
  }

  stats(): EventStats {
    let sockets = 0;
    let streams = 0;
    for (const c of this.connections) c.kind === 'websocket' ? sockets++ : streams++;
    return { heldLongPolls: this.waiters.held, openWebSockets: sockets, openEventStreams: streams, subscriptions: this.subscriptions.size, slowConsumersClosed: this.slowClosed };
  }

  // -------------------------------------------------------------------------------------
  // Retention

  /** Deletes events older than the retention window; resolves to how many. */
  purge(): Promise<number> {
    if (this.purging) return this.purging;
    const run = async () => {
      const before = new Date(Date.now() - this.config.retention).toISOString();
      let deleted = 0;
      for (;;) {
        if (this.closing) break;
        const n = await this.store.purgeEvents(before, 10_000);
        deleted += n;
        if (n < 10_000) break;
      }
      for (const listener of this.purgeListeners) listener(deleted);
      return deleted;
    };
    this.purging = run()
      .catch((e: unknown) => {
        if (!this.closing) this.onError(e, 'event purge');
        return 0;
      })
      .finally(() => {
        this.purging = null;
      });
    return this.purging;
  }

  /** Hears each background purge (tests, metrics). */
  onPurge(listener: (deleted: number) => void): () => void {
    this.purgeListeners.add(listener);
    return () => this.purgeListeners.delete(listener);
  }

  // -------------------------------------------------------------------------------------
  // Shutdown (SPEC §11)

  /**
   * Answers every held long poll, ends every event stream and closes every WebSocket
   * (1001), waiting for them up to `graceMs`; later requests are answered at once.
   */
  async shutdown(graceMs = 5000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    this.waiters.shutdown();
    const closing = [...this.connections].map((c) => c.close().catch((e: unknown) => this.onError(e, 'shutdown')));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(closing), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    if (timer) clearTimeout(timer);
    for (const subscription of this.subscriptions) subscription.close();
    this.subscriptions.clear();
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    await this.purging;
  }

  /** After shutdown and once the HTTP server is closed: stops hearing the bus. */
  async close(): Promise<void> {
    await this.shutdown();
    this.stopListening();
    await this.bus.close();
  }
}

/** `604800000` → `7 days`. */
export function describeDuration(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1000, 'second'],
  ];
  for (const [size, name] of units) {
    if (ms >= size && ms % size === 0) {
      const n = ms / size;
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return `${ms} ms`;
}
