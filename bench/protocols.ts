/**
 * The same list query through REST, JSON-RPC and GraphQL (issue 8): the demo served by a
 * child process on a SQLite file, load from this process with autocannon, requests/s of each
 * front end as a ratio to REST (target: each ≥ 0.7). The query: chinese restaurants sorted by
 * rating, descending, first 10, with name, rating and type — and the total.
 * The server runs with NODE_ENV=production, as in production: graphql-js then skips its
 * development-only checks. Rounds alternate the front ends so a machine's changing load
 * weighs on each alike; the report gives the mean of the rounds.
 * Usage: node --import tsx bench/protocols.ts [seconds=10] [connections=10] [rounds=2]
 *        (writes bench/results/protocols.md)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface AutocannonResult {
  readonly requests: { readonly average: number };
  readonly latency: { readonly p50: number; readonly p99: number };
  readonly errors: number;
  readonly non2xx: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const SECONDS = Number(process.argv[2] ?? 10);
const CONNECTIONS = Number(process.argv[3] ?? 10);
const ROUNDS = Number(process.argv[4] ?? 2);
const here = path.dirname(fileURLToPath(import.meta.url));

/** In the child: serve the demo and print the URL. */
async function serve(db: string): Promise<void> {
  const { createServer } = await import('../src/app.js');
  const server = await createServer({ config: { db, port: 0, logLevel: 'silent' } });
  process.stdout.write(`${await server.listen()}\n`);
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

const json = { 'content-type': 'application/json' };
const cases = [
  { name: 'REST', method: 'GET', path: '/v1/restaurants?type=chinese&sort=rating&desc=rating&range=0-9&fields=name,rating,type' },
  {
    name: 'JSON-RPC',
    method: 'POST',
    path: '/v1/rpc',
    headers: json,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'restaurants.list', params: { filter: { type: ['chinese'] }, sort: ['rating'], desc: ['rating'], range: [0, 9], fields: 'name,rating,type' } }),
  },
  {
    name: 'GraphQL',
    method: 'POST',
    path: '/v1/graphql',
    headers: json,
    body: JSON.stringify({ query: '{ restaurants(filter: {type: [chinese]}, sort: ["rating"], desc: ["rating"], range: {first: 0, last: 9}) { total items { id name rating type } } }' }),
  },
] as const;

function startChild(db: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', db], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NODE_ENV: 'production' },
    });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve({ child, url: line.trim() });
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code})`)));
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'carte-bench-'));
  const { child, url } = await startChild(path.join(dir, 'bench.db'));
  try {
    // The three answer the same 10 restaurants.
    const counts: number[] = [];
    for (const c of cases) {
      const res = await fetch(url + c.path, { method: c.method, headers: 'headers' in c ? c.headers : {}, ...('body' in c ? { body: c.body } : {}) });
      const body = (await res.json()) as unknown;
      const items = Array.isArray(body) ? body : ((body as { result?: { items: unknown[] }; data?: { restaurants: { items: unknown[] } } }).result?.items ?? (body as { data: { restaurants: { items: unknown[] } } }).data.restaurants.items);
      counts.push(items.length);
    }
    if (!counts.every((n) => n === counts[0] && n > 0)) throw new Error(`the front ends disagree: ${counts.join(', ')} items`);

    const runs = new Map<string, AutocannonResult[]>(cases.map((c) => [c.name, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const c of cases) {
        const options = { url: url + c.path, method: c.method, connections: CONNECTIONS, ...('headers' in c ? { headers: c.headers } : {}), ...('body' in c ? { body: c.body } : {}) };
        if (round === 1) await autocannon({ ...options, duration: 2 }); // warm-up: JIT, statement and document caches
        const r = await autocannon({ ...options, duration: SECONDS });
        runs.get(c.name)?.push(r);
        process.stdout.write(`round ${round} ${c.name}: ${Math.round(r.requests.average)} req/s\n`);
      }
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const results = cases.map((c) => {
      const r = runs.get(c.name) ?? [];
      return { name: c.name, rps: mean(r.map((x) => x.requests.average)), p50: mean(r.map((x) => x.latency.p50)), p99: mean(r.map((x) => x.latency.p99)), errors: r.reduce((n, x) => n + x.errors + x.non2xx, 0) };
    });
    const rest = results[0]?.rps ?? 1;
    const rows = results.map((r) => `| ${r.name} | ${Math.round(r.rps)} | ${(r.rps / rest).toFixed(2)} | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.errors} |`);
    const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
    const report = `# The same list query through REST, JSON-RPC and GraphQL

${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} cores (${cpu}) · Node ${process.version} · SQLite file · server in a child process (NODE_ENV=production), autocannon in this one · ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s per front end (alternating), after a 2 s warm-up · load average at the end ${os.loadavg()[0].toFixed(1)}

Query: chinese restaurants, sorted by rating descending, items 0-9, fields name, rating, type, with the total.

| front end | requests/s | ratio to REST | p50 | p99 | errors |
| --- | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}

Target: each front end ≥ 0.7 of REST.
`;
    mkdirSync(path.join(here, 'results'), { recursive: true });
    writeFileSync(path.join(here, 'results', 'protocols.md'), report);
    process.stdout.write(`\n${report}`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--serve') await serve(process.argv[3] as string);
else await main();
