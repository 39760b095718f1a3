/** REST core (SPEC §4.1, §4.2, §4.12, §4.13) through a real listening server on the demo. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from './helpers.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ETAG = /^"[A-Za-z0-9_-]{27}"$/;

let t: TestServer;
before(async () => {
  t = await startServer();
});
after(() => t.close());

function withoutTimestamps(body: unknown): Record<string, unknown> {
  const copy = { ...(body as Record<string, unknown>) };
  // Hypermedia links (SPEC §4.8) are checked in http-hypermedia.test.ts.
  assert.ok(Array.isArray(copy.links), 'an item carries its links');
  delete copy.links;
  for (const k of ['createdAt', 'updatedAt']) {
    if (k in copy) {
      assert.match(String(copy[k]), ISO, `${k} is an ISO 8601 timestamp`);
      delete copy[k];
    }
  }
  return copy;
}

describe('collections and items', () => {
  test('POST creates: 201, Location, the new item as body', async () => {
    const res = await t.post('/v1/restaurants', { name: 'Chez Test', type: 'french', rating: 4 });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.match(res.headers.get('etag') ?? '', ETAG);
    const body = res.body as { id: number };
    assert.equal(res.headers.get('location'), `${t.url}/v1/restaurants/${body.id}`);
    assert.deepEqual(withoutTimestamps(body), {
      id: body.id,
      name: 'Chez Test',
      type: 'french',
      rating: 4,
      reviews: 0,
      days: null,
      zipcode: null,
      address: null,
      photo: null,
    });
    const again = await t.get(`/v1/restaurants/${body.id}`);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, res.body);
    assert.equal(again.headers.get('etag'), res.headers.get('etag'));
  });

  test('POST with an id is 400: the client does not choose the id', async () => {
    const res = await t.post('/v1/restaurants', { id: 7, name: 'X', type: 'thai' });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, {
      error: 'invalid_restaurant',
      error_description: 'The id of a restaurant is assigned by the server; to choose it, PUT /v1/restaurants/{id}',
      error_uri: `${t.url}/docs/errors#invalid_restaurant`,
      errors: [{ field: 'id', error: 'readOnly', error_description: 'The id of a restaurant is assigned by the server; to choose it, PUT /v1/restaurants/{id}' }],
    });
  });

  test('validation reports every problem at once', async () => {
    const res = await t.post('/v1/restaurants', { type: 'german', rating: 9, colour: 'red', zipcode: 'abc', address: { city: 3 } });
    assert.equal(res.status, 400);
    const body = res.body as { error: string; errors: { field: string; error: string }[] };
    assert.equal(body.error, 'invalid_restaurant');
    assert.deepEqual(
      body.errors.map((e) => `${e.field}:${e.error}`).sort(),
      ['address.city:type', 'colour:unknown', 'name:required', 'rating:maximum', 'type:enum', 'zipcode:pattern'],
    );
    assert.deepEqual(body.errors.find((e) => e.field === 'type'), { field: 'type', error: 'enum', error_description: "'type' must be one of thai, chinese, japanese, italian, french, indian" });
  });

  test('a body that is not an object is 400', async () => {
    const res = await t.post('/v1/restaurants', [1, 2]);
    assert.equal(res.status, 400);
    assert.equal((res.body as { error: string }).error, 'invalid_restaurant');
  });

  test('PUT on an absent item creates it with that id: 201 and Location', async () => {
    const res = await t.request('PUT', '/v1/restaurants/5000', { body: { name: 'Chosen', type: 'thai' } });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('location'), `${t.url}/v1/restaurants/5000`);
    assert.equal((res.body as { id: number }).id, 5000);
  });

  test('PUT replaces: absent fields are cleared to their default or null', async () => {
    const created = await t.post('/v1/restaurants', { name: 'Full', type: 'thai', rating: 3, reviews: 12, zipcode: '75011' });
    const id = (created.body as { id: number }).id;
    const res = await t.request('PUT', `/v1/restaurants/${id}`, { body: { id, name: 'Replaced', type: 'indian' } });
    assert.equal(res.status, 200);
    assert.deepEqual(withoutTimestamps(res.body), { id, name: 'Replaced', type: 'indian', rating: null, reviews: 0, days: null, zipcode: null, address: null, photo: null });
    const missing = await t.request('PUT', `/v1/restaurants/${id}`, { body: { type: 'indian' } });
    assert.equal(missing.status, 400);
    assert.deepEqual((missing.body as { errors: unknown[] }).errors, [{ field: 'name', error: 'required', error_description: "'name' is required" }]);
    const mismatch = await t.request('PUT', `/v1/restaurants/${id}`, { body: { id: id + 1, name: 'X', type: 'thai' } });
    assert.equal(mismatch.status, 400);
  });

  test('PATCH merges (RFC 7396), with application/json or merge-patch+json', async () => {
    const created = await t.post('/v1/restaurants', { name: 'Patchable', type: 'thai', rating: 1, address: { street: '1 rue X', city: 'Paris' } });
    const id = (created.body as { id: number }).id;
    const res = await t.request('PATCH', `/v1/restaurants/${id}`, {
      raw: JSON.stringify({ rating: 5, address: { city: null } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    assert.equal(res.status, 200);
    const body = res.body as Record<string, unknown>;
    assert.equal(body.rating, 5);
    assert.equal(body.name, 'Patchable');
    assert.deepEqual(body.address, { street: '1 rue X' });
    const bad = await t.request('PATCH', `/v1/restaurants/${id}`, { body: { rating: 'five' } });
    assert.equal(bad.status, 400);
    assert.deepEqual((bad.body as { errors: unknown[] }).errors, [{ field: 'rating', error: 'type', error_description: "'rating' must be an integer" }]);
  });

  test('DELETE is 204 with no body; the item is then 404 in the documented format', async () => {
    const created = await t.post('/v1/restaurants', { name: 'Doomed', type: 'thai' });
    const id = (created.body as { id: number }).id;
    const res = await t.request('DELETE', `/v1/restaurants/${id}`);
    assert.equal(res.status, 204);
    assert.equal(res.text, '');
    const gone = await t.get(`/v1/restaurants/${id}`);
    assert.equal(gone.status, 404);
    assert.deepEqual(gone.body, {
      error: 'not_found',
      error_description: `The restaurant with the id '${id}' doesn't exist`,
      error_uri: `${t.url}/docs/errors#not_found`,
    });
    assert.equal((await t.get('/v1/restaurants/abc')).status, 404);
  });

  test('Prefer: return=minimal gives 204 with Location; return=representation is honoured', async () => {
    const res = await t.post('/v1/restaurants', { name: 'Minimal', type: 'thai' }, { prefer: 'return=minimal' });
    assert.equal(res.status, 204);
    assert.equal(res.text, '');
    assert.match(res.headers.get('location') ?? '', new RegExp(`^${t.url}/v1/restaurants/\\d+$`));
    assert.equal(res.headers.get('preference-applied'), 'return=minimal');
    const id = (res.headers.get('location') as string).split('/').pop();
    const patched = await t.request('PATCH', `/v1/restaurants/${id}`, { body: { rating: 2 }, headers: { prefer: 'return=minimal' } });
    assert.equal(patched.status, 204);
    const deleted = await t.request('DELETE', `/v1/restaurants/${id}`, { headers: { prefer: 'return=representation' } });
    assert.equal(deleted.status, 200);
    assert.equal((deleted.body as { rating: number }).rating, 2);
  });

  test('unique fields: a duplicate is 409 conflict', async () => {
    const first = await t.post('/v1/clients', { name: 'Unique', email: 'unique@example.com' });
    assert.equal(first.status, 201);
    const dup = await t.post('/v1/clients', { name: 'Other', email: 'unique@example.com' });
    assert.equal(dup.status, 409);
    assert.deepEqual(dup.body, {
      error: 'conflict',
      error_description: 'Another client already has this email',
      error_uri: `${t.url}/docs/errors#conflict`,
      fields: ['email'],
    });
  });
});

describe('methods, media types and errors', () => {
  test('POST on an item is 405 with Allow', async () => {
    const res = await t.post('/v1/restaurants/1', { name: 'x' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD, PUT, PATCH, DELETE, OPTIONS');
    assert.equal((res.body as { error: string }).error, 'method_not_allowed');
  });

  test('PATCH on a collection is 405 with Allow', async () => {
    const res = await t.request('PATCH', '/v1/restaurants', { body: {} });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD, POST, PUT, DELETE, OPTIONS');
  });

  test('an unsupported Content-Type is 415', async () => {
    const res = await t.request('POST', '/v1/restaurants', { raw: 'name=x', headers: { 'content-type': 'text/plain' } });
    assert.equal(res.status, 415);
    assert.deepEqual(res.body, {
      error: 'unsupported_media_type',
      error_description: "Content-Type 'text/plain' is not supported here; use one of: application/json, application/merge-patch+json, application/x-www-form-urlencoded, application/xml",
      error_uri: `${t.url}/docs/errors#unsupported_media_type`,
      supported: ['application/json', 'application/merge-patch+json', 'application/x-www-form-urlencoded', 'application/xml'],
    });
  });

  test('malformed JSON is 400 invalid_body', async () => {
    const res = await t.request('POST', '/v1/restaurants', { raw: '{"name": "x",', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 400);
    assert.equal((res.body as { error: string }).error, 'invalid_body');
    assert.match((res.body as { error_description: string }).error_description, /^The body is not valid JSON/);
  });

  test('a prototype-poisoning body is refused with 400', async () => {
    const res = await t.request('POST', '/v1/restaurants', { raw: '{"name":"x","type":"thai","__proto__":{"admin":true}}', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 400);
  });

  test('a body over the limit is 413', async () => {
    const small = await startServer({ config: { limits: { bodyBytes: 1024 } } });
    try {
      const res = await small.post('/v1/restaurants', { name: 'x'.repeat(2000), type: 'thai' });
      assert.equal(res.status, 413);
      assert.deepEqual(res.body, {
        error: 'payload_too_large',
        error_description: 'The body is larger than the limit of 1024 bytes',
        error_uri: `${small.url}/docs/errors#payload_too_large`,
      });
    } finally {
      await small.close();
    }
  });

  test('form bodies are read with values coerced by field type', async () => {
    const res = await t.request('POST', '/v1/restaurants', {
      raw: 'name=Form+Bistro&type=thai&rating=3&days=monday&days=friday&address.city=Paris&address%5Bstreet%5D=2+rue+Y',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(res.status, 201);
    const body = res.body as Record<string, unknown>;
    assert.equal(body.rating, 3);
    assert.deepEqual(body.days, ['monday', 'friday']);
    assert.deepEqual(body.address, { city: 'Paris', street: '2 rue Y' });
  });

  test('HEAD has the headers of GET and no body; OPTIONS answers Allow', async () => {
    const get = await t.get('/v1/restaurants?range=0-4');
    const head = await t.request('HEAD', '/v1/restaurants?range=0-4');
    assert.equal(head.status, 206);
    assert.equal(head.text, '');
    for (const h of ['content-range', 'accept-range', 'link', 'etag', 'content-type']) assert.equal(head.headers.get(h), get.headers.get(h), h);
    const options = await t.request('OPTIONS', '/v1/restaurants/1');
    assert.equal(options.status, 204);
    assert.equal(options.headers.get('allow'), 'GET, HEAD, PUT, PATCH, DELETE, OPTIONS');
  });

  test('an unknown path is a JSON 404, never an HTML page', async () => {
    // An unknown version (/v2/restaurants) is 404 unknown_version: http-versions.test.ts.
    for (const path of ['/nope', '/v1/nope', '/v1/restaurants/1/nope/2']) {
      const res = await t.get(path);
      assert.equal(res.status, 404, path);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.deepEqual(res.body, { error: 'not_found', error_description: `There is nothing at GET ${path}`, error_uri: `${t.url}/docs/errors#not_found` });
    }
  });

  test('errors as RFC 9457 problem documents on request', async () => {
    const res = await t.get('/v1/restaurants/999999', { accept: 'application/problem+json' });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.deepEqual(res.body, {
      type: `${t.url}/docs/errors#not_found`,
      title: 'Not found',
      status: 404,
      detail: "The restaurant with the id '999999' doesn't exist",
      instance: '/v1/restaurants/999999',
      error: 'not_found',
    });
  });

  test('X-Request-Id is taken when given and made when not', async () => {
    const given = await t.get('/health', { 'x-request-id': 'trace-123' });
    assert.equal(given.headers.get('x-request-id'), 'trace-123');
    assert.deepEqual(given.body, { status: 'ok' });
    const made = await t.get('/health');
    assert.match(made.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    const ready = await t.get('/ready');
    assert.deepEqual(ready.body, { status: 'ready' });
  });

  test('GET /v1 lists every collection and operation with links', async () => {
    const res = await t.get('/v1');
    assert.equal(res.status, 200);
    const body = res.body as { name: string; resources: { name: string; href: string }[]; operations: { name: string; href: string; method: string }[]; links: { rel: string }[] };
    assert.equal(body.name, 'Fake Company');
    assert.deepEqual(body.resources.map((r) => r.name), ['restaurants', 'dishes', 'clients', 'orders']);
    assert.equal(body.resources[0]?.href, `${t.url}/v1/restaurants`);
    assert.deepEqual(body.operations.map((o) => [o.name, o.href, o.method]), [
      ['calculator.sum', `${t.url}/v1/calculator/sum`, 'POST'],
      ['convert', `${t.url}/v1/convert`, 'POST'],
    ]);
    assert.ok(body.links.some((l) => l.rel === 'self'));
  });
});

describe('bulk writes are all or nothing', () => {
  test('PUT on a collection replaces every item of the body, or none', async () => {
    const before = (await t.get('/v1/dishes/1')).body as Record<string, unknown>;
    const bad = await t.request('PUT', '/v1/dishes', {
      body: [
        { id: 1, restaurantId: 1, name: 'Renamed 1', price: 10 },
        { id: 2, restaurantId: 1, name: 'Renamed 2', price: 11 },
        { id: 3, restaurantId: 1, name: 'Renamed 3', price: -1 },
      ],
    });
    assert.equal(bad.status, 400);
    assert.deepEqual((bad.body as { errors: unknown[] }).errors, [{ field: '[2].price', error: 'minimum', error_description: "'[2].price' must be >= 0" }]);
    assert.deepEqual((await t.get('/v1/dishes/1')).body, before, 'nothing was written');
    const dangling = await t.request('PUT', '/v1/dishes', {
      body: [
        { id: 1, restaurantId: 1, name: 'Renamed 1', price: 10 },
        { id: 9001, restaurantId: 99999, name: 'New', price: 1 },
      ],
    });
    assert.equal(dangling.status, 400);
    assert.deepEqual((dangling.body as { errors: unknown[] }).errors, [{ field: '[1].restaurantId', error: 'reference', error_description: "There is no restaurant with the id '99999'" }]);
    assert.deepEqual((await t.get('/v1/dishes/1')).body, before, 'the first item was rolled back');
    const good = await t.request('PUT', '/v1/dishes', {
      body: [
        { id: 1, restaurantId: 1, name: 'Renamed 1', price: 10 },
        { id: 9002, restaurantId: 1, name: 'Brand new', price: 4.5 },
      ],
    });
    assert.equal(good.status, 200);
    assert.deepEqual(good.body, [
      { id: 1, restaurantId: 1, name: 'Renamed 1', price: 10, vegetarian: false, tags: null },
      { id: 9002, restaurantId: 1, name: 'Brand new', price: 4.5, vegetarian: false, tags: null },
    ]);
  });

  test('DELETE on a collection deletes every match, or nothing', async () => {
    const client = (await t.post('/v1/clients', { name: 'Bulk', email: 'bulk@example.com' })).body as { id: number };
    for (let i = 0; i < 3; i++) await t.post('/v1/orders', { clientId: client.id, restaurantId: 1, orderValue: 10 + i });
    const none = await t.request('DELETE', '/v1/orders');
    assert.equal(none.status, 400);
    assert.equal((none.body as { error: string }).error, 'invalid_request');
    // Clients 1-3 have orders (restrict): the whole request fails and nothing goes.
    const blocked = await t.request('DELETE', `/v1/clients?id=1,2,3,${client.id}`);
    assert.equal(blocked.status, 409);
    assert.equal((await t.get(`/v1/clients/${client.id}`)).status, 200);
    const res = await t.request('DELETE', `/v1/orders?clientId=${client.id}&orderValue[lt]=12`);
    assert.equal(res.status, 204);
    const left = await t.get(`/v1/clients/${client.id}/orders`);
    assert.deepEqual((left.body as { orderValue: number }[]).map((o) => o.orderValue), [12]);
  });
});

describe('relations', () => {
  test('nested collections: scoped lists, 404 for a missing parent, nested Location', async () => {
    const list = await t.get('/v1/clients/1/orders?range=0-9');
    assert.ok([200, 206].includes(list.status));
    assert.ok((list.body as { clientId: number }[]).every((o) => o.clientId === 1));
    const missing = await t.get('/v1/clients/999/orders');
    assert.equal(missing.status, 404);
    assert.equal((missing.body as { error_description: string }).error_description, "The client with the id '999' doesn't exist");
    const created = await t.post('/v1/clients/1/orders', { restaurantId: 2, orderValue: 20 });
    assert.equal(created.status, 201);
    const order = created.body as { id: number; clientId: number; state: string };
    assert.equal(order.clientId, 1);
    assert.equal(order.state, 'placed');
    assert.equal(created.headers.get('location'), `${t.url}/v1/clients/1/orders/${order.id}`);
    assert.equal((await t.get(`/v1/clients/1/orders/${order.id}`)).status, 200);
    assert.equal((await t.get(`/v1/clients/2/orders/${order.id}`)).status, 404);
    const wrongParent = await t.post('/v1/clients/1/orders', { clientId: 2, restaurantId: 2 });
    assert.equal(wrongParent.status, 400);
    assert.deepEqual((wrongParent.body as { errors: unknown[] }).errors, [{ field: 'clientId', error: 'parent', error_description: "'clientId' must be 1 under this path" }]);
  });

  test('a dangling reference is 400 invalid_<singular>', async () => {
    const res = await t.post('/v1/orders', { clientId: 9999, restaurantId: 1 });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, {
      error: 'invalid_order',
      error_description: "There is no client with the id '9999'",
      error_uri: `${t.url}/docs/errors#invalid_order`,
      errors: [{ field: 'clientId', error: 'reference', error_description: "There is no client with the id '9999'" }],
    });
  });

  test('deleting a referenced item is 409; onDelete: cascade deletes the children', async () => {
    const res = await t.request('DELETE', '/v1/clients/1');
    assert.equal(res.status, 409);
    assert.equal((res.body as { error: string }).error, 'conflict');
    assert.match((res.body as { error_description: string }).error_description, /^The client '1' is referenced by \d+ orders; delete them first$/);
    const restaurant = (await t.post('/v1/restaurants', { name: 'Cascade', type: 'thai' })).body as { id: number };
    const dish = (await t.post('/v1/dishes', { restaurantId: restaurant.id, name: 'Soup', price: 3 })).body as { id: number };
    assert.equal((await t.request('DELETE', `/v1/restaurants/${restaurant.id}`)).status, 204);
    assert.equal((await t.get(`/v1/dishes/${dish.id}`)).status, 404);
  });

  test('a state machine refuses moves it does not list: 409 invalid_transition', async () => {
    const order = (await t.post('/v1/orders', { clientId: 2, restaurantId: 3 })).body as { id: number };
    const res = await t.request('PATCH', `/v1/orders/${order.id}`, { body: { state: 'paid' } });
    assert.equal(res.status, 409);
    assert.deepEqual(res.body, {
      error: 'invalid_transition',
      error_description: "Cannot move state from 'placed' to 'paid'; allowed next states: 'preparing', 'cancelled'",
      error_uri: `${t.url}/docs/errors#invalid_transition`,
      allowed: ['preparing', 'cancelled'],
    });
    const ok = await t.request('PATCH', `/v1/orders/${order.id}`, { body: { state: 'preparing' } });
    assert.equal(ok.status, 200);
    assert.equal((ok.body as { state: string }).state, 'preparing');
    const start = await t.post('/v1/orders', { clientId: 2, restaurantId: 3, state: 'served' });
    assert.equal(start.status, 409);
  });
});

describe('operations', () => {
  test('POST /v1/calculator/sum [1,2,3,5,8,13,21] → {"result":53}', async () => {
    const res = await t.post('/v1/calculator/sum', [1, 2, 3, 5, 8, 13, 21]);
    assert.equal(res.status, 200);
    assert.equal(res.text, '{"result":53}');
  });

  test('POST /v1/convert?from=EUR&to=USD&amount=42 takes its input from the query', async () => {
    const res = await t.request('POST', '/v1/convert?from=EUR&to=USD&amount=42');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { result: 45.36 });
    const body = await t.post('/v1/convert', { from: 'USD', to: 'EUR', amount: 108 });
    assert.deepEqual(body.body, { result: 100 });
  });

  test('invalid operation input is 400 with every problem', async () => {
    const res = await t.post('/v1/calculator/sum', [1, 'two', 3]);
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, {
      error: 'invalid_request',
      error_description: "The input of calculator/sum is not valid: '[1]' must be a number",
      error_uri: `${t.url}/docs/errors#invalid_request`,
      errors: [{ field: '[1]', error: 'type', error_description: "'[1]' must be a number" }],
    });
    const convert = await t.request('POST', '/v1/convert?from=EUR&to=XXX');
    assert.equal(convert.status, 400);
    assert.deepEqual((convert.body as { errors: { field: string }[] }).errors.map((e) => e.field).sort(), ['amount', 'to']);
  });

  test('operations answer POST only', async () => {
    const res = await t.get('/v1/calculator/sum');
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST, OPTIONS');
  });
});
