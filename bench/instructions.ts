/**
 * `npm run bench:instructions`: the instructions each server runs per request, counted by
 * valgrind's callgrind. Seconds on a shared machine move by ±15 % between identical runs;
 * instruction counts repeat to a fraction of a percent, so this is how a change to the hot path
 * is judged (A/B on the same scenario), and how Carte's own machinery is compared with the
 * hand-written baseline's.
 *
 * Each system runs under `valgrind --tool=callgrind` (user-space instructions, every thread),
 * uninstrumented while it starts and warms up. The warm-up is long: V8 goes on optimizing a
 * server's hot functions for some 30,000 requests, and counted too early, compilation was 40 %
 * of a GET item. Then counting is switched on (`callgrind_control -i on`, `-z`), the measured
 * requests are sent, and `callgrind_control -d` dumps the count: instructions per request = the
 * dump's total ÷ the measured requests. Work a server leaves for when writes pause (Carte merges
 * its search indexes a second after the last write) is let finish after the warm-up, and is
 * counted after the measured requests (the dump waits until the server is idle). One request at a time by default: with several in
 * flight, how many one event-loop turn serves depends on timing, and so does the count.
 *
 * Usage: node --import tsx bench/instructions.ts [--rows 10000] [--warmup 30000] [--requests 3000]
 *          [--concurrency 1] [--port 3701] [--only carte,baseline,baseline-rep] [--scenarios get-item,get-list]
 *          [--keep DIR]   (keeps each measured dump as DIR/<scenario>.<system>.callgrind, for callgrind_annotate)
 *          [--simulate] [--caches I1/D1/LL] (also simulates caches and branch prediction: misses per request and an
 *                          estimate of cycles; several times slower. Instructions alone can hide a
 *                          difference: two servers running as many instructions differed by half
 *                          in CPU time, and the misses showed why)
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchDir, ensureBenchDependencies, prepareData, SCENARIOS, start, waitIdle, type Scenario, type SystemName } from './systems.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000' },
    warmup: { type: 'string', default: '30000' },
    requests: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '1' },
    port: { type: 'string', default: '3701' },
    predictable: { type: 'boolean', default: true },
    keep: { type: 'string' },
    simulate: { type: 'boolean', default: false },
    // The caches to simulate (valgrind's --I1, --D1, --LL: size,associativity,line). By default a
    // Zen 5 core's: its 1 MB second level stands for the last level, because the real third level
    // is shared with the machine's other tenants (valgrind would model the whole host's 512 MB).
    caches: { type: 'string', default: '32768,8,64/49152,12,64/1048576,16,64' },
    only: { type: 'string', default: 'carte,baseline,baseline-rep' },
    scenarios: { type: 'string', default: 'get-item,get-list,get-fields,post' },
    out: { type: 'string', default: path.join(benchDir, 'results', 'instructions.md') },
  },
});
const ROWS = Number(values.rows);
const WARMUP = Number(values.warmup);
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
/** How long the idle server is counted, to take its timers' work out of the requests'. */
const IDLE_MS = 5000;
/**
 * V8 compiles and collects garbage on helper threads, at moments that depend on timing; valgrind
 * runs one thread at a time, so when that work lands moved the count by up to a third between
 * identical runs. `--predictable` does it all on the main thread, in the same order every time.
 */
const NODE_FLAGS = values.predictable ? ['--predictable'] : [];

function requireValgrind(): void {
  for (const tool of ['valgrind', 'callgrind_control']) {
    if (spawnSync(tool, ['--version']).error) throw new Error(`${tool} is needed: apt-get install -y valgrind`);
  }
}

/** A deterministic stream of ids (the same requests for every system). */
function ids(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return 1 + (x % ROWS);
  };
}

/**
 * Sends `count` requests, `CONCURRENCY` at a time over the agent's keep-alive connections;
 * returns the non-2xx answers. The warm-up and the measured requests share the connections: a
 * new socket in the measured window makes V8 throw away and recompile Node's stream code.
 */
