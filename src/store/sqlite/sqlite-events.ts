/**
 * The event log on SQLite (SPEC §7): one table appended to inside the write transaction of
 * each change, read by position with selectors compiled to SQL over the stored JSON item,
 * and purged by age behind a horizon so that a cursor older than retention is detected.
 */
import type Database from 'better-sqlite3';
import { decodeEvent, onItem, type RawEvent } from '../event-log.js';
import type { EventReadPlan, EventReadResult, EventSelector, NewEvent, StoredEvent } from '../store.js';
import { compileCondition, limitLiteral } from './sqlite-compiler.js';

const EVENTS = '"_carte_events"';
const HORIZON = '"_carte_event_horizon"';

/**
 * Internal tables, created when the store attaches (not part of the schema's migration
 * plan: they belong to Carte, and `_carte*` tables are never dropped by a migration).
 */
export const EVENT_TABLES_SQL: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS ${EVENTS} (
  "seq" INTEGER PRIMARY KEY AUTOINCREMENT,
  "type" TEXT NOT NULL,
  "resource" TEXT NOT NULL,
  "resource_id" TEXT NOT NULL,
  "occurred_at" TEXT NOT NULL,
  "item" TEXT NOT NULL,
  "changes" TEXT NOT NULL
) STRICT`,
  `CREATE INDEX IF NOT EXISTS "_carte_events_resource" ON ${EVENTS} ("resource", "seq")`,
  `CREATE INDEX IF NOT EXISTS "_carte_events_occurred" ON ${EVENTS} ("occurred_at")`,
  // One row: every event at or before `purged_through` is gone (SQLite never reuses an
  // AUTOINCREMENT key, so positions stay monotonic across purges and restarts).
  `CREATE TABLE IF NOT EXISTS ${HORIZON} ("id" INTEGER PRIMARY KEY CHECK ("id" = 1), "purged_through" INTEGER NOT NULL) STRICT`,
  `INSERT OR IGNORE INTO ${HORIZON} ("id", "purged_through") VALUES (1, 0)`,
];

type Prepare = (sql: string) => Database.Statement;


export function appendEvent(prepare: Prepare, event: NewEvent): StoredEvent {
  const { seq } = prepare(
    `INSERT INTO ${EVENTS} ("type", "resource", "resource_id", "occurred_at", "item", "changes") VALUES (?, ?, ?, ?, ?, ?) RETURNING "seq"`,
  ).get(event.type, event.resource, event.resourceId, event.occurredAt, JSON.stringify(event.item), JSON.stringify(event.changes)) as { seq: number };
  return { ...event, seq };
}

function selectorSql(selector: EventSelector, params: unknown[]): string {
  const parts = ['"resource" = ?'];
  params.push(selector.resource);
  if (selector.types !== null) {
    if (selector.types.length === 0) return '0';
    parts.push(`"type" IN (${selector.types.map(() => '?').join(', ')})`);
    params.push(...selector.types);
  }
  if (selector.where.kind !== 'true') {
    parts.push(
      compileCondition(onItem(selector.where), params, () => {
        throw new Error('search patterns cannot select events');
      }),
    );
  }
  return parts.length === 1 ? (parts[0] as string) : `(${parts.join(' AND ')})`;
}

/** The selectors as one condition; plain resource lists collapse to `IN`. */
function selectionSql(selectors: readonly EventSelector[], params: unknown[]): string {
  if (selectors.length === 0) return '0';
  if (selectors.every((s) => s.types === null && s.where.kind === 'true')) {
    params.push(...selectors.map((s) => s.resource));
    return selectors.length === 1 ? '"resource" = ?' : `"resource" IN (${selectors.map(() => '?').join(', ')})`;
  }
  const parts = selectors.map((s) => selectorSql(s, params));
  return parts.length === 1 ? (parts[0] as string) : `(${parts.join(' OR ')})`;
}

/** Reads a page of the log; run inside one read transaction so head, page and count agree. */
export function readEvents(prepare: Prepare, plan: EventReadPlan): EventReadResult {
  const bounds = prepare(
    `SELECT (SELECT coalesce(max("seq"), 0) FROM ${EVENTS}) AS head, (SELECT "purged_through" FROM ${HORIZON} WHERE "id" = 1) AS horizon`,
  ).get() as { head: number; horizon: number | null };
  const horizon = bounds.horizon ?? 0;
  const head = Math.max(bounds.head, horizon);
  const params: unknown[] = [plan.after];
  const where = `"seq" > ? AND ${selectionSql(plan.selectors, params)}`;
  if (plan.selectors.length === 0) return { events: [], total: plan.count ? 0 : null, head, horizon };
  const raws = prepare(`SELECT * FROM ${EVENTS} WHERE ${where} ORDER BY "seq" LIMIT ${limitLiteral(plan.limit)} OFFSET ?`).all(...params, plan.offset) as RawEvent[];
  const events = raws.map(decodeEvent);
  let total: number | null = null;
  if (plan.count) {
    // A first page that is not full already tells the total.
    if (plan.offset === 0 && events.length < plan.limit) total = events.length;
    else total = (prepare(`SELECT count(*) AS n FROM ${EVENTS} WHERE ${where}`).get(...params) as { n: number }).n;
  }
  return { events, total, head, horizon };
}

/** Deletes the oldest events that occurred before `before`, at most `batch`, and moves the horizon. */
export function purgeEvents(prepare: Prepare, before: string, batch: number): number {
  const deleted = prepare(
    `DELETE FROM ${EVENTS} WHERE "seq" IN (SELECT "seq" FROM ${EVENTS} WHERE "occurred_at" < ? ORDER BY "seq" LIMIT ?) RETURNING "seq"`,
  ).all(before, batch) as { seq: number }[];
  if (deleted.length === 0) return 0;
  const through = deleted.reduce((m, r) => Math.max(m, r.seq), 0);
  prepare(`UPDATE ${HORIZON} SET "purged_through" = max("purged_through", ?) WHERE "id" = 1`).run(through);
  return deleted.length;
}
