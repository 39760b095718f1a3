/**
 * SQL-shape tests (STYLE habit 6): the exact SQL and parameters each dialect compiles for
 * a few plans, so a change in what reaches the database is always a visible diff.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { demoSchema } from '../src/demo/schema.js';
import { loadSchemaObject } from '../src/schema/load.js';
import { compileRead as compilePostgres } from '../src/store/postgres/postgres-compiler.js';
import { PostgresSearchIndex } from '../src/store/postgres/postgres-search.js';
import { compileRead as compileSqlite, limitLiteral } from '../src/store/sqlite/sqlite-compiler.js';
import { SqliteSearchIndex } from '../src/store/sqlite/sqlite-search.js';
import type { ColumnRef, ReadPlan } from '../src/store/store.js';

const model = loadSchemaObject(demoSchema).model;
const restaurants = model.resources.get('restaurants');
if (!restaurants) throw new Error('the demo has restaurants');
const sqliteSearch = new SqliteSearchIndex(restaurants, () => ({ lastInsertRowid: 0 }), () => undefined);
const postgresSearch = new PostgresSearchIndex(restaurants);

const col = (field: string, leafType: ColumnRef['leafType'] = 'string', path: string[] = [], array = false): ColumnRef => ({ field, path, leafType, array });
const ID = col('id', 'integer');

/** `?type=chinese,japanese&rating[gte]=4&sort=rating&desc=rating&range=20-29` */
const filtered: ReadPlan = {
  resource: 'restaurants',
  where: { kind: 'and', items: [{ kind: 'in', column: col('type'), values: ['chinese', 'japanese'] }, { kind: 'compare', column: col('rating', 'integer'), op: '>=', value: 4 }] },
  order: [{ column: col('rating', 'integer'), descending: true }, { column: ID, descending: false }],
  offset: 20,
  limit: 10,
  after: null,
  count: 'exact',
};
/** `?sort=name&desc=id&after=…` (the last row seen: name Napoli, id 12) */
const keyset: ReadPlan = {
  resource: 'restaurants',
  where: { kind: 'true' },
  order: [{ column: col('name'), descending: false }, { column: ID, descending: true }],
  offset: 0,
  limit: 25,
  after: ['Napoli', 12],
  count: 'none',
};
/** `/search?name=*Pékin*&address.city=Paris&days=sunday` */
const searched: ReadPlan = {
  resource: 'restaurants',
  where: {
    kind: 'and',
    items: [
      { kind: 'pattern', field: 'name', pattern: '*Pékin*' },
      { kind: 'in', column: col('address', 'string', ['city']), values: ['Paris'] },
      { kind: 'contains', column: col('days', 'string', [], true), values: ['sunday'] },
    ],
  },
  order: [{ column: ID, descending: false }],
  offset: 0,
  limit: 50,
  after: null,
  count: 'estimated',
};
/** The dishes of three restaurants, embedded: the first 50 of each. */
const partitioned: ReadPlan = {
  resource: 'dishes',
  where: { kind: 'in', column: col('restaurantId', 'integer'), values: [1, 2, 3] },
  order: [{ column: ID, descending: false }],
  offset: 0,
  limit: 50,
  after: null,
  count: 'none',
  partitionBy: 'restaurantId',
};

