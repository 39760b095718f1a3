/**
 * The one suite every Store adapter runs (STYLE habit 6): the same plans in, the same
 * decoded rows out, on SQLite and on PostgreSQL. `test/store-sqlite.test.ts` and
 * `test/store-postgres.test.ts` run it; a new adapter runs it too.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { loadSchemaObject } from '../src/schema/load.js';
import type { ApiModel, ApiSpec } from '../src/schema/types.js';
import type { OpenOptions } from '../src/store/open.js';
import {
  DestructiveMigrationError,
  StoreConflictError,
  type ColumnRef,
  type Condition,
  type Key,
  type OrderKey,
  type ReadPlan,
  type Row,
  type Store,
} from '../src/store/store.js';
import type { SqliteStore } from '../src/store/sqlite/sqlite-store.js';

export interface TestStore {
  readonly store: Store;
  /** Opens another store on the same database (a restart, or a second instance). */
  reopen(options?: OpenOptions): Promise<Store>;
  /** Closes `store` and removes the database. */
  dispose(): Promise<void>;
}

export interface StoreSuiteOptions {
  readonly name: string;
  /** A store on a fresh, empty database. */
  newStore(options?: OpenOptions): Promise<TestStore>;
  /** Several stores (processes) may write to one database at once (PostgreSQL; SQLite has one writer process). */
  readonly manyWriters: boolean;
}

const spec: ApiSpec = {
  api: { name: 'Suite' },
  resources: {
    owners: { access: 'public', fields: { name: { type: 'string', search: true } } },
    items: {
      access: 'public',
      fields: {
        name: { type: 'string', search: true },
        code: { type: 'string', index: 'unique' },
        score: { type: 'number', index: true },
        count: { type: 'integer' },
        active: { type: 'boolean' },
        tags: { type: 'array', items: { type: 'string' } },
        sizes: { type: 'array', items: { type: 'integer' } },
        meta: { type: 'object', properties: { city: { type: 'string' }, n: { type: 'integer' }, ok: { type: 'boolean' } } },
        ownerId: { type: 'integer', references: 'owners' },
        createdAt: { type: 'string', format: 'date-time', readOnly: true },
      },
      indexes: [['active', 'score']],
    },
    tokens: { access: 'public', key: { type: 'string', format: 'uuid' }, fields: { label: { type: 'string' } } },
  },
};

function model(s: ApiSpec = spec): ApiModel {
  return loadSchemaObject(s).model;
}

async function migrate(store: Store, m: ApiModel): Promise<void> {
  await store.applyMigration(await store.planMigration(m));
  store.attach(m);
}

const col = (field: string, leafType: ColumnRef['leafType'] = 'string', path: string[] = [], array = false): ColumnRef => ({ field, path, leafType, array });
const ID = col('id', 'integer');
const asc = (column: ColumnRef): OrderKey => ({ column, descending: false });
const desc = (column: ColumnRef): OrderKey => ({ column, descending: true });

function plan(where: Condition, more: Partial<ReadPlan> = {}): ReadPlan {
  return { resource: 'items', where, order: [asc(ID)], offset: 0, limit: 100, after: null, count: 'exact', ...more };
}

/** Ten items covering every kind of value, nulls included. */
const ITEMS: Row[] = [
  { name: 'Pizzeria Napoli', code: 'A1', score: 4.5, count: 10, active: true, tags: ['red', 'green'], sizes: [1, 2], meta: { city: 'Paris', n: 3, ok: true }, ownerId: 1 },
  { name: 'Napolitano', code: 'A2', score: 3, count: -2, active: false, tags: ['blue'], sizes: [3], meta: { city: 'Lyon', n: 10, ok: false }, ownerId: 1 },
  { name: 'Le Napolitain', code: 'b3', score: null, count: 0, active: true, tags: [], sizes: null, meta: { city: null, n: null }, ownerId: 2 },
  { name: 'Jardin de Pékin', code: 'B4', score: 1.25, count: 7, active: null, tags: ['red'], sizes: [2], meta: null, ownerId: 2 },
  { name: 'Crème brûlée 100%_pure', code: 'é5', score: 4.5, count: null, active: true, tags: null, sizes: [], meta: { city: 'paris' }, ownerId: null },
  { name: 'zèbre', code: null, score: -1, count: 9007199254740991, active: false, tags: ['Red'], sizes: [10], meta: { city: 'Étretat', n: 1, ok: true }, ownerId: 3 },
  { name: null, code: 'C7', score: 0, count: 1, active: true, tags: ['green'], sizes: [1], meta: { n: 2 }, ownerId: 3 },
  { name: 'Bistrot', code: 'c8', score: 2, count: 3, active: false, tags: ['blue', 'red'], sizes: null, meta: { city: 'Lille', n: 3, ok: false }, ownerId: 1 },
  { name: 'Wok Express', code: 'D9', score: 2, count: 3, active: true, tags: ['green', 'blue'], sizes: [2, 3], meta: { city: 'Paris', n: 4, ok: true }, ownerId: null },
  { name: 'Napoli Napoli', code: 'D10', score: 5, count: 100, active: true, tags: ['red'], sizes: [5], meta: { city: 'Nice', n: 5, ok: true }, ownerId: 2 },
];

const ids = (rows: readonly Row[]) => rows.map((r) => r.id);

