/**
 * SPEC §9: a typed TypeScript client generated from the OpenAPI document with the ecosystem's
 * tools — openapi-typescript's `examples/client/schema.d.ts`, used with openapi-fetch — works
 * against a live demo: the types compile (this file is type-checked with test/tsconfig.json),
 * a list with a range, a get, a create with a token, and paging by `Link: rel="next"`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createCarteClient, linkTarget, pages, parseContentRange, type components } from '../examples/client/client.js';
import { generateSchema, SCHEMA_FILE } from '../examples/client/generate.js';
import { startServer, type TestServer } from './helpers.js';

type Restaurant = components['schemas']['Restaurant'];

describe('typed client (openapi-typescript + openapi-fetch)', () => {
  let t: TestServer;
  before(async () => {
    t = await startServer();
  });
  after(() => t.close());

  it('the committed schema.d.ts is what openapi-typescript generates from the current document', { timeout: 60_000 }, async () => {
    assert.equal(readFileSync(SCHEMA_FILE, 'utf8'), await generateSchema(), 'examples/client/schema.d.ts is stale: run npm run client:generate');
  });

  it('lists with a range and filters, gets, and creates with a token', async () => {
    const anonymous = createCarteClient({ baseUrl: t.url });
    const list = await anonymous.GET('/v1/restaurants', { params: { query: { range: '0-4', type: ['chinese', 'thai'], sort: ['rating', 'name'], desc: ['rating'] } } });
    assert.equal(list.response.status, 206);
    const items: Restaurant[] = list.data ?? [];
    assert.equal(items.length, 5);
    assert.ok(items.every((r) => r.type === 'chinese' || r.type === 'thai'));
    assert.equal(parseContentRange(list.response.headers.get('content-range'))?.first, 0);
    assert.equal(list.response.headers.get('accept-range'), 'restaurant 50');
    assert.match(linkTarget(list.response.headers.get('link'), 'next') ?? '', /range=5-9/);

    const one = await anonymous.GET('/v1/restaurants/{id}', { params: { path: { id: items[0]?.id ?? 1 }, query: { fields: 'name,rating' } } });
    assert.equal(one.response.status, 200);
    assert.equal(one.data?.id, items[0]?.id);
    assert.equal(typeof one.data?.name, 'string');

    const missing = await anonymous.GET('/v1/restaurants/{id}', { params: { path: { id: 999999 } } });
    assert.equal(missing.response.status, 404);
    assert.equal(missing.error?.error, 'not_found');

    const refused = await anonymous.POST('/v1/restaurants', { body: { name: 'Chez Carte', type: 'french' } });
    assert.equal(refused.response.status, 401);
    assert.equal(refused.error?.error, 'no_credentials');

    const api = createCarteClient({ baseUrl: t.url, token: t.token });
    const created = await api.POST('/v1/restaurants', { body: { name: 'Chez Carte', type: 'french', rating: 4, days: ['monday'], address: { city: 'Lyon' } } });
    assert.equal(created.response.status, 201);
    assert.equal(created.data?.name, 'Chez Carte');
    assert.match(created.response.headers.get('location') ?? '', new RegExp(`/v1/restaurants/${created.data?.id}$`));

    const patched = await api.PATCH('/v1/restaurants/{id}', { params: { path: { id: created.data?.id ?? 0 } }, body: { rating: 5 } });
    assert.equal(patched.data?.rating, 5);

    const sum = await api.POST('/v1/calculator/sum', { body: [1, 2, 3] });
    assert.equal(sum.data?.result, 6);

    // The compiler knows the schema: these do not type-check.
    // @ts-expect-error `type` is an enum
    await api.POST('/v1/restaurants', { body: { name: 'x', type: 'martian' } }).catch(() => undefined);
    // @ts-expect-error no such path
    await api.GET('/v1/nowhere').catch(() => undefined);
  });

  it('pages() follows Link rel="next" through every page of a collection', async () => {
    const api = createCarteClient({ baseUrl: t.url });
    const total = parseContentRange((await api.GET('/v1/orders', { params: { query: { range: '0-0' } } })).response.headers.get('content-range'))?.total;
    assert.equal(total, 300);
    const seen: number[] = [];
    let count = 0;
    for await (const page of pages(api.GET('/v1/orders', { params: { query: { range: '0-9', state: ['paid'] } } }))) {
      count++;
      for (const order of page) {
        assert.equal(order.state, 'paid');
        seen.push(order.id);
      }
    }
    const paid = parseContentRange((await api.GET('/v1/orders', { params: { query: { range: '0-0', state: ['paid'] } } })).response.headers.get('content-range'))?.total ?? 0;
    assert.ok(paid > 10);
    assert.equal(seen.length, paid);
    assert.equal(new Set(seen).size, paid, 'no item twice');
    assert.equal(count, Math.ceil(paid / 10));
  });
});
