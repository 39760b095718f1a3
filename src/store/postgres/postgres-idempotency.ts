/**
 * Idempotency keys on PostgreSQL (SPEC §4.7), like SQLite's: one row per (principal, key).
 * A claim is an `INSERT … ON CONFLICT DO NOTHING`: a concurrent claim of the same key waits
 * on the primary key for the first transaction, then sees its row — one create, one replay.
 */
import type { IdempotencyClaim, IdempotencyRecord } from '../store.js';

type Query = (sql: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

const TABLE = '"_carte_idempotency"';

export const IDEMPOTENCY_TABLES_SQL = `
CREATE TABLE IF NOT EXISTS ${TABLE} (
  "scope" text COLLATE "C" NOT NULL,
  "key" text COLLATE "C" NOT NULL,
  "fingerprint" text NOT NULL,
  "state" text NOT NULL,
  "response" text,
  "expires_at" bigint NOT NULL,
  PRIMARY KEY ("scope", "key")
);
CREATE INDEX IF NOT EXISTS "_carte_idempotency_expiry" ON ${TABLE} ("expires_at");
`;

function decode(raw: Record<string, unknown>): IdempotencyRecord {
  return {
    scope: raw.scope as string,
    key: raw.key as string,
    fingerprint: raw.fingerprint as string,
    state: raw.state as 'pending' | 'done',
    response: raw.response === null ? null : JSON.parse(raw.response as string),
    expiresAt: new Date(Number(raw.expires_at)),
  };
}

export async function idempotencyRecord(query: Query, scope: string, key: string, now: Date): Promise<IdempotencyRecord | undefined> {
  const [raw] = await query(`SELECT * FROM ${TABLE} WHERE "scope" = $1 AND "key" = $2 AND "expires_at" > $3`, [scope, key, now.getTime()]);
  return raw ? decode(raw) : undefined;
}

export async function claimIdempotencyKey(query: Query, claim: IdempotencyClaim): Promise<IdempotencyRecord | null> {
  const { scope, key } = claim;
  await query(`DELETE FROM ${TABLE} WHERE "scope" = $1 AND "key" = $2 AND "expires_at" <= $3`, [scope, key, claim.now.getTime()]);
  const inserted = await query(
    `INSERT INTO ${TABLE} ("scope", "key", "fingerprint", "state", "response", "expires_at") VALUES ($1, $2, $3, 'pending', NULL, $4) ON CONFLICT DO NOTHING RETURNING "key"`,
    [scope, key, claim.fingerprint, claim.expiresAt.getTime()],
  );
  if (inserted.length === 1) return null;
  const [raw] = await query(`SELECT * FROM ${TABLE} WHERE "scope" = $1 AND "key" = $2`, [scope, key]);
  return decode(raw as Record<string, unknown>);
}

export async function completeIdempotencyKey(query: Query, scope: string, key: string, response: unknown, expiresAt: Date): Promise<void> {
  await query(`UPDATE ${TABLE} SET "state" = 'done', "response" = $1, "expires_at" = $2 WHERE "scope" = $3 AND "key" = $4`, [
    JSON.stringify(response ?? null),
    expiresAt.getTime(),
    scope,
    key,
  ]);
}

export async function releaseIdempotencyKey(query: Query, scope: string, key: string): Promise<void> {
  await query(`DELETE FROM ${TABLE} WHERE "scope" = $1 AND "key" = $2 AND "state" = 'pending'`, [scope, key]);
}

export async function purgeIdempotencyKeys(query: Query, now: Date): Promise<number> {
  return (await query(`DELETE FROM ${TABLE} WHERE "expires_at" <= $1 RETURNING 1`, [now.getTime()])).length;
}
