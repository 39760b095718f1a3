/**
 * HTTPS (SPEC §8): `--tls-cert/--tls-key` serve HTTP/2 over TLS (and HTTP/1.1 through
 * ALPN), with HSTS; plain HTTP on a non-loopback address is warned about at start. The
 * certificate is self-signed, made in the test with the openssl command line.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { isLoopback } from '../src/app.js';
import { startServer, type TestServer } from './helpers.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'carte-tls-test-'));
const cert = path.join(dir, 'cert.pem');
const key = path.join(dir, 'key.pem');
let ca: Buffer;
let t: TestServer;

before(async () => {
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
  ca = readFileSync(cert);
  t = await startServer({ config: { tls: { cert, key } } });
});
after(async () => {
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One HTTP/1.1 request over TLS, trusting only the test's certificate. */
function get1(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; version: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, version: res.httpVersion }));
    });
    req.on('error', reject);
  });
}

/** One HTTP/2 request. */
function get2(base: string, pathname: string, headers: Record<string, string> = {}): Promise<{ headers: http2.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(base, { ca });
    session.on('error', reject);
    const stream = session.request({ ':path': pathname, ...headers });
    let body = '';
    let responseHeaders: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => (responseHeaders = h));
    stream.on('data', (c: Buffer) => (body += c.toString()));
    stream.on('end', () => {
      session.close();
      resolve({ headers: responseHeaders, body });
    });
    stream.on('error', reject);
    stream.end();
  });
}

describe('HTTPS', () => {
  test('the server answers HTTP/2 over TLS, with HSTS', async () => {
    assert.match(t.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await get2(t.url, '/v1/restaurants?range=0-1');
    assert.equal(res.headers[':status'], 206);
    assert.equal(res.headers['strict-transport-security'], 'max-age=31536000');
    assert.equal(res.headers['content-range'], '0-1/48');
    assert.match(res.headers.link as string, new RegExp(`^<${t.url.replace(/[.]/g, '\\.')}/v1/restaurants\\?range=0-1>; rel="first"`), 'links use https');
    const write = await get2(t.url, '/v1/restaurants', { ':method': 'POST', 'content-type': 'application/json', authorization: `Bearer ${t.token}` });
    assert.equal(write.headers[':status'], 400, 'an empty JSON body is refused, after authentication');
  });

  test('HTTP/1.1 clients are still served (allowHTTP1)', async () => {
    const res = await get1(`${t.url}/v1/restaurants/1`);
    assert.equal(res.version, '1.1');
    assert.equal(res.status, 200);
    assert.equal(res.headers['strict-transport-security'], 'max-age=31536000');
    assert.equal((JSON.parse(res.body) as { id: number }).id, 1);
    const metadata = JSON.parse((await get1(`${t.url}/.well-known/oauth-authorization-server`)).body) as { issuer: string; token_endpoint: string };
    assert.equal(metadata.issuer, t.url);
    assert.equal(metadata.token_endpoint, `${t.url}/oauth/token`);
  });

  test('plain HTTP sends no HSTS', async () => {
    const plain = await startServer();
    try {
      const res = await plain.get('/v1/restaurants/1');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('strict-transport-security'), null);
    } finally {
      await plain.close();
    }
  });
});

describe('plain HTTP on a public address', () => {
  test('loopback addresses are told apart', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) assert.equal(isLoopback(h), true, h);
    for (const h of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) assert.equal(isLoopback(h), false, h);
  });

  test('carte serve warns at start when serving plain HTTP on 0.0.0.0, and not with TLS', async () => {
    const start = async (args: string[]) => {
      const child = spawn('node', [path.join(root, 'bin/carte.js'), 'serve', '--db', 'sqlite::memory:', '--port', '0', '--log-level', 'silent', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const line = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('\n')) resolve(out.split('\n')[0] as string);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${err}`)));
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      return { line, err };
    };
    const plain = await start(['--host', '0.0.0.0']);
    assert.match(plain.line, /— API http:\/\/127\.0\.0\.1:\d+\/v1 —/);
    assert.equal(
      plain.err,
      'warning: serving plain HTTP on 0.0.0.0: tokens, client secrets and API keys cross the network unencrypted; use --tls-cert/--tls-key or a TLS-terminating proxy\n',
    );
    const secure = await start(['--host', '0.0.0.0', '--tls-cert', cert, '--tls-key', key]);
    assert.match(secure.line, /— API https:\/\/127\.0\.0\.1:\d+\/v1 —/);
    assert.equal(secure.err, '');
  });
});
