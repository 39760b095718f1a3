/**
 * Held long polls are cheap (issue 6, SPEC §7): one Carte instance (the compiled server,
 * demo schema, in a child process) holds N long polls — half `GET /v1/events?after=now`,
 * half item GETs with `If-None-Match` — opened by this process; we report the server's RSS
 * idle and with every request held (target < 300 MB for 10,000), how long one write takes
 * to answer every held feed poll (woken by the bus, no database polling), and how long a
 * shutdown takes to answer them all.
 * Usage: npm run build && node --import tsx bench/long-poll-memory.ts [N]   (writes bench/results/long-poll-memory.md)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const N = Number(process.argv[2] ?? 10_000);
const root = fileURLToPath(new URL('..', import.meta.url));

interface ServerStats {
  readonly rss: number;
  readonly heapUsed: number;
  readonly held: number;
}

/** The server: the compiled createServer in a plain node process, answering stats over IPC. */
const SERVER = `
import { createServer } from './dist/app.js';
const server = await createServer({ config: { db: 'sqlite::memory:', port: 0, logLevel: 'warn', rateLimits: { enabled: false } } });
const url = await server.listen();
process.on('message', async (m) => {
  if (m === 'stats') {
    const mem = process.memoryUsage();
    process.send({ rss: mem.rss, heapUsed: mem.heapUsed, held: server.events.stats().heldLongPolls });
  } else if (m === 'close') {
    await server.close();
    process.send('closed');
    process.exit(0);
  }
});
process.send({ url });
`;

function startServer(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', SERVER], { cwd: root, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve({ child, url: (m as { url: string }).url }));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

function ask<T>(child: ChildProcess, message: string): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send(message);
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

function request(url: string, method: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; at: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, at: performance.now() }));
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

async function waitFor(child: ChildProcess, predicate: (s: ServerStats) => boolean): Promise<ServerStats> {
  for (;;) {
    const stats = await ask<ServerStats>(child, 'stats');
    if (predicate(stats)) return stats;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function main(): Promise<void> {
  const startLoad = os.loadavg()[0] as number;
  const { child, url } = await startServer();
  // Warm up the routes both kinds of poll take.
  await request(`${url}/v1/events?after=now`, 'GET');
  const orders = await Promise.all(
    Array.from({ length: 100 }, (_, i) => request(`${url}/v1/orders/${i + 1}`, 'GET').then((r) => ({ id: i + 1, etag: r.headers.etag as string }))),
  );
  await new Promise((r) => setTimeout(r, 1000));
  const idle = await ask<ServerStats>(child, 'stats');
  console.log(`idle server: RSS ${mb(idle.rss)}, heap ${mb(idle.heapUsed)}`);

  const feedPolls: Promise<{ status: number; body: string; at: number }>[] = [];
  const itemPolls: Promise<{ status: number }>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < N; i += 500) {
    for (let j = i; j < Math.min(N, i + 500); j++) {
      if (j % 2 === 0) feedPolls.push(request(`${url}/v1/events?after=now&resource=orders`, 'GET', { prefer: 'wait=120' }));
      else {
        const order = orders[j % orders.length] as { id: number; etag: string };
        itemPolls.push(request(`${url}/v1/orders/${order.id}`, 'GET', { prefer: 'wait=120', 'if-none-match': order.etag }));
      }
    }
    // Let the server accept this batch before the next (the listen backlog is finite).
    await waitFor(child, (s) => s.held >= Math.min(N, i + 500));
  }
  const opened = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 2000));
  const heldStats = await waitFor(child, (s) => s.held === N);
  console.log(`${N} held (opened in ${(opened / 1000).toFixed(1)} s): RSS ${mb(heldStats.rss)}, heap ${mb(heldStats.heapUsed)}`);

  // One write (to an order no item poll waits on) answers every held feed poll.
  const w0 = performance.now();
  const write = await request(`${url}/v1/orders`, 'POST', { 'content-type': 'application/json' }, JSON.stringify({ clientId: 1, restaurantId: 1 }));
  if (write.status !== 201) throw new Error(`write failed: ${write.status} ${write.body}`);
  const answered = await Promise.all(feedPolls);
  const wake = answered.map((r) => r.at - w0).sort((a, b) => a - b);
  const woken = answered.filter((r) => r.status === 200 && r.body.includes('orders.created')).length;
  console.log(`one write answered ${woken}/${feedPolls.length} feed polls: median ${wake[Math.floor(wake.length / 2)]?.toFixed(0)} ms, p99 ${wake[Math.floor(wake.length * 0.99)]?.toFixed(0)} ms, last ${wake[wake.length - 1]?.toFixed(0)} ms`);
  const afterWake = await ask<ServerStats>(child, 'stats');

  // Shutdown answers the item polls still held (304).
  const s0 = performance.now();
  const closed = ask<string>(child, 'close');
  const items = await Promise.all(itemPolls);
  const shutdown = performance.now() - s0;
  await closed;
  const notModified = items.filter((r) => r.status === 304).length;
  console.log(`shutdown answered ${notModified}/${itemPolls.length} held item polls with 304 in ${shutdown.toFixed(0)} ms`);
  agent.destroy();

  const perRequest = (heldStats.rss - idle.rss) / N;
  const report = `# Long-poll memory (bench/long-poll-memory.ts)

One Carte instance (compiled, demo schema, \`sqlite::memory:\`, default settings) in its own
process; ${N.toLocaleString('en')} long polls opened from a separate load process over
${N.toLocaleString('en')} connections: half \`GET /v1/events?after=now&resource=orders\`, half
\`GET /v1/orders/{id}\` with \`If-None-Match\`, all with \`Prefer: wait=120\`.
Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), Node ${process.version}; **shared with other
jobs running tests at the same time**, so timings are indicative.
Load average (1 min) at the start and the end of the run: ${startLoad.toFixed(1)} and ${os.loadavg()[0]?.toFixed(1)}.

| measure | value |
| --- | --- |
| server RSS, idle | ${mb(idle.rss)} |
| server RSS, ${N.toLocaleString('en')} requests held | **${mb(heldStats.rss)}** (target < 300 MB) |
| server heap, ${N.toLocaleString('en')} requests held | ${mb(heldStats.heapUsed)} |
| memory per held request | ${(perRequest / 1024).toFixed(1)} KB |
| one write → every held feed poll answered | ${woken}/${feedPolls.length}, median ${wake[Math.floor(wake.length / 2)]?.toFixed(0)} ms, p99 ${wake[Math.floor(wake.length * 0.99)]?.toFixed(0)} ms |
| server RSS after answering them | ${mb(afterWake.rss)} |
| shutdown → every held item poll answered (304) | ${notModified}/${itemPolls.length} in ${shutdown.toFixed(0)} ms |
`;
  mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  writeFileSync(path.join(root, 'bench/results/long-poll-memory.md'), report);
  console.log('\nwrote bench/results/long-poll-memory.md');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
