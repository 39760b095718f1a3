/**
 * The event log on PostgreSQL (SPEC §7), like SQLite's: one table appended to inside the
 * write transaction of each change, read by position with selectors compiled over the JSON
 * item, purged by age behind a horizon. Positions increase in commit order because writers
 * on one schema are serialized (the store's advisory write lock), so an identity key
 * allocated inside the transaction never lets a reader see N+1 before N: PostgreSQL makes a
 * committed transaction visible before it releases its transaction-level locks, so the
 * next writer (which waited on the lock) commits, and becomes visible, strictly after.
 */
import { decodeEvent, onItem, type RawEvent } from '../event-log.js';
import type { EventReadPlan, EventReadResult, EventSelector, NewEvent, StoredEvent } from '../store.js';
import { bind, compileCondition } from './postgres-compiler.js';

const EVENTS = '"_carte_events"';
const HORIZON = '"_carte_event_horizon"';

type Query = (sql: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

/** Internal tables, created when the store opens (migrations never drop `_carte*` tables). */
export const EVENT_TABLES_SQL = `
CREATE TABLE IF NOT EXISTS ${EVENTS} (
  "seq" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "type" text COLLATE "C" NOT NULL,
  "resource" text COLLATE "C" NOT NULL,
  "resource_id" text COLLATE "C" NOT NULL,
  "occurred_at" text COLLATE "C" NOT NULL,
  "item" json NOT NULL,
  "changes" json NOT NULL
);
CREATE INDEX IF NOT EXISTS "_carte_events_resource" ON ${EVENTS} ("resource", "seq");
CREATE INDEX IF NOT EXISTS "_carte_events_occurred" ON ${EVENTS} ("occurred_at");
CREATE TABLE IF NOT EXISTS ${HORIZON} ("id" integer PRIMARY KEY CHECK ("id" = 1), "purged_through" bigint NOT NULL);
INSERT INTO ${HORIZON} ("id", "purged_through") VALUES (1, 0) ON CONFLICT DO NOTHING;
`;

/**
 * Appends one event and, in the same statement, signals `channel` with its position
 * (SPEC §10): PostgreSQL delivers the notification only when the transaction commits, so
 * the other Carte processes on the schema hear of the event exactly when they can read it.
 */
export async function appendEvent(query: Query, event: NewEvent, channel: string): Promise<StoredEvent> {
  const [row] = await query(
    `WITH "appended" AS (INSERT INTO ${EVENTS} ("type", "resource", "resource_id", "occurred_at", "item", "changes") VALUES ($1, $2, $3, $4, $5, $6) RETURNING "seq") ` +
      `SELECT "seq", pg_notify($7, "seq"::text) FROM "appended"`,
    [event.type, event.resource, event.resourceId, event.occurredAt, JSON.stringify(event.item), JSON.stringify(event.changes), channel],
  );
  return { ...event, seq: Number(row?.seq) };
}

const noPatterns = (): string => {
  throw new Error('search patterns cannot select events');
};

function selectorSql(selector: EventSelector, params: unknown[]): string {
  const parts = [`"resource" = ${bind(params, selector.resource)}`];
  if (selector.types !== null) {
    if (selector.types.length === 0) return 'FALSE';
    parts.push(`"type" = ANY(${bind(params, selector.types, 'text[]')})`);
  }
  if (selector.where.kind !== 'true') parts.push(compileCondition(onItem(selector.where), params, noPatterns));
  return parts.length === 1 ? (parts[0] as string) : `(${parts.join(' AND ')})`;
}

function selectionSql(selectors: readonly EventSelector[], params: unknown[]): string {
  if (selectors.every((s) => s.types === null && s.where.kind === 'true')) {
    return `"resource" = ANY(${bind(params, selectors.map((s) => s.resource), 'text[]')})`;
  }
  const parts = selectors.map((s) => selectorSql(s, params));
  return parts.length === 1 ? (parts[0] as string) : `(${parts.join(' OR ')})`;
}

/** Reads a page of the log; the caller runs it in one REPEATABLE READ snapshot so head, page and count agree. */
export async function readEvents(query: Query, plan: EventReadPlan): Promise<EventReadResult> {
  const [bounds] = await query(
    `SELECT (SELECT coalesce(max("seq"), 0) FROM ${EVENTS}) AS head, (SELECT "purged_through" FROM ${HORIZON} WHERE "id" = 1) AS horizon`,
    [],
  );
  const horizon = Number(bounds?.horizon ?? 0);
  const head = Math.max(Number(bounds?.head ?? 0), horizon);
  if (plan.selectors.length === 0) return { events: [], total: plan.count ? 0 : null, head, horizon };
  const params: unknown[] = [];
  const where = `"seq" > ${bind(params, plan.after)} AND ${selectionSql(plan.selectors, params)}`;
  const pageParams = [...params];
  const raws = await query(
    `SELECT * FROM ${EVENTS} WHERE ${where} ORDER BY "seq" LIMIT ${bind(pageParams, plan.limit)} OFFSET ${bind(pageParams, plan.offset)}`,
    pageParams,
  );
  const events = (raws as unknown as RawEvent[]).map(decodeEvent);
  let total: number | null = null;
  if (plan.count) {
    if (plan.offset === 0 && events.length < plan.limit) total = events.length;
    else total = Number((await query(`SELECT count(*) AS n FROM ${EVENTS} WHERE ${where}`, params))[0]?.n ?? 0);
  }
  return { events, total, head, horizon };
}

/** Deletes the oldest events that occurred before `before`, at most `batch`, and moves the horizon. */
export async function purgeEvents(query: Query, before: string, batch: number): Promise<number> {
  const deleted = await query(
    `DELETE FROM ${EVENTS} WHERE "seq" IN (SELECT "seq" FROM ${EVENTS} WHERE "occurred_at" < $1 ORDER BY "seq" LIMIT $2) RETURNING "seq"`,
    [before, batch],
  );
  if (deleted.length === 0) return 0;
  const through = deleted.reduce((m, r) => Math.max(m, Number(r.seq)), 0);
  await query(`UPDATE ${HORIZON} SET "purged_through" = greatest("purged_through", $1) WHERE "id" = 1`, [through]);
  return deleted.length;
}
