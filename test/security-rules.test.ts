/**
 * Access rules and authentication (SPEC §8) through a real listening server: public,
 * authenticated (the default), none, scope:<name> and bare `scope` (default scopes), the
 * 401/403 answers with their WWW-Authenticate challenges (RFC 6750 §3), where a token may
 * sit (header; `access_token` only for WebSocket, SSE and JSONP), and the demo's rules.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ANONYMOUS } from '../src/auth/principal.js';
import { evaluateRule } from '../src/auth/rules.js';
import { CarteError } from '../src/errors.js';
import type { ApiSpec } from '../src/schema/types.js';
import { buildModel, formatPath, SchemaError } from '../src/schema/validate.js';
import { startServer, type TestServer } from './helpers.js';

const schema: ApiSpec = {
  api: { name: 'Rules' },
  resources: {
    drafts: { fields: { name: { type: 'string' } } },
    reports: { access: 'scope', fields: { name: { type: 'string' } } },
    ledgers: { access: { read: 'scope:finance', write: 'scope:finance.admin' }, fields: { name: { type: 'string' } } },
    archives: { access: { read: 'public', write: 'none' }, fields: { name: { type: 'string' } } },
  },
  actions: {
    'tools/echo': { access: 'scope:tools', input: { type: 'object' }, output: { type: 'object' }, handler: (input) => input },
  },
};

let t: TestServer;
before(async () => {
  t = await startServer({ schema });
});
after(() => t.close());

describe('rules', () => {
  test('the default rule is authenticated: no token 401, any valid token (whatever its scopes) passes', async () => {
    const anonymous = await t.request('GET', '/v1/drafts', { anonymous: true });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer realm="carte"');
    assert.deepEqual(anonymous.body, {
      error: 'no_credentials',
      error_description: 'This resource is under permission, you must be authenticated with the right rights to have access to it',
      error_uri: `${t.url}/docs/errors#no_credentials`,
    });
    const token = await t.mintToken('someone', []);
    assert.equal((await t.request('POST', '/v1/drafts', { token, body: { name: 'a' } })).status, 201);
    assert.equal((await t.request('GET', '/v1/drafts', { token })).status, 200);
  });

  test('a bare `scope` rule asks for <resource>:read and <resource>:write; write grants read', async () => {
    const none = await t.mintToken('someone', ['other:read']);
    const denied = await t.request('GET', '/v1/reports', { token: none });
    assert.equal(denied.status, 403);
    assert.equal(denied.headers.get('www-authenticate'), 'Bearer realm="carte", error="insufficient_scope", error_description="The token lacks the scope reports:read", scope="reports:read"');
    assert.deepEqual(denied.body, {
      error: 'insufficient_scope',
      error_description: "This request requires the scope 'reports:read'",
      error_uri: `${t.url}/docs/errors#insufficient_scope`,
      scope: 'reports:read',
    });
    const reader = await t.mintToken('someone', ['reports:read']);
    assert.equal((await t.request('GET', '/v1/reports', { token: reader })).status, 200);
    const write = await t.request('POST', '/v1/reports', { token: reader, body: { name: 'a' } });
    assert.equal(write.status, 403);
    assert.equal((write.body as { scope: string }).scope, 'reports:write');
    const writer = await t.mintToken('someone', ['reports:write']);
    const created = await t.request('POST', '/v1/reports', { token: writer, body: { name: 'a' } });
    assert.equal(created.status, 201);
    assert.equal((await t.request('GET', `/v1/reports/${(created.body as { id: number }).id}`, { token: writer })).status, 200, 'reports:write grants reports:read');
    assert.equal((await t.request('DELETE', `/v1/reports/${(created.body as { id: number }).id}`, { token: writer })).status, 204);
  });

  test('named scopes, and none', async () => {
    const reports = await t.mintToken('someone', ['finance']);
    assert.equal((await t.request('GET', '/v1/ledgers', { token: reports })).status, 200);
    assert.equal((await t.request('POST', '/v1/ledgers', { token: reports, body: { name: 'a' } })).status, 403);
    const admin = await t.mintToken('someone', ['finance.admin']);
    assert.equal((await t.request('POST', '/v1/ledgers', { token: admin, body: { name: 'a' } })).status, 201);
    assert.equal((await t.request('GET', '/v1/ledgers', { token: admin })).status, 403, 'a named scope grants only itself');
    const sealed = await t.request('POST', '/v1/archives', { body: { name: 'a' } });
    assert.equal(sealed.status, 403);
    assert.deepEqual(sealed.body, { error: 'not_allowed', error_description: 'Nobody may change archives', error_uri: `${t.url}/docs/errors#not_allowed` });
    assert.equal((await t.request('GET', '/v1/archives', { anonymous: true })).status, 200);
  });

  test('operations follow their own rule', async () => {
    assert.equal((await t.request('POST', '/v1/tools/echo', { anonymous: true, body: {} })).status, 401);
    assert.equal((await t.request('POST', '/v1/tools/echo', { token: await t.mintToken('x', []), body: {} })).status, 403);
    const ok = await t.request('POST', '/v1/tools/echo', { token: await t.mintToken('x', ['tools']), body: { a: 1 } });
    assert.deepEqual(ok.body, { result: { a: 1 } });
  });

  test('schema checks: rules are validated; a bare scope has no meaning on an operation', () => {
    const problems = (spec: unknown) => {
      try {
        buildModel(spec);
        return [];
      } catch (e) {
        return (e as SchemaError).problems.map((p) => `${formatPath(p.path)}: ${p.message}`);
      }
    };
    assert.deepEqual(problems({ api: { name: 'X' }, resources: { items: { access: 'scope', fields: { a: { type: 'string' } } } } }), []);
    assert.deepEqual(problems({ api: { name: 'X' }, resources: { items: { access: { read: 'everyone' }, fields: { a: { type: 'string' } } } } }), [
      'resources.items.access.read: expected public, authenticated, none, scope, scope:<name> or owner:<field>',
    ]);
    assert.deepEqual(problems({ api: { name: 'X' }, resources: { items: { fields: { a: { type: 'string' } } } }, actions: { ping: { access: 'scope' } } }), ['actions.ping.access: expected public, authenticated, none or scope:<name>']);
  });
});

describe('a refusal', () => {
  test('says why when asked, once: the error is made when read, not when the rule is evaluated', () => {
    const decision = evaluateRule('authenticated', ANONYMOUS, 'drafts', null, 'update');
    assert.equal(decision.allowed, false);
    assert.ok(!decision.allowed);
    assert.equal(Object.getOwnPropertyDescriptor(decision, 'error'), undefined, 'no error is held before it is asked for');
    const error = decision.error;
    assert.ok(error instanceof CarteError);
    assert.equal(error.code, 'no_credentials');
    assert.equal(error.status, 401);
    assert.deepEqual(error.headers, { 'WWW-Authenticate': 'Bearer realm="carte"' });
    assert.equal(decision.error, error, 'the same error each time it is read');
    const scoped = evaluateRule('scope:finance', { kind: 'token', subject: 'ann', scopes: ['other'] }, 'ledgers', null, 'read');
    assert.ok(!scoped.allowed);
    assert.equal(scoped.error.code, 'insufficient_scope');
    assert.equal(scoped.error.status, 403);
  });
});

describe('where credentials go', () => {
  test('another Authorization scheme is refused with the Bearer challenge', async () => {
    const res = await t.request('GET', '/v1/drafts', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="carte"');
    assert.equal((res.body as { error_description: string }).error_description, "The Authorization scheme 'Basic' is not accepted here; send Authorization: Bearer <token>");
  });

  test('a bad token is refused even where no token is needed (RFC 6750 §3.1)', async () => {
    const res = await t.request('GET', '/v1/archives', { token: 'nonsense' });
    assert.equal(res.status, 401);
    assert.equal((res.body as { error: string }).error, 'invalid_token');
  });

  test('access_token in the query: only for WebSocket, SSE and JSONP; never with the header too', async () => {
    const plain = await t.request('GET', `/v1/drafts?access_token=${t.token}`, { anonymous: true });
    assert.equal(plain.status, 400);
    assert.deepEqual(plain.body, {
      error: 'invalid_request',
      error_description: 'access_token in the query string is accepted only for WebSocket, server-sent events and JSONP requests; send the header Authorization: Bearer <token>',
      error_uri: `${t.url}/docs/errors#invalid_request`,
    });
    // An EventSource cannot set headers: with Accept: text/event-stream the query token authenticates.
    const sse = await t.request('GET', `/v1/drafts?access_token=${t.token}`, { anonymous: true, headers: { accept: 'text/event-stream' } });
    assert.notEqual(sse.status, 401);
    assert.notEqual(sse.status, 400);
    const badSse = await t.request('GET', '/v1/drafts?access_token=abc.def.ghi', { anonymous: true, headers: { accept: 'text/event-stream' } });
    assert.equal(badSse.status, 401);
    const both = await t.request('GET', `/v1/drafts?access_token=${t.token}`, { headers: { accept: 'text/event-stream' } });
    assert.equal(both.status, 400);
    assert.equal((both.body as { error_description: string }).error_description, 'Send the token once: in the Authorization header or in access_token, not both (RFC 6750 §2)');
  });
});

describe('the demo', () => {
  let demo: TestServer;
  before(async () => {
    demo = await startServer();
  });
  after(() => demo.close());

  test('reads are public; writes need <resource>:write', async () => {
    assert.equal((await demo.request('GET', '/v1/orders/1', { anonymous: true })).status, 200);
    const anonymous = await demo.request('POST', '/v1/restaurants', { anonymous: true, body: { name: 'X', type: 'thai' } });
    assert.equal(anonymous.status, 401);
    assert.equal((anonymous.body as { error: string }).error, 'no_credentials');
    const orders = await demo.mintToken('waiter', ['orders:write']);
    const placed = await demo.request('POST', '/v1/clients/1/orders', { token: orders, body: { restaurantId: 1 } });
    assert.equal(placed.status, 201);
    assert.equal((placed.body as { state: string }).state, 'placed');
    const denied = await demo.request('POST', '/v1/restaurants', { token: orders, body: { name: 'X', type: 'thai' } });
    assert.equal(denied.status, 403);
    assert.equal((denied.body as { scope: string }).scope, 'restaurants:write');
    assert.equal((await demo.request('POST', '/v1/calculator/sum', { anonymous: true, body: [1, 2] })).status, 200, 'operations stay public');
    assert.equal((await demo.request('POST', '/v1/restaurants', { body: { name: 'X', type: 'thai' } })).status, 201, 'the full-scope token writes');
  });
});
