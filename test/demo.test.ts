/** The demo (SPEC intro, §1): `npx carte serve` with no arguments, deterministic sample data. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERROR_KINDS } from '../src/errors.js';
import { startServer } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'carte-demo-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('carte serve (demo)', () => {
  test('serves the demo on ./carte.db with one start line, and stops on SIGTERM', async () => {
    const child = spawn('node', [path.join(root, 'bin/carte.js'), 'serve', '--port', '0', '--log-level', 'silent'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0] as string);
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
    });
    const m = /^Carte serving Fake Company \(demo\) — API (http:\/\/127\.0\.0\.1:\d+)\/v1 — docs (http:\/\/127\.0\.0\.1:\d+)\/docs — sqlite \.\/carte\.db$/.exec(line);
    assert.ok(m, line);
    const url = m[1] as string;
    const list = await fetch(`${url}/v1/restaurants?type=chinese`);
    assert.equal(list.status, 200);
    assert.equal(list.headers.get('content-range'), '0-11/12');
    const all = await fetch(`${url}/v1/restaurants?range=0-0`);
    assert.equal(all.headers.get('content-range'), '0-0/48');
    const orders = await fetch(`${url}/v1/orders?range=0-0`);
    assert.equal(orders.headers.get('content-range'), '0-0/300');
    assert.equal((await fetch(`${url}/health`)).status, 200);
    assert.equal((await fetch(`${url}/docs`)).status, 200);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(existsSync(path.join(dir, 'carte.db')));
  });

  test('the sample data is the same on every machine', async () => {
    // One public URL for both, as behind one host: bodies carry absolute links (SPEC §4.8).
    const a = await startServer({ config: { publicUrl: 'http://api.example.com' } });
    const b = await startServer({ config: { publicUrl: 'http://api.example.com' } });
    try {
      for (const path of ['/v1/restaurants?range=0-47', '/v1/clients?range=0-19', '/v1/orders?range=290-299', '/v1/dishes?range=100-143']) {
        const [ra, rb] = await Promise.all([a.get(path), b.get(path)]);
        assert.equal(ra.text, rb.text.replaceAll(b.url, a.url), path);
        assert.equal(ra.headers.get('etag'), rb.headers.get('etag'), path);
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('error documentation', () => {
  test('every error code has an anchor in docs/errors.md and on /docs/errors', async () => {
    const markdown = readFileSync(path.join(root, 'docs/errors.md'), 'utf8');
    const documented = [...markdown.matchAll(/^## ([a-z_]+)$/gm)].map((m) => m[1]);
    assert.deepEqual(documented.sort(), Object.keys(ERROR_KINDS).sort());
    const t = await startServer();
    try {
      const page = await t.get('/docs/errors');
      assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
      for (const code of [...Object.keys(ERROR_KINDS), 'invalid_restaurant', 'invalid_order', 'invalid_dish', 'invalid_client']) {
        assert.ok(page.text.includes(`id="${code}"`), code);
      }
    } finally {
      await t.close();
    }
  });
});
