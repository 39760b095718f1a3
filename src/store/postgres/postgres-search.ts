/**
 * The search index of a resource's `search: true` fields on PostgreSQL (SPEC §4.6):
 *  - `<t>__search`: one row per item with each search field folded (lower case, no
 *    accents), each under a `pg_trgm` GIN index, so `*` patterns are LIKE lookups answered
 *    from the index, never by scanning rows; and `_words`, a `tsvector` of the item's
 *    words (GIN-indexed) ranking global searches with `ts_rank`;
 *  - `<t>__terms`: the dictionary of indexed words with how many items hold each, with a
 *    `pg_trgm` index, so suggestions (prefix, substring, close words) cost an index lookup
 *    however large the vocabulary.
 * Folding and word splitting happen in JavaScript (as on SQLite), so both dialects index
 * and match the same words; the vectors are built as `tsvector` literals, never through a
 * text-search configuration. Everything is written in the same transaction as the row.
 */
import type { ResourceModel } from '../../schema/types.js';
import { editDistanceAtMost, foldText, trigramsOf, wordsOf } from '../../query/text.js';
import type { Suggestion } from '../store.js';
import { bind, likePattern, pgName, quote, tableName } from './postgres-compiler.js';

export interface SearchTables {
  readonly patterns: string;
  readonly terms: string;
}

export function searchTableNames(resource: ResourceModel): SearchTables {
  const t = resource.name.replace(/-/g, '_');
  return { patterns: pgName(`${t}__search`), terms: pgName(`${t}__terms`) };
}

/** Column of the word vector in `<t>__search` (a field cannot start with `_`). */
export const WORDS_COLUMN = '_words';

/** What the migration needs to build the index: where `pg_trgm` lives, and whether to create it. */
export interface TrigramExtension {
  readonly schema: string;
  readonly installed: boolean;
}

export function searchTableDdl(resource: ResourceModel, trgm: TrigramExtension): string[] {
  if (resource.searchFields.length === 0) return [];
  const n = searchTableNames(resource);
  const ops = `${quote(trgm.schema)}.gin_trgm_ops`;
  const keyType = resource.key.type === 'integer' ? 'bigint' : 'text COLLATE "C"';
  return [
    ...(trgm.installed ? [] : [`CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA ${quote(trgm.schema)}`]),
    `CREATE TABLE IF NOT EXISTS ${quote(n.patterns)} ("id" ${keyType} PRIMARY KEY, ${resource.searchFields.map((f) => `${quote(f.name)} text COLLATE "C"`).join(', ')}, ${quote(WORDS_COLUMN)} tsvector NOT NULL)`,
    ...resource.searchFields.map((f) => `CREATE INDEX IF NOT EXISTS ${quote(`${n.patterns}_${f.name}`)} ON ${quote(n.patterns)} USING gin (${quote(f.name)} ${ops})`),
    `CREATE INDEX IF NOT EXISTS ${quote(`${n.patterns}${WORDS_COLUMN}`)} ON ${quote(n.patterns)} USING gin (${quote(WORDS_COLUMN)})`,
    `CREATE TABLE IF NOT EXISTS ${quote(n.terms)} ("term" text COLLATE "C" PRIMARY KEY, "docs" integer NOT NULL)`,
    `CREATE INDEX IF NOT EXISTS ${quote(`${n.terms}_grams`)} ON ${quote(n.terms)} USING gin ("term" ${ops})`,
    `-- carte:reindex ${JSON.stringify({ table: tableName(resource.name), patterns: n.patterns, terms: n.terms, fields: resource.searchFields.map((f) => f.name) })}`,
  ];
}

export function dropSearchSql(resource: ResourceModel): string[] {
  const n = searchTableNames(resource);
  return [n.patterns, n.terms].map((t) => `DROP TABLE IF EXISTS ${quote(t)}`);
}

