/**
 * Long polling (SPEC §7, RFC 7240 `Prefer: wait=N`) on the event feed and on item GETs
 * with `If-None-Match`: held until something new, woken by the bus (no database polling),
 * capped, released when the client leaves, and answered on shutdown — SIGTERM included.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ANONYMOUS } from '../src/auth/principal.js';
import type { CarteEvent } from '../src/events/types.js';
import { connectWs, spawnServe, waitUntil } from './events-helpers.js';
import { startServer, type Response, type TestServer } from './helpers.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'carte-events-poll-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function patch(t: TestServer, url: string, body: unknown) {
  return t.request('PATCH', url, { body });
}

async function headCursor(t: TestServer): Promise<string> {
  const res = await t.get('/v1/events?after=now');
  return (/after=(evt_[0-9a-z]{11})[^>]*>; rel="next-cursor"/.exec(res.headers.get('link') ?? '') as RegExpExecArray)[1] as string;
}

/** A placed order of the demo, created for the test. */
async function newOrder(t: TestServer): Promise<{ id: number; etag: string }> {
  const res = await t.post('/v1/orders', { clientId: 2, restaurantId: 4 });
  assert.equal(res.status, 201);
  return { id: (res.body as { id: number }).id, etag: res.headers.get('etag') as string };
}

