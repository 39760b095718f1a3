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
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchDir, ensureBenchDependencies, prepareData, rssOf, SCENARIOS, start, SYSTEMS, type Running, type Scenario, type SystemName } from './systems.js';

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

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks per second. */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks
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
    await prepareData(dir, ROWS);
    copyFileSync(path.join(dir, 'db017.json'), path.join(dir, 'db017.orig.json'));
    let port = 3601;
    for (const s of systems) running.set(s, await start(s, port++, dir, ROWS));
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
