/**
 * Rate limits (SPEC §8) through a real listening server: per principal, per IP address
 * without credentials, per resource; 429 with Retry-After and the draft-ietf-httpapi-
 * ratelimit-headers `RateLimit-Policy` / `RateLimit` fields. The window logic is checked
 * on a controlled clock, never by waiting.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RateLimiter } from '../src/auth/rate-limit.js';
import { resolveConfig } from '../src/config/config.js';
import { startServer, type Response, type TestServer } from './helpers.js';

let t: TestServer;
before(async () => {
  t = await startServer({ config: { rateLimits: { anonymous: 3, authenticated: 5, window: 60, resources: { orders: { authenticated: 2 } } } } });
});
after(() => t.close());

function reset(res: Response, name: string, quota: number, remaining: number): number {
  assert.equal(res.headers.get('ratelimit-policy'), `"${name}";q=${quota};w=60`);
  const m = new RegExp(`^"${name}";r=${remaining};t=(\\d+)$`).exec(res.headers.get('ratelimit') ?? '');
  assert.ok(m, `RateLimit: ${res.headers.get('ratelimit')}`);
  const seconds = Number(m[1]);
  assert.ok(seconds >= 1 && seconds <= 60, `t=${seconds}`);
  return seconds;
}

describe('quotas', () => {
  test('per IP address without credentials: 429 with Retry-After, RateLimit and RateLimit-Policy', async () => {
    for (let remaining = 2; remaining >= 0; remaining--) {
      const res = await t.request('GET', '/v1/restaurants?range=0-0', { anonymous: true });
      assert.equal(res.status, 206);
      reset(res, 'anonymous', 3, remaining);
    }
    const refused = await t.request('GET', '/v1/restaurants?range=0-0', { anonymous: true });
    assert.equal(refused.status, 429);
    const seconds = reset(refused, 'anonymous', 3, 0);
    assert.equal(refused.headers.get('retry-after'), String(seconds));
    assert.deepEqual(refused.body, {
      error: 'too_many_requests',
      error_description: `Too many requests: 3 per 60 s; try again in ${seconds} s`,
      error_uri: `${t.url}/docs/errors#too_many_requests`,
    });
    const health = await t.request('GET', '/health', { anonymous: true });
    assert.equal(health.status, 200, 'probes are not limited');
    assert.equal(health.headers.get('ratelimit'), null);
  });

  test('per principal: each token subject has its own quota, apart from its address', async () => {
    const a = await t.mintToken('client-a', []);
    const b = await t.mintToken('client-b', []);
    for (let remaining = 4; remaining >= 0; remaining--) reset(await t.request('GET', '/v1/dishes?range=0-0', { token: a }), 'authenticated', 5, remaining);
    assert.equal((await t.request('GET', '/v1/dishes?range=0-0', { token: a })).status, 429);
    const other = await t.request('GET', '/v1/dishes?range=0-0', { token: b });
    assert.equal(other.status, 206);
    reset(other, 'authenticated', 5, 4);
    const sameSubject = await t.mintToken('client-a', [], { clientId: 'another-client' });
    assert.equal((await t.request('GET', '/v1/dishes?range=0-0', { token: sameSubject })).status, 429, 'the quota follows the subject, not the token');
  });

  test('a resource’s own quota is counted apart, nested routes included', async () => {
    const c = await t.mintToken('client-c', []);
    reset(await t.request('GET', '/v1/orders?range=0-0', { token: c }), 'orders', 2, 1);
    reset(await t.request('GET', '/v1/clients/1/orders?range=0-0', { token: c }), 'orders', 2, 0);
    const refused = await t.request('GET', '/v1/orders/1', { token: c });
    assert.equal(refused.status, 429);
    reset(refused, 'orders', 2, 0);
    reset(await t.request('GET', '/v1/restaurants?range=0-0', { token: c }), 'authenticated', 5, 4);
  });
});

describe('configuration', () => {
  test('rate limits can be switched off', async () => {
    const s = await startServer({ config: { rateLimits: { enabled: false } } });
    try {
      const res = await s.request('GET', '/v1/restaurants?range=0-0', { anonymous: true });
      assert.equal(res.headers.get('ratelimit'), null);
      assert.equal(res.headers.get('ratelimit-policy'), null);
    } finally {
      await s.close();
    }
  });

  test('bad settings are refused at start', () => {
    assert.throws(() => resolveConfig(undefined, { rateLimits: { anonymous: 0 } }), /rateLimits\.anonymous must be a positive integer \(got 0\)/);
    assert.throws(() => resolveConfig(undefined, { rateLimits: { resources: { orders: { burst: 3 } as never } } }), /rateLimits\.resources\.orders\.burst is not a setting/);
    assert.throws(() => resolveConfig(undefined, { auth: { accessTokenTtl: -1 } }), /auth\.accessTokenTtl must be a positive number of seconds/);
  });
});

describe('the window', () => {
  test('a fixed window per key: used up, then renewed when it ends', () => {
    let now = 1_000_000;
    const limiter = new RateLimiter(10, () => now);
    const policy = { name: 'p', quota: 2, window: 10 };
    assert.deepEqual(limiter.take('k', policy), { policy, allowed: true, remaining: 1, reset: 10 });
    now += 4_000;
    assert.deepEqual(limiter.take('k', policy), { policy, allowed: true, remaining: 0, reset: 6 });
    assert.deepEqual(limiter.take('k', policy), { policy, allowed: false, remaining: 0, reset: 6 });
    assert.equal(limiter.take('other', policy).allowed, true, 'keys are counted apart');
    now += 6_000;
    assert.deepEqual(limiter.take('k', policy), { policy, allowed: true, remaining: 1, reset: 10 });
  });

  test('the key set is bounded', () => {
    const now = 0;
    const limiter = new RateLimiter(100, () => now);
    const policy = { name: 'p', quota: 1, window: 60 };
    for (let i = 0; i < 1000; i++) limiter.take(`ip:${i}`, policy);
    assert.ok((limiter as unknown as { windows: Map<string, unknown> }).windows.size <= 100);
  });
});
