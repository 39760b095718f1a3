/**
 * Change events and polling (SPEC §7): which events a write emits (and which it must not),
 * the feed paged like a collection, conditional polling, access rules, retention, and the
 * event written in the same transaction as its change, even under kill -9.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { ANONYMOUS, type Principal } from '../src/auth/principal.js';
import type { CarteEvent } from '../src/events/types.js';
import type { ApiSpec } from '../src/schema/types.js';
import { spawnServe } from './events-helpers.js';
import { startServer, type TestServer } from './helpers.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const CURSOR = /^evt_[0-9a-z]{11}$/;
const dir = mkdtempSync(path.join(os.tmpdir(), 'carte-events-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Ev = CarteEvent & { data: Record<string, unknown> & { changes: string[] } };

/** The cursor to poll from: the feed's next-cursor at its newest position. */
async function headCursor(t: TestServer): Promise<string> {
  const res = await t.get('/v1/events?after=now');
  const m = /after=(evt_[0-9a-z]{11})[^>]*>; rel="next-cursor"/.exec(res.headers.get('link') ?? '');
  assert.ok(m, `a next-cursor link in ${res.headers.get('link')}`);
  return m[1] as string;
}

async function eventsAfter(t: TestServer, cursor: string, query = ''): Promise<Ev[]> {
  const res = await t.get(`/v1/events?after=${cursor}${query}`);
  assert.ok(res.status === 200 || res.status === 206, `feed answered ${res.status}: ${res.text}`);
  return res.body as Ev[];
}

function patch(t: TestServer, url: string, body: unknown) {
  return t.request('PATCH', url, { body });
}

/** Event fields that depend on time, checked and set aside. */
function stable(events: Ev[]) {
  return events.map((e) => {
    assert.match(e.id, CURSOR);
    assert.match(e.occurredAt, ISO);
    const { id: _id, occurredAt: _at, data, ...rest } = e;
    const { createdAt: _c, updatedAt: _u, ...item } = data;
    return { ...rest, data: item };
  });
}

