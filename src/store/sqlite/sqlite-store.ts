/**
 * The SQLite adapter of the Store: one writer connection behind a queue (transactions run
 * one at a time, `BEGIN IMMEDIATE … COMMIT`, fsynced before they resolve) and one reader
 * connection that, in WAL mode, only ever sees committed data.
 *
 * Group commit: transactions that arrive while the writer is busy (most often: waiting for
 * the previous commit's fsync) are run together, each in its own savepoint, under one
 * `COMMIT` — one fsync for the group instead of one each. A transaction that fails is rolled
 * back to its savepoint alone; none resolves before the commit that makes it durable.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { TextMemory } from '../../memo.js';
import type { ApiModel, FieldModel, ResourceModel } from '../../schema/types.js';
import {
  DestructiveMigrationError,
  StoreConflictError,
  type Condition,
  type EventReadPlan,
  type EventReadResult,
  type IdempotencyClaim,
  type IdempotencyRecord,
  type Key,
  type MigrationPlan,
  type NewEvent,
  type ReadPlan,
  type ReadResult,
  type Row,
  type SearchTarget,
  type Store,
  type StoreReader,
  type StoreStats,
  type StoredEvent,
  type StoreWriter,
  type Suggestion,
  type WordHit,
} from '../store.js';
import type { AuthStore } from '../auth-store.js';
import { SqliteAuthStore } from './sqlite-auth-store.js';
import { insertDeliveries, SqlWebhookStore, type NewDelivery, type SqlRun, type WebhookStore } from '../webhook-store.js';
import { SQLITE_CLAIM_SQL, sqliteRun, WEBHOOK_TABLES_SQL } from './sqlite-webhooks.js';
import { compileCondition, compileRead, quote, tableName } from './sqlite-compiler.js';
import { appendEvent, EVENT_TABLES_SQL, purgeEvents, readEvents } from './sqlite-events.js';
import { planSqliteMigration } from './sqlite-migrate.js';
import { mergeStep, SqliteSearchIndex, wordsOf, type IndexChange } from './sqlite-search.js';

export interface SqliteStoreOptions {
  /** A file path, or `:memory:` for a throw-away database. */
  readonly file: string;
  /** `full` (default): every commit is fsynced before it is acknowledged. */
  readonly durability?: 'full' | 'normal' | 'off';
  /** Matches counted exactly before `count=estimated` extrapolates (SPEC §4.3). */
  readonly estimateThreshold?: number;
  /** How long writes must pause before the search indexes' segments are merged (ms; see MERGE_DELAY_MS). */
  readonly searchMergeDelayMs?: number;
}

type Kind = 'plain' | 'bool' | 'json';

/** Internal table of idempotency keys; `_carte` tables are never planned as resources. */
const IDEMPOTENCY = '"_carte_idempotency"';
const INTERNAL_TABLES = [
  `CREATE TABLE IF NOT EXISTS ${IDEMPOTENCY} (
  "scope" TEXT NOT NULL,
  "key" TEXT NOT NULL,
  "fingerprint" TEXT NOT NULL,
  "state" TEXT NOT NULL,
  "response" TEXT,
  "expires_at" INTEGER NOT NULL,
  PRIMARY KEY ("scope", "key")
) WITHOUT ROWID, STRICT`,
  `CREATE INDEX IF NOT EXISTS "_carte_idempotency_expiry" ON ${IDEMPOTENCY} ("expires_at")`,
];

interface IdempotencyRow {
  scope: string;
  key: string;
  fingerprint: string;
  state: 'pending' | 'done';
  response: string | null;
  expires_at: number;
}

function decodeIdempotency(raw: IdempotencyRow): IdempotencyRecord {
  return {
    scope: raw.scope,
    key: raw.key,
    fingerprint: raw.fingerprint,
    state: raw.state,
    response: raw.response === null ? null : JSON.parse(raw.response),
    expiresAt: new Date(raw.expires_at),
  };
}

interface ResourceCodec {
  readonly resource: ResourceModel;
  readonly table: string;
  readonly columns: readonly (readonly [string, Kind])[];
  readonly search: SqliteSearchIndex;
  /** `SELECT * … WHERE "id" = ?`, built once: one string per resource keeps the statement lookup a hash hit. */
  readonly byIdSql: string;
  /** A stored row as the service sees it, compiled for this resource's columns (see `compileDecoder`). */
  readonly decode: (raw: Record<string, unknown>) => Row;
}

/**
 * A row decoder written for one resource's columns: an object literal with a fixed set of
 * members, read and written by name, instead of a loop that reads and writes members by a
 * variable key (V8's megamorphic keyed access, several per column and row). Column names are
 * schema field names, written as JSON string literals.
 */
