/**
 * Webhooks (SPEC §7 "give the waiter a bell"): registration and its access rules, Standard
 * Webhooks signatures checked by an independent receiver (`standardwebhooks`), secret
 * rotation, retries with backoff, the delivery log, manual attempts and pings, timeouts,
 * redirects, network safety, disabling, bounded concurrency, and durability across kill -9.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { stringify } from 'yaml';
import type { ApiSpec } from '../src/schema/types.js';
import { fromEnv, resolveConfig } from '../src/config/config.js';
import { classifyAddress } from '../src/webhooks/address-guard.js';
import { postWebhook, receiverAgents } from '../src/webhooks/deliver.js';
import { retryDelay } from '../src/webhooks/dispatcher.js';
import { spawnServe } from './events-helpers.js';
import { startServer, type TestServer } from './helpers.js';
import { startReceiver, webhookHeaders, type Receiver } from './webhooks-helpers.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'carte-webhooks-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const shop: ApiSpec = {
  api: { name: 'Hooks', version: 1 },
  resources: {
    orders: {
      singular: 'order',
      fields: {
        item: { type: 'string' },
        state: {
          type: 'string',
          enum: ['placed', 'preparing', 'ready', 'served'],
          default: 'placed',
          transitions: { placed: ['preparing'], preparing: ['ready'], ready: ['served'] },
        },
      },
    },
    notes: {
      singular: 'note',
      access: { read: 'owner:owner', write: 'owner:owner' },
      fields: { text: { type: 'string' }, owner: { type: 'string' } },
    },
    secrets: {
      singular: 'secret',
      access: { read: 'scope:secrets:read', write: 'scope:secrets:write' },
      fields: { text: { type: 'string' } },
    },
  },
} as ApiSpec;

/** Seconds-long schedules, a short poll, receivers on 127.0.0.1. */
const FAST = { allowPrivateNetworks: true, retrySchedule: [1, 1, 1], jitter: 0, pollInterval: '100ms', timeout: '3s' } as const;

interface WebhookBody {
  id: string;
  url: string;
  events: string[];
  secret?: string;
  enabled: boolean;
  disabled: { at: string; reason: string } | null;
  previousSecretExpiresAt: string | null;
}
interface DeliveryBody {
  id: number;
  messageId: string;
  eventType: string;
  state: string;
  attempts: number;
  nextAttemptAt: string | null;
  lastAttempt: { statusCode: number | null; latencyMs: number | null; error: string | null } | null;
  attemptLog?: { attempt: number; statusCode: number | null; response: string | null; error: string | null; trigger: string; latencyMs: number }[];
}

async function register(t: TestServer, body: Record<string, unknown>, token?: string): Promise<WebhookBody> {
  const res = await t.request('POST', '/v1/webhooks', { body, ...(token ? { token } : {}) });
  assert.equal(res.status, 201, res.text);
  return res.body as WebhookBody;
}

async function deliveries(t: TestServer, id: string, token?: string): Promise<DeliveryBody[]> {
  const res = await t.request('GET', `/v1/webhooks/${id}/deliveries`, token ? { token } : {});
  assert.equal(res.status, 200, res.text);
  return res.body as DeliveryBody[];
}