describe('change events on the demo', () => {
  let t: TestServer;
  before(async () => {
    // No background purge while statements are counted.
    t = await startServer({ config: { events: { purgeInterval: '1h' } } });
  });
  after(() => t.close());

  test('creating an order emits orders.created then orders.placed, with every field in changes', async () => {
    const from = await headCursor(t);
    const res = await t.post('/v1/orders', { clientId: 3, restaurantId: 2, orderValue: 12.5 });
    assert.equal(res.status, 201);
    const order = res.body as { id: number; createdAt: string; updatedAt: string };
    const events = await eventsAfter(t, from);
    const item = { id: order.id, clientId: 3, restaurantId: 2, state: 'placed', orderValue: 12.5, items: null };
    const changes = ['clientId', 'restaurantId', 'state', 'orderValue', 'items', 'createdAt', 'updatedAt'];
    assert.deepEqual(stable(events), [
      { type: 'orders.created', resource: 'orders', resourceId: String(order.id), data: { ...item, changes } },
      { type: 'orders.placed', resource: 'orders', resourceId: String(order.id), data: { ...item, changes } },
    ]);
    assert.ok((events[0] as Ev).id < (events[1] as Ev).id, 'ids increase in log order');
    assert.equal((events[0] as Ev).data.createdAt, order.createdAt);
  });

  test('a state move emits orders.updated and orders.<state> with changes ["state"]; a refused move emits nothing', async () => {
    const order = (await t.post('/v1/orders', { clientId: 1, restaurantId: 1 })).body as { id: number };
    const from = await headCursor(t);
    assert.equal((await patch(t, `/v1/orders/${order.id}`, { state: 'preparing' })).status, 200);
    assert.equal((await patch(t, `/v1/orders/${order.id}`, { state: 'paid' })).status, 409, 'preparing → paid is not a transition');
    assert.equal((await patch(t, `/v1/orders/${order.id}`, { state: 'ready' })).status, 200);
    assert.equal((await patch(t, `/v1/orders/${order.id}`, { state: 'ready' })).status, 200, 'no change: no event');
    const events = stable(await eventsAfter(t, from));
    assert.deepEqual(
      events.map((e) => [e.type, e.data.state, e.data.changes]),
      [
        ['orders.updated', 'preparing', ['state']],
        ['orders.preparing', 'preparing', ['state']],
        ['orders.updated', 'ready', ['state']],
        ['orders.ready', 'ready', ['state']],
      ],
    );
  });

  test('a cascading delete emits one event per deleted row, each with the item as it was', async () => {
    const restaurant = (await t.post('/v1/restaurants', { name: 'Chez Cascade', type: 'french' })).body as { id: number };
    const d1 = (await t.post('/v1/dishes', { restaurantId: restaurant.id, name: 'Soupe', price: 7 })).body as { id: number };
    const d2 = (await t.post('/v1/dishes', { restaurantId: restaurant.id, name: 'Tarte', price: 6 })).body as { id: number };
    const from = await headCursor(t);
    assert.equal((await t.request('DELETE', `/v1/restaurants/${restaurant.id}`)).status, 204);
    const events = await eventsAfter(t, from);
    assert.deepEqual(
      events.map((e) => [e.type, e.resourceId, e.data.name]),
      [
        ['dishes.deleted', String(d1.id), 'Soupe'],
        ['dishes.deleted', String(d2.id), 'Tarte'],
        ['restaurants.deleted', String(restaurant.id), 'Chez Cascade'],
      ],
    );
    assert.deepEqual((events[0] as Ev).data.changes, ['restaurantId', 'name', 'price', 'vegetarian', 'tags']);
    const refused = await t.request('DELETE', '/v1/restaurants/1');
    assert.equal(refused.status, 409, 'restaurant 1 has orders');
    assert.deepEqual(await eventsAfter(t, (events[2] as Ev).id), [], 'a refused delete emits nothing');
  });

  test('the feed pages like a collection: Content-Range, Accept-Range, Link with next-cursor, 206 then 200', async () => {
    const from = await headCursor(t);
    for (let i = 0; i < 5; i++) assert.equal((await t.post('/v1/clients', { name: `Page ${i}`, email: `page${i}@example.com` })).status, 201);
    const first = await t.get(`/v1/events?after=${from}&resource=clients&limit=2`);
    assert.equal(first.status, 206);
    assert.equal(first.headers.get('content-range'), '0-1/5');
    assert.equal(first.headers.get('accept-range'), 'event 100');
    const ids = (first.body as Ev[]).map((e) => e.id);
    assert.equal(
      first.headers.get('link'),
      [
        `<${t.url}/v1/events?resource=clients&after=${from}&offset=0&limit=2>; rel="first"`,
        `<${t.url}/v1/events?resource=clients&after=${from}&offset=2&limit=2>; rel="next"`,
        `<${t.url}/v1/events?resource=clients&after=${from}&offset=3&limit=2>; rel="last"`,
        `<${t.url}/v1/events?resource=clients&after=${ids[1]}&limit=2>; rel="next-cursor"`,
      ].join(', '),
    );
    // Following next-cursor reads every event once, in order.
    const seen: string[] = [...ids];
    let cursor = ids[1] as string;
    for (;;) {
      const page = await t.get(`/v1/events?after=${cursor}&resource=clients&limit=2`);
      const events = page.body as Ev[];
      if (events.length === 0) {
        assert.equal(page.status, 200);
        assert.equal(page.headers.get('content-range'), '*/0');
        break;
      }
      seen.push(...events.map((e) => e.id));
      cursor = (events[events.length - 1] as Ev).id;
    }
    const all = (await eventsAfter(t, from, '&resource=clients')).map((e) => e.id);
    assert.deepEqual(seen, all);
    assert.equal(all.length, 5);
    const ranged = await t.get(`/v1/events?after=${from}&resource=clients&range=4-5`);
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get('content-range'), '4-4/5');
    const beyond = await t.get(`/v1/events?after=${from}&resource=clients&range=10-11`);
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), '*/5');
    const tooMany = await t.get('/v1/events?range=0-100');
    assert.equal(tooMany.status, 400);
    assert.equal((tooMany.body as { error: string }).error, 'invalid_range');
  });

  test('filters: resource, type and data.<field> in the REST filter syntax', async () => {
    const from = await headCursor(t);
    const a = (await t.post('/v1/orders', { clientId: 2, restaurantId: 3, orderValue: 80 })).body as { id: number };
    const b = (await t.post('/v1/orders', { clientId: 4, restaurantId: 3, orderValue: 8 })).body as { id: number };
    await patch(t, `/v1/orders/${a.id}`, { state: 'cancelled' });
    await t.post('/v1/clients', { name: 'Filter', email: 'filter@example.com' });
    const types = async (q: string) => (await eventsAfter(t, from, q)).map((e) => `${e.type}:${e.resourceId}`);
    assert.deepEqual(await types('&type=orders.cancelled'), [`orders.cancelled:${a.id}`]);
    assert.deepEqual(await types('&resource=orders&type=orders.created&data.orderValue[gte]=50'), [`orders.created:${a.id}`]);
    assert.deepEqual(await types('&resource=orders&data.clientId=4,7'), [`orders.created:${b.id}`, `orders.placed:${b.id}`]);
    assert.deepEqual(await types(`&resource=orders&data.id=${b.id}&type=orders.placed`), [`orders.placed:${b.id}`]);
    assert.deepEqual(await types('&resource=clients,orders&type=clients.created'), [(await types('&type=clients.created'))[0]]);
    const problems: [string, string][] = [
      ['type=orders.redy', "There is no event type 'orders.redy'; orders emits orders.created, orders.updated, orders.deleted, orders.placed, orders.preparing, orders.ready, orders.served, orders.paid, orders.cancelled."],
      ['resource=tables', "There is no resource 'tables'; events come from restaurants, dishes, clients, orders."],
      ['data.state=ready', 'Filters on items apply to one resource: name it (resource=orders).'],
      ['resource=orders&data.payed=true', "There is no 'payed' property on orders."],
      ['resource=orders&data.state=lost', "'lost' is not a possible value of 'state'; expected one of placed, preparing, ready, served, paid, cancelled."],
      ['state=ready', "There is no 'state' parameter on events; use after, resource, type, range or limit/offset, and data.<field> to filter on the items."],
      ['resource=clients&type=orders.ready', "The event type 'orders.ready' is not an event of clients."],
      ['after=12', 'The cursor given in after is not valid: use the id of an event (evt_…), or the next-cursor link of a previous page.'],
      ['after=evt_0000000zzzz', 'The cursor given in after is ahead of the event log: it was not made by this server.'],
    ];
    for (const [query, description] of problems) {
      const res = await t.get(`/v1/events?${query}`);
      assert.equal(res.status, 400, query);
      assert.deepEqual(res.body, { error: 'invalid_request', error_description: description, error_uri: `${t.url}/docs/errors#invalid_request` }, query);
    }
    // Repetition does not make a query longer than the model (SQLite takes at most 32,766 parameters).
    const hub = t.server.events;
    const repeated = hub.select({ resource: Array(40_000).fill('orders'), types: Array(40_000).fill('orders.cancelled'), principal: ANONYMOUS });
    assert.deepEqual(repeated.selectors, [{ resource: 'orders', types: ['orders.cancelled'], where: { kind: 'true' } }]);
    const page = await hub.readFeed(repeated, { after: from, offset: 0, limit: 10, count: true }, t.url);
    assert.deepEqual(page.events.map((e) => e.type), ['orders.cancelled']);
    const post = await t.post('/v1/events', {});
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD, OPTIONS');
    const xml = await t.get('/v1/events', { accept: 'application/xml' });
    assert.equal(xml.status, 406);
  });

  test('polling costs one cheap request: 304 with the ETag, two indexed statements, nothing counted', async () => {
    const cursor = await headCursor(t);
    const first = await t.get(`/v1/events?after=${cursor}&resource=orders`);
    assert.equal(first.status, 200);
    assert.equal(first.text, '[]');
    const etag = first.headers.get('etag') as string;
    assert.match(etag, /^"[A-Za-z0-9_-]{27}"$/);
    const stats = t.server.store.stats;
    const before = stats.statements;
    const again = await t.get(`/v1/events?after=${cursor}&resource=orders`, { 'if-none-match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
    assert.equal(stats.statements - before, 2, 'the bounds of the log and the page, by its primary key (an empty first page needs no count)');
    // Items poll the same way (SPEC §4.7).
    const item = await t.get('/v1/orders/5');
    const cached = await t.get('/v1/orders/5', { 'if-none-match': item.headers.get('etag') as string });
    assert.equal(cached.status, 304);
    // A new event makes the same poll answer 200 with it.
    await t.post('/v1/orders', { clientId: 5, restaurantId: 5 });
    const changed = await t.get(`/v1/events?after=${cursor}&resource=orders`, { 'if-none-match': etag });
    assert.equal(changed.status, 200);
    assert.deepEqual((changed.body as Ev[]).map((e) => e.type), ['orders.created', 'orders.placed']);
  });
});

