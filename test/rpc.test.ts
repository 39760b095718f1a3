/** JSON-RPC 2.0 at POST /v1/rpc (SPEC §5), through a real listening server and a plain HTTP client. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import jsonSchemaMetaModule from '@json-schema-tools/meta-schema';
import metaSchemaModule from '@open-rpc/meta-schema';
import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { loadSchemaObject } from '../src/schema/load.js';
import type { ApiSpec } from '../src/schema/types.js';
import { startServer, withoutLinks, type Response, type TestServer } from './helpers.js';

let demo: TestServer;
let tasks: TestServer;

/** A schema with an item action, an operation that fails inside, and small RPC limits. */
const tasksSchema: ApiSpec = {
  api: { name: 'Tasks' },
  resources: {
    tasks: {
      access: 'public',
      required: ['title'],
      fields: { title: { type: 'string', minLength: 1 }, done: { type: 'boolean', default: false } },
      actions: {
        complete: { access: 'public', output: { type: 'object' }, handler: (_input, context) => ({ title: context.item?.title ?? null, done: true }) },
      },
    },
  },
  actions: {
    boom: { access: 'public', handler: () => { throw new Error('secret: SELECT * FROM users'); } },
  },
};

before(async () => {
  demo = await startServer();
  tasks = await startServer({ schema: tasksSchema, config: { limits: { rpcBatchSize: 3, rpcBodyBytes: 2048 } } });
});
after(async () => {
  await demo.close();
  await tasks.close();
});

