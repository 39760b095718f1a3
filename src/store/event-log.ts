/**
 * What both adapters' event logs share (SPEC §7): the row shape of `_carte_events` and the
 * rewriting of a resource condition onto the JSON item an event carries.
 */
import type { ColumnRef, Condition, StoredEvent } from './store.js';

/** A `_carte_events` row as the drivers return it (JSON as text on SQLite, parsed on PostgreSQL). */
export interface RawEvent {
  seq: number | string;
  type: string;
  resource: string;
  resource_id: string;
  occurred_at: string;
  item: string | StoredEvent['item'];
  changes: string | string[];
}

export function decodeEvent(raw: RawEvent): StoredEvent {
  return {
    seq: Number(raw.seq),
    type: raw.type,
    resource: raw.resource,
    resourceId: raw.resource_id,
    occurredAt: raw.occurred_at,
    item: (typeof raw.item === 'string' ? JSON.parse(raw.item) : raw.item) as StoredEvent['item'],
    changes: (typeof raw.changes === 'string' ? JSON.parse(raw.changes) : raw.changes) as string[],
  };
}

/** A column of the resource → the same path inside the event's JSON item. */
export function onItem(condition: Condition): Condition {
  const col = (c: ColumnRef): ColumnRef => ({ ...c, field: 'item', path: [c.field, ...c.path] });
  switch (condition.kind) {
    case 'true':
    case 'false':
      return condition;
    case 'and':
    case 'or':
      return { kind: condition.kind, items: condition.items.map(onItem) };
    case 'not':
      return { kind: 'not', item: onItem(condition.item) };
    case 'pattern':
      // Search patterns need the resource's search index; filters never produce them.
      throw new Error('search patterns cannot select events');
    default:
      return { ...condition, column: col(condition.column) };
  }
}
