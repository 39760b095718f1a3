/**
 * The PostgreSQL adapter of the Store: a `pg` pool; reads take any pooled connection and
 * see committed data; each write transaction holds one pooled connection from `BEGIN` to
 * `COMMIT`, which resolves only once PostgreSQL has made it durable.
 *
 * Writers are serialized, as on SQLite: in this process by a queue (so waiting writers
 * never hold pooled connections the running one might need), and across every Carte
 * process on the same schema by a transaction-scoped advisory lock taken right after
 * `BEGIN`. Under it, READ COMMITTED reads inside a transaction see every earlier commit
 * and nothing changes behind them, so the service's read-check-write sequences (If-Match,
 * references, state transitions, restrict/cascade deletes) stay correct without retries.
 * Reads never wait for writers (MVCC).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { ApiModel, FieldModel, ResourceModel } from '../../schema/types.js';
import { wordsOf } from '../../query/text.js';
import {
  DestructiveMigrationError,
  StoreConflictError,
  StoreValueError,
  type Condition,
  type Key,
  type MigrationPlan,
  type ReadPlan,
  type ReadResult,
  type Row,
  type SearchTarget,
  type Store,
  type StoreStats,
  type StoreWriter,
  type Suggestion,
  type WordHit,
  type EventReadPlan,
  type EventReadResult,
  type IdempotencyClaim,
  type IdempotencyRecord,
  type NewEvent,
  type StoredEvent,
  type CommitHandlers,
  type CommitWatch,
} from '../store.js';
import { bind, compileCondition, compileRead, pgName, quote, tableName, type PatternSql } from './postgres-compiler.js';
import type { AuthStore } from '../auth-store.js';
import { AUTH_TABLES_SQL, PostgresAuthStore } from './postgres-auth-store.js';
import { appendEvent, EVENT_TABLES_SQL, purgeEvents, readEvents } from './postgres-events.js';
import { commitChannel, PostgresCommitWatch } from './postgres-notify.js';
import * as idempotency from './postgres-idempotency.js';
import { insertDeliveries, SqlWebhookStore, type NewDelivery, type WebhookStore } from '../webhook-store.js';
import { POSTGRES_CLAIM_SQL, postgresRun, WEBHOOK_TABLES_SQL } from './postgres-webhooks.js';
import { planPostgresMigration, readDatabaseShape } from './postgres-migrate.js';
import { PostgresSearchIndex, reindex, wordQuery, type SearchShape } from './postgres-search.js';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database?schema=NAME`; other parameters go to `pg`. */
  readonly url: string;
  /** `full` (default): commits wait for the WAL flush; `normal`/`off`: `synchronous_commit = off`. */
  readonly durability?: 'full' | 'normal' | 'off';
  /** Matches counted exactly before `count=estimated` asks the planner (SPEC §4.3). */
  readonly estimateThreshold?: number;
  /** Connections in the pool (reads run in parallel; writes use one at a time). */
  readonly poolSize?: number;
}

type Kind = 'plain' | 'integer' | 'json';

interface ResourceCodec {
  readonly resource: ResourceModel;
  readonly table: string;
  /** Field name, its column name (after `pgName`), its kind. */
  readonly columns: readonly (readonly [string, string, Kind])[];
  readonly integerKey: boolean;
  readonly search: PostgresSearchIndex;
}

function kindOf(field: FieldModel): Kind {
  if (field.type === 'integer') return 'integer';
  return field.type === 'array' || field.type === 'object' || field.type === 'blob' ? 'json' : 'plain';
}

/** The range of `bigint`. */
const INT64 = 2 ** 63;

/** A promise queue: this process's write transactions run one after another. */
class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** `bigint` and `numeric` come back as JS numbers (keys and counts are safe integers), as SQLite gives them. */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** A lock key for `pg_advisory_xact_lock`: a signed 64-bit digest of a name. */
function lockKey(name: string): string {
  return BigInt.asIntN(64, createHash('sha256').update(name).digest().readBigUInt64BE(0)).toString();
}

/** Serializes creating `pg_trgm`, which is per database, across schemas and processes. */
const EXTENSION_LOCK = lockKey('carte:create-extension');

type Run = (sql: string, params: unknown[]) => Promise<pg.QueryResult<Record<string, unknown>>>;