export function runStoreSuite(options: StoreSuiteOptions): void {
  describe(`store suite: ${options.name}`, () => {
    let t: TestStore;
    let store: Store;
    before(async () => {
      t = await options.newStore();
      store = t.store;
      await migrate(store, model());
      await store.transaction(async (tx) => {
        for (const name of ['Ann', 'Bob', 'Chloé']) await tx.insert('owners', { name });
        for (const [i, item] of ITEMS.entries()) await tx.insert('items', { ...item, createdAt: `2024-01-0${Math.min(i + 1, 9)}T10:00:00.000Z` });
      });
    });
    after(() => t.dispose());

    const read = async (where: Condition, more: Partial<ReadPlan> = {}) => (await store.read(plan(where, more))).rows;
    const which = async (where: Condition) => ids(await read(where));

    describe('CRUD and decoding', () => {
      test('inserts assign increasing keys and return the stored row, decoded', async () => {
        const row = await store.get('items', 1);
        assert.deepEqual(row, { id: 1, ...ITEMS[0], createdAt: '2024-01-01T10:00:00.000Z' });
        assert.deepEqual(ids(await read({ kind: 'true' })), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      });

      test('values come back with their JSON types: booleans, integers, floats, JSON in its key order, nulls', async () => {
        const rows = await read({ kind: 'true' });
        for (const [i, row] of rows.entries()) {
          const expected = { id: i + 1, ...ITEMS[i], createdAt: `2024-01-0${Math.min(i + 1, 9)}T10:00:00.000Z` };
          assert.equal(JSON.stringify(row), JSON.stringify(expected), `item ${i + 1}`);
        }
        const big = rows[5] as Row;
        assert.equal(big.count, Number.MAX_SAFE_INTEGER);
        assert.equal(typeof big.score, 'number');
        assert.equal((rows[3] as Row).score, 1.25);
        assert.equal((rows[0] as Row).active, true);
        assert.equal((rows[1] as Row).active, false);
        assert.equal((rows[3] as Row).active, null);
      });

      test('a missing key reads as undefined, a key of the wrong type too', async () => {
        assert.equal(await store.get('items', 999), undefined);
        assert.equal(await store.get('items', 'abc'), undefined);
        assert.equal(await store.get('tokens', 5), undefined);
      });

      test('update writes the given fields only; delete reports whether a row went', async () => {
        const created = await store.transaction((tx) => tx.insert('items', { name: 'Temp', code: 'T1', meta: { b: 1, a: [true, null] } }));
        assert.equal(created.id, 11);
        assert.deepEqual(created.meta, { b: 1, a: [true, null] });
        const updated = await store.transaction((tx) => tx.update('items', created.id as Key, { score: 9.75, tags: ['x'], active: false }));
        assert.deepEqual(updated, { ...created, score: 9.75, tags: ['x'], active: false });
        assert.equal(await store.transaction((tx) => tx.update('items', 999, { score: 1 })), undefined);
        assert.deepEqual(await store.transaction((tx) => tx.update('items', created.id as Key, {})), updated, 'nothing to write: the row as it is');
        assert.equal(await store.transaction((tx) => tx.delete('items', created.id as Key)), true);
        assert.equal(await store.transaction((tx) => tx.delete('items', created.id as Key)), false);
        assert.equal(await store.get('items', created.id as Key), undefined);
      });

      test('a chosen key moves later assigned keys past it (AUTOINCREMENT); keys are never reused', async () => {
        const chosen = await store.transaction((tx) => tx.insert('items', { id: 500, name: 'Chosen' }));
        assert.equal(chosen.id, 500);
        const next = await store.transaction((tx) => tx.insert('items', { name: 'Next' }));
        assert.equal(next.id, 501);
        const lower = await store.transaction((tx) => tx.insert('items', { id: 200, name: 'Lower' }));
        assert.equal(lower.id, 200);
        const after = await store.transaction((tx) => tx.insert('items', { name: 'After' }));
        assert.equal(after.id, 502);
        await store.transaction(async (tx) => {
          for (const id of [500, 501, 200, 502]) await tx.delete('items', id);
        });
        assert.equal((await store.transaction((tx) => tx.insert('items', { name: 'Again' }))).id, 503);
        await store.transaction((tx) => tx.delete('items', 503));
      });

      test('string keys are stored and returned as given', async () => {
        const id = '0b0f8a3e-3c1c-4b8e-9a55-53e1a1b2c3d4';
        const row = await store.transaction((tx) => tx.insert('tokens', { id, label: 'one' }));
        assert.deepEqual(row, { id, label: 'one' });
        assert.deepEqual(await store.get('tokens', id), row);
        assert.equal(await store.get('tokens', id.toUpperCase()), undefined, 'keys compare exactly');
      });
    });

    describe('conditions', () => {
      const name = col('name');
      const score = col('score', 'number');
      const count = col('count', 'integer');
      const active = col('active', 'boolean');

      test('true, false, and, or, not — empty lists included', async () => {
        assert.equal((await which({ kind: 'true' })).length, 10);
        assert.deepEqual(await which({ kind: 'false' }), []);
        assert.equal((await which({ kind: 'and', items: [] })).length, 10);
        assert.deepEqual(await which({ kind: 'or', items: [] }), []);
        const a: Condition = { kind: 'compare', column: score, op: '>=', value: 2 };
        const b: Condition = { kind: 'compare', column: active, op: '=', value: true };
        assert.deepEqual(await which({ kind: 'and', items: [a, b] }), [1, 5, 9, 10]);
        assert.deepEqual(await which({ kind: 'or', items: [a, b] }), [1, 2, 3, 5, 7, 8, 9, 10]);
        assert.deepEqual(await which({ kind: 'not', item: a }), [4, 6, 7], 'NOT of a comparison leaves NULLs out, as SQL does');
      });

      test('compare on integer, number, string and boolean columns, every operator', async () => {
        assert.deepEqual(await which({ kind: 'compare', column: count, op: '=', value: 3 }), [8, 9]);
        assert.deepEqual(await which({ kind: 'compare', column: count, op: '<>', value: 3 }), [1, 2, 3, 4, 6, 7, 10]);
        assert.deepEqual(await which({ kind: 'compare', column: count, op: '>', value: 10 }), [6, 10]);
        assert.deepEqual(await which({ kind: 'compare', column: count, op: '<', value: 1 }), [2, 3]);
        assert.deepEqual(await which({ kind: 'compare', column: score, op: '>=', value: 4.5 }), [1, 5, 10]);
        assert.deepEqual(await which({ kind: 'compare', column: score, op: '<=', value: 0 }), [6, 7]);
        assert.deepEqual(await which({ kind: 'compare', column: score, op: '>', value: 2.5 }), [1, 2, 5, 10]);
        assert.deepEqual(await which({ kind: 'compare', column: name, op: '<', value: 'N' }), [3, 4, 5, 8]);
        assert.deepEqual(await which({ kind: 'compare', column: name, op: '>', value: 'Z' }), [6], 'code-point order: lower case after every capital');
        assert.deepEqual(await which({ kind: 'compare', column: active, op: '=', value: false }), [2, 6, 8]);
        assert.deepEqual(await which({ kind: 'compare', column: active, op: '<>', value: false }), [1, 3, 5, 7, 9, 10]);
        assert.deepEqual(await which({ kind: 'compare', column: col('createdAt'), op: '>=', value: '2024-01-09' }), [9, 10], 'ISO strings compare as text');
      });

      test('values of another type never raise: numbers sort before text (SQLite type order)', async () => {
        assert.deepEqual(await which({ kind: 'compare', column: count, op: '<', value: 'abc' }), [1, 2, 3, 4, 6, 7, 8, 9, 10]);
        assert.deepEqual(await which({ kind: 'compare', column: count, op: '=', value: 'abc' }), []);
        assert.deepEqual(await which({ kind: 'compare', column: name, op: '>', value: 5 }), [1, 2, 3, 4, 5, 6, 8, 9, 10]);
        assert.deepEqual(await which({ kind: 'compare', column: count, op: '>', value: 3.5 }), [1, 4, 6, 10]);
        assert.deepEqual(await which({ kind: 'in', column: count, values: ['3', 3] }), [8, 9]);
        assert.deepEqual(await which({ kind: 'compare', column: active, op: '=', value: 1 }), [1, 3, 5, 7, 9, 10], 'booleans are 0/1');
      });

      test('text holding a NUL character equals nothing stored, orders by its bytes, and never raises', async () => {
        assert.deepEqual(await which({ kind: 'in', column: name, values: ['Bistrot\u0000'] }), []);
        assert.deepEqual(await which({ kind: 'in', column: name, values: ['Bistrot\u0000', 'Bistrot'] }), [8]);
        assert.deepEqual(await which({ kind: 'compare', column: name, op: '=', value: 'Bistrot\u0000x' }), []);
        assert.deepEqual(await which({ kind: 'compare', column: name, op: '>', value: 'Wok\u0000' }), [6, 9]);
        assert.deepEqual(await which({ kind: 'compare', column: name, op: '<', value: 'Wok\u0000' }), [1, 2, 3, 4, 5, 8, 10]);
        assert.equal(await store.get('tokens', 'abc\u0000'), undefined);
      });

      test('in: one value, several values, on the key and on text', async () => {
        assert.deepEqual(await which({ kind: 'in', column: ID, values: [3] }), [3]);
        assert.deepEqual(await which({ kind: 'in', column: ID, values: [9, 2, 5, 999] }), [2, 5, 9]);
        assert.deepEqual(await which({ kind: 'in', column: col('code'), values: ['A1', 'b3', 'é5', 'a1'] }), [1, 3, 5], 'exact, case-sensitive');
        assert.deepEqual(await which({ kind: 'in', column: score, values: [4.5, 2] }), [1, 5, 8, 9]);
        assert.deepEqual(await which({ kind: 'in', column: active, values: [false] }), [2, 6, 8]);
      });

      test('contains: an array column holding any of the values', async () => {
        const tags = col('tags', 'string', [], true);
        assert.deepEqual(await which({ kind: 'contains', column: tags, values: ['red'] }), [1, 4, 8, 10], 'case-sensitive: Red is another value');
        assert.deepEqual(await which({ kind: 'contains', column: tags, values: ['blue', 'green'] }), [1, 2, 7, 8, 9]);
        assert.deepEqual(await which({ kind: 'contains', column: col('sizes', 'integer', [], true), values: [2, 10] }), [1, 4, 6, 9]);
        assert.deepEqual(await which({ kind: 'not', item: { kind: 'contains', column: tags, values: ['red'] } }), [2, 3, 5, 6, 7, 9], 'no array: does not contain');
      });

      test('nested paths inside JSON: typed comparisons, null and missing alike', async () => {
        const city = col('meta', 'string', ['city']);
        const n = col('meta', 'integer', ['n']);
        const ok = col('meta', 'boolean', ['ok']);
        assert.deepEqual(await which({ kind: 'in', column: city, values: ['Paris'] }), [1, 9]);
        assert.deepEqual(await which({ kind: 'compare', column: n, op: '>=', value: 4 }), [2, 9, 10], 'numbers, not text: 10 > 4');
        assert.deepEqual(await which({ kind: 'compare', column: ok, op: '=', value: true }), [1, 6, 9, 10]);
        assert.deepEqual(await which({ kind: 'isNull', column: city }), [3, 4, 7], 'JSON null, a missing property and a NULL column');
        assert.deepEqual(await which({ kind: 'isNull', column: n }), [3, 4, 5]);
        assert.deepEqual(await which({ kind: 'like', column: city, pattern: 'PAR*' }), [1, 5, 9]);
      });

      test('isNull on columns of every kind', async () => {
        assert.deepEqual(await which({ kind: 'isNull', column: name }), [7]);
        assert.deepEqual(await which({ kind: 'isNull', column: score }), [3]);
        assert.deepEqual(await which({ kind: 'isNull', column: active }), [4]);
        assert.deepEqual(await which({ kind: 'isNull', column: col('tags', 'string', [], true) }), [5]);
        assert.deepEqual(await which({ kind: 'isNull', column: col('ownerId', 'integer') }), [5, 9]);
        assert.deepEqual(await which({ kind: 'not', item: { kind: 'isNull', column: col('code') } }), [1, 2, 3, 4, 5, 7, 8, 9, 10]);
      });

      test('like: whole value, * wildcard, ASCII case-insensitive, % and _ are plain characters', async () => {
        assert.deepEqual(await which({ kind: 'like', column: name, pattern: 'napoli*' }), [2, 10]);
        assert.deepEqual(await which({ kind: 'like', column: name, pattern: '*NAPOLI*' }), [1, 2, 3, 10]);
        assert.deepEqual(await which({ kind: 'like', column: name, pattern: 'napoli' }), [], 'the whole value must match');
        assert.deepEqual(await which({ kind: 'like', column: name, pattern: '*100%_pure' }), [5]);
        assert.deepEqual(await which({ kind: 'like', column: name, pattern: '*100__pure' }), []);
        assert.deepEqual(await which({ kind: 'like', column: name, pattern: '*%*' }), [5]);
        assert.deepEqual(await which({ kind: 'like', column: col('code'), pattern: 'é*' }), [5]);
      });

      test('pattern: the search index, whole value, case- and accent-insensitive', async () => {
        const pattern = (p: string): Condition => ({ kind: 'pattern', field: 'name', pattern: p });
        assert.deepEqual(await which(pattern('*napoli*')), [1, 2, 3, 10]);
        assert.deepEqual(await which(pattern('*PEKIN*')), [4]);
        assert.deepEqual(await which(pattern('zebre')), [6]);
        assert.deepEqual(await which(pattern('napoli')), []);
        assert.deepEqual(await which(pattern('*brulee 100%_pure')), [5], '% and _ are plain characters');
        assert.deepEqual(await which(pattern('*brulee 100x_pure')), []);
        assert.deepEqual(await which(pattern('n*i')), [10]);
        assert.deepEqual(await which({ kind: 'and', items: [pattern('*napol*'), { kind: 'compare', column: score, op: '>', value: 3 }] }), [1, 10]);
      });
    });

    describe('ordering and keyset paging', () => {
      const score = col('score', 'number');
      const name = col('name');

      test('NULLs first ascending, last descending; text in code-point order', async () => {
        assert.deepEqual(ids(await read({ kind: 'true' }, { order: [asc(score), asc(ID)] })), [3, 6, 7, 4, 8, 9, 2, 1, 5, 10]);
        assert.deepEqual(ids(await read({ kind: 'true' }, { order: [desc(score), asc(ID)] })), [10, 1, 5, 2, 8, 9, 4, 7, 6, 3]);
        assert.deepEqual(ids(await read({ kind: 'true' }, { order: [asc(name), asc(ID)] })), [7, 8, 5, 4, 3, 10, 2, 1, 9, 6]);
        assert.deepEqual(ids(await read({ kind: 'true' }, { order: [desc(ID)] })), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
        assert.deepEqual(ids(await read({ kind: 'true' }, { order: [asc(col('meta', 'integer', ['n'])), desc(ID)] })), [5, 4, 3, 6, 7, 8, 1, 9, 10, 2]);
      });

      test('offset and limit', async () => {
        assert.deepEqual(ids(await read({ kind: 'true' }, { order: [desc(score), asc(ID)], offset: 3, limit: 4 })), [2, 8, 9, 4]);
        assert.deepEqual(ids(await read({ kind: 'true' }, { offset: 20, limit: 5 })), []);
      });

      test('keyset cursors walk every order, mixed directions and NULLs included, like offsets do', async () => {
        const orders: OrderKey[][] = [
          [asc(ID)],
          [desc(ID)],
          [asc(score), asc(ID)],
          [desc(score), asc(ID)],
          [desc(col('active', 'boolean')), asc(score), desc(ID)],
          [asc(name), desc(ID)],
          [desc(col('meta', 'string', ['city'])), asc(ID)],
        ];
        for (const order of orders) {
          const all = ids(await read({ kind: 'true' }, { order }));
          const seen: unknown[] = [];
          let after: ReadPlan['after'] = null;
          for (let page = 0; page < 20; page++) {
            const rows = await read({ kind: 'true' }, { order, limit: 3, after, count: 'none' });
            if (rows.length === 0) break;
            seen.push(...ids(rows));
            const last = rows[rows.length - 1] as Row;
            after = order.map((k) => {
              let v: unknown = last[k.column.field];
              for (const p of k.column.path) v = v && typeof v === 'object' ? (v as Row)[p] : undefined;
              return (v ?? null) as string | number | boolean | null;
            });
          }
          assert.deepEqual(seen, all, JSON.stringify(order.map((k) => `${k.column.field}${k.descending ? ' desc' : ''}`)));
        }
      });

      test('partitioned reads: the first rows of each group, in order (batched embedding)', async () => {
        const owner = col('ownerId', 'integer');
        const rows = await read({ kind: 'in', column: owner, values: [1, 2, 3] }, { order: [desc(score), asc(ID)], limit: 2, count: 'none', partitionBy: 'ownerId' });
        assert.deepEqual(rows.map((r) => [r.ownerId, r.id]), [[1, 1], [1, 2], [2, 10], [2, 4], [3, 7], [3, 6]]);
        assert.ok(rows.every((r) => !('_carte_rn' in r)), 'no helper column leaks');
      });
    });

    describe('counts', () => {
      test('exact, none, and a short page that tells its own total', async () => {
        const active = col('active', 'boolean');
        assert.equal(await store.count('items', { kind: 'compare', column: active, op: '=', value: true }), 6);
        assert.equal(await store.count('items', { kind: 'false' }), 0);
        const page = await store.read(plan({ kind: 'true' }, { limit: 3 }));
        assert.deepEqual([page.total, page.estimated], [10, false]);
        const none = await store.read(plan({ kind: 'true' }, { limit: 3, count: 'none' }));
        assert.deepEqual([none.total, none.estimated], [null, false]);
        const short = await store.read(plan({ kind: 'true' }, { limit: 30 }));
        assert.deepEqual([short.total, short.rows.length], [10, 10]);
        const filtered = await store.read(plan({ kind: 'compare', column: active, op: '=', value: true }, { offset: 4, limit: 1 }));
        assert.deepEqual([filtered.total, ids(filtered.rows)], [6, [9]]);
      });

      test('estimated: exact up to the threshold, an estimate beyond it, said so', async () => {
        const small = await t.reopen({ estimateThreshold: 4 });
        try {
          small.attach(model());
          const below = await small.read(plan({ kind: 'in', column: ID, values: [1, 2, 3] }, { limit: 2, count: 'estimated' }));
          assert.deepEqual([below.total, below.estimated], [3, false], 'below the threshold the count is exact');
          const many = await small.read(plan({ kind: 'true' }, { limit: 2, count: 'estimated' }));
          assert.equal(many.estimated, true);
          assert.ok((many.total as number) >= 5, `an estimate never below what was counted (${many.total})`);
        } finally {
          await small.close();
        }
      });
    });

    describe('conflicts', () => {
      test('a unique index refuses a duplicate, naming the field; the transaction rolls back', async () => {
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.insert('items', { name: 'First of two', code: 'NEW' });
            await tx.insert('items', { name: 'Dup', code: 'A1' });
          }),
          (e: unknown) => e instanceof StoreConflictError && e.message === 'unique' && e.fields.join() === 'code',
        );
        assert.equal(await store.count('items', { kind: 'in', column: col('code'), values: ['NEW'] }), 0, 'nothing of the transaction stays');
        await assert.rejects(
          store.transaction((tx) => tx.update('items', 2, { code: 'A1' })),
          (e: unknown) => e instanceof StoreConflictError && e.fields.join() === 'code',
        );
      });

      test('a duplicate key is a conflict on id', async () => {
        await assert.rejects(
          store.transaction((tx) => tx.insert('items', { id: 1, name: 'Again' })),
          (e: unknown) => e instanceof StoreConflictError && e.message === 'unique' && e.fields.join() === 'id',
        );
      });

      test('references: a missing parent, and a parent still referred to, are conflicts', async () => {
        await assert.rejects(
          store.transaction((tx) => tx.insert('items', { name: 'Orphan', ownerId: 99 })),
          (e: unknown) => e instanceof StoreConflictError && e.message === 'reference',
        );
        await assert.rejects(
          store.transaction((tx) => tx.delete('owners', 1)),
          (e: unknown) => e instanceof StoreConflictError && e.message === 'reference',
        );
        assert.ok(await store.get('owners', 1));
      });
    });

    describe('search', () => {
      test('suggestions: words completing the word, then containing it, most frequent first', async () => {
        assert.deepEqual(await store.suggest('items', 'napoli', 5, false), [
          { word: 'napolitain', count: 1 },
          { word: 'napolitano', count: 1 },
        ]);
        assert.deepEqual(await store.suggest('items', 'nap', 5, false), [
          { word: 'napoli', count: 2 },
          { word: 'napolitain', count: 1 },
          { word: 'napolitano', count: 1 },
        ]);
        assert.deepEqual(await store.suggest('items', 'oli', 5, false), [
          { word: 'napoli', count: 2 },
          { word: 'napolitain', count: 1 },
          { word: 'napolitano', count: 1 },
        ]);
        assert.deepEqual(await store.suggest('items', 'nap', 1, false), [{ word: 'napoli', count: 2 }], 'at most limit');
      });

      test('close words (edit distance ≤ 2) only when asked and nothing else matched', async () => {
        assert.deepEqual(await store.suggest('items', 'napili', 5, true), [{ word: 'napoli', count: 2 }]);
        assert.deepEqual(await store.suggest('items', 'napili', 5, false), []);
        assert.deepEqual(await store.suggest('items', 'pekn', 5, true), [{ word: 'pekin', count: 1 }]);
        assert.deepEqual(await store.suggest('items', 'xyzzy', 5, true), []);
        assert.deepEqual(await store.suggest('items', 'n', 5, true), [], 'one letter suggests nothing');
      });

      test('global search: every word must match (as a prefix), ranked, with the access condition', async () => {
        const targets = [
          { resource: 'items', where: { kind: 'true' } as Condition },
          { resource: 'owners', where: { kind: 'true' } as Condition },
        ];
        const napoli = await store.searchWords(targets, ['napoli'], 0, 10);
        assert.equal(napoli.total, 4, 'napoli is a prefix of napolitain and napolitano');
        assert.deepEqual(napoli.hits[0], { resource: 'items', id: 10, score: napoli.hits[0]?.score }, 'the item with the word twice ranks first');
        assert.ok(napoli.hits.every((h, i) => i === 0 || (napoli.hits[i - 1] as { score: number }).score >= h.score), 'ranked');
        assert.deepEqual(new Set(napoli.hits.map((h) => h.id)), new Set([1, 2, 3, 10]));
        const both = await store.searchWords(targets, ['CRÈME', 'pure'], 0, 10);
        assert.deepEqual([both.total, both.hits.map((h) => h.id)], [1, [5]]);
        assert.deepEqual((await store.searchWords(targets, ['napoli', 'pekin'], 0, 10)).total, 0);
        const chloe = await store.searchWords(targets, ['chloe'], 0, 10);
        assert.deepEqual(chloe.hits.map((h) => [h.resource, h.id]), [['owners', 3]]);
        const page = await store.searchWords(targets, ['napoli'], 1, 1);
        assert.deepEqual([page.total, page.hits], [4, napoli.hits.slice(1, 2)]);
        const filtered = await store.searchWords([{ resource: 'items', where: { kind: 'compare', column: col('score', 'number'), op: '>', value: 4 } }], ['napoli'], 0, 10);
        assert.deepEqual([filtered.total, filtered.hits.map((h) => h.id).sort()], [2, [1, 10]]);
        assert.deepEqual(await store.searchWords(targets, ['—'], 0, 10), { hits: [], total: 0 });
      });

      test('the index follows inserts, updates and deletes, and rolls back with them', async () => {
        const pattern = (p: string): Condition => ({ kind: 'pattern', field: 'name', pattern: p });
        const created = await store.transaction((tx) => tx.insert('items', { name: 'Trattoria Zucchero' }));
        assert.deepEqual(await which(pattern('*zucch*')), [created.id]);
        assert.deepEqual(await store.suggest('items', 'zucc', 5, false), [{ word: 'zucchero', count: 1 }]);
        await store.transaction((tx) => tx.update('items', created.id as Key, { name: 'Trattoria Limone' }));
        assert.deepEqual(await which(pattern('*zucch*')), []);
        assert.deepEqual(await store.suggest('items', 'zucc', 5, false), [], 'a word no item holds is not suggested');
        assert.deepEqual(await store.suggest('items', 'trat', 5, false), [{ word: 'trattoria', count: 1 }]);
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.update('items', created.id as Key, { name: 'Osteria' });
            throw new Error('changed my mind');
          }),
          /changed my mind/,
        );
        assert.deepEqual(await which(pattern('*limone*')), [created.id], 'the rolled-back update left the index as it was');
        assert.deepEqual(await store.suggest('items', 'oste', 5, false), []);
        await store.transaction((tx) => tx.delete('items', created.id as Key));
        assert.deepEqual(await which(pattern('*limone*')), []);
        assert.deepEqual((await store.searchWords([{ resource: 'items', where: { kind: 'true' } }], ['trattoria'], 0, 5)).total, 0);
      });

      test('writes committed together: the one that fails leaves nothing in the index, even after another read it', async () => {
        const pattern = (p: string): Condition => ({ kind: 'pattern', field: 'name', pattern: p });
        const inserted: Key[] = [];
        // Started together, so they share a commit where the store groups them (SQLite).
        const results = await Promise.allSettled([
          store.transaction(async (tx) => inserted.push((await tx.insert('items', { name: 'Ginepro Uno' })).id as Key)),
          store.transaction(async (tx) => {
            await tx.insert('items', { name: 'Ginepro Due' });
            // A read of the index in the transaction sees its writes and the group's earlier ones.
            assert.equal((await tx.read(plan(pattern('*ginepro*')))).rows.length, 2);
            throw new Error('changed my mind');
          }),
          store.transaction(async (tx) => inserted.push((await tx.insert('items', { name: 'Ginepro Tre' })).id as Key)),
        ]);
        assert.deepEqual(
          results.map((r) => r.status),
          ['fulfilled', 'rejected', 'fulfilled'],
        );
        assert.deepEqual(await which(pattern('*ginepro*')), inserted);
        assert.deepEqual(await store.suggest('items', 'ginep', 5, false), [{ word: 'ginepro', count: 2 }]);
        assert.deepEqual(await store.suggest('items', 'du', 5, false), [], 'the rolled-back item left no word');
        assert.equal((await store.searchWords([{ resource: 'items', where: { kind: 'true' } }], ['ginepro'], 0, 5)).total, 2);
        await store.transaction(async (tx) => {
          for (const id of inserted) await tx.delete('items', id);
        });
        assert.deepEqual(await which(pattern('*ginepro*')), []);
        assert.deepEqual(await store.suggest('items', 'ginep', 5, false), []);
      });

      if (options.name === 'sqlite') {
        test('one new FTS5 segment per index per commit, whatever the number of rows or grouped writes', async () => {
          const file = (store as SqliteStore).file;
          const tables = ['items__search', 'items__words', 'items__termgrams'];
          const db = new Database(file);
          const segments = () => tables.map((t) => (db.prepare(`SELECT count(DISTINCT segid) AS n FROM "${t}_idx"`).get() as { n: number }).n);
          try {
            for (const t of tables) db.prepare(`INSERT INTO "${t}" ("${t}") VALUES ('optimize')`).run();
            assert.deepEqual(segments(), [1, 1, 1]);
            const rows = await store.transaction(async (tx) => {
              const out: Row[] = [];
              for (let i = 0; i < 40; i++) out.push(await tx.insert('items', { name: `Cantina ${i} Vecchia${i}` }));
              return out;
            });
            assert.deepEqual(segments(), [2, 2, 2], '40 rows in one transaction');
            await Promise.all(rows.slice(0, 20).map((row, i) => store.transaction((tx) => tx.update('items', row.id as Key, { name: `Cantina Nuova${i}` }))));
            assert.deepEqual(segments(), [3, 3, 3], '20 writes sharing a commit');
            await store.transaction(async (tx) => {
              for (const row of rows) await tx.delete('items', row.id as Key);
            });
            assert.equal(await store.count('items', { kind: 'pattern', field: 'name', pattern: '*cantina*' }), 0);
          } finally {
            db.close();
          }
        });
      }
    });

    describe('transactions', () => {
      test('a throw rolls everything back', async () => {
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.insert('owners', { name: 'Ghost' });
            await tx.update('items', 1, { count: 12345 });
            assert.equal((await tx.get('items', 1))?.count, 12345, 'the transaction sees its own writes');
            throw new Error('boom');
          }),
          /boom/,
        );
        assert.equal((await store.get('items', 1))?.count, 10);
        assert.equal(await store.count('owners', { kind: 'in', column: col('name'), values: ['Ghost'] }), 0);
      });

      /** 40 transactions at once, each reading a counter and writing it back one higher. */
      async function bumpConcurrently(stores: readonly Store[]): Promise<void> {
        const counter = await store.transaction((tx) => tx.insert('items', { name: 'Counter', count: 0 }));
        const id = counter.id as Key;
        const bump = (s: Store) =>
          s.transaction(async (tx) => {
            const row = (await tx.get('items', id)) as Row;
            await new Promise((resolve) => setImmediate(resolve)); // let the others run in between
            await tx.update('items', id, { count: (row.count as number) + 1 });
          });
        await Promise.all(Array.from({ length: 40 }, (_, i) => bump(stores[i % stores.length] as Store)));
        assert.equal((await store.get('items', id))?.count, 40);
        await store.transaction((tx) => tx.delete('items', id));
      }

      test('concurrent read-check-write transactions never lose an update', async () => {
        await bumpConcurrently([store]);
      });

      if (options.manyWriters) {
        test('two stores (two Carte instances) on one database never lose an update either', async () => {
          const second = await t.reopen();
          try {
            second.attach(model());
            await bumpConcurrently([store, second]);
          } finally {
            await second.close();
          }
        });
      }

      test('concurrent transactions: the one that fails is rolled back alone, the others commit', async () => {
        const names = Array.from({ length: 20 }, (_, i) => `Batch ${i}`);
        const results = await Promise.allSettled(
          names.map((name, i) =>
            store.transaction(async (tx) => {
              const row = await tx.insert('owners', { name });
              if (i === 7) throw new Error('boom');
              return row.name;
            }),
          ),
        );
        assert.deepEqual(
          results.map((r) => r.status),
          names.map((_, i) => (i === 7 ? 'rejected' : 'fulfilled')),
        );
        assert.deepEqual(
          results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
          names.filter((_, i) => i !== 7),
        );
        assert.equal(await store.count('owners', { kind: 'in', column: col('name'), values: names }), 19);
        assert.equal(await store.count('owners', { kind: 'in', column: col('name'), values: ['Batch 7'] }), 0);
      });

      if (options.name === 'sqlite') {
        test('group commit: transactions that arrive together share a COMMIT (one fsync)', async () => {
          // tokens: no search index, so every insert is the same number of statements.
          const insert = (label: string) => store.transaction((tx) => tx.insert('tokens', { id: randomUUID(), label }));
          const before = store.stats.statements;
          for (let i = 0; i < 20; i++) await insert(`Apart ${i}`);
          const apart = store.stats.statements - before; // 20 × (BEGIN, the writes, COMMIT)
          const start = store.stats.statements;
          await Promise.all(Array.from({ length: 20 }, (_, i) => insert(`Group ${i}`)));
          const together = store.stats.statements - start;
          // The same writes; BEGIN and COMMIT once for the group instead of 20 times.
          assert.equal(together, apart - 2 * 19, `${together} statements together, ${apart} apart`);
        });
      }

      test('reads outside a transaction see only committed data', async () => {
        let release!: () => void;
        const held = new Promise<void>((resolve) => {
          release = resolve;
        });
        let inserted!: () => void;
        const written = new Promise<void>((resolve) => {
          inserted = resolve;
        });
        const tx = store.transaction(async (w) => {
          await w.insert('owners', { name: 'Pending' });
          inserted();
          await held;
        });
        await written;
        assert.equal(await store.count('owners', { kind: 'in', column: col('name'), values: ['Pending'] }), 0);
        release();
        await tx;
        assert.equal(await store.count('owners', { kind: 'in', column: col('name'), values: ['Pending'] }), 1);
      });
    });
  });

  describe(`store suite: ${options.name} migrations`, () => {
    const v1: ApiSpec = {
      api: { name: 'Shop' },
      resources: {
        orders: { access: 'public', fields: { customerId: { type: 'integer', references: 'customers' }, total: { type: 'number' } } },
        customers: { access: 'public', fields: { name: { type: 'string' }, email: { type: 'string' }, age: { type: 'string' } } },
      },
    };
    const v2: ApiSpec = {
      api: { name: 'Shop' },
      resources: {
        orders: { access: 'public', fields: { customerId: { type: 'integer', references: 'customers' }, total: { type: 'number', index: true }, note: { type: 'string', search: true } } },
        customers: { access: 'public', fields: { name: { type: 'string', search: true }, email: { type: 'string', index: 'unique' }, age: { type: 'string' } } },
      },
    };
    const v3: ApiSpec = {
      api: { name: 'Shop' },
      resources: {
        orders: { access: 'public', fields: { customerId: { type: 'integer', references: 'customers' }, total: { type: 'number', index: true }, note: { type: 'string', search: true } } },
        customers: { access: 'public', fields: { name: { type: 'string', search: true }, age: { type: 'integer' } } },
      },
    };

    test('additive steps apply on start; a second plan is empty; data and indexes follow', async () => {
      const t = await options.newStore();
      try {
        const first = await t.store.planMigration(model(v1));
        assert.deepEqual(first.steps.map((s) => `${s.kind} ${s.destructive}`).sort(), ['createIndex false', 'createTable false', 'createTable false']);
        assert.deepEqual(new Set(first.steps.filter((s) => s.kind === 'createTable').map((s) => s.target)), new Set(['customers', 'orders']));
        await migrate(t.store, model(v1));
        await t.store.transaction(async (tx) => {
          await tx.insert('customers', { name: 'Ann Lefèvre', email: 'ann@example.com', age: '42' });
          await tx.insert('customers', { name: 'Bob', email: 'ann@example.com', age: 'old' });
          await tx.insert('orders', { customerId: 1, total: 12.5 });
        });
        assert.deepEqual((await t.store.planMigration(model(v1))).steps, [], 'nothing left to do');
        await t.store.close();

        const second = await t.reopen();
        const plan2 = await second.planMigration(model(v2));
        assert.deepEqual(
          plan2.steps.map((s) => `${s.kind} ${s.destructive}`).sort(),
          ['addColumn false', 'createIndex false', 'createIndex false', 'createSearch false', 'createSearch false'].sort(),
        );
        // The unique index cannot be built over duplicates: the plan fails whole, nothing changes.
        await assert.rejects(second.applyMigration(plan2));
        assert.equal((await second.planMigration(model(v2))).steps.length, plan2.steps.length, 'a failed plan leaves nothing half-done');
        await migrate(second, model(v1));
        await second.transaction((tx) => tx.update('customers', 2, { email: 'bob@example.com' }));
        await migrate(second, model(v2));
        assert.deepEqual((await second.planMigration(model(v2))).steps, []);
        second.attach(model(v2));
        assert.deepEqual(await second.get('orders', 1), { id: 1, customerId: 1, total: 12.5, note: null });
        assert.deepEqual(ids((await second.read({ ...plan({ kind: 'pattern', field: 'name', pattern: '*lefevre' }), resource: 'customers' })).rows), [1], 'existing rows are indexed');
        assert.deepEqual(await second.suggest('customers', 'lef', 5, false), [{ word: 'lefevre', count: 1 }]);
        await assert.rejects(
          second.transaction((tx) => tx.insert('customers', { name: 'Eve', email: 'bob@example.com' })),
          (e: unknown) => e instanceof StoreConflictError && e.fields.join() === 'email',
        );

        const destructive = await second.planMigration(model(v3));
        assert.ok(destructive.steps.some((s) => s.destructive));
        assert.ok(destructive.steps.filter((s) => s.destructive).every((s) => /email|age/.test(s.description)), destructive.steps.map((s) => s.description).join('; '));
        await assert.rejects(second.applyMigration(destructive), (e: unknown) => e instanceof DestructiveMigrationError && /email/.test(e.message));
        assert.deepEqual(await second.get('customers', 1), { id: 1, name: 'Ann Lefèvre', email: 'ann@example.com', age: '42' }, 'refused: nothing changed');
        await second.applyMigration(destructive, { allowDestructive: true });
        second.attach(model(v3));
        assert.deepEqual((await second.planMigration(model(v3))).steps, []);
        assert.deepEqual(await second.get('customers', 1), { id: 1, name: 'Ann Lefèvre', age: 42 }, 'kept columns keep their data, converted');
        assert.deepEqual(ids((await second.read({ ...plan({ kind: 'pattern', field: 'name', pattern: 'ann*' }), resource: 'customers' })).rows), [1], 'the search index survives');
        await second.close();

        const dropped = await t.reopen();
        const onlyOrders = { api: { name: 'Shop' }, resources: { orders: { access: 'public', fields: { total: { type: 'number' } } } } } as ApiSpec;
        const drop = await dropped.planMigration(model(onlyOrders));
        assert.ok(drop.steps.some((s) => s.kind === 'dropTable' && s.target === 'customers' && s.destructive));
        await dropped.close();
      } finally {
        await t.dispose();
      }
    });
  });
}
