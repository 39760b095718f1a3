/**
 * Every row a service call changes — cascades included — becomes one Change, recorded
 * inside the write transaction (events are written in it: no change without its event, no
 * event without its change) and handed over again once the transaction has committed
 * (fan-out to subscribers). The recorder is the seam the events room plugs into.
 */
import type { Condition, IdempotencyClaim, IdempotencyRecord, Key, MaybePromise, NewEvent, ReadPlan, ReadResult, Row, SearchTarget, StoredEvent, StoreWriter, Suggestion, WordHit } from '../store/store.js';
import type { NewDelivery } from '../store/webhook-store.js';
import type { CallContext } from './types.js';

export interface Change {
  readonly type: 'created' | 'updated' | 'deleted';
  readonly resource: string;
  readonly id: Key;
  /** The stored row before the change (null when created). */
  readonly before: Row | null;
  /** The stored row after the change (null when deleted). */
  readonly after: Row | null;
  /** Fields whose stored value changed (every field on create and delete). */
  readonly fields: readonly string[];
}

export interface ChangeRecorder {
  /** Inside the transaction, once per changed row, in order. Throwing aborts the write. */
  record(tx: StoreWriter, change: Change, ctx: CallContext): Promise<void>;
  /** After the commit, with every change of the transaction, in order. */
  committed(changes: readonly Change[], ctx: CallContext): void;
}

/** A store transaction that remembers what the service changed through it. */
export class WriteTx implements StoreWriter {
  readonly changes: Change[] = [];

  constructor(
    readonly inner: StoreWriter,
    readonly ctx: CallContext,
  ) {}

  get(resource: string, id: Key): MaybePromise<Row | undefined> {
    return this.inner.get(resource, id);
  }
  read(plan: ReadPlan): Promise<ReadResult> {
    return this.inner.read(plan);
  }
  count(resource: string, where: Condition): Promise<number> {
    return this.inner.count(resource, where);
  }
  suggest(resource: string, word: string, limit: number, close: boolean): Promise<Suggestion[]> {
    return this.inner.suggest(resource, word, limit, close);
  }
  searchWords(targets: readonly SearchTarget[], words: readonly string[], offset: number, limit: number): Promise<{ hits: WordHit[]; total: number }> {
    return this.inner.searchWords(targets, words, offset, limit);
  }
  insert(resource: string, values: Row): Promise<Row> {
    return this.inner.insert(resource, values);
  }
  update(resource: string, id: Key, values: Row): Promise<Row | undefined> {
    return this.inner.update(resource, id, values);
  }
  delete(resource: string, id: Key): Promise<boolean> {
    return this.inner.delete(resource, id);
  }
  appendEvent(event: NewEvent): Promise<StoredEvent> {
    return this.inner.appendEvent(event);
  }
  idempotencyRecord(scope: string, key: string, now: Date): Promise<IdempotencyRecord | undefined> {
    return this.inner.idempotencyRecord(scope, key, now);
  }
  claimIdempotencyKey(claim: IdempotencyClaim): Promise<IdempotencyRecord | null> {
    return this.inner.claimIdempotencyKey(claim);
  }
  completeIdempotencyKey(scope: string, key: string, response: unknown, expiresAt: Date): Promise<void> {
    return this.inner.completeIdempotencyKey(scope, key, response, expiresAt);
  }
  releaseIdempotencyKey(scope: string, key: string): Promise<void> {
    return this.inner.releaseIdempotencyKey(scope, key);
  }
  insertWebhookDeliveries(deliveries: readonly NewDelivery[]): Promise<void> {
    return this.inner.insertWebhookDeliveries(deliveries);
  }
}