const guarded: ApiSpec = {
  api: { name: 'Guarded' },
  resources: {
    notices: { access: { read: 'public', write: 'public' }, fields: { text: { type: 'string' } } },
    notes: { access: { read: 'authenticated', write: 'public' }, fields: { text: { type: 'string' } } },
    tickets: {
      access: { read: 'owner:ownerId', create: 'public', update: 'public', delete: 'public' },
      fields: { ownerId: { type: 'string' }, title: { type: 'string' } },
    },
  },
};

const alice: Principal = { subject: 'alice', scopes: [], kind: 'token' };
const bob: Principal = { subject: 'bob', scopes: [], kind: 'token' };

describe('events respect access rules', () => {
  let t: TestServer;
  before(async () => {
    t = await startServer({ schema: guarded });
  });
  after(() => t.close());

  test("anonymous polling leaves out what it may not read, and naming it answers the rule's error", async () => {
    await t.post('/v1/notices', { text: 'open' });
    await t.post('/v1/notes', { text: 'secret' });
    await t.post('/v1/tickets', { ownerId: 'alice', title: 'mine' });
    const all = await t.request('GET', '/v1/events', { anonymous: true });
    assert.equal(all.status, 200);
    assert.deepEqual((all.body as Ev[]).map((e) => e.type), ['notices.created']);
    const named = await t.request('GET', '/v1/events?resource=notes', { anonymous: true });
    assert.equal(named.status, 401);
    assert.equal(named.headers.get('www-authenticate'), 'Bearer realm="carte"');
    assert.equal((named.body as { error: string }).error, 'no_credentials');
    assert.equal((await t.request('GET', '/v1/events?type=tickets.created', { anonymous: true })).status, 401);
  });

  test('an owner rule keeps each principal to its own rows, in the log and live (the subscription API)', async () => {
    const hub = t.server.events;
    const base = { baseUrl: t.url };
    const received: { who: string; title: unknown }[] = [];
    let bobGot!: () => void;
    const bobDone = new Promise<void>((resolve) => (bobGot = resolve));
    const stopAlice = await hub.subscribe({ resource: 'tickets', principal: alice, ...base }, (e) => {
      received.push({ who: 'alice', title: e.data.title });
    });
    const stopBob = await hub.subscribe({ resource: 'tickets', principal: bob, ...base }, (e) => {
      received.push({ who: 'bob', title: e.data.title });
      if (e.data.title === 'bob 2') bobGot();
    });
    await t.post('/v1/tickets', { ownerId: 'alice', title: 'alice 1' });
    await t.post('/v1/tickets', { ownerId: 'bob', title: 'bob 1' });
    const ticket = (await t.post('/v1/tickets', { ownerId: 'alice', title: 'alice 2' })).body as { id: number };
    await t.post('/v1/tickets', { ownerId: 'bob', title: 'bob 2' });
    await bobDone;
    stopAlice();
    stopBob();
    assert.deepEqual(received, [
      { who: 'alice', title: 'alice 1' },
      { who: 'bob', title: 'bob 1' },
      { who: 'alice', title: 'alice 2' },
      { who: 'bob', title: 'bob 2' },
    ]);
    const page = await hub.readFeed(hub.select({ resource: 'tickets', principal: bob }), { offset: 0, limit: 100, count: true }, t.url);
    assert.deepEqual(page.events.map((e) => e.data.title), ['bob 1', 'bob 2']);
    assert.equal(page.total, 2);
    // A deletion is seen by the owner of the row as it was (deleting needs reading: alice deletes).
    await t.server.service.delete({ principal: alice, baseUrl: t.url }, 'tickets', ticket.id);
    const deleted = await hub.readFeed(hub.select({ resource: 'tickets', types: ['tickets.deleted'], principal: alice }), { offset: 0, limit: 100, count: true }, t.url);
    assert.deepEqual(deleted.events.map((e) => [e.type, e.data.title]), [['tickets.deleted', 'alice 2']]);
    const none = await hub.readFeed(hub.select({ resource: 'tickets', types: ['tickets.deleted'], principal: bob }), { offset: 0, limit: 100, count: true }, t.url);
    assert.deepEqual(none.events, []);
  });
});

