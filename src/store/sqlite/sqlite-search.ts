/**
 * The search index of a resource's `search: true` fields on SQLite FTS5 (SPEC §4.6):
 *  - `<t>__search`: trigram index of the folded values; `*` patterns are GLOBs over it,
 *    answered from the index, never by scanning rows;
 *  - `<t>__words`: unicode61 word index (contentless) ranking global searches with bm25;
 *  - `<t>__terms` + `<t>__termgrams`: the dictionary of indexed words with how many items
 *    hold each, itself trigram-indexed, so suggestions (prefix, substring, close words) cost
 *    an index lookup however large the vocabulary.
 * All hold folded text (lower case, no accents) and are written in the same transaction
 * as the row they index, at its end (`apply`).
 */
import type Database from 'better-sqlite3';
import type { ResourceModel } from '../../schema/types.js';
import { editDistanceAtMost, foldText, trigramsOf, wordsOf } from '../../query/text.js';
import type { Suggestion } from '../store.js';
import { limitLiteral, quote, tableName } from './sqlite-compiler.js';

export interface SearchTables {
  readonly patterns: string;
  readonly words: string;
  readonly terms: string;
  readonly termgrams: string;
}

export function searchTableNames(resource: ResourceModel): SearchTables {
  const t = tableName(resource.name);
  return { patterns: `${t}__search`, words: `${t}__words`, terms: `${t}__terms`, termgrams: `${t}__termgrams` };
}

export function searchTableDdl(resource: ResourceModel): string[] {
  if (resource.searchFields.length === 0) return [];
  const n = searchTableNames(resource);
  const cols = resource.searchFields.map((f) => quote(f.name)).join(', ');
  return [
    `CREATE VIRTUAL TABLE ${quote(n.patterns)} USING fts5(${cols}, tokenize='trigram', detail='none')`,
    `CREATE VIRTUAL TABLE ${quote(n.words)} USING fts5(${cols}, tokenize='unicode61 remove_diacritics 2', content='', contentless_delete=1)`,
    `CREATE TABLE ${quote(n.terms)} ("id" INTEGER PRIMARY KEY, "term" TEXT NOT NULL UNIQUE, "docs" INTEGER NOT NULL) STRICT`,
    `CREATE VIRTUAL TABLE ${quote(n.termgrams)} USING fts5("term", content=${quote(n.terms)}, content_rowid='id', tokenize='trigram', detail='none')`,
  ];
}

export function dropSearchSql(resource: ResourceModel): string[] {
  const n = searchTableNames(resource);
  return [n.patterns, n.words, n.termgrams, n.terms].map((t) => `DROP TABLE IF EXISTS ${quote(t)}`);
}