function compileDecoder(columns: readonly (readonly [string, Kind])[]): (raw: Record<string, unknown>) => Row {
  const members = columns.map(([name, kind], i) => {
    const value = `raw[${JSON.stringify(name)}]`;
    const decoded = kind === 'json' ? `JSON.parse(v${i})` : kind === 'bool' ? `v${i} === 1` : `v${i}`;
    return { read: `const v${i} = ${value};`, member: `${JSON.stringify(name)}: v${i} === null || v${i} === undefined ? null : ${decoded}` };
  });
  const body = `${members.map((m) => m.read).join('\n')}\nreturn { id: raw.id, ${members.map((m) => m.member).join(', ')} };`;
  return new Function('raw', body) as (raw: Record<string, unknown>) => Row;
}

function kindOf(field: FieldModel): Kind {
  if (field.type === 'boolean') return 'bool';
  if (field.type === 'array' || field.type === 'object' || field.type === 'blob') return 'json';
  return 'plain';
}

/** At most this many transactions share one commit. */
const GROUP_LIMIT = 64;

/**
 * A change to a resource's search index, applied when the writer's transaction ends rather than
 * with the row. FTS5 keeps an index's changes in memory and writes them out as a new segment
 * whenever a later statement opens a savepoint: a group's savepoint per write, and any
 * `INSERT … RETURNING`, as every row write is. Indexed with each row, a load of 10,000 rows left
 * the trigram index in 17 segments, merged again every 16 rows, and a later `*napoli*` lookup
 * read them all (165 µs, against 111 µs on one segment). Applied together: one segment per commit.
 */
interface SearchChange extends IndexChange {
  readonly index: SqliteSearchIndex;
}

/** Pending search changes beyond this many are applied at once (a whole-file import in one transaction). */
const SEARCH_BATCH = 5000;

/**
 * Each commit adds a segment to every search index it changed, and FTS5 merges them only as
 * writes go on (automerge): after a burst of writes a lookup reads many segments (20 after the
 * POST benchmark: a `*napoli*` lookup 163 µs, against 114 µs on one). When no write has come for
 * this long (by default), the store merges them into one, in steps.
 */
const MERGE_DELAY_MS = 1000;
/** Pages a merge step writes at most: one step holds the writer for a few milliseconds. */
const MERGE_PAGES = 32;

/** A transaction waiting for its turn in a group commit. */
interface GroupEntry {
  readonly fn: (tx: StoreWriter) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** A promise queue: transactions on the writer connection run one after another. */
class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** Statements and row codecs over one connection; the reader and the writer each have one. */
class SqliteSession implements StoreWriter {
  private readonly statements = new Map<string, Database.Statement>();
  /** Runs reads in one read transaction (better-sqlite3 begins it deferred: nothing is locked until the first read). */
  private readonly inSnapshot: (run: () => ReadResult) => ReadResult;
  /** The open transaction's search-index changes, not applied yet (the writer's; see `SearchChange`). */
  private searchChanges: SearchChange[] = [];
  /** Whether search-index changes were applied since the store last cleared this (a commit group's start). */
  searchApplied = false;

  /**
   * The reader's suggestions, remembered until the database changes: `PRAGMA data_version` moves
   * whenever another connection (the writer, another process) commits. A search answers with
   * suggestions every time, and the same few words come again and again.
   */
  private readonly suggestions: { version: number; readonly memory: TextMemory<Suggestion[]> } | null;
  private readonly dataVersion: Database.Statement | null;

  constructor(
    readonly db: Database.Database,
    private readonly codecs: () => ReadonlyMap<string, ResourceCodec>,
    private readonly stats: StoreStats,
    private readonly estimateThreshold: number,
    options: { readonly remembersSuggestions?: boolean } = {},
  ) {
    this.inSnapshot = db.transaction((run: () => ReadResult) => run());
    this.suggestions = options.remembersSuggestions ? { version: -1, memory: new TextMemory() } : null;
    this.dataVersion = options.remembersSuggestions ? db.prepare('PRAGMA data_version').pluck() : null;
  }

  prepare(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      if (this.statements.size > 1000) this.statements.clear();
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    this.stats.statements++;
    return stmt;
  }

  private codec(resource: string): ResourceCodec {
    const codec = this.codecs().get(resource);
    if (!codec) throw new Error(`unknown resource ${resource}`);
    return codec;
  }

  private encode(kind: Kind, value: unknown): unknown {
    if (value === undefined || value === null) return null;
    if (kind === 'json') return JSON.stringify(value);
    if (kind === 'bool') return value ? 1 : 0;
    return value;
  }

