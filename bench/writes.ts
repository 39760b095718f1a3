/**
 * Write throughput through the resource service (creates of demo restaurants, each with
 * its search index entry, one transaction per create), with 1 and with 16 callers at once,
 * on a SQLite file (`durability: full`) and — with CARTE_BENCH_DB=postgres://… — on
 * PostgreSQL, where writers are serialized by the store too (one transaction at a time).
 * Usage: [CARTE_BENCH_DB=postgres://…/db] node --import tsx bench/writes.ts [creates]
 * (writes bench/results/writes-<dialect>.md)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ANONYMOUS } from '../src/auth/principal.js';
import { demoSchema } from '../src/demo/schema.js';
import { loadSchemaObject } from '../src/schema/load.js';
import type { ApiSpec } from '../src/schema/types.js';
import { ResourceService } from '../src/service/resource-service.js';
import { openStore } from '../src/store/open.js';
import { newPgDatabase, newSqliteDatabase } from '../test/store-databases.js';

const CREATES = Number(process.argv[2] ?? 2000);

async function main(): Promise<void> {
  const postgres = process.env.CARTE_BENCH_DB?.startsWith('postgres') ?? false;
  const database = postgres ? newPgDatabase(process.env.CARTE_BENCH_DB) : newSqliteDatabase();
  const schema = { ...demoSchema, resources: { restaurants: demoSchema.resources.restaurants } } as unknown as ApiSpec;
  const { model } = loadSchemaObject(schema);
  const store = await openStore(database.url, { durability: 'full' });
  try {
    await store.applyMigration(await store.planMigration(model));
    store.attach(model);
    const service = new ResourceService(model, store);
    const ctx = { principal: ANONYMOUS, baseUrl: 'http://bench' };
    let n = 0;
    const create = () => service.create(ctx, 'restaurants', { name: `Trattoria Numero ${n++}`, type: 'italian', rating: n % 6, zipcode: '75011' });
    const rows: string[] = [];
    for (const callers of [1, 16]) {
      for (let i = 0; i < 50; i++) await create(); // warm-up
      const t0 = process.hrtime.bigint();
      let left = CREATES;
      await Promise.all(
        Array.from({ length: callers }, async () => {
          while (left-- > 0) await create();
        }),
      );
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      rows.push(`| ${callers} | ${CREATES} | ${(CREATES / seconds).toFixed(0)} /s | ${((seconds * 1000) / CREATES).toFixed(2)} ms |`);
    }
    const out = [
      `# Writes through the service: ${postgres ? 'PostgreSQL' : 'SQLite'}`,
      '',
      `${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}) · Node ${process.version} · ` +
        `${postgres ? 'PostgreSQL (local, synchronous_commit on)' : 'SQLite file, WAL, synchronous=FULL'} · load average ${os.loadavg()[0]?.toFixed(1)} (a shared machine)`,
      '',
      '| callers at once | creates | throughput | mean per create |',
      '| ---: | ---: | ---: | ---: |',
      ...rows,
      '',
      'Each create is one transaction: the row, its search entry and word counts, fsynced before it resolves.',
    ].join('\n');
    process.stdout.write(`${out}\n`);
    const resultsDir = fileURLToPath(new URL('results/', import.meta.url));
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(path.join(resultsDir, `writes-${postgres ? 'postgres' : 'sqlite'}.md`), `${out}\n`);
  } finally {
    await store.close();
    await database.drop();
  }
}

await main();
