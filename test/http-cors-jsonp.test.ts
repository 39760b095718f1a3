/** Cross-domain (SPEC §4.11): CORS with configurable origins and preflights; JSONP with GitHub's envelope. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHttpServer, type HttpServer } from './http-helpers.js';

let t: HttpServer;
before(async () => {
  t = await startHttpServer();
});
after(() => t.close());

const call = (method: string, path: string, init?: Parameters<HttpServer['request']>[2]) => t.request(method, path, init);

const EXPOSED =
  'Content-Range, Accept-Range, Accept-Ranges, Link, Location, ETag, Last-Modified, Preference-Applied, Idempotent-Replayed, Deprecation, Sunset, X-Request-Id, RateLimit, RateLimit-Policy, Retry-After';
const ALLOWED_HEADERS =
  'Accept, Accept-Language, Authorization, Content-Type, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range, Range, Prefer, Idempotency-Key, Api-Version, X-Request-Id, Last-Event-ID';

/** `/**∕cb({...})` → `{meta, data}`. */
function envelope(text: string, callback: string): { meta: { status: number; headers: Record<string, string> }; data: unknown } {
  const prefix = `/**/${callback}(`;
  assert.ok(text.startsWith(prefix) && text.endsWith(')'), text);
  return JSON.parse(text.slice(prefix.length, -1)) as { meta: { status: number; headers: Record<string, string> }; data: unknown };
}

