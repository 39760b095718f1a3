/**
 * GraphQL subscriptions over graphql-ws at /v1/graphql (SPEC §6, §7), with the real
 * `graphql-ws` client: an event per committed change, filters and event types, relations
 * on the event's item, `after` resume, authentication by connectionParams (a bad token is
 * refused with 4403), owner rules (another principal's rows never arrive), the limits,
 * request errors with extensions.code, and the SDL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildSchema, GraphQLNonNull, GraphQLObjectType, type ExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { WebSocket } from 'ws';
import type { ApiSpec } from '../src/schema/types.js';
import { waitUntil } from './events-helpers.js';
import { startServer, type TestServer } from './helpers.js';

type Result = ExecutionResult<Record<string, Record<string, unknown>>, Record<string, unknown>>;

interface Connection {
  readonly client: Client;
  /** Close events the client saw. */
  readonly closes: { code: number; reason: string }[];
}

function connect(t: TestServer, connectionParams?: Record<string, unknown>): Connection {
  const closes: { code: number; reason: string }[] = [];
  const client = createClient({
    url: `${t.url.replace(/^http/, 'ws')}/v1/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    ...(connectionParams ? { connectionParams } : {}),
    on: {
      closed: (event) => {
        const e = event as { code: number; reason: string };
        closes.push({ code: e.code, reason: String(e.reason) });
      },
    },
  });
  return { client, closes };
}

/** Subscribes; results are awaited one by one. */
function subscribe(c: Connection, query: string, variables?: Record<string, unknown>): { next(): Promise<Result>; stop(): Promise<void> } {
  const iterator = c.client.iterate<Record<string, Record<string, unknown>>, Record<string, unknown>>({ query, ...(variables ? { variables } : {}) });
  return {
    async next() {
      const step = await iterator.next();
      if (step.done) throw new Error('the subscription completed');
      return step.value as Result;
    },
    async stop() {
      await iterator.return?.();
    },
  };
}

/** Resolves once the hub holds `n` subscriptions: what the server accepted is live. */
function subscriptionsLive(t: TestServer, n: number): Promise<void> {
  return waitUntil(() => t.server.events.stats().subscriptions >= n, `${n} subscriptions are live`);
}

/** Closes the clients and waits until the server has dropped their subscriptions. */
async function dispose(t: TestServer, ...connections: Connection[]): Promise<void> {
  for (const c of connections) await c.client.dispose();
  await waitUntil(() => t.server.events.stats().subscriptions === 0, 'the closed sockets\' subscriptions are gone');
}

/** A hang fails the test instead of the run. */
const LIMIT = { timeout: 60_000 };

const ORDER_EVENT = 'id type resource resourceId occurredAt changes data { id state orderValue clientId }';

describe('GraphQL subscriptions over graphql-ws (demo)', () => {
  let t: TestServer;
  before(async () => {
    t = await startServer();
  });
  after(() => t.close());

  test('subscribe, write through REST, receive the events in SPEC §7 shape', LIMIT, async () => {
    const c = connect(t, { authorization: `Bearer ${t.token}` });
    const sub = subscribe(c, `subscription { ordersChanged { ${ORDER_EVENT} } }`);
    await subscriptionsLive(t, 1);
    const created = await t.post('/v1/orders', { clientId: 1, restaurantId: 2, orderValue: 12.5 });
    assert.equal(created.status, 201);
    const order = created.body as { id: number };
    const first = await sub.next();
    assert.equal(first.errors, undefined);
    const event = first.data?.ordersChanged as Record<string, unknown>;
    assert.match(String(event.id), /^evt_[0-9a-z]{11}$/);
    assert.match(String(event.occurredAt), /^\d{4}-\d{2}-\d{2}T/);
    assert.equal(event.type, 'orders.created');
    assert.equal(event.resource, 'orders');
    assert.equal(event.resourceId, String(order.id));
    assert.deepEqual(event.data, { id: String(order.id), state: 'placed', orderValue: 12.5, clientId: 1 });
    assert.ok((event.changes as string[]).includes('orderValue'));
    // The state event follows the change event (SPEC §7: `orders.placed`).
    assert.equal(((await sub.next()).data?.ordersChanged as Record<string, unknown>).type, 'orders.placed');
    assert.equal((await t.request('PATCH', `/v1/orders/${order.id}`, { body: { state: 'preparing' } })).status, 200);
    const updated = (await sub.next()).data?.ordersChanged as Record<string, unknown>;
    assert.equal(updated.type, 'orders.updated');
    assert.deepEqual(updated.changes, ['state']);
    assert.equal(((await sub.next()).data?.ordersChanged as Record<string, unknown>).type, 'orders.preparing');
    await sub.stop();
    await waitUntil(() => t.server.events.stats().subscriptions === 0, 'the subscription is gone once completed');
    await dispose(t, c);
  });

  test('filters and event types narrow what arrives; relations of the item are resolved', LIMIT, async () => {
    const c = connect(t, { authorization: `Bearer ${t.token}` });
    const ready = subscribe(c, `subscription($types: [String!]) { ordersChanged(filter: {clientId: [2]}, types: $types) { type data { id clientId client { id } } } }`, { types: ['orders.ready'] });
    const big = subscribe(c, 'subscription { ordersChanged(filter: {orderValue_gte: 100}, types: ["orders.created"]) { type data { orderValue } } }');
    await subscriptionsLive(t, 2);
    const small = (await t.post('/v1/orders', { clientId: 1, restaurantId: 1, orderValue: 5 })).body as { id: number };
    const mine = (await t.post('/v1/orders', { clientId: 2, restaurantId: 1, orderValue: 150 })).body as { id: number };
    for (const id of [small.id, mine.id]) {
      for (const state of ['preparing', 'ready']) assert.equal((await t.request('PATCH', `/v1/orders/${id}`, { body: { state } })).status, 200);
    }
    const r = await ready.next();
    assert.equal(r.errors, undefined);
    assert.deepEqual(r.data?.ordersChanged, { type: 'orders.ready', data: { id: String(mine.id), clientId: 2, client: { id: '2' } } });
    assert.deepEqual((await big.next()).data?.ordersChanged, { type: 'orders.created', data: { orderValue: 150 } });
    // Nothing else matched: a later matching change is the very next result.
    const another = (await t.post('/v1/orders', { clientId: 3, restaurantId: 1, orderValue: 300 })).body as { id: number };
    assert.ok(another.id > mine.id);
    assert.deepEqual((await big.next()).data?.ordersChanged, { type: 'orders.created', data: { orderValue: 300 } });
    await dispose(t, c);
  });

  test('after resumes from an event id: what was committed meanwhile is replayed, then live events follow', LIMIT, async () => {
    const c = connect(t, { authorization: `Bearer ${t.token}` });
    const first = subscribe(c, 'subscription { restaurantsChanged(types: ["restaurants.created"]) { id data { name } } }');
    await subscriptionsLive(t, 1);
    await t.post('/v1/restaurants', { name: 'Chez A', type: 'french' });
    const seen = (await first.next()).data?.restaurantsChanged as { id: string };
    await first.stop();
    // Offline: two more restaurants.
    await t.post('/v1/restaurants', { name: 'Chez B', type: 'french' });
    await t.post('/v1/restaurants', { name: 'Chez C', type: 'french' });
    const resumed = subscribe(c, 'subscription($after: String) { restaurantsChanged(types: ["restaurants.created"], after: $after) { data { name } } }', { after: seen.id });
    assert.deepEqual((await resumed.next()).data?.restaurantsChanged, { data: { name: 'Chez B' } });
    assert.deepEqual((await resumed.next()).data?.restaurantsChanged, { data: { name: 'Chez C' } });
    await t.post('/v1/restaurants', { name: 'Chez D', type: 'french' });
    assert.deepEqual((await resumed.next()).data?.restaurantsChanged, { data: { name: 'Chez D' } });
    await dispose(t, c);
  });

  test('a bad cursor, a bad event type: the subscription answers an error with extensions.code', LIMIT, async () => {
    const c = connect(t);
    const bad = subscribe(c, 'subscription { ordersChanged(after: "nonsense") { id } }');
    const r = await bad.next();
    assert.equal(r.data, undefined);
    assert.equal(r.errors?.[0]?.extensions?.code, 'invalid_request');
    assert.equal(r.errors?.[0]?.extensions?.status, 400);
    const wrong = await subscribe(c, 'subscription { ordersChanged(types: ["restaurants.created"]) { id } }').next();
    assert.equal(wrong.errors?.[0]?.extensions?.code, 'invalid_request');
    await dispose(t, c);
  });

  test('request errors (validation, depth/cost limits) are `error` messages with extensions.code', LIMIT, async () => {
    const c = connect(t);
    await assert.rejects(subscribe(c, 'subscription { ordersChanged { nope } }').next(), (errors: unknown) => {
      const list = errors as { message: string; extensions: { code: string } }[];
      assert.equal(list[0]?.extensions.code, 'invalid_request');
      assert.match(list[0]?.message ?? '', /nope/);
      return true;
    });
    // Deeper than the limit (the default depth is 12): 15 levels.
    const deep = 'subscription { ordersChanged { data { client { orders { items { client { orders { items { client { orders { items { client { orders { items { id } } } } } } } } } } } } } } }';
    await assert.rejects(subscribe(c, deep).next(), (errors: unknown) => {
      const list = errors as { extensions: { code: string; limit: number; actual: number } }[];
      assert.equal(list[0]?.extensions.code, 'query_too_complex');
      assert.equal(list[0]?.extensions.limit, 12);
      assert.equal(list[0]?.extensions.actual, 15);
      return true;
    });
    await dispose(t, c);
  });

  test('queries and mutations also run over the socket, through the same service', LIMIT, async () => {
    const c = connect(t, { authorization: `Bearer ${t.token}` });
    const q = await subscribe(c, '{ restaurant(id: 1) { id } }').next();
    assert.deepEqual(q.data, { restaurant: { id: '1' } });
    const m = await subscribe(c, 'mutation { createClient(input: {name: "Socket", email: "socket@example.com"}) { name } }').next();
    assert.equal(m.errors, undefined, JSON.stringify(m.errors));
    assert.deepEqual(m.data, { createClient: { name: 'Socket' } });
    // Anonymous writes are refused as over HTTP.
    const anon = connect(t);
    const refused = await subscribe(anon, 'mutation { createClient(input: {name: "Nobody", email: "n@example.com"}) { name } }').next();
    assert.equal(refused.errors?.[0]?.extensions?.code, 'no_credentials');
    await dispose(t, anon, c);
  });

  test('a bad token in connectionParams closes the connection with 4403; no subscription is made', LIMIT, async () => {
    const c = connect(t, { authorization: 'Bearer not-a-token' });
    await assert.rejects(subscribe(c, 'subscription { ordersChanged { id } }').next(), (e: unknown) => {
      assert.equal((e as { code: number }).code, 4403);
      return true;
    });
    assert.equal(c.closes[0]?.code, 4403);
    assert.match(c.closes[0]?.reason ?? '', /^invalid_token/);
    assert.equal(t.server.events.stats().subscriptions, 0);
    const typed = connect(t, { authorization: 42 });
    await assert.rejects(subscribe(typed, 'subscription { ordersChanged { id } }').next(), (e: unknown) => (e as { code: number }).code === 4403);
    await dispose(t, c, typed);
  });

  test('the upgrade needs the graphql-transport-ws subprotocol (4406 otherwise)', LIMIT, async () => {
    const socket = new WebSocket(`${t.url.replace(/^http/, 'ws')}/v1/graphql`, 'something-else');
    const code = await new Promise<number>((resolve) => socket.once('close', (closeCode: number) => resolve(closeCode)));
    assert.equal(code, 4406);
  });

  test('the SDL declares the Subscription type, valid under buildSchema', LIMIT, async () => {
    const res = await t.get('/v1/graphql/schema.graphql');
    assert.equal(res.status, 200);
    const schema = buildSchema(res.text);
    const subscription = schema.getSubscriptionType();
    assert.ok(subscription);
    const field = subscription.getFields().ordersChanged;
    assert.ok(field);
    assert.deepEqual(field.args.map((a) => `${a.name}: ${String(a.type)}`), ['filter: OrderFilter', 'types: [String!]', 'after: String']);
    assert.equal(String(field.type), 'OrderEvent!');
    const event = schema.getType('OrderEvent') as GraphQLObjectType;
    assert.deepEqual(Object.keys(event.getFields()), ['id', 'type', 'resource', 'resourceId', 'occurredAt', 'changes', 'data']);
    assert.ok(event.getFields().data?.type instanceof GraphQLNonNull);
    for (const name of ['restaurantsChanged', 'dishesChanged', 'clientsChanged']) assert.ok(subscription.getFields()[name], name);
    // Over HTTP a subscription is refused with a clear error.
    const http = await t.post('/v1/graphql', { query: 'subscription { ordersChanged { id } }' });
    assert.equal(http.status, 200);
    assert.match(JSON.stringify(http.body), /WebSocket \(graphql-ws\)/);
  });
});

const guarded: ApiSpec = {
  api: { name: 'Guarded' },
  resources: {
    notes: { access: { read: 'authenticated', write: 'public' }, fields: { text: { type: 'string' } } },
    tickets: {
      access: { read: 'owner:ownerId', create: 'public', update: 'public', delete: 'public' },
      fields: { ownerId: { type: 'string' }, title: { type: 'string' } },
    },
  },
};

describe('GraphQL subscriptions and access rules', () => {
  let t: TestServer;
  before(async () => {
    t = await startServer({ schema: guarded });
  });
  after(() => t.close());

  test("another principal's rows are never delivered (owner rule)", LIMIT, async () => {
    const alice = connect(t, { authorization: `Bearer ${await t.mintToken('alice', [])}` });
    const bob = connect(t, { authorization: `Bearer ${await t.mintToken('bob', [])}` });
    const aliceSub = subscribe(alice, 'subscription { ticketsChanged(types: ["tickets.created"]) { data { ownerId title } } }');
    const bobSub = subscribe(bob, 'subscription { ticketsChanged(types: ["tickets.created"]) { data { ownerId title } } }');
    await subscriptionsLive(t, 2);
    for (const [owner, title] of [['alice', 'a1'], ['bob', 'b1'], ['alice', 'a2'], ['bob', 'b2']]) {
      assert.equal((await t.request('POST', '/v1/tickets', { body: { ownerId: owner, title }, anonymous: true })).status, 201);
    }
    const got = async (s: ReturnType<typeof subscribe>) => ((await s.next()).data?.ticketsChanged as { data: unknown }).data;
    assert.deepEqual(await got(aliceSub), { ownerId: 'alice', title: 'a1' });
    assert.deepEqual(await got(aliceSub), { ownerId: 'alice', title: 'a2' });
    assert.deepEqual(await got(bobSub), { ownerId: 'bob', title: 'b1' });
    assert.deepEqual(await got(bobSub), { ownerId: 'bob', title: 'b2' });
    // Replaying the whole log for bob shows his rows only.
    const replay = subscribe(bob, 'subscription { ticketsChanged(after: "evt_00000000000", types: ["tickets.created"]) { data { title } } }');
    const replayed = [await replay.next(), await replay.next()].map((r) => (r.data?.ticketsChanged as { data: { title: string } }).data.title);
    assert.deepEqual(replayed, ['b1', 'b2']);
    await dispose(t, alice, bob);
  });

  test('an anonymous connection may not subscribe to what needs authentication; the token makes it work', LIMIT, async () => {
    const anon = connect(t);
    const refused = await subscribe(anon, 'subscription { notesChanged { id } }').next();
    assert.equal(refused.errors?.[0]?.extensions?.code, 'no_credentials');
    assert.equal(refused.errors?.[0]?.extensions?.status, 401);
    await dispose(t, anon);
    // The upgrade request's own token (access_token in the query, for browsers) works too.
    const token = await t.mintToken('carol', []);
    const viaQuery = createClient({ url: `${t.url.replace(/^http/, 'ws')}/v1/graphql?access_token=${token}`, webSocketImpl: WebSocket, retryAttempts: 0 });
    const iterator = viaQuery.iterate({ query: 'subscription { notesChanged { data { text } } }' });
    await subscriptionsLive(t, 1);
    await t.request('POST', '/v1/notes', { body: { text: 'hello' }, anonymous: true });
    const step = await iterator.next();
    assert.deepEqual((step.value as Result).data?.notesChanged, { data: { text: 'hello' } });
    await viaQuery.dispose();
    await waitUntil(() => t.server.events.stats().subscriptions === 0, 'the subscription is gone');
  });
});

describe('GraphQL subscriptions and slow readers', () => {
  test('a reader too slow for events.bufferBytes is closed with 1008', { timeout: 120_000 }, async () => {
    const spec: ApiSpec = { api: { name: 'Big' }, resources: { pages: { access: 'public', fields: { text: { type: 'string' } } } } };
    const t = await startServer({ schema: spec, config: { events: { bufferBytes: 64 * 1024 } } });
    const socket = new WebSocket(`${t.url.replace(/^http/, 'ws')}/v1/graphql`, 'graphql-transport-ws');
    try {
      const inbox: string[] = [];
      let arrived: () => void = () => undefined;
      socket.on('message', (data) => {
        inbox.push(String(data));
        arrived();
      });
      const closed = new Promise<number>((resolve) => socket.once('close', (code: number) => resolve(code)));
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(JSON.stringify({ type: 'connection_init' }));
      while (inbox.length === 0) await new Promise<void>((resolve) => (arrived = resolve));
      assert.deepEqual(JSON.parse(inbox[0] as string), { type: 'connection_ack' });
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { pagesChanged { data { text } } }' } }));
      await subscriptionsLive(t, 1);
      // Stop reading: the kernel's buffers fill, then the server's.
      (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
      const text = 'x'.repeat(100_000);
      for (let i = 0; i < 2000 && t.server.events.stats().slowConsumersClosed === 0; i++) {
        assert.equal((await t.post('/v1/pages', { text })).status, 201);
        await new Promise((r) => setImmediate(r));
      }
      assert.equal(t.server.events.stats().slowConsumersClosed, 1);
      (socket as unknown as { _socket: { resume(): void } })._socket.resume();
      assert.equal(await closed, 1008);
      assert.ok(inbox.length > 1, 'some events were delivered before the bound');
      await waitUntil(() => t.server.events.stats().subscriptions === 0, 'the subscription ended with the socket');
    } finally {
      socket.terminate();
      await t.close();
    }
  });
});
