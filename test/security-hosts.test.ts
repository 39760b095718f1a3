/**
 * SPEC §8 "Domains" (seed 004: one host to call the API, one to get a token, one for the
 * developer portal): with `config.hosts`, each face answers only on its own host, and the
 * links, Location headers, error_uri and token metadata use those hosts.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { startServer, type TestServer } from './helpers.js';

const API = 'api.example.test';
const OAUTH = 'oauth2.example.test';
const DEVELOPER = 'developers.example.test';

let t: TestServer;
before(async () => {
  t = await startServer({ config: { hosts: { api: API, oauth: OAUTH, developer: DEVELOPER } } });
});
after(() => t.close());

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** A request to the test server under another Host header (fetch cannot set one). */
function call(host: string, method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const { port } = new URL(t.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { host, ...init.headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('one host per face', () => {
  test('the API answers on its host, with its links there; elsewhere it is not found', async () => {
    const list = await call(API, 'GET', '/v1/restaurants?range=0-1');
    assert.equal(list.status, 206);
    assert.match(list.headers.link as string, /^<http:\/\/api\.example\.test\/v1\/restaurants\?range=0-1>; rel="first"/);
    const elsewhere = await call(DEVELOPER, 'GET', '/v1/restaurants');
    assert.equal(elsewhere.status, 404);
    assert.deepEqual(JSON.parse(elsewhere.text), {
      error: 'not_found',
      error_description: 'There is nothing at GET /v1/restaurants on this host; The API is at http://api.example.test',
      error_uri: `http://${DEVELOPER}/docs/errors#not_found`,
    });
    const created = await call(API, 'POST', '/v1/restaurants', { body: JSON.stringify({ name: 'Hosted', type: 'thai' }), headers: { 'content-type': 'application/json', authorization: `Bearer ${t.token}` } });
    assert.equal(created.status, 201);
    assert.match(created.headers.location as string, /^http:\/\/api\.example\.test\/v1\/restaurants\/\d+$/);
    const discovery = JSON.parse((await call(API, 'GET', '/v1')).text) as { links: { rel: string; href: string }[] };
    assert.equal(discovery.links.find((l) => l.rel === 'docs')?.href, `http://${DEVELOPER}/docs`);
  });

  test('errors point at the developer portal’s host', async () => {
    const missing = await call(API, 'GET', '/v1/restaurants/999999');
    assert.equal(JSON.parse(missing.text).error_uri, `http://${DEVELOPER}/docs/errors#not_found`);
  });

  test('the OAuth2 server answers on its host; its metadata and tokens name the three hosts', async () => {
    const metadata = await call(OAUTH, 'GET', '/.well-known/oauth-authorization-server');
    assert.equal(metadata.status, 200);
    const m = JSON.parse(metadata.text) as Record<string, string>;
    assert.equal(m.issuer, `http://${OAUTH}`);
    assert.equal(m.token_endpoint, `http://${OAUTH}/oauth/token`);
    assert.equal(m.jwks_uri, `http://${OAUTH}/oauth/jwks.json`);
    assert.equal(m.service_documentation, `http://${DEVELOPER}/docs`);
    assert.equal((await call(API, 'GET', '/.well-known/oauth-authorization-server')).status, 404);
    assert.equal((await call(API, 'POST', '/oauth/token', { body: 'grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status, 404);
    const client = await t.server.auth.clients.create({ name: 'hosts', scopes: ['restaurants:write'] });
    const token = await call(OAUTH, 'POST', '/oauth/token', {
      body: 'grant_type=client_credentials',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}` },
    });
    assert.equal(token.status, 200, token.text);
    const claims = decodeJwt((JSON.parse(token.text) as { access_token: string }).access_token);
    assert.equal(claims.iss, `http://${OAUTH}`);
    assert.equal(claims.aud, `http://${API}/v1`);
  });

  test('the developer portal answers on its host; probes answer on any', async () => {
    assert.equal((await call(DEVELOPER, 'GET', '/docs')).status, 200);
    assert.equal((await call(API, 'GET', '/docs')).status, 404);
    for (const host of [API, OAUTH, DEVELOPER, 'localhost']) assert.equal((await call(host, 'GET', '/health')).status, 200, host);
  });
});