describe('long polling', () => {
  let t: TestServer;
  const held = () => t.server.events.stats().heldLongPolls;
  before(async () => {
    // No background purge while statements are counted.
    t = await startServer({ config: { events: { purgeInterval: '1h' } } });
  });
  after(() => t.close());

  test('the feed holds a request until a matching event, and answers with it at once', async () => {
    const cursor = await headCursor(t);
    const order = await newOrder(t);
    const poll = t.get(`/v1/events?after=${await headCursor(t)}&type=orders.preparing`, { prefer: 'wait=60' });
    await waitUntil(() => held() === 1, 'the poll is held');
    // An event of another type does not answer it.
    const other = await t.post('/v1/clients', { name: 'Passer-by', email: 'passer@example.com' });
    assert.equal(other.status, 201);
    assert.equal((await patch(t, `/v1/orders/${order.id}`, { state: 'preparing' })).status, 200);
    const res = await poll;
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('preference-applied'), 'wait=60');
    assert.equal(res.headers.get('content-range'), '0-0/1');
    const events = res.body as CarteEvent[];
    assert.deepEqual(events.map((e) => [e.type, e.resourceId, e.data.state]), [['orders.preparing', String(order.id), 'preparing']]);
    assert.match(res.headers.get('link') ?? '', new RegExp(`after=${events[0]?.id}&limit=100>; rel="next-cursor"$`));
    assert.equal(held(), 0);
    // The same events through a plain poll from the earlier cursor.
    const plain = (await t.get(`/v1/events?after=${cursor}&type=orders.preparing`)).body as CarteEvent[];
    assert.deepEqual(plain, events);
  });

  test('when the wait ends the feed answers an empty list, and nothing polled the database meanwhile', async () => {
    const stats = t.server.store.stats;
    const poll = t.get(`/v1/events?after=${await headCursor(t)}&resource=dishes`, { prefer: 'wait=2' });
    await waitUntil(() => held() === 1, 'the poll is held');
    const before = stats.statements;
    const res = await poll;
    assert.equal(stats.statements, before, 'no statement while held');
    assert.equal(res.status, 200);
    assert.equal(res.text, '[]');
    assert.equal(res.headers.get('preference-applied'), 'wait=2');
    assert.equal(res.headers.get('content-range'), '*/0');
  });

  test('an event already there answers at once; without Prefer: wait nothing is held', async () => {
    const cursor = await headCursor(t);
    await newOrder(t);
    const res = await t.get(`/v1/events?after=${cursor}&resource=orders`, { prefer: 'wait=60' });
    assert.equal(res.status, 200);
    assert.equal((res.body as unknown[]).length, 2);
    assert.equal(res.headers.get('preference-applied'), 'wait=60');
    const plain = await t.get(`/v1/events?after=${await headCursor(t)}`);
    assert.equal(plain.text, '[]');
    assert.equal(plain.headers.get('preference-applied'), null);
  });

  test('one write wakes every held poll without a read per poll', async () => {
    const order = await newOrder(t);
    const cursor = await headCursor(t);
    const polls = Array.from({ length: 50 }, () => t.get(`/v1/events?after=${cursor}&resource=orders`, { prefer: 'wait=60' }));
    await waitUntil(() => held() === 50, '50 polls are held');
    const stats = t.server.store.stats;
    const before = stats.statements;
    await patch(t, `/v1/orders/${order.id}`, { state: 'cancelled' });
    const answers = await Promise.all(polls);
    for (const res of answers) assert.deepEqual((res.body as CarteEvent[]).map((e) => e.type), ['orders.updated', 'orders.cancelled']);
    assert.ok(stats.statements - before < 20, `${stats.statements - before} statements for one write and 50 answers`);
  });

  test('an item GET with If-None-Match is held until the item changes, then answers 200 with its new ETag', async () => {
    const order = await newOrder(t);
    const poll = t.get(`/v1/orders/${order.id}`, { 'if-none-match': order.etag, prefer: 'wait=60' });
    await waitUntil(() => held() === 1, 'the item poll is held');
    // Another order's change does not wake it.
    const other = await newOrder(t);
    let sawOther!: () => void;
    const seen = new Promise<void>((resolve) => (sawOther = resolve));
    const stop = await t.server.events.subscribe({ resource: 'orders', types: ['orders.preparing'], principal: ANONYMOUS, baseUrl: t.url }, () => sawOther());
    await patch(t, `/v1/orders/${other.id}`, { state: 'preparing' });
    await seen; // the bus has delivered that change
    stop();
    assert.equal(held(), 1, 'still held after another item changed');
    const changed = await patch(t, `/v1/orders/${order.id}`, { state: 'cancelled' });
    const res = await poll;
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('preference-applied'), 'wait=60');
    assert.equal(res.headers.get('etag'), changed.headers.get('etag'));
    assert.equal((res.body as { state: string }).state, 'cancelled');
  });

  test('an unchanged item answers 304 when the wait ends; a changed one at once; a missing one 404', async () => {
    const order = await newOrder(t);
    const timedOut = await t.get(`/v1/orders/${order.id}`, { 'if-none-match': order.etag, prefer: 'wait=1' });
    assert.equal(timedOut.status, 304);
    assert.equal(timedOut.headers.get('etag'), order.etag);
    assert.equal(timedOut.headers.get('preference-applied'), 'wait=1');
    const stale = await t.get(`/v1/orders/${order.id}`, { 'if-none-match': '"old"', prefer: 'wait=60' });
    assert.equal(stale.status, 200);
    assert.equal(stale.headers.get('etag'), order.etag);
    const missing = await t.get('/v1/orders/999999', { 'if-none-match': '"x"', prefer: 'wait=60' });
    assert.equal(missing.status, 404);
    // Without If-None-Match there is nothing to wait for: answered at once.
    const plain = await t.get(`/v1/orders/${order.id}`, { prefer: 'wait=60' });
    assert.equal(plain.status, 200);
  });

  test('a deletion answers a held item GET with 404; nested item routes long-poll too', async () => {
    const client = (await t.post('/v1/clients', { name: 'Nested', email: 'nested@example.com' })).body as { id: number };
    const created = await t.post(`/v1/clients/${client.id}/orders`, { restaurantId: 1 });
    const order = created.body as { id: number };
    const nested = t.get(`/v1/clients/${client.id}/orders/${order.id}`, { 'if-none-match': created.headers.get('etag') as string, prefer: 'wait=60' });
    await waitUntil(() => held() === 1, 'the nested item poll is held');
    await patch(t, `/v1/orders/${order.id}`, { orderValue: 30 });
    const res = await nested;
    assert.equal(res.status, 200);
    assert.equal((res.body as { orderValue: number }).orderValue, 30);
    const poll = t.get(`/v1/orders/${order.id}`, { 'if-none-match': res.headers.get('etag') as string, prefer: 'wait=60' });
    await waitUntil(() => held() === 1, 'the item poll is held');
    assert.equal((await t.request('DELETE', `/v1/orders/${order.id}`)).status, 204);
    const gone = await poll;
    assert.equal(gone.status, 404);
    assert.equal((gone.body as { error: string }).error, 'not_found');
  });

  test('a client that goes away stops being held', async () => {
    const controller = new AbortController();
    const poll = fetch(`${t.url}/v1/events?after=${await headCursor(t)}&resource=dishes`, { headers: { prefer: 'wait=60' }, signal: controller.signal }).catch((e: Error) => e);
    await waitUntil(() => held() === 1, 'the poll is held');
    controller.abort();
    assert.ok((await poll) instanceof Error);
    await waitUntil(() => held() === 0, 'the poll is released');
  });
});

