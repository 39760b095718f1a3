/**
 * `npm run bench:perf`: where Carte spends more CPU time per request than the hand-written
 * server that sends the same answers (baseline-rep), measured in time, not instructions.
 *
 * Why: counted in instructions (`npm run bench:instructions`), Carte's GET item is within 10 %
 * of baseline-rep, yet its CPU time per request under wrk is 1.3–1.6× baseline-rep's. The
 * difference is in cycles per instruction: a larger code and data footprint (second-level cache
 * misses), megamorphic property access, promise and closure churn, which no instruction count
 * shows. A sampling profile of each server under the same load, divided by the requests it
 * served, shows where those microseconds go, and the difference between two profiles is what a
 * change should remove.
 *
 * How: each system starts with `--perf-basic-prof-only-functions` (V8 writes its compiled
 * functions' names for perf), is warmed up under wrk until V8 stops optimizing (some 100,000
 * requests), then Linux `perf record -e cpu-clock` samples it at a low frequency while wrk loads
 * it. µs per request = samples × sample period ÷ requests served, over all rounds; the systems
 * alternate round by round (A/B/B/A), because this shared machine's speed drifts by tens of per
 * cent over a minute. `cpu-clock` is a software event: it works where hardware counters do not
 * (this machine's virtual CPUs have none).
 *
 * Caveats: sampling adds its own cost (keep the frequency low); V8 moves and frees compiled
 * code, so a few samples land on a stale name (an address reused by other code — a module's
 * top level, `:1:1`, in steady state is one). Judge differences of a few tenths of a µs by
 * repeating the run.
 *
 * Usage: node --import tsx bench/perf-diff.ts [--scenario get-item] [--against baseline-rep]
 *          [--seconds 20] [--warmup 20] [--rounds 2] [--frequency 499] [--top 40] [--out bench/results/perf-diff.md]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchDir, ensureBenchDependencies, prepareData, requireWrk, runWrk, SCENARIOS, start, waitIdle, type Running, type Scenario, type SystemName } from './systems.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000' },
    scenario: { type: 'string', default: 'get-item' },
    against: { type: 'string', default: 'baseline-rep' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '2' },
    frequency: { type: 'string', default: '499' },
    connections: { type: 'string', default: '50' },
    top: { type: 'string', default: '40' },
    port: { type: 'string', default: '3751' },
    out: { type: 'string', default: path.join(benchDir, 'results', 'perf-diff.md') },
  },
});
const ROWS = Number(values.rows);
const SECONDS = Number(values.seconds);
const FREQUENCY = Number(values.frequency);
const TOP = Number(values.top);

function requirePerf(): void {
  const r = spawnSync('perf', ['stat', '-e', 'task-clock', 'true'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`Linux perf is needed (apt-get install -y linux-perf): ${r.error?.message ?? r.stderr}`);
}

/** µs of CPU per request, by key (a shared object or a symbol). */
type Profile = Map<string, number>;

/** What the rounds of one system add up to: samples by key, requests served, seconds loaded. */
interface Tally {
  requests: number;
  seconds: number;
  readonly byDso: Map<string, number>;
  readonly bySymbol: Map<string, number>;
}

/** Adds `perf report`'s sample count per key to `into`. */
function report(file: string, key: 'dso' | 'sym', into: Map<string, number>): void {
  const r = spawnSync('perf', ['report', '-i', file, '--stdio', '--no-children', '--sort', key, '-g', 'none', '-F', `sample,${key}`], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`perf report failed: ${r.stderr}`);
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*(\d+)\s+(.+?)\s*$/.exec(line);
    if (!m || line.startsWith('#')) continue;
    // JIT code is named per process ("[JIT] tid 1234"): one name for both systems.
    const name = (m[2] as string).replace(/^\[JIT\] tid \d+$/, '[JIT] (V8 compiled JavaScript)');
    into.set(name, (into.get(name) ?? 0) + Number(m[1]));
  }
}

/** Samples one system for one round under wrk, adding to its tally. */
async function sample(running: Running, scenario: Scenario, dir: string, round: number, tally: Tally): Promise<void> {
  const pid = running.child.pid as number;
  const load = { connections: Number(values.connections), ids: ROWS };
  await waitIdle(pid);
  const file = path.join(dir, `${running.name}.${round}.perf.data`);
  const perf = spawn('perf', ['record', '-e', 'cpu-clock', '-F', String(FREQUENCY), '-p', String(pid), '-o', file, '--', 'sleep', String(SECONDS + 1)], { stdio: 'ignore' });
  const exited = new Promise((resolve) => perf.once('exit', resolve));
  await new Promise((resolve) => setTimeout(resolve, 500)); // perf attached before the load starts
  const measured = runWrk(running.port, scenario, running.name, { ...load, seconds: SECONDS });
  await exited;
  if (measured.errors > 0) throw new Error(`${running.name} answered ${measured.errors} requests with an error`);
  process.stdout.write(`round ${round} ${running.name}: ${measured.requests.toLocaleString('en')} requests sampled (${Math.round(measured.rps).toLocaleString('en')} req/s while sampled)\n`);
  tally.requests += measured.requests;
  tally.seconds += SECONDS;
  report(file, 'dso', tally.byDso);
  report(file, 'sym', tally.bySymbol);
}

