/** GraphQL at /v1/graphql (SPEC §6), through a real listening server with plain HTTP requests. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildSchema, getNamedType, GraphQLEnumType, GraphQLNonNull, GraphQLObjectType, parse, validate, type GraphQLSchema } from 'graphql';
import { demoSchema } from '../src/demo/schema.js';
import { seedDemo } from '../src/demo/seed.js';
import type { ApiSpec } from '../src/schema/types.js';
import { startServer, withoutLinks, type Response, type TestServer } from './helpers.js';

let demo: TestServer;
/** The demo with pages of up to 50 orders (the demo's own maxRange is 10). */
let wide: TestServer;
let strict: TestServer;
let failing: TestServer;

const wideSchema: ApiSpec = { ...demoSchema, resources: { ...demoSchema.resources, orders: { ...demoSchema.resources.orders, maxRange: 50 } } } as ApiSpec;

before(async () => {
  demo = await startServer();
  wide = await startServer({ schema: wideSchema });
  await seedDemo(wide.server.store);
  strict = await startServer({ config: { limits: { graphqlDepth: 4, graphqlCost: 40, graphqlAliases: 2, graphqlBatchSize: 2, graphqlTokens: 200, bodyBytes: 4096 } } });
  failing = await startServer({
    schema: {
      api: { name: 'Failing' },
      resources: { notes: { access: 'public', fields: { text: { type: 'string' } }, actions: { shout: { access: 'public', input: { type: 'object', properties: { times: { type: 'integer', minimum: 1 } } }, output: { type: 'string' }, handler: (input, context) => String(context.item?.text ?? '').toUpperCase().repeat((input as { times?: number } | null)?.times ?? 1) } } } },
      actions: { boom: { access: 'public', output: { type: 'number' }, handler: () => { throw new Error('secret: /etc/passwd'); } } },
    },
  });
});
after(async () => {
  await Promise.all([demo.close(), wide.close(), strict.close(), failing.close()]);
});

/** GraphQL serializes keys as ID strings; REST and JSON-RPC keep the integers. */
function numericIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(numericIds);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === 'id' && typeof v === 'string' ? Number(v) : numericIds(v)]));
}

interface GraphqlBody {
  data?: Record<string, unknown> | null;
  errors?: { message: string; path?: (string | number)[]; locations?: unknown[]; extensions: { code: string; status: number; [k: string]: unknown } }[];
}

