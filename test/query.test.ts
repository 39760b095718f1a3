/** Collection queries (SPEC §4.3–§4.6): pagination, filters, sort, fields, embedding, search. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ApiSpec } from '../src/schema/types.js';
import type { ListResult } from '../src/service/types.js';
import { memoByText, TextMemory } from '../src/memo.js';
import { linkHeader } from '../src/protocols/rest/headers.js';
import { startServer, type TestServer } from './helpers.js';

let demo: TestServer;
let big: TestServer;

/** 971 orders, as in SPEC §4.3's example. */
const bigSchema: ApiSpec = {
  api: { name: 'Big' },
  resources: {
    orders: {
      access: 'public',
      maxRange: 50,
      fields: { n: { type: 'integer', index: true }, group: { type: 'string', enum: ['a', 'b', 'c'] }, note: { type: 'string' } },
    },
  },
};

before(async () => {
  demo = await startServer();
  big = await startServer({ schema: bigSchema });
  await big.server.store.transaction(async (tx) => {
    for (let i = 0; i < 971; i++) await tx.insert('orders', { n: i % 97, group: ['a', 'b', 'c'][i % 3], note: i % 5 === 0 ? null : `note ${i}` });
  });
});
after(async () => {
  await demo.close();
  await big.close();
});

const ids = (body: unknown) => (body as { id: number }[]).map((r) => r.id);
function links(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(/,\s*(?=<)/)) {
    const m = /^<([^>]+)>; rel="([^"]+)"$/.exec(part.trim());
    if (m) out[m[2] as string] = m[1] as string;
  }
  return out;
}