/** A tally's samples as µs per request. */
function perRequest(tally: Tally, samples: Map<string, number>): Profile {
  const usPerSample = 1e6 / FREQUENCY;
  return new Map([...samples].map(([k, n]) => [k, (n * usPerSample) / tally.requests]));
}

const fmt = (us: number) => us.toFixed(2);
const total = (p: Profile) => [...p.values()].reduce((a, b) => a + b, 0);

/** Rows of `carte − other`, largest first (or smallest first with `ascending`). */
function differences(carte: Profile, other: Profile, count: number, ascending = false): string[] {
  const keys = [...new Set([...carte.keys(), ...other.keys()])];
  const diff = (k: string) => (carte.get(k) ?? 0) - (other.get(k) ?? 0);
  keys.sort((a, b) => (ascending ? diff(a) - diff(b) : diff(b) - diff(a)));
  return keys.slice(0, count).map((k) => `| ${fmt(carte.get(k) ?? 0)} | ${fmt(other.get(k) ?? 0)} | ${diff(k) >= 0 ? '+' : ''}${fmt(diff(k))} | \`${k.replace(/\|/g, '\\|').slice(0, 160)}\` |`);
}

async function main(): Promise<void> {
  requirePerf();
  requireWrk();
  ensureBenchDependencies();
  const scenario = SCENARIOS.find((s) => s.name === values.scenario);
  if (!scenario) throw new Error(`no scenario ${values.scenario}: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const against = values.against as SystemName;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'carte-perf-'));
  const running: Running[] = [];
  try {
    process.stdout.write(`preparing ${ROWS.toLocaleString('en')} restaurants in ${dir}\n`);
    await prepareData(dir, ROWS);
    const flags = { nodeFlags: ['--perf-basic-prof-only-functions'] };
    running.push(await start('carte', Number(values.port), dir, ROWS, flags));
    running.push(await start(against, Number(values.port) + 1, dir, ROWS, flags));
    const tallies = running.map((): Tally => ({ requests: 0, seconds: 0, byDso: new Map(), bySymbol: new Map() }));
    for (const r of running) {
      process.stdout.write(`${r.name}: warming up (${values.warmup} s under wrk)\n`);
      runWrk(r.port, scenario, r.name, { connections: Number(values.connections), ids: ROWS, seconds: Number(values.warmup) });
    }
    for (let round = 1; round <= Number(values.rounds); round++) {
      const order = round % 2 === 1 ? [0, 1] : [1, 0];
      for (const i of order) await sample(running[i] as Running, scenario, dir, round, tallies[i] as Tally);
    }
    const [ct, ot] = tallies as [Tally, Tally];
    const carte = { rps: ct.requests / ct.seconds, byDso: perRequest(ct, ct.byDso), bySymbol: perRequest(ct, ct.bySymbol) };
    const other = { rps: ot.requests / ot.seconds, byDso: perRequest(ot, ot.byDso), bySymbol: perRequest(ot, ot.bySymbol) };
    const header = ['| Carte µs | ' + against + ' µs | difference | ', '| ---: | ---: | ---: | --- |'];
    const cpu = os.cpus();
    const lines = [
      `# Where Carte's CPU time per request goes, against ${against}`,
      '',
      `${new Date().toISOString().slice(0, 10)} · ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown'}) · Node ${process.version} · scenario: ${scenario.title} · ` +
        `wrk, ${values.connections} connections, ${values.warmup} s warm-up, then ${values.rounds} rounds alternating the systems, ${SECONDS} s each sampled at ${FREQUENCY} Hz (\`perf record -e cpu-clock\`).`,
      '',
      `Server CPU per request while sampled (sampling adds its own cost): Carte ${fmt(total(carte.byDso))} µs (${Math.round(carte.rps).toLocaleString('en')} req/s), ` +
        `${against} ${fmt(total(other.byDso))} µs (${Math.round(other.rps).toLocaleString('en')} req/s): ${(total(carte.byDso) / total(other.byDso)).toFixed(2)}×.`,
      '',
      '## By binary',
      '',
      `${header[0]}binary |`,
      header[1],
      ...differences(carte.byDso, other.byDso, carte.byDso.size + other.byDso.size),
      '',
      `## Symbols where Carte spends more (top ${TOP})`,
      '',
      `${header[0]}symbol (\`[k]\` kernel, \`[.]\` user; \`JS:*\` optimized, \`JS:^\` baseline-compiled JavaScript) |`,
      header[1],
      ...differences(carte.bySymbol, other.bySymbol, TOP),
      '',
      `## Symbols where Carte spends less (top ${Math.ceil(TOP / 4)})`,
      '',
      `${header[0]}symbol |`,
      header[1],
      ...differences(carte.bySymbol, other.bySymbol, Math.ceil(TOP / 4), true),
    ];
    const text = `${lines.join('\n')}\n`;
    mkdirSync(path.dirname(values.out as string), { recursive: true });
    writeFileSync(values.out as string, text);
    process.stdout.write(`\n${text}`);
  } finally {
    for (const r of running) r.child.kill('SIGTERM');
    await Promise.all(running.map((r) => new Promise((resolve) => (r.child.exitCode !== null ? resolve(null) : r.child.once('exit', resolve)))));
    rmSync(dir, { recursive: true, force: true });
    for (const r of running) rmSync(`/tmp/perf-${r.child.pid}.map`, { force: true });
  }
}

await main();
