/**
 * Versions (SPEC §4.10) on the demo: v1 is current; v0 — before a client's address was
 * structured (seed 003's example) — is still served, deprecated, with its mapping both ways.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildModel, SchemaError } from '../src/schema/validate.js';
import type { ApiSpec } from '../src/schema/types.js';
import { demoSchema } from '../src/demo/schema.js';
import { startHttpServer, type HttpServer } from './http-helpers.js';

let t: HttpServer;
before(async () => {
  t = await startHttpServer();
});
after(() => t.close());

const call = (method: string, path: string, init?: Parameters<HttpServer['request']>[2]) => t.request(method, path, init);
const DEPRECATION = '@1735689600'; // 2025-01-01T00:00:00Z (RFC 9745)
const SUNSET = 'Fri, 01 Jan 2027 00:00:00 GMT'; // RFC 8594

interface Client {
  id: number;
  name: string;
  address: unknown;
  createdAt?: string;
  links: { href: string }[];
}

describe('the previous version', () => {
  test('/v0 shows the old shape (address as one string, no createdAt) with Deprecation and Sunset', async () => {
    const current = await call('GET', '/v1/clients/1');
    assert.equal(current.headers.get('deprecation'), null);
    assert.equal(current.headers.get('sunset'), null);
    const v1 = current.body as Client;
    assert.deepEqual(v1.address, { street: 'Horsen Ferry Road', city: 'London', zipCode: 'SW1P' });
    const old = await call('GET', '/v0/clients/1');
    assert.equal(old.status, 200);
    assert.equal(old.headers.get('deprecation'), DEPRECATION);
    assert.equal(old.headers.get('sunset'), SUNSET);
    const v0 = old.body as Client;
    const { createdAt: _createdAt, links: _l1, address: _a1, ...sameV1 } = v1;
    const { links, address, ...sameV0 } = v0;
    assert.equal(address, 'Horsen Ferry Road, London, SW1P');
    assert.equal('createdAt' in v0, false);
    assert.deepEqual(sameV0, sameV1);
    assert.ok(links.every((l) => l.href.startsWith(`${t.url}/v0/`)), 'links stay in the version the client uses');
    assert.match(old.headers.get('link') ?? '', new RegExp(`^<${t.url}/v0/clients/1>; rel="self"`));
  });

  test('collections, fields, embedded items and XML are mapped too; other resources are unchanged but deprecated', async () => {
    const page = await call('GET', '/v0/clients?range=0-1&fields=name,address');
    assert.deepEqual(page.body, [
      { id: 1, name: 'Bond', address: 'Horsen Ferry Road, London, SW1P' },
      ((await call('GET', '/v0/clients/2?fields=name,address')).body as object),
    ]);
    assert.match(page.headers.get('link') ?? '', new RegExp(`<${t.url}/v0/clients\\?`));
    const order = (await call('GET', '/v0/orders/1?fields=client(name,address)')).body as { client: { address: unknown } };
    assert.equal(typeof order.client.address, 'string');
    const xml = await call('GET', '/v0/clients/1?fields=address', { headers: { accept: 'application/xml' } });
    assert.equal(xml.text, '<?xml version="1.0" encoding="UTF-8"?>\n<client><id>1</id><address>Horsen Ferry Road, London, SW1P</address></client>');
    const restaurants = await call('GET', '/v0/restaurants/1?fields=name');
    assert.equal(restaurants.headers.get('deprecation'), DEPRECATION);
    assert.deepEqual(restaurants.body, (await call('GET', '/v1/restaurants/1?fields=name')).body);
    const discovery = (await call('GET', '/v0')).body as { version: number; resources: { href: string }[]; versions: unknown };
    assert.equal(discovery.version, 0);
    assert.ok(discovery.resources.every((r) => r.href.startsWith(`${t.url}/v0/`)), 'discovery links to v0');
    assert.deepEqual(discovery.versions, [
      { version: 1, href: `${t.url}/v1` },
      { version: 0, href: `${t.url}/v0`, deprecation: '2025-01-01T00:00:00.000Z', sunset: '2027-01-01T00:00:00.000Z' },
    ]);
  });

  test('writes through v0 are converted to the current shape', async () => {
    const created = await call('POST', '/v0/clients', { json: { name: 'Old', email: 'old@example.com', address: '1 Microsoft Way, Redmond, 98053' } });
    assert.equal(created.status, 201);
    const id = (created.body as Client).id;
    assert.equal(created.headers.get('location'), `${t.url}/v0/clients/${id}`);
    assert.equal((created.body as Client).address, '1 Microsoft Way, Redmond, 98053');
    const stored = (await call('GET', `/v1/clients/${id}`)).body as Client;
    assert.deepEqual(stored.address, { street: '1 Microsoft Way', city: 'Redmond', zipCode: '98053' });
    const createdAt = stored.createdAt;
    const patched = await call('PATCH', `/v0/clients/${id}`, { json: { address: 'Via Roma 1, Milano' } });
    assert.equal((patched.body as Client).address, 'Via Roma 1, Milano');
    assert.deepEqual(((await call('GET', `/v1/clients/${id}`)).body as Client).address, { street: 'Via Roma 1', city: 'Milano' });
    const put = await call('PUT', `/v0/clients/${id}`, { json: { name: 'Older', email: 'old@example.com', address: 'a,b,c,d' } });
    assert.equal(put.status, 200);
    const replaced = (await call('GET', `/v1/clients/${id}`)).body as Client;
    assert.deepEqual(replaced.address, { street: 'a', city: 'b', zipCode: 'c,d' }, 'extra pieces stay in the last part');
    assert.equal(replaced.createdAt, createdAt, 'what v0 cannot see is kept');
    const unknown = await call('POST', '/v0/clients', { json: { name: 'X', email: 'x@example.com', createdAt: '2020-01-01T00:00:00Z' } });
    assert.equal(unknown.status, 400);
    assert.deepEqual((unknown.body as { errors: unknown[] }).errors, [{ field: 'createdAt', error: 'unknown', error_description: "There is no 'createdAt' property" }]);
    const typed = await call('POST', '/v0/clients', { json: { name: 'X', email: 'x@example.com', address: { street: 'no' } } });
    assert.deepEqual((typed.body as { errors: unknown[] }).errors, [{ field: 'address', error: 'type', error_description: "'address' must be a string" }]);
  });

  test('old names in queries: a joined field cannot filter or sort; an omitted one is unknown', async () => {
    const filter = await call('GET', '/v0/clients?address=x');
    assert.equal(filter.status, 400);
    assert.equal((filter.body as { error_description: string }).error_description, "In v0, 'address' is one string made of street, city, zipCode; it cannot be used to filter by. Version 1 can.");
    assert.equal((await call('GET', '/v0/clients?sort=address.city')).status, 400);
    const omitted = await call('GET', '/v0/clients?fields=createdAt');
    assert.equal(omitted.status, 400);
    assert.equal((omitted.body as { error_description: string }).error_description, "There is no 'createdAt' property on clients.");
    assert.equal((await call('GET', '/v0/clients?fields=address(city)')).status, 400);
    assert.equal((await call('GET', '/v0/clients?name=Bond')).headers.get('content-range'), '0-0/1');
  });
});

describe('choosing a version on an unversioned path', () => {
  test('the current version by default; Api-Version, ?version= or the media type choose another', async () => {
    const plain = await call('GET', '/clients/1?fields=address');
    assert.deepEqual(plain.body, { id: 1, address: { street: 'Horsen Ferry Road', city: 'London', zipCode: 'SW1P' } });
    assert.equal(plain.headers.get('vary'), 'Accept, Api-Version');
    assert.equal(plain.headers.get('deprecation'), null);
    const old = { id: 1, address: 'Horsen Ferry Road, London, SW1P' };
    for (const init of [{ headers: { 'api-version': '0' } }, { headers: { 'api-version': 'v0' } }, { headers: {} as Record<string, string>, query: '&version=0' }]) {
      const res = await call('GET', `/clients/1?fields=address${'query' in init ? init.query : ''}`, { headers: init.headers });
      assert.deepEqual(res.body, old);
      assert.equal(res.headers.get('deprecation'), DEPRECATION);
    }
    const media = await call('GET', '/clients/1?fields=address', { headers: { accept: 'application/vnd.carte.v0+json' } });
    assert.deepEqual(media.body, old);
    assert.equal(media.headers.get('content-type'), 'application/vnd.carte.v0+json; charset=utf-8');
    const mediaXml = await call('GET', '/clients/1?fields=address', { headers: { accept: 'application/vnd.carte.v0+xml' } });
    assert.equal(mediaXml.headers.get('content-type'), 'application/vnd.carte.v0+xml; charset=utf-8');
    const links = (await call('GET', '/clients/1', { headers: { 'api-version': '1' } })).body as Client;
    assert.ok(links.links.every((l) => l.href.startsWith(`${t.url}/v1/`)), 'hrefs use the canonical path');
    const created = await call('POST', '/restaurants', { json: { name: 'Unversioned', type: 'thai' } });
    assert.match(created.headers.get('location') ?? '', new RegExp(`^${t.url}/v1/restaurants/\\d+$`));
    assert.deepEqual((await call('POST', '/calculator/sum', { json: [1, 2] })).body, { result: 3 });
  });

  test('two different choices are 400; agreeing ones are fine', async () => {
    const cases: [string, Record<string, string>, string][] = [
      ['/v1/clients/1?version=0', {}, 'The API version is chosen twice, differently: the path /v1, ?version=0'],
      ['/clients/1?version=1', { 'api-version': '0' }, 'The API version is chosen twice, differently: Api-Version: 0, ?version=1'],
      ['/v1/clients/1', { accept: 'application/vnd.carte.v0+json' }, 'The API version is chosen twice, differently: the path /v1, and Accept: application/vnd.carte.v0+json'],
    ];
    for (const [path, headers, description] of cases) {
      const res = await call('GET', path, { headers });
      assert.equal(res.status, 400, path);
      assert.deepEqual(res.body, { error: 'invalid_request', error_description: description, error_uri: `${t.url}/docs/errors#invalid_request` });
    }
    assert.equal((await call('GET', '/v1/clients/1?version=1', { headers: { 'api-version': '1', accept: 'application/vnd.carte.v1+json' } })).status, 200);
    assert.equal((await call('GET', '/clients/1', { headers: { 'api-version': 'two' } })).status, 400);
  });

  test('an unknown version is 404 unknown_version listing the supported ones', async () => {
    const cases: [string, Record<string, string>, string][] = [
      ['/v2/restaurants', {}, '2'],
      ['/v7/clients/1', {}, '7'],
      ['/restaurants', { 'api-version': '9' }, '9'],
      ['/restaurants?version=3', {}, '3'],
      ['/restaurants', { accept: 'application/vnd.carte.v5+json' }, '5'],
    ];
    for (const [path, headers, asked] of cases) {
      const res = await call('GET', path, { headers });
      assert.equal(res.status, 404, path);
      assert.deepEqual(res.body, {
        error: 'unknown_version',
        error_description: `API version '${asked}' is not supported; supported: v1, v0`,
        error_uri: `${t.url}/docs/errors#unknown_version`,
        supported: ['v1', 'v0'],
      });
    }
  });
});

describe('declaring the previous version in a schema', () => {
  const base = (previousVersion: unknown): ApiSpec => ({
    api: { name: 'V', version: 3 },
    resources: {
      members: {
        access: 'public',
        required: ['name'],
        fields: {
          name: { type: 'string' },
          address: { type: 'object', properties: { street: { type: 'string' }, zip: { type: 'integer' }, tags: { type: 'array', items: { type: 'string' } } } },
          nick: { type: 'string' },
        },
      },
    },
    previousVersion: previousVersion as ApiSpec['previousVersion'],
  });
  const problems = (previousVersion: unknown): string[] => {
    try {
      buildModel(base(previousVersion));
      return [];
    } catch (e) {
      assert.ok(e instanceof SchemaError, 'a SchemaError');
      return e.problems.map((p) => `${p.path.join('.')}: ${p.message}`);
    }
  };

  test('the demo declares v0 and is valid', () => {
    const model = buildModel(demoSchema);
    assert.equal(model.previous?.version, 0);
    assert.deepEqual([...(model.previous?.resources.get('clients')?.omit ?? [])], ['createdAt']);
  });

  test('every problem is reported with its path', () => {
    assert.deepEqual(problems({ version: 3, deprecation: '2025-01-01', sunset: '2024-01-01' }), [
      'previousVersion.version: expected an integer from 0 to 2 (lower than api.version 3)',
      'previousVersion.sunset: the sunset comes after the deprecation',
    ]);
    assert.deepEqual(problems({ version: 2, deprecation: 'soon', link: 'ftp://x', colour: 1 }), [
      'previousVersion.colour: unknown key; expected one of version, deprecation, sunset, link, resources',
      'previousVersion.deprecation: expected an ISO 8601 date-time such as 2026-12-31T00:00:00Z (RFC 9745 Deprecation)',
      'previousVersion.sunset: expected an ISO 8601 date-time such as 2026-12-31T00:00:00Z (RFC 8594 Sunset)',
      'previousVersion.link: expected an absolute http(s) URL',
    ]);
    const dates = { version: 2, deprecation: '2025-01-01T00:00:00Z', sunset: '2026-01-01T00:00:00Z' };
    assert.deepEqual(
      problems({
        ...dates,
        resources: {
          ghosts: {},
          members: {
            omit: ['name', 'missing'],
            fields: {
              where: { join: 'address', parts: ['street', 'tags', 'city'] },
              alias: { from: 'nick', join: 'address' },
              handle: { from: 'nope' },
              nick: { join: 'name', parts: ['x'] },
            },
          },
        },
      }),
      [
        "previousVersion.resources.ghosts: 'ghosts' is not a resource (members)",
        "previousVersion.resources.members.omit: 'name' is required in the current version; the previous version could not create members",
        "previousVersion.resources.members.omit: 'missing' is not a field of members",
        "previousVersion.resources.members.fields.where.parts: 'tags' is array; only string and number properties can be joined",
        "previousVersion.resources.members.fields.where.parts: 'city' is not a property of address",
        'previousVersion.resources.members.fields.alias: expected exactly one of `from` (a rename) or `join` (an object field shown as one string)',
        "previousVersion.resources.members.fields.handle: 'nope' is not a field of members",
        "previousVersion.resources.members.fields.nick.join: 'name' must be an object field with properties",
      ],
    );
    assert.deepEqual(problems({ ...dates, resources: { members: { fields: { name: { from: 'nick' } } } } }), [
      "previousVersion.resources.members.fields.name: 'name' is still a field of members in the previous version; omit or map it too",
    ]);
    assert.deepEqual(problems({ ...dates, resources: { members: { fields: { where: { join: 'address', parts: ['street', 'zip'], separator: ' / ' }, fullName: { from: 'name' } } } } }), []);
  });

  test('a schema’s own mapping: renames and joins with numbers, both ways', async () => {
    const spec = base({ version: 2, deprecation: '2025-01-01T00:00:00Z', sunset: '2026-01-01T00:00:00Z', link: 'https://example.com/v3', resources: { members: { omit: ['nick'], fields: { where: { join: 'address', parts: ['street', 'zip'], separator: ' / ' }, fullName: { from: 'name' } } } } });
    const v = await startHttpServer({ schema: spec });
    try {
      const created = await v.request('POST', '/v2/members', { json: { fullName: 'Ada', where: 'Main St / 12345' } });
      assert.equal(created.status, 201);
      assert.equal(created.headers.get('link')?.endsWith(', <https://example.com/v3>; rel="deprecation"; type="text/html", <https://example.com/v3>; rel="sunset"; type="text/html"'), true);
      const { links: _l, ...body } = created.body as Record<string, unknown>;
      assert.deepEqual(body, { id: 1, fullName: 'Ada', where: 'Main St / 12345' });
      const { links: _m, ...current } = (await v.request('GET', '/v3/members/1')).body as Record<string, unknown>;
      assert.deepEqual(current, { id: 1, name: 'Ada', address: { street: 'Main St', zip: 12345 }, nick: null });
      assert.deepEqual((await v.request('GET', '/v2/members?fullName=Ada&sort=fullName&fields=fullName')).body, [{ id: 1, fullName: 'Ada' }]);
    } finally {
      await v.close();
    }
  });
});
