/**
 * Memory under load: Carte's RSS after loading 1,000,000 rows, then after each batch of
 * 100,000 requests (GET item, GET list, POST). It must not grow with the requests served.
 * Usage: node --import tsx bench/memory.ts [--rows 1000000] [--batches 3]
 * (CARTE_BENCH_MEMORY_DB keeps the loaded database between runs.)
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadSchemaFile } from '../src/schema/load.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { NEW_RESTAURANT, restaurants } from './data.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, batches: { type: 'string', default: '3' } } });
const ROWS = Number(values.rows);

function rss(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

function load(port: number, method: string, pathTemplate: string, requests: number, body = ''): number {
  // wrk is duration-based: run until the wanted number of requests has been served.
  let done = 0;
  while (done < requests) {
    const r = spawnSync('wrk', ['-t1', '-c50', '-d3s', '-s', path.join(root, 'bench/wrk/request.lua'), `http://127.0.0.1:${port}`], {
      env: { ...process.env, BENCH_METHOD: method, BENCH_PATH: pathTemplate, BENCH_BODY: body, BENCH_IDS: String(ROWS) },
      encoding: 'utf8',
    });
    if (r.error || r.status !== 0) throw new Error(`wrk failed (${r.error?.message ?? r.stderr}); install it: apt-get install -y wrk`);
    done += Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? 0);
  }
  return done;
}

async function main(): Promise<void> {
  const keep = process.env.CARTE_BENCH_MEMORY_DB;
  const dir = keep ? path.dirname(path.resolve(keep)) : mkdtempSync(path.join(os.tmpdir(), 'carte-bench-memory-'));
  const file = keep ? path.resolve(keep) : path.join(dir, 'carte.db');
  const schema = path.join(root, 'bench/schema.yaml');
  if (!existsSync(file)) {
    const { model } = await loadSchemaFile(schema);
    const store = new SqliteStore({ file, durability: 'normal' });
    await store.applyMigration(await store.planMigration(model));
    store.attach(model);
    const rows = restaurants(ROWS);
    for (let start = 0; start < ROWS; start += 20_000) {
      await store.transaction(async (tx) => {
        for (const { id: _id, ...r } of rows.slice(start, start + 20_000)) await tx.insert('restaurants', r);
      });
    }
    await store.close();
  }
  const port = 3691;
  const child = spawn('node', ['bin/carte.js', 'serve', schema, '--db', file, '--port', String(port), '--log-level', 'warn'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('Carte serving') && resolve()));
  const pid = child.pid as number;
  const lines = [`# Memory: Carte on ${ROWS.toLocaleString('en')} restaurants`, '', `${new Date().toISOString().slice(0, 10)} · Node ${process.version} · ${os.cpus().length} cores`, '', '| after | RSS | change |', '| --- | ---: | ---: |'];
  await fetch(`http://127.0.0.1:${port}/v1/restaurants/1`);
  let previous = rss(pid);
  lines.push(`| start (1 request) | ${previous.toFixed(0)} MB | |`);
  let served = 0;
  for (let batch = 1; batch <= Number(values.batches); batch++) {
    served += load(port, 'GET', '/v1/restaurants/{id}', 40_000);
    served += load(port, 'GET', '/v1/restaurants?type=chinese&sort=rating&desc&range=0-24', 40_000);
    served += load(port, 'POST', '/v1/restaurants', 20_000, JSON.stringify(NEW_RESTAURANT));
    const now = rss(pid);
    lines.push(`| ${served.toLocaleString('en')} requests | ${now.toFixed(0)} MB | ${now >= previous ? '+' : '−'}${Math.abs(now - previous).toFixed(0)} MB |`);
    previous = now;
  }
  child.kill('SIGTERM');
  const text = `${lines.join('\n')}\n`;
  process.stdout.write(text);
  const out = path.join(root, 'bench/results/memory.md');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, text);
  if (!keep) rmSync(dir, { recursive: true, force: true });
}

await main();
