/**
 * Operations (SPEC §11) through a real server: /health, /ready (the database answers, in a
 * bound), Prometheus /metrics (request latency by route and status, open WebSockets, held
 * long polls, gauges other rooms register, who may scrape), X-Request-Id on responses and
 * in the JSON logs, and a shutdown that stays within its bound.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { RequestHistogram } from '../src/metrics/metrics.js';
import { connectWs, spawnServe, waitUntil } from './events-helpers.js';
import { startServer, type TestServer } from './helpers.js';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The Prometheus text exposition format (0.0.4): `name{label="value",…} number` lines; `#` lines are metadata. */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, '$1');
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the sample named `name` whose labels include `labels`; undefined when there is none. */
function valueOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

async function scrape(t: TestServer): Promise<Sample[]> {
  const res = await t.request('GET', '/metrics', { anonymous: true });
  assert.equal(res.status, 200, res.text);
  return parseMetrics(res.text);
}

describe('probes', () => {
  let t: TestServer;
  before(async () => {
    t = await startServer();
  });
  after(() => t.close());

  test('/health answers 200 {status:"ok"} to anyone', async () => {
    const res = await t.request('GET', '/health', { anonymous: true });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: 'ok' });
  });

  test('/ready answers 200 while the database answers; the event bus it uses is on /metrics', async () => {
    const res = await t.request('GET', '/ready', { anonymous: true });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: 'ready' });
    const bus = t.server.store.watchCommits ? 'log' : 'in-process';
    assert.equal(valueOf(await scrape(t), 'carte_event_bus_connected', { bus }), 1);
  });

  test('/ready answers 503 when the database fails, and within its bound when it hangs', { timeout: 30_000 }, async () => {
    const store = t.server.store;
    const ping = store.ping;
    try {
      store.ping = () => Promise.reject(new Error('connection refused'));
      const failed = await t.request('GET', '/ready', { anonymous: true });
      assert.equal(failed.status, 503);
      assert.equal((failed.body as { status: string }).status, 'unavailable');
      assert.equal((failed.body as { error: string }).error, 'service_unavailable');
      store.ping = () => new Promise<void>(() => undefined);
      const started = Date.now();
      const hung = await t.request('GET', '/ready', { anonymous: true });
      assert.equal(hung.status, 503);
      assert.ok(Date.now() - started < 10_000, 'answered within the bound (2 s), with a margin');
    } finally {
      store.ping = ping;
    }
    assert.equal((await t.request('GET', '/ready', { anonymous: true })).status, 200);
  });
});

describe('the request histogram', () => {
  test('buckets are cumulative upper bounds (a value on a bound counts in it), with +Inf, sum and count per label set', () => {
    const h = new RequestHistogram();
    h.observe('GET', '/v1/orders/:id', 200, 0.005);
    h.observe('GET', '/v1/orders/:id', 200, 0.02);
    h.observe('GET', '/v1/orders/:id', 200, 500);
    h.observe('POST', '/v1/orders', 201, 0.25);
    const lines = h.text().split('\n');
    const bounds = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '60', '120'];
    const get = 'method="GET",route="/v1/orders/:id",status="200"';
    const post = 'method="POST",route="/v1/orders",status="201"';
    const series = (labels: string, counts: number[], sum: number, count: number) => [
      ...bounds.map((le, i) => `carte_http_request_duration_seconds_bucket{${labels},le="${le}"} ${counts[i]}`),
      `carte_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${count}`,
      `carte_http_request_duration_seconds_sum{${labels}} ${sum}`,
      `carte_http_request_duration_seconds_count{${labels}} ${count}`,
    ];
    assert.deepEqual(lines, [
      `# HELP carte_http_request_duration_seconds ${RequestHistogram.HELP}`,
      '# TYPE carte_http_request_duration_seconds histogram',
      ...series(get, [1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2], 0.005 + 0.02 + 500, 3),
      ...series(post, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1], 0.25, 1),
      '',
    ]);
  });

  test('label values are escaped as the exposition format says', () => {
    const h = new RequestHistogram();
    h.observe('GET', '/odd/"quoted"\\path\nline', 404, 0.001);
    assert.ok(h.text().includes('_count{method="GET",route="/odd/\\"quoted\\"\\\\path\\nline",status="404"} 1\n'));
  });
});