  private indexLater(change: SearchChange): void {
    this.searchChanges.push(change);
    if (this.searchChanges.length >= SEARCH_BATCH) this.applySearchChanges();
  }

  /** Applies the pending search-index changes in order: before the commit, and before this transaction reads an index. */
  applySearchChanges(): void {
    const changes = this.searchChanges;
    if (changes.length === 0) return;
    this.searchChanges = [];
    this.searchApplied = true;
    const byIndex = new Map<SqliteSearchIndex, SearchChange[]>();
    for (const c of changes) {
      const list = byIndex.get(c.index);
      if (list) list.push(c);
      else byIndex.set(c.index, [c]);
    }
    for (const [index, list] of byIndex) index.apply(list);
  }

  /** The pending changes as they stand at a savepoint: a copy, to go back to when it is rolled back. */
  searchSavepoint(): SearchChange[] {
    return this.searchChanges.slice();
  }

  /**
   * Back to the changes pending at a savepoint (none: the transaction rolled back). Those the
   * rolled-back work applied early (an index read) were undone with it, so they are pending again.
   */
  rollbackSearch(pending: SearchChange[] = []): void {
    this.searchChanges = pending;
  }

  private patternSql(codec: ResourceCodec) {
    return (field: string, pattern: string, params: unknown[]) => codec.search.patternSql(field, pattern, params);
  }

  get(resource: string, id: Key): Row | undefined {
    const codec = this.codec(resource);
    const raw = this.prepare(codec.byIdSql).get(id) as Record<string, unknown> | undefined;
    return raw ? codec.decode(raw) : undefined;
  }

  async read(plan: ReadPlan): Promise<ReadResult> {
    // The page, its total and the pattern lookups come from one snapshot: one read transaction
    // rather than one per statement (each takes and releases the WAL read lock, system calls).
    return this.db.inTransaction ? this.readNow(plan) : this.inSnapshot(() => this.readNow(plan));
  }

  private readNow(plan: ReadPlan): ReadResult {
    this.applySearchChanges();
    const codec = this.codec(plan.resource);
    const patterns = this.resolvePatterns(codec);
    const compiled = compileRead(plan, patterns.sql);
    const raws = this.prepare(compiled.select.sql).all(...compiled.select.params) as Record<string, unknown>[];
    const rows = raws.map((r) => codec.decode(r));
    if (!compiled.count) return { rows, total: null, estimated: false };
    if (plan.partitionBy !== undefined) {
      const groups = this.prepare(compiled.count.sql).all(...compiled.count.params) as { k: unknown; n: number }[];
      return { rows, total: null, estimated: false, partitionTotals: new Map(groups.map((g) => [g.k, g.n])) };
    }
    // A page that is not full and starts at 0 already tells the total.
    if (plan.after === null && plan.offset === 0 && rows.length < plan.limit) {
      return { rows, total: rows.length, estimated: false };
    }
    // A search on patterns alone is counted from the matches already found.
    const counted = patterns.countOnly(plan.where);
    if (counted !== null) return { rows, total: counted, estimated: false };
    if (plan.count === 'estimated') return { rows, ...this.estimate(codec, compiled.count.sql, compiled.count.params) };
    const { n } = this.prepare(compiled.count.sql).get(...compiled.count.params) as { n: number };
    return { rows, total: n, estimated: false };
  }

  /**
   * Patterns are looked up in the search index once per read, and the matching rowids are
   * shared by the page and the count queries (a trigram lookup is the costly part of a search).
   * A pattern matching very many items falls back to a subquery.
   */
  private resolvePatterns(codec: ResourceCodec) {
    const found = new Map<string, number[] | null>();
    const matches = (field: string, pattern: string): number[] | null => {
      const key = `${field}\u0000${pattern}`;
      if (!found.has(key)) found.set(key, codec.search.matchRowids((sql, params) => this.prepare(sql).all(...params) as Record<string, unknown>[], field, pattern, 50_000));
      return found.get(key) ?? null;
    };
    return {
      sql: (field: string, pattern: string, params: unknown[]): string => {
        const rowids = matches(field, pattern);
        if (rowids === null) return codec.search.patternSql(field, pattern, params);
        params.push(JSON.stringify(rowids));
        return `"rowid" IN (SELECT value FROM json_each(?))`;
      },
      countOnly: (where: Condition): number | null => {
        const terms = where.kind === 'pattern' ? [where] : where.kind === 'and' && where.items.every((c) => c.kind === 'pattern') ? where.items : null;
        if (!terms) return null;
        let set: Set<number> | null = null;
        for (const term of terms as readonly { field: string; pattern: string }[]) {
          const rowids = matches(term.field, term.pattern);
          if (rowids === null) return null;
          set = set === null ? new Set(rowids) : new Set(rowids.filter((r) => (set as Set<number>).has(r)));
        }
        return set === null ? null : set.size;
      },
    };
  }