async function send(agent: http.Agent, port: number, scenario: Scenario, system: SystemName, count: number, seed: number): Promise<number> {
  const next = ids(seed);
  let left = count;
  let failed = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const id = next();
      const body = scenario.body?.replace('{n}', String(id % 6));
      const request = http.request(
        { port, host: '127.0.0.1', agent, method: scenario.method, path: (scenario.paths[system] as string).replace('{id}', String(id)), headers: body ? { 'content-type': 'application/json' } : {} },
        (response) => {
          if ((response.statusCode ?? 0) >= 300) failed++;
          response.resume();
          response.on('end', resolve);
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  const worker = async () => {
    while (left > 0) {
      left--;
      await one();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return failed;
}

function callgrindControl(args: readonly string[], pid: number): void {
  const r = spawnSync('callgrind_control', [...args, String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`callgrind_control ${args.join(' ')} ${pid} failed: ${r.stderr || r.stdout}`);
}

/** The process's last dump (`callgrind.out.<pid>.<n>`, n counting the dumps). */
function lastDump(dir: string, pid: number): string {
  const dumps = readdirSync(dir).filter((f) => f.startsWith(`callgrind.out.${pid}.`));
  const last = dumps.sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop())).pop();
  if (!last) throw new Error(`no callgrind dump for ${pid} in ${dir}`);
  return path.join(dir, last);
}

/**
 * A dump's event totals (its `events:` and `totals:` lines): `Ir` (instructions) always; with
 * `--simulate`, also the simulated cache misses (`I1mr`, `D1mr`, `D1mw`: first level; `ILmr`,
 * `DLmr`, `DLmw`: last level) and branch mispredictions (`Bcm` conditional, `Bim` indirect).
 */
function dumpedEvents(file: string): Record<string, number> {
  const text = readFileSync(file, 'utf8');
  const names = /^events: (.+)$/m.exec(text)?.[1]?.trim().split(/\s+/);
  const totals = /^(?:totals|summary): (.+)$/m.exec(text)?.[1]?.trim().split(/\s+/);
  if (!names || !totals) throw new Error(`no events or totals in ${file}`);
  return Object.fromEntries(names.map((name, i) => [name, Number(totals[i] ?? 0)]));
}

/**
 * KCachegrind's cycle estimate: an instruction costs 1, a first-level miss or a mispredicted
 * branch about 10, a last-level miss about 100. Rough, but it weighs what instructions hide:
 * two servers running the same instructions can differ by half in CPU time.
 */
function estimatedCycles(e: Record<string, number>): number {
  const n = (k: string) => e[k] ?? 0;
  return n('Ir') + 10 * (n('I1mr') + n('D1mr') + n('D1mw') + n('Bcm') + n('Bim')) + 100 * (n('ILmr') + n('DLmr') + n('DLmw'));
}

interface Counted {
  /** Each event's count per request, less the idle server's in the same time. */
  readonly perRequest: Record<string, number>;
  /** The idle server's instructions in the same time, per request (taken out). */
  readonly idlePerRequest: number;
}

/** Waits for the work a server does once requests pause: past its delay, until it is idle. */
async function settle(pid: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await waitIdle(pid, 120_000);
}

async function measure(system: SystemName, scenario: Scenario, port: number, dir: string): Promise<Counted> {
  const out = path.join(dir, 'callgrind');
  mkdirSync(out, { recursive: true });
  // Start-up and warm-up run uninstrumented (several times faster); counting starts after them.
  const [i1, d1, ll] = (values.caches as string).split('/');
  const simulate = values.simulate ? ['--cache-sim=yes', '--branch-sim=yes', `--I1=${i1}`, `--D1=${d1}`, `--LL=${ll}`] : [];
  const wrap = ['valgrind', '--tool=callgrind', ...simulate, '--instr-atstart=no', `--callgrind-out-file=${path.join(out, 'callgrind.out.%p')}`];
  const running = await start(system, port, dir, ROWS, { wrap, nodeFlags: NODE_FLAGS, timeoutMs: 600_000 });
  const pid = running.child.pid as number;
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    const warmFailed = await send(agent, port, scenario, system, WARMUP, 7);
    // Writes leave work for when they pause (Carte merges its SQLite search indexes a second
    // after the last write): the warm-up's is done before counting starts…
    await settle(pid);
    callgrindControl(['-i', 'on'], pid);
    callgrindControl(['-z'], pid);
    const started = performance.now();
    const failed = await send(agent, port, scenario, system, REQUESTS, 11);
    // …and the counted requests' is counted with them.
    await settle(pid);
    const elapsed = performance.now() - started;
    callgrindControl(['-d'], pid);
    if (warmFailed + failed > 0) throw new Error(`${system} answered ${warmFailed + failed} ${scenario.name} requests with an error`);
    const dump = lastDump(out, pid);
    if (values.keep) {
      mkdirSync(values.keep, { recursive: true });
      copyFileSync(dump, path.join(values.keep, `${scenario.name}.${system}.callgrind`));
    }
    const total = dumpedEvents(dump);
    // What the server runs with no request at all (timers), in the same time: not the requests' work.
    callgrindControl(['-z'], pid);
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    callgrindControl(['-d'], pid);
    const idle = dumpedEvents(lastDump(out, pid));
    const scale = elapsed / IDLE_MS;
    const perRequest = Object.fromEntries(Object.entries(total).map(([k, v]) => [k, (v - (idle[k] ?? 0) * scale) / REQUESTS]));
    return { perRequest, idlePerRequest: ((idle.Ir ?? 0) * scale) / REQUESTS };
  } finally {
    agent.destroy();
    running.child.kill('SIGTERM');
    await new Promise((resolve) => running.child.once('exit', resolve));
  }
}

async function main(): Promise<void> {
  requireValgrind();
  ensureBenchDependencies();
  const systems = (values.only as string).split(',') as SystemName[];
  const scenarios = SCENARIOS.filter((s) => (values.scenarios as string).split(',').includes(s.name));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'carte-instructions-'));
  const counts = new Map<string, Record<string, number>>();
  try {
    process.stdout.write(`preparing ${ROWS.toLocaleString('en')} restaurants in ${dir}\n`);
    await prepareData(dir, ROWS);
    let port = Number(values.port);
    for (const scenario of scenarios) {
      for (const system of systems) {
        if (scenario.paths[system] === null) continue;
        const { perRequest, idlePerRequest } = await measure(system, scenario, port++, dir);
        counts.set(`${scenario.name}/${system}`, perRequest);
        const simulated = values.simulate ? `, ${Math.round(estimatedCycles(perRequest)).toLocaleString('en')} estimated cycles` : '';
        process.stdout.write(`${scenario.name.padEnd(11)} ${system.padEnd(17)} ${Math.round(perRequest.Ir ?? 0).toLocaleString('en').padStart(10)} instructions/request${simulated} (idle timers in the same time, not counted: ${Math.round(idlePerRequest).toLocaleString('en')})\n`);
      }
    }
    writeReport(systems, scenarios, counts);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeReport(systems: SystemName[], scenarios: Scenario[], counts: Map<string, Record<string, number>>): void {
  const cpu = os.cpus();
  const lines = [
    '# Instructions per request (callgrind)',
    '',
    `${new Date().toISOString().slice(0, 10)} · ${cpu[0]?.model.trim() ?? 'unknown'} · Node ${process.version} · ${ROWS.toLocaleString('en')} restaurants · ` +
      `${WARMUP.toLocaleString('en')} warm-up requests, then ${REQUESTS.toLocaleString('en')} counted, ${CONCURRENCY} at a time over keep-alive connections.`,
    '',
    'User-space instructions of the whole server process (every thread) per request, less what the idle server runs in the same time (its timers); repeated runs agree within 0.5 % on GET item and 2 % on a list. Below 1 in the ratio columns: Carte runs fewer instructions.',
    '',
    ...table(systems, scenarios, (c) => c.Ir ?? 0),
  ];
  if (values.simulate) {
    const per = (event: string) => (c: Record<string, number>) => c[event] ?? 0;
    lines.push(
      '',
      "## Simulated caches and branches (`--simulate`)",
      '',
      `Callgrind's model of caches (\`--caches ${values.caches}\`: first-level instruction / data, last level as size,associativity,line) and of a branch predictor, per request. Estimated cycles, KCachegrind's formula: instructions + 10 × (first-level misses + mispredicted branches) + 100 × last-level misses.`,
      '',
      '### Estimated cycles',
      '',
      ...table(systems, scenarios, estimatedCycles),
      '',
      '### First-level instruction-cache misses (I1mr)',
      '',
      ...table(systems, scenarios, per('I1mr')),
      '',
      '### First-level data-cache misses (D1mr + D1mw)',
      '',
      ...table(systems, scenarios, (c) => (c.D1mr ?? 0) + (c.D1mw ?? 0)),
      '',
      '### Last-level misses (ILmr + DLmr + DLmw)',
      '',
      ...table(systems, scenarios, (c) => (c.ILmr ?? 0) + (c.DLmr ?? 0) + (c.DLmw ?? 0)),
      '',
      '### Mispredicted branches (Bcm + Bim)',
      '',
      ...table(systems, scenarios, (c) => (c.Bcm ?? 0) + (c.Bim ?? 0)),
    );
  }
  const text = `${lines.join('\n')}\n`;
  mkdirSync(path.dirname(values.out as string), { recursive: true });
  writeFileSync(values.out as string, text);
  process.stdout.write(`\n${text}`);

  function table(systems: SystemName[], scenarios: Scenario[], value: (counts: Record<string, number>) => number): string[] {
    const get = (scenario: Scenario, system: SystemName) => {
      const c = counts.get(`${scenario.name}/${system}`);
      return c === undefined ? undefined : value(c);
    };
    const ratio = (scenario: Scenario, other: SystemName) => {
      const carte = get(scenario, 'carte');
      const o = get(scenario, other);
      return carte && o ? `${(carte / o).toFixed(2)}×` : 'n/a';
    };
    return [
      `| scenario | ${systems.join(' | ')} | Carte / baseline | Carte / baseline-rep |`,
      `| --- | ${systems.map(() => '---:').join(' | ')} | ---: | ---: |`,
      ...scenarios.map((scenario) => {
        const cells = systems.map((s) => {
          const n = get(scenario, s);
          return n === undefined ? 'n/a' : Math.round(n).toLocaleString('en');
        });
        return `| ${scenario.title} | ${cells.join(' | ')} | ${ratio(scenario, 'baseline')} | ${ratio(scenario, 'baseline-rep')} |`;
      }),
    ];
  }
}

await main();