describe('pagination', () => {
  test("SPEC §4.3's example: 971 orders, range=48-55", async () => {
    const res = await big.get('/v1/orders?range=48-55');
    assert.equal(res.status, 206);
    assert.equal(res.headers.get('content-range'), '48-55/971');
    assert.equal(res.headers.get('accept-range'), 'order 50');
    assert.deepEqual(ids(res.body), [49, 50, 51, 52, 53, 54, 55, 56]);
    const l = links(res.headers.get('link'));
    assert.equal(l.first, `${big.url}/v1/orders?range=0-7`);
    assert.equal(l.prev, `${big.url}/v1/orders?range=40-47`);
    assert.equal(l.next, `${big.url}/v1/orders?range=56-63`);
    assert.equal(l.last, `${big.url}/v1/orders?range=963-970`);
    assert.match(l['next-cursor'] ?? '', new RegExp(`^${big.url}/v1/orders\\?after=[A-Za-z0-9_-]+&limit=8$`));
  });

  test('links keep every other query parameter; no prev on the first page, no next on the last', async () => {
    const first = await big.get('/v1/orders?group=a&sort=n&range=0-9');
    const l = links(first.headers.get('link'));
    assert.deepEqual(Object.keys(l).sort(), ['first', 'last', 'next', 'next-cursor']);
    assert.equal(l.next, `${big.url}/v1/orders?group=a&sort=n&range=10-19`);
    assert.equal(first.headers.get('content-range'), '0-9/324');
    const last = await big.get('/v1/orders?group=a&sort=n&range=320-329');
    assert.equal(last.headers.get('content-range'), '320-323/324');
    assert.deepEqual(Object.keys(links(last.headers.get('link'))).sort(), ['first', 'last', 'prev']);
  });

  test('limit/offset is the same as a range, and links keep that style', async () => {
    const a = await big.get('/v1/orders?offset=48&limit=8');
    const b = await big.get('/v1/orders?range=48-55');
    assert.equal(a.text, b.text);
    assert.equal(a.headers.get('content-range'), '48-55/971');
    assert.equal(links(a.headers.get('link')).next, `${big.url}/v1/orders?offset=56&limit=8`);
    assert.equal((await big.get('/v1/orders?range=0-4&limit=5')).status, 400);
  });

  test('memoByText computes a text once, and starts over past its bound; a TextMemory forgets on clear (unit)', () => {
    const seen: string[] = [];
    const upper = memoByText((text) => (seen.push(text), text.toUpperCase()), 2);
    assert.deepEqual([upper('a'), upper('a'), upper('b'), upper('a')], ['A', 'A', 'B', 'A']);
    assert.deepEqual(seen, ['a', 'b']);
    upper('c'); // the third text: the memory starts over with it alone
    upper('a');
    assert.deepEqual(seen, ['a', 'b', 'c', 'a']);
    const memory = new TextMemory<number>();
    assert.equal(memory.get('x', (t) => t.length), 1);
    assert.equal(memory.get('x', () => 2), 1, 'remembered');
    memory.clear();
    assert.equal(memory.get('x', () => 2), 2, 'forgotten after clear');
  });

  test('page links: the other parameters encoded once, `,` `*` `(` `)` kept readable, the page parameters replaced (unit)', () => {
    const params = new URLSearchParams('name=*ca fé*&fields=id,name&range=10-19&after=x&sort=-rating');
    const page: ListResult = { items: [], first: 10, last: 19, total: 45, count: 'exact', estimated: false, nextCursor: 'WyJhIiwzXQ', limit: 10, cursorPage: false, acceptRange: 'order 50', columns: [] };
    const q = 'name=*ca+f%C3%A9*&fields=id,name&sort=-rating';
    assert.equal(
      linkHeader('http://h/v1/orders', params, page),
      `<http://h/v1/orders?${q}&range=0-9>; rel="first", <http://h/v1/orders?${q}&range=0-9>; rel="prev", <http://h/v1/orders?${q}&range=20-29>; rel="next", ` +
        `<http://h/v1/orders?${q}&range=35-44>; rel="last", <http://h/v1/orders?${q}&after=WyJhIiwzXQ&limit=10>; rel="next-cursor"`,
    );
    assert.equal(
      linkHeader('http://h/v1/orders', new URLSearchParams('offset=0&limit=10'), { ...page, first: 0, last: 9, nextCursor: null }),
      '<http://h/v1/orders?offset=0&limit=10>; rel="first", <http://h/v1/orders?offset=10&limit=10>; rel="next", <http://h/v1/orders?offset=35&limit=10>; rel="last"',
    );
  });

  test('the default page is 0-(maxRange-1); 200 when it is the whole collection', async () => {
    const res = await big.get('/v1/orders');
    assert.equal(res.headers.get('content-range'), '0-49/971');
    assert.equal(res.status, 206);
    const whole = await demo.get('/v1/restaurants?type=chinese');
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('content-range'), '0-11/12');
    const empty = await demo.get('/v1/restaurants?name=Nobody');
    assert.equal(empty.status, 200);
    assert.equal(empty.headers.get('content-range'), '*/0');
    assert.equal(empty.text, '[]');
  });

  test('over maxRange: 400 with Accept-Range; malformed: 400; past the end: 416', async () => {
    const over = await big.get('/v1/orders?range=0-50');
    assert.equal(over.status, 400);
    assert.equal(over.headers.get('accept-range'), 'order 50');
    assert.deepEqual(over.body, { error: 'invalid_range', error_description: 'Requested range not allowed', error_uri: `${big.url}/docs/errors#invalid_range` });
    for (const bad of ['5-2', 'x', '1-', '-3', '1-2-3']) {
      const res = await big.get(`/v1/orders?range=${bad}`);
      assert.equal(res.status, 400, bad);
      assert.equal((res.body as { error: string }).error, 'invalid_range', bad);
    }
    const past = await big.get('/v1/orders?range=980-989');
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), '*/971');
    assert.equal((past.body as { error: string }).error, 'range_not_satisfiable');
  });

  test('cursor pages walk the whole collection in order, without overlap', async () => {
    let url: string | undefined = '/v1/orders?sort=n&desc=n&limit=50';
    const seen: number[] = [];
    let pages = 0;
    while (url) {
      const res = await big.get(url);
      assert.equal(res.status, 206);
      seen.push(...ids(res.body));
      const next = links(res.headers.get('link'))['next-cursor'];
      url = next ? next.slice(big.url.length) : undefined;
      pages++;
    }
    assert.equal(pages, 20);
    assert.equal(seen.length, 971);
    assert.equal(new Set(seen).size, 971);
    const byRange = await big.get('/v1/orders?sort=n&desc=n&range=0-49');
    assert.deepEqual(seen.slice(0, 50), ids(byRange.body));
    const cursor = new URL(big.url + url_after(byRange)).searchParams.get('after') as string;
    assert.equal((await big.get(`/v1/orders?sort=n&desc=n&after=${cursor}`)).status, 206);
    const wrongSort = await big.get(`/v1/orders?sort=group&after=${cursor}`);
    assert.equal(wrongSort.status, 400);
    assert.equal((await big.get('/v1/orders?after=garbage')).status, 400);
  });

  test('Prefer: count=none and count=estimated', async () => {
    const none = await big.get('/v1/orders?range=0-24', { prefer: 'count=none' });
    assert.equal(none.status, 206);
    assert.equal(none.headers.get('content-range'), '0-24/*');
    assert.equal(none.headers.get('preference-applied'), 'count=none');
    assert.equal(links(none.headers.get('link')).last, undefined);
    assert.equal(links(none.headers.get('link')).next, `${big.url}/v1/orders?range=25-49`);
    const estimated = await big.get('/v1/orders?range=0-24', { prefer: 'count=estimated' });
    assert.equal(estimated.headers.get('preference-applied'), 'count=estimated');
    assert.equal(estimated.headers.get('content-range'), '0-24/971', 'below the threshold the estimate is exact');
  });
});

