/**
 * `npm run bench`: Carte against the best hand-written Fastify + better-sqlite3 server and
 * against json-server (0.17.4 and 1.0 beta), in ONE run on loopback, alternating systems
 * round by round (A/B/A/B) so that machine drift cancels out. Load comes from `wrk` (a
 * separate process, 50 connections); after each warm-up the harness waits until the server
 * is idle before the measured window. Writes bench/results/latest.md.
 *
 * Usage: node --import tsx bench/run.ts [--rows 10000] [--rounds 2] [--duration 10] [--warmup 3]
 *                                       [--only carte,baseline] [--scenarios get-item,post]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadSchemaFile } from '../src/schema/load.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { NEW_RESTAURANT, restaurants } from './data.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const benchDir = path.join(root, 'bench');
const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '2' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    only: { type: 'string' },
    scenarios: { type: 'string' },
    out: { type: 'string', default: path.join(benchDir, 'results', 'latest.md') },
  },
});
const ROWS = Number(values.rows);
const ROUNDS = Number(values.rounds);
const DURATION = Number(values.duration);
const WARMUP = Number(values.warmup);
const CONNECTIONS = Number(values.connections);

/**
 * `baseline-rep` is the same hand-written server answering with Carte's representation
 * (hypermedia links, request id, CORS, `Vary`): Carte / baseline-rep is what Carte's own
 * machinery costs, apart from what its answers carry.
 */
type SystemName = 'carte' | 'baseline' | 'baseline-rep' | 'json-server-0.17' | 'json-server-1';
const SYSTEMS: SystemName[] = ['carte', 'baseline', 'baseline-rep', 'json-server-0.17', 'json-server-1'];

interface Scenario {
  readonly name: string;
  readonly title: string;
  readonly method: 'GET' | 'POST' | 'PATCH';
  /** Path per system ({id} = random existing id); null = the system cannot do it. */
  readonly paths: Record<SystemName, string | null>;
  readonly body?: string;
}

const NEW = JSON.stringify(NEW_RESTAURANT);
const SCENARIOS: Scenario[] = [
  {
    name: 'get-item',
    title: 'GET one item',
    method: 'GET',
    paths: { carte: '/v1/restaurants/{id}', baseline: '/v1/restaurants/{id}', 'baseline-rep': '/v1/restaurants/{id}', 'json-server-0.17': '/restaurants/{id}', 'json-server-1': '/restaurants/{id}' },
  },
  {
    name: 'get-list',
    title: 'GET filtered + sorted page of 25 with total',
    method: 'GET',
    paths: {
      carte: '/v1/restaurants?type=chinese&sort=rating&desc&range=0-24',
      baseline: '/v1/restaurants?type=chinese&sort=rating&desc&range=0-24',
      'baseline-rep': '/v1/restaurants?type=chinese&sort=rating&desc&range=0-24',
      'json-server-0.17': '/restaurants?type=chinese&_sort=rating&_order=desc&_start=0&_end=25',
      'json-server-1': '/restaurants?type=chinese&_sort=-rating&_page=1&_per_page=25',
    },
  },
  {
    name: 'get-fields',
    title: 'GET one item with fields=name,rating',
    method: 'GET',
    paths: { carte: '/v1/restaurants/{id}?fields=name,rating', baseline: '/v1/restaurants/{id}?fields=name,rating', 'baseline-rep': '/v1/restaurants/{id}?fields=name,rating', 'json-server-0.17': null, 'json-server-1': null },
  },
  {
    name: 'search',
    title: 'GET *substring* search, first page',
    method: 'GET',
    paths: {
      carte: '/v1/restaurants/search?name=*napoli*&range=0-24',
      baseline: '/v1/restaurants/search?name=*napoli*',
      'baseline-rep': null,
      'json-server-0.17': '/restaurants?name_like=napoli&_start=0&_end=25',
      'json-server-1': null,
    },
  },
  {
    name: 'post',
    title: 'POST one item',
    method: 'POST',
    body: NEW,
    paths: { carte: '/v1/restaurants', baseline: '/v1/restaurants', 'baseline-rep': '/v1/restaurants', 'json-server-0.17': '/restaurants', 'json-server-1': '/restaurants' },
  },
  {
    name: 'patch',
    title: 'PATCH one item',
    method: 'PATCH',
    body: '{"rating":{n}}',
    paths: { carte: '/v1/restaurants/{id}', baseline: '/v1/restaurants/{id}', 'baseline-rep': '/v1/restaurants/{id}', 'json-server-0.17': '/restaurants/{id}', 'json-server-1': '/restaurants/{id}' },
  },
];

