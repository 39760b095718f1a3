/** The SQLite store: automatic additive migrations, `carte migrate`, durability under kill -9. */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { createServer } from '../src/app.js';
import type { ApiSpec } from '../src/schema/types.js';
import { DestructiveMigrationError } from '../src/store/store.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'carte-store-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const v1: ApiSpec = {
  api: { name: 'Shop' },
  resources: {
    customers: { access: 'public', required: ['name'], fields: { name: { type: 'string' }, email: { type: 'string', format: 'email' } } },
  },
};
const v2: ApiSpec = {
  api: { name: 'Shop' },
  resources: {
    customers: { access: 'public', required: ['name'], fields: { name: { type: 'string' }, email: { type: 'string', format: 'email' }, phone: { type: 'string', index: true } } },
    notes: { access: 'public', fields: { customerId: { type: 'integer', references: 'customers' }, text: { type: 'string', search: true } } },
  },
};
const v3: ApiSpec = {
  api: { name: 'Shop' },
  resources: {
    customers: { access: 'public', required: ['name'], fields: { name: { type: 'string' }, phone: { type: 'string', index: true } } },
    notes: { access: 'public', fields: { customerId: { type: 'integer', references: 'customers' }, text: { type: 'string', search: true } } },
  },
};

async function withServer<T>(schema: ApiSpec, db: string, fn: (s: Awaited<ReturnType<typeof createServer>>) => Promise<T>): Promise<T> {
  const server = await createServer({ schema, config: { db, port: 0, logLevel: 'silent' } });
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

describe('migrations', () => {
  test('additive changes apply on start; destructive ones wait for carte migrate', async () => {
    const db = path.join(dir, 'migrate.db');
    await withServer(v1, db, async (s) => {
      assert.deepEqual(s.migrated.map((m) => m.kind), ['createTable']);
      const url = await s.listen();
      const res = await fetch(`${url}/v1/customers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Ann', email: 'ann@example.com' }) });
      assert.equal(res.status, 201);
    });
    await withServer(v2, db, async (s) => {
      assert.deepEqual(s.migrated.map((m) => m.description), [
        'add column customers.phone (string)',
        'create index carte_ix_customers__phone',
        'create table notes for notes',
        'create index carte_ix_notes__customerId',
        'create the search index of notes (text)',
      ]);
      const url = await s.listen();
      const { links, ...ann } = (await (await fetch(`${url}/v1/customers/1`)).json()) as Record<string, unknown>;
      assert.ok(Array.isArray(links), 'items carry their links (SPEC §4.8)');
      assert.deepEqual(ann, { id: 1, name: 'Ann', email: 'ann@example.com', phone: null });
    });
    await withServer(v2, db, async (s) => assert.deepEqual(s.migrated, [], 'a second start has nothing to do'));
    await assert.rejects(createServer({ schema: v3, config: { db, port: 0, logLevel: 'silent' } }), (e: unknown) => {
      assert.ok(e instanceof DestructiveMigrationError);
      assert.match(e.message, /rebuild table customers: column email is no longer in the schema and would be dropped with its data/);
      assert.match(e.message, /carte migrate SCHEMA --db URL/);
      return true;
    });
    const schemaFile = path.join(dir, 'v3.yaml');
    writeFileSync(schemaFile, stringify(v3));
    const plan = await run('node', ['bin/carte.js', 'migrate', schemaFile, '--db', db], { cwd: root });
    assert.equal(plan.stdout, `Plan for sqlite ${db}:\n! destructive: rebuild table customers: column email is no longer in the schema and would be dropped with its data\n\n1 step, 1 destructive; run again with --apply --allow-destructive to apply.\n`);
    const refused = await run('node', ['bin/carte.js', 'migrate', schemaFile, '--db', db, '--apply'], { cwd: root }).catch((e: { code: number; stderr: string }) => e);
    assert.equal((refused as { code: number }).code, 1);
    const applied = await run('node', ['bin/carte.js', 'migrate', schemaFile, '--db', db, '--apply', '--allow-destructive'], { cwd: root });
    assert.equal(applied.stdout, `Plan for sqlite ${db}:\n! destructive: rebuild table customers: column email is no longer in the schema and would be dropped with its data\n✓ applied 1 step.\n`);
    await withServer(v3, db, async (s) => {
      const url = await s.listen();
      const { links: _links, ...after } = (await (await fetch(`${url}/v1/customers/1`)).json()) as Record<string, unknown>;
      assert.deepEqual(after, { id: 1, name: 'Ann', phone: null });
    });
    const file = new Database(db, { readonly: true });
    try {
      assert.equal((file.pragma('journal_mode', { simple: true }) as string).toLowerCase(), 'wal');
      const indexes = (file.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'carte%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
      assert.deepEqual(indexes, ['carte_ix_customers__phone', 'carte_ix_notes__customerId']);
    } finally {
      file.close();
    }
  });
});

describe('durability', () => {
  test('every acknowledged write survives kill -9, and the file stays consistent', async () => {
    const db = path.join(dir, 'durable.db');
    const schemaFile = path.join(dir, 'durable.yaml');
    writeFileSync(schemaFile, stringify(v2));
    const child = spawn('node', ['bin/carte.js', 'serve', schemaFile, '--db', db, '--port', '0', '--log-level', 'silent'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = / API (http:\/\/[^ ]+)\/v1 /.exec(out);
        if (m) resolve(m[1] as string);
      });
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const acknowledged: number[] = [];
    let sent = 0;
    const post = async (i: number) => {
      sent++;
      const res = await fetch(`${url}/v1/customers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `c${i}` }) });
      if (res.status === 201) acknowledged.push(((await res.json()) as { id: number }).id);
    };
    for (let i = 0; i < 20; i++) await post(i);
    // A burst in flight when the process dies: acknowledged ones must be there, the rest may not.
    const burst = Array.from({ length: 200 }, (_, i) => post(100 + i).catch(() => undefined));
    while (acknowledged.length < 60) await new Promise((r) => setImmediate(r));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    await Promise.all(burst);
    assert.ok(sent >= 220);
    const file = new Database(db);
    try {
      assert.equal(file.pragma('integrity_check', { simple: true }), 'ok');
      assert.deepEqual(file.pragma('foreign_key_check'), []);
      const stored = new Set((file.prepare('SELECT id FROM customers').all() as { id: number }[]).map((r) => r.id));
      const lost = acknowledged.filter((id) => !stored.has(id));
      assert.deepEqual(lost, [], `${acknowledged.length} acknowledged writes, none lost`);
    } finally {
      file.close();
    }
  });
});