  /**
   * Exact up to the threshold; beyond it, extrapolated from the density of matches in
   * rowid order (how far into the table the threshold-th match lies).
   */
  private estimate(codec: ResourceCodec, countSql: string, params: unknown[]): { total: number; estimated: boolean } {
    const cap = this.estimateThreshold;
    const where = countSql.slice(countSql.indexOf(' WHERE ') + 7);
    const table = quote(codec.table);
    const { n } = this.prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM ${table} WHERE ${where} LIMIT ${cap + 1})`).get(...params) as { n: number };
    if (n <= cap) return { total: n, estimated: false };
    const nth = this.prepare(`SELECT rowid AS r FROM ${table} WHERE ${where} ORDER BY rowid LIMIT 1 OFFSET ${cap - 1}`).get(...params) as { r: number };
    const span = this.prepare(`SELECT min(rowid) AS lo, max(rowid) AS hi FROM ${table}`).get() as { lo: number; hi: number };
    const density = cap / Math.max(1, nth.r - span.lo + 1);
    return { total: Math.max(n, Math.round(density * (span.hi - span.lo + 1))), estimated: true };
  }

  async count(resource: string, where: Condition): Promise<number> {
    this.applySearchChanges();
    const codec = this.codec(resource);
    const params: unknown[] = [];
    const sql = compileCondition(where, params, this.patternSql(codec));
    const { n } = this.prepare(`SELECT count(*) AS n FROM ${quote(codec.table)} WHERE ${sql}`).get(...params) as { n: number };
    return n;
  }

  async suggest(resource: string, word: string, limit: number, close: boolean): Promise<Suggestion[]> {
    this.applySearchChanges();
    const codec = this.codec(resource);
    const compute = () => codec.search.suggest((sql, params) => this.prepare(sql).all(...params) as Record<string, unknown>[], word, limit, close);
    const remembered = this.suggestions;
    if (!remembered || !this.dataVersion || this.db.inTransaction) return compute();
    const version = this.dataVersion.get() as number;
    if (version !== remembered.version) {
      remembered.version = version;
      remembered.memory.clear();
    }
    return remembered.memory.get(`${resource}\u0000${word}\u0000${limit}\u0000${close}`, compute).map((s) => ({ ...s }));
  }

  async searchWords(targets: readonly SearchTarget[], words: readonly string[], offset: number, limit: number): Promise<{ hits: WordHit[]; total: number }> {
    this.applySearchChanges();
    const folded = words.flatMap((w) => wordsOf(w));
    if (folded.length === 0) return { hits: [], total: 0 };
    const match = folded.map((w) => `"${w}"*`).join(' AND ');
    const hits: WordHit[] = [];
    let total = 0;
    for (const target of targets) {
      const { resource, where } = target;
      const codec = this.codec(resource);
      if (!codec.search.enabled) continue;
      const w = quote(codec.search.tables.words);
      const t = quote(codec.table);
      const params: unknown[] = [match];
      const cond = compileCondition(where, params, this.patternSql(codec), 't.');
      const from = `FROM ${w} JOIN ${t} AS t ON t.rowid = ${w}.rowid WHERE ${w} MATCH ? AND ${cond}`;
      const { n } = this.prepare(`SELECT count(*) AS n ${from}`).get(...params) as { n: number };
      total += n;
      if (n === 0) continue;
      const rows = this.prepare(`SELECT t."id" AS id, bm25(${w}) AS rank ${from} ORDER BY rank LIMIT ?`).all(...params, offset + limit) as { id: Key; rank: number }[];
      for (const r of rows) hits.push({ resource, id: r.id, score: Math.round(-r.rank * 1000) / 1000 });
    }
    hits.sort((a, b) => b.score - a.score || a.resource.localeCompare(b.resource) || String(a.id).localeCompare(String(b.id), undefined, { numeric: true }));
    return { hits: hits.slice(offset, offset + limit), total };
  }

  async insert(resource: string, values: Row): Promise<Row> {
    const codec = this.codec(resource);
    const names: string[] = [];
    const params: unknown[] = [];
    if (values.id !== undefined && values.id !== null) {
      names.push('id');
      params.push(values.id);
    }
    for (const [name, kind] of codec.columns) {
      if (!(name in values)) continue;
      names.push(name);
      params.push(this.encode(kind, values[name]));
    }
    const sql = names.length
      ? `INSERT INTO ${quote(codec.table)} (${names.map(quote).join(', ')}) VALUES (${names.map(() => '?').join(', ')}) RETURNING rowid AS "_carte_rowid", *`
      : `INSERT INTO ${quote(codec.table)} DEFAULT VALUES RETURNING rowid AS "_carte_rowid", *`;
    const raw = this.guard(() => this.prepare(sql).get(...params)) as Record<string, unknown>;
    const row = codec.decode(raw);
    if (codec.search.enabled) this.indexLater({ index: codec.search, insert: true, rowid: raw._carte_rowid as number, row });
    return row;
  }

  async update(resource: string, id: Key, values: Row): Promise<Row | undefined> {
    const codec = this.codec(resource);
    const sets: string[] = [];
    const params: unknown[] = [];
    for (const [name, kind] of codec.columns) {
      if (!(name in values)) continue;
      sets.push(`${quote(name)} = ?`);
      params.push(this.encode(kind, values[name]));
    }
    if (sets.length === 0) return this.get(resource, id);
    const reindex = codec.search.enabled && codec.search.touches(values);
    const before = reindex ? await this.get(resource, id) : undefined;
    const sql = `UPDATE ${quote(codec.table)} SET ${sets.join(', ')} WHERE "id" = ? RETURNING rowid AS "_carte_rowid", *`;
    const raw = this.guard(() => this.prepare(sql).get(...params, id)) as Record<string, unknown> | undefined;
    if (!raw) return undefined;
    const row = codec.decode(raw);
    if (reindex && before) {
      const rowid = raw._carte_rowid as number;
      this.indexLater({ index: codec.search, insert: false, rowid, row: before });
      this.indexLater({ index: codec.search, insert: true, rowid, row });
    }
    return row;
  }

  async delete(resource: string, id: Key): Promise<boolean> {
    const codec = this.codec(resource);
    const raw = this.guard(() => this.prepare(`DELETE FROM ${quote(codec.table)} WHERE "id" = ? RETURNING rowid AS "_carte_rowid", *`).get(id)) as
      | Record<string, unknown>
      | undefined;
    if (!raw) return false;
    if (codec.search.enabled) this.indexLater({ index: codec.search, insert: false, rowid: raw._carte_rowid as number, row: codec.decode(raw) });
    return true;
  }

  async appendEvent(event: NewEvent): Promise<StoredEvent> {
    return appendEvent((sql) => this.prepare(sql), event);
  }

  run(sql: string, params: unknown[]): Database.RunResult {
    return this.prepare(sql).run(...params);
  }

  insertWebhookDeliveries(deliveries: readonly NewDelivery[]): Promise<void> {
    return insertDeliveries(sqliteRun((sql) => this.prepare(sql)), deliveries);
  }

  // Idempotency keys (SPEC §4.7): one row per (principal, key) in an internal table.

  async idempotencyRecord(scope: string, key: string, now: Date): Promise<IdempotencyRecord | undefined> {
    const raw = this.prepare(`SELECT * FROM ${IDEMPOTENCY} WHERE "scope" = ? AND "key" = ? AND "expires_at" > ?`).get(scope, key, now.getTime()) as IdempotencyRow | undefined;
    return raw ? decodeIdempotency(raw) : undefined;
  }

  async claimIdempotencyKey(claim: IdempotencyClaim): Promise<IdempotencyRecord | null> {
    const { scope, key } = claim;
    this.prepare(`DELETE FROM ${IDEMPOTENCY} WHERE "scope" = ? AND "key" = ? AND "expires_at" <= ?`).run(scope, key, claim.now.getTime());
    const inserted = this.prepare(
      `INSERT INTO ${IDEMPOTENCY} ("scope", "key", "fingerprint", "state", "response", "expires_at") VALUES (?, ?, ?, 'pending', NULL, ?) ON CONFLICT DO NOTHING`,
    ).run(scope, key, claim.fingerprint, claim.expiresAt.getTime());
    if (inserted.changes === 1) return null;
    const raw = this.prepare(`SELECT * FROM ${IDEMPOTENCY} WHERE "scope" = ? AND "key" = ?`).get(scope, key) as IdempotencyRow;
    return decodeIdempotency(raw);
  }

  async completeIdempotencyKey(scope: string, key: string, response: unknown, expiresAt: Date): Promise<void> {
    this.prepare(`UPDATE ${IDEMPOTENCY} SET "state" = 'done', "response" = ?, "expires_at" = ? WHERE "scope" = ? AND "key" = ?`).run(
      JSON.stringify(response ?? null),
      expiresAt.getTime(),
      scope,
      key,
    );
  }

  async releaseIdempotencyKey(scope: string, key: string): Promise<void> {
    this.prepare(`DELETE FROM ${IDEMPOTENCY} WHERE "scope" = ? AND "key" = ? AND "state" = 'pending'`).run(scope, key);
  }

  /** Maps constraint failures to StoreConflictError; the service turns them into 409s. */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        const fields = /failed: (.*)$/.exec((e as Error).message)?.[1]?.split(', ').map((c) => c.split('.').pop() as string) ?? [];
        throw new StoreConflictError('unique', fields);
      }
      if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new StoreConflictError('reference', []);
      throw e;
    }
  }
}

export class SqliteStore implements Store {
  readonly dialect = 'sqlite';
  readonly capabilities = { estimatedCount: true };
  readonly stats: StoreStats = { statements: 0 };
  private readonly writer: Database.Database;
  private readonly reader: Database.Database;
  private readonly writeSession: SqliteSession;
  private readonly readSession: SqliteSession;
  private readonly queue = new WriteQueue();
  private codecs = new Map<string, ResourceCodec>();
  private readonly tempDir: string | null;
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;
  private readonly savepoint: Database.Statement;
  private readonly release: Database.Statement;
  private readonly rollbackToSavepoint: Database.Statement;
  /** The group that has not started yet: new transactions join it. */
  private forming: GroupEntry[] | null = null;
  private closed = false;
  /** Starts merging the search indexes once writes pause for `mergeDelayMs`. */
  private mergeTimer: NodeJS.Timeout | null = null;
  private readonly mergeDelayMs: number;
  #searchMerge: Promise<void> | null = null;
  readonly file: string;
  readonly auth: AuthStore;
  readonly webhooks: WebhookStore;

  constructor(options: SqliteStoreOptions) {
    const memory = options.file === ':memory:';
    // A throw-away file rather than SQLite's :memory:, so the reader and the writer share one database.
    this.tempDir = memory ? mkdtempSync(path.join(os.tmpdir(), 'carte-mem-')) : null;
    this.file = this.tempDir ? path.join(this.tempDir, 'carte.db') : options.file;
    this.writer = new Database(this.file);
    this.writer.pragma('journal_mode = WAL');
    this.writer.pragma(`synchronous = ${memory ? 'OFF' : (options.durability ?? 'full').toUpperCase()}`);
    this.writer.pragma('foreign_keys = ON');
    this.writer.pragma('busy_timeout = 5000');
    for (const sql of INTERNAL_TABLES) this.writer.exec(sql);
    this.reader = new Database(this.file);
    this.reader.pragma('busy_timeout = 5000');
    this.reader.pragma('query_only = 1');
    const threshold = options.estimateThreshold ?? 1000;
    this.mergeDelayMs = options.searchMergeDelayMs ?? MERGE_DELAY_MS;
    this.writeSession = new SqliteSession(this.writer, () => this.codecs, this.stats, threshold);
    this.readSession = new SqliteSession(this.reader, () => this.codecs, this.stats, threshold, { remembersSuggestions: true });
    this.begin = this.writer.prepare('BEGIN IMMEDIATE');
    this.commit = this.writer.prepare('COMMIT');
    this.rollback = this.writer.prepare('ROLLBACK');
    this.savepoint = this.writer.prepare('SAVEPOINT carte_tx');
    this.release = this.writer.prepare('RELEASE carte_tx');
    this.rollbackToSavepoint = this.writer.prepare('ROLLBACK TO carte_tx');
    this.auth = new SqliteAuthStore(this.writer, this.reader, (fn) =>
      this.queue.run(async () => {
        if (this.closed) throw new Error('the store is closed');
        return fn();
      }),
    );
    this.writer.exec(WEBHOOK_TABLES_SQL);
    this.webhooks = this.openWebhooks();
  }

  /** Webhook tables: reads on the reader; writes queued behind the resource writes on the writer (not counted in `stats`). */
  private openWebhooks(): WebhookStore {
    const cache = new Map<string, Database.Statement>();
    const prepare = (db: Database.Database) => (sql: string) => {
      const key = `${db === this.writer ? 'w' : 'r'}:${sql}`;
      let stmt = cache.get(key);
      if (!stmt) cache.set(key, (stmt = db.prepare(sql)));
      return stmt;
    };
    const read = sqliteRun(prepare(this.reader));
    const write = sqliteRun(prepare(this.writer));
    const open = () => {
      if (this.closed) throw new Error('the store is closed');
    };
    const run: SqlRun = (sql, params) =>
      /^\s*SELECT/i.test(sql) ? (open(), read(sql, params)) : this.queue.run(async () => (open(), write(sql, params)));
    return new SqlWebhookStore({
      run,
      claimSql: SQLITE_CLAIM_SQL,
      transaction: (fn) =>
        this.queue.run(async () => {
          open();
          this.begin.run();
          try {
            const result = await fn(write);
            this.commit.run();
            return result;
          } catch (e) {
            if (this.writer.inTransaction) this.rollback.run();
            throw e;
          }
        }),
    });
  }

  async planMigration(model: ApiModel): Promise<MigrationPlan> {
    return planSqliteMigration(this.writer, model);
  }

  async applyMigration(plan: MigrationPlan, options: { allowDestructive?: boolean } = {}): Promise<void> {
    const destructive = plan.steps.filter((s) => s.destructive);
    if (destructive.length > 0 && !options.allowDestructive) throw new DestructiveMigrationError(destructive);
    if (plan.steps.length === 0) return;
    const rebuilds = plan.steps.some((s) => s.kind === 'changeColumn');
    await this.queue.run(async () => {
      // A table rebuild drops and renames tables that others reference: foreign keys are
      // switched off around it (only possible outside a transaction) and checked after.
      if (rebuilds) this.writer.pragma('foreign_keys = OFF');
      try {
        this.writer.transaction(() => {
          for (const step of plan.steps) {
            for (const sql of step.sql) {
              const reindex = /^-- carte:reindex (.+)$/.exec(sql);
              if (reindex) this.reindexLater.add(reindex[1] as string);
              else this.writer.exec(sql);
            }
          }
          if (rebuilds) {
            const problems = this.writer.pragma('foreign_key_check') as unknown[];
            if (problems.length > 0) throw new Error(`the migration would leave ${problems.length} dangling references`);
          }
        })();
      } finally {
        if (rebuilds) this.writer.pragma('foreign_keys = ON');
      }
    });
  }

  private readonly reindexLater = new Set<string>();

  attach(model: ApiModel): void {
    // Carte's own tables (the event log) exist whatever the schema.
    for (const sql of EVENT_TABLES_SQL) this.writer.exec(sql);
    const codecs = new Map<string, ResourceCodec>();
    for (const resource of model.resources.values()) {
      const columns = resource.fieldList.map((f) => [f.name, kindOf(f)] as const);
      codecs.set(resource.name, {
        resource,
        table: tableName(resource.name),
        byIdSql: `SELECT * FROM ${quote(tableName(resource.name))} WHERE "id" = ?`,
        columns,
        decode: compileDecoder(columns),
        search: new SqliteSearchIndex(
          resource,
          (sql, params) => this.writeSession.run(sql, params),
          (sql, params) => this.writeSession.prepare(sql).get(...params) as Record<string, unknown> | undefined,
        ),
      });
    }
    this.codecs = codecs;
    for (const name of this.reindexLater) {
      const codec = codecs.get(name);
      if (codec) this.writer.transaction(() => codec.search.reindex(this.writer))();
    }
    this.reindexLater.clear();
    // A file written before (by a burst of writes, or an earlier version) may hold many segments.
    this.mergeSearchLater();
  }

  /** (Re)starts the wait before merging the search indexes: each commit that changed one pushes it back. */
  private mergeSearchLater(): void {
    if (this.closed) return;
    if (this.mergeTimer) clearTimeout(this.mergeTimer);
    this.mergeTimer = setTimeout(() => {
      this.mergeTimer = null;
      // Merging only makes lookups faster; a failure (a full disk) leaves the indexes as they were.
      this.mergeSearch().catch(() => undefined);
    }, this.mergeDelayMs);
    this.mergeTimer.unref();
  }

  /** The merge of the search indexes under way, if one is. */
  get searchMerge(): Promise<void> | null {
    return this.#searchMerge;
  }

  /**
   * Merges each search index's segments into one, a bounded step per write transaction, queued
   * with the writes (a write waits for one step at most). Joins the merge under way, if any.
   */
  mergeSearch(): Promise<void> {
    this.#searchMerge ??= this.mergeSearchSteps().finally(() => {
      this.#searchMerge = null;
    });
    return this.#searchMerge;
  }

  private async mergeSearchSteps(): Promise<void> {
    for (const codec of this.codecs.values()) {
      for (const table of codec.search.ftsTables) {
        for (let first = true, more = true; more; first = false) {
          more = await this.queue.run(async () => !this.closed && this.writer.transaction(() => mergeStep(this.writer, table, MERGE_PAGES, first))());
        }
      }
    }
  }

  transaction<T>(fn: (tx: StoreWriter) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: GroupEntry = { fn, resolve: resolve as (value: unknown) => void, reject };
      if (this.forming && this.forming.length < GROUP_LIMIT) {
        this.forming.push(entry);
        return;
      }
      const group = [entry];
      this.forming = group;
      void this.queue.run(async () => {
        // One turn of the event loop first: requests already received (the sockets read in
        // this turn) reach their transactions and join the group.
        await new Promise((resolve) => setImmediate(resolve));
        if (this.forming === group) this.forming = null;
        await this.runGroup(group);
      });
    });
  }

  /** One `BEGIN IMMEDIATE … COMMIT` for a group; a savepoint per transaction when there are several. */
  private async runGroup(group: readonly GroupEntry[]): Promise<void> {
    if (this.closed) {
      for (const entry of group) entry.reject(new Error('the store is closed'));
      return;
    }
    const several = group.length > 1;
    this.writeSession.searchApplied = false;
    /** Done, waiting for the commit. */
    let done: { entry: GroupEntry; result: unknown }[] = [];
    for (const entry of group) {
      if (!this.writer.inTransaction) {
        this.begin.run();
        this.stats.statements++;
      }
      if (several) this.savepoint.run();
      const searchBefore = several ? this.writeSession.searchSavepoint() : undefined;
      try {
        const result = await entry.fn(this.writeSession);
        if (several) this.release.run();
        done.push({ entry, result });
      } catch (e) {
        if (this.writer.inTransaction) {
          if (several) {
            this.rollbackToSavepoint.run();
            this.release.run();
          } else this.rollback.run();
          this.writeSession.rollbackSearch(searchBefore);
        } else {
          // SQLite ended the whole transaction itself (an I/O error, a full disk): the
          // group's earlier work went with it, so those transactions fail too.
          for (const d of done) d.entry.reject(e);
          done = [];
          this.writeSession.rollbackSearch();
        }
        entry.reject(e);
      }
    }
    if (!this.writer.inTransaction) return;
    if (done.length === 0) {
      this.rollback.run();
      this.writeSession.rollbackSearch();
      return;
    }
    try {
      // The group's search-index changes, together: one new segment per index (see SearchChange).
      this.writeSession.applySearchChanges();
      this.commit.run();
      this.stats.statements++;
    } catch (e) {
      if (this.writer.inTransaction) this.rollback.run();
      this.writeSession.rollbackSearch();
      for (const d of done) d.entry.reject(e);
      return;
    }
    if (this.writeSession.searchApplied) this.mergeSearchLater();
    for (const d of done) d.entry.resolve(d.result);
  }

  get(resource: string, id: Key): Row | undefined {
    return this.readSession.get(resource, id);
  }
  read(plan: ReadPlan): Promise<ReadResult> {
    return this.readSession.read(plan);
  }
  count(resource: string, where: Condition): Promise<number> {
    return this.readSession.count(resource, where);
  }
  suggest(resource: string, word: string, limit: number, close: boolean): Promise<Suggestion[]> {
    return this.readSession.suggest(resource, word, limit, close);
  }
  searchWords(targets: readonly SearchTarget[], words: readonly string[], offset: number, limit: number) {
    return this.readSession.searchWords(targets, words, offset, limit);
  }

  async readEvents(plan: EventReadPlan): Promise<EventReadResult> {
    // One read transaction: the head, the page and the count see the same snapshot.
    return this.reader.transaction(() => readEvents((sql) => this.readSession.prepare(sql), plan))();
  }

  purgeEvents(before: string, batch: number): Promise<number> {
    return this.queue.run(async () => {
      if (this.closed) return 0;
      return this.writer.transaction(() => purgeEvents((sql) => this.writeSession.prepare(sql), before, batch))();
    });
  }

  idempotencyRecord(scope: string, key: string, now: Date): Promise<IdempotencyRecord | undefined> {
    return this.readSession.idempotencyRecord(scope, key, now);
  }

  purgeIdempotencyKeys(now: Date): Promise<number> {
    return this.queue.run(async () => {
      if (this.closed) return 0;
      return this.writer.prepare(`DELETE FROM ${IDEMPOTENCY} WHERE "expires_at" <= ?`).run(now.getTime()).changes;
    });
  }

  /** The reader, for adapters' own read-only queries (tests, import/export). */
  get readerSession(): StoreReader {
    return this.readSession;
  }

  async ping(): Promise<void> {
    this.reader.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.mergeTimer) clearTimeout(this.mergeTimer);
    this.mergeTimer = null;
    // Let queued transactions finish before the connections go.
    await this.queue.run(async () => undefined);
    this.closed = true;
    this.reader.close();
    this.writer.close();
    if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
  }
}