function url_after(res: { headers: Headers }): string {
  const next = links(res.headers.get('link'))['next-cursor'] as string;
  return next.slice(next.indexOf('?'));
}

describe('filters', () => {
  test('comma = any of, different fields = all, typed values', async () => {
    const res = await demo.get('/v1/restaurants?type=japanese,chinese&rating=4,5');
    const body = res.body as { type: string; rating: number }[];
    assert.ok(body.length > 0);
    assert.ok(body.every((r) => ['japanese', 'chinese'].includes(r.type) && [4, 5].includes(r.rating)));
    const all = (await demo.get('/v1/restaurants?range=0-49')).body as { type: string; rating: number }[];
    assert.equal(body.length, all.filter((r) => ['japanese', 'chinese'].includes(r.type) && [4, 5].includes(r.rating)).length);
  });

  test('array fields: contains; nested fields: dotted paths', async () => {
    const all = (await demo.get('/v1/restaurants?range=0-49')).body as { id: number; days: string[]; address: { city: string } }[];
    const sunday = (await demo.get('/v1/restaurants?days=sunday&range=0-49')).body as { id: number }[];
    assert.deepEqual(sunday.map((r) => r.id), all.filter((r) => r.days.includes('sunday')).map((r) => r.id));
    const lyon = (await demo.get('/v1/restaurants?address.city=Lyon,Lille&range=0-49')).body as { id: number }[];
    assert.deepEqual(lyon.map((r) => r.id), all.filter((r) => ['Lyon', 'Lille'].includes(r.address.city)).map((r) => r.id));
  });

  test('operators: gte gt lt lte ne like null', async () => {
    const all = (await big.get('/v1/orders?range=0-49')).body as { id: number; n: number; note: string | null; group: string }[];
    const check = async (query: string, expected: (r: (typeof all)[number]) => boolean) => {
      const res = await big.get(`/v1/orders?range=0-49&id[lte]=50&${query}`);
      assert.equal(res.status, res.headers.get('content-range') === '*/0' ? 200 : res.status, query);
      assert.deepEqual(ids(res.body), all.filter((r) => r.id <= 50 && expected(r)).map((r) => r.id), query);
    };
    await check('n[gte]=40', (r) => r.n >= 40);
    await check('n[gt]=40', (r) => r.n > 40);
    await check('n[lt]=10', (r) => r.n < 10);
    await check('n[lte]=10&n[gte]=5', (r) => r.n <= 10 && r.n >= 5);
    await check('group[ne]=a,b', (r) => r.group === 'c');
    await check('note[like]=NOTE 1*', (r) => (r.note ?? '').startsWith('note 1'));
    await check('note[null]=true', (r) => r.note === null);
    await check('note[null]=false', (r) => r.note !== null);
  });

  test("unknown property: 400 \"There is no 'payed' property on …\"; wrong types and operators: 400", async () => {
    const res = await demo.get('/v1/restaurants?payed=1');
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, {
      error: 'invalid_request',
      error_description: "There is no 'payed' property on restaurants.",
      error_uri: `${demo.url}/docs/errors#invalid_request`,
    });
    const cases: [string, string][] = [
      ['rating=high', "'high' is not a valid integer for 'rating'."],
      ['rating[gte]=1,2', "'rating[gte]' takes a single value."],
      ['rating[near]=3', "There is no 'near' operator; use one of ne, gt, gte, lt, lte, like, null."],
      ['type=german', "'german' is not a possible value of 'type'; expected one of thai, chinese, japanese, italian, french, indian."],
      ['address.country=FR', "There is no 'address.country' property on restaurants."],
      ['address=Paris', "'address' is an object and cannot be filtered on; name one of its properties (address.…)."],
      ['rating[like]=4*', "'rating' is not text; [like] applies to text fields."],
      ['createdAt[gte]=yesterday', "'yesterday' is not an ISO 8601 date-time for 'createdAt[gte]'."],
    ];
    for (const [query, message] of cases) {
      const r = await demo.get(`/v1/restaurants?${query}`);
      assert.equal(r.status, 400, query);
      assert.equal((r.body as { error_description: string }).error_description, message, query);
    }
  });

  test('hostile query strings get 400, not a hang', async () => {
    const many = Array.from({ length: 10_000 }, (_, i) => `rating=${i % 6}`).join('&');
    const res = await demo.get(`/v1/restaurants?${many}`);
    assert.equal(res.status, 400);
    assert.equal((res.body as { error_description: string }).error_description, 'Too many filters: at most 50 are allowed in one request.');
    const huge = await demo.get(`/v1/restaurants?name=${'x'.repeat(1024 * 1024)}`);
    assert.equal(huge.status, 400);
    assert.equal((huge.body as { error_description: string }).error_description, "The value of 'name' is longer than 2048 characters.");
    const deep = await demo.get(`/v1/orders?fields=${'client('.repeat(20)}name${')'.repeat(20)}`);
    assert.equal(deep.status, 400);
    const unbalanced = await demo.get('/v1/orders?fields=client(name');
    assert.equal(unbalanced.status, 400);
    const manyValues = await demo.get(`/v1/restaurants?rating=${Array.from({ length: 1000 }, () => '1').join(',')}`);
    assert.equal(manyValues.status, 400);
  });
});

