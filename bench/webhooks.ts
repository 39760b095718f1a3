/**
 * Webhook delivery throughput and backlog memory (SPEC §7), against a `carte serve` child
 * process on a SQLite file, with a receiver on 127.0.0.1 in this process:
 *   (1) sustained: 10 endpoints, writes from 32 concurrent clients, every event delivered
 *       to each endpoint — deliveries per second received, and event-to-receipt latency;
 *   (2) backlog: the receiver answers 503 while 10,000 writes queue 100,000 deliveries (each
 *       refused once, its retry an hour away); the server stops, the backlog is made due
 *       (as if the outage had lasted until the retry), the receiver recovers and a fresh
 *       server drains it — time to drain, and the server's RSS sampled every 250 ms; a
 *       backlog ten times smaller is drained first, so that the two RSS curves compare.
 * Usage: npm run bench:webhooks   (builds, then writes bench/results/webhooks.md)
 *        BACKLOG_WRITES=2000 to try a smaller backlog.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'carte-bench-webhooks-'));
const ENDPOINTS = 10;
const SUSTAINED_WRITES = Number(process.env.SUSTAINED_WRITES ?? 3000);
const BACKLOG_WRITES = Number(process.env.BACKLOG_WRITES ?? 10_000);
const CLIENTS = 32;

// The receiver ---------------------------------------------------------------------------
let down = false;
let delivered = 0;
let refused = 0;
const latencies: number[] = [];
let firstAt = 0;
let lastAt = 0;
const receiver = http.createServer({ keepAliveTimeout: 60_000 }, (request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (c: Buffer) => chunks.push(c));
  request.on('end', () => {
    if (down) {
      refused++;
      response.writeHead(503).end();
      return;
    }
    const now = Date.now();
    if (delivered === 0) firstAt = now;
    lastAt = now;
    delivered++;
    if (latencies.length < 200_000) {
      const occurredAt = /"occurredAt":"([^"]+)"/.exec(Buffer.concat(chunks).toString('utf8'))?.[1];
      if (occurredAt) latencies.push(now - Date.parse(occurredAt));
    }
    response.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

// The server -----------------------------------------------------------------------------
const schemaFile = path.join(dir, 'bench.yaml');
const db = path.join(dir, 'bench.db');
writeFileSync(
  schemaFile,
  stringify({
    api: { name: 'Webhooks bench', version: 1 },
    resources: { items: { singular: 'item', fields: { name: { type: 'string' }, size: { type: 'integer' } } } },
    config: {
      rateLimits: { enabled: false },
      webhooks: { allowPrivateNetworks: true, retrySchedule: [3600], pollInterval: '200ms', concurrencyPerEndpoint: 10, maxInFlight: 256 },
    },
  }),
);

interface Serve {
  readonly child: ChildProcess;
  readonly url: string;
  readonly token: string;
}

async function serve(): Promise<Serve> {
  const child = spawn('node', ['bin/carte.js', 'serve', schemaFile, '--db', db, '--port', '0', '--dev', '--log-level', 'warn'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise<Serve>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = / API (http:\/\/[^ ]+)\/v1 .* token (\S+)/.exec(out);
      if (m) resolve({ child, url: m[1] as string, token: m[2] as string });
    });
    child.once('exit', (code) => reject(new Error(`carte serve exited with ${code}: ${out}`)));
  });
}

async function stop(s: Serve): Promise<void> {
  const exited = new Promise((resolve) => s.child.once('exit', resolve));
  s.child.kill('SIGTERM');
  await exited;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
function call(s: Serve, method: string, url: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request(`${s.url}${url}`, { method, agent, headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** `count` POSTs from CLIENTS concurrent clients; returns writes per second. */
async function write(s: Serve, count: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < count) {
        const i = next++;
        const status = await call(s, 'POST', '/v1/items', { name: `item ${i}`, size: i });
        if (status !== 201) throw new Error(`POST /v1/items answered ${status}`);
      }
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

async function until(condition: () => boolean, limitMs: number, what: string): Promise<void> {
  const end = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const percentile = (values: number[], p: number) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN;
};

const load = [os.loadavg()];

// (1) Sustained --------------------------------------------------------------------------
const first = await serve();
for (let i = 0; i < ENDPOINTS; i++) {
  const status = await call(first, 'POST', '/v1/webhooks', { url: `${receiverUrl}/hook/${i}`, events: ['items.created'] });
  if (status !== 201) throw new Error(`registering a webhook answered ${status}`);
}
await write(first, 200); // warm-up
await until(() => delivered >= 200 * ENDPOINTS, 120_000, 'warm-up deliveries');
delivered = 0;
latencies.length = 0;
const sustainedWrites = await write(first, SUSTAINED_WRITES);
await until(() => delivered >= SUSTAINED_WRITES * ENDPOINTS, 600_000, 'sustained deliveries');
const sustained = {
  writesPerSecond: sustainedWrites,
  deliveries: delivered,
  perSecond: delivered / ((lastAt - firstAt) / 1000),
  p50: percentile(latencies, 0.5),
  p99: percentile(latencies, 0.99),
  rss: rssMiB(first.child.pid as number),
};
console.log('sustained', sustained);
load.push(os.loadavg());