describe('SQL shape: sqlite', () => {
  const compile = (plan: ReadPlan) => compileSqlite(plan, (field, pattern, params) => sqliteSearch.patternSql(field, pattern, params));

  test('filters, sort with the key last, offset paging, count', () => {
    const c = compile(filtered);
    assert.deepEqual(c.select, {
      sql: 'SELECT * FROM "restaurants" WHERE ("type" IN (?, ?) AND "rating" >= ?) ORDER BY "rating" DESC NULLS LAST, "id" ASC NULLS FIRST LIMIT 10 OFFSET ?',
      params: ['chinese', 'japanese', 4, 20],
    });
    assert.deepEqual(c.count, { sql: 'SELECT count(*) AS n FROM "restaurants" WHERE ("type" IN (?, ?) AND "rating" >= ?)', params: ['chinese', 'japanese', 4] });
  });

  test('keyset cursor over a mixed-direction order', () => {
    assert.deepEqual(compile(keyset), {
      select: {
        sql: 'SELECT * FROM "restaurants" WHERE ("name" > ? OR ("name" = ? AND ("id" < ? OR "id" IS NULL))) ORDER BY "name" ASC NULLS FIRST, "id" DESC NULLS LAST LIMIT 25 OFFSET ?',
        params: ['Napoli', 'Napoli', 12, 0],
      },
      count: null,
    });
  });

  test('search pattern (folded, on the trigram index), nested path, array contains', () => {
    assert.deepEqual(compile(searched).select, {
      sql:
        'SELECT * FROM "restaurants" WHERE ("rowid" IN (SELECT rowid FROM "restaurants__search" WHERE "name" GLOB ?) AND json_extract("address", \'$."city"\') = ? ' +
        'AND EXISTS (SELECT 1 FROM json_each("days") WHERE value IN (?))) ORDER BY "id" ASC NULLS FIRST LIMIT 50 OFFSET ?',
      params: ['*pekin*', 'Paris', 'sunday', 0],
    });
  });

  test('the page size is written into the SQL (a bound LIMIT is compiled again on every run), only as a whole number', () => {
    assert.equal(limitLiteral(26), '26');
    assert.equal(limitLiteral(0), '0');
    for (const bad of [2.5, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) assert.throws(() => limitLiteral(bad), /a page size must be a whole number/);
  });

  test('partitioned read for batched embedding', () => {
    assert.deepEqual(compile(partitioned).select, {
      sql:
        'SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY "restaurantId" ORDER BY "id" ASC NULLS FIRST) AS "_carte_rn" FROM "dishes" WHERE "restaurantId" IN (?, ?, ?)) ' +
        'WHERE "_carte_rn" > ? AND "_carte_rn" <= ? ORDER BY "restaurantId", "_carte_rn"',
      params: [1, 2, 3, 0, 50],
    });
  });
});

describe('SQL shape: postgres', () => {
  const compile = (plan: ReadPlan) => compilePostgres(plan, (field, pattern, params, alias) => postgresSearch.patternSql(field, pattern, params, alias));

  test('filters as one array parameter, sort with the key last (no NULLS clause: the primary key serves it)', () => {
    const c = compile(filtered);
    assert.deepEqual(c.select, {
      sql: 'SELECT * FROM "restaurants" WHERE ("type" = ANY($1::text[]) AND "rating" >= $2) ORDER BY "rating" DESC NULLS LAST, "id" ASC LIMIT $3 OFFSET $4',
      params: [['chinese', 'japanese'], 4, 10, 20],
    });
    assert.deepEqual(c.count, { sql: 'SELECT count(*) AS n FROM "restaurants" WHERE ("type" = ANY($1::text[]) AND "rating" >= $2)', params: [['chinese', 'japanese'], 4] });
  });

  test('keyset cursor over a mixed-direction order', () => {
    assert.deepEqual(compile(keyset).select, {
      sql: 'SELECT * FROM "restaurants" WHERE ("name" > $1 OR ("name" = $2 AND "id" < $3)) ORDER BY "name" ASC NULLS FIRST, "id" DESC LIMIT $4 OFFSET $5',
      params: ['Napoli', 'Napoli', 12, 25, 0],
    });
  });

  test('search pattern (folded, LIKE on the pg_trgm index), typed JSON path in code-point order, array contains', () => {
    assert.deepEqual(compile(searched).select, {
      sql:
        'SELECT * FROM "restaurants" WHERE ("id" IN (SELECT "id" FROM "restaurants__search" WHERE "name" LIKE $1 ESCAPE \'\\\') ' +
        'AND (("address" #>> \'{"city"}\') COLLATE "C") = $2 AND EXISTS (SELECT 1 FROM json_array_elements_text("days") AS e(v) WHERE e.v = ANY($3::text[]))) ' +
        'ORDER BY "id" ASC LIMIT $4 OFFSET $5',
      params: ['%pekin%', 'Paris', ['sunday'], 50, 0],
    });
  });

  test('the page size is written into the SQL (a bound LIMIT is compiled again on every run), only as a whole number', () => {
    assert.equal(limitLiteral(26), '26');
    assert.equal(limitLiteral(0), '0');
    for (const bad of [2.5, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) assert.throws(() => limitLiteral(bad), /a page size must be a whole number/);
  });

  test('partitioned read for batched embedding', () => {
    assert.deepEqual(compile(partitioned).select, {
      sql:
        'SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY "restaurantId" ORDER BY "id" ASC) AS "_carte_rn" FROM "dishes" WHERE "restaurantId" = ANY($1::bigint[])) AS "p" ' +
        'WHERE "_carte_rn" > $2 AND "_carte_rn" <= $3 ORDER BY "restaurantId", "_carte_rn"',
      params: [[1, 2, 3], 0, 50],
    });
  });

  test('values of another type than the column compile to constants, never to a failing cast', () => {
    const c = compilePostgres(
      { ...keyset, where: { kind: 'compare', column: col('rating', 'integer'), op: '<', value: 'abc' }, after: null, order: [{ column: ID, descending: false }] },
      () => 'FALSE',
    );
    assert.deepEqual(c.select, { sql: 'SELECT * FROM "restaurants" WHERE "rating" IS NOT NULL ORDER BY "id" ASC LIMIT $1 OFFSET $2', params: [25, 0] });
  });
});
