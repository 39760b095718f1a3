/**
 * The webhooks tables on PostgreSQL (SPEC §7), the same as SQLite's, created when the store
 * opens. Several Carte instances may serve one schema (SPEC §10): a claim locks its
 * candidate rows `FOR UPDATE SKIP LOCKED`, so two instances never lease one delivery, and a
 * lease that runs out (its instance died) makes the delivery claimable by another.
 */
import { ATTEMPTS, claimParts, DELIVERIES, WEBHOOKS, type SqlRun } from '../webhook-store.js';

export const WEBHOOK_TABLES_SQL = `
CREATE TABLE IF NOT EXISTS ${WEBHOOKS} (
  "id" text COLLATE "C" PRIMARY KEY, "owner" text COLLATE "C" NOT NULL, "principal" text NOT NULL, "url" text NOT NULL,
  "events" text NOT NULL, "filter" text, "description" text NOT NULL, "secret" text NOT NULL,
  "previous_secret" text, "previous_until" bigint, "enabled" integer NOT NULL, "disabled_at" bigint,
  "disabled_reason" text, "failing_since" bigint, "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS "_carte_webhooks_owner" ON ${WEBHOOKS} ("owner", "created_at");
CREATE TABLE IF NOT EXISTS ${DELIVERIES} (
  "id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "webhook_id" text COLLATE "C" NOT NULL, "message_id" text NOT NULL,
  "event_type" text NOT NULL, "payload" text NOT NULL, "state" text COLLATE "C" NOT NULL, "attempts" integer NOT NULL,
  "created_at" bigint NOT NULL, "next_attempt_at" bigint NOT NULL, "lease_until" bigint, "lease_token" text,
  "last_attempt_at" bigint, "last_status" integer, "last_error" text, "last_latency_ms" integer, "delivered_at" bigint
);
CREATE INDEX IF NOT EXISTS "_carte_webhook_deliveries_due" ON ${DELIVERIES} ("next_attempt_at", "id") WHERE "state" = 'pending';
CREATE INDEX IF NOT EXISTS "_carte_webhook_deliveries_leased" ON ${DELIVERIES} ("lease_until") WHERE "lease_until" IS NOT NULL;
CREATE INDEX IF NOT EXISTS "_carte_webhook_deliveries_webhook" ON ${DELIVERIES} ("webhook_id", "id");
CREATE TABLE IF NOT EXISTS ${ATTEMPTS} (
  "delivery_id" bigint NOT NULL, "n" integer NOT NULL, "started_at" bigint NOT NULL, "status" integer,
  "latency_ms" integer NOT NULL, "error" text, "response" text, "trigger" text NOT NULL,
  PRIMARY KEY ("delivery_id", "n")
);
`;

const parts = claimParts((n) => `$${n}`);

/** SPEC §10: the candidates are locked, skipping rows another instance is claiming right now. */
export const POSTGRES_CLAIM_SQL = `WITH candidates AS (${parts.candidates} FOR UPDATE SKIP LOCKED)
UPDATE ${DELIVERIES} AS d SET "lease_until" = $5, "lease_token" = $6 FROM (${parts.claimable}) AS pick WHERE d."id" = pick."id" RETURNING d.*`;

type Query = (sql: string, params: unknown[]) => Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;

/** `?` placeholders become `$1…` (statements written with `$n` pass as they are). */
export function postgresRun(query: Query): SqlRun {
  return async (sql, params) => {
    let n = 0;
    const text = sql.includes('?') ? sql.replace(/\?/g, () => `$${++n}`) : sql;
    const result = await query(text, [...params]);
    return { rows: result.rows, changes: result.rowCount ?? 0 };
  };
}
