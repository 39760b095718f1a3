/**
 * The systems the benchmarks compare and the requests they are compared on: Carte, the
 * hand-written baseline (bare and with Carte's representation) and json-server 0.17 and 1.0,
 * each started as its own process over the same deterministic restaurants. Used by
 * `npm run bench` (wrk, seconds) and `npm run bench:instructions` (callgrind, instructions).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSchemaFile } from '../src/schema/load.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { NEW_RESTAURANT, restaurants } from './data.js';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const benchDir = path.join(root, 'bench');

/**
 * `baseline-rep` is the same hand-written server answering with Carte's representation
 * (hypermedia links, request id, CORS, `Vary`): Carte / baseline-rep is what Carte's own
 * machinery costs, apart from what its answers carry.
 */
export type SystemName = 'carte' | 'baseline' | 'baseline-rep' | 'json-server-0.17' | 'json-server-1';
export const SYSTEMS: SystemName[] = ['carte', 'baseline', 'baseline-rep', 'json-server-0.17', 'json-server-1'];

export interface Scenario {
  readonly name: string;
  readonly title: string;
  readonly method: 'GET' | 'POST' | 'PATCH';
  /** Path per system ({id} = random existing id); null = the system cannot do it. */
  readonly paths: Record<SystemName, string | null>;
  readonly body?: string;
}

const NEW = JSON.stringify(NEW_RESTAURANT);
export const SCENARIOS: Scenario[] = [
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

export interface Running {
  readonly name: SystemName;
  readonly port: number;
  readonly child: ChildProcess;
}

export function ensureBenchDependencies(): void {
  if (existsSync(path.join(benchDir, 'node_modules', 'json-server-1'))) return;
  process.stdout.write('installing the systems to compare (bench/package.json)…\n');
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: benchDir, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm install in bench/ failed');
}

export async function prepareData(dir: string, count: number): Promise<void> {
  const rows = restaurants(count);
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

export function waitForPort(port: number, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
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

export interface StartOptions {
  /** A program to run the server under, with its arguments (valgrind, for `npm run bench:instructions`). */
  readonly wrap?: readonly string[];
  /** Node's own flags for the server process. */
  readonly nodeFlags?: readonly string[];
  /** How long it may take to listen. */
  readonly timeoutMs?: number;
}

/** Starts one system on `port` over the data in `dir`. */
export async function start(name: SystemName, port: number, dir: string, rows: number, options: StartOptions = {}): Promise<Running> {
  const baseline = (db: string) => ['--import', 'tsx', path.join(benchDir, 'baseline', 'server.ts'), '--db', path.join(dir, db), '--port', String(port), '--load', String(rows)];
  const args: Record<SystemName, string[]> = {
    carte: ['bin/carte.js', 'serve', path.join(benchDir, 'schema.yaml'), '--db', path.join(dir, 'carte.db'), '--port', String(port), '--log-level', 'warn'],
    baseline: baseline('baseline.db'),
    'baseline-rep': [...baseline('baseline-rep.db'), '--representation', 'carte'],
    'json-server-0.17': [path.join(benchDir, 'node_modules/json-server-0.17/lib/cli/bin.js'), path.join(dir, 'db017.json'), '--port', String(port), '--quiet'],
    'json-server-1': [path.join(benchDir, 'node_modules/json-server-1/lib/bin.js'), path.join(dir, 'db1.json'), '--port', String(port)],
  };
  const [command, ...rest] = [...(options.wrap ?? []), 'node', ...(options.nodeFlags ?? []), ...args[name]] as [string, ...string[]];
  const child = spawn(command, rest, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForPort(port, child, options.timeoutMs);
  return { name, port, child };
}

export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}


export function requireWrk(): void {
  if (spawnSync('wrk', ['--version']).error) {
    throw new Error('wrk is needed as the load generator (a separate process): apt-get install -y wrk');
  }
}

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks per second. */
export const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** A process's CPU time so far (user + system, all its threads), in clock ticks. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

/** Waits until the server process has used (almost) no CPU for half a second. */
export async function waitIdle(pid: number, timeoutMs = 20_000): Promise<void> {
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

/** What wrk reports of one window. */
export interface WrkMeasure {
  readonly rps: number;
  /** Latency percentiles, in ms. */
  readonly p50: number;
  readonly p99: number;
  /** Non-2xx/3xx answers: a system that answers errors is not measured fairly. */
  readonly errors: number;
  /** Requests wrk gave up on (2 s timeout). */
  readonly timeouts: number;
  readonly requests: number;
}

function toMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

/** Loads `system` with one scenario for `seconds` (wrk, one thread, `connections` connections; ids in 1..`ids`). */
export function runWrk(port: number, scenario: Scenario, system: SystemName, options: { seconds: number; connections: number; ids: number }): WrkMeasure {
  const env = {
    ...process.env,
    BENCH_METHOD: scenario.method,
    BENCH_PATH: scenario.paths[system] as string,
    BENCH_BODY: scenario.body ?? '',
    BENCH_IDS: String(options.ids),
  };
  const args = ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, '--latency', '-s', path.join(benchDir, 'wrk', 'request.lua'), `http://127.0.0.1:${port}`];
  const out = spawnSync('wrk', args, { env, encoding: 'utf8' }).stdout;
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50: toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? ''),
    p99: toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? ''),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    errors: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
    timeouts: Number(/Socket errors:.*timeout (\d+)/.exec(out)?.[1] ?? 0),
  };
}
