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
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchDir, CLOCK_TICKS, cpuTicks, ensureBenchDependencies, prepareData, requireWrk, rssOf, runWrk, waitIdle, SCENARIOS, start, SYSTEMS, type Running, type Scenario, type SystemName, type WrkMeasure } from './systems.js';

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

/** wrk's measure of a window, with the server's CPU time per request. */
interface Measure extends WrkMeasure {
  /** The server's CPU time (user + system, all its threads) per request of the measured window, in µs. */
  readonly cpuUs: number;
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
          runWrk(r.port, scenario, system, { seconds: WARMUP, connections: CONNECTIONS, ids: ROWS });
          await waitIdle(r.child.pid as number);
          const ticks = cpuTicks(r.child.pid as number);
          const measured = runWrk(r.port, scenario, system, { seconds: DURATION, connections: CONNECTIONS, ids: ROWS });
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
