/**
 * The security commands (SPEC §1, §8) against a running server on the same database file:
 * `carte clients create|list|revoke`, `carte keys create|list|revoke`,
 * `carte signing-keys list|rotate`, and `carte serve --dev`'s full-scope token. Changes made
 * by the command line take effect on the running server at once; secrets are stored hashed
 * and signing keys sealed.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { startServer, type TestServer } from './helpers.js';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'carte-cli-security-'));
const db = path.join(dir, 'carte.db');
const SECRET = 'correct horse battery staple';
const env = { ...process.env, CARTE_AUTH_SECRET: SECRET, NO_COLOR: '1' };

async function carte(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec('node', [path.join(root, 'bin/carte.js'), ...args], { cwd: dir, env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const failure = e as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

let t: TestServer;
before(async () => {
  t = await startServer({ config: { db, auth: { secret: SECRET } } });
});
after(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

async function clientToken(id: string, secret: string): Promise<string> {
  const res = await t.request('POST', '/oauth/token', {
    anonymous: true,
    raw: 'grant_type=client_credentials',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(id, secret) },
  });
  assert.equal(res.status, 200, res.text);
  return (res.body as { access_token: string }).access_token;
}

const write = (token: string) => t.request('POST', '/v1/restaurants', { token, body: { name: 'CLI Bistro', type: 'thai' } });

describe('carte clients', () => {
  test('create --json prints the id and the secret once; the running server issues tokens for it; revoke stops them at once', async () => {
    const created = await carte('clients', 'create', '--name', 'ci robot', '--scopes', 'restaurants:write orders:read', '--subject', 'robot', '--db', db, '--json');
    assert.equal(created.code, 0, created.stderr);
    const { client_id: id, client_secret: secret, ...rest } = JSON.parse(created.stdout) as { client_id: string; client_secret: string };
    assert.deepEqual(rest, {});
    assert.match(id, /^[0-9a-f]{20}$/);
    assert.match(secret, /^cs_[A-Za-z0-9_-]{43}$/);

    const token = await clientToken(id, secret);
    assert.equal(decodeJwt(token).sub, 'robot');
    assert.equal(decodeJwt(token).scope, 'restaurants:write orders:read');
    assert.equal((await write(token)).status, 201);

    const list = await carte('clients', 'list', '--db', db);
    assert.equal(list.code, 0);
    const row = list.stdout.split('\n').find((l) => l.startsWith(id)) as string;
    assert.match(row, /ci robot\s+restaurants:write orders:read\s+robot\s+\S+\s+active$/);
    assert.ok(!list.stdout.includes(secret), 'a secret is never listed');
    const json = JSON.parse((await carte('clients', 'list', '--db', db, '--json')).stdout) as { client_id: string; scopes: string[]; revoked_at: string | null }[];
    assert.deepEqual(json.find((c) => c.client_id === id)?.scopes, ['restaurants:write', 'orders:read']);

    const revoked = await carte('clients', 'revoke', id, '--db', db);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(revoked.stdout, `✓ client ${id} revoked; its tokens no longer work.\n`);
    const refused = await write(token);
    assert.equal(refused.status, 401);
    assert.equal((refused.body as { error_description: string }).error_description, 'The access token was revoked');
    const again = await carte('clients', 'revoke', id, '--db', db);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, `carte clients revoke: there is no active client '${id}'\n`);
  });

  test('usage errors', async () => {
    const missing = await carte('clients', 'create', '--name', 'x', '--db', db);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--scopes is required/);
    const bad = await carte('clients', 'create', '--name', 'x', '--scopes', 'a"b', '--db', db);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /'a"b' is not a valid scope/);
    const help = await carte('clients', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^carte clients create --name N --scopes "a b" \[--subject S\] \[--db URL\] \[--json\]/);
  });
});

describe('carte keys', () => {
  test('an API key works as a bearer token until it is revoked', async () => {
    const created = await carte('keys', 'create', '--name', 'nightly import', '--scopes', 'restaurants:write', '--expires', '30d', '--db', db, '--json');
    assert.equal(created.code, 0, created.stderr);
    const { id, key } = JSON.parse(created.stdout) as { id: string; key: string };
    assert.equal(key.startsWith(`ck_${id}_`), true);
    assert.equal((await write(key)).status, 201);
    const info = await t.request('GET', `/oauth/tokeninfo?access_token=${key}`, { anonymous: true });
    assert.equal((info.body as { user_id: string }).user_id, `key:${id}`);
    const list = await carte('keys', 'list', '--db', db);
    assert.match(list.stdout.split('\n').find((l) => l.startsWith(id)) as string, /nightly import\s+restaurants:write\s+key:\S+\s+\S+\s+active until \S+$/);
    assert.ok(!list.stdout.includes(key));
    assert.equal((await carte('keys', 'revoke', id, '--db', db)).code, 0);
    const refused = await write(key);
    assert.equal(refused.status, 401);
    assert.equal((refused.body as { error_description: string }).error_description, 'The API key was revoked');
  });
});

describe('carte signing-keys', () => {
  test('rotate: the running server signs with the new key at once; the old one stays published', async () => {
    const before = JSON.parse((await carte('signing-keys', 'list', '--db', db, '--json')).stdout) as { kid: string; retired_at: string | null }[];
    const active = before.filter((k) => k.retired_at === null);
    assert.equal(active.length, 1);
    const oldToken = await t.mintToken('rotation', ['restaurants:write']);
    const rotated = await carte('signing-keys', 'rotate', '--db', db);
    assert.equal(rotated.code, 0, rotated.stderr);
    const kid = /new signing key (\S+);/.exec(rotated.stdout)?.[1] as string;
    const newToken = await t.mintToken('rotation', ['restaurants:write']);
    assert.equal(decodeProtectedHeader(newToken).kid, kid);
    const jwks = (await t.get('/oauth/jwks.json')).body as { keys: { kid: string }[] };
    assert.deepEqual(jwks.keys.map((k) => k.kid).slice(0, 2), [kid, active[0]?.kid]);
    assert.equal((await write(oldToken)).status, 201);
    assert.equal((await write(newToken)).status, 201);
    const list = await carte('signing-keys', 'list', '--db', db);
    assert.match(list.stdout, new RegExp(`^${kid.replace(/[-]/g, '\\-')}\\s+ES256\\s+\\S+\\s+signing$`, 'm'));
    assert.match(list.stdout, /retired \S+$/m);
  });
});

describe('secrets at rest', () => {
  test('client secrets and API keys are scrypt hashes; private keys are sealed and never served', async () => {
    const created = JSON.parse((await carte('clients', 'create', '--name', 'rest', '--scopes', 'orders:read', '--db', db, '--json')).stdout) as { client_id: string; client_secret: string };
    const file = new Database(db, { readonly: true });
    try {
      const client = file.prepare('SELECT secret_hash FROM _carte_oauth_clients WHERE id = ?').get(created.client_id) as { secret_hash: string };
      assert.match(client.secret_hash, /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
      assert.ok(!client.secret_hash.includes(created.client_secret.slice(3)));
      for (const r of file.prepare('SELECT secret_hash FROM _carte_api_keys').all() as { secret_hash: string }[]) assert.match(r.secret_hash, /^scrypt\$/);
      const keys = file.prepare('SELECT private_key FROM _carte_signing_keys').all() as { private_key: string }[];
      assert.ok(keys.length >= 2);
      for (const k of keys) {
        assert.match(k.private_key, /^enc:v1:/);
        assert.ok(!k.private_key.includes('PRIVATE KEY'));
      }
    } finally {
      file.close();
    }
    const jwks = (await t.get('/oauth/jwks.json')).text;
    assert.ok(!jwks.includes('"d"'), 'no private member in the JWKS');
  });
});

describe('carte serve --dev', () => {
  test('prints a full-scope development token on the start line; logs never show a query-string token', async () => {
    const child = spawn('node', [path.join(root, 'bin/carte.js'), 'serve', '--dev', '--db', 'sqlite::memory:', '--port', '0', '--log-level', 'info'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    try {
      const line = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const start = out.split('\n').find((l) => l.startsWith('Carte serving'));
          if (start) resolve(start);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
      });
      const m = /^Carte serving Fake Company \(demo\) — API (http:\/\/127\.0\.0\.1:\d+)\/v1 — docs \S+ — sqlite :memory: — dev mode, token (\S+)$/.exec(line);
      assert.ok(m, line);
      const [, url, token] = m as unknown as [string, string, string];
      assert.equal(decodeJwt(token).scope, '*');
      const res = await fetch(`${url}/v1/restaurants`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Dev', type: 'thai' }) });
      assert.equal(res.status, 201);
      const anonymous = await fetch(`${url}/v1/restaurants`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Dev', type: 'thai' }) });
      assert.equal(anonymous.status, 401);
      // An EventSource sends its token in the query string; the request log masks it.
      await (await fetch(`${url}/v1/restaurants?range=0-0&access_token=${token}`, { headers: { accept: 'text/event-stream' } })).text();
      await (await fetch(`${url}/health`)).text();
      const logLines = () => out.split('\n').filter((l) => l.startsWith('{'));
      const urls = () => logLines().flatMap((l) => ((JSON.parse(l) as { req?: { url: string } }).req?.url ?? []));
      // Requests are logged in order: once /health is, the one before it is too.
      if (!urls().includes('/health')) {
        await new Promise<void>((resolve) => {
          const check = () => {
            if (urls().includes('/health')) {
              child.stdout.off('data', check);
              resolve();
            }
          };
          child.stdout.on('data', check);
        });
      }
      assert.ok(urls().includes('/v1/restaurants?range=0-0&access_token=[redacted]'), urls().join(' '));
      assert.ok(!logLines().join('\n').includes(token.split('.')[2] as string), 'the token never reaches the log');
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