/** Row codecs and statements over one connection (a transaction) or the pool (reads). */
class PostgresSession implements StoreWriter {
  constructor(
    private readonly run: Run,
    private readonly codecs: () => ReadonlyMap<string, ResourceCodec>,
    private readonly stats: StoreStats,
    private readonly estimateThreshold: number,
    /** Where committed events are signalled (SPEC §10). */
    private readonly channel: string,
  ) {}

  async query(sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
    this.stats.statements++;
    return (await this.run(sql, params)).rows;
  }

  /** SPEC §7: the change's event, in the change's transaction. */
  appendEvent(event: NewEvent): Promise<StoredEvent> {
    return appendEvent((sql, params) => this.query(sql, params), event, this.channel);
  }

  // Idempotency keys (SPEC §4.7).
  private readonly boundQuery = (sql: string, params: unknown[]) => this.query(sql, params);

  idempotencyRecord(scope: string, key: string, now: Date): Promise<IdempotencyRecord | undefined> {
    return idempotency.idempotencyRecord(this.boundQuery, scope, key, now);
  }
  claimIdempotencyKey(claim: IdempotencyClaim): Promise<IdempotencyRecord | null> {
    return idempotency.claimIdempotencyKey(this.boundQuery, claim);
  }
  completeIdempotencyKey(scope: string, key: string, response: unknown, expiresAt: Date): Promise<void> {
    return idempotency.completeIdempotencyKey(this.boundQuery, scope, key, response, expiresAt);
  }
  releaseIdempotencyKey(scope: string, key: string): Promise<void> {
    return idempotency.releaseIdempotencyKey(this.boundQuery, scope, key);
  }

  /** SPEC §7: the webhooks outbox, in the change's transaction. */
  insertWebhookDeliveries(deliveries: readonly NewDelivery[]): Promise<void> {
    return insertDeliveries(
      postgresRun((sql, params) => {
        this.stats.statements++;
        return this.run(sql, params);
      }),
      deliveries,
    );
  }

  private codec(resource: string): ResourceCodec {
    const codec = this.codecs().get(resource);
    if (!codec) throw new Error(`unknown resource ${resource}`);
    return codec;
  }

  private decode(codec: ResourceCodec, raw: Record<string, unknown>): Row {
    const row: Row = { id: raw.id };
    for (const [name, column] of codec.columns) {
      const v = raw[column];
      row[name] = v === undefined ? null : v;
    }
    return row;
  }

  private encode(field: string, kind: Kind, value: unknown): unknown {
    if (value === undefined || value === null) return null;
    // JSON goes as its text (where U+0000 is an escape, which `json` keeps): `pg` would turn a JS array into a PostgreSQL array.
    if (kind === 'json') return JSON.stringify(value);
    if (typeof value === 'string' && value.includes('\u0000')) throw new StoreValueError(field, 'cannot hold the NUL character (U+0000)');
    if (kind === 'integer' && typeof value === 'number' && !(Math.abs(value) < INT64)) throw new StoreValueError(field, 'must be a 64-bit integer');
    return value;
  }

  /** The key as a parameter, or null when it cannot be a key of this resource (nothing has it). */
  private key(codec: ResourceCodec, id: Key): Key | null {
    if (codec.integerKey) return Number.isSafeInteger(id) ? id : null;
    return typeof id === 'string' && !id.includes('\u0000') ? id : null;
  }

  private patternSql(codec: ResourceCodec): PatternSql {
    return (field, pattern, params, alias) => codec.search.patternSql(field, pattern, params, alias);
  }

  private readonly searchQuery = (sql: string, params: unknown[]) => this.query(sql, params);

  async get(resource: string, id: Key): Promise<Row | undefined> {
    const codec = this.codec(resource);
    const key = this.key(codec, id);
    if (key === null) return undefined;
    const [raw] = await this.query(`SELECT * FROM ${quote(codec.table)} WHERE "id" = $1`, [key]);
    return raw ? this.decode(codec, raw) : undefined;
  }

