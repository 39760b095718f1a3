/**
 * Server-sent events (SPEC §7): `GET /v1/events` with `Accept: text/event-stream` streams
 * events with `id:` and `event:` lines, resumes from `Last-Event-ID`, sends heartbeat
 * comments, takes the polling filters, and lets go of a reader too slow to keep up.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { CarteEvent } from '../src/events/types.js';
import type { ApiSpec } from '../src/schema/types.js';
import { openSse, waitUntil } from './events-helpers.js';
import { startServer, type TestServer } from './helpers.js';

function patch(t: TestServer, url: string, body: unknown) {
  return t.request('PATCH', url, { body });
}

async function headCursor(t: TestServer): Promise<string> {
  const res = await t.get('/v1/events?after=now');
  return (/after=(evt_[0-9a-z]{11})[^>]*>; rel="next-cursor"/.exec(res.headers.get('link') ?? '') as RegExpExecArray)[1] as string;
}

describe('server-sent events', () => {
  let t: TestServer;
  before(async () => {
    t = await startServer();
  });
  after(() => t.close());

  test('a stream of id:, event: and data: blocks, one per event', async () => {
    const sse = await openSse(`${t.url}/v1/events?resource=orders`, { 'x-request-id': 'sse-1' });
    assert.equal(sse.response.status, 200);
    assert.equal(sse.response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    assert.equal(sse.response.headers.get('cache-control'), 'no-cache');
    assert.equal(sse.response.headers.get('x-request-id'), 'sse-1');
    assert.deepEqual(await sse.next(), { comment: 'connected' });
    await waitUntil(() => t.server.events.stats().openEventStreams === 1, 'the stream is open');
    const order = (await t.post('/v1/orders', { clientId: 3, restaurantId: 3 })).body as { id: number };
    const first = await sse.nextEvent();
    const event = JSON.parse(first.data as string) as CarteEvent;
    assert.deepEqual(first, { id: event.id, event: 'orders.created', data: first.data });
    assert.equal(event.type, 'orders.created');
    assert.equal(event.resourceId, String(order.id));
    assert.equal((await sse.nextEvent()).event, 'orders.placed');
    // The same event as polling shows.
    const feed = (await t.get(`/v1/events?resource=orders&type=orders.created&data.id=${order.id}`)).body as CarteEvent[];
    assert.deepEqual(feed, [event]);
    sse.close();
    await waitUntil(() => t.server.events.stats().openEventStreams === 0, 'the stream is closed');
  });

  test('Last-Event-ID resumes after that event (and wins over after=); filters are the polling ones', async () => {
    const cursor = await headCursor(t);
    const order = (await t.post('/v1/orders', { clientId: 4, restaurantId: 4 })).body as { id: number };
    await patch(t, `/v1/orders/${order.id}`, { state: 'preparing' });
    await patch(t, `/v1/orders/${order.id}`, { state: 'ready' });
    const sse = await openSse(`${t.url}/v1/events?resource=orders&type=orders.placed,orders.ready&data.id=${order.id}&after=evt_00000000000`, { 'last-event-id': cursor });
    assert.deepEqual(await sse.next(), { comment: 'connected' });
    const replayed = [await sse.nextEvent(), await sse.nextEvent()];
    assert.deepEqual(replayed.map((e) => e.event), ['orders.placed', 'orders.ready']);
    // Live after the replay: a new state of the same order.
    await patch(t, `/v1/orders/${order.id}`, { state: 'served' });
    await patch(t, `/v1/orders/${order.id}`, { state: 'paid' });
    const other = (await t.post('/v1/orders', { clientId: 4, restaurantId: 4 })).body as { id: number };
    await patch(t, `/v1/orders/${other.id}`, { state: 'preparing' });
    await patch(t, `/v1/orders/${other.id}`, { state: 'ready' });
    await patch(t, `/v1/orders/${order.id}`, { orderValue: 99 });
    sse.close();
    // Reconnecting with the last id seen misses nothing and repeats nothing.
    const again = await openSse(`${t.url}/v1/events?resource=orders&data.id=${order.id}`, { 'last-event-id': replayed[1]?.id as string });
    const next = [await again.nextEvent(), await again.nextEvent(), await again.nextEvent(), await again.nextEvent(), await again.nextEvent()];
    assert.deepEqual(next.map((e) => e.event), ['orders.updated', 'orders.served', 'orders.updated', 'orders.paid', 'orders.updated']);
    assert.equal((JSON.parse(next[4]?.data as string) as CarteEvent).data.orderValue, 99);
    again.close();
  });

  test('mistakes are answered before streaming, as JSON errors', async () => {
    const bad = await fetch(`${t.url}/v1/events?type=orders.lost`, { headers: { accept: 'text/event-stream' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(((await bad.json()) as { error: string }).error, 'invalid_request');
    const badId = await fetch(`${t.url}/v1/events`, { headers: { accept: 'text/event-stream', 'last-event-id': '42' } });
    assert.equal(badId.status, 400);
    await badId.text();
  });

  test('closing the server ends every stream', async () => {
    const t2 = await startServer();
    const sse = await openSse(`${t2.url}/v1/events`);
    assert.deepEqual(await sse.next(), { comment: 'connected' });
    await t2.close();
    await assert.rejects(sse.next(), /stream ended/);
  });
});

describe('server-sent events: heartbeats and slow readers', () => {
  test('a heartbeat comment is sent every events.heartbeat', async () => {
    const t = await startServer({ config: { events: { heartbeat: '100ms' } } });
    try {
      const sse = await openSse(`${t.url}/v1/events`);
      assert.deepEqual(await sse.next(), { comment: 'connected' });
      assert.deepEqual(await sse.next(), { comment: 'heartbeat' });
      assert.deepEqual(await sse.next(), { comment: 'heartbeat' });
      sse.close();
    } finally {
      await t.close();
    }
  });

  test('a reader too slow to keep up is let go at the buffer bound', { timeout: 120_000 }, async () => {
    const spec: ApiSpec = { api: { name: 'Big' }, resources: { pages: { access: 'public', fields: { text: { type: 'string' } } } } };
    const t = await startServer({ schema: spec, config: { events: { bufferBytes: 64 * 1024 } } });
    const { hostname, port } = new URL(t.url);
    const socket = net.connect(Number(port), hostname);
    try {
      await once(socket, 'connect');
      socket.write(`GET /v1/events HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAccept: text/event-stream\r\n\r\n`);
      await waitUntil(() => t.server.events.stats().openEventStreams === 1, 'the stream is open');
      socket.pause(); // read nothing: kernel buffers fill, then the server's
      const text = 'x'.repeat(100_000);
      for (let i = 0; i < 2000 && t.server.events.stats().slowConsumersClosed === 0; i++) {
        assert.equal((await t.post('/v1/pages', { text })).status, 201);
        await new Promise((r) => setImmediate(r));
      }
      assert.equal(t.server.events.stats().slowConsumersClosed, 1);
      await waitUntil(() => t.server.events.stats().openEventStreams === 0, 'the stream is let go');
    } finally {
      socket.destroy();
      await t.close();
    }
  });
});