/**
 * A `tsvector` literal of words with their positions (`'canard':1 'laque':2`). Words hold
 * only letters and digits; quotes are doubled anyway. PostgreSQL keeps positions ≤ 16383.
 */
export function wordVector(words: readonly string[]): string {
  const positions = new Map<string, number[]>();
  words.forEach((w, i) => {
    const list = positions.get(w) ?? [];
    if (list.length < 256) list.push(Math.min(i + 1, 16383));
    positions.set(w, list);
  });
  return [...positions].map(([w, p]) => `'${w.replace(/['\\]/g, (c) => `\\${c}`)}':${p.join(',')}`).join(' ');
}

/** A `tsquery` literal: every word, each as a prefix (`'canard':* & 'laque':*`). */
export function wordQuery(words: readonly string[]): string {
  return words.map((w) => `'${w.replace(/['\\]/g, (c) => `\\${c}`)}':*`).join(' & ');
}

export type Query = (sql: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

/** The shape of one resource's index, independent of the model (migrations reindex with it). */
export interface SearchShape {
  readonly table: string;
  readonly patterns: string;
  readonly terms: string;
  readonly fields: readonly string[];
}

export class PostgresSearchIndex {
  readonly shape: SearchShape;

  constructor(resource: ResourceModel) {
    const n = searchTableNames(resource);
    this.shape = { table: tableName(resource.name), patterns: n.patterns, terms: n.terms, fields: resource.searchFields.map((f) => f.name) };
  }

  get enabled(): boolean {
    return this.shape.fields.length > 0;
  }

  /** Condition text for a pattern on one field: rows whose folded value matches it whole. */
  patternSql(field: string, pattern: string, params: unknown[], alias = ''): string {
    return `${alias}"id" IN (SELECT "id" FROM ${quote(this.shape.patterns)} WHERE ${quote(field)} LIKE ${bind(params, likePattern(foldText(pattern)))} ESCAPE '\\')`;
  }

  touches(changed: Record<string, unknown>): boolean {
    return this.shape.fields.some((f) => f in changed);
  }

  insert(query: Query, id: unknown, row: Record<string, unknown>): Promise<void> {
    return writeEntry(query, this.shape, id, row);
  }

  /** Removes one item's entry and its words' counts, in one statement. */
  async remove(query: Query, id: unknown, row: Record<string, unknown>): Promise<void> {
    if (!this.enabled) return;
    await query(
      `WITH "gone" AS (DELETE FROM ${quote(this.shape.patterns)} WHERE "id" = $1) ` +
        `UPDATE ${quote(this.shape.terms)} SET "docs" = greatest(0, "docs" - 1) WHERE "term" = ANY($2::text[])`,
      [id, termsOf(this.shape.fields, row)],
    );
  }

  /**
   * Up to `limit` indexed words for `word`: those that complete it, then those that contain
   * it, and — when `close` (the search found nothing) — those within edit distance 2.
   * Most frequent first.
   */
  async suggest(query: Query, word: string, limit: number, close: boolean): Promise<Suggestion[]> {
    if (!this.enabled || word.length < 2) return [];
    const terms = quote(this.shape.terms);
    const found = new Map<string, number>();
    const take = (rows: Record<string, unknown>[]) => {
      for (const r of rows) {
        const term = r.term as string;
        if (term !== word && !found.has(term) && found.size < limit) found.set(term, r.docs as number);
      }
    };
    // Prefix: a range of the primary key (code-point order, as SQLite's BINARY).
    take(await query(`SELECT "term", "docs" FROM (SELECT "term", "docs" FROM ${terms} WHERE "term" > $1 AND "term" < $2 AND "docs" > 0 LIMIT 1000) AS "p" ORDER BY "docs" DESC, "term" LIMIT $3`, [word, `${word}\u{10FFFF}`, limit + 1]));
    if (found.size < limit && word.length >= 3) {
      take(await query(
        `SELECT "term", "docs" FROM ${terms} WHERE "term" LIKE $1 ESCAPE '\\' AND "docs" > 0 AND substr("term", 1, $2) <> $3 ORDER BY "docs" DESC, "term" LIMIT $4`,
        [`%${likePattern(word)}%`, word.length, word, limit + 1],
      ));
    }
    if (close && found.size === 0 && word.length >= 3) {
      // Candidates share a trigram with the word (each LIKE is a pg_trgm index lookup), those
      // sharing the most first (as FTS5's rank does on SQLite); the edit distance decides.
      const params: unknown[] = [];
      const grams = trigramsOf(word).slice(0, 64).map((g) => `"term" LIKE ${bind(params, `%${likePattern(g)}%`)} ESCAPE '\\'`);
      const candidates = await query(
        `SELECT "term", "docs" FROM ${terms} WHERE (${grams.join(' OR ')}) AND "docs" > 0 AND length("term") BETWEEN ${bind(params, word.length - 2)} AND ${bind(params, word.length + 2)} ` +
          `ORDER BY ${grams.map((g) => `(${g})::int`).join(' + ')} DESC, "term" LIMIT 500`,
        params,
      );
      take(candidates.filter((c) => editDistanceAtMost(word, c.term as string, 2)).sort((a, b) => (b.docs as number) - (a.docs as number) || String(a.term).localeCompare(String(b.term))));
    }
    return [...found].map(([w, count]) => ({ word: w, count })).sort((a, b) => b.count - a.count || a.word.localeCompare(b.word));
  }
}

function termsOf(fields: readonly string[], row: Record<string, unknown>): string[] {
  const out = new Set<string>();
  for (const f of fields) if (typeof row[f] === 'string') for (const w of wordsOf(row[f] as string)) out.add(w);
  return [...out];
}

/** Writes one item's entry — folded values, word vector, one more item for each of its words — in one statement. */
async function writeEntry(query: Query, shape: SearchShape, id: unknown, row: Record<string, unknown>): Promise<void> {
  if (shape.fields.length === 0) return;
  const folded = shape.fields.map((f) => (typeof row[f] === 'string' ? foldText(row[f] as string) : null));
  const words = shape.fields.flatMap((f) => (typeof row[f] === 'string' ? wordsOf(row[f] as string) : []));
  const params: unknown[] = [];
  const values = [bind(params, id), ...folded.map((v) => bind(params, v)), bind(params, wordVector(words), 'tsvector')];
  const cols = ['id', ...shape.fields, WORDS_COLUMN].map(quote).join(', ');
  await query(
    `WITH "entry" AS (INSERT INTO ${quote(shape.patterns)} (${cols}) VALUES (${values.join(', ')})) ` +
      `INSERT INTO ${quote(shape.terms)} AS t ("term", "docs") SELECT unnest(${bind(params, termsOf(shape.fields, row), 'text[]')}), 1 ` +
      'ON CONFLICT ("term") DO UPDATE SET "docs" = t."docs" + 1',
    params,
  );
}

/** Refills a resource's index from its rows, in key order and in batches (after the index is created or changed). */
export async function reindex(query: Query, shape: SearchShape): Promise<void> {
  await query(`DELETE FROM ${quote(shape.patterns)}`, []);
  await query(`DELETE FROM ${quote(shape.terms)}`, []);
  const cols = shape.fields.map(quote).join(', ');
  let last: unknown = null;
  for (;;) {
    const rows = await query(
      `SELECT "id", ${cols} FROM ${quote(shape.table)} ${last === null ? '' : 'WHERE "id" > $2 '}ORDER BY "id" LIMIT $1`,
      last === null ? [1000] : [1000, last],
    );
    for (const row of rows) await writeEntry(query, shape, row.id, row);
    if (rows.length < 1000) break;
    last = (rows[rows.length - 1] as Record<string, unknown>).id;
  }
}
