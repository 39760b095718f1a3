/**
 * Query plans at scale (issue: collection queries): 1,000,000 restaurants in a SQLite file,
 * measured in-process through the resource service after a warm-up:
 *   (a) a filtered + sorted first page with its total   type=chinese&sort=rating&desc
 *   (b) a range page at offset 900,000                   range=900000-900024 (90% deep)
 *   (c) the same depth by cursor                         after=<cursor>&limit=25
 *   (d) a substring search                               /search?name=*napoli*
 *   (e) the same filter as (a) with Prefer: count=estimated
 * Usage: node --import tsx bench/queries.ts [rows]   (writes bench/results/queries.md)
 *        CARTE_BENCH_DB=postgres://…/db node --import tsx bench/queries.ts [rows]
 *        (a throw-away schema of that database; writes bench/results/queries-postgres.md)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ANONYMOUS } from '../src/auth/principal.js';
import { demoSchema } from '../src/demo/schema.js';
import { seededRandom } from '../src/demo/seed.js';
import { encodeCursor } from '../src/query/cursor.js';
import { loadSchemaObject } from '../src/schema/load.js';
import type { ApiSpec } from '../src/schema/types.js';
import { ResourceService } from '../src/service/resource-service.js';
import { openStore } from '../src/store/open.js';
import { newPgDatabase, pgQuery, newSqliteDatabase } from '../test/store-databases.js';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const DEPTH = Math.floor(ROWS * 0.9);
const DEEP = `${DEPTH}-${DEPTH + 24}`;
const TYPES = ['thai', 'chinese', 'japanese', 'italian', 'french', 'indian'];
const FIRST = ['Le', 'La', 'Chez', 'Café', 'Bistrot', 'Trattoria', 'Pizzeria', 'Maison', 'Jardin', 'Palais', 'Petit', 'Grand'];
const SECOND = ['Lotus', 'Dragon', 'Soleil', 'Roma', 'Kyoto', 'Siam', 'Bombay', 'Marché', 'Étoile', 'Olivier', 'Moulin', 'Comptoir', 'Zinc', 'Sakura', 'Canton'];
const THIRD = ['Bleu', 'Doré', 'Rouge', 'Vert', 'du Port', 'de Paris', 'Express', 'Royal', 'Céleste', 'Gourmand'];

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function time(label: string, runs: number, fn: () => Promise<unknown>): Promise<{ label: string; median: number; p90: number }> {
  for (let i = 0; i < 5; i++) await fn(); // warm-up: statement cache, page cache
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { label, median: median(samples), p90: samples[Math.floor(samples.length * 0.9)] as number };
}

async function main(): Promise<void> {
  const postgres = process.env.CARTE_BENCH_DB?.startsWith('postgres') ?? false;
  // CARTE_BENCH_DB=postgres://… measures PostgreSQL; a file path keeps a SQLite database between runs
  // (loading 1,000,000 rows takes minutes).
  const keep = !postgres && process.env.CARTE_BENCH_DB ? process.env.CARTE_BENCH_DB : null;
  const database = postgres ? newPgDatabase(process.env.CARTE_BENCH_DB) : keep ? { url: keep, drop: async () => undefined } : newSqliteDatabase();
  const schema = { ...demoSchema, resources: { restaurants: demoSchema.resources.restaurants } } as unknown as ApiSpec;
  const { model } = loadSchemaObject(schema);
  const store = await openStore(database.url, { durability: 'normal' });
  try {
    await store.applyMigration(await store.planMigration(model));
    store.attach(model);
    const random = seededRandom(7);
    const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)] as T;
    const t0 = Date.now();
    const batch = 20_000;
    const existing = await store.count('restaurants', { kind: 'true' });
    if (existing !== 0 && existing !== ROWS) throw new Error(`${database.url} holds ${existing} rows, not ${ROWS}`);
    for (let start = existing; start < ROWS; start += batch) {
      await store.transaction(async (tx) => {
        for (let i = start; i < Math.min(ROWS, start + batch); i++) {
          // About one name in 500 carries "Napoli".
          const name = random() < 0.002 ? `${pick(['Pizzeria', 'Trattoria', 'Da'])} Napoli ${i}` : `${pick(FIRST)} ${pick(SECOND)} ${pick(THIRD)} ${i}`;
          await tx.insert('restaurants', {
            name,
            type: pick(TYPES),
            rating: Math.floor(random() * 6),
            reviews: Math.floor(random() * 1000),
            days: ['monday', 'friday'],
            zipcode: String(10000 + Math.floor(random() * 89999)),
            address: { street: `${i} rue X`, city: 'Paris' },
          });
        }
      });
    }
    const loadSeconds = (Date.now() - t0) / 1000;
    if (postgres) await pgQuery(database.url, 'VACUUM ANALYZE'); // what autovacuum does shortly after a bulk load
    const service = new ResourceService(model, store);
    const ctx = { principal: ANONYMOUS, baseUrl: 'http://bench' };
    const rss = process.memoryUsage().rss;

    const results = [];
    results.push(await time('(a) type=chinese&sort=rating&desc, first page of 25 with its total', 50, () =>
      service.list(ctx, 'restaurants', { filters: [{ name: 'type', op: 'eq', values: ['chinese'], raw: true }], sort: ['rating'], desc: true, range: '0-24' })));
    results.push(await time(`(b) range=${DEEP}`, 10, () => service.list(ctx, 'restaurants', { range: DEEP })));
    const resource = model.resources.get('restaurants');
    if (!resource) throw new Error('no restaurants');
    const sort = service.parseQuery(resource, {}).sort;
    const cursor = encodeCursor(sort, [DEPTH]);
    const byCursor = await service.list(ctx, 'restaurants', { after: cursor, limit: 25 });
    const byRange = await service.list(ctx, 'restaurants', { range: DEEP });
    if (JSON.stringify(byCursor.items) !== JSON.stringify(byRange.items)) throw new Error('cursor and range pages differ');
    results.push(await time(`(c) after=<cursor at ${DEPTH.toLocaleString('en')}>&limit=25`, 50, () => service.list(ctx, 'restaurants', { after: cursor, limit: 25 })));
    results.push(await time('(d) /search?name=*napoli*, first page with count and suggestions', 50, () =>
      service.search(ctx, 'restaurants', { filters: [{ name: 'name', op: 'eq', values: ['*napoli*'], raw: true }], range: '0-24' })));
    results.push(await time('(e) type=chinese&sort=rating&desc with Prefer: count=estimated', 50, () =>
      service.list(ctx, 'restaurants', { filters: [{ name: 'type', op: 'eq', values: ['chinese'], raw: true }], sort: ['rating'], desc: true, range: '0-24', count: 'estimated' })));
    const estimated = await service.list(ctx, 'restaurants', { filters: [{ name: 'type', op: 'eq', values: ['chinese'], raw: true }], range: '0-24', count: 'estimated' });
    const exact = await service.list(ctx, 'restaurants', { filters: [{ name: 'type', op: 'eq', values: ['chinese'], raw: true }], range: '0-24' });
    const found = await service.search(ctx, 'restaurants', { filters: [{ name: 'name', op: 'eq', values: ['*napoli*'], raw: true }], range: '0-24' });

    const lines = [
      `# Query plans on ${ROWS.toLocaleString('en')} restaurants`,
      '',
      `${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}) · Node ${process.version} · ${postgres ? 'PostgreSQL (local, pool of 10)' : 'SQLite file, WAL'} · load ${loadSeconds.toFixed(0)} s · RSS after load ${(rss / 1024 / 1024).toFixed(0)} MB · load average ${os.loadavg()[0]?.toFixed(1)}`,
      '',
      '| query | median | p90 |',
      '| --- | ---: | ---: |',
      ...results.map((r) => `| ${r.label} | ${r.median.toFixed(2)} ms | ${r.p90.toFixed(2)} ms |`),
      '',
      `(d) matched ${found.total} restaurants; suggestions: ${found.suggestions.join(', ') || 'none'}.`,
      `(e) estimated ${estimated.total} chinese restaurants (exactly ${exact.total}).`,
      'Targets: (a), (c), (d) under 10 ms median. (b) shows why deep pages should use the cursor.',
    ];
    const out = lines.join('\n');
    process.stdout.write(`${out}\n`);
    const resultsDir = fileURLToPath(new URL('results/', import.meta.url));
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(path.join(resultsDir, postgres ? 'queries-postgres.md' : 'queries.md'), `${out}\n`);
  } finally {
    await store.close();
    await database.drop();
  }
}

await main();