/** `*` pattern → GLOB pattern over folded text (`?` and `[` escaped, `*` kept). */
export function globPattern(pattern: string): string {
  return foldText(pattern).replace(/[?[]/g, (c) => `[${c}]`);
}

/** The words of a text, folded, as the unicode61 tokenizer sees them (shared with the other dialects). */
export { wordsOf };

type Run = (sql: string, params: unknown[]) => { readonly lastInsertRowid: number | bigint };
type Get = (sql: string, params: unknown[]) => Record<string, unknown> | undefined;
type All = (sql: string, params: unknown[]) => Record<string, unknown>[];

/** A row to index (`insert`) or to take out of the index, by its rowid. */
export interface IndexChange {
  readonly insert: boolean;
  readonly rowid: number;
  readonly row: Record<string, unknown>;
}

export class SqliteSearchIndex {
  private readonly names: SearchTables;
  private readonly fields: readonly string[];

  constructor(
    private readonly resource: ResourceModel,
    private readonly run: Run,
    private readonly get: Get,
  ) {
    this.names = searchTableNames(resource);
    this.fields = resource.searchFields.map((f) => f.name);
  }

  get enabled(): boolean {
    return this.fields.length > 0;
  }

  get tables(): SearchTables {
    return this.names;
  }

  /** Condition text for a pattern on one field: rows whose folded value matches it whole. */
  patternSql(field: string, pattern: string, params: unknown[]): string {
    params.push(globPattern(pattern));
    return `"rowid" IN (SELECT rowid FROM ${quote(this.names.patterns)} WHERE ${quote(field)} GLOB ?)`;
  }

  /** The rowids whose field matches the pattern, or null when there are more than `cap`. */
  matchRowids(all: All, field: string, pattern: string, cap: number): number[] | null {
    const rows = all(`SELECT rowid AS r FROM ${quote(this.names.patterns)} WHERE ${quote(field)} GLOB ? LIMIT ${limitLiteral(cap + 1)}`, [globPattern(pattern)]);
    return rows.length > cap ? null : rows.map((r) => r.r as number);
  }

  touches(changed: Record<string, unknown>): boolean {
    return this.fields.some((f) => f in changed);
  }

  private folded(row: Record<string, unknown>): (string | null)[] {
    return this.fields.map((f) => (typeof row[f] === 'string' ? foldText(row[f] as string) : null));
  }

  /** The words an item holds, each once, whichever fields hold it. */
  private termsOf(row: Record<string, unknown>): Set<string> {
    const out = new Set<string>();
    for (const f of this.fields) if (typeof row[f] === 'string') for (const w of wordsOf(row[f] as string)) out.add(w);
    return out;
  }

  /**
   * Indexes rows added and unindexes rows removed (an update is both), in order, table by table:
   * the trigram patterns, the words, then the dictionary's counts and its new words. FTS5 writes
   * an index's pending changes out as a new segment whenever another statement opens a savepoint,
   * so each index gets its changes in one run, and no statement of this method returns rows
   * (`RETURNING` opens one); a batch leaves one segment per index.
   */
  apply(changes: readonly IndexChange[]): void {
    if (!this.enabled || changes.length === 0) return;
    const cols = this.fields.map(quote).join(', ');
    const marks = this.fields.map(() => '?').join(', ');
    const folded = changes.map((c) => (c.insert ? this.folded(c.row) : null));
    for (const table of [this.names.patterns, this.names.words]) {
      const insert = `INSERT INTO ${quote(table)} (rowid, ${cols}) VALUES (?, ${marks})`;
      const remove = `DELETE FROM ${quote(table)} WHERE rowid = ?`;
      changes.forEach((c, i) => {
        const values = folded[i];
        if (values) this.run(insert, [c.rowid, ...values]);
        else this.run(remove, [c.rowid]);
      });
    }
    const deltas = new Map<string, number>();
    for (const c of changes) for (const w of this.termsOf(c.row)) deltas.set(w, (deltas.get(w) ?? 0) + (c.insert ? 1 : -1));
    const added: [number, string][] = [];
    for (const [term, delta] of deltas) {
      if (delta === 0) continue;
      const existing = this.get(`SELECT "id" FROM ${quote(this.names.terms)} WHERE "term" = ?`, [term]);
      if (existing) {
        this.run(`UPDATE ${quote(this.names.terms)} SET "docs" = max(0, "docs" + ?) WHERE "id" = ?`, [delta, existing.id]);
      } else if (delta > 0) {
        added.push([Number(this.run(`INSERT INTO ${quote(this.names.terms)} ("term", "docs") VALUES (?, ?)`, [term, delta]).lastInsertRowid), term]);
      }
    }
    for (const [id, term] of added) this.run(`INSERT INTO ${quote(this.names.termgrams)} (rowid, "term") VALUES (?, ?)`, [id, term]);
  }

  /** The FTS5 tables, whose segments are merged when the store is idle (`mergeStep`). */
  get ftsTables(): readonly string[] {
    return this.enabled ? [this.names.patterns, this.names.words, this.names.termgrams] : [];
  }

  /** Merges each FTS5 index into one segment (after a rebuild: lookups read one b-tree, not several). */
  optimize(): void {
    for (const t of this.ftsTables) this.run(`INSERT INTO ${quote(t)} (${quote(t)}) VALUES ('optimize')`, []);
  }

  /**
   * Up to `limit` indexed words for `word`: those that complete it, then those that contain
   * it, and — when `close` (the search found nothing) — those within edit distance 2.
   * Most frequent first.
   */
  suggest(all: All, word: string, limit: number, close: boolean): Suggestion[] {
    if (!this.enabled || word.length < 2) return [];
    const terms = quote(this.names.terms);
    const grams = quote(this.names.termgrams);
    const found = new Map<string, number>();
    const take = (rows: Record<string, unknown>[]) => {
      for (const r of rows) {
        const term = r.term as string;
        if (term !== word && !found.has(term) && found.size < limit) found.set(term, r.docs as number);
      }
    };
    take(all(`SELECT "term", "docs" FROM (SELECT "term", "docs" FROM ${terms} WHERE "term" > ? AND "term" < ? AND "docs" > 0 LIMIT 1000) ORDER BY "docs" DESC, "term" LIMIT ?`, [word, `${word}\u{10FFFF}`, limit + 1]));
    if (found.size < limit && word.length >= 3) {
      take(all(
        `SELECT t."term", t."docs" FROM ${grams} JOIN ${terms} AS t ON t."id" = ${grams}.rowid WHERE ${grams}."term" GLOB ? AND t."docs" > 0 AND substr(t."term", 1, ?) <> ? ORDER BY t."docs" DESC, t."term" LIMIT ?`,
        [`*${globPattern(word)}*`, word.length, word, limit + 1],
      ));
    }
    if (close && found.size === 0 && word.length >= 3) {
      // Candidates share trigrams with the word (like pg_trgm); the edit distance decides.
      const grams3 = trigramsOf(word).map((g) => `"${g.replace(/"/g, '""')}"`);
      const candidates = all(
        `SELECT t."term", t."docs" FROM ${grams} JOIN ${terms} AS t ON t."id" = ${grams}.rowid WHERE ${grams} MATCH ? AND t."docs" > 0 AND length(t."term") BETWEEN ? AND ? ORDER BY rank LIMIT 500`,
        [grams3.join(' OR '), word.length - 2, word.length + 2],
      );
      take(candidates.filter((c) => editDistanceAtMost(word, c.term as string, 2)).sort((a, b) => (b.docs as number) - (a.docs as number) || String(a.term).localeCompare(String(b.term))));
    }
    return [...found].map(([w, count]) => ({ word: w, count })).sort((a, b) => b.count - a.count || a.word.localeCompare(b.word));
  }

  /** Refills every table from the resource's rows (after the index is created or changed). */
  reindex(db: Database.Database): void {
    if (!this.enabled) return;
    const table = quote(tableName(this.resource.name));
    const cols = this.fields.map(quote).join(', ');
    for (const t of [this.names.patterns, this.names.words]) db.prepare(`DELETE FROM ${quote(t)}`).run();
    db.prepare(`INSERT INTO ${quote(this.names.termgrams)} (${quote(this.names.termgrams)}) VALUES ('delete-all')`).run();
    db.prepare(`DELETE FROM ${quote(this.names.terms)}`).run();
    // In batches, not through an open iterator: the connection cannot write while one is open.
    const batch = db.prepare(`SELECT rowid AS "_rowid", ${cols} FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT 1000`);
    for (let last = 0; ; ) {
      const rows = batch.all(last) as Record<string, unknown>[];
      this.apply(rows.map((row) => ({ insert: true, rowid: row._rowid as number, row })));
      if (rows.length < 1000) break;
      last = (rows[rows.length - 1] as Record<string, unknown>)._rowid as number;
    }
    this.optimize();
  }
}

/**
 * One bounded step of merging an FTS5 table's segments into one, writing about `pages` pages:
 * the first step (`first`) puts every segment on one level and merges (a negative page count),
 * the next ones go on. Returns whether there may be more to merge: FTS5 says a merge did nothing
 * by moving `total_changes()` by less than 2 (SQLite's FTS5 documentation, the 'merge' command).
 */
export function mergeStep(db: Database.Database, table: string, pages: number, first: boolean): boolean {
  const changes = db.prepare('SELECT total_changes() AS n').pluck();
  const before = changes.get() as number;
  db.prepare(`INSERT INTO ${quote(table)} (${quote(table)}, rank) VALUES ('merge', ?)`).run(first ? -pages : pages);
  return (changes.get() as number) - before >= 2;
}