  async read(plan: ReadPlan): Promise<ReadResult> {
    const codec = this.codec(plan.resource);
    const compiled = compileRead(plan, this.patternSql(codec));
    const raws = await this.query(compiled.select.sql, compiled.select.params);
    const rows = raws.map((r) => this.decode(codec, r));
    if (!compiled.count) return { rows, total: null, estimated: false };
    if (plan.partitionBy !== undefined) {
      const groups = await this.query(compiled.count.sql, compiled.count.params);
      return { rows, total: null, estimated: false, partitionTotals: new Map(groups.map((g) => [g.k, g.n as number])) };
    }
    // A page that is not full and starts at 0 already tells the total.
    if (plan.after === null && plan.offset === 0 && rows.length < plan.limit) {
      return { rows, total: rows.length, estimated: false };
    }
    if (plan.count === 'estimated') return { rows, ...(await this.estimate(codec, compiled.where.sql, compiled.where.params)) };
    const [counted] = await this.query(compiled.count.sql, compiled.count.params);
    return { rows, total: counted?.n as number, estimated: false };
  }

  /**
   * Exact up to the threshold; beyond it, the planner's estimate of the matching rows
   * (`EXPLAIN`, from `pg_class.reltuples` and the column statistics), never below what was counted.
   */
  private async estimate(codec: ResourceCodec, where: string, params: unknown[]): Promise<{ total: number; estimated: boolean }> {
    const cap = this.estimateThreshold;
    const table = quote(codec.table);
    const limited = [...params];
    const [counted] = await this.query(`SELECT count(*) AS n FROM (SELECT 1 FROM ${table} WHERE ${where} LIMIT ${bind(limited, cap + 1)}) AS "m"`, limited);
    const n = counted?.n as number;
    if (n <= cap) return { total: n, estimated: false };
    const [explained] = await this.query(`EXPLAIN (FORMAT JSON) SELECT 1 FROM ${table} WHERE ${where}`, params);
    const plan = (explained?.['QUERY PLAN'] as { Plan: { 'Plan Rows': number } }[] | undefined)?.[0]?.Plan;
    return { total: Math.max(n, Math.round(plan?.['Plan Rows'] ?? 0)), estimated: true };
  }

  async count(resource: string, where: Condition): Promise<number> {
    const codec = this.codec(resource);
    const params: unknown[] = [];
    const sql = compileCondition(where, params, this.patternSql(codec));
    const [counted] = await this.query(`SELECT count(*) AS n FROM ${quote(codec.table)} WHERE ${sql}`, params);
    return counted?.n as number;
  }

  suggest(resource: string, word: string, limit: number, close: boolean): Promise<Suggestion[]> {
    return this.codec(resource).search.suggest(this.searchQuery, word, limit, close);
  }

  async searchWords(targets: readonly SearchTarget[], words: readonly string[], offset: number, limit: number): Promise<{ hits: WordHit[]; total: number }> {
    const folded = words.flatMap((w) => wordsOf(w));
    if (folded.length === 0) return { hits: [], total: 0 };
    const hits: WordHit[] = [];
    let total = 0;
    for (const { resource, where } of targets) {
      const codec = this.codec(resource);
      if (!codec.search.enabled) continue;
      const s = quote(codec.search.shape.patterns);
      const params: unknown[] = [];
      const match = bind(params, wordQuery(folded), 'tsquery');
      const cond = compileCondition(where, params, this.patternSql(codec), 't.');
      const from = `FROM ${s} AS "s" JOIN ${quote(codec.table)} AS "t" ON "t"."id" = "s"."id" WHERE "s"."_words" @@ ${match} AND ${cond}`;
      const [counted] = await this.query(`SELECT count(*) AS n ${from}`, params);
      const n = counted?.n as number;
      total += n;
      if (n === 0) continue;
      const rows = await this.query(`SELECT "t"."id" AS id, ts_rank("s"."_words", ${match}) AS rank ${from} ORDER BY rank DESC, "t"."id" LIMIT ${bind(params, offset + limit)}`, params);
      for (const r of rows) hits.push({ resource, id: r.id as Key, score: Math.round((r.rank as number) * 1000) / 1000 });
    }
    hits.sort((a, b) => b.score - a.score || a.resource.localeCompare(b.resource) || String(a.id).localeCompare(String(b.id), undefined, { numeric: true }));
    return { hits: hits.slice(offset, offset + limit), total };
  }

