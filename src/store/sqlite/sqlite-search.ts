/**
 * The search index of a resource's `search: true` fields on SQLite FTS5 (SPEC §4.6):
 * a trigram table answers `*` patterns without scanning rows, a word table (unicode61)
 * ranks global searches with bm25 and feeds suggestions through its vocabulary.
 * Both hold folded text (lower case, no accents) and are written in the same
 * transaction as the row they index.
 */
import type Database from 'better-sqlite3';
import type { ResourceModel } from '../../schema/types.js';
import { foldText } from '../../query/text.js';
import { quote, tableName } from './sqlite-compiler.js';

export interface SearchTables {
  readonly patterns: string;
  readonly words: string;
  readonly vocab: string;
}

export function searchTableNames(resource: ResourceModel): SearchTables {
  const t = tableName(resource.name);
  return { patterns: `${t}__search`, words: `${t}__words`, vocab: `${t}__vocab` };
}

export function searchTableDdl(resource: ResourceModel): string[] {
  if (resource.searchFields.length === 0) return [];
  const names = searchTableNames(resource);
  const cols = resource.searchFields.map((f) => quote(f.name)).join(', ');
  return [
    `CREATE VIRTUAL TABLE ${quote(names.patterns)} USING fts5(${cols}, tokenize='trigram', detail='none')`,
    `CREATE VIRTUAL TABLE ${quote(names.words)} USING fts5(${cols}, tokenize='unicode61 remove_diacritics 2', content='', contentless_delete=1)`,
    `CREATE VIRTUAL TABLE ${quote(names.vocab)} USING fts5vocab(${quote(names.words)}, 'row')`,
  ];
}

/** `*` pattern → GLOB pattern over folded text (`?` and `[` escaped, `*` kept). */
export function globPattern(pattern: string): string {
  return foldText(pattern).replace(/[?[]/g, (c) => `[${c}]`);
}

/** The words of a text, folded, as the unicode61 tokenizer sees them. */
export function wordsOf(text: string): string[] {
  return foldText(text).split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0);
}

export class SqliteSearchIndex {
  private readonly names: SearchTables;
  private readonly fields: readonly string[];

  constructor(
    private readonly resource: ResourceModel,
    private readonly run: (sql: string, params: unknown[]) => void,
  ) {
    this.names = searchTableNames(resource);
    this.fields = resource.searchFields.map((f) => f.name);
  }

  get enabled(): boolean {
    return this.fields.length > 0;
  }

  /** Condition text for a pattern on one field: rows whose folded value matches it whole. */
  patternSql(field: string, pattern: string, params: unknown[]): string {
    params.push(globPattern(pattern));
    return `"rowid" IN (SELECT rowid FROM ${quote(this.names.patterns)} WHERE ${quote(field)} GLOB ?)`;
  }

  insert(rowid: number, row: Record<string, unknown>): void {
    if (!this.enabled) return;
    const values = this.fields.map((f) => (typeof row[f] === 'string' ? foldText(row[f] as string) : null));
    const cols = this.fields.map(quote).join(', ');
    const marks = this.fields.map(() => '?').join(', ');
    this.run(`INSERT INTO ${quote(this.names.patterns)} (rowid, ${cols}) VALUES (?, ${marks})`, [rowid, ...values]);
    this.run(`INSERT INTO ${quote(this.names.words)} (rowid, ${cols}) VALUES (?, ${marks})`, [rowid, ...values]);
  }

  remove(rowid: number): void {
    if (!this.enabled) return;
    this.run(`DELETE FROM ${quote(this.names.patterns)} WHERE rowid = ?`, [rowid]);
    this.run(`DELETE FROM ${quote(this.names.words)} WHERE rowid = ?`, [rowid]);
  }

  touches(changed: Record<string, unknown>): boolean {
    return this.fields.some((f) => f in changed);
  }

  /** Refills both tables from the resource's rows (after the index is created or changed). */
  reindex(db: Database.Database): void {
    if (!this.enabled) return;
    const table = quote(tableName(this.resource.name));
    const cols = this.fields.map(quote).join(', ');
    db.prepare(`DELETE FROM ${quote(this.names.patterns)}`).run();
    db.prepare(`DELETE FROM ${quote(this.names.words)}`).run();
    const marks = this.fields.map(() => '?').join(', ');
    const ins1 = db.prepare(`INSERT INTO ${quote(this.names.patterns)} (rowid, ${cols}) VALUES (?, ${marks})`);
    const ins2 = db.prepare(`INSERT INTO ${quote(this.names.words)} (rowid, ${cols}) VALUES (?, ${marks})`);
    for (const row of db.prepare(`SELECT rowid AS "_rowid", ${cols} FROM ${table}`).iterate() as Iterable<Record<string, unknown>>) {
      const values = this.fields.map((f) => (typeof row[f] === 'string' ? foldText(row[f] as string) : null));
      ins1.run(row._rowid, ...values);
      ins2.run(row._rowid, ...values);
    }
  }

  get tables(): SearchTables {
    return this.names;
  }
}
