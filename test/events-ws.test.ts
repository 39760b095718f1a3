/**
 * WebSockets at /v1/ws (SPEC §7): subscribe/subscribed/event/unsubscribe with the REST
 * filter model, `after` resume with no gap, access rules, errors, per-connection limits,
 * heartbeats, a slow consumer closed with 1008, and JSON-RPC over the same socket.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fastifyWebsocket from '@fastify/websocket';
import Fastify from 'fastify';
import { resolveConfig } from '../src/config/config.js';
import { EventHub } from '../src/events/hub.js';
import type { CarteEvent } from '../src/events/types.js';
import { wsPlugin, type RpcDispatch } from '../src/protocols/ws/plugin.js';
import { DEFAULT_QUERY_LIMITS } from '../src/query/types.js';
import { loadSchemaObject } from '../src/schema/load.js';
import type { ApiSpec } from '../src/schema/types.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { connectWs, waitUntil, type WsClient } from './events-helpers.js';
import { startServer, withoutLinks, type TestServer } from './helpers.js';

type EventMessage = { type: 'event'; subscription: string; event: CarteEvent };

function patch(t: TestServer, url: string, body: unknown) {
  return t.request('PATCH', url, { body });
}

async function subscribe(ws: WsClient, message: Record<string, unknown>): Promise<void> {
  ws.send({ type: 'subscribe', ...message });
  assert.deepEqual(await ws.next(), { type: 'subscribed', id: message.id });
}

describe('subscriptions', () => {
  let t: TestServer;
  before(async () => {
    t = await startServer();
  });
  after(() => t.close());

  test('subscribe → subscribed, then one event message per change, in SPEC §7 shape', async () => {
    const ws = await connectWs(t.url);
    await subscribe(ws, { id: 's1', resource: 'orders' });
    const created = (await t.post('/v1/orders', { clientId: 1, restaurantId: 2 })).body as { id: number; createdAt: string; updatedAt: string };
    const first = (await ws.next()) as EventMessage;
    const second = (await ws.next()) as EventMessage;
    assert.equal(first.type, 'event');
    assert.equal(first.subscription, 's1');
    const { id, occurredAt, ...rest } = first.event;
    assert.match(id, /^evt_[0-9a-z]{11}$/);
    assert.match(occurredAt, /^\d{4}-\d{2}-\d{2}T/);
    assert.deepEqual(rest, {
      type: 'orders.created',
      resource: 'orders',
      resourceId: String(created.id),
      data: { ...withoutLinks(created), changes: ['clientId', 'restaurantId', 'state', 'orderValue', 'items', 'createdAt', 'updatedAt'] },
    });
    assert.equal(second.event.type, 'orders.placed');
    // The same events as the feed shows.
    const feed = (await t.get(`/v1/events?after=${first.event.id}&limit=1`)).body as CarteEvent[];
    assert.deepEqual(feed, [second.event]);
    assert.equal(t.server.events.stats().openWebSockets, 1);
    await ws.close();
    await waitUntil(() => t.server.events.stats().openWebSockets === 0, 'the socket is forgotten');
  });

  test('filters in the REST filter model and event types narrow a subscription', async () => {
    const ws = await connectWs(t.url);
    await subscribe(ws, { id: 'ready', resource: 'orders', filter: { state: ['ready'] } });
    await subscribe(ws, { id: 'big', resource: 'orders', types: ['orders.created'], filter: { orderValue: { gte: 50 } } });
    const small = (await t.post('/v1/orders', { clientId: 1, restaurantId: 1, orderValue: 10 })).body as { id: number };
    const big = (await t.post('/v1/orders', { clientId: 1, restaurantId: 1, orderValue: 90 })).body as { id: number };
    await patch(t, `/v1/orders/${small.id}`, { state: 'preparing' });
    await patch(t, `/v1/orders/${small.id}`, { state: 'ready' });
    const messages = (await ws.until((m) => m.subscription === 'ready' && (m as EventMessage).event.type === 'orders.ready')) as EventMessage[];
    assert.deepEqual(
      messages.map((m) => [m.subscription, m.event.type, m.event.resourceId]),
      [
        ['big', 'orders.created', String(big.id)],
        ['ready', 'orders.updated', String(small.id)],
        ['ready', 'orders.ready', String(small.id)],
      ],
    );
    await ws.close();
  });

  test('unsubscribe stops a subscription and answers unsubscribed', async () => {
    const ws = await connectWs(t.url);
    await subscribe(ws, { id: 'a', resource: 'clients' });
    await subscribe(ws, { id: 'b', resource: 'clients' });
    ws.send({ type: 'unsubscribe', id: 'a' });
    assert.deepEqual(await ws.next(), { type: 'unsubscribed', id: 'a' });
    await t.post('/v1/clients', { name: 'Only b', email: 'onlyb@example.com' });
    // Subscriptions hear an event in the order they were made: a's would come first.
    const next = (await ws.next()) as EventMessage;
    assert.equal(next.subscription, 'b');
    await ws.close();
  });

  test('after resumes from a cursor: every event since, in order, no gap and no duplicate, while writes go on', async () => {
    const cursor = (/after=(evt_[0-9a-z]{11})/.exec((await t.get('/v1/events?after=now')).headers.get('link') ?? '') as RegExpExecArray)[1] as string;
    // A backlog longer than one replay page.
    const restaurant = (await t.post('/v1/restaurants', { name: 'Backlog', type: 'thai' })).body as { id: number };
    for (let i = 0; i < 120; i++) await t.post('/v1/dishes', { restaurantId: restaurant.id, name: `Dish ${i}`, price: i });
    const ws = await connectWs(t.url);
    ws.send({ type: 'subscribe', id: 'resume', resource: 'dishes', after: cursor });
    // Writes racing the replay.
    const racing = (async () => {
      for (let i = 120; i < 160; i++) await t.post('/v1/dishes', { restaurantId: restaurant.id, name: `Dish ${i}`, price: i });
    })();
    const subscribed = await ws.next();
    assert.deepEqual(subscribed, { type: 'subscribed', id: 'resume' });
    const received: EventMessage[] = [];
    while (received.length < 160) received.push((await ws.next()) as EventMessage);
    await racing;
    const names = received.map((m) => m.event.data.name);
    assert.deepEqual(names, Array.from({ length: 160 }, (_, i) => `Dish ${i}`));
    const ids = received.map((m) => m.event.id);
    assert.deepEqual(ids, [...ids].sort());
    assert.equal(new Set(ids).size, 160);
    await ws.close();
  });

  test('a resource whose read rule the subscriber fails is refused with the rule’s error', async () => {
    const guarded = await startServer({
      schema: { api: { name: 'G' }, resources: { notes: { access: { read: 'authenticated', write: 'public' }, fields: { text: { type: 'string' } } } } },
    });
    try {
      const ws = await connectWs(guarded.url);
      ws.send({ type: 'subscribe', id: 'n', resource: 'notes' });
      const error = await ws.next();
      assert.equal(error.type, 'error');
      assert.equal(error.id, 'n');
      assert.equal(error.error, 'no_credentials');
      assert.equal(error.status, 401);
      await ws.close();
    } finally {
      await guarded.close();
    }
  });

  test('mistakes answer error messages in the error format and keep the socket open', async () => {
    const ws = await connectWs(t.url);
    const ask = async (message: unknown) => {
      ws.send(message);
      return ws.next();
    };
    const malformed = await ask('{not json');
    assert.deepEqual(Object.keys(malformed), ['type', 'error', 'error_description', 'error_uri', 'status']);
    assert.deepEqual([malformed.type, malformed.error, malformed.error_uri, malformed.status], ['error', 'invalid_body', `${t.url}/docs/errors#invalid_body`, 400]);
    assert.match(String(malformed.error_description), /^The message is not valid JSON: .*position 1/);
    assert.equal((await ask({ type: 'dance' })).error_description, 'Unknown message type "dance": use subscribe, unsubscribe or ping.');
    assert.equal((await ask({ type: 'subscribe' })).error_description, 'A subscription needs an id: a string of 1 to 100 characters, chosen by the client (e.g. "s1").');
    const unknownField = await ask({ type: 'subscribe', id: 'x', resource: 'orders', filter: { payed: true } });
    assert.deepEqual([unknownField.id, unknownField.error, unknownField.error_description], ['x', 'invalid_request', "There is no 'payed' property on orders."]);
    assert.equal((await ask({ type: 'subscribe', id: 'x', resource: 'tables' })).error_description, "There is no resource 'tables'; events come from restaurants, dishes, clients, orders.");
    assert.equal((await ask({ type: 'subscribe', id: 'x', resource: 'orders', after: 'nope' })).error, 'invalid_request');
    assert.equal((await ask({ type: 'unsubscribe', id: 'zz' })).error_description, "There is no subscription 'zz' on this socket.");
    await subscribe(ws, { id: 'dup', resource: 'orders' });
    assert.equal((await ask({ type: 'subscribe', id: 'dup', resource: 'orders' })).error_description, "A subscription 'dup' is already open on this socket; unsubscribe first or choose another id.");
    assert.deepEqual(await ask({ type: 'ping' }), { type: 'pong' });
    await ws.close();
  });

  test('JSON-RPC messages on the socket go through the same dispatcher as POST /v1/rpc; notifications get no answer', async () => {
    const ws = await connectWs(t.url);
    ws.send({ jsonrpc: '2.0', method: 'calculator.sum', params: [1, 2, 3, 5, 8, 13, 21], id: 7 });
    assert.deepEqual(await ws.next(), { jsonrpc: '2.0', result: 53, id: 7 });
    ws.send({ jsonrpc: '2.0', method: 'restaurants.get', params: { id: 1, fields: 'name' }, id: 8 });
    const viaRest = (await t.get('/v1/restaurants/1?fields=name')).body as { name: string };
    assert.deepEqual(await ws.next(), { jsonrpc: '2.0', result: { id: 1, name: viaRest.name }, id: 8 });
    ws.send({ jsonrpc: '2.0', method: 'nothing.here', id: 9 });
    const unknown = (await ws.next()) as unknown as { id: number; error: { code: number } };
    assert.equal(unknown.id, 9);
    assert.equal(unknown.error.code, -32601);
    ws.send({ jsonrpc: '2.0', method: 'calculator.sum', params: [1] });
    ws.send([{ jsonrpc: '2.0', method: 'calculator.sum', params: [2, 2], id: 1 }, { jsonrpc: '2.0', method: 'calculator.sum', params: [3] }]);
    const batch = (await ws.next()) as unknown as { id: number; result: number }[];
    assert.deepEqual(batch, [{ jsonrpc: '2.0', result: 4, id: 1 }], 'the notification got no answer, the batch one per call');
    await ws.close();
  });

  test('a plain GET on /v1/ws answers 426 Upgrade Required', async () => {
    const res = await t.get('/v1/ws');
    assert.equal(res.status, 426);
    assert.equal(res.headers.get('upgrade'), 'websocket');
    assert.deepEqual(res.body, {
      error: 'upgrade_required',
      error_description: '/v1/ws speaks WebSocket: connect with a WebSocket client (ws://… or wss://…)',
      error_uri: `${t.url}/docs/errors#upgrade_required`,
    });
  });

  test('closing the server closes sockets with 1001', async () => {
    const t2 = await startServer();
    const ws = await connectWs(t2.url);
    await subscribe(ws, { id: 's', resource: 'orders' });
    await t2.close();
    assert.deepEqual(await ws.closed, { code: 1001, reason: 'server shutting down' });
  });
});

describe('limits and heartbeats', () => {
  test('subscriptions per socket and message size are bounded', async () => {
    const t = await startServer({ config: { events: { maxSubscriptions: 2, maxMessageBytes: 1024 } } });
    try {
      const ws = await connectWs(t.url);
      await subscribe(ws, { id: '1', resource: 'orders' });
      await subscribe(ws, { id: '2', resource: 'orders' });
      ws.send({ type: 'subscribe', id: '3', resource: 'orders' });
      const refused = await ws.next();
      assert.deepEqual([refused.id, refused.error_description], ['3', 'At most 2 subscriptions may be open on one socket.']);
      ws.send({ type: 'ping', padding: 'x'.repeat(2000) });
      assert.equal((await ws.closed).code, 1009, 'RFC 6455 §7.4.1: message too big');
    } finally {
      await t.close();
    }
  });

  test('the server pings every heartbeat and drops a socket that does not answer', async () => {
    // Generous against a loaded machine: a live client must answer each ping within one beat.
    const t = await startServer({ config: { events: { heartbeat: '1s' } } });
    try {
      const live = await connectWs(t.url);
      await once(live.socket, 'ping'); // the client library answers with a pong
      await once(live.socket, 'ping');
      assert.equal(live.socket.readyState, live.socket.OPEN);
      const mute = await connectWs(t.url, '/v1/ws', { autoPong: false });
      assert.equal((await mute.closed).code, 1006, 'terminated without a close frame');
      assert.equal(live.socket.readyState, live.socket.OPEN);
      await live.close();
    } finally {
      await t.close();
    }
  });

  test('a consumer too slow to read is closed with 1008 at its buffer bound', { timeout: 120_000 }, async () => {
    const spec: ApiSpec = { api: { name: 'Big' }, resources: { pages: { access: 'public', fields: { text: { type: 'string' } } } } };
    const t = await startServer({ schema: spec, config: { events: { bufferBytes: 64 * 1024 } } });
    const raw = await rawWebSocket(t.url);
    try {
      raw.send(JSON.stringify({ type: 'subscribe', id: 'slow', resource: 'pages' }));
      assert.deepEqual(JSON.parse((await raw.frame()).payload.toString()), { type: 'subscribed', id: 'slow' });
      raw.socket.pause(); // stop reading: kernel buffers fill, then the server's
      const text = 'x'.repeat(100_000);
      for (let i = 0; i < 2000 && t.server.events.stats().slowConsumersClosed === 0; i++) {
        assert.equal((await t.post('/v1/pages', { text })).status, 201);
        await new Promise((r) => setImmediate(r));
      }
      assert.equal(t.server.events.stats().slowConsumersClosed, 1);
      assert.equal(t.server.events.stats().openWebSockets, 0);
      raw.socket.resume();
      let frame;
      let events = 0;
      while ((frame = await raw.frame()).opcode !== 0x8) events++;
      assert.ok(events > 0);
      assert.equal(frame.payload.readUInt16BE(0), 1008);
      assert.equal(frame.payload.subarray(2).toString(), 'slow consumer: too many messages waiting');
    } finally {
      raw.socket.destroy();
      await t.close();
    }
  });
});

describe('JSON-RPC over the socket', () => {
  test('messages with a jsonrpc member go to the configured dispatcher with the socket’s context', async () => {
    const { model } = loadSchemaObject({ api: { name: 'Rpc' }, resources: { notes: { access: 'public', fields: { text: { type: 'string' } } } } });
    const store = new SqliteStore({ file: ':memory:' });
    await store.applyMigration(await store.planMigration(model));
    store.attach(model);
    const hub = new EventHub({ api: model, store, config: resolveConfig(undefined).events, limits: DEFAULT_QUERY_LIMITS });
    const calls: { payload: unknown; principal: string; baseUrl: string }[] = [];
    const rpc: RpcDispatch = async (payload, ctx) => {
      calls.push({ payload, principal: ctx.principal.kind, baseUrl: ctx.baseUrl });
      const call = payload as { method: string; params?: unknown; id?: unknown };
      if (call.method === 'boom') throw new Error('boom');
      return call.id === undefined ? null : { jsonrpc: '2.0', result: { echo: call.params }, id: call.id };
    };
    const app = Fastify();
    await app.register(fastifyWebsocket);
    await app.register(wsPlugin, { hub, bodyLimit: 1024 * 1024, rpc });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address() as net.AddressInfo;
    const url = `http://127.0.0.1:${address.port}`;
    try {
      const ws = await connectWs(url);
      ws.send({ jsonrpc: '2.0', method: 'echo', params: { a: 1 }, id: 'x' });
      assert.deepEqual(await ws.next(), { jsonrpc: '2.0', result: { echo: { a: 1 } }, id: 'x' });
      ws.send({ jsonrpc: '2.0', method: 'echo', params: [] });
      ws.send({ jsonrpc: '2.0', method: 'boom', id: 2 });
      assert.deepEqual(await ws.next(), { jsonrpc: '2.0', error: { code: -32603, message: 'Internal error' }, id: 2 });
      assert.deepEqual(calls.map((c) => [(c.payload as { method: string }).method, c.principal, c.baseUrl]), [
        ['echo', 'anonymous', url],
        ['echo', 'anonymous', url],
        ['boom', 'anonymous', url],
      ]);
      // Subscriptions work on the same socket.
      await subscribe(ws, { id: 'n', resource: 'notes' });
      await ws.close();
    } finally {
      await hub.shutdown();
      await app.close();
      await hub.close();
      await store.close();
    }
  });
});

/** A WebSocket client by hand (RFC 6455 §4.1), so the test can stop reading from the socket. */
async function rawWebSocket(baseUrl: string) {
  const { hostname, port } = new URL(baseUrl);
  const socket = net.connect(Number(port), hostname);
  await once(socket, 'connect');
  socket.write(
    `GET /v1/ws HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let buffer = Buffer.alloc(0);
  const waiting: (() => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (const w of waiting.splice(0)) w();
  });
  const more = () => new Promise<void>((resolve) => waiting.push(resolve));
  while (!buffer.includes('\r\n\r\n')) await more();
  const head = buffer.subarray(0, buffer.indexOf('\r\n\r\n')).toString();
  assert.match(head, /^HTTP\/1\.1 101 /);
  buffer = buffer.subarray(buffer.indexOf('\r\n\r\n') + 4);
  return {
    socket,
    /** A masked text frame, as clients must send. */
    send(text: string) {
      const payload = Buffer.from(text);
      const mask = randomBytes(4);
      const header = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
      socket.write(Buffer.concat([header, mask, payload.map((b, i) => b ^ (mask[i % 4] as number))]));
    },
    /** The next (unmasked, unfragmented) server frame. */
    async frame(): Promise<{ opcode: number; payload: Buffer }> {
      for (;;) {
        if (buffer.length >= 2) {
          const opcode = (buffer[0] as number) & 0x0f;
          let length = (buffer[1] as number) & 0x7f;
          let offset = 2;
          if (length === 126 && buffer.length >= 4) {
            length = buffer.readUInt16BE(2);
            offset = 4;
          } else if (length === 127 && buffer.length >= 10) {
            length = Number(buffer.readBigUInt64BE(2));
            offset = 10;
          }
          if ((length < 126 || offset > 2) && buffer.length >= offset + length) {
            const payload = buffer.subarray(offset, offset + length);
            buffer = buffer.subarray(offset + length);
            return { opcode, payload };
          }
        }
        await more();
      }
    },
  };
}
