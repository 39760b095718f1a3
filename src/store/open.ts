/**
 * Opens the store a `--db` URL names: a SQLite file path (default `./carte.db`),
 * `sqlite:path`, `sqlite::memory:`, or `postgres://…` / `postgresql://…` (with an optional
 * `?schema=NAME` to keep Carte's tables in that schema).
 */
import type { Store } from './store.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export interface OpenOptions {
  readonly durability?: 'full' | 'normal' | 'off';
  readonly estimateThreshold?: number;
  /** PostgreSQL: connections in the pool. */
  readonly poolSize?: number;
  /** SQLite: how long writes must pause before the search indexes' segments are merged (ms, default 1000). */
  readonly searchMergeDelayMs?: number;
}

export function describeDb(url: string): { kind: 'sqlite' | 'postgres'; location: string } {
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', location: url.replace(/\/\/[^@/]*@/, (m) => (m.includes(':') ? `//${m.slice(2).split(':')[0]}:***@` : m)) };
  if (url === 'sqlite::memory:' || url === ':memory:') return { kind: 'sqlite', location: ':memory:' };
  return { kind: 'sqlite', location: url.replace(/^sqlite:(\/\/)?/, '').replace(/^file:/, '') };
}

export async function openStore(url: string, options: OpenOptions = {}): Promise<Store> {
  const db = describeDb(url);
  if (db.kind === 'postgres') {
    return PostgresStore.open({
      url,
      ...(options.durability ? { durability: options.durability } : {}),
      ...(options.estimateThreshold !== undefined ? { estimateThreshold: options.estimateThreshold } : {}),
      ...(options.poolSize !== undefined ? { poolSize: options.poolSize } : {}),
    });
  }
  return new SqliteStore({ file: db.location, ...options });
}