describe('sort', () => {
  test("SPEC §4.4's example: filters, sort and range combine", async () => {
    const res = await demo.get('/v1/restaurants?type=chinese&sort=rating,name&desc=rating&range=0-4');
    assert.equal(res.status, 206);
    assert.equal(res.headers.get('content-range'), '0-4/12');
    assert.equal(res.headers.get('accept-range'), 'restaurant 50');
    const body = res.body as { rating: number; name: string }[];
    const all = ((await demo.get('/v1/restaurants?type=chinese')).body as { id: number; rating: number; name: string }[]).sort(
      (a, b) => b.rating - a.rating || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || a.id - b.id,
    );
    assert.deepEqual(body, all.slice(0, 5));
  });

  test('bare desc sorts every field descending; the key breaks ties so pages never overlap', async () => {
    const desc = await big.get('/v1/orders?desc&range=0-4');
    assert.deepEqual(ids(desc.body), [971, 970, 969, 968, 967]);
    const seen: number[] = [];
    for (let first = 0; first < 971; first += 50) {
      const res = await big.get(`/v1/orders?sort=group&range=${first}-${first + 49}`);
      seen.push(...ids(res.body));
    }
    assert.equal(new Set(seen).size, 971);
    const groupsThenIds = (await big.get('/v1/orders?sort=group&range=320-325')).body as { id: number; group: string }[];
    assert.deepEqual(groupsThenIds.map((r) => r.group), ['a', 'a', 'a', 'a', 'b', 'b']);
    assert.ok((groupsThenIds[0]?.id as number) < (groupsThenIds[1]?.id as number));
  });

  test('unknown sort field: 400', async () => {
    const res = await demo.get('/v1/restaurants?sort=stars');
    assert.equal(res.status, 400);
    assert.equal((res.body as { error_description: string }).error_description, "There is no 'stars' property on restaurants.");
    assert.equal((await demo.get('/v1/restaurants?sort=days')).status, 400);
    assert.equal((await demo.get('/v1/restaurants?sort=name&desc=rating')).status, 400);
  });
});