  async insert(resource: string, values: Row): Promise<Row> {
    const codec = this.codec(resource);
    const names: string[] = [];
    const params: unknown[] = [];
    const explicit = values.id !== undefined && values.id !== null;
    if (explicit) {
      names.push('"id"');
      params.push(values.id);
    }
    for (const [name, , kind] of codec.columns) {
      if (!(name in values)) continue;
      names.push(quote(name));
      params.push(this.encode(name, kind, values[name]));
    }
    const sql = names.length
      ? `INSERT INTO ${quote(codec.table)} (${names.join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING *`
      : `INSERT INTO ${quote(codec.table)} DEFAULT VALUES RETURNING *`;
    const [raw] = await this.guard(codec, () => this.query(sql, params));
    if (explicit && codec.integerKey) {
      // As SQLite's AUTOINCREMENT: a chosen key moves the next assigned one past it.
      // Writers are serialized, so nothing draws from the sequence in between.
      await this.query(
        `SELECT setval(s::regclass, $2) FROM pg_get_serial_sequence($1, 'id') AS s WHERE $2 > coalesce(pg_sequence_last_value(s::regclass), 0)`,
        [quote(codec.table), values.id],
      );
    }
    const row = this.decode(codec, raw as Record<string, unknown>);
    if (codec.search.enabled) await codec.search.insert(this.searchQuery, row.id, row);
    return row;
  }

  async update(resource: string, id: Key, values: Row): Promise<Row | undefined> {
    const codec = this.codec(resource);
    const key = this.key(codec, id);
    if (key === null) return undefined;
    const sets: string[] = [];
    const params: unknown[] = [];
    for (const [name, , kind] of codec.columns) {
      if (!(name in values)) continue;
      sets.push(`${quote(name)} = ${bind(params, this.encode(name, kind, values[name]))}`);
    }
    if (sets.length === 0) return this.get(resource, id);
    const reindex = codec.search.enabled && codec.search.touches(values);
    const before = reindex ? await this.get(resource, id) : undefined;
    const sql = `UPDATE ${quote(codec.table)} SET ${sets.join(', ')} WHERE "id" = ${bind(params, key)} RETURNING *`;
    const [raw] = await this.guard(codec, () => this.query(sql, params));
    if (!raw) return undefined;
    const row = this.decode(codec, raw);
    if (reindex && before) {
      await codec.search.remove(this.searchQuery, row.id, before);
      await codec.search.insert(this.searchQuery, row.id, row);
    }
    return row;
  }

  async delete(resource: string, id: Key): Promise<boolean> {
    const codec = this.codec(resource);
    const key = this.key(codec, id);
    if (key === null) return false;
    const [raw] = await this.guard(codec, () => this.query(`DELETE FROM ${quote(codec.table)} WHERE "id" = $1 RETURNING *`, [key]));
    if (!raw) return false;
    if (codec.search.enabled) await codec.search.remove(this.searchQuery, raw.id, this.decode(codec, raw));
    return true;
  }

  /**
   * Maps constraint failures to StoreConflictError; the service turns them into 409s.
   * On PostgreSQL the failed statement also aborts the transaction: the error must end it.
   */
  private async guard<T>(codec: ResourceCodec, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const error = e as { code?: string; detail?: string };
      if (error.code === '23505') {
        // detail: Key (email)=(ann@example.com) already exists.
        const columns = /^Key \((.*?)\)=\(/.exec(error.detail ?? '')?.[1]?.split(', ').map((c) => c.replace(/^"(.*)"$/, '$1').replace(/""/g, '"')) ?? [];
        const byColumn = new Map(codec.columns.map(([name, column]) => [column, name]));
        throw new StoreConflictError('unique', columns.map((c) => byColumn.get(c) ?? c));
      }
      if (error.code === '23503') throw new StoreConflictError('reference', []);
      throw e;
    }
  }
}