describe('retention', () => {
  test('events older than the window are purged; a cursor before the purge answers 410 cursor_expired', async () => {
    const t = await startServer({ config: { events: { retention: '1ms', purgeInterval: '1h' } } });
    try {
      const from = await headCursor(t);
      await t.post('/v1/clients', { name: 'Old', email: 'old@example.com' });
      const old = await eventsAfter(t, from);
      assert.equal(old.length, 1);
      // The event must be older than the 1 ms window.
      const at = Date.parse((old[0] as Ev).occurredAt);
      while (Date.now() <= at + 1) await new Promise((r) => setTimeout(r, 2));
      assert.equal(await t.server.events.purge(), 1);
      const expired = await t.get(`/v1/events?after=${from}`);
      assert.equal(expired.status, 410);
      assert.deepEqual(expired.body, {
        error: 'cursor_expired',
        error_description:
          'Events after this cursor are older than the retention window (1 ms) and were purged; resynchronize (read the items again), then follow the feed from its next-cursor',
        error_uri: `${t.url}/docs/errors#cursor_expired`,
      });
      const fromOldest = await t.get('/v1/events');
      assert.equal(fromOldest.status, 200);
      assert.deepEqual(fromOldest.body, []);
      // The cursor of the purged event itself has no gap after it.
      assert.equal((await t.get(`/v1/events?after=${(old[0] as Ev).id}`)).status, 200);
      // Positions go on after a purge.
      await t.post('/v1/clients', { name: 'New', email: 'new@example.com' });
      const fresh = (await t.get(`/v1/events?after=${(old[0] as Ev).id}`)).body as Ev[];
      assert.equal(fresh.length, 1);
      assert.ok((fresh[0] as Ev).id > (old[0] as Ev).id);
    } finally {
      await t.close();
    }
  });

  test('the purge runs in the background every purgeInterval', async () => {
    const t = await startServer({ config: { events: { retention: '1ms', purgeInterval: '50ms' } } });
    try {
      const purged = new Promise<void>((resolve) => {
        const stop = t.server.events.onPurge((n) => {
          if (n > 0) {
            stop();
            resolve();
          }
        });
      });
      await t.post('/v1/clients', { name: 'Soon gone', email: 'gone@example.com' });
      await purged;
      assert.deepEqual((await t.get('/v1/events')).body, []);
    } finally {
      await t.close();
    }
  });

  test('retention and the other event settings come from the schema, the environment or flags, and are checked', async () => {
    const { resolveConfig, fromEnv } = await import('../src/config/config.js');
    const config = resolveConfig({ events: { retention: '2d', maxWait: 30 } }, fromEnv({ CARTE_EVENTS_HEARTBEAT: '15', CARTE_EVENTS_BUFFER_BYTES: '65536' }));
    assert.equal(config.events.retention, 2 * 86_400_000);
    assert.equal(config.events.maxWait, 30_000);
    assert.equal(config.events.heartbeat, 15_000);
    assert.equal(config.events.bufferBytes, 65_536);
    assert.equal(resolveConfig(undefined).events.retention, 7 * 86_400_000);
    assert.throws(() => resolveConfig({ events: { retention: 'a week' } }), /events\.retention must be a duration/);
    assert.throws(() => resolveConfig({ events: { maxRange: 0 } }), /events\.maxRange must be a positive integer/);
    assert.throws(() => resolveConfig({ events: { retension: '1d' } }), /events\.retension is not a setting/);
  });
});