describe('partial responses and embedding', () => {
  test('fields on items and collections; the key is always there', async () => {
    const item = await demo.get('/v1/clients/1?fields=firstname,name,address(street)');
    assert.deepEqual(item.body, { id: 1, firstname: 'James', name: 'Bond', address: { street: 'Horsen Ferry Road' } });
    const list = await demo.get('/v1/clients?fields=name&range=0-1');
    assert.deepEqual(list.body, [{ id: 1, name: 'Bond' }, { id: 2, name: 'Martin' }]);
    const unknown = await demo.get('/v1/clients?fields=name,shoeSize');
    assert.equal(unknown.status, 400);
    assert.equal((unknown.body as { error_description: string }).error_description, "There is no 'shoeSize' property on clients.");
  });

  test('relations embed both ways, in a constant number of SQL statements', async () => {
    const order = (await demo.get('/v1/orders/12')).body as { clientId: number };
    const embedded = await demo.get('/v1/orders/12?fields=state,client(name,address(city))');
    const client = (await demo.get(`/v1/clients/${order.clientId}`)).body as { name: string; address: { city: string } };
    assert.deepEqual(embedded.body, { id: 12, state: (await demo.get('/v1/orders/12?fields=state')).body && (embedded.body as { state: string }).state, client: { id: order.clientId, name: client.name, address: { city: client.address.city } } });
    const reverse = await demo.get('/v1/clients/1?fields=name,orders(state)');
    const clientOrders = (await demo.get('/v1/clients/1/orders?fields=state&range=0-9')).body as unknown[];
    assert.deepEqual(reverse.body, { id: 1, name: 'Bond', orders: clientOrders.slice(0, 10) });

    const stats = demo.server.store.stats;
    const cost = async (path: string) => {
      const before = stats.statements;
      const res = await demo.get(path);
      assert.ok(res.status === 200 || res.status === 206, path);
      return stats.statements - before;
    };
    const one = await cost('/v1/orders?range=0-0&fields=state,client(name),restaurant(name,dishes(name))');
    const ten = await cost('/v1/orders?range=0-9&fields=state,client(name),restaurant(name,dishes(name))');
    assert.equal(one, 5, 'page, count, clients, restaurants, dishes');
    assert.equal(ten, one, 'the same number of statements for 1 or 10 orders');
    const parents = await cost('/v1/clients?range=0-9&fields=name,orders(state,restaurant(name))');
    assert.equal(parents, 4, 'page, count, orders, restaurants');
  });
});