/** Parses the URL: `?schema=` becomes the connections' `search_path`; the rest goes to `pg`. */
function connection(options: PostgresStoreOptions): { connectionString: string; schema: string | null } {
  const url = new URL(options.url);
  const schema = url.searchParams.get('schema');
  url.searchParams.delete('schema');
  if (schema !== null && !/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/.test(schema)) {
    throw new Error(`The schema in the database URL must be a plain name (letters, digits, _, $, -), got '${schema}'.`);
  }
  // Startup options (the URL's `options` wins over pg's config fields, so ours go there too).
  const startup = [url.searchParams.get('options') ?? ''];
  if (schema !== null) startup.push(`-c search_path="${schema}"`);
  if (options.durability === 'normal' || options.durability === 'off') startup.push('-c synchronous_commit=off');
  const joined = startup.filter(Boolean).join(' ');
  if (joined) url.searchParams.set('options', joined);
  return { connectionString: url.toString(), schema };
}

/** The webhook store on the pool: each write transaction on a connection of its own. */
function openWebhooks(pool: pg.Pool): WebhookStore {
  return new SqlWebhookStore({
    run: postgresRun((sql, params) => pool.query(sql, params)),
    claimSql: POSTGRES_CLAIM_SQL,
    transaction: async (fn) => {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await fn(postgresRun((sql, params) => client.query(sql, params)));
        await client.query('COMMIT');
        return result;
      } catch (e) {
        await client.query('ROLLBACK').catch((r: Error) => {
          broken = r;
        });
        throw e;
      } finally {
        client.release(broken);
      }
    },
  });
}

