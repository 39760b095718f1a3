/** The shared store suite on SQLite (a throw-away file per suite), and what only SQLite does. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { loadSchemaObject } from '../src/schema/load.js';
import { openStore } from '../src/store/open.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { Condition } from '../src/store/store.js';
import { runStoreSuite } from './store-suite.js';
import { newSqliteDatabase } from './store-databases.js';

runStoreSuite({
  name: 'sqlite',
  manyWriters: false,
  async newStore(options) {
    const database = newSqliteDatabase();
    // The suite counts the search indexes' segments: no merge when its writes pause (tested below).
    const store = await openStore(database.url, { searchMergeDelayMs: 3_600_000, ...options });
    return {
      store,
      reopen: (more) => openStore(database.url, more),
      async dispose() {
        await store.close();
        await database.drop();
      },
    };
  },
});

test('a second after the last write, the search indexes are merged into one segment each, in steps queued with the writes', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const database = newSqliteDatabase();
  const store = (await openStore(database.url)) as SqliteStore;
  const db = new Database(store.file, { readonly: true });
  try {
    const { model } = loadSchemaObject({ api: { name: 'T', version: 1 }, resources: { items: { access: 'public', fields: { name: { type: 'string', search: true } } } } });
    await store.applyMigration(await store.planMigration(model));
    store.attach(model);
    const tables = ['items__search', 'items__words', 'items__termgrams'];
    const segments = () => tables.map((name) => (db.prepare(`SELECT count(DISTINCT segid) AS n FROM "${name}_idx"`).get() as { n: number }).n);
    const insert = (name: string) => store.transaction((tx) => tx.insert('items', { name }));
    /** The merge under way (a function: each call reads it anew). */
    const merging = () => store.searchMerge;
    // Attached: an empty index has nothing to merge, and nothing is merging.
    t.mock.timers.tick(1000);
    await merging();
    // Three commits of 3,000 items: a merge takes several steps (32 pages each).
    for (const word of ['alba', 'brina', 'cielo']) {
      await store.transaction(async (tx) => {
        for (let i = 0; i < 3000; i++) await tx.insert('items', { name: `Osteria ${word} ${i} ${(i * 7919).toString(36)}${word}` });
      });
    }
    assert.deepEqual(segments(), [3, 3, 3], 'a segment per commit');

    t.mock.timers.tick(999);
    assert.equal(merging(), null, 'not before a second without writes');
    await insert('Osteria duna');
    t.mock.timers.tick(999);
    assert.equal(merging(), null, 'a write puts it off');
    t.mock.timers.tick(1);
    const merge = merging();
    assert.ok(merge, 'merging');
    // A write arriving meanwhile waits for one step, not for the whole merge.
    const order: string[] = [];
    await Promise.all([insert('Osteria estate').then(() => order.push('write')), merge.then(() => order.push('merge'))]);
    assert.deepEqual(order, ['write', 'merge']);
    const merged = segments();
    assert.ok(merged.every((n) => n <= 2), `one segment each, and the write's own: ${merged.join(', ')}`);

    t.mock.timers.tick(1000);
    await merging();
    assert.deepEqual(segments(), [1, 1, 1]);
    const pattern: Condition = { kind: 'pattern', field: 'name', pattern: '*osteria*' };
    assert.equal(await store.count('items', pattern), 9002, 'every item is still found');
    assert.deepEqual(await store.count('items', { kind: 'pattern', field: 'name', pattern: '*brina 99 *' }), 1);
    assert.deepEqual(await store.suggest('items', 'ost', 5, false), [{ word: 'osteria', count: 9002 }]);
    assert.equal((await store.searchWords([{ resource: 'items', where: { kind: 'true' } }], ['duna'], 0, 5)).total, 1);
  } finally {
    db.close();
    await store.close();
    await database.drop();
  }
});

test('suggestions are remembered until the database changes, whoever changes it', async () => {
  const database = newSqliteDatabase();
  const store = (await openStore(database.url)) as SqliteStore;
  const other = new Database(store.file);
  try {
    const { model } = loadSchemaObject({ api: { name: 'T', version: 1 }, resources: { items: { access: 'public', fields: { name: { type: 'string', search: true } } } } });
    await store.applyMigration(await store.planMigration(model));
    store.attach(model);
    await store.transaction((tx) => tx.insert('items', { name: 'Trattoria Vesuvio' }));
    assert.deepEqual(await store.suggest('items', 'ves', 5, false), [{ word: 'vesuvio', count: 1 }]);
    const before = store.stats.statements;
    assert.deepEqual(await store.suggest('items', 'ves', 5, false), [{ word: 'vesuvio', count: 1 }]);
    assert.equal(store.stats.statements, before, 'asked again: no statement');
    const mine = await store.suggest('items', 'ves', 5, false);
    (mine[0] as { count: number }).count = 99;
    assert.deepEqual(await store.suggest('items', 'ves', 5, false), [{ word: 'vesuvio', count: 1 }], "a caller's change to its copy stays its own");

    await store.transaction((tx) => tx.insert('items', { name: 'Vespa' }));
    assert.deepEqual(await store.suggest('items', 'ves', 5, false), [
      { word: 'vespa', count: 1 },
      { word: 'vesuvio', count: 1 },
    ], "the store's own write");
    // Another process writing the file (an import while the server runs).
    other.prepare(`INSERT INTO "items__terms" ("term", "docs") VALUES ('vestibolo', 3)`).run();
    assert.deepEqual(await store.suggest('items', 'ves', 5, false), [
      { word: 'vestibolo', count: 3 },
      { word: 'vespa', count: 1 },
      { word: 'vesuvio', count: 1 },
    ], "another connection's write");
  } finally {
    other.close();
    await store.close();
    await database.drop();
  }
});