describe('search', () => {
  test("SPEC §4.6's envelope: count, range, query, suggestions, results", async () => {
    const res = await demo.get('/v1/restaurants/search?name=*napoli*&sort=name&range=0-9');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('accept-range'), 'search 50');
    assert.equal(res.headers.get('content-range'), '0-2/3');
    const body = res.body as { count: number; range: string; query: string; suggestions: string[]; results: { name: string }[] };
    assert.equal(body.count, 3);
    assert.equal(body.range, '0-2');
    assert.equal(body.query, 'name=*napoli*');
    assert.deepEqual(body.results.map((r) => r.name), ['Le Napolitain', 'Napolitano', 'Pizzeria Napoli']);
    assert.deepEqual(body.suggestions, ['napolitain', 'napolitano']);
    const paged = await demo.get('/v1/restaurants/search?name=*a*&range=0-1');
    assert.equal(paged.status, 206);
    assert.equal((paged.body as { range: string }).range, '0-1');
  });

  test('patterns are whole-value, case- and accent-insensitive, and combine with filters', async () => {
    const accent = await demo.get('/v1/restaurants/search?name=*PEKIN*');
    assert.deepEqual((accent.body as { results: { name: string }[] }).results.map((r) => r.name), ['Jardin de Pékin']);
    const prefix = await demo.get('/v1/restaurants/search?name=le*&type=chinese,french&fields=name&sort=name');
    const results = (prefix.body as { results: { id: number; name: string }[] }).results;
    assert.deepEqual(results.map((r) => r.name), ['Le Grand Canton', 'Le Lotus Bleu', 'Le Mandarin Céleste', 'Le Napolitain', 'Le Petit Zinc']);
    assert.deepEqual(Object.keys(results[0] as object), ['id', 'name'], 'fields apply to search results');
    const whole = await demo.get('/v1/restaurants/search?name=napoli');
    assert.equal((whole.body as { count: number }).count, 0, 'without * the whole value must match');
    const zip = await demo.get('/v1/restaurants/search?zipcode=750*&range=0-0');
    assert.equal(zip.status, 206);
  });

  test('suggestions fall back to close words when nothing completes the pattern', async () => {
    const res = await demo.get('/v1/restaurants/search?name=*napili*');
    assert.equal((res.body as { count: number }).count, 0);
    assert.deepEqual((res.body as { suggestions: string[] }).suggestions, ['napoli']);
  });

  test('global search: every word must match, ranked across resources', async () => {
    const res = await demo.get('/v1/search?q=napoli');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('accept-range'), 'search 50');
    const hits = res.body as { resource: string; id: number; href: string; score: number; item: { name: string } }[];
    assert.ok(hits.length >= 1);
    for (const h of hits) {
      assert.equal(h.href, `${demo.url}/v1/${h.resource}/${h.id}`);
      assert.equal(typeof h.score, 'number');
      assert.match(h.item.name.normalize('NFD').toLowerCase(), /napoli/);
    }
    const both = await demo.get('/v1/search?q=canard+laque&range=0-4');
    assert.equal(both.status, 206);
    assert.equal(both.headers.get('content-range'), '0-4/12', 'one Canard laqué per chinese restaurant');
    assert.ok((both.body as { resource: string; item: { name: string } }[]).every((h) => h.resource === 'dishes' && h.item.name === 'Canard laqué'));
    assert.equal(((await demo.get('/v1/search?q=canard+pizza')).body as unknown[]).length, 0, 'every word must match');
    assert.equal((await demo.get('/v1/search')).status, 400);
  });

  test('the index follows writes in the same transaction', async () => {
    const created = (await demo.post('/v1/restaurants', { name: 'Trattoria Zucchero', type: 'italian' })).body as { id: number };
    const found = await demo.get('/v1/restaurants/search?name=*zucch*');
    assert.deepEqual((found.body as { results: { id: number }[] }).results.map((r) => r.id), [created.id]);
    await demo.request('PATCH', `/v1/restaurants/${created.id}`, { body: { name: 'Trattoria Limone' } });
    assert.equal(((await demo.get('/v1/restaurants/search?name=*zucch*')).body as { count: number }).count, 0);
    assert.equal(((await demo.get('/v1/restaurants/search?name=*limone*')).body as { count: number }).count, 1);
    await demo.request('DELETE', `/v1/restaurants/${created.id}`);
    assert.equal(((await demo.get('/v1/restaurants/search?name=*limone*')).body as { count: number }).count, 0);
  });

  test('a resource without search fields has no search route', async () => {
    assert.equal((await demo.get('/v1/orders/search?state=ready')).status, 404);
  });
});
