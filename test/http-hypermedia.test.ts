/** State machines and hypermedia (SPEC §4.8): 409 on a move not listed, links in bodies and in the Link header. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ApiSpec } from '../src/schema/types.js';
import { startHttpServer, type HttpServer } from './http-helpers.js';

let t: HttpServer;
before(async () => {
  t = await startHttpServer();
});
after(() => t.close());

const call = (method: string, path: string, init?: Parameters<HttpServer['request']>[2]) => t.request(method, path, init);

const READ = ['application/json', 'application/xml'];
const COLLECTION = ['application/json', 'application/xml', 'text/csv'];
const REPLACE = ['application/json', 'application/xml', 'application/x-www-form-urlencoded'];
const PATCH = ['application/merge-patch+json', 'application/json', 'application/xml'];
const TRANSITION = ['application/merge-patch+json', 'application/json'];

interface Link {
  rel: string;
  href: string;
  action: string;
  types: string[];
  body?: Record<string, unknown>;
}

async function newOrder(clientId = 3, restaurantId = 5): Promise<number> {
  const res = await call('POST', '/v1/orders', { json: { clientId, restaurantId, orderValue: 20 } });
  assert.equal(res.status, 201);
  return (res.body as { id: number }).id;
}

function orderLinks(id: number, transitions: string[], clientId = 3, restaurantId = 5): Link[] {
  const self = `${t.url}/v1/orders/${id}`;
  return [
    { rel: 'self', href: self, action: 'GET', types: READ },
    { rel: 'self', href: self, action: 'PUT', types: REPLACE },
    { rel: 'self', href: self, action: 'PATCH', types: PATCH },
    { rel: 'self', href: self, action: 'DELETE', types: [] },
    ...transitions.map((s) => ({ rel: `state:${s}`, href: self, action: 'PATCH', types: TRANSITION, body: { state: s } })),
    { rel: 'client', href: `${t.url}/v1/clients/${clientId}`, action: 'GET', types: READ },
    { rel: 'restaurant', href: `${t.url}/v1/restaurants/${restaurantId}`, action: 'GET', types: READ },
  ];
}

describe('state machines', () => {
  test('a move that is not listed is 409 invalid_transition naming the allowed states', async () => {
    const id = await newOrder();
    const res = await call('PATCH', `/v1/orders/${id}`, { json: { state: 'paid' } });
    assert.equal(res.status, 409);
    assert.deepEqual(res.body, {
      error: 'invalid_transition',
      error_description: "Cannot move state from 'placed' to 'paid'; allowed next states: 'preparing', 'cancelled'",
      error_uri: `${t.url}/docs/errors#invalid_transition`,
      allowed: ['preparing', 'cancelled'],
    });
    assert.equal((await call('PATCH', `/v1/orders/${id}`, { json: { state: 'preparing' } })).status, 200);
    const back = await call('PATCH', `/v1/orders/${id}`, { json: { state: 'placed' } });
    assert.equal(back.status, 409);
    assert.deepEqual((back.body as { allowed: string[] }).allowed, ['ready']);
    const put = await call('PUT', `/v1/orders/${id}`, { json: { clientId: 3, restaurantId: 5, state: 'served' } });
    assert.equal(put.status, 409, 'PUT goes through the same machine');
    const born = await call('POST', '/v1/orders', { json: { clientId: 3, restaurantId: 5, state: 'ready' } });
    assert.equal(born.status, 409);
    assert.deepEqual((born.body as { allowed: string[] }).allowed, ['placed']);
  });
});

describe('links (seed 003 format)', () => {
  test('an item lists what the caller may do: self actions, open transitions, relations', async () => {
    const id = await newOrder();
    const res = await call('GET', `/v1/orders/${id}`);
    assert.deepEqual((res.body as { links: Link[] }).links, orderLinks(id, ['preparing', 'cancelled']));
    await call('PATCH', `/v1/orders/${id}`, { json: { state: 'preparing' } });
    const next = await call('GET', `/v1/orders/${id}`);
    assert.deepEqual((next.body as { links: Link[] }).links, orderLinks(id, ['ready']));
    const cancelled = await newOrder();
    await call('PATCH', `/v1/orders/${cancelled}`, { json: { state: 'cancelled' } });
    assert.deepEqual(((await call('GET', `/v1/orders/${cancelled}`)).body as { links: Link[] }).links, orderLinks(cancelled, []), 'a final state opens nothing');
  });

  test('the same links as an RFC 8288 Link header', async () => {
    const id = await newOrder();
    const res = await call('GET', `/v1/orders/${id}`);
    const self = `<${t.url}/v1/orders/${id}>`;
    assert.equal(
      res.headers.get('link'),
      [
        `${self}; rel="self"; method="GET"`,
        `${self}; rel="self"; method="PUT"`,
        `${self}; rel="self"; method="PATCH"`,
        `${self}; rel="self"; method="DELETE"`,
        `${self}; rel="state:preparing"; method="PATCH"`,
        `${self}; rel="state:cancelled"; method="PATCH"`,
        `<${t.url}/v1/clients/3>; rel="client"; method="GET"`,
        `<${t.url}/v1/restaurants/5>; rel="restaurant"; method="GET"`,
      ].join(', '),
    );
    const created = await call('POST', '/v1/orders', { json: { clientId: 3, restaurantId: 5 } });
    assert.equal(created.headers.get('link'), res.headers.get('link')?.replaceAll(`/orders/${id}>`, `/orders/${(created.body as { id: number }).id}>`), 'writes answer with the links too');
  });

  test('following a transition link performs it', async () => {
    const id = await newOrder();
    const links = ((await call('GET', `/v1/orders/${id}`)).body as { links: Link[] }).links;
    const link = links.find((l) => l.rel === 'state:preparing') as Link;
    const res = await t.request(link.action, link.href.slice(t.url.length), { json: link.body, headers: { 'content-type': link.types[0] as string } });
    assert.equal(res.status, 200);
    assert.equal((res.body as { state: string }).state, 'preparing');
  });

  test('fields can leave links out or ask for them; collection items carry only self unless asked', async () => {
    const id = await newOrder();
    assert.deepEqual((await call('GET', `/v1/orders/${id}?fields=state`)).body, { id, state: 'placed' });
    assert.equal((await call('GET', `/v1/orders/${id}?fields=state`)).headers.get('link'), null);
    assert.deepEqual((await call('GET', `/v1/orders/${id}?fields=state,links`)).body, { id, state: 'placed', links: orderLinks(id, ['preparing', 'cancelled']) });
    const page = (await call('GET', `/v1/orders?id=${id}`)).body as { id: number; links: Link[] }[];
    assert.deepEqual(page[0]?.links, [{ rel: 'self', href: `${t.url}/v1/orders/${id}`, action: 'GET', types: READ }]);
    assert.deepEqual((await call('GET', `/v1/orders?id=${id}&fields=state`)).body, [{ id, state: 'placed' }]);
    const full = (await call('GET', `/v1/orders?id=${id}&fields=state,links`)).body as { links: Link[] }[];
    assert.deepEqual(full[0]?.links, orderLinks(id, ['preparing', 'cancelled']));
  });

  test('to-many relations, blobs and item actions are linked', async () => {
    const res = await call('GET', '/v1/restaurants/7');
    const self = `${t.url}/v1/restaurants/7`;
    assert.deepEqual((res.body as { links: Link[] }).links, [
      { rel: 'self', href: self, action: 'GET', types: READ },
      { rel: 'self', href: self, action: 'PUT', types: REPLACE },
      { rel: 'self', href: self, action: 'PATCH', types: PATCH },
      { rel: 'self', href: self, action: 'DELETE', types: [] },
      { rel: 'dishes', href: `${self}/dishes`, action: 'GET', types: COLLECTION },
      { rel: 'orders', href: `${self}/orders`, action: 'GET', types: COLLECTION },
      { rel: 'photo', href: `${self}/photo`, action: 'PUT', types: ['image/jpeg', 'image/png'] },
    ]);
  });
});

describe('links follow the access rules', () => {
  const schema: ApiSpec = {
    api: { name: 'Rules' },
    resources: {
      boards: { access: { read: 'public', write: 'none' }, required: ['title'], fields: { title: { type: 'string' } } },
      cards: {
        access: { read: 'public', create: 'authenticated', update: 'owner:owner', delete: 'none' },
        fields: {
          owner: { type: 'string' },
          boardId: { type: 'integer', references: 'boards' },
          status: { type: 'string', enum: ['todo', 'done'], default: 'todo', transitions: { todo: ['done'] } },
        },
        actions: { archive: { access: 'authenticated', handler: () => true } },
      },
    },
  };
  let r: HttpServer;
  before(async () => {
    r = await startHttpServer({ schema, principals: true });
    await r.server.store.transaction(async (tx) => {
      await tx.insert('boards', { title: 'Read-only board' });
      await tx.insert('cards', { owner: 'alice', boardId: 1, status: 'todo' });
    });
  });
  after(() => r.close());

  test('a read-only resource links only what may be read', async () => {
    const res = await r.request('GET', '/v1/boards/1');
    assert.deepEqual((res.body as { links: Link[] }).links, [
      { rel: 'self', href: `${r.url}/v1/boards/1`, action: 'GET', types: READ },
      { rel: 'cards', href: `${r.url}/v1/boards/1/cards`, action: 'GET', types: COLLECTION },
    ]);
  });

  test("the owner may change a card (and move it); someone else and anonymous callers may only read it", async () => {
    const self = `${r.url}/v1/cards/1`;
    const readOnly: Link[] = [
      { rel: 'self', href: self, action: 'GET', types: READ },
      { rel: 'board', href: `${r.url}/v1/boards/1`, action: 'GET', types: READ },
    ];
    const anonymous = await r.request('GET', '/v1/cards/1', { anonymous: true });
    assert.deepEqual((anonymous.body as { links: Link[] }).links, readOnly);
    const bob = await r.request('GET', '/v1/cards/1', { headers: { 'x-test-subject': 'bob' } });
    assert.deepEqual((bob.body as { links: Link[] }).links, [...readOnly, { rel: 'archive', href: `${self}/archive`, action: 'POST', types: ['application/json'] }]);
    const alice = await r.request('GET', '/v1/cards/1', { headers: { 'x-test-subject': 'alice' } });
    assert.deepEqual((alice.body as { links: Link[] }).links, [
      { rel: 'self', href: self, action: 'GET', types: READ },
      { rel: 'self', href: self, action: 'PUT', types: REPLACE },
      { rel: 'self', href: self, action: 'PATCH', types: PATCH },
      { rel: 'state:done', href: self, action: 'PATCH', types: TRANSITION, body: { status: 'done' } },
      { rel: 'board', href: `${r.url}/v1/boards/1`, action: 'GET', types: READ },
      { rel: 'archive', href: `${self}/archive`, action: 'POST', types: ['application/json'] },
    ]);
  });
});