interface Running {
  readonly name: SystemName;
  readonly port: number;
  readonly child: ChildProcess;
}

interface Measure {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** Non-2xx/3xx answers: a system that answers errors is not measured fairly. */
  readonly errors: number;
  /** Requests wrk gave up on (2 s timeout). */
  readonly timeouts: number;
  readonly requests: number;
  /** The server's CPU time (user + system, all its threads) per request of the measured window, in µs. */
  readonly cpuUs: number;
}

function requireWrk(): void {
  if (spawnSync('wrk', ['--version']).error) {
    throw new Error("wrk is needed as the load generator (a separate process): apt-get install -y wrk");
  }
}

function ensureBenchDependencies(): void {
  if (existsSync(path.join(benchDir, 'node_modules', 'json-server-1'))) return;
  process.stdout.write('installing the systems to compare (bench/package.json)…\n');
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: benchDir, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm install in bench/ failed');
}

async function prepareData(dir: string): Promise<void> {
  const rows = restaurants(ROWS);
  // Carte: loaded through its own store (the same code path as the server's writes).
  const { model } = await loadSchemaFile(path.join(benchDir, 'schema.yaml'));
  const store = new SqliteStore({ file: path.join(dir, 'carte.db') });
  await store.applyMigration(await store.planMigration(model));
  store.attach(model);
  await store.transaction(async (tx) => {
    for (const { id: _id, ...r } of rows) await tx.insert('restaurants', r);
  });
  await store.close();
  writeFileSync(path.join(dir, 'db017.json'), JSON.stringify({ restaurants: rows }));
  writeFileSync(path.join(dir, 'db1.json'), JSON.stringify({ restaurants: rows.map((r) => ({ ...r, id: String(r.id) })) }));
}

function waitForPort(port: number, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const tryOnce = () => {
      if (child.exitCode !== null) return reject(new Error(`process exited with ${child.exitCode}`));
      fetch(`http://127.0.0.1:${port}/`).then(
        () => resolve(),
        () => (Date.now() - started > timeoutMs ? reject(new Error(`port ${port} did not open`)) : setTimeout(tryOnce, 200)),
      );
    };
    tryOnce();
  });
}

async function start(name: SystemName, port: number, dir: string): Promise<Running> {
  const opts = { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] as ('ignore' | 'inherit')[] };
  let child: ChildProcess;
  switch (name) {
    case 'carte':
      child = spawn('node', ['bin/carte.js', 'serve', path.join(benchDir, 'schema.yaml'), '--db', path.join(dir, 'carte.db'), '--port', String(port), '--log-level', 'warn'], opts);
      break;
    case 'baseline':
      child = spawn('node', ['--import', 'tsx', path.join(benchDir, 'baseline', 'server.ts'), '--db', path.join(dir, 'baseline.db'), '--port', String(port), '--load', String(ROWS)], opts);
      break;
    case 'baseline-rep':
      child = spawn('node', ['--import', 'tsx', path.join(benchDir, 'baseline', 'server.ts'), '--db', path.join(dir, 'baseline-rep.db'), '--port', String(port), '--load', String(ROWS), '--representation', 'carte'], opts);
      break;
    case 'json-server-0.17':
      child = spawn('node', [path.join(benchDir, 'node_modules/json-server-0.17/lib/cli/bin.js'), path.join(dir, 'db017.json'), '--port', String(port), '--quiet'], opts);
      break;
    case 'json-server-1':
      child = spawn('node', [path.join(benchDir, 'node_modules/json-server-1/lib/bin.js'), path.join(dir, 'db1.json'), '--port', String(port)], opts);
      break;
  }
  await waitForPort(port, child);
  return { name, port, child };
}

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks per second. */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks
}

