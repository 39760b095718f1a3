/**
 * The Store interface every database adapter implements (SQLite first, PostgreSQL next).
 * Plans come in as plain data; rows go out decoded to their JSON values. Nothing above
 * this interface knows SQL or which database it talks to.
 */
import type { CountMode, LeafType, Scalar } from '../query/types.js';
import type { ApiModel } from '../schema/types.js';
import type { AuthStore } from './auth-store.js';
import type { NewDelivery, WebhookStore } from './webhook-store.js';

/** A stored item, decoded: field name → JSON value, with its key under `id`. */
export type Row = Record<string, unknown>;
export type Key = number | string;

/** A column or a path inside a JSON column. */
export interface ColumnRef {
  readonly field: string;
  readonly path: readonly string[];
  readonly leafType: LeafType;
  /** The column holds an array of scalars. */
  readonly array: boolean;
}

export type CompareOp = '=' | '<>' | '>' | '>=' | '<' | '<=';

/** A boolean condition tree over one resource's rows. */
export type Condition =
  | { readonly kind: 'true' }
  | { readonly kind: 'false' }
  | { readonly kind: 'and' | 'or'; readonly items: readonly Condition[] }
  | { readonly kind: 'not'; readonly item: Condition }
  | { readonly kind: 'compare'; readonly column: ColumnRef; readonly op: CompareOp; readonly value: Scalar }
  | { readonly kind: 'in'; readonly column: ColumnRef; readonly values: readonly Scalar[] }
  /** Array column holding at least one of the values. */
  | { readonly kind: 'contains'; readonly column: ColumnRef; readonly values: readonly Scalar[] }
  | { readonly kind: 'isNull'; readonly column: ColumnRef }
  /** `*` wildcard pattern, whole value, case-insensitive. */
  | { readonly kind: 'like'; readonly column: ColumnRef; readonly pattern: string }
  /** `*` pattern against the search index of a `search: true` field (accent-insensitive too). */
  | { readonly kind: 'pattern'; readonly field: string; readonly pattern: string };

export const TRUE: Condition = { kind: 'true' };

export interface OrderKey {
  readonly column: ColumnRef;
  readonly descending: boolean;
}

export interface ReadPlan {
  readonly resource: string;
  readonly where: Condition;
  /** Ends with the key, so the order is total. */
  readonly order: readonly OrderKey[];
  readonly offset: number;
  readonly limit: number;
  /** Keyset position: the order values of the last row already seen. */
  readonly after: readonly (Scalar | null)[] | null;
  readonly count: CountMode;
  /**
   * Rows `offset`..`offset+limit-1` of each value of this field, in `order` (batched to-many
   * embedding); with `count` other than `none` the result also counts each value's rows.
   */
  readonly partitionBy?: string;
}

export interface ReadResult {
  readonly rows: Row[];
  /** null when counting was not asked for (`count=none`). */
  readonly total: number | null;
  /** The total is an estimate (`count=estimated` on a large result). */
  readonly estimated: boolean;
  /** Partitioned reads that count: matching rows per value of `partitionBy` (absent values: 0). */
  readonly partitionTotals?: ReadonlyMap<unknown, number>;
}

export interface Suggestion {
  readonly word: string;
  /** How many items hold the word. */
  readonly count: number;
}

/** A resource to search, with the condition its rows must also meet (access rules). */
export interface SearchTarget {
  readonly resource: string;
  readonly where: Condition;
}

export interface WordHit {
  readonly resource: string;
  readonly id: Key;
  readonly score: number;
}

/**
 * A remembered `Idempotency-Key` (SPEC §4.7), scoped to a principal. The service decides
 * what `response` holds; the store keeps it as JSON until `expiresAt`.
 */
export interface IdempotencyRecord {
  /** The principal's key (`principalKey`): keys never collide across callers. */
  readonly scope: string;
  readonly key: string;
  /** Digest of the request the key was first used with; another request with the key is refused. */
  readonly fingerprint: string;
  /** `pending` while the first request runs outside a transaction (operations); `done` once it answered. */
  readonly state: 'pending' | 'done';
  /** What replays the first response (null while pending). */
  readonly response: unknown;
  readonly expiresAt: Date;
}

export interface IdempotencyClaim {
  readonly scope: string;
  readonly key: string;
  readonly fingerprint: string;
  readonly now: Date;
  /** When an unfinished claim may be taken over (a crashed request must not block its key forever). */
  readonly expiresAt: Date;
}

