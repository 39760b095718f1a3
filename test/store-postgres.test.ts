/**
 * The shared store suite on PostgreSQL (a fresh schema per suite), and what only a server
 * on PostgreSQL can show: `carte migrate` on a postgres:// URL, and durability under kill -9.
 * Runs when CARTE_TEST_PG_URL is set; says so, as a skipped test, when it is not.
 */
import { test } from 'node:test';
import { openStore } from '../src/store/open.js';
import { runStoreSuite } from './store-suite.js';
import { newPgDatabase, testPgUrl } from './store-databases.js';

if (!testPgUrl()) {
  test('PostgreSQL store suite', { skip: 'CARTE_TEST_PG_URL is not set (postgres://postgres@127.0.0.1:5432/test)' }, () => undefined);
} else {
  runStoreSuite({
    name: 'postgres',
    manyWriters: true,
    async newStore(options) {
      const database = newPgDatabase();
      const store = await openStore(database.url, options);
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
}
