/** The shared store suite on SQLite (a throw-away file per suite). */
import { openStore } from '../src/store/open.js';
import { runStoreSuite } from './store-suite.js';
import { newSqliteDatabase } from './store-databases.js';

runStoreSuite({
  name: 'sqlite',
  manyWriters: false,
  async newStore(options) {
    const database = newSqliteDatabase();
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
