/**
 * The shared store suite on PostgreSQL (a fresh schema per suite), and what only a server
 * on PostgreSQL can show: `carte migrate` on a postgres:// URL, and durability under kill -9.
 * Runs when CARTE_TEST_PG_URL is set; says so, as a skipped test, when it is not.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { createServer } from '../src/app.js';
import type { ApiSpec } from '../src/schema/types.js';
import { openStore } from '../src/store/open.js';
import { runStoreSuite } from './store-suite.js';
import { newPgDatabase, pgQuery, testPgUrl } from './store-databases.js';

const execute = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

if (!testPgUrl()) {
  test('PostgreSQL store suite', { skip: 'CARTE_TEST_PG_URL is not set (postgres://postgres@127.0.0.1:5432/test)' }, () => undefined);
} else {
  runStoreSuite({
    name: 'postgres',
    manyWriters: true,
    async newStore(options) {
      const database = newPgDatabase();
      const store = await openStore(database.url, options);
      return {
        store,
        reopen: (more) => openStore(database.url, more),
        async dispose() {
          await store.close();
          await database.drop();
        },
      };
    },
  });

  const dir = mkdtempSync(path.join(os.tmpdir(), 'carte-pg-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const v1: ApiSpec = {
    api: { name: 'Shop' },
    resources: { customers: { access: 'public', required: ['name'], fields: { name: { type: 'string' }, email: { type: 'string', format: 'email' } } } },
  };
  const v2: ApiSpec = {
    api: { name: 'Shop' },
    resources: { customers: { access: 'public', required: ['name'], fields: { name: { type: 'string' }, phone: { type: 'string', index: true } } } },
  };

  describe('PostgreSQL server', () => {
    test('values PostgreSQL cannot hold are a 400 naming the field, never a 500', async () => {
      const database = newPgDatabase();
      const server = await createServer({ schema: v2, config: { db: database.url, port: 0, logLevel: 'silent' } });
      try {
        const url = await server.listen();
        const res = await fetch(`${url}/v1/customers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Ann\u0000', phone: '1' }) });
        assert.equal(res.status, 400);
        assert.deepEqual(((await res.json()) as { errors: unknown }).errors, [{ field: 'name', error: 'value', error_description: "'name' cannot hold the NUL character (U+0000)" }]);
        const found = await fetch(`${url}/v1/customers?name=Ann%00&phone[gt]=%00`);
        assert.equal(found.status, 200);
        assert.equal(found.headers.get('content-range'), '*/0');
        assert.equal((await fetch(`${url}/v1/customers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Bob' }) })).status, 201, 'the connection is still good');
      } finally {
        await server.close();
        await database.drop();
      }
    });

    test('carte migrate on a postgres:// URL: prints the plan, refuses destructive steps unless allowed', async () => {
      const database = newPgDatabase();
      try {
        const server = await createServer({ schema: v1, config: { db: database.url, port: 0, logLevel: 'silent' } });
        try {
          await server.store.transaction((tx) => tx.insert('customers', { name: 'Ann', email: 'ann@example.com' }));
        } finally {
          await server.close();
        }
        const schemaFile = path.join(dir, 'v2.yaml');
        writeFileSync(schemaFile, stringify(v2));
        const carte = (...args: string[]) => execute('node', ['bin/carte.js', 'migrate', schemaFile, '--db', database.url, ...args], { cwd: root });
        const steps =
          `Plan for postgres ${database.url}:\n` +
          '+ add column customers.phone (string)\n' +
          '! destructive: drop column customers.email and its data (no longer in the schema)\n' +
          '+ create index carte_ix_customers__phone\n';
        assert.equal((await carte()).stdout, `${steps}\n3 steps, 1 destructive; run again with --apply --allow-destructive to apply.\n`);
        const refused = await carte('--apply').catch((e: { code: number; stderr: string }) => e);
        assert.equal((refused as { code: number }).code, 1);
        assert.equal((refused as { stderr: string }).stderr, '1 destructive step: nothing applied; add --allow-destructive to apply the plan.\n');
        assert.equal((await carte('--apply', '--allow-destructive')).stdout, `${steps}✓ applied 3 steps.\n`);
        assert.equal((await carte()).stdout, `The database (postgres ${database.url}) already matches the schema.\n`);
        const columns = await pgQuery<{ name: string; type: string }>(
          database.url,
          "SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'customers' ORDER BY ordinal_position",
        );
        assert.deepEqual(columns, [
          { name: 'id', type: 'bigint' },
          { name: 'name', type: 'text' },
          { name: 'phone', type: 'text' },
        ]);
        assert.deepEqual(await pgQuery(database.url, 'SELECT * FROM customers'), [{ id: '1', name: 'Ann', phone: null }]);
      } finally {
        await database.drop();
      }
    });

    test('every acknowledged write survives kill -9 of the server', async () => {
      const database = newPgDatabase();
      const schemaFile = path.join(dir, 'durable.yaml');
      writeFileSync(schemaFile, stringify(v1));
      const child = spawn('node', ['bin/carte.js', 'serve', schemaFile, '--db', database.url, '--port', '0', '--log-level', 'silent'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
      try {
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
        const post = async (i: number) => {
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
        const stored = new Set((await pgQuery<{ id: string }>(database.url, 'SELECT id FROM customers')).map((r) => Number(r.id)));
        const lost = acknowledged.filter((id) => !stored.has(id));
        assert.deepEqual(lost, [], `${acknowledged.length} acknowledged writes, none lost`);
        assert.ok(acknowledged.length >= 60);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        await database.drop();
      }
    });
  });
}
