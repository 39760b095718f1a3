/**
 * Events across instances (SPEC §10): two Carte servers on one PostgreSQL schema, a
 * WebSocket subscriber on each; writes go through instance B one after another, and we
 * report how long each event takes to reach the subscriber on A (LISTEN/NOTIFY, then a
 * read of the log) and on B (its own commit, handed over directly).
 * In-process servers (both in this process), so the numbers include the client's work.
 * Usage: CARTE_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test node --import tsx bench/cross-instance.ts [writes]
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import { WebSocket } from 'ws';
import { createServer, type CarteServer } from '../src/app.js';
import type { ApiSpec } from '../src/schema/types.js';

const WRITES = Number(process.argv[2] ?? 300);
const base = process.env.CARTE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `carte_bench_${randomBytes(4).toString('hex')}`;
const url = new URL(base);
url.searchParams.set('schema', schema);

const board: ApiSpec = { api: { name: 'Board' }, resources: { notes: { access: 'public', fields: { text: { type: 'string' } } } } };

async function start(): Promise<{ server: CarteServer; url: string }> {
  const server = await createServer({ schema: board, config: { db: url.toString(), port: 0, logLevel: 'silent', rateLimits: { enabled: false } } });
  return { server, url: await server.listen() };
}

async function subscriber(baseUrl: string, arrivals: Map<string, number>): Promise<WebSocket> {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/v1/ws`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const subscribed = new Promise((resolve) => ws.once('message', resolve));
  ws.send(JSON.stringify({ type: 'subscribe', id: 's', resource: 'notes' }));
  await subscribed;
  ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as { event?: { resourceId: string } };
    if (m.event) arrivals.set(m.event.resourceId, performance.now());
  });
  return ws;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const a = await start();
const b = await start();
const onA = new Map<string, number>();
const onB = new Map<string, number>();
const sockets = [await subscriber(a.url, onA), await subscriber(b.url, onB)];
const sent = new Map<string, number>();
for (let i = 0; i < WRITES; i++) {
  const t0 = performance.now();
  const res = await fetch(`${b.url}/v1/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: `n${i}` }) });
  const id = String(((await res.json()) as { id: number }).id);
  sent.set(id, t0);
}
const deadline = Date.now() + 30_000;
while ((onA.size < WRITES || onB.size < WRITES) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
const latencies = (arrivals: Map<string, number>) => [...sent].map(([id, t0]) => (arrivals.get(id) ?? Number.NaN) - t0).sort((x, y) => x - y);
const report = (name: string, l: number[]) =>
  `| ${name} | ${l.filter((x) => !Number.isNaN(x)).length}/${WRITES} | ${percentile(l, 50).toFixed(1)} | ${percentile(l, 99).toFixed(1)} | ${(l[l.length - 1] as number).toFixed(1)} |`;
process.stdout.write(`Cross-instance events, ${WRITES} sequential writes through B (load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}); ms from sending the POST to the event on the socket:\n\n`);
process.stdout.write('| subscriber | received | p50 | p99 | max |\n| --- | --- | --- | --- | --- |\n');
process.stdout.write(`${report('on A (other instance: NOTIFY + log read)', latencies(onA))}\n${report('on B (writing instance: direct)', latencies(onB))}\n`);
process.stdout.write(`\nA bus: ${JSON.stringify(a.server.events.bus.stats())}\nB bus: ${JSON.stringify(b.server.events.bus.stats())}\n`);
for (const ws of sockets) ws.close();
await a.server.close();
await b.server.close();
const client = new pg.Client({ connectionString: base });
await client.connect();
await client.query(`DROP SCHEMA "${schema}" CASCADE`);
await client.end();