/** A value, or a promise of it: what a store that may answer at once (SQLite) returns on the hot path. */
export type MaybePromise<T> = T | Promise<T>;

export interface StoreReader {
  /** The row, at once where the store can (SQLite), else a promise (PostgreSQL). */
  get(resource: string, id: Key): MaybePromise<Row | undefined>;
  /** The live (unexpired) record of an idempotency key, if any. */
  idempotencyRecord(scope: string, key: string, now: Date): Promise<IdempotencyRecord | undefined>;
  read(plan: ReadPlan): Promise<ReadResult>;
  count(resource: string, where: Condition): Promise<number>;
  /**
   * Indexed words of a resource's search fields for a word (SPEC §4.6 suggestions): words
   * completing it, then containing it, then — with `close` — within edit distance 2.
   */
  suggest(resource: string, word: string, limit: number, close: boolean): Promise<Suggestion[]>;
  /** Full-text search over words across resources, ranked; `words` must all match. */
  searchWords(targets: readonly SearchTarget[], words: readonly string[], offset: number, limit: number): Promise<{ hits: WordHit[]; total: number }>;
}

export interface StoreWriter extends StoreReader {
  /** Inserts; assigns the key unless `values.id` is set. Returns the stored row. */
  insert(resource: string, values: Row): Promise<Row>;
  /** Writes the given fields; returns the stored row, or undefined if there is none. */
  update(resource: string, id: Key, values: Row): Promise<Row | undefined>;
  delete(resource: string, id: Key): Promise<boolean>;
  /**
   * Appends one change event to the event log, in this transaction (SPEC §7: no change
   * without its event, no event without its change). Returns it with its position.
   */
  appendEvent(event: NewEvent): Promise<StoredEvent>;
  /**
   * Claims an idempotency key in this transaction: records it `pending` and returns null
   * when no live record exists (an expired one is replaced), or returns the live record.
   * Concurrent claims of one key must serialize: SQLite has one writer; PostgreSQL's
   * primary key makes the second `INSERT … ON CONFLICT DO NOTHING` wait for the first commit.
   */
  claimIdempotencyKey(claim: IdempotencyClaim): Promise<IdempotencyRecord | null>;
  /** Stores the response of a claimed key (`done`) and keeps it until `expiresAt`. */
  completeIdempotencyKey(scope: string, key: string, response: unknown, expiresAt: Date): Promise<void>;
  /** Forgets a claim whose request failed, so that it may be retried. */
  releaseIdempotencyKey(scope: string, key: string): Promise<void>;
  /** Adds webhook deliveries to the outbox in this transaction (SPEC §7: durable, with the event). */
  insertWebhookDeliveries(deliveries: readonly NewDelivery[]): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// The event log (SPEC §7)

/**
 * One change event as the log keeps it. `seq` is its position: positions increase in
 * COMMIT order and are never reused, so a reader that has seen position N never later
 * finds a new event before N. SQLite has one writer, so its AUTOINCREMENT key does; an
 * adapter with concurrent writers (PostgreSQL) must serialize the append (e.g. a
 * transaction-level advisory lock taken before inserting events) to keep that promise.
 */
export interface StoredEvent {
  readonly seq: number;
  /** `orders.updated`, `orders.ready`, … */
  readonly type: string;
  readonly resource: string;
  readonly resourceId: string;
  /** ISO 8601 time of the write. */
  readonly occurredAt: string;
  /** The stored row after the change (before it, for a deletion). */
  readonly item: Row;
  /** Fields the change touched. */
  readonly changes: readonly string[];
}

export type NewEvent = Omit<StoredEvent, 'seq'>;

/** Which events of one resource a reader wants. */
export interface EventSelector {
  readonly resource: string;
  /** Event types to keep (`orders.ready`); null keeps every type. */
  readonly types: readonly string[] | null;
  /** A condition on the event's item, over the resource's fields (filters, owner rules). */
  readonly where: Condition;
}

export interface EventReadPlan {
  /** Events after this position (0: from the oldest kept). */
  readonly after: number;
  /** Any of these; an empty list selects nothing. */
  readonly selectors: readonly EventSelector[];
  readonly offset: number;
  readonly limit: number;
  /** Count every selected event after `after` (unless the page already tells). */
  readonly count: boolean;
}

export interface EventReadResult {
  readonly events: StoredEvent[];
  readonly total: number | null;
  /** The newest position of the log (0 when nothing was ever written). */
  readonly head: number;
  /** Every event at or before this position was purged (retention): a cursor before it has a gap. */
  readonly horizon: number;
}

export interface MigrationStep {
  readonly kind: 'createTable' | 'addColumn' | 'createIndex' | 'dropIndex' | 'dropColumn' | 'dropTable' | 'changeColumn' | 'createSearch';
  readonly target: string;
  readonly description: string;
  readonly destructive: boolean;
  readonly sql: readonly string[];
}

export interface MigrationPlan {
  readonly steps: readonly MigrationStep[];
}

export interface StoreCapabilities {
  /** Counts can be estimated cheaply from statistics. */
  readonly estimatedCount: boolean;
}

export interface StoreStats {
  /** SQL statements executed since the store opened (tests assert batching with it). */
  statements: number;
}

export interface Store extends StoreReader {
  readonly dialect: string;
  readonly capabilities: StoreCapabilities;
  readonly stats: StoreStats;
  /** Compares the database's shape with the model's. */
  planMigration(model: ApiModel): Promise<MigrationPlan>;
  /** Applies a plan; destructive steps only with `allowDestructive`. */
  applyMigration(plan: MigrationPlan, options?: { allowDestructive?: boolean }): Promise<void>;
  /** Binds the store to the model (after migrating); reads and writes use it. */
  attach(model: ApiModel): void;
  /** Clients, API keys, tokens and signing keys (SPEC §8); kept apart from the resources. */
  readonly auth: AuthStore;
  /** Webhook endpoints, the delivery outbox and its attempts (SPEC §7, §10); kept apart from the resources. */
  readonly webhooks: WebhookStore;
  /**
   * Runs `fn` in one transaction: all of it commits, durably, or none of it does. Write
   * transactions run one at a time (per database, across processes on PostgreSQL). A write
   * that throws (StoreConflictError…) may leave the transaction unusable (PostgreSQL aborts
   * it): let the error end the transaction.
   */
  transaction<T>(fn: (tx: StoreWriter) => Promise<T>): Promise<T>;
  /** Reads the event log: selected events after a position, in log order. */
  readEvents(plan: EventReadPlan): Promise<EventReadResult>;
  /**
   * Deletes up to `batch` events that occurred before `before` (ISO 8601), oldest first,
   * and moves the horizon past them. Returns how many were deleted.
   */
  purgeEvents(before: string, batch: number): Promise<number>;
  /** Deletes idempotency records expired at `now`; returns how many. */
  purgeIdempotencyKeys(now: Date): Promise<number>;
  /** The database answers (for /ready). */
  ping(): Promise<void>;
  /**
   * Stores several processes share (PostgreSQL) tell each process when any of them has
   * committed events (SPEC §10); a store one process owns (SQLite) has no such method and
   * the in-process bus suffices.
   */
  watchCommits?(handlers: CommitHandlers): CommitWatch;
  close(): Promise<void>;
}

/** What a commit watch reports (SPEC §10). Signals carry positions only: the log is the truth. */
export interface CommitHandlers {
  /** Events up to position `seq` have committed, in this process or another. Signals may merge, repeat or arrive late. */
  committed(seq: number): void;
  /** The watch is connected (first, or again after a loss): signals may have been missed meanwhile, so catch up from the log. */
  connected(): void;
  /** The watch lost its connection; it reconnects by itself. */
  lost(error: unknown): void;
}

export interface CommitWatch {
  /** Whether the watch's connection is up (for /metrics). */
  readonly isConnected: boolean;
  /** Connections made after the first (for /metrics). */
  readonly reconnects: number;
  close(): Promise<void>;
}

/** A unique index or foreign key refused a write. */
export class StoreConflictError extends Error {
  constructor(
    message: string,
    readonly fields: readonly string[],
  ) {
    super(message);
    this.name = 'StoreConflictError';
  }
}

/**
 * The database cannot hold a value it was given (PostgreSQL: a NUL character in text, an
 * integer beyond 64 bits). The service answers 400 naming the field.
 */
export class StoreValueError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'StoreValueError';
  }
}

/** Destructive changes are needed and were not allowed. */
export class DestructiveMigrationError extends Error {
  constructor(readonly steps: readonly MigrationStep[]) {
    super(
      `The database needs destructive changes to match the schema:\n${steps.map((s) => `  - ${s.description}`).join('\n')}\n` +
        'Review them with `carte migrate SCHEMA --db URL` and apply with `--apply --allow-destructive`.',
    );
    this.name = 'DestructiveMigrationError';
  }
}