/** Polls the delivery log until `check` holds (deliveries are written after the receiver answers). */
async function logUntil(t: TestServer, id: string, check: (d: DeliveryBody[]) => boolean, what: string, token?: string): Promise<DeliveryBody[]> {
  const end = Date.now() + 30_000;
  for (;;) {
    const list = await deliveries(t, id, token);
    if (check(list)) return list;
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}: ${JSON.stringify(list)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function makeReady(t: TestServer, item: string): Promise<number> {
  const created = await t.post('/v1/orders', { item });
  assert.equal(created.status, 201, created.text);
  const id = (created.body as { id: number }).id;
  assert.equal((await t.request('PATCH', `/v1/orders/${id}`, { body: { state: 'preparing' } })).status, 200);
  assert.equal((await t.request('PATCH', `/v1/orders/${id}`, { body: { state: 'ready' } })).status, 200);
  return id;
}

describe('registration and delivery', () => {
  let t: TestServer;
  let receiver: Receiver;
  before(async () => {
    t = await startServer({ schema: shop, config: { webhooks: FAST } });
    receiver = await startReceiver();
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  test('POST /v1/webhooks: 201 with Location and the secret once; reads never show it', async () => {
    const res = await t.post('/v1/webhooks', { url: receiver.url, events: ['orders.ready'], filter: { item: ['tea', 'cake'] }, description: 'kitchen bell' });
    assert.equal(res.status, 201, res.text);
    const body = res.body as WebhookBody & Record<string, unknown>;
    assert.match(body.id, /^wh_[0-9a-f]{32}$/);
    assert.equal(res.headers.get('location'), `${t.url}/v1/webhooks/${body.id}`);
    assert.match(body.secret as string, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.deepEqual(
      { url: body.url, events: body.events, filter: body.filter, description: body.description, enabled: body.enabled, disabled: body.disabled },
      { url: receiver.url, events: ['orders.ready'], filter: { item: ['tea', 'cake'] }, description: 'kitchen bell', enabled: true, disabled: null },
    );
    const read = await t.get(`/v1/webhooks/${body.id}`);
    assert.equal(read.status, 200);
    assert.equal((read.body as Record<string, unknown>).secret, undefined);
    assert.ok(!read.text.includes('whsec_'));
    const list = await t.get('/v1/webhooks');
    assert.equal(list.status, 200);
    assert.equal(list.headers.get('content-range'), '0-0/1');
    assert.deepEqual((list.body as WebhookBody[]).map((w) => w.id), [body.id]);
    assert.equal((await t.request('DELETE', `/v1/webhooks/${body.id}`)).status, 204);
    assert.equal((await t.get(`/v1/webhooks/${body.id}`)).status, 404);
  });

  test('an event the endpoint asked for arrives signed the Standard Webhooks way; others do not', async () => {
    const hook = await register(t, { url: receiver.url, events: ['orders.ready'], filter: { item: ['tea'] } });
    const before = receiver.received.length;
    await makeReady(t, 'coffee'); // filtered out
    const id = await makeReady(t, 'tea');
    const [got] = (await receiver.waitFor(before + 1)).slice(before);
    assert.ok(got);
    assert.equal(got.headers['content-type'], 'application/json');
    assert.match(String(got.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]{43}=$/);
    assert.ok(Math.abs(Number(got.headers['webhook-timestamp']) - Date.now() / 1000) < 60);
    // The independent receiver: throws unless id, timestamp and signature match the body.
    const payload = new Webhook(hook.secret as string).verify(got.body, webhookHeaders(got)) as { id: string; type: string; resourceId: string; data: { item: string; state: string } };
    assert.equal(payload.type, 'orders.ready');
    assert.equal(payload.resourceId, String(id));
    assert.deepEqual([payload.data.item, payload.data.state], ['tea', 'ready']);
    assert.equal(got.headers['webhook-id'], payload.id);
    assert.match(payload.id, /^evt_/);
    // A wrong secret fails verification.
    assert.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(got.body, webhookHeaders(got)));
    const log = await logUntil(t, hook.id, (d) => d.length === 1 && d[0]?.state === 'delivered', 'the delivery is logged');
    const [d] = log;
    assert.ok(d);
    assert.deepEqual([d.eventType, d.messageId, d.attempts, d.nextAttemptAt, d.lastAttempt?.statusCode, d.lastAttempt?.error], ['orders.ready', payload.id, 1, null, 200, null]);
    assert.equal(typeof d.lastAttempt?.latencyMs, 'number');
    const detail = await t.get(`/v1/webhooks/${hook.id}/deliveries/${d.id}`);
    assert.equal(detail.status, 200);
    assert.deepEqual(
      (detail.body as DeliveryBody).attemptLog?.map((a) => [a.attempt, a.statusCode, a.response, a.trigger]),
      [[1, 200, 'ok', 'schedule']],
    );
    await t.request('DELETE', `/v1/webhooks/${hook.id}`);
  });

  test('a ping is a signed webhooks.ping, attempted at once; the answer is the attempt', async () => {
    const hook = await register(t, { url: receiver.url, events: ['orders.created'] });
    const before = receiver.received.length;
    const res = await t.post(`/v1/webhooks/${hook.id}/pings`, {});
    assert.equal(res.status, 201, res.text);
    const body = res.body as { attempt: { statusCode: number; trigger: string }; delivery: DeliveryBody };
    assert.deepEqual([body.attempt.statusCode, body.attempt.trigger, body.delivery.state, body.delivery.eventType], [200, 'manual', 'delivered', 'webhooks.ping']);
    const got = receiver.received[before];
    assert.ok(got);
    const payload = new Webhook(hook.secret as string).verify(got.body, webhookHeaders(got)) as { type: string; data: { webhookId: string } };
    assert.deepEqual([payload.type, payload.data.webhookId], ['webhooks.ping', hook.id]);
    await t.request('DELETE', `/v1/webhooks/${hook.id}`);
  });

  test('secret rotation: both signatures for the overlap, each verifies alone', async () => {
    const hook = await register(t, { url: receiver.url, events: ['orders.created'] });
    const rotated = await t.post(`/v1/webhooks/${hook.id}/secrets`, {});
    assert.equal(rotated.status, 201, rotated.text);
    const { secret, previousSecretExpiresAt } = rotated.body as { secret: string; previousSecretExpiresAt: string };
    assert.match(secret, /^whsec_/);
    assert.notEqual(secret, hook.secret);
    const hours = (Date.parse(previousSecretExpiresAt) - Date.now()) / 3600_000;
    assert.ok(hours > 23.9 && hours <= 24, `the old secret stays valid for 24 h (${hours} h)`);
    assert.equal(((await t.get(`/v1/webhooks/${hook.id}`)).body as WebhookBody).previousSecretExpiresAt, previousSecretExpiresAt);
    const before = receiver.received.length;
    await t.post('/v1/orders', { item: 'rotated' });
    const [got] = (await receiver.waitFor(before + 1)).slice(before);
    assert.ok(got);
    const signatures = String(got.headers['webhook-signature']).split(' ');
    assert.equal(signatures.length, 2);
    assert.ok(new Webhook(secret).verify(got.body, webhookHeaders(got)));
    assert.ok(new Webhook(hook.secret as string).verify(got.body, webhookHeaders(got)));
    await t.request('DELETE', `/v1/webhooks/${hook.id}`);
  });

  test('failures are retried on the schedule; the log keeps status, error and a truncated body; a manual attempt answers with itself', async () => {
    const failing = await startReceiver(0, (_req, _body, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('x'.repeat(10_000));
    });
    try {
      const hook = await register(t, { url: failing.url, events: ['orders.created'] });
      await t.post('/v1/orders', { item: 'flaky' });
      await failing.waitFor(2, 30_000);
      failing.handle((_req, _body, res) => res.end('fine'));
      const log = await logUntil(t, hook.id, (d) => d[0]?.state === 'delivered', 'a retry delivers');
      const d = log[0] as DeliveryBody;
      assert.equal(d.attempts, 3);
      const detail = (await t.get(`/v1/webhooks/${hook.id}/deliveries/${d.id}`)).body as DeliveryBody;
      const attempts = detail.attemptLog ?? [];
      assert.deepEqual(attempts.map((a) => a.statusCode), [500, 500, 200]);
      // SPEC §7: response bodies are truncated in the log (webhooks.maxResponseBodyLog, 4096 by default).
      assert.equal(attempts[0]?.response?.length, 4096);
      // Backoff: the retries follow the 1 s schedule, not at once.
      const times = failing.received.map((r) => r.at);
      assert.ok((times[1] as number) - (times[0] as number) >= 900, `the first retry waited (${(times[1] as number) - (times[0] as number)} ms)`);
      // A manual attempt, now.
      const retried = await t.post(`/v1/webhooks/${hook.id}/deliveries/${d.id}/attempts`, {});
      assert.equal(retried.status, 201, retried.text);
      const r = retried.body as { attempt: { attempt: number; statusCode: number; trigger: string }; delivery: DeliveryBody };
      assert.deepEqual([r.attempt.attempt, r.attempt.statusCode, r.attempt.trigger, r.delivery.state, r.delivery.attempts], [4, 200, 'manual', 'delivered', 4]);
      assert.equal(failing.received.length, 4);
      assert.equal(failing.received[3]?.headers['webhook-id'], failing.received[0]?.headers['webhook-id']);
      const listed = await t.get(`/v1/webhooks/${hook.id}/deliveries/${d.id}/attempts`);
      assert.deepEqual((listed.body as { trigger: string }[]).map((a) => a.trigger), ['schedule', 'schedule', 'schedule', 'manual']);
      assert.equal((await t.post(`/v1/webhooks/${hook.id}/deliveries/999999/attempts`, {})).status, 404);
      assert.equal((await t.post(`/v1/webhooks/${hook.id}/deliveries/abc/attempts`, {})).status, 404);
      await t.request('DELETE', `/v1/webhooks/${hook.id}`);
    } finally {
      await failing.close();
    }
  });

  test('a redirect is a failed attempt, never followed', async () => {
    const target = await startReceiver();
    const redirecting = await startReceiver(0, (_req, _body, res) => {
      res.writeHead(307, { location: target.url });
      res.end();
    });
    try {
      const hook = await register(t, { url: redirecting.url, events: ['orders.created'] });
      await t.post('/v1/orders', { item: 'moved' });
      const log = await logUntil(t, hook.id, (d) => d[0]?.lastAttempt !== null && d[0]?.lastAttempt !== undefined, 'an attempt is logged');
      assert.equal(log[0]?.lastAttempt?.statusCode, 307);
      assert.equal(log[0]?.state, 'pending');
      assert.equal(target.received.length, 0);
      await t.request('DELETE', `/v1/webhooks/${hook.id}`);
    } finally {
      await target.close();
      await redirecting.close();
    }
  });

  test('hostile bodies: clear 400s naming every problem', async () => {
    const bad = await t.post('/v1/webhooks', { url: 'ftp://example.com/x', events: [], colour: 'red' });
    assert.equal(bad.status, 400);
    const body = bad.body as { error: string; errors: { field: string }[] };
    assert.equal(body.error, 'invalid_webhook');
    assert.deepEqual(body.errors.map((e) => e.field).sort(), ['colour', 'events', 'url']);
    const unknownType = await t.post('/v1/webhooks', { url: receiver.url, events: ['orders.eaten'] });
    assert.equal(unknownType.status, 400);
    assert.match((unknownType.body as { errors: { error_description: string }[] }).errors[0]?.error_description ?? '', /orders emits/);
    const badFilter = await t.post('/v1/webhooks', { url: receiver.url, events: ['orders.*'], filter: { colour: ['red'] } });
    assert.equal(badFilter.status, 400);
    const mixedFilter = await t.post('/v1/webhooks', { url: receiver.url, events: ['orders.*', 'notes.created'], filter: { item: ['x'] } });
    assert.equal(mixedFilter.status, 400);
    assert.equal((await t.request('POST', '/v1/webhooks', { raw: '{"url":', headers: { 'content-type': 'application/json' } })).status, 400);
    assert.equal((await t.post('/v1/webhooks', [1, 2])).status, 400);
    assert.equal((await t.request('PUT', '/v1/webhooks')).status, 405);
    assert.equal((await t.get('/v1/webhooks?range=0-500')).status, 400);
    assert.equal((await t.post('/v1/webhooks', { url: receiver.url, events: ['orders.created'], description: 'a\u0000b' })).status, 400);
    for (const id of ['%00', 'wh_x', `wh_${'0'.repeat(32)}`, 'x'.repeat(90)]) {
      assert.equal((await t.get(`/v1/webhooks/${id}`)).status, 404, id);
      assert.equal((await t.get(`/v1/webhooks/${id}/deliveries/1`)).status, 404, id);
    }
  });
  test('an unacceptable Accept is a 406 before anything changes: nothing registered, deleted or rotated', async () => {
    const xml = { accept: 'application/xml' };
    const before = await t.get('/v1/webhooks');
    const created = await t.request('POST', '/v1/webhooks', { body: { url: receiver.url, events: ['orders.created'] }, headers: xml });
    assert.equal(created.status, 406);
    assert.equal((created.body as { error: string }).error, 'not_acceptable');
    assert.equal((await t.get('/v1/webhooks')).headers.get('content-range'), before.headers.get('content-range'));
    const hook = await register(t, { url: receiver.url, events: ['orders.created'] });
    assert.equal((await t.request('POST', `/v1/webhooks/${hook.id}/secrets`, { headers: xml })).status, 406);
    assert.equal(((await t.get(`/v1/webhooks/${hook.id}`)).body as WebhookBody).previousSecretExpiresAt, null);
    assert.equal((await t.request('DELETE', `/v1/webhooks/${hook.id}`, { headers: xml })).status, 406);
    assert.equal((await t.get(`/v1/webhooks/${hook.id}`)).status, 200);
    assert.equal((await t.request('DELETE', `/v1/webhooks/${hook.id}`)).status, 204);
  });
});

describe('access', () => {
  let t: TestServer;
  let receiver: Receiver;
  before(async () => {
    t = await startServer({ schema: shop, config: { webhooks: FAST } });
    receiver = await startReceiver();
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  test('registration needs a principal; another principal\'s webhook is 404', async () => {
    const anonymous = await t.request('POST', '/v1/webhooks', { body: { url: receiver.url, events: ['orders.created'] }, anonymous: true });
    assert.equal(anonymous.status, 401);
    assert.equal((anonymous.body as { error: string }).error, 'no_credentials');
    const mine = await register(t, { url: receiver.url, events: ['orders.created'] });
    const other = await t.mintToken('mallory', ['*']);
    for (const [method, url] of [
      ['GET', `/v1/webhooks/${mine.id}`],
      ['PATCH', `/v1/webhooks/${mine.id}`],
      ['DELETE', `/v1/webhooks/${mine.id}`],
      ['GET', `/v1/webhooks/${mine.id}/deliveries`],
      ['POST', `/v1/webhooks/${mine.id}/pings`],
      ['POST', `/v1/webhooks/${mine.id}/secrets`],
    ] as const) {
      const res = await t.request(method, url, { token: other, ...(method === 'PATCH' ? { body: { description: 'mine now' } } : {}) });
      assert.equal(res.status, 404, `${method} ${url}`);
    }
    assert.deepEqual((await t.request('GET', '/v1/webhooks', { token: other })).body, []);
    assert.equal((await t.get(`/v1/webhooks/${mine.id}`)).status, 200);
    const patched = await t.request('PATCH', `/v1/webhooks/${mine.id}`, { raw: '{"description":"mine"}', headers: { 'content-type': 'application/merge-patch+json' } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal((patched.body as { description: string }).description, 'mine');
    await t.request('DELETE', `/v1/webhooks/${mine.id}`);
  });

  test('a resource the principal may not read cannot be asked for', async () => {
    const limited = await t.mintToken('lim', ['orders:read']);
    const res = await t.request('POST', '/v1/webhooks', { body: { url: receiver.url, events: ['secrets.created'] }, token: limited });
    assert.equal(res.status, 403);
    assert.equal((res.body as { error: string }).error, 'insufficient_scope');
  });

  test('deliveries carry only rows the registering principal may read (owner rules)', async () => {
    const alice = await t.mintToken('alice', ['notes']);
    const bob = await t.mintToken('bob', ['notes']);
    const hook = await register(t, { url: receiver.url, events: ['notes.created'] }, alice);
    const before = receiver.received.length;
    assert.equal((await t.request('POST', '/v1/notes', { body: { text: 'bob secret' }, token: bob })).status, 201);
    assert.equal((await t.request('POST', '/v1/notes', { body: { text: 'alice note' }, token: alice })).status, 201);
    const [got] = (await receiver.waitFor(before + 1)).slice(before);
    const payload = new Webhook(hook.secret as string).verify(got?.body ?? '', webhookHeaders(got!)) as { data: { text: string; owner: string } };
    assert.deepEqual([payload.data.text, payload.data.owner], ['alice note', 'alice']);
    // Deliveries are written with the event: Bob's note made none.
    const log = await deliveries(t, hook.id, alice);
    assert.equal(log.length, 1);
  });
});

describe('network safety', () => {
  test('private and loopback targets are refused unless allowed; link-local and metadata always', async () => {
    const strict = await startServer({ schema: shop });
    const open = await startServer({ schema: shop, config: { webhooks: { allowPrivateNetworks: true } } });
    try {
      for (const url of ['http://127.0.0.1:9/x', 'http://localhost:9/x', 'http://10.1.2.3/x', 'http://192.168.0.10/x', 'http://[::1]/x', 'http://[fd12::1]/x']) {
        const res = await strict.post('/v1/webhooks', { url, events: ['orders.created'] });
        assert.equal(res.status, 400, url);
        const body = res.body as { error: string; errors: { field: string; error: string; error_description: string }[] };
        assert.equal(body.error, 'invalid_webhook');
        assert.deepEqual([body.errors[0]?.field, body.errors[0]?.error], ['url', 'address']);
        assert.match(body.errors[0]?.error_description ?? '', /allowPrivateNetworks/);
      }
      for (const url of ['http://169.254.169.254/latest/meta-data', 'http://[fe80::1]/x', 'http://100.100.100.200/x', 'http://[fd00:ec2::254]/x', 'http://[::ffff:169.254.169.254]/x', 'http://0.0.0.0/x']) {
        const res = await open.post('/v1/webhooks', { url, events: ['orders.created'] });
        assert.equal(res.status, 400, url);
        assert.match((res.body as { errors: { error_description: string }[] }).errors[0]?.error_description ?? '', /never/);
      }
      assert.equal((await open.post('/v1/webhooks', { url: 'http://127.0.0.1:9/x', events: ['orders.created'] })).status, 201);
    } finally {
      await strict.close();
      await open.close();
    }
  });

  test('the address is checked again when connecting (DNS rebinding): a name resolving inside is not called', async () => {
    const receiver = await startReceiver();
    try {
      const agents = receiverAgents();
      const refused = await postWebhook(`http://localhost:${receiver.port}/hook`, {}, '{}', { timeout: 2000, maxBody: 100, allowPrivate: false, agents });
      assert.equal(refused.status, null);
      assert.match(refused.error ?? '', /private or loopback/);
      const literal = await postWebhook(`http://127.0.0.1:${receiver.port}/hook`, {}, '{}', { timeout: 2000, maxBody: 100, allowPrivate: false, agents });
      assert.match(literal.error ?? '', /private or loopback/);
      assert.equal(receiver.received.length, 0);
      const allowed = await postWebhook(`http://localhost:${receiver.port}/hook`, {}, '{}', { timeout: 2000, maxBody: 100, allowPrivate: true, agents });
      assert.deepEqual([allowed.status, allowed.delivered, allowed.response], [200, true, 'ok']);
      agents.http.destroy();
    } finally {
      await receiver.close();
    }
  });

  test('address classes', () => {
    assert.equal(classifyAddress('93.184.216.34'), 'public');
    assert.equal(classifyAddress('2606:4700::1111'), 'public');
    assert.equal(classifyAddress('172.20.0.1'), 'private');
    assert.equal(classifyAddress('::ffff:10.0.0.1'), 'private');
    assert.equal(classifyAddress('169.254.1.1'), 'forbidden');
    assert.equal(classifyAddress('fe80::abcd'), 'forbidden');
  });
});

describe('timeouts, concurrency, disabling', () => {
  test('a receiver that hangs is cut at the timeout', async () => {
    const t = await startServer({ schema: shop, config: { webhooks: { ...FAST, timeout: '500ms' } } });
    const hanging = await startReceiver(0, () => undefined);
    try {
      const hook = await register(t, { url: hanging.url, events: ['orders.created'] });
      await t.post('/v1/orders', { item: 'slow' });
      const log = await logUntil(t, hook.id, (d) => d[0]?.lastAttempt !== null && d[0]?.lastAttempt !== undefined, 'the attempt is cut');
      const last = log[0]?.lastAttempt;
      assert.equal(last?.statusCode, null);
      assert.match(last?.error ?? '', /no answer within 500 ms/);
      assert.ok((last?.latencyMs ?? 0) >= 450 && (last?.latencyMs ?? 0) < 5000, `cut near 500 ms (${last?.latencyMs})`);
    } finally {
      await t.close();
      await hanging.close();
    }
  });

  test('deliveries to one endpoint in flight at once stay within concurrencyPerEndpoint', async () => {
    const t = await startServer({ schema: shop, config: { webhooks: { ...FAST, concurrencyPerEndpoint: 2 } } });
    const slow = await startReceiver(0, (_req, _body, res) => setTimeout(() => res.end('ok'), 150));
    try {
      await register(t, { url: slow.url, events: ['orders.created'] });
      for (let i = 0; i < 8; i++) await t.post('/v1/orders', { item: `o${i}` });
      await slow.waitFor(8);
      assert.equal(slow.open.max, 2);
      assert.equal(new Set(slow.received.map((r) => r.headers['webhook-id'])).size, 8);
    } finally {
      await t.close();
      await slow.close();
    }
  });

  test('an endpoint failing past disableAfter is disabled, and a webhooks.disabled event says so', async () => {
    const t = await startServer({ schema: shop, config: { webhooks: { ...FAST, retrySchedule: [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3], disableAfter: '1s' } } });
    const down = await startReceiver(0, (_req, _body, res) => {
      res.writeHead(503);
      res.end();
    });
    const watcher = await startReceiver();
    try {
      const failing = await register(t, { url: down.url, events: ['orders.created'] });
      const watching = await register(t, { url: watcher.url, events: ['webhooks.disabled'] });
      await t.post('/v1/orders', { item: 'doomed' });
      const [got] = await watcher.waitFor(1, 30_000);
      const payload = new Webhook(watching.secret as string).verify(got?.body ?? '', webhookHeaders(got!)) as { type: string; data: { webhook: { id: string; enabled: boolean }; reason: string } };
      assert.deepEqual([payload.type, payload.data.webhook.id, payload.data.webhook.enabled], ['webhooks.disabled', failing.id, false]);
      assert.match(payload.data.reason, /failed since/);
      const now = (await t.get(`/v1/webhooks/${failing.id}`)).body as WebhookBody;
      assert.equal(now.enabled, false);
      assert.match(now.disabled?.reason ?? '', /failed since/);
      const log = await deliveries(t, failing.id);
      assert.equal(log[0]?.state, 'failed');
      // Disabled: new events make no deliveries; re-enabling by PATCH resumes.
      const seen = down.received.length;
      await t.post('/v1/orders', { item: 'ignored' });
      assert.equal((await deliveries(t, failing.id)).length, 1);
      const enabled = await t.request('PATCH', `/v1/webhooks/${failing.id}`, { body: { enabled: true } });
      assert.deepEqual([(enabled.body as WebhookBody).enabled, (enabled.body as WebhookBody).disabled], [true, null]);
      down.handle((_req, _body, res) => res.end('back'));
      await t.post('/v1/orders', { item: 'again' });
      await down.waitFor(seen + 1);
    } finally {
      await t.close();
      await down.close();
      await watcher.close();
    }
  });

  test('retry delays follow the schedule with bounded jitter', () => {
    const config = { retrySchedule: [1000, 60_000], jitter: 0.2 };
    assert.equal(retryDelay(config, 1, () => 0.5), 1000);
    assert.equal(retryDelay(config, 2, () => 0), 48_000);
    assert.equal(retryDelay(config, 2, () => 1), 72_000);
    assert.equal(retryDelay(config, 3), null);
  });
});

describe('leases (several instances on one database)', () => {
  test('a claimed delivery is not claimed again until its lease runs out; then another instance takes it over', async () => {
    const t = await startServer({ schema: shop, config: { webhooks: { ...FAST, pollInterval: '1h' } } });
    try {
      const store = t.server.store.webhooks;
      await t.server.webhooks.stop(); // this test claims by hand
      const hook = await register(t, { url: 'http://127.0.0.1:9/x', events: ['orders.created'] });
      await t.post('/v1/orders', { item: 'leased' });
      const now = Date.now();
      const first = await store.claimDeliveries({ now, leaseUntil: now + 60_000, leaseToken: 'a', limit: 10, perWebhook: 10 });
      assert.equal(first.length, 1);
      assert.equal(first[0]?.webhookId, hook.id);
      assert.deepEqual(await store.claimDeliveries({ now, leaseUntil: now + 60_000, leaseToken: 'b', limit: 10, perWebhook: 10 }), []);
      const later = now + 61_000;
      const taken = await store.claimDeliveries({ now: later, leaseUntil: later + 60_000, leaseToken: 'b', limit: 10, perWebhook: 10 });
      assert.deepEqual(taken.map((d) => [d.id, d.leaseToken]), [[first[0]?.id, 'b']]);
      // The first instance's late outcome is dropped: it lost the lease.
      const attempt = { deliveryId: first[0]!.id, n: 1, startedAt: now, status: 200, latencyMs: 1, error: null, response: 'ok', trigger: 'schedule' as const };
      await store.finishAttempts([{ deliveryId: first[0]!.id, webhookId: hook.id, leaseToken: 'a', attempt, state: 'delivered', nextAttemptAt: now }]);
      assert.equal((await store.getDelivery(hook.id, first[0]!.id))?.state, 'pending');
      await store.finishAttempts([{ deliveryId: first[0]!.id, webhookId: hook.id, leaseToken: 'b', attempt, state: 'delivered', nextAttemptAt: now }]);
      assert.equal((await store.getDelivery(hook.id, first[0]!.id))?.state, 'delivered');
      assert.equal((await store.listAttempts(first[0]!.id)).length, 1);
    } finally {
      await t.close();
    }
  });

  test('an endpoint at its bound does not keep the others waiting, however long its backlog', async () => {
    const t = await startServer({ schema: shop, config: { webhooks: { ...FAST, pollInterval: '1h' } } });
    try {
      const store = t.server.store.webhooks;
      await t.server.webhooks.stop(); // this test claims by hand
      const busy = await register(t, { url: 'http://127.0.0.1:9/busy', events: ['orders.created'] });
      const other = await register(t, { url: 'http://127.0.0.1:9/other', events: ['orders.created'] });
      const now = Date.now();
      const backlog = Array.from({ length: 600 }, (_, i) => ({ webhookId: busy.id, messageId: `msg_${i}`, eventType: 'orders.created', payload: '{}', createdAt: now, nextAttemptAt: now - 10_000 + i }));
      await store.insertDeliveries([...backlog, { webhookId: other.id, messageId: 'msg_other', eventType: 'orders.created', payload: '{}', createdAt: now, nextAttemptAt: now }]);
      const claim = (token: string) => store.claimDeliveries({ now, leaseUntil: now + 60_000, leaseToken: token, limit: 100, perWebhook: 2 });
      assert.deepEqual((await claim('a')).map((d) => d.webhookId), [busy.id, busy.id]);
      // The busy endpoint holds its two leases: the scan skips its 598 others and finds the other endpoint's.
      assert.deepEqual((await claim('b')).map((d) => d.webhookId), [other.id]);
      assert.deepEqual(await claim('c'), []);
    } finally {
      await t.close();
    }
  });

  test('two servers on one database deliver each event once', { timeout: 120_000 }, async () => {
    // On SQLite, two stores on one file; with CARTE_TEST_STORE=postgres, one PostgreSQL schema (SPEC §10).
    const receiver = await startReceiver(0, (_req, _body, res) => setTimeout(() => res.end('ok'), 5));
    const a = await startServer({ schema: shop, config: { webhooks: FAST, ...(process.env.CARTE_TEST_STORE === 'postgres' ? {} : { db: path.join(dir, 'two.db') }) } });
    const b = await startServer({ schema: shop, config: { webhooks: FAST, db: a.server.config.db } });
    try {
      await register(a, { url: receiver.url, events: ['orders.created'] });
      const writes = [];
      for (let i = 0; i < 40; i++) writes.push((i % 2 ? a : b).post('/v1/orders', { item: `x${i}` }));
      await Promise.all(writes);
      await receiver.waitFor(40);
      // Both instances poll; wait a few polls more, then no event may have come twice.
      await new Promise((r) => setTimeout(r, 500));
      const ids = receiver.received.map((r) => String(r.headers['webhook-id']));
      assert.equal(ids.length, 40);
      assert.equal(new Set(ids).size, 40);
    } finally {
      await b.close();
      await a.close();
      await receiver.close();
    }
  });
});

describe('the outbox and the configuration', () => {
  test('deliveries commit or roll back with the change and its event', async () => {
    const t = await startServer({ schema: shop, config: { webhooks: FAST } });
    const receiver = await startReceiver();
    try {
      const hook = await register(t, { url: receiver.url, events: ['orders.created'] });
      let fail = false;
      // Plugged in after the outbox: a failure here aborts a transaction that already queued a delivery.
      t.server.events.recorder.addInTransaction(async () => {
        if (fail) throw new Error('the disk is full');
      });
      fail = true;
      assert.equal((await t.post('/v1/orders', { item: 'lost' })).status, 500);
      fail = false;
      assert.equal((await t.post('/v1/orders', { item: 'kept' })).status, 201);
      const [got] = await receiver.waitFor(1);
      assert.equal((JSON.parse(got?.body ?? '{}') as { data: { item: string } }).data.item, 'kept');
      const log = await deliveries(t, hook.id);
      assert.equal(log.length, 1);
    } finally {
      await t.close();
      await receiver.close();
    }
  });

  test('webhooks settings: durations, schedules, environment, and clear refusals', () => {
    const config = resolveConfig({ webhooks: { retrySchedule: [5, '5m', '2h'], timeout: '2s', disableAfter: '3d', allowPrivateNetworks: true } } as never);
    assert.deepEqual(config.webhooks.retrySchedule, [5000, 300_000, 7_200_000]);
    assert.deepEqual([config.webhooks.timeout, config.webhooks.disableAfter, config.webhooks.allowPrivateNetworks], [2000, 3 * 86_400_000, true]);
    const defaults = resolveConfig(undefined).webhooks;
    assert.equal(defaults.allowPrivateNetworks, false);
    assert.equal(defaults.timeout, 10_000);
    const total = defaults.retrySchedule.reduce((a, b) => a + b, 0) / 86_400_000;
    assert.ok(total > 3 && total < 3.5, `about three days of retries (${total.toFixed(2)} d)`);
    const env = fromEnv({ CARTE_WEBHOOKS_ALLOW_PRIVATE_NETWORKS: 'true', CARTE_WEBHOOKS_RETRY_SCHEDULE: '1,2,3', CARTE_WEBHOOKS_CONCURRENCY_PER_ENDPOINT: '4' });
    const fromEnvironment = resolveConfig(undefined, env).webhooks;
    assert.deepEqual([fromEnvironment.allowPrivateNetworks, fromEnvironment.retrySchedule, fromEnvironment.concurrencyPerEndpoint], [true, [1000, 2000, 3000], 4]);
    assert.throws(() => resolveConfig({ webhooks: { retrySchedule: [] } } as never), /webhooks.retrySchedule must be/);
    assert.throws(() => resolveConfig({ webhooks: { timeout: 'soon' } } as never), /webhooks.timeout must be a positive duration/);
    assert.throws(() => resolveConfig({ webhooks: { allowPrivateNetwork: true } } as never), /webhooks.allowPrivateNetwork is not a setting/);
    assert.throws(() => resolveConfig({ webhooks: { jitter: 2 } } as never), /webhooks.jitter must be a fraction/);
  });
});

describe('durability', () => {
  test('a pending delivery survives kill -9 and is delivered after the restart', { timeout: 120_000 }, async () => {
    const db = path.join(dir, 'durable.db');
    const schemaFile = path.join(dir, 'durable.yaml');
    // The attempt in flight at the kill holds a lease (at least timeout + 5 s): the restarted server takes it over once it runs out.
    writeFileSync(schemaFile, stringify({ ...shop, config: { webhooks: { ...FAST, timeout: '1s', lease: '1s', retrySchedule: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1] } } }));
    let up = false;
    const receiver = await startReceiver(0, (_req, _body, res) => {
      res.writeHead(up ? 200 : 503);
      res.end();
    });
    try {
      const first = await spawnServe([schemaFile, '--db', db, '--port', '0', '--dev']);
      const auth = { authorization: `Bearer ${first.token}`, 'content-type': 'application/json' };
      const reg = await fetch(`${first.url}/v1/webhooks`, { method: 'POST', headers: auth, body: JSON.stringify({ url: receiver.url, events: ['orders.created'] }) });
      assert.equal(reg.status, 201);
      const hook = (await reg.json()) as WebhookBody;
      assert.equal((await fetch(`${first.url}/v1/orders`, { method: 'POST', headers: auth, body: JSON.stringify({ item: 'kept' }) })).status, 201);
      await receiver.waitFor(1); // attempted once, refused (503)
      first.process.kill('SIGKILL');
      await first.exited;
      up = true;
      const second = await spawnServe([schemaFile, '--db', db, '--port', '0', '--dev']);
      try {
        const received = await receiver.waitFor(2, 60_000);
        const last = received[received.length - 1]!;
        assert.equal(last.headers['webhook-id'], received[0]?.headers['webhook-id']);
        const payload = new Webhook(hook.secret as string).verify(last.body, webhookHeaders(last)) as { type: string; data: { item: string } };
        assert.deepEqual([payload.type, payload.data.item], ['orders.created', 'kept']);
      } finally {
        second.process.kill('SIGTERM');
        await second.exited;
      }
    } finally {
      await receiver.close();
    }
  });
});