export class PostgresStore implements Store {
  readonly dialect = 'postgres';
  readonly capabilities = { estimatedCount: true };
  readonly stats: StoreStats = { statements: 0 };
  private readonly queue = new WriteQueue();
  private codecs = new Map<string, ResourceCodec>();
  private readonly readSession: PostgresSession;
  private readonly channel: string;
  private readonly watches = new Set<CommitWatch>();
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    /** The schema tables live in (`current_schema()`). */
    readonly schema: string,
    private readonly estimateThreshold: number,
    /** Clients, API keys, tokens and signing keys (SPEC §8). */
    readonly auth: AuthStore,
    /** For the LISTEN connection of `watchCommits`. */
    private readonly connectionString: string,
  ) {
    this.webhooks = openWebhooks(pool);
    this.writeLock = lockKey(`carte:write:${schema}`);
    this.channel = commitChannel(schema);
    this.readSession = new PostgresSession((sql, params) => this.pool.query(sql, params), () => this.codecs, this.stats, estimateThreshold, this.channel);
  }

  /** Webhook endpoints and the delivery outbox; their writes are short transactions of their own, outside the write lock. */
  readonly webhooks: WebhookStore;

  /** Per schema: Carte instances serving one schema serialize their writes on it. */
  private readonly writeLock: string;

  /** Connects, creating the URL's `?schema=` if it does not exist yet. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const { connectionString, schema } = connection(options);
    const pool = new pg.Pool({ connectionString, max: options.poolSize ?? 10, types: TYPES });
    // An idle connection the server drops (restart, timeout) must not crash the process;
    // the next query on the pool opens a fresh one.
    pool.on('error', () => undefined);
    try {
      if (schema !== null) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${quote(schema)}`);
      const { rows } = await pool.query<{ schema: string | null }>('SELECT current_schema() AS schema');
      const current = rows[0]?.schema;
      if (!current) throw new Error('No schema to create tables in: the search_path names no existing schema (add ?schema=NAME to the URL).');
      await createLocked(pool, lockKey(`carte:internal:${current}`), `${AUTH_TABLES_SQL}\n${EVENT_TABLES_SQL}\n${idempotency.IDEMPOTENCY_TABLES_SQL}\n${WEBHOOK_TABLES_SQL}`);
      return new PostgresStore(pool, current, options.estimateThreshold ?? 1000, new PostgresAuthStore(pool), connectionString);
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
  }

  async planMigration(model: ApiModel): Promise<MigrationPlan> {
    const shape = await readDatabaseShape(async (sql, params = []) => (await this.pool.query(sql, params)).rows);
    return planPostgresMigration(shape, model);
  }

  async applyMigration(plan: MigrationPlan, options: { allowDestructive?: boolean } = {}): Promise<void> {
    const destructive = plan.steps.filter((s) => s.destructive);
    if (destructive.length > 0 && !options.allowDestructive) throw new DestructiveMigrationError(destructive);
    if (plan.steps.length === 0) return;
    await this.inTransaction(async (query) => {
      for (const step of plan.steps) {
        for (const sql of step.sql) {
          const marker = /^-- carte:reindex (.+)$/.exec(sql);
          if (marker) {
            await reindex(query, JSON.parse(marker[1] as string) as SearchShape);
            continue;
          }
          if (sql.startsWith('CREATE EXTENSION')) {
            await query(`SELECT pg_advisory_xact_lock(${EXTENSION_LOCK})`, []);
            try {
              await query(sql, []);
            } catch (e) {
              throw new Error(`Search needs the pg_trgm extension and Carte could not create it (${(e as Error).message}); run CREATE EXTENSION pg_trgm; once in this database as a superuser.`, { cause: e });
            }
            continue;
          }
          await query(sql, []);
        }
      }
    });
  }

  attach(model: ApiModel): void {
    const codecs = new Map<string, ResourceCodec>();
    for (const resource of model.resources.values()) {
      codecs.set(resource.name, {
        resource,
        table: tableName(resource.name),
        columns: resource.fieldList.map((f) => [f.name, pgName(f.name), kindOf(f)] as const),
        integerKey: resource.key.type === 'integer',
        search: new PostgresSearchIndex(resource),
      });
    }
    this.codecs = codecs;
  }

  /** BEGIN, the write lock, `fn`, COMMIT — on one pooled connection, one writer at a time. */
  private inTransaction<T>(fn: (query: (sql: string, params: unknown[]) => Promise<Record<string, unknown>[]>, run: Run) => Promise<T>): Promise<T> {
    return this.queue.run(async () => {
      if (this.closed) throw new Error('the store is closed');
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${this.writeLock})`);
        this.stats.statements += 2;
        const run: Run = (sql, params) => client.query(sql, params);
        const result = await fn(async (sql, params) => {
          this.stats.statements++;
          return (await run(sql, params)).rows;
        }, run);
        await client.query('COMMIT');
        this.stats.statements++;
        return result;
      } catch (e) {
        await client.query('ROLLBACK').catch((r: Error) => {
          broken = r; // the connection is unusable: the pool replaces it
        });
        throw e;
      } finally {
        client.release(broken);
      }
    });
  }

  transaction<T>(fn: (tx: StoreWriter) => Promise<T>): Promise<T> {
    return this.inTransaction((_query, run) => fn(new PostgresSession(run, () => this.codecs, this.stats, this.estimateThreshold, this.channel)));
  }

  get(resource: string, id: Key): Promise<Row | undefined> {
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

  /** Reads the event log in one snapshot, so the head, the page and the count agree. */
  async readEvents(plan: EventReadPlan): Promise<EventReadResult> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const result = await readEvents(async (sql, params) => {
        this.stats.statements++;
        return (await client.query(sql, params)).rows as Record<string, unknown>[];
      }, plan);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  purgeEvents(before: string, batch: number): Promise<number> {
    return this.inTransaction((query) => purgeEvents(query, before, batch));
  }

  idempotencyRecord(scope: string, key: string, now: Date): Promise<IdempotencyRecord | undefined> {
    return this.readSession.idempotencyRecord(scope, key, now);
  }

  purgeIdempotencyKeys(now: Date): Promise<number> {
    return this.inTransaction((query) => idempotency.purgeIdempotencyKeys(query, now));
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  /** SPEC §10: one dedicated LISTEN connection hears the commits of every process on this schema. */
  watchCommits(handlers: CommitHandlers): CommitWatch {
    const watch = new PostgresCommitWatch({ connectionString: this.connectionString, schema: this.schema, handlers });
    this.watches.add(watch);
    return {
      get isConnected() {
        return watch.isConnected;
      },
      get reconnects() {
        return watch.reconnects;
      },
      close: async () => {
        this.watches.delete(watch);
        await watch.close();
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Let queued transactions finish before the connections go.
    await this.queue.run(async () => undefined);
    this.closed = true;
    await Promise.all([...this.watches].map((w) => w.close()));
    this.watches.clear();
    await this.pool.end();
  }
}

/** Creates Carte's internal tables once per schema: concurrent starts wait on an advisory lock. */
async function createLocked(pool: pg.Pool, lock: string, sql: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(${lock})`);
    await client.query(sql);
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}