/** Every HTTP call of this file goes through here (one place to add credentials). */
function post(server: TestServer, path: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Response> {
  return server.request('POST', path, { headers, raw: body });
}
function rpc(server: TestServer, payload: unknown): Promise<Response> {
  return post(server, '/v1/rpc', JSON.stringify(payload));
}
async function call(server: TestServer, method: string, params?: unknown, id: number | string = 1): Promise<{ result?: unknown; error?: { code: number; message: string; data?: Record<string, unknown> } }> {
  const res = await rpc(server, { jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = res.body as { jsonrpc: string; id: unknown };
  assert.equal(body.jsonrpc, '2.0');
  assert.equal(body.id, id);
  return body as never;
}

describe('methods', () => {
  test("SPEC §5's list: named params as the REST query model, {items, range}", async () => {
    const { result } = await call(demo, 'restaurants.list', { range: [0, 24] });
    const list = result as { items: { id: number }[]; range: unknown };
    assert.deepEqual(list.range, { first: 0, last: 24, total: 48 });
    assert.equal(list.items.length, 25);

    const params = { filter: { type: ['chinese'], rating: { gte: 4 } }, sort: ['rating'], desc: ['rating'], range: [0, 24], fields: 'name,rating' };
    const filtered = (await call(demo, 'restaurants.list', params)).result as { items: unknown[]; range: { first: number; last: number; total: number } };
    const rest = await demo.get('/v1/restaurants?type=chinese&rating[gte]=4&sort=rating&desc=rating&range=0-24&fields=name,rating');
    assert.deepEqual(filtered.items, rest.body);
    assert.equal(rest.headers.get('content-range'), `0-${filtered.range.last}/${filtered.range.total}`);
    assert.deepEqual(Object.keys(filtered.items[0] as object), ['id', 'name', 'rating']);
  });

  test('filters as JSON: single values, lists, operators, null, nested objects and dotted paths', async () => {
    const ids = async (filter: unknown) => ((await call(demo, 'restaurants.list', { filter, fields: 'name' })).result as { items: { id: number }[] }).items.map((r) => r.id);
    const restIds = async (query: string) => ((await demo.get(`/v1/restaurants?${query}&fields=name`)).body as { id: number }[]).map((r) => r.id);
    assert.deepEqual(await ids({ type: 'thai' }), await restIds('type=thai'));
    assert.deepEqual(await ids({ type: { ne: ['thai', 'chinese'] }, rating: { lte: 2 } }), await restIds('type[ne]=thai,chinese&rating[lte]=2'));
    assert.deepEqual(await ids({ address: { city: 'Lyon' } }), await restIds('address.city=Lyon'));
    assert.deepEqual(await ids({ 'address.city': ['Lyon', 'Lille'] }), await restIds('address.city=Lyon,Lille'));
    assert.deepEqual(await ids({ name: { like: 'le*' } }), await restIds('name[like]=le*'));
    assert.deepEqual(await ids({ rating: null }), await restIds('rating[null]=true'));
    assert.deepEqual(await ids({ rating: { null: false } }), await restIds('rating[null]=false'));
    assert.ok((await ids({ address: { city: 'Lyon' } })).length > 0);
    const bad = await call(demo, 'restaurants.list', { filter: { rating: { gtee: 4 } } });
    assert.equal(bad.error?.code, -32602);
    assert.equal(bad.error?.data?.error_description, "There is no 'gtee' operator; use one of ne, gt, gte, lt, lte, like, null.");
    const wrongType = await call(demo, 'restaurants.list', { filter: { rating: 'four' } });
    assert.equal(wrongType.error?.data?.error, 'invalid_request');
    assert.equal(wrongType.error?.data?.error_description, `"four" is not a valid integer for 'rating'.`);
  });

  test('cursor pages: next, then after', async () => {
    const first = (await call(demo, 'orders.list', { limit: 3, sort: 'orderValue', desc: true })).result as { items: { id: number }[]; next: string };
    assert.equal(typeof first.next, 'string');
    const second = (await call(demo, 'orders.list', { limit: 3, sort: 'orderValue', desc: true, after: first.next })).result as { items: { id: number }[]; range: { total: number | null } };
    const rest = (await demo.get('/v1/orders?sort=orderValue&desc&range=3-5')).body as { id: number }[];
    assert.deepEqual(second.items.map((o) => o.id), rest.map((o) => o.id));
    assert.equal(second.range.total, null, 'cursor pages do not count unless asked');
  });

  test('get, create, replace, update, delete', async () => {
    const got = await call(demo, 'restaurants.get', { id: 7 });
    assert.deepEqual(got.result, withoutLinks((await demo.get('/v1/restaurants/7')).body));
    const embedded = await call(demo, 'orders.get', { id: 12, fields: 'state,client(name)' });
    assert.deepEqual(embedded.result, (await demo.get('/v1/orders/12?fields=state,client(name)')).body);

    const created = (await call(demo, 'restaurants.create', { input: { name: 'Chez RPC', type: 'french', rating: 3 } })).result as { id: number; name: string; reviews: number };
    assert.equal(created.name, 'Chez RPC');
    assert.equal(created.reviews, 0, 'defaults apply');
    assert.deepEqual(withoutLinks((await demo.get(`/v1/restaurants/${created.id}`)).body), created);

    const updated = (await call(demo, 'restaurants.update', { id: created.id, patch: { rating: 5, zipcode: '75011' } })).result as { rating: number; zipcode: string; type: string };
    assert.equal(updated.rating, 5);
    assert.equal(updated.type, 'french');
    const replaced = (await call(demo, 'restaurants.replace', { id: created.id, input: { name: 'Chez RPC 2', type: 'thai' } })).result as { rating: number | null; zipcode: string | null };
    assert.equal(replaced.rating, null, 'replace clears what the input leaves out');
    assert.equal(replaced.zipcode, null);

    const deleted = (await call(demo, 'restaurants.delete', { id: created.id })).result as { name: string };
    assert.equal(deleted.name, 'Chez RPC 2', 'delete returns the item as it was');
    assert.equal((await demo.get(`/v1/restaurants/${created.id}`)).status, 404);
  });

  test('search', async () => {
    const { result } = await call(demo, 'restaurants.search', { filter: { name: '*napoli*' }, sort: ['name'], range: [0, 9] });
    const search = result as { items: { name: string }[]; range: unknown; query: string; suggestions: string[] };
    assert.deepEqual(search.items.map((r) => r.name), ['Le Napolitain', 'Napolitano', 'Pizzeria Napoli']);
    assert.deepEqual(search.range, { first: 0, last: 2, total: 3 });
    assert.equal(search.query, 'name=*napoli*');
    assert.deepEqual(search.suggestions, ['napolitain', 'napolitano']);
  });

  test('operations: params are the input (object), or the input itself (array)', async () => {
    assert.equal((await call(demo, 'calculator.sum', [1, 2, 3, 5, 8, 13, 21])).result, 53);
    assert.equal((await call(demo, 'calculator.sum', { input: [1, 2, 3, 5, 8, 13, 21] })).result, 53);
    const rest = (await demo.post('/v1/convert', { from: 'EUR', to: 'USD', amount: 42 })).body as { result: number };
    assert.equal((await call(demo, 'convert', { from: 'EUR', to: 'USD', amount: 42 })).result, rest.result);
    const bad = await call(demo, 'convert', { from: 'EUR', to: 'XXX', amount: 42 });
    assert.equal(bad.error?.code, -32602);
    assert.equal(bad.error?.data?.error, 'invalid_request');
    assert.equal(bad.error?.data?.status, 400);
  });

  test('an item action may not take the name of a standard method', () => {
    const clash = { api: { name: 'Clash' }, resources: { tasks: { access: 'public', fields: { title: { type: 'string' } }, actions: { list: { access: 'public', handler: () => null } } } } } as ApiSpec;
    assert.throws(() => loadSchemaObject(clash), /'list' is the name of a standard method \(tasks\.list\)/);
  });

  test('item actions: <resource>.<action> with id', async () => {
    const created = (await call(tasks, 'tasks.create', { input: { title: 'write tests' } })).result as { id: number };
    assert.deepEqual((await call(tasks, 'tasks.complete', { id: created.id })).result, { title: 'write tests', done: true });
    const missing = await call(tasks, 'tasks.complete', { id: 999 });
    assert.equal(missing.error?.code, -32004);
    assert.equal(missing.error?.data?.error, 'not_found');
  });
});

describe('errors', () => {
  test('service errors carry the error table code and data {error, error_description, status}', async () => {
    const missing = await call(demo, 'restaurants.get', { id: 999999 });
    assert.deepEqual(missing.error, {
      code: -32004,
      message: "The restaurant with the id '999999' doesn't exist",
      data: { error: 'not_found', error_description: "The restaurant with the id '999999' doesn't exist", status: 404, error_uri: `${demo.url}/docs/errors#not_found` },
    });
    const invalid = await call(demo, 'restaurants.create', { input: { name: '', type: 'british', rating: 9 } });
    assert.equal(invalid.error?.code, -32602);
    assert.equal(invalid.error?.data?.error, 'invalid_restaurant');
    assert.equal(invalid.error?.data?.status, 400);
    const rest = (await demo.post('/v1/restaurants', { name: '', type: 'british', rating: 9 })).body as { errors: unknown[]; error_description: string };
    assert.deepEqual(invalid.error?.data?.errors, rest.errors, 'every problem at once, as in REST');
    assert.equal(invalid.error?.data?.error_description, rest.error_description);

    const order = (await call(demo, 'orders.list', { filter: { state: 'placed' }, range: [0, 0] })).result as { items: { id: number }[] };
    const transition = await call(demo, 'orders.update', { id: order.items[0]?.id, patch: { state: 'paid' } });
    assert.equal(transition.error?.code, -32009);
    assert.equal(transition.error?.data?.error, 'invalid_transition');
    assert.deepEqual(transition.error?.data?.allowed, ['preparing', 'cancelled']);
    const range = await call(demo, 'restaurants.list', { range: [0, 100] });
    assert.equal(range.error?.data?.error, 'invalid_range');
    assert.equal(range.error?.data?.error_description, 'Requested range not allowed');
  });

  test('-32700 parse error, with id null', async () => {
    for (const raw of ['{"jsonrpc": "2.0", "method": "restaurants.list", "params": "bar", "baz]', '', '{"__proto__": {"x": 1}, "jsonrpc": "2.0", "method": "a", "id": 1}']) {
      const res = await post(demo, '/v1/rpc', raw);
      assert.equal(res.status, 200, raw);
      const body = res.body as { id: unknown; error: { code: number; message: string; data: { error: string } } };
      assert.equal(body.id, null);
      assert.equal(body.error.code, -32700);
      assert.equal(body.error.message, 'Parse error');
      assert.equal(body.error.data.error, 'invalid_body');
    }
  });

  test('-32600 invalid request: wrong shapes, an empty batch, members that are not requests', async () => {
    const shapes: [unknown, unknown][] = [
      [{ jsonrpc: '1.0', method: 'restaurants.list', id: 4 }, 4],
      [{ jsonrpc: '2.0', method: 1, id: 'a' }, 'a'],
      [{ jsonrpc: '2.0', method: 'restaurants.list', params: 'bar', id: 5 }, 5],
      [{ jsonrpc: '2.0', method: 'restaurants.list', id: { x: 1 } }, null],
      [[], null],
      ['foobar', null],
    ];
    for (const [payload, id] of shapes) {
      const body = (await rpc(demo, payload)).body as { id: unknown; error: { code: number; message: string } };
      assert.equal(body.error.code, -32600, JSON.stringify(payload));
      assert.equal(body.error.message, 'Invalid Request');
      assert.equal(body.id, id);
    }
    const batch = (await rpc(demo, [1, 2, null])).body as { error: { code: number } }[];
    assert.equal(batch.length, 3);
    assert.ok(batch.every((r) => r.error.code === -32600));
  });

  test('-32601 method not found, -32602 invalid params', async () => {
    const missing = await call(demo, 'restaurants.explode');
    assert.equal(missing.error?.code, -32601);
    assert.equal(missing.error?.message, 'Method not found');
    const unknown = await call(demo, 'restaurants.get', { id: 1, shoeSize: 42 });
    assert.equal(unknown.error?.code, -32602);
    assert.deepEqual(unknown.error?.data?.errors, [{ field: 'shoeSize', error: 'unknown', error_description: "There is no 'shoeSize' param" }]);
    const positional = await call(demo, 'restaurants.get', [1]);
    assert.equal(positional.error?.code, -32602);
    const missingId = await call(demo, 'restaurants.get', {});
    assert.equal(missingId.error?.code, -32602);
    assert.equal(missingId.error?.data?.error_description, "Invalid params for restaurants.get: 'id' is required.");
    const badType = await call(demo, 'restaurants.list', { range: 'all', count: 'maybe' });
    assert.equal(badType.error?.code, -32602);
  });

  test('-32603 internal error: logged, never shown', async () => {
    const res = await call(tasks, 'boom');
    assert.equal(res.error?.code, -32603);
    assert.equal(res.error?.message, 'Internal error');
    assert.equal(res.error?.data?.error, 'server_error');
    assert.equal(res.error?.data?.status, 500);
    assert.ok(!JSON.stringify(res).includes('secret'), 'no internals leak');
  });
});

describe('batches and notifications', () => {
  test('a batch answers with an array, in order, leaving notifications out', async () => {
    const res = await rpc(demo, [
      { jsonrpc: '2.0', id: 'a', method: 'calculator.sum', params: [1, 2] },
      { jsonrpc: '2.0', method: 'calculator.sum', params: [3] },
      { jsonrpc: '2.0', id: 'b', method: 'restaurants.get', params: { id: 999999 } },
      { jsonrpc: '2.0', id: 'c', method: 'restaurants.get', params: { id: 2, fields: 'name' } },
    ]);
    assert.equal(res.status, 200);
    const body = res.body as { id: string; result?: unknown; error?: { code: number } }[];
    assert.deepEqual(body.map((r) => r.id), ['a', 'b', 'c']);
    assert.equal(body[0]?.result, 3);
    assert.equal(body[1]?.error?.code, -32004);
    assert.deepEqual(body[2]?.result, (await demo.get('/v1/restaurants/2?fields=name')).body);
    // One call answering out of two is still an array (JSON-RPC 2.0 §6).
    const one = (await rpc(demo, [{ jsonrpc: '2.0', id: 1, method: 'calculator.sum', params: [1] }, { jsonrpc: '2.0', method: 'calculator.sum', params: [1] }])).body;
    assert.deepEqual(one, [{ jsonrpc: '2.0', id: 1, result: 1 }]);
  });

  test('calls of a batch run in order: a create, then an update of it', async () => {
    const created = (await call(tasks, 'tasks.create', { input: { title: 'first' } })).result as { id: number };
    const body = (await rpc(tasks, [
      { jsonrpc: '2.0', id: 1, method: 'tasks.update', params: { id: created.id, patch: { title: 'second' } } },
      { jsonrpc: '2.0', id: 2, method: 'tasks.get', params: { id: created.id } },
    ])).body as { result: { title: string } }[];
    assert.equal(body[1]?.result.title, 'second');
  });

  test('notifications: no response; an all-notification batch is 204', async () => {
    const single = await rpc(tasks, { jsonrpc: '2.0', method: 'tasks.create', params: { input: { title: 'notified' } } });
    assert.equal(single.status, 204);
    assert.equal(single.text, '');
    const batch = await rpc(tasks, [
      { jsonrpc: '2.0', method: 'tasks.create', params: { input: { title: 'notified 2' } } },
      { jsonrpc: '2.0', method: 'no.such.method' },
      { jsonrpc: '2.0', method: 'boom' },
    ]);
    assert.equal(batch.status, 204);
    assert.equal(batch.text, '');
    const titles = ((await call(tasks, 'tasks.list', { filter: { title: { like: 'notified*' } } })).result as { items: { title: string }[] }).items.map((t) => t.title);
    assert.deepEqual(titles, ['notified', 'notified 2'], 'notifications ran');
  });

  test('batch size and body size are limited (configurable)', async () => {
    const four = Array.from({ length: 4 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'tasks.list' }));
    const tooMany = (await rpc(tasks, four)).body as { error: { code: number; data: { error_description: string } } };
    assert.equal(tooMany.error.code, -32600);
    assert.equal(tooMany.error.data.error_description, 'A batch may carry at most 3 calls; this one has 4.');
    const big = await rpc(tasks, { jsonrpc: '2.0', id: 1, method: 'tasks.create', params: { input: { title: 'x'.repeat(5000) } } });
    assert.equal(big.status, 413);
    assert.equal((big.body as { error: { data: { error: string } } }).error.data.error, 'payload_too_large');
  });
});

describe('HTTP', () => {
  test('415 for bodies that are not JSON; 405 for other methods', async () => {
    const text = await post(demo, '/v1/rpc', '{}', { 'content-type': 'text/plain' });
    assert.equal(text.status, 415);
    assert.equal((text.body as { error: { data: { error: string } } }).error.data.error, 'unsupported_media_type');
    const rpcType = await post(demo, '/v1/rpc', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'calculator.sum', params: [2] }), { 'content-type': 'application/json-rpc' });
    assert.equal((rpcType.body as { result: number }).result, 2);
    const get = await demo.get('/v1/rpc');
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST, OPTIONS');
    assert.equal((get.body as { error: string }).error, 'method_not_allowed');
  });
});

