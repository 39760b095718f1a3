/**
 * The change recorder of the events room: every row a service call changes becomes one
 * event (`orders.updated`), plus `orders.<state>` when the item enters a state, appended to
 * the log INSIDE the write transaction (SPEC §7: no change without its event, no event
 * without its change), and handed to the bus once the transaction has committed.
 */
import type { ApiModel, ResourceModel } from '../schema/types.js';
import type { Change, ChangeRecorder } from '../service/changes.js';
import type { CallContext } from '../service/types.js';
import type { NewEvent, StoredEvent, StoreWriter } from '../store/store.js';

export const CHANGE_KINDS = ['created', 'updated', 'deleted'] as const;

/** Every event type a resource can emit: created, updated, deleted, and one per state. */
export function eventTypesOf(resource: ResourceModel): string[] {
  const states = resource.stateField?.enum?.map(String).filter((s) => !(CHANGE_KINDS as readonly string[]).includes(s)) ?? [];
  return [...CHANGE_KINDS, ...states].map((kind) => `${resource.name}.${kind}`);
}

/**
 * The events of one change. A state event follows the change event when the item enters
 * a state — by a transition, or by being created in it (`orders.placed`) — unless the
 * state is named like a change kind (`created`, `updated`, `deleted`), which would be
 * ambiguous.
 */
export function eventsOf(resource: ResourceModel, change: Change, occurredAt: string): NewEvent[] {
  const item = change.after ?? change.before;
  if (!item) return [];
  // `updatedAt` moves on every update; listing it would tell nothing (SPEC §7 shows ["state"]).
  const managed = resource.timestamps.updatedAt;
  const changes = change.type === 'updated' ? change.fields.filter((f) => f !== managed) : [...change.fields];
  const base = { resource: resource.name, resourceId: String(change.id), occurredAt, item, changes };
  const events: NewEvent[] = [{ ...base, type: `${resource.name}.${change.type}` }];
  const state = resource.stateField;
  if (state && change.after && change.type !== 'deleted' && (change.type === 'created' || change.fields.includes(state.name))) {
    const value = change.after[state.name];
    if (value !== null && value !== undefined && !(CHANGE_KINDS as readonly string[]).includes(String(value))) {
      events.push({ ...base, type: `${resource.name}.${String(value)}` });
    }
  }
  return events;
}

/**
 * Work that must commit or roll back with the events: the webhooks outbox (one pending
 * delivery per matching endpoint, SPEC §7 "durable") plugs in here.
 */
export type InTransaction = (tx: StoreWriter, events: readonly StoredEvent[]) => Promise<void>;

export class EventRecorder implements ChangeRecorder {
  /** The events appended for each change, until the commit hands them to the bus. */
  private readonly appended = new WeakMap<Change, StoredEvent[]>();
  private readonly inTransaction: InTransaction[] = [];

  constructor(
    private readonly api: ApiModel,
    private readonly publish: (events: readonly StoredEvent[]) => void,
  ) {}

  async record(tx: StoreWriter, change: Change, _ctx: CallContext): Promise<void> {
    const resource = this.api.resources.get(change.resource);
    if (!resource) return;
    const stored: StoredEvent[] = [];
    for (const event of eventsOf(resource, change, new Date().toISOString())) stored.push(await tx.appendEvent(event));
    for (const fn of this.inTransaction) await fn(tx, stored);
    this.appended.set(change, stored);
  }

  /** Runs `fn` inside each write transaction with the events just appended (throwing aborts the write). */
  addInTransaction(fn: InTransaction): void {
    this.inTransaction.push(fn);
  }

  committed(changes: readonly Change[], _ctx: CallContext): void {
    const events = changes.flatMap((c) => this.appended.get(c) ?? []);
    if (events.length > 0) this.publish(events);
  }
}