describe('the wait is capped', () => {
  test('Prefer: wait beyond events.maxWait is cut to it, and Preference-Applied says so', async () => {
    const t = await startServer({ config: { events: { maxWait: 1 } } });
    try {
      const res = await t.get(`/v1/events?after=${await headCursor(t)}`, { prefer: 'wait=600' });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('preference-applied'), 'wait=1');
      const item = await t.get('/v1/restaurants/1');
      const held = await t.get('/v1/restaurants/1', { 'if-none-match': item.headers.get('etag') as string, prefer: 'wait=600' });
      assert.equal(held.status, 304);
      assert.equal(held.headers.get('preference-applied'), 'wait=1');
    } finally {
      await t.close();
    }
  });
});

describe('shutdown', () => {
  test('closing the server answers every held request', async () => {
    const t = await startServer();
    const order = await newOrder(t);
    const feed = t.get(`/v1/events?after=${await headCursor(t)}`, { prefer: 'wait=60' });
    const item = t.get(`/v1/orders/${order.id}`, { 'if-none-match': order.etag, prefer: 'wait=60' });
    await waitUntil(() => t.server.events.stats().heldLongPolls === 2, 'both polls are held');
    await t.close();
    const [f, i] = (await Promise.all([feed, item])) as [Response, Response];
    assert.equal(f.status, 200);
    assert.equal(f.text, '[]');
    assert.equal(i.status, 304);
  });

  test('on SIGTERM every held request is answered and every socket closed with 1001 before the process exits', { timeout: 60_000 }, async () => {
    const child = await spawnServe(['--db', path.join(dir, 'sigterm.db'), '--port', '0', '--log-level', 'debug', '--dev']);
    const url = child.url;
    const order = await fetch(`${url}/v1/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${child.token}` },
      body: JSON.stringify({ clientId: 1, restaurantId: 1 }),
    });
    assert.equal(order.status, 201);
    const etag = order.headers.get('etag') as string;
    const id = ((await order.json()) as { id: number }).id;
    const feed = fetch(`${url}/v1/events?after=now`, { headers: { prefer: 'wait=60' } });
    const item = fetch(`${url}/v1/orders/${id}`, { headers: { prefer: 'wait=60', 'if-none-match': etag } });
    const ws = await connectWs(url);
    ws.send({ type: 'subscribe', id: 's1', resource: 'orders' });
    assert.deepEqual(await ws.next(), { type: 'subscribed', id: 's1' });
    await child.logged((line) => line.msg === 'long poll held', 2);
    child.process.kill('SIGTERM');
    const [f, i] = await Promise.all([feed, item]);
    assert.equal(f.status, 200);
    assert.equal(f.headers.get('preference-applied'), 'wait=60');
    assert.equal(await f.text(), '[]');
    assert.equal(i.status, 304);
    assert.deepEqual(await ws.closed, { code: 1001, reason: 'server shutting down' });
    assert.equal(await child.exited, 0);
  });
});