describe('rpc.discover', () => {
  test('a valid OpenRPC 1.3 document whose schemas describe the real results', async () => {
    const { result } = await call(demo, 'rpc.discover');
    const doc = result as { openrpc: string; methods: { name: string; params: { name: string }[] }[]; servers: { url: string }[]; components: { schemas: Record<string, unknown> } };
    assert.equal(doc.openrpc, '1.3.2');
    assert.equal(doc.servers[0]?.url, `${demo.url}/v1/rpc`);

    // The OpenRPC meta-schema from the OpenRPC project's own package, with the JSON Schema
    // meta-schema it refers to (both draft-07).
    const unwrap = (m: unknown) => { const { $schema: _dialect, ...rest } = ((m as { default?: Record<string, unknown> }).default ?? m) as Record<string, unknown>; return rest; };
    const metaSchema = unwrap(metaSchemaModule);
    const meta = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    // It is referred to both with and without the trailing slash of its $id.
    meta.addSchema(unwrap(jsonSchemaMetaModule));
    meta.addSchema({ ...unwrap(jsonSchemaMetaModule), $id: 'https://meta.json-schema.tools' });
    const valid = meta.validate(metaSchema, doc);
    assert.ok(valid, JSON.stringify(meta.errors?.slice(0, 5)));
    assert.equal(meta.validate(metaSchema, { ...doc, methods: [{ name: 'x' }] }), false, 'the meta-schema does reject a broken document');

    const names = doc.methods.map((m) => m.name);
    for (const r of ['restaurants', 'dishes', 'clients', 'orders']) {
      for (const m of ['list', 'get', 'create', 'replace', 'update', 'delete']) assert.ok(names.includes(`${r}.${m}`), `${r}.${m}`);
    }
    assert.ok(names.includes('restaurants.search') && !names.includes('orders.search'));
    assert.ok(names.includes('calculator.sum') && names.includes('convert'));
    assert.deepEqual(doc.methods.find((m) => m.name === 'convert')?.params.map((p) => p.name), ['from', 'to', 'amount']);

    // Every $ref resolves, and real results validate against the published result schemas.
    const text = JSON.stringify(doc);
    const components = doc.components as unknown as Record<string, Record<string, unknown>>;
    const refs = [...text.matchAll(/"\$ref":"#\/components\/(schemas|errors)\/([^"]+)"/g)];
    assert.ok(refs.length > 50);
    for (const [, kind, name] of refs) assert.ok(components[kind as string]?.[name as string], `#/components/${kind}/${name} resolves`);
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    ajv.addSchema({ $id: 'https://carte.test/openrpc.json', components: doc.components }, 'openrpc');
    const check = (schema: string, value: unknown) => {
      const ok = ajv.validate({ $ref: `https://carte.test/openrpc.json#/components/schemas/${schema}` }, value);
      assert.ok(ok, `${schema}: ${JSON.stringify(ajv.errors?.slice(0, 3))}`);
    };
    check('RestaurantList', (await call(demo, 'restaurants.list', { range: [0, 4] })).result);
    check('OrderList', (await call(demo, 'orders.list', { filter: { state: ['ready'] } })).result);
    check('Restaurant', (await call(demo, 'restaurants.get', { id: 3 })).result);
    check('RestaurantSearchResult', (await call(demo, 'restaurants.search', { filter: { name: '*a*' } })).result);
    check('RestaurantInput', { name: 'Valid', type: 'thai' });
    assert.equal(ajv.validate({ $ref: 'https://carte.test/openrpc.json#/components/schemas/RestaurantInput' }, { name: 'x', type: 'british' }), false);
  });
});
