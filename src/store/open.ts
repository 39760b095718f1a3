/**
 * Opens the store a `--db` URL names: a SQLite file path (default `./carte.db`),
 * `sqlite:path`, `sqlite::memory:`, or `postgres://…`.
 */
import type { Store } from './store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export interface OpenOptions {
  readonly durability?: 'full' | 'normal' | 'off';
  readonly estimateThreshold?: number;
}

export function describeDb(url: string): { kind: 'sqlite' | 'postgres'; location: string } {
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', location: url.replace(/\/\/[^@/]*@/, '//***@') };
  if (url === 'sqlite::memory:' || url === ':memory:') return { kind: 'sqlite', location: ':memory:' };
  return { kind: 'sqlite', location: url.replace(/^sqlite:(\/\/)?/, '').replace(/^file:/, '') };
}

export async function openStore(url: string, options: OpenOptions = {}): Promise<Store> {
  const db = describeDb(url);
  if (db.kind === 'postgres') {
    throw new Error('PostgreSQL is not available in this build yet; use a SQLite file (--db ./carte.db).');
  }
  return new SqliteStore({ file: db.location, ...options });
}