describe('/metrics', () => {
  let t: TestServer;
  before(async () => {
    t = await startServer();
  });
  after(() => t.close());

  test('requests are counted by method, route pattern and status, with latency buckets', async () => {
    const count = (samples: Sample[], route: string, status: string) =>
      valueOf(samples, 'carte_http_request_duration_seconds_count', { method: 'GET', route, status }) ?? 0;
    const before = await scrape(t);
    // A page of the collection is a 206 (SPEC §4.3): the label is the status sent.
    assert.equal((await t.get('/v1/restaurants?limit=2')).status, 206);
    assert.equal((await t.get('/v1/restaurants?limit=1')).status, 206);
    assert.equal((await t.get('/v1/restaurants/999999')).status, 404);
    assert.equal((await t.get('/v1/restaurants/1')).status, 200);
    assert.equal((await t.get('/no/such/path')).status, 404);
    const res = await t.request('GET', '/metrics', { anonymous: true });
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const samples = parseMetrics(res.text);
    assert.equal(count(samples, '/v1/restaurants', '206') - count(before, '/v1/restaurants', '206'), 2);
    assert.equal(count(samples, '/v1/restaurants/:id', '404') - count(before, '/v1/restaurants/:id', '404'), 1);
    assert.equal(count(samples, '/v1/restaurants/:id', '200') - count(before, '/v1/restaurants/:id', '200'), 1);
    // Raw paths never become labels: unmatched requests share one.
    assert.equal(count(samples, 'unmatched', '404') - count(before, 'unmatched', '404'), 1);
    assert.ok(!samples.some((s) => s.labels.route === '/v1/restaurants/999999'));
    const labels = { method: 'GET', route: '/v1/restaurants', status: '206' };
    const inf = valueOf(samples, 'carte_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' });
    assert.equal(inf, count(samples, '/v1/restaurants', '206'));
    assert.ok(valueOf(samples, 'carte_http_request_duration_seconds_bucket', { ...labels, le: '120' }) !== undefined);
    assert.ok((valueOf(samples, 'carte_http_request_duration_seconds_sum', labels) ?? 0) > 0);
    // Node's process metrics come along.
    assert.ok(valueOf(samples, 'process_resident_memory_bytes') !== undefined || valueOf(samples, 'nodejs_heap_size_used_bytes') !== undefined);
  });

  test('open WebSockets and held long polls are gauges', { timeout: 60_000 }, async () => {
    const initial = await scrape(t);
    assert.equal(valueOf(initial, 'carte_websockets_open'), 0);
    assert.equal(valueOf(initial, 'carte_long_polls_held'), 0);
    const ws = await connectWs(t.url, '/v1/ws', { headers: { authorization: `Bearer ${t.token}` } });
    const poll = t.get('/v1/events?after=now', { prefer: 'wait=30' });
    await waitUntil(() => t.server.events.stats().heldLongPolls === 1, 'the poll is held');
    const during = await scrape(t);
    assert.equal(valueOf(during, 'carte_websockets_open'), 1);
    assert.equal(valueOf(during, 'carte_long_polls_held'), 1);
    assert.equal(valueOf(during, 'carte_event_streams_open'), 0);
    assert.equal(valueOf(during, 'carte_event_bus_connected'), 1);
    // A change wakes the poll; the socket goes.
    assert.equal((await t.post('/v1/restaurants', { name: 'Metrics Bistro', type: 'french' })).status, 201);
    assert.equal((await poll).status, 200);
    await ws.close();
    await waitUntil(() => t.server.events.stats().openWebSockets === 0, 'the socket is forgotten');
    const afterwards = await scrape(t);
    assert.equal(valueOf(afterwards, 'carte_websockets_open'), 0);
    assert.equal(valueOf(afterwards, 'carte_long_polls_held'), 0);
    assert.ok((valueOf(afterwards, 'carte_event_bus_position') ?? 0) > 0);
  });

  test('other rooms register gauges read on each scrape', async () => {
    let depth = 3;
    t.server.metrics.registerGauge({ name: 'carte_test_depth', help: 'Things waiting.', read: async () => depth });
    t.server.metrics.registerGauge({
      name: 'carte_test_by_endpoint',
      help: 'Labelled samples.',
      labelNames: ['endpoint'],
      read: () => [
        { labels: { endpoint: 'a' }, value: 1 },
        { labels: { endpoint: 'b' }, value: 2 },
      ],
    });
    let samples = await scrape(t);
    assert.equal(valueOf(samples, 'carte_test_depth'), 3);
    assert.equal(valueOf(samples, 'carte_test_by_endpoint', { endpoint: 'b' }), 2);
    depth = 0;
    samples = await scrape(t);
    assert.equal(valueOf(samples, 'carte_test_depth'), 0);
    assert.throws(() => t.server.metrics.registerGauge({ name: 'carte_test_depth', help: 'again', read: () => 1 }), /already been registered/);
  });

  test('the webhook queue: depth and the age of its oldest pending delivery', async () => {
    let samples = await scrape(t);
    assert.equal(valueOf(samples, 'carte_webhook_queue_depth'), 0);
    assert.equal(valueOf(samples, 'carte_webhook_oldest_pending_seconds'), 0);
    const webhooks = await startServer({ config: { webhooks: { allowPrivateNetworks: true, retrySchedule: [3600], jitter: 0 } } });
    try {
      // A receiver that is not there: the delivery fails once and waits an hour for its retry.
      assert.equal((await webhooks.post('/v1/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['orders.created'] })).status, 201);
      assert.equal((await webhooks.post('/v1/orders', { clientId: 1, restaurantId: 2 })).status, 201);
      samples = await scrape(webhooks);
      assert.equal(valueOf(samples, 'carte_webhook_queue_depth'), 1);
      assert.ok((valueOf(samples, 'carte_webhook_oldest_pending_seconds') ?? -1) >= 0);
    } finally {
      await webhooks.close();
    }
  });
});

describe('who may read /metrics', () => {
  test('by default, this machine only: a caller from elsewhere gets 403', async () => {
    const t = await startServer({ config: { trustProxy: true } });
    try {
      assert.equal((await t.request('GET', '/metrics', { anonymous: true })).status, 200);
      const outside = await t.request('GET', '/metrics', { anonymous: true, headers: { 'x-forwarded-for': '203.0.113.9' } });
      assert.equal(outside.status, 403);
      assert.equal((outside.body as { error: string }).error, 'not_allowed');
      assert.match((outside.body as { error_description: string }).error_description, /metrics\.token/);
      // The probes answer anyone.
      assert.equal((await t.request('GET', '/health', { anonymous: true, headers: { 'x-forwarded-for': '203.0.113.9' } })).status, 200);
    } finally {
      await t.close();
    }
  });

  test('metrics.allow: any opens it; metrics.enabled: false removes it', async () => {
    const open = await startServer({ config: { trustProxy: true, metrics: { allow: 'any' } } });
    try {
      assert.equal((await open.request('GET', '/metrics', { anonymous: true, headers: { 'x-forwarded-for': '203.0.113.9' } })).status, 200);
    } finally {
      await open.close();
    }
    const off = await startServer({ config: { metrics: { enabled: false } } });
    try {
      assert.equal((await off.request('GET', '/metrics', { anonymous: true })).status, 404);
    } finally {
      await off.close();
    }
  });

  test('with metrics.token, every caller must present it', async () => {
    const token = 'scrape-me-0123456789abcdef';
    const t = await startServer({ config: { metrics: { token } } });
    try {
      const none = await t.request('GET', '/metrics', { anonymous: true });
      assert.equal(none.status, 401);
      assert.equal((none.body as { error: string }).error, 'no_credentials');
      const wrong = await t.request('GET', '/metrics', { headers: { authorization: 'Bearer scrape-me-0123456789abcdeX' } });
      assert.equal(wrong.status, 401);
      assert.equal((wrong.body as { error: string }).error, 'invalid_token');
      assert.match(wrong.headers.get('www-authenticate') ?? '', /^Bearer /);
      // An API access token is not the metrics token.
      assert.equal((await t.request('GET', '/metrics')).status, 401);
      const right = await t.request('GET', '/metrics', { headers: { authorization: `Bearer ${token}` } });
      assert.equal(right.status, 200);
      assert.match(right.text, /^# HELP carte_http_request_duration_seconds /m);
    } finally {
      await t.close();
    }
  });

  test('a bad metrics configuration is refused at start', async () => {
    await assert.rejects(startServer({ config: { metrics: { allow: 'everyone' as 'any' } } }), /metrics\.allow must be loopback or any/);
    await assert.rejects(startServer({ config: { metrics: { token: 'short' } } }), /metrics\.token must be at least 16/);
    await assert.rejects(startServer({ config: { shutdownTimeout: 'soon' } }), /shutdownTimeout must be a positive duration/);
  });
});

describe('X-Request-Id', () => {
  let t: TestServer;
  before(async () => {
    t = await startServer();
  });
  after(() => t.close());

  test('taken from the request, or made, and returned on every response', async () => {
    const cases: [string, string, Record<string, string>, string | undefined, number][] = [
      ['GET', '/v1/restaurants/1', {}, undefined, 200],
      ['GET', '/v1/restaurants/999999', {}, undefined, 404],
      ['POST', '/v1/restaurants', { 'content-type': 'application/json' }, '{"name":', 400],
      ['GET', '/metrics', {}, undefined, 200],
    ];
    for (const [method, path, headers, raw, status] of cases) {
      const given = await t.request(method, path, { headers: { ...headers, 'x-request-id': `trace-${status}` }, ...(raw !== undefined ? { raw } : {}) });
      assert.equal(given.status, status, path);
      assert.equal(given.headers.get('x-request-id'), `trace-${status}`, path);
      const made = await t.request(method, path, { headers, ...(raw !== undefined ? { raw } : {}) });
      assert.match(made.headers.get('x-request-id') ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, path);
    }
    const refused = await t.request('POST', '/v1/restaurants', { anonymous: true, body: { name: 'Anonymous' }, headers: { 'x-request-id': 'trace-401' } });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('x-request-id'), 'trace-401');
    // A value that could forge log lines or grow without bound is replaced by a made one.
    for (const bad of ['a b', 'x'.repeat(129), 'evil"}']) {
      const res = await t.get('/health', { 'x-request-id': bad });
      assert.notEqual(res.headers.get('x-request-id'), bad);
      assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    }
  });
});

describe('shutdown', () => {
  test('close() stays within shutdownTimeout: a request that never finishes is cut', { timeout: 60_000 }, async () => {
    const t = await startServer({ config: { shutdownTimeout: 1 } });
    const url = new URL(t.url);
    // A body that never ends keeps its request in flight.
    const arrived = once(t.server.app.server, 'request');
    const request = http.request({ host: url.hostname, port: url.port, method: 'POST', path: '/v1/restaurants', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', authorization: `Bearer ${t.token}` } });
    const ended = new Promise<string>((resolve) => {
      request.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code}`));
      request.on('response', (res) => resolve(`status ${res.statusCode}`));
    });
    request.write('{"name": "never fin');
    await arrived; // the server has the request: it is in flight
    const started = Date.now();
    await t.close();
    const took = Date.now() - started;
    assert.ok(took < 8000, `closed in ${took} ms (bound 1 s, generous margin)`);
    assert.ok(took >= 900, `waited for the in-flight request first (${took} ms)`);
    assert.match(await ended, /^error|^status/);
  });

  test('JSON logs carry the request id, and SIGTERM stops the process within the bound', { timeout: 90_000 }, async () => {
    const child = await spawnServe(['--db', 'sqlite::memory:', '--port', '0', '--log-level', 'info', '--shutdown-timeout', '2']);
    const res = await fetch(`${child.url}/v1/restaurants`, { headers: { 'x-request-id': 'trace-log-1' } });
    assert.equal(res.headers.get('x-request-id'), 'trace-log-1');
    await child.logged((line) => line.reqId === 'trace-log-1' && line.msg === 'request completed');
    await child.logged((line) => line.reqId === 'trace-log-1' && line.msg === 'incoming request');
    const started = Date.now();
    child.process.kill('SIGTERM');
    assert.equal(await child.exited, 0);
    assert.ok(Date.now() - started < 15_000, 'stopped within the bound, with a margin');
  });
});