/** Every HTTP call of this file goes through here (one place to add credentials). */
function http(server: TestServer, method: string, path: string, init: { headers?: Record<string, string>; raw?: string } = {}): Promise<Response> {
  return server.request(method, path, init);
}
async function gql(server: TestServer, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response & { json: GraphqlBody }> {
  const res = await http(server, 'POST', '/v1/graphql', { headers: { 'content-type': 'application/json', ...headers }, raw: JSON.stringify({ query, ...(variables ? { variables } : {}) }) });
  return Object.assign(res, { json: res.body as GraphqlBody });
}
async function data(server: TestServer, query: string, variables?: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await gql(server, query, variables);
  assert.equal(res.status, 200);
  assert.equal(res.json.errors, undefined, JSON.stringify(res.json.errors));
  return res.json.data as Record<string, unknown>;
}

describe('the schema (SPEC §6 names)', () => {
  let schema: GraphQLSchema;
  before(async () => {
    const res = await http(demo, 'GET', '/v1/graphql/schema.graphql');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    schema = buildSchema(res.text);
  });

  test("graphql's buildSchema accepts the SDL; its types are named as SPEC §6 says", () => {
    const restaurant = schema.getType('Restaurant') as GraphQLObjectType;
    assert.ok(restaurant instanceof GraphQLObjectType);
    const fields = restaurant.getFields();
    assert.equal(String(fields.id?.type), 'ID!');
    const type = getNamedType(fields.type?.type) as unknown as GraphQLEnumType;
    assert.ok(type instanceof GraphQLEnumType);
    assert.deepEqual(type.getValues().map((v) => v.name), ['thai', 'chinese', 'japanese', 'italian', 'french', 'indian']);
    assert.equal(String(fields.days?.type), '[RestaurantDay!]');
    assert.equal(String(fields.dishes?.type), 'DishPage!', 'to-many relations are pages');
    const order = (schema.getType('Order') as GraphQLObjectType).getFields();
    assert.equal(String(order.client?.type), 'Client');
    assert.equal(String(order.state?.type), 'OrderState');
    assert.equal(String((schema.getType('Client') as GraphQLObjectType).getFields().orders?.type), 'OrderPage!');
    const query = schema.getQueryType()?.getFields() ?? {};
    assert.equal(String(query.restaurant?.args[0]?.type), 'ID!');
    assert.deepEqual(query.restaurants?.args.map((a) => `${a.name}: ${String(a.type)}`), ['filter: RestaurantFilter', 'sort: [String!]', 'desc: [String!]', 'range: RangeInput']);
    assert.deepEqual(Object.keys((schema.getType('RestaurantPage') as GraphQLObjectType).getFields()), ['items', 'total', 'range']);
    const mutation = schema.getMutationType()?.getFields() ?? {};
    for (const name of ['createRestaurant', 'replaceRestaurant', 'updateRestaurant', 'deleteRestaurant', 'calculatorSum', 'convert', 'createOrder']) assert.ok(mutation[name], name);
    assert.deepEqual(mutation.updateRestaurant?.args.map((a) => `${a.name}: ${String(a.type)}`), ['id: ID!', 'patch: RestaurantPatch!']);
    assert.deepEqual(mutation.convert?.args.map((a) => `${a.name}: ${String(a.type)}`), ['from: ConvertFrom!', 'to: ConvertTo!', 'amount: Float!']);
    assert.ok(mutation.createRestaurant?.type && !(mutation.createRestaurant.type instanceof GraphQLNonNull), 'root fields are nullable: one failing field does not null the others');
  });

  test("graphql's validate accepts SPEC §6's operations and rejects wrong ones", () => {
    const good = [
      '{ restaurants(filter: {type: [chinese], rating: [4, 5]}) { items { id name type } total range { first last } } }',
      '{ restaurants(filter: {rating_gte: 4, name_like: ["le*"], address_city: ["Paris"], days: [sunday]}, sort: ["rating"], desc: ["rating"], range: {first: 0, last: 24}) { total } }',
      '{ restaurant(id: 7) { name dishes(range: {first: 0, last: 4}) { items { name price } total } } }',
      '{ orders { items { state client { name orders { total } } restaurant { name } } } }',
      'mutation { createRestaurant(input: {name: "A", type: thai}) { id } replaceRestaurant(id: 1, input: {name: "B", type: thai}) { id } updateRestaurant(id: 1, patch: {rating: 4}) { rating } deleteRestaurant(id: 1) { id } }',
      'mutation { calculatorSum(input: [1, 2, 3]) convert(from: EUR, to: USD, amount: 42) }',
      '{ searchRestaurants(filter: {name: ["*napoli*"]}) { items { name } query suggestions } }',
    ];
    for (const q of good) assert.deepEqual(validate(schema, parse(q)).map((e) => e.message), [], q);
    const bad = ['{ restaurants(filter: {type: [british]}) { total } }', '{ restaurant { name } }', '{ restaurants { items { shoeSize } } }', 'mutation { deleteRestaurant(id: 1) }'];
    for (const q of bad) assert.ok(validate(schema, parse(q)).length > 0, q);
  });

  test('the SDL is cacheable; other methods are 405', async () => {
    const first = await http(demo, 'GET', '/v1/graphql/schema.graphql');
    const etag = first.headers.get('etag') as string;
    assert.ok(etag);
    assert.equal((await http(demo, 'GET', '/v1/graphql/schema.graphql', { headers: { 'if-none-match': etag } })).status, 304);
    assert.equal((await http(demo, 'POST', '/v1/graphql/schema.graphql')).status, 405);
  });
});

describe('queries', () => {
  test('lists: filters, operators, sort, desc and range, as REST answers them', async () => {
    const d = await data(demo, '{ restaurants(filter: {type: [chinese, japanese], rating_gte: 3}, sort: ["rating", "name"], desc: ["rating"], range: {first: 0, last: 4}) { total range { first last } items { id name rating type } } }');
    const page = d.restaurants as { total: number; range: { first: number; last: number }; items: { id: string }[] };
    const rest = await demo.get('/v1/restaurants?type=chinese,japanese&rating[gte]=3&sort=rating,name&desc=rating&range=0-4&fields=name,rating,type');
    assert.equal(rest.headers.get('content-range'), `0-4/${page.total}`);
    assert.deepEqual(page.range, { first: 0, last: 4 });
    assert.deepEqual(page.items.map((r) => ({ ...r, id: Number(r.id) })), rest.body);
    const byId = await data(demo, '{ restaurants(filter: {id: ["3", "5"], id_ne: ["5"]}) { items { id } } }');
    assert.deepEqual((byId.restaurants as { items: unknown[] }).items, [{ id: '3' }]);
    const empty = await data(demo, '{ restaurants(filter: {type: [thai], rating_gt: 5}) { total range { first last } items { id } } }');
    assert.deepEqual(empty.restaurants, { total: 0, range: { first: 0, last: -1 }, items: [] });
  });

  test('one item, with nested objects, enums, arrays and blobs', async () => {
    const d = await data(demo, '{ restaurant(id: 5) { id name type rating reviews days zipcode address { street city } photo { href } createdAt updatedAt } }');
    const rest = withoutLinks((await demo.get('/v1/restaurants/5')).body as Record<string, unknown>);
    assert.deepEqual({ ...(d.restaurant as object), id: 5 }, rest);
  });

  test('relations both ways, to-many ones paged like lists (filter, sort, range, total)', async () => {
    const d = await data(demo, '{ client(id: 1) { name orders(filter: {state_ne: [cancelled]}, sort: ["orderValue"], desc: ["orderValue"], range: {first: 1, last: 2}) { total range { first last } items { id orderValue restaurant { id name } } } } }');
    const client = d.client as { orders: { total: number; range: unknown; items: unknown[] } };
    const rest = await demo.get('/v1/clients/1/orders?state[ne]=cancelled&sort=orderValue&desc=orderValue&range=1-2&fields=orderValue,restaurant(name)');
    assert.equal(rest.headers.get('content-range'), `1-2/${client.orders.total}`);
    assert.deepEqual(client.orders.range, { first: 1, last: 2 });
    assert.deepEqual(numericIds(client.orders.items), rest.body);
    const order = await data(demo, '{ order(id: 12) { state client { id name } } }');
    const restOrder = (await demo.get('/v1/orders/12?fields=state,client(name)')).body as { state: string; client: unknown };
    assert.deepEqual(numericIds(order.order), { state: restOrder.state, client: restOrder.client });
  });

  test('aliases, fragments, variables and @skip/@include', async () => {
    const d = await data(
      demo,
      `query Q($withDishes: Boolean!, $id: ID!, $cheap: Float) {
        r: restaurant(id: $id) { ...Names first: dishes(range: {first: 0, last: 0}) { items { name } } cheap: dishes(filter: {price_lte: $cheap}) @include(if: $withDishes) { total } none: dishes @skip(if: true) { total } }
      }
      fragment Names on Restaurant { name label: name }`,
      { withDishes: true, id: '1', cheap: 10 },
    );
    const r = d.r as { name: string; label: string; first: { items: unknown[] }; cheap: { total: number }; none?: unknown };
    assert.equal(r.label, r.name);
    assert.equal(r.first.items.length, 1);
    const rest = await demo.get('/v1/dishes?restaurantId=1&price[lte]=10&range=0-0');
    assert.equal(r.cheap.total, Number((rest.headers.get('content-range') ?? '/0').split('/')[1]));
    assert.equal('none' in r, false);
  });

  test('search', async () => {
    const d = await data(demo, '{ searchRestaurants(filter: {name: ["*napoli*"]}, sort: ["name"]) { total range { first last } items { name } query suggestions } }');
    assert.deepEqual(d.searchRestaurants, {
      total: 3,
      range: { first: 0, last: 2 },
      items: [{ name: 'Le Napolitain' }, { name: 'Napolitano' }, { name: 'Pizzeria Napoli' }],
      query: 'name=*napoli*',
      suggestions: ['napolitain', 'napolitano'],
    });
  });

  test('GET runs queries (not mutations), with variables', async () => {
    const q = encodeURIComponent('query($id: ID!) { restaurant(id: $id) { name } }');
    const res = await http(demo, 'GET', `/v1/graphql?query=${q}&variables=${encodeURIComponent('{"id":"2"}')}`);
    assert.equal(res.status, 200);
    assert.equal(((res.body as GraphqlBody).data?.restaurant as { name: string }).name, ((await demo.get('/v1/restaurants/2')).body as { name: string }).name);
    const m = await http(demo, 'GET', `/v1/graphql?query=${encodeURIComponent('mutation { calculatorSum(input: [1]) }')}`);
    assert.equal(m.status, 405);
    assert.equal(m.headers.get('allow'), 'GET, POST');
    assert.equal((m.body as GraphqlBody).errors?.[0]?.extensions.code, 'method_not_allowed');
  });

  test('batched: 25 orders with client and restaurant cost a constant number of SQL statements', async () => {
    const stats = wide.server.store.stats;
    const cost = async (last: number, total: boolean) => {
      const before = stats.statements;
      const d = await data(wide, `{ orders(range: {first: 0, last: ${last}}) { ${total ? 'total' : ''} items { id state client { name } restaurant { name type } } } }`);
      const items = (d.orders as { items: { client: { name: string } | null; restaurant: { name: string } | null }[] }).items;
      assert.equal(items.length, last + 1);
      assert.ok(items.every((o) => o.client?.name && o.restaurant?.name));
      return stats.statements - before;
    };
    const one = await cost(0, false);
    const twentyFive = await cost(24, false);
    assert.equal(one, 3, 'orders, clients, restaurants');
    assert.equal(twentyFive, one, 'the same for 1 or 25 orders');
    assert.equal(await cost(24, true), 4, 'plus one count when total is asked for');
    // To-many pages per parent: one read and one grouped count, whatever the number of parents.
    const perParent = async (last: number) => {
      const before = stats.statements;
      await data(wide, `{ clients(range: {first: 0, last: ${last}}) { items { name orders(range: {first: 0, last: 2}, sort: ["orderValue"]) { total items { id restaurant { name } } } } } }`);
      return stats.statements - before;
    };
    assert.equal(await perParent(0), 4, 'clients, orders, their count, restaurants');
    assert.equal(await perParent(19), 4);
  });
});

describe('mutations', () => {
  test('create, replace, update, delete, with relations in the result', async () => {
    const created = (await data(demo, 'mutation($input: RestaurantInput!) { createRestaurant(input: $input) { id name type reviews days } }', { input: { name: 'Chez GraphQL', type: 'french', days: ['monday'] } })).createRestaurant as { id: string; reviews: number };
    assert.equal(created.reviews, 0);
    const rest = (await demo.get(`/v1/restaurants/${created.id}`)).body as { name: string; days: string[] };
    assert.equal(rest.name, 'Chez GraphQL');
    assert.deepEqual(rest.days, ['monday']);
    const updated = (await data(demo, `mutation { updateRestaurant(id: ${created.id}, patch: {rating: 4, days: null}) { rating days type } }`)).updateRestaurant;
    assert.deepEqual(updated, { rating: 4, days: null, type: 'french' });
    const replaced = (await data(demo, `mutation { replaceRestaurant(id: ${created.id}, input: {name: "Chez GraphQL 2", type: thai}) { name rating type } }`)).replaceRestaurant;
    assert.deepEqual(replaced, { name: 'Chez GraphQL 2', rating: null, type: 'thai' });
    const order = (await data(demo, `mutation { createOrder(input: {clientId: 3, restaurantId: ${created.id}}) { id state client { name } restaurant { name } } }`)).createOrder as { id: string; state: string; client: { name: string }; restaurant: { name: string } };
    assert.equal(order.state, 'placed');
    assert.equal(order.restaurant.name, 'Chez GraphQL 2');
    assert.equal(order.client.name, ((await demo.get('/v1/clients/3')).body as { name: string }).name);
    const conflict = await gql(demo, `mutation { deleteRestaurant(id: ${created.id}) { id } }`);
    assert.equal(conflict.json.errors?.[0]?.extensions.code, 'conflict', 'an order still refers to it');
    await data(demo, `mutation { deleteOrder(id: ${order.id}) { id } }`);
    const deleted = (await data(demo, `mutation { deleteRestaurant(id: ${created.id}) { name } }`)).deleteRestaurant;
    assert.deepEqual(deleted, { name: 'Chez GraphQL 2' });
    assert.equal((await demo.get(`/v1/restaurants/${created.id}`)).status, 404);
  });

  test('item actions as mutations: <action><Type>(id, input)', async () => {
    const note = (await data(failing, 'mutation { createNote(input: {text: "hi"}) { id } }')).createNote as { id: string };
    assert.equal((await data(failing, `mutation { shoutNote(id: ${note.id}, input: {times: 2}) }`)).shoutNote, 'HIHI');
    const missing = await gql(failing, 'mutation { shoutNote(id: 999) }');
    assert.equal(missing.json.errors?.[0]?.extensions.code, 'not_found');
    const invalid = await gql(failing, `mutation { shoutNote(id: ${note.id}, input: {times: 0}) }`);
    assert.equal(invalid.json.errors?.[0]?.extensions.code, 'invalid_request');
  });

  test('operations as mutations', async () => {
    const d = await data(demo, 'mutation { sum: calculatorSum(input: [1, 2, 3, 5, 8, 13, 21]) convert(from: EUR, to: USD, amount: 42) }');
    assert.equal(d.sum, 53);
    assert.equal(d.convert, ((await demo.post('/v1/convert', { from: 'EUR', to: 'USD', amount: 42 })).body as { result: number }).result);
  });
});

describe('errors carry extensions.code from the error table', () => {
  test('service errors: not_found, invalid_<singular> with every problem, invalid_transition', async () => {
    const missing = await gql(demo, '{ restaurant(id: 999999) { name } other: restaurant(id: 1) { name } }');
    assert.equal(missing.status, 200);
    assert.deepEqual(missing.json.errors, [
      { message: "The restaurant with the id '999999' doesn't exist", locations: [{ line: 1, column: 3 }], path: ['restaurant'], extensions: { code: 'not_found', status: 404, error_uri: `${demo.url}/docs/errors#not_found` } },
    ]);
    assert.deepEqual(missing.json.data, { restaurant: null, other: { name: ((await demo.get('/v1/restaurants/1')).body as { name: string }).name } });
    const invalid = await gql(demo, 'mutation { createRestaurant(input: {name: "", rating: 9}) { id } }');
    const restInvalid = (await demo.post('/v1/restaurants', { name: '', rating: 9 })).body as { error: string; errors: unknown[] };
    assert.equal(invalid.json.errors?.[0]?.extensions.code, 'invalid_restaurant');
    assert.deepEqual(invalid.json.errors?.[0]?.extensions.errors, restInvalid.errors);
    const placed = (await data(demo, '{ orders(filter: {state: [placed]}, range: {first: 0, last: 0}) { items { id } } }')).orders as { items: { id: string }[] };
    const transition = await gql(demo, `mutation { updateOrder(id: ${placed.items[0]?.id}, patch: {state: paid}) { state } }`);
    assert.equal(transition.json.errors?.[0]?.extensions.code, 'invalid_transition');
    assert.deepEqual(transition.json.errors?.[0]?.extensions.allowed, ['preparing', 'cancelled']);
    const range = await gql(demo, '{ restaurants(range: {first: 0, last: 99}) { total } }');
    assert.equal(range.json.errors?.[0]?.extensions.code, 'invalid_range');
    const field = await gql(demo, '{ restaurants(sort: ["shoeSize"]) { total } }');
    assert.equal(field.json.errors?.[0]?.message, "There is no 'shoeSize' property on restaurants.");
  });

  test('request errors: syntax, validation, variables — 200 as JSON, 400 as graphql-response+json', async () => {
    for (const q of ['{ restaurants { items { id }', '{ restaurants { items { shoeSize } } }', 'query($id: ID!) { restaurant(id: $id) { name } }']) {
      const res = await gql(demo, q);
      assert.equal(res.status, 200, q);
      assert.equal(res.json.data, undefined, 'no data: nothing ran');
      assert.equal(res.json.errors?.[0]?.extensions.code, 'invalid_request');
      const strictRes = await gql(demo, q, undefined, { accept: 'application/graphql-response+json' });
      assert.equal(strictRes.status, 400);
      assert.match(strictRes.headers.get('content-type') ?? '', /^application\/graphql-response\+json/);
    }
  });

  test('internal failures are server_error, without their message', async () => {
    const res = await gql(failing, 'mutation { boom }');
    assert.deepEqual(res.json.errors?.[0]?.extensions.code, 'server_error');
    assert.equal(res.json.errors?.[0]?.message, 'Oops! Something went wrong...');
    assert.ok(!res.text.includes('secret'));
  });

  test('bodies: malformed JSON 400, other media types 415, too large 413, no query 400', async () => {
    const malformed = await http(demo, 'POST', '/v1/graphql', { headers: { 'content-type': 'application/json' }, raw: '{"query": ' });
    assert.equal(malformed.status, 400);
    assert.equal((malformed.body as GraphqlBody).errors?.[0]?.extensions.code, 'invalid_body');
    const text = await http(demo, 'POST', '/v1/graphql', { headers: { 'content-type': 'text/plain' }, raw: '{ restaurants { total } }' });
    assert.equal(text.status, 415);
    assert.equal((text.body as GraphqlBody).errors?.[0]?.extensions.code, 'unsupported_media_type');
    const big = await gql(strict, `{ restaurants(filter: {name: ["${'x'.repeat(5000)}"]}) { total } }`);
    assert.equal(big.status, 413);
    assert.equal(big.json.errors?.[0]?.extensions.code, 'payload_too_large');
    const none = await http(demo, 'POST', '/v1/graphql', { headers: { 'content-type': 'application/json' }, raw: '{"variables": {}}' });
    assert.equal((none.body as GraphqlBody).errors?.[0]?.extensions.code, 'invalid_request');
  });
});

describe('limits (configurable): depth, cost, aliases, batch, tokens', () => {
  test('depth', async () => {
    const ok = await gql(strict, '{ orders { items { client { name } } } }');
    assert.equal(ok.json.errors, undefined);
    const deep = await gql(strict, '{ orders { items { client { orders { total } } } } }');
    assert.deepEqual(deep.json.errors?.[0]?.extensions, { code: 'query_too_complex', status: 400, error_uri: `${strict.url}/docs/errors#query_too_complex`, limit: 4, actual: 5 });
    assert.equal(deep.json.errors?.[0]?.message, 'The operation nests 5 levels deep; the limit is 4.');
  });

  test('cost: each page counts its size times what each item asks for', async () => {
    const ok = await gql(strict, '{ orders(range: {first: 0, last: 9}) { items { client { name } restaurant { name } } } }');
    assert.equal(ok.json.errors, undefined, '10 × 3 = 30');
    const costly = await gql(strict, '{ restaurants { items { name } } }');
    assert.equal(costly.json.errors?.[0]?.extensions.code, 'query_too_complex');
    assert.equal(costly.json.errors?.[0]?.message, 'The operation may return up to 50 items; the limit is 40. Ask for smaller ranges or fewer relations.');
    const viaVariables = await gql(strict, 'query($r: RangeInput) { restaurants(range: $r) { items { name } } }', { r: { first: 0, last: 9 } });
    assert.equal(viaVariables.json.errors, undefined, 'ranges given as variables count too');
  });

  test('aliases, batches and tokens', async () => {
    const aliases = await gql(strict, '{ a: restaurant(id: 1) { name } b: restaurant(id: 2) { name } c: restaurant(id: 3) { name } }');
    assert.equal(aliases.json.errors?.[0]?.message, 'The document uses 3 aliases; the limit is 2.');
    const batch = await http(strict, 'POST', '/v1/graphql', { headers: { 'content-type': 'application/json' }, raw: JSON.stringify([{ query: '{ restaurant(id: 1) { name } }' }, { query: '{ restaurant(id: 2) { name } }' }]) });
    assert.equal(batch.status, 200);
    assert.deepEqual((batch.body as GraphqlBody[]).map((b) => Object.keys((b.data ?? {}) as object)), [['restaurant'], ['restaurant']]);
    const tooMany = await http(strict, 'POST', '/v1/graphql', { headers: { 'content-type': 'application/json' }, raw: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }, { query: '{ __typename }' }]) });
    assert.equal((tooMany.body as GraphqlBody).errors?.[0]?.extensions.code, 'query_too_complex');
    const tokens = await gql(strict, `{ ${Array.from({ length: 250 }, () => '__typename').join(' ')} }`);
    assert.equal(tokens.json.errors?.[0]?.extensions.code, 'query_too_complex');
  });

  test('introspection is not held to depth and cost (GraphiQL works)', async () => {
    const res = await gql(demo, '{ __schema { types { name fields { name type { name kind ofType { name kind ofType { name kind ofType { name } } } } } } } }');
    assert.equal(res.json.errors, undefined);
  });
});

describe('GraphiQL from local files', () => {
  test('a browser GET opens GraphiQL; every asset is served by Carte itself', async () => {
    const page = await http(demo, 'GET', '/v1/graphql', { headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const sources = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    assert.equal(sources.length, 5);
    for (const source of sources) {
      assert.ok(source.startsWith(`${demo.url}/v1/graphql/assets/`), `${source} is local`);
      const asset = await http(demo, 'GET', source.slice(demo.url.length));
      assert.equal(asset.status, 200, source);
      assert.match(asset.headers.get('content-type') ?? '', source.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
      assert.ok(asset.text.length > 200, source);
    }
    assert.ok(!/https?:\/\/(?!127\.0\.0\.1)/.test(page.text), 'no other host is named');
    assert.equal((await http(demo, 'GET', '/v1/graphql/assets/..%2Fpackage.json')).status, 404);
    const api = await http(demo, 'GET', '/v1/graphql', { headers: { accept: 'application/json' } });
    assert.equal(api.status, 400, 'a non-browser GET needs a query');
  });
});