export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** Waits until the server process has used (almost) no CPU for half a second. */
async function waitIdle(pid: number, timeoutMs = 20_000): Promise<void> {
  const started = Date.now();
  let last = cpuTicks(pid);
  let quiet = 0;
  while (Date.now() - started < timeoutMs) {
    await new Promise((r) => setTimeout(r, 100));
    const now = cpuTicks(pid);
    quiet = now - last <= 1 ? quiet + 1 : 0;
    last = now;
    if (quiet >= 5) return;
  }
}

function toMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

function wrk(port: number, scenario: Scenario, system: SystemName, seconds: number): Omit<Measure, 'cpuUs'> {
  const env = {
    ...process.env,
    BENCH_METHOD: scenario.method,
    BENCH_PATH: scenario.paths[system] as string,
    BENCH_BODY: scenario.body ?? '',
    BENCH_IDS: String(ROWS),
  };
  const r = spawnSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-s', path.join(benchDir, 'wrk', 'request.lua'), `http://127.0.0.1:${port}`], { env, encoding: 'utf8' });
  const out = r.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p50 = toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
  const p99 = toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const timeouts = Number(/Socket errors:.*timeout (\d+)/.exec(out)?.[1] ?? 0);
  return { rps, p50, p99, errors, timeouts, requests };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return '—';
  return n >= 100 ? Math.round(n).toLocaleString('en') : n.toFixed(n >= 10 ? 1 : 2);
}