// (2) Backlogs ---------------------------------------------------------------------------
interface Drain {
  readonly writes: number;
  readonly writesPerSecond: number;
  readonly pending: number;
  readonly seconds: number;
  readonly rssAfterOutage: number;
  readonly samples: number[];
  readonly rssAfterDrain: number;
}

let server = first;
async function drainBacklog(writes: number): Promise<Drain> {
  down = true;
  refused = 0;
  const writesPerSecond = await write(server, writes);
  await until(() => refused >= writes * ENDPOINTS, 1_800_000, 'every backlog delivery refused once');
  const rssAfterOutage = rssMiB(server.child.pid as number);
  await stop(server);
  const file = new Database(db);
  const pending = (file.prepare(`SELECT count(*) AS n FROM "_carte_webhook_deliveries" WHERE "state" = 'pending'`).get() as { n: number }).n;
  file.prepare(`UPDATE "_carte_webhook_deliveries" SET "next_attempt_at" = 0 WHERE "state" = 'pending'`).run();
  file.close();
  down = false;
  delivered = 0;
  server = await serve();
  const pid = server.child.pid as number;
  const samples: number[] = [rssMiB(pid)];
  const sampler = setInterval(() => samples.push(rssMiB(pid)), 250);
  const started = Date.now();
  await until(() => delivered >= pending, 1_800_000, 'the backlog drained');
  const seconds = (Date.now() - started) / 1000;
  clearInterval(sampler);
  const drain = { writes, writesPerSecond, pending, seconds, rssAfterOutage, samples, rssAfterDrain: rssMiB(pid) };
  console.log('backlog', { ...drain, samples: samples.length, max: Math.max(...samples) });
  return drain;
}

const drains = [await drainBacklog(Math.round(BACKLOG_WRITES / 10)), await drainBacklog(BACKLOG_WRITES)];
await stop(server);
load.push(os.loadavg());

// Report ---------------------------------------------------------------------------------
const mib = (v: number) => `${v.toFixed(1)} MiB`;
const out = `# Webhook deliveries

\`npm run bench:webhooks\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus().length} CPUs, SQLite file (durability full).
The machine is shared with other work and was loaded: load average (1, 5, 15 min) at the start ${load[0]?.map((l) => l.toFixed(2)).join(', ')},
after the sustained run ${load[1]?.map((l) => l.toFixed(2)).join(', ')}, at the end ${load[2]?.map((l) => l.toFixed(2)).join(', ')}.
The server is a \`carte serve\` child process; the receiver (HTTP/1.1 keep-alive, answers 204) runs in the benchmark process on 127.0.0.1.
Default dispatcher settings but for the schedule: 10 deliveries per endpoint in flight, 256 in all.

## Sustained delivery

${ENDPOINTS} endpoints subscribed to \`items.created\`; ${SUSTAINED_WRITES} POSTs from ${CLIENTS} concurrent clients (${sustained.writesPerSecond.toFixed(0)} writes/s), each event delivered to every endpoint.

| measurement | value |
| --- | --- |
| deliveries received | ${sustained.deliveries} |
| **deliveries per second** (first to last receipt) | **${sustained.perSecond.toFixed(0)}** |
| event to receipt, median | ${sustained.p50} ms |
| event to receipt, p99 | ${sustained.p99} ms |
| server RSS after the run | ${mib(sustained.rss)} |

## Draining a backlog after an outage

The receiver answered 503 while POSTs queued deliveries (10 per write); each was refused once and its retry scheduled an hour later.
The server was then stopped, the pending deliveries made due at once (\`UPDATE … SET next_attempt_at = 0\`: as if the outage had lasted
until the retry), the receiver recovered, and a fresh server drained the outbox, reading it in leased pages of at most 100, never whole.
The same run drains a backlog ten times smaller first, for comparison.

| measurement | ${drains.map((d) => `${d.pending} pending`).join(' | ')} |
| --- | ${drains.map(() => '---').join(' | ')} |
| writes that queued them | ${drains.map((d) => `${d.writes} (${d.writesPerSecond.toFixed(0)}/s)`).join(' | ')} |
| server RSS at the end of the outage | ${drains.map((d) => mib(d.rssAfterOutage)).join(' | ')} |
| time to drain | ${drains.map((d) => `${d.seconds.toFixed(1)} s`).join(' | ')} |
| **deliveries per second while draining** | ${drains.map((d) => `**${(d.pending / d.seconds).toFixed(0)}**`).join(' | ')} |
| server RSS at start (before the first claim) | ${drains.map((d) => mib(d.samples[0] as number)).join(' | ')} |
| server RSS while draining: median / max (every 250 ms) | ${drains.map((d) => `${mib(percentile(d.samples, 0.5))} / ${mib(Math.max(...d.samples))}`).join(' | ')} |
| server RSS once drained | ${drains.map((d) => mib(d.rssAfterDrain)).join(' | ')} |

Memory follows the deliveries in flight (at most 256) and the outcome batches (at most 500 rows per write), not the size of the backlog.
`;
const results = path.join(root, 'bench', 'results');
mkdirSync(results, { recursive: true });
writeFileSync(path.join(results, 'webhooks.md'), out);
console.log(out);
receiver.closeAllConnections();
receiver.close();
agent.destroy();
rmSync(dir, { recursive: true, force: true });