describe('CORS', () => {
  test('any origin by default, no credentials, and the headers a script may read', async () => {
    const res = await call('GET', '/v1/restaurants?range=0-1', { headers: { origin: 'https://app.example.com' } });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.equal(res.headers.get('access-control-allow-credentials'), null);
    assert.equal(res.headers.get('access-control-expose-headers'), EXPOSED);
  });

  test('a preflight is answered with the methods, the headers and Access-Control-Max-Age', async () => {
    const res = await call('OPTIONS', '/v1/orders/1', {
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'content-type, if-match' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.equal(res.headers.get('access-control-allow-methods'), 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
    assert.equal(res.headers.get('access-control-allow-headers'), ALLOWED_HEADERS);
    assert.equal(res.headers.get('access-control-max-age'), '7200');
    assert.equal(res.headers.get('content-length'), '0');
    assert.equal(res.text, '');
    const other = await call('OPTIONS', '/v1/some/unknown/path', { headers: { origin: 'https://x.example', 'access-control-request-method': 'POST' } });
    assert.equal(other.status, 204, 'preflights are answered before routing (and before authentication)');
  });

  test('a plain OPTIONS (no preflight) answers Allow', async () => {
    const res = await call('OPTIONS', '/v1/orders/1');
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('allow'), 'GET, HEAD, PUT, PATCH, DELETE, OPTIONS');
    assert.equal(res.headers.get('access-control-allow-methods'), null);
  });

  test('configured origins are echoed, with credentials; others get no CORS headers', async () => {
    const c = await startHttpServer({ config: { cors: { origins: ['https://app.example.com'], credentials: true, maxAge: 60 } } });
    try {
      const ok = await c.request('GET', '/v1/restaurants/1', { headers: { origin: 'https://app.example.com' } });
      assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example.com');
      assert.equal(ok.headers.get('access-control-allow-credentials'), 'true');
      assert.equal(ok.headers.get('vary'), 'Origin, Accept');
      const no = await c.request('GET', '/v1/restaurants/1', { headers: { origin: 'https://evil.example.com' } });
      assert.equal(no.status, 200);
      assert.equal(no.headers.get('access-control-allow-origin'), null);
      const pre = await c.request('OPTIONS', '/v1/restaurants', { headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } });
      assert.equal(pre.headers.get('access-control-max-age'), '60');
    } finally {
      await c.close();
    }
  });

  test('credentials with any origin is refused at start', async () => {
    await assert.rejects(startHttpServer({ config: { cors: { credentials: true } } }), /cors\.credentials needs an explicit list of cors\.origins/);
  });
});

describe('JSONP', () => {
  test('GET /v1/orders.jsonp?callback=foo: HTTP 200, the status and headers in meta, nosniff', async () => {
    const json = await call('GET', '/v1/orders?range=0-1&fields=state');
    const res = await call('GET', '/v1/orders.jsonp?callback=foo&range=0-1&fields=state');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/javascript; charset=utf-8');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(res.text.startsWith('/**/foo({"meta":{"status":206,"headers":{'), res.text);
    const { meta, data } = envelope(res.text, 'foo');
    assert.equal(meta.status, 206);
    assert.equal(meta.headers['content-range'], '0-1/300');
    assert.equal(meta.headers['accept-range'], 'order 10');
    assert.equal(meta.headers.link?.split(', ')[1], `<${t.url}/v1/orders.jsonp?callback=foo&fields=state&range=2-3>; rel="next"`);
    assert.deepEqual(data, json.body);
    assert.equal(res.text, `/**/foo(${JSON.stringify({ meta, data })})`);
  });

  test('errors travel inside the envelope, still with HTTP 200; JSONP is always JSON', async () => {
    const res = await call('GET', '/v1/orders/999999.jsonp?callback=app.handlers.onOrder', { headers: { accept: 'application/xml' } });
    assert.equal(res.status, 200);
    const { meta, data } = envelope(res.text, 'app.handlers.onOrder');
    assert.equal(meta.status, 404);
    assert.deepEqual(data, { error: 'not_found', error_description: "The order with the id '999999' doesn't exist", error_uri: `${t.url}/docs/errors#not_found` });
    const item = envelope((await call('GET', '/v1/orders/1.jsonp?callback=cb', { headers: { accept: 'application/xml' } })).text, 'cb');
    assert.equal(item.meta.status, 200);
    assert.equal((item.data as { id: number }).id, 1);
    assert.match(item.meta.headers.etag ?? '', /^"/, 'the ETag is in meta');
  });

  test('a callback that is not a JavaScript name is 400 (not wrapped)', async () => {
    for (const callback of ['alert(1)', 'a b', '1abc', 'a..b', 'a.', '', 'x'.repeat(129), '</script><script>']) {
      const res = await call('GET', `/v1/orders.jsonp?callback=${encodeURIComponent(callback)}`);
      assert.equal(res.status, 400, callback);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal((res.body as { error: string }).error, 'invalid_request');
    }
    const missing = await call('GET', '/v1/orders.jsonp');
    assert.deepEqual(missing.body, { error: 'invalid_request', error_description: 'A .jsonp request needs callback=<function name>', error_uri: `${t.url}/docs/errors#invalid_request` });
    for (const callback of ['$', '_cb', 'jQuery3510_1', 'a.b.$c']) assert.equal((await call('GET', `/v1/orders/1.jsonp?callback=${callback}`)).status, 200, callback);
  });

  test('method=POST|PUT|PATCH|DELETE is refused while jsonp.unsafeMethods is off', async () => {
    const res = await call('GET', `/v1/orders/1.jsonp?callback=cb&method=DELETE&access_token=${t.token}`, { anonymous: true });
    assert.equal(res.status, 200);
    const { meta, data } = envelope(res.text, 'cb');
    assert.equal(meta.status, 403);
    assert.deepEqual(data, {
      error: 'not_allowed',
      error_description: 'JSONP is read-only on this server: method=DELETE is refused (enable jsonp.unsafeMethods to allow it)',
      error_uri: `${t.url}/docs/errors#not_allowed`,
    });
    assert.equal((await call('GET', '/v1/orders/1')).status, 200, 'nothing was deleted');
    const post = envelope((await call('POST', '/v1/orders.jsonp?callback=cb', { json: {} })).text, 'cb');
    assert.equal(post.meta.status, 405, 'a .jsonp URL is read with GET');
  });

  test('with jsonp.unsafeMethods, a write needs access_token, which becomes the bearer credentials', async () => {
    let seen: unknown;
    const u = await startHttpServer({
      config: { jsonp: { unsafeMethods: true } },
      beforeListen: (server) =>
        server.app.addHook('preHandler', async (request) => {
          seen = request.headers.authorization;
        }),
    });
    try {
      const refused = envelope((await u.request('GET', '/v1/restaurants.jsonp?callback=cb&method=POST&name=Via%20JSONP&type=thai', { anonymous: true })).text, 'cb');
      assert.equal(refused.meta.status, 401);
      assert.equal(refused.meta.headers['www-authenticate'], 'Bearer realm="carte"');
      assert.equal((refused.data as { error: string }).error, 'no_credentials');
      const created = await u.request('GET', `/v1/restaurants.jsonp?callback=cb&method=POST&access_token=${u.token}&name=Via%20JSONP&type=thai&rating=3&days=monday,sunday`, { anonymous: true });
      assert.equal(seen, `Bearer ${u.token}`);
      const { meta, data } = envelope(created.text, 'cb');
      assert.equal(meta.status, 201);
      const item = data as { id: number; name: string; rating: number; days: string[] };
      assert.deepEqual([item.name, item.rating, item.days], ['Via JSONP', 3, ['monday', 'sunday']]);
      assert.equal(meta.headers.location, `${u.url}/v1/restaurants/${item.id}`);
      const patched = envelope((await u.request('GET', `/v1/restaurants/${item.id}.jsonp?callback=cb&method=PATCH&access_token=${u.token}&rating=5`, { anonymous: true })).text, 'cb');
      assert.equal((patched.data as { rating: number }).rating, 5);
      const deleted = envelope((await u.request('GET', `/v1/restaurants/${item.id}.jsonp?callback=cb&method=DELETE&access_token=${u.token}`, { anonymous: true })).text, 'cb');
      assert.deepEqual([deleted.meta.status, deleted.data], [204, null]);
      assert.equal((await u.request('GET', `/v1/restaurants/${item.id}`)).status, 404);
    } finally {
      await u.close();
    }
  });

  test('JSONP can be switched off; versions work through JSONP', async () => {
    const off = await startHttpServer({ config: { jsonp: { enabled: false } } });
    try {
      assert.equal((await off.request('GET', '/v1/orders.jsonp?callback=cb')).status, 404);
    } finally {
      await off.close();
    }
    const old = envelope((await call('GET', '/v0/clients/1.jsonp?callback=cb&fields=address')).text, 'cb');
    assert.deepEqual(old.data, { id: 1, address: 'Horsen Ferry Road, London, SW1P' });
    assert.equal(old.meta.headers.deprecation, '@1735689600');
  });
});