async function main(): Promise<void> {
  requireWrk();
  ensureBenchDependencies();
  const systems = (values.only ? values.only.split(',') : SYSTEMS) as SystemName[];
  const scenarios = values.scenarios ? SCENARIOS.filter((s) => values.scenarios?.split(',').includes(s.name)) : SCENARIOS;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'carte-bench-'));
  const running = new Map<SystemName, Running>();
  const results = new Map<string, Measure[]>();
  try {
    process.stdout.write(`preparing ${ROWS.toLocaleString('en')} restaurants in ${dir}\n`);
    await prepareData(dir);
    copyFileSync(path.join(dir, 'db017.json'), path.join(dir, 'db017.orig.json'));
    let port = 3601;
    for (const s of systems) running.set(s, await start(s, port++, dir));
    for (const scenario of scenarios) {
      for (let round = 1; round <= ROUNDS; round++) {
        // A/B/A/B: every round visits every system, in an order rotated by the round.
        const order = systems.map((_, i) => systems[(i + round - 1) % systems.length] as SystemName);
        for (const system of order) {
          if (scenario.paths[system] === null) continue;
          const r = running.get(system) as Running;
          wrk(r.port, scenario, system, WARMUP);
          await waitIdle(r.child.pid as number);
          const ticks = cpuTicks(r.child.pid as number);
          const measured = wrk(r.port, scenario, system, DURATION);
          const m: Measure = { ...measured, cpuUs: ((cpuTicks(r.child.pid as number) - ticks) * (1e6 / CLOCK_TICKS)) / measured.requests };
          const key = `${scenario.name}/${system}`;
          results.set(key, [...(results.get(key) ?? []), m]);
          process.stdout.write(`${scenario.name.padEnd(11)} round ${round} ${system.padEnd(17)} ${fmt(m.rps).padStart(8)} req/s  p50 ${fmt(m.p50)} ms  p99 ${fmt(m.p99)} ms  CPU ${fmt(m.cpuUs)} µs/request${m.errors ? `  ${m.errors} error answers!` : ''}${m.timeouts ? `  ${m.timeouts} timeouts` : ''}\n`);
          await waitIdle(r.child.pid as number);
        }
      }
    }
    const rss = Object.fromEntries([...running].map(([name, r]) => [name, rssOf(r.child.pid as number)]));
    writeReport(systems, scenarios, results, rss);
  } finally {
    for (const r of running.values()) r.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeReport(systems: SystemName[], scenarios: Scenario[], results: Map<string, Measure[]>, rss: Record<string, number>): void {
  const cpu = os.cpus();
  const agg = (key: string) => {
    const ms = results.get(key);
    if (!ms || ms.length === 0) return null;
    return { rps: median(ms.map((m) => m.rps)), p50: median(ms.map((m) => m.p50)), p99: median(ms.map((m) => m.p99)), cpuUs: median(ms.map((m) => m.cpuUs)), errors: ms.reduce((a, m) => a + m.errors, 0), timeouts: ms.reduce((a, m) => a + m.timeouts, 0) };
  };
  const lines = [
    '# Carte against a hand-written server and json-server',
    '',
    `${new Date().toISOString().slice(0, 10)} · ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown'}) · Node ${process.version} · ` +
      `${ROWS.toLocaleString('en')} restaurants in SQLite files (WAL, synchronous=FULL) / db.json · wrk, ${CONNECTIONS} connections, ` +
      `${WARMUP} s warm-up then idle, ${DURATION} s measured, ${ROUNDS} rounds alternating systems (median of rounds).`,
    '',
    `| scenario | ${systems.map((s) => `${s} req/s (p50 / p99 ms)`).join(' | ')} | Carte / baseline | Carte / baseline-rep | Carte / json-server 0.17 | Carte / json-server 1 |`,
    `| --- | ${systems.map(() => '---:').join(' | ')} | ---: | ---: | ---: | ---: |`,
  ];
  for (const scenario of scenarios) {
    const cells = systems.map((s) => {
      const a = agg(`${scenario.name}/${s}`);
      return a ? `${fmt(a.rps)} (${fmt(a.p50)} / ${fmt(a.p99)})${a.errors ? ` ⚠ ${a.errors} error answers` : ''}${a.timeouts ? ` (${a.timeouts} timeouts)` : ''}` : 'n/a';
    });
    const carte = agg(`${scenario.name}/carte`);
    const ratio = (other: SystemName) => {
      const o = agg(`${scenario.name}/${other}`);
      return carte && o ? `${(carte.rps / o.rps).toFixed(2)}×` : 'n/a';
    };
    lines.push(`| ${scenario.title} | ${cells.join(' | ')} | ${ratio('baseline')} | ${ratio('baseline-rep')} | ${ratio('json-server-0.17')} | ${ratio('json-server-1')} |`);
  }
  // The server's CPU per request: wrk shares the machine's cores with the server, so req/s also
  // moves with what the load generator and the neighbours take; CPU per request is the work itself.
  lines.push(
    '',
    '**Server CPU per request** (µs of user + system time in the measured window ÷ requests answered; median of rounds), and the other system\'s CPU ÷ Carte\'s (above 1: Carte does less work):',
    '',
    `| scenario | ${systems.map((s) => s).join(' | ')} | baseline ÷ Carte | baseline-rep ÷ Carte |`,
    `| --- | ${systems.map(() => '---:').join(' | ')} | ---: | ---: |`,
  );
  for (const scenario of scenarios) {
    const carte = agg(`${scenario.name}/carte`);
    const cpuRatio = (other: SystemName) => {
      const o = agg(`${scenario.name}/${other}`);
      return carte && o ? `${(o.cpuUs / carte.cpuUs).toFixed(2)}×` : 'n/a';
    };
    const cells = systems.map((s) => {
      const a = agg(`${scenario.name}/${s}`);
      return a ? fmt(a.cpuUs) : 'n/a';
    });
    lines.push(`| ${scenario.title} | ${cells.join(' | ')} | ${cpuRatio('baseline')} | ${cpuRatio('baseline-rep')} |`);
  }
  lines.push('', `RSS at the end: ${Object.entries(rss).map(([k, v]) => `${k} ${(v / 1024 / 1024).toFixed(0)} MB`).join(', ')}.`);
  lines.push('', "baseline-rep: the baseline answering with Carte's representation (links, request id, CORS, Vary); Carte / baseline-rep is the cost of Carte's machinery alone.");
  lines.push('', 'Targets: Carte ≥ 0.9× the baseline for GET item, GET list and POST; ≥ 10× json-server for GET list and POST.');
  const text = `${lines.join('\n')}\n`;
  mkdirSync(path.dirname(values.out as string), { recursive: true });
  writeFileSync(values.out as string, text);
  process.stdout.write(`\n${text}`);
}

await main();