const shop: ApiSpec = {
  api: { name: 'Shop' },
  resources: { customers: { access: 'public', required: ['name'], fields: { name: { type: 'string' }, visits: { type: 'integer', default: 0 } } } },
};

describe('atomicity', () => {
  test('work plugged in to run with the events commits or rolls back with them (the webhooks outbox seam)', async () => {
    const t = await startServer({ schema: shop });
    try {
      const seen: string[] = [];
      let fail = false;
      t.server.events.recorder.addInTransaction(async (tx, events) => {
        assert.equal(typeof tx.appendEvent, 'function');
        if (fail) throw new Error('the outbox is full');
        seen.push(...events.map((e) => `${e.type}:${e.resourceId}`));
      });
      const first = await t.post('/v1/customers', { name: 'Kept' });
      assert.equal(first.status, 201);
      assert.deepEqual(seen, [`customers.created:${(first.body as { id: number }).id}`]);
      fail = true;
      assert.equal((await t.post('/v1/customers', { name: 'Lost' })).status, 500);
      assert.deepEqual(((await t.get('/v1/customers')).body as { name: string }[]).map((c) => c.name), ['Kept']);
      assert.deepEqual(((await t.get('/v1/events')).body as Ev[]).map((e) => e.data.name), ['Kept']);
    } finally {
      await t.close();
    }
  });

  test('after kill -9, every change has its event and every event its change', { timeout: 120_000 }, async () => {
    const db = path.join(dir, 'atomic.db');
    const schemaFile = path.join(dir, 'atomic.yaml');
    writeFileSync(schemaFile, stringify(shop));
    const child = await spawnServe([schemaFile, '--db', db, '--port', '0', '--log-level', 'silent']);
    const send = (method: string, url: string, body: unknown) =>
      fetch(`${child.url}${url}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const created: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await send('POST', '/v1/customers', { name: `c${i}` });
      created.push(((await res.json()) as { id: number }).id);
    }
    let acknowledged = 0;
    const burst = Array.from({ length: 300 }, (_, i) =>
      (i % 3 === 0 ? send('POST', '/v1/customers', { name: `n${i}` }) : send('PATCH', `/v1/customers/${created[i % created.length]}`, { name: `p${i}`, visits: i }))
        .then((res) => {
          if (res.ok) acknowledged++;
        })
        .catch(() => undefined),
    );
    // Die in the middle of the burst: some writes acknowledged, some in flight.
    while (acknowledged < 60) await new Promise((r) => setImmediate(r));
    child.process.kill('SIGKILL');
    await child.exited;
    await Promise.all(burst);
    const file = new Database(db, { readonly: true });
    try {
      assert.equal(file.pragma('integrity_check', { simple: true }), 'ok');
      const rows = file.prepare('SELECT id, name, visits FROM customers ORDER BY id').all() as { id: number; name: string; visits: number }[];
      const events = file.prepare('SELECT seq, type, resource_id, item FROM _carte_events ORDER BY seq').all() as { seq: number; type: string; resource_id: string; item: string }[];
      assert.ok(rows.length >= 10 && events.length >= rows.length);
      const latest = new Map<string, { type: string; item: Record<string, unknown> }>();
      const createdEvents = new Set<string>();
      for (const e of events) {
        if (e.type === 'customers.created') {
          assert.ok(!createdEvents.has(e.resource_id), `one created event for customer ${e.resource_id}`);
          createdEvents.add(e.resource_id);
        } else {
          assert.equal(e.type, 'customers.updated');
          assert.ok(createdEvents.has(e.resource_id), 'an update follows its creation in the log');
        }
        latest.set(e.resource_id, { type: e.type, item: JSON.parse(e.item) as Record<string, unknown> });
      }
      // No change without its event: each row is exactly what its last event says.
      for (const row of rows) assert.deepEqual({ id: row.id, name: row.name, visits: row.visits }, pick(latest.get(String(row.id))?.item), `customer ${row.id}`);
      // No event without its change: every customer an event speaks of exists.
      assert.deepEqual([...createdEvents].sort(), rows.map((r) => String(r.id)).sort());
      const seqs = events.map((e) => e.seq);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
    } finally {
      file.close();
    }
  });
});

function pick(item: Record<string, unknown> | undefined) {
  return item ? { id: item.id, name: item.name, visits: item.visits } : undefined;
}
