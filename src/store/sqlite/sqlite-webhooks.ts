/**
 * The webhooks tables on SQLite (SPEC §7): endpoints, the delivery outbox and attempts,
 * created with the other internal tables. SQLite has one writer, so a claim is a plain
 * `UPDATE … RETURNING` inside a write transaction: no other writer can take the same rows.
 */
import type Database from 'better-sqlite3';
import { ATTEMPTS, claimParts, DELIVERIES, WEBHOOKS, type SqlRun } from '../webhook-store.js';

export const WEBHOOK_TABLES_SQL = `
CREATE TABLE IF NOT EXISTS ${WEBHOOKS} (
  "id" TEXT PRIMARY KEY NOT NULL, "owner" TEXT NOT NULL, "principal" TEXT NOT NULL, "url" TEXT NOT NULL,
  "events" TEXT NOT NULL, "filter" TEXT, "description" TEXT NOT NULL, "secret" TEXT NOT NULL,
  "previous_secret" TEXT, "previous_until" INTEGER, "enabled" INTEGER NOT NULL, "disabled_at" INTEGER,
  "disabled_reason" TEXT, "failing_since" INTEGER, "created_at" INTEGER NOT NULL, "updated_at" INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "_carte_webhooks_owner" ON ${WEBHOOKS} ("owner", "created_at");
CREATE TABLE IF NOT EXISTS ${DELIVERIES} (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT, "webhook_id" TEXT NOT NULL, "message_id" TEXT NOT NULL,
  "event_type" TEXT NOT NULL, "payload" TEXT NOT NULL, "state" TEXT NOT NULL, "attempts" INTEGER NOT NULL,
  "created_at" INTEGER NOT NULL, "next_attempt_at" INTEGER NOT NULL, "lease_until" INTEGER, "lease_token" TEXT,
  "last_attempt_at" INTEGER, "last_status" INTEGER, "last_error" TEXT, "last_latency_ms" INTEGER, "delivered_at" INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS "_carte_webhook_deliveries_due" ON ${DELIVERIES} ("next_attempt_at", "id") WHERE "state" = 'pending';
CREATE INDEX IF NOT EXISTS "_carte_webhook_deliveries_leased" ON ${DELIVERIES} ("lease_until") WHERE "lease_until" IS NOT NULL;
CREATE INDEX IF NOT EXISTS "_carte_webhook_deliveries_webhook" ON ${DELIVERIES} ("webhook_id", "id");
CREATE TABLE IF NOT EXISTS ${ATTEMPTS} (
  "delivery_id" INTEGER NOT NULL, "n" INTEGER NOT NULL, "started_at" INTEGER NOT NULL, "status" INTEGER,
  "latency_ms" INTEGER NOT NULL, "error" TEXT, "response" TEXT, "trigger" TEXT NOT NULL,
  PRIMARY KEY ("delivery_id", "n")
) STRICT;
`;

// Without the hint, SQLite groups leases by walking the webhook index over every row (0.3 s at 100,000 rows).
const parts = claimParts((n) => `@p${n}`, ' INDEXED BY "_carte_webhook_deliveries_leased"');

export const SQLITE_CLAIM_SQL = `WITH candidates AS (${parts.candidates})
UPDATE ${DELIVERIES} SET "lease_until" = @p5, "lease_token" = @p6 WHERE "id" IN (${parts.claimable}) RETURNING *`;

/** Runs a statement on a connection: `@pN` parameters by position, the others anonymous. */
export function sqliteRun(prepare: (sql: string) => Database.Statement): SqlRun {
  return async (sql, params) => {
    const stmt = prepare(sql);
    const args: unknown[] = sql.includes('@p1') ? [Object.fromEntries(params.map((v, i) => [`p${i + 1}`, v]))] : [...params];
    if (stmt.reader) return { rows: stmt.all(...args) as Record<string, unknown>[], changes: 0 };
    const info = stmt.run(...args);
    return { rows: [], changes: info.changes };
  };
}
