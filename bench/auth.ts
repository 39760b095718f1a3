/**
 * What security costs per request (SPEC §8), measured in-process after a warm-up, with a
 * baseline in the same run:
 *   (a) anonymous GET /v1/restaurants/1 through the HTTP stack (fastify.inject)   baseline
 *   (b) the same GET with a JWT access token (ES256 verify + one row lookup)
 *   (c) the same GET with an API key (verified once with scrypt, then cached)
 *   (d) authenticate() alone: JWT, API key
 *   (e) POST /oauth/token (client_credentials: scrypt check, signing, two rows)
 *   (f) hashSecret (scrypt N=2^14)
 * Usage: node --import tsx bench/auth.ts   (writes bench/results/auth.md)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from '../src/app.js';
import { hashSecret } from '../src/auth/secrets.js';

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function time(label: string, runs: number, fn: () => Promise<unknown>): Promise<{ label: string; median: number; p90: number }> {
  for (let i = 0; i < Math.min(50, runs); i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { label, median: median(samples), p90: samples[Math.floor(samples.length * 0.9)] as number };
}

const server = await createServer({ config: { db: 'sqlite::memory:', port: 0, logLevel: 'silent', rateLimits: { enabled: false } } });
const base = 'http://127.0.0.1';
const context = server.auth.context(base);
const jwt = (await server.auth.issueToken({ clientId: 'bench', subject: 'bench', scopes: ['*'] }, context)).token;
const { key } = await server.auth.apiKeys.create({ name: 'bench', scopes: ['*'] });
const client = await server.auth.clients.create({ name: 'bench', scopes: ['restaurants:write'] });
const basic = `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`;
const get = (authorization?: string) => server.app.inject({ method: 'GET', url: '/v1/restaurants/1', headers: authorization ? { authorization } : {} });

for (let i = 0; i < 1000; i++) await get(); // warm the HTTP stack before the baseline
const results = [
  await time('GET /v1/restaurants/1, anonymous (baseline)', 2000, () => get()),
  await time('GET /v1/restaurants/1, JWT access token', 2000, () => get(`Bearer ${jwt}`)),
  await time('GET /v1/restaurants/1, API key', 2000, () => get(`Bearer ${key}`)),
  await time('authenticate(): JWT access token', 2000, () => server.auth.authenticator.bearer(jwt)),
  await time('authenticate(): API key (cached after the first scrypt)', 2000, () => server.auth.authenticator.bearer(key)),
  await time('POST /oauth/token (client_credentials)', 50, () =>
    server.app.inject({ method: 'POST', url: '/oauth/token', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials' }),
  ),
  await time('hashSecret (scrypt N=2^14, r=8, p=1)', 30, () => hashSecret('x'.repeat(43))),
];
await server.close();

const table = ['| measurement | median | p90 |', '| --- | --- | --- |', ...results.map((r) => `| ${r.label} | ${r.median.toFixed(3)} ms | ${r.p90.toFixed(3)} ms |`)].join('\n');
const out = `# Security costs\n\nIn-process (\`fastify.inject\`), after a warm-up, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}.\n\n${table}\n`;
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, 'auth.md'), out);
process.stdout.write(`${out}\n`);
