/**
 * Blob memory benchmark (SPEC §4.9: streamed, never buffered whole): uploads 1 GiB to a
 * blob field of a real Carte server running in its own process, then downloads it, and
 * samples the server's resident memory (/proc/<pid>/status, Linux) all along. The figure
 * that matters is how much the upload raises the server's RSS above its idle baseline.
 *
 *   npm run bench:blob-memory            # 1 GiB
 *   node --import tsx bench/blob-memory.ts --mib 256
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { ApiSpec } from '../src/schema/types.js';

const MIB = 1024 * 1024;

const schema: ApiSpec = {
  api: { name: 'Blob bench' },
  resources: {
    files: {
      access: 'public',
      fields: {
        name: { type: 'string' },
        data: { type: 'blob', mediaTypes: ['application/octet-stream'], maxBytes: 4 * 1024 * MIB },
      },
    },
  },
};

/** The server side: a Carte server on a file database, printing its URL. */
async function serve(dir: string): Promise<void> {
  const { createServer } = await import('../src/app.js');
  const server = await createServer({ schema, config: { db: path.join(dir, 'bench.db'), port: 0, logLevel: 'silent', durability: 'normal' } });
  const url = await server.listen();
  process.stdout.write(`${url}\n`);
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

function rssKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

/** Samples a process's RSS every few milliseconds until stopped; returns the peak. */
function sampler(pid: number): { stop(): number } {
  let peak = rssKiB(pid, 'VmRSS');
  const timer = setInterval(() => {
    peak = Math.max(peak, rssKiB(pid, 'VmRSS'));
  }, 5);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssKiB(pid, 'VmRSS'));
    },
  };
}

function request(url: string, method: string, body?: Readable, headers: Record<string, string> = {}): Promise<{ status: number; bytes: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let bytes = 0;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (chunks.length < 4) chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, text: Buffer.concat(chunks).toString('utf8').slice(0, 500) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body) body.pipe(req);
    else req.end();
  });
}

/** `total` bytes made of one random MiB repeated, produced on demand. */
function bytes(total: number): Readable {
  const block = randomBytes(MIB);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(MIB, total - sent);
      sent += n;
      this.push(n === MIB ? block : block.subarray(0, n));
    },
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--server') return serve(args[1] as string);
  const mib = args[0] === '--mib' ? Number(args[1]) : 1024;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'carte-blob-bench-'));
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', self, '--server', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
    });
    const pid = child.pid as number;
    const created = await request(`${url}/v1/files`, 'POST', Readable.from([JSON.stringify({ name: 'big' })]), { 'content-type': 'application/json' });
    if (created.status !== 201) throw new Error(`create: ${created.status} ${created.text}`);
    const blobUrl = `${url}/v1/files/1/data`;
    // Warm-up: code paths compiled, buffers allocated, before the baseline is read.
    for (let i = 0; i < 3; i++) await request(blobUrl, 'PUT', bytes(16 * MIB), { 'content-type': 'application/octet-stream' });
    await request(blobUrl, 'GET');
    await new Promise((r) => setTimeout(r, 500));
    const baseline = rssKiB(pid, 'VmRSS');

    const up = sampler(pid);
    const started = process.hrtime.bigint();
    const put = await request(blobUrl, 'PUT', bytes(mib * MIB), { 'content-type': 'application/octet-stream', 'content-length': String(mib * MIB) });
    const upSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const upPeak = up.stop();
    if (put.status !== 204) throw new Error(`upload: ${put.status} ${put.text}`);

    const down = sampler(pid);
    const startedDown = process.hrtime.bigint();
    const get = await request(blobUrl, 'GET');
    const downSeconds = Number(process.hrtime.bigint() - startedDown) / 1e9;
    const downPeak = down.stop();
    if (get.status !== 200 || get.bytes !== mib * MIB) throw new Error(`download: ${get.status}, ${get.bytes} bytes`);

    const mb = (kib: number) => (kib / 1024).toFixed(1);
    const lines = [
      `Blob of ${mib} MiB through a real server (its own process, SQLite file, blob files next to it), Node ${process.version}, ${os.cpus().length} CPUs:`,
      '',
      '| | server RSS (MiB) | above the idle baseline (MiB) | throughput |',
      '| --- | ---: | ---: | ---: |',
      `| idle, after warm-up | ${mb(baseline)} | | |`,
      `| peak during the ${mib} MiB upload | ${mb(upPeak)} | ${mb(upPeak - baseline)} | ${(mib / upSeconds).toFixed(0)} MiB/s |`,
      `| peak during the ${mib} MiB download | ${mb(downPeak)} | ${mb(downPeak - baseline)} | ${(mib / downSeconds).toFixed(0)} MiB/s |`,
      '',
      `RSS sampled every 5 ms from /proc/${'<pid>'}/status while the transfer ran.`,
    ];
    const report = lines.join('\n');
    console.log(report);
    if (mib >= 1024) writeFileSync(path.join(path.dirname(self), 'results', 'blob-memory.md'), `# Blob memory (\`npm run bench:blob-memory\`)\n\n${report}\n`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
