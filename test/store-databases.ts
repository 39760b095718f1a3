/**
 * Throw-away databases for tests: a SQLite file in a temporary directory, or — when
 * `CARTE_TEST_PG_URL` is set — a fresh PostgreSQL schema (`carte_t_<random>`) of that
 * database, created by the store on open and dropped afterwards, so parallel test
 * processes never share tables.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface TestDatabase {
  /** The `--db` URL of the database. */
  readonly url: string;
  /** Removes it (the stores on it must be closed first). */
  drop(): Promise<void>;
}

/** The PostgreSQL URL tests run against, or null when PostgreSQL tests are not asked for. */
export function testPgUrl(): string | null {
  return process.env.CARTE_TEST_PG_URL || null;
}

/** Which store `startServer` uses: `CARTE_TEST_STORE=postgres` (needs CARTE_TEST_PG_URL) or SQLite. */
export function testStoreKind(): 'sqlite' | 'postgres' {
  const kind = process.env.CARTE_TEST_STORE ?? 'sqlite';
  if (kind !== 'sqlite' && kind !== 'postgres') throw new Error(`CARTE_TEST_STORE must be sqlite or postgres, not '${kind}'`);
  if (kind === 'postgres' && !testPgUrl()) throw new Error('CARTE_TEST_STORE=postgres needs CARTE_TEST_PG_URL (postgres://postgres@127.0.0.1:5432/test)');
  return kind;
}

/** `url` with `?schema=name` set. */
export function withSchema(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('schema', schema);
  return u.toString();
}

export function newPgDatabase(base = testPgUrl()): TestDatabase {
  if (!base) throw new Error('CARTE_TEST_PG_URL is not set');
  const schema = `carte_t_${randomBytes(6).toString('hex')}`;
  return {
    url: withSchema(base, schema),
    async drop() {
      const client = new pg.Client({ connectionString: base });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

export function newSqliteDatabase(): TestDatabase {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'carte-test-db-'));
  return {
    url: path.join(dir, 'carte.db'),
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A database of the kind `CARTE_TEST_STORE` names. */
export function newTestDatabase(): TestDatabase {
  return testStoreKind() === 'postgres' ? newPgDatabase() : newSqliteDatabase();
}

/** Runs SQL on a PostgreSQL database URL (honouring its `?schema=`), for tests that look underneath the store. */
export async function pgQuery<T extends Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const u = new URL(url);
  const schema = u.searchParams.get('schema');
  u.searchParams.delete('schema');
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  try {
    if (schema) await client.query(`SET search_path TO "${schema}"`);
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}
