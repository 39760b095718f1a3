/**
 * SPEC §9: `GET /v1/openapi.json` and `.yaml` — served without credentials, with the
 * request's base URLs — describe every route the REST front end serves, with the exact
 * parameters, bodies, headers, errors and security of representative operations; the
 * examples in it are real (the server accepts them); `carte openapi` prints the same document.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { ERROR_KINDS } from '../src/errors.js';
import { toYaml } from '../src/openapi/yaml.js';
import { startServer, type TestServer } from './helpers.js';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

type Obj = Record<string, unknown>;
interface Doc {
  openapi: string;
  servers: { url: string }[];
  paths: Record<string, Record<string, Obj>>;
  components: { schemas: Record<string, Obj>; parameters: Record<string, Obj>; headers: Record<string, Obj>; responses: Record<string, Obj>; securitySchemes: Record<string, Obj> };
}

function deref(doc: Doc, value: unknown): Obj {
  const ref = (value as Obj).$ref;
  if (typeof ref !== 'string') return value as Obj;
  const [, , kind, name] = ref.split('/') as [string, string, keyof Doc['components'], string];
  return doc.components[kind][name] as Obj;
}

function op(doc: Doc, path: string, method: string): Obj {
  const o = doc.paths[path]?.[method];
  assert.ok(o, `${method.toUpperCase()} ${path} is documented`);
  return o;
}

function paramNames(doc: Doc, operation: Obj, where?: string): string[] {
  return (operation.parameters as unknown[]).map((p) => deref(doc, p)).filter((p) => !where || p.in === where).map((p) => String(p.name));
}

function paramOf(doc: Doc, operation: Obj, name: string): Obj {
  const param = (operation.parameters as unknown[]).find((p) => deref(doc, p).name === name);
  assert.ok(param, `parameter ${name}`);
  return param as Obj;
}

function responseHeaders(doc: Doc, operation: Obj, status: string): string[] {
  const r = deref(doc, (operation.responses as Obj)[status]);
  return Object.keys((r.headers ?? {}) as Obj);
}

function statuses(operation: Obj): string[] {
  return Object.keys(operation.responses as Obj);
}

describe('OpenAPI document', () => {
  let t: TestServer;
  let doc: Doc;
  before(async () => {
    t = await startServer();
    const res = await t.request('GET', '/v1/openapi.json', { anonymous: true });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    doc = res.body as Doc;
  });
  after(() => t.close());

  it('is served without credentials, as JSON and YAML, with an ETag, naming this server', async () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(doc.servers.map((s) => s.url), [t.url]);
    const yaml = await t.request('GET', '/v1/openapi.yaml', { anonymous: true });
    assert.equal(yaml.status, 200);
    assert.match(yaml.headers.get('content-type') ?? '', /^application\/yaml/);
    assert.deepEqual(parse(yaml.text), doc);
    const json = await t.request('GET', '/v1/openapi.json', { anonymous: true });
    const etag = json.headers.get('etag');
    assert.ok(etag);
    const again = await t.request('GET', '/v1/openapi.json', { anonymous: true, headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    // A bad token is still refused (RFC 6750), but none is needed.
    assert.equal((await t.request('GET', '/v1/openapi.json', { token: 'nope' })).status, 401);
  });

  it('the YAML writer: what a YAML reader reads back is the same JSON value', () => {
    const value = {
      '200': { description: 'a "quoted" line\nand another: with # and - and \'', $ref: '#/x' },
      yes: [true, false, null, 0, -1.5, 1e21, '', 'on', '007'],
      nested: [[1, [2]], [], {}, [{ a: { b: [] } }, { '': 'empty key' }]],
      'rating[gte]': { 'x-tagGroups': [{ name: 'Resources', tags: ['a'] }] },
      unicode: 'Crème brûlée — 🍕 \u0000 \t',
    };
    assert.deepEqual(parse(toYaml(value)), value);
    assert.deepEqual(parse(toYaml([])), []);
    assert.equal(toYaml({ a: 1 }), 'a: 1\n');
  });

  it('documents every route of the REST route table, the event feed and the OAuth2 endpoints', () => {
    const missing: string[] = [];
    for (const route of t.server.routes) {
      const path = route.url.replace(/:id\b/g, '{id}').replace(/:parentId/, (_m) => `{${route.parent ? (t.server.model.resources.get(route.parent.resource)?.singular ?? '') : ''}Id}`);
      if (!doc.paths[path]?.[route.method.toLowerCase()]) missing.push(`${route.method} ${path}`);
    }
    assert.deepEqual(missing, []);
    assert.equal(t.server.routes.length > 40, true);
    for (const [path, method] of [['/v1/events', 'get'], ['/oauth/token', 'post'], ['/v1/search', 'get'], ['/v1', 'get'], ['/v1/restaurants/{id}/photo', 'put'], ['/v1/restaurants', 'head']] as const) op(doc, path, method);
    // Operation ids are unique, and every operation has a summary, a 2xx and a 4xx.
    const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((o) => o.operationId));
    assert.equal(new Set(ids).size, ids.length);
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, o] of Object.entries(item)) {
        assert.ok(o.summary, `${method} ${path} has a summary`);
        assert.ok(statuses(o).some((s) => s.startsWith('2')), `${method} ${path} has a 2xx`);
        assert.ok(statuses(o).some((s) => s.startsWith('4')), `${method} ${path} has a 4xx`);
      }
    }
  });

  it('GET /v1/restaurants: paging, sort, fields, every filter and operator; Content-Range, Accept-Range, Link, ETag; its errors', () => {
    const list = op(doc, '/v1/restaurants', 'get');
    const names = paramNames(doc, list);
    for (const name of ['range', 'limit', 'offset', 'after', 'sort', 'desc', 'fields', 'Prefer', 'If-None-Match']) assert.ok(names.includes(name), name);
    for (const name of ['id', 'name', 'type', 'rating', 'days', 'zipcode', 'address.city', 'address.street', 'createdAt', 'rating[gte]', 'rating[gt]', 'rating[lt]', 'rating[lte]', 'rating[ne]', 'name[like]', 'type[ne]', 'days[ne]', 'rating[null]']) {
      assert.ok(names.includes(name), `filter ${name}`);
    }
    // No filter on the blob, none on a whole object, no ordering on a list or a boolean.
    for (const name of ['photo', 'address', 'days[gte]', 'rating[like]']) assert.ok(!names.includes(name), `no ${name}`);
    const params = Object.fromEntries((list.parameters as unknown[]).map((p) => deref(doc, p)).map((p) => [p.name, p]));
    assert.deepEqual(params['rating[gte]'], { name: 'rating[gte]', in: 'query', description: 'rating greater than or equal to.', schema: { type: 'integer' } });
    assert.deepEqual(params.type?.schema, { type: 'array', items: { type: 'string', enum: ['thai', 'chinese', 'japanese', 'italian', 'french', 'indian'] } });
    assert.equal(params.type?.style, 'form');
    assert.equal(params.type?.explode, false);
    assert.deepEqual(params.limit?.schema, { type: 'integer', minimum: 1, maximum: 50 });
    assert.equal((params.sort?.schema as Obj).type, 'array');
    for (const status of ['200', '206']) {
      assert.deepEqual(responseHeaders(doc, list, status), ['Content-Range', 'Accept-Range', 'Link', 'ETag', 'RateLimit', 'RateLimit-Policy']);
      assert.deepEqual(Object.keys(deref(doc, (list.responses as Obj)[status]).content as Obj), ['application/json', 'application/xml', 'text/csv']);
    }
    assert.deepEqual(statuses(list), ['200', '206', '304', '400', '401', '406', '416', '429']);
    // Public read: a token is optional.
    assert.deepEqual(list.security, [{}, { bearerAuth: [] }, { oauth2: [] }]);
    assert.deepEqual(responseHeaders(doc, list, '416'), ['Content-Range']);
    assert.deepEqual(responseHeaders(doc, list, '429'), ['Retry-After', 'RateLimit', 'RateLimit-Policy']);
    assert.deepEqual(responseHeaders(doc, list, '401'), ['WWW-Authenticate']);
    assert.equal(doc.components.headers['Content-Range']?.description !== undefined, true);
  });

  it('POST /v1/restaurants: bodies per media type, 201 with Location, Idempotency-Key, the scope it needs, its errors', () => {
    const create = op(doc, '/v1/restaurants', 'post');
    assert.equal(create.operationId, 'createRestaurant');
    assert.deepEqual(paramNames(doc, create), ['Idempotency-Key', 'Prefer']);
    const body = create.requestBody as { required: boolean; content: Record<string, Obj> };
    assert.equal(body.required, true);
    assert.deepEqual(Object.keys(body.content), ['application/json', 'application/x-www-form-urlencoded', 'application/xml']);
    assert.deepEqual(body.content['application/json']?.schema, { $ref: '#/components/schemas/RestaurantInput' });
    assert.deepEqual(body.content['application/x-www-form-urlencoded']?.encoding, { address: { style: 'deepObject', explode: true } });
    assert.deepEqual(responseHeaders(doc, create, '201'), ['Location', 'ETag', 'Last-Modified', 'Link', 'Preference-Applied', 'Idempotent-Replayed']);
    assert.deepEqual(statuses(create), ['201', '204', '400', '401', '403', '406', '409', '413', '415', '422', '429']);
    assert.deepEqual(create.security, [{ oauth2: ['restaurants:write'] }, { bearerAuth: ['restaurants:write'] }]);
    const input = doc.components.schemas.RestaurantInput as { properties: Obj; required: string[]; additionalProperties: boolean };
    assert.deepEqual(input.required, ['name', 'type']);
    assert.equal(input.additionalProperties, false);
    assert.ok(!('id' in input.properties) && !('createdAt' in input.properties) && !('photo' in input.properties));
  });

  it('items, merge patch, conditional writes, nested collections, blobs, operations and the feed', () => {
    const get = op(doc, '/v1/restaurants/{id}', 'get');
    assert.deepEqual(paramNames(doc, get), ['id', 'fields', 'If-None-Match', 'If-Modified-Since', 'Prefer']);
    assert.deepEqual(responseHeaders(doc, get, '200'), ['ETag', 'Last-Modified', 'Link', 'RateLimit', 'RateLimit-Policy']);
    assert.deepEqual(statuses(get), ['200', '304', '400', '401', '404', '406', '429']);

    const patch = op(doc, '/v1/orders/{id}', 'patch');
    const patchBody = (patch.requestBody as { content: Record<string, Obj> }).content;
    assert.deepEqual(Object.keys(patchBody), ['application/merge-patch+json', 'application/json', 'application/xml']);
    assert.deepEqual(patchBody['application/merge-patch+json']?.example, { state: 'preparing' });
    assert.deepEqual(paramNames(doc, patch), ['id', 'If-Match', 'Prefer']);
    assert.deepEqual(statuses(patch), ['200', '204', '400', '401', '403', '404', '406', '409', '412', '413', '415', '429']);
    assert.deepEqual(deref(doc, (patch.responses as Obj)['409']).content && Object.keys((deref(doc, (patch.responses as Obj)['409']).content as Obj)), ['application/json', 'application/problem+json', 'application/xml']);

    const nested = op(doc, '/v1/clients/{clientId}/orders', 'get');
    assert.equal(paramNames(doc, nested, 'path')[0], 'clientId');
    assert.ok(statuses(nested).includes('404'));
    assert.equal(nested.operationId, 'listClientOrders');

    const bulk = op(doc, '/v1/restaurants', 'put');
    const bulkSchema = ((bulk.requestBody as { content: Record<string, Obj> }).content['application/json']?.schema as Obj).items;
    assert.deepEqual(bulkSchema, { $ref: '#/components/schemas/RestaurantReplacement' });
    assert.deepEqual((doc.components.schemas.RestaurantReplacement as { required: string[] }).required, ['id', 'name', 'type']);
    const deleteMatching = op(doc, '/v1/orders', 'delete');
    assert.ok(paramNames(doc, deleteMatching).includes('state'));
    assert.deepEqual(statuses(deleteMatching), ['204', '400', '401', '403', '409', '429']);

    const blob = op(doc, '/v1/restaurants/{id}/photo', 'get');
    assert.deepEqual(paramNames(doc, blob), ['id', 'Range', 'If-Range', 'If-None-Match']);
    assert.deepEqual(responseHeaders(doc, blob, '206'), ['Accept-Ranges', 'Content-Length', 'Content-Range', 'ETag', 'Last-Modified']);
    assert.deepEqual(Object.keys((blob.responses as Record<string, Obj>)['200']?.content as Obj), ['image/jpeg', 'image/png']);
    assert.ok(statuses(blob).includes('416'));
    assert.deepEqual(Object.keys(((op(doc, '/v1/restaurants/{id}/photo', 'put').requestBody as Obj).content as Obj)), ['image/jpeg', 'image/png']);

    const convert = op(doc, '/v1/convert', 'post');
    assert.equal((convert.tags as string[])[0], 'Operations');
    assert.deepEqual(paramNames(doc, convert, 'query'), ['from', 'to', 'amount']);
    assert.deepEqual(Object.keys((convert.requestBody as { content: Obj }).content), ['application/json', 'application/x-www-form-urlencoded', 'application/xml']);

    const events = op(doc, '/v1/events', 'get');
    assert.deepEqual(paramNames(doc, events), ['after', 'resource', 'type', 'range', 'limit', 'offset', 'Prefer', 'Last-Event-ID', 'If-None-Match']);
    assert.deepEqual(Object.keys((events.responses as Record<string, Obj>)['200']?.content as Obj), ['application/json', 'text/event-stream']);
    assert.ok(statuses(events).includes('410'));
    assert.ok((events.security as Obj[]).some((s) => 'accessTokenQuery' in s));

    // Resources and operations apart (seed 004).
    const groups = (doc as unknown as { 'x-tagGroups': { name: string; tags: string[] }[] })['x-tagGroups'];
    assert.deepEqual(groups.map((g) => g.name), ['Resources', 'Operations', 'Search and events', 'API']);
    assert.deepEqual(groups[0]?.tags, ['restaurants', 'dishes', 'clients', 'orders']);
  });

  it('the webhooks plugin: every route it serves, with its statuses, headers, schemas and security; the examples work', async () => {
    const expected: Record<string, [string, string, string[]]> = {
      'get /v1/webhooks': ['listWebhooks', '200', ['200', '206', '400', '401', '406', '416', '429']],
      'post /v1/webhooks': ['createWebhook', '201', ['201', '400', '401', '403', '406', '409', '413', '415', '429']],
      'get /v1/webhooks/{id}': ['getWebhook', '200', ['200', '401', '404', '406', '429']],
      'patch /v1/webhooks/{id}': ['updateWebhook', '200', ['200', '400', '401', '403', '404', '406', '413', '415', '429']],
      'delete /v1/webhooks/{id}': ['deleteWebhook', '204', ['204', '401', '404', '406', '429']],
      'post /v1/webhooks/{id}/secrets': ['rotateWebhookSecret', '201', ['201', '400', '401', '404', '406', '429']],
      'post /v1/webhooks/{id}/pings': ['pingWebhook', '201', ['201', '400', '401', '404', '406', '409', '429']],
      'get /v1/webhooks/{id}/deliveries': ['listWebhookDeliveries', '200', ['200', '206', '400', '401', '404', '406', '416', '429']],
      'get /v1/webhooks/{id}/deliveries/{did}': ['getWebhookDelivery', '200', ['200', '401', '404', '406', '429']],
      'get /v1/webhooks/{id}/deliveries/{did}/attempts': ['listWebhookDeliveryAttempts', '200', ['200', '401', '404', '406', '429']],
      'post /v1/webhooks/{id}/deliveries/{did}/attempts': ['retryWebhookDelivery', '201', ['201', '400', '401', '404', '406', '409', '429']],
    };
    const documented = Object.entries(doc.paths)
      .filter(([path]) => path === '/v1/webhooks' || path.startsWith('/v1/webhooks/'))
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`));
    assert.deepEqual(documented.sort(), Object.keys(expected).sort());
    for (const [key, [operationId, success, codes]] of Object.entries(expected)) {
      const [method, path] = key.split(' ') as [string, string];
      const o = op(doc, path, method);
      assert.equal(o.operationId, operationId, key);
      assert.deepEqual(statuses(o), codes, key);
      assert.deepEqual((o.tags as string[])[0], 'Webhooks');
      // A token with a subject; no scope of its own.
      assert.deepEqual(o.security, [{ oauth2: [] }, { bearerAuth: [] }], key);
      // The server serves what the document says, and nothing documented is missing from it.
      assert.ok(t.server.app.hasRoute({ method: method.toUpperCase() as 'GET', url: path.replace(/\{(\w+)\}/g, ':$1') }), `${key} is served`);
      assert.ok(statuses(o).includes(success), key);
    }
    const list = op(doc, '/v1/webhooks', 'get');
    assert.deepEqual(paramNames(doc, list), ['range', 'limit', 'offset']);
    assert.deepEqual(responseHeaders(doc, list, '206'), ['Content-Range', 'Accept-Range', 'RateLimit', 'RateLimit-Policy']);
    const create = op(doc, '/v1/webhooks', 'post');
    assert.deepEqual(responseHeaders(doc, create, '201'), ['Location', 'RateLimit', 'RateLimit-Policy']);
    assert.match(String(create.description), /`webhook-id`[\s\S]*`webhook-timestamp`[\s\S]*`webhook-signature`/);
    const createBody = (create.requestBody as { content: Record<string, Obj> }).content;
    assert.deepEqual(Object.keys(createBody), ['application/json']);
    assert.deepEqual(createBody['application/json']?.schema, { $ref: '#/components/schemas/WebhookInput' });
    assert.deepEqual(Object.keys((op(doc, '/v1/webhooks/{id}', 'patch').requestBody as { content: Obj }).content), ['application/merge-patch+json', 'application/json']);
    assert.deepEqual(paramNames(doc, op(doc, '/v1/webhooks/{id}/deliveries/{did}/attempts', 'post'), 'path'), ['id', 'did']);
    const schemas = doc.components.schemas as Record<string, { required?: string[]; properties?: Obj }>;
    for (const name of ['Webhook', 'WebhookCreated', 'WebhookInput', 'WebhookPatch', 'WebhookSecret', 'WebhookDelivery', 'WebhookDeliveryDetail', 'WebhookAttempt', 'WebhookAttemptResult']) assert.ok(schemas[name], name);
    const groups = (doc as unknown as { 'x-tagGroups': { name: string; tags: string[] }[] })['x-tagGroups'];
    assert.deepEqual(groups.find((g) => g.name === 'Search and events')?.tags, ['Search', 'Events', 'Webhooks']);

    // The examples are real, and the server's answers have the members the schemas require.
    const example = createBody['application/json']?.example;
    const created = await t.request('POST', '/v1/webhooks', { body: example });
    assert.equal(created.status, 201, created.text);
    const webhook = created.body as { id: string; secret: string } & Obj;
    assert.equal(created.headers.get('location'), `${t.url}/v1/webhooks/${webhook.id}`);
    assert.deepEqual(Object.keys(webhook).sort(), [...(schemas.Webhook?.required ?? []), 'secret'].sort());
    assert.match(webhook.id, new RegExp(String((deref(doc, paramOf(doc, op(doc, '/v1/webhooks/{id}', 'get'), 'id')).schema as Obj).pattern)));
    assert.match(webhook.secret, /^whsec_[A-Za-z0-9+/]+={0,2}$/);
    const page = await t.request('GET', '/v1/webhooks?range=0-9');
    assert.equal(page.status, 200);
    const maxRange = ((list.parameters as unknown[]).map((p) => deref(doc, p)).find((p) => p.name === 'limit')?.schema as Obj).maximum;
    assert.equal(page.headers.get('accept-range'), `webhook ${String(maxRange)}`);
    assert.equal(page.headers.get('content-range'), '0-0/1');
    const patchExample = ((op(doc, '/v1/webhooks/{id}', 'patch').requestBody as { content: Record<string, Obj> }).content['application/merge-patch+json'] as Obj).example;
    const patched = await t.request('PATCH', `/v1/webhooks/${webhook.id}`, { raw: JSON.stringify(patchExample), headers: { 'content-type': 'application/merge-patch+json' } });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(Object.keys(patched.body as Obj).sort(), [...(schemas.Webhook?.required ?? [])].sort());
    const rotated = await t.request('POST', `/v1/webhooks/${webhook.id}/secrets`);
    assert.equal(rotated.status, 201);
    assert.deepEqual(Object.keys(rotated.body as Obj).sort(), [...(schemas.WebhookSecret?.required ?? [])].sort());
    const deliveries = await t.request('GET', `/v1/webhooks/${webhook.id}/deliveries`);
    assert.equal(deliveries.status, 200);
    assert.equal((await t.request('GET', `/v1/webhooks/${webhook.id}/deliveries/999999`)).status, 404);
    assert.equal((await t.request('DELETE', `/v1/webhooks/${webhook.id}`)).status, 204);
    assert.equal((await t.request('GET', `/v1/webhooks/${webhook.id}`)).status, 404);
  });

  it('security schemes: OAuth2 client credentials at /oauth/token with the rules\' scopes, bearer JWT (and API keys)', () => {
    const oauth2 = doc.components.securitySchemes.oauth2 as { type: string; flows: { clientCredentials: { tokenUrl: string; scopes: Record<string, string> } } };
    assert.equal(oauth2.type, 'oauth2');
    assert.equal(oauth2.flows.clientCredentials.tokenUrl, `${t.url}/oauth/token`);
    assert.deepEqual(Object.keys(oauth2.flows.clientCredentials.scopes), ['clients:write', 'dishes:write', 'orders:write', 'restaurants:write']);
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description: (doc.components.securitySchemes.bearerAuth as Obj).description,
    });
    assert.match(String((doc.components.securitySchemes.bearerAuth as Obj).description), /API key/);
  });

  it('errors: every error response carries the documented error structure, with an example per code', async () => {
    const error = doc.components.schemas.Error as { required: string[]; properties: Obj };
    assert.deepEqual(error.required, ['error', 'error_description', 'error_uri']);
    const codes = new Set<string>();
    for (const response of Object.values(doc.components.responses)) {
      const json = (response.content as Record<string, Obj>)['application/json'] as { schema: Obj; examples: Record<string, { value: Obj }> };
      assert.deepEqual(json.schema, { $ref: '#/components/schemas/Error' });
      for (const [code, example] of Object.entries(json.examples)) {
        codes.add(code);
        assert.ok(code in ERROR_KINDS, code);
        assert.match(String(example.value.error_uri), /\/docs\/errors#/);
      }
    }
    for (const code of ['invalid_request', 'invalid_range', 'no_credentials', 'insufficient_scope', 'not_found', 'not_acceptable', 'conflict', 'precondition_failed', 'unsupported_media_type', 'range_not_satisfiable', 'idempotency_key_reused', 'too_many_requests']) {
      assert.ok(codes.has(code), code);
    }
    // The server's real answer has the documented members.
    const res = await t.request('GET', '/v1/restaurants/999999');
    assert.equal(res.status, 404);
    for (const member of error.required) assert.equal(typeof (res.body as Obj)[member], 'string');
  });

  it('the examples of the document are real: the server accepts them', async () => {
    const create = op(doc, '/v1/restaurants', 'post');
    const example = ((create.requestBody as { content: Record<string, Obj> }).content['application/json'] as Obj).example;
    const created = await t.request('POST', '/v1/restaurants', { body: example });
    assert.equal(created.status, 201, created.text);
    for (const [path, schema] of [['/v1/clients', 'application/json'], ['/v1/orders', 'application/json'], ['/v1/dishes', 'application/json']] as const) {
      const body = ((op(doc, path, 'post').requestBody as { content: Record<string, Obj> }).content[schema] as Obj).example;
      const res = await t.request('POST', path, { body });
      assert.equal(res.status, 201, `${path}: ${res.text}`);
    }
    const form = ((create.requestBody as { content: Record<string, Obj> }).content['application/x-www-form-urlencoded'] as Obj).example as Obj;
    const encoded = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) {
      if (Array.isArray(v)) for (const item of v) encoded.append(k, String(item));
      else if (v && typeof v === 'object') for (const [kk, vv] of Object.entries(v)) encoded.append(`${k}[${kk}]`, String(vv));
      else encoded.append(k, String(v));
    }
    const viaForm = await t.request('POST', '/v1/restaurants', { raw: encoded.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(viaForm.status, 201, viaForm.text);
    const order = (await t.request('POST', '/v1/orders', { body: { clientId: 1, restaurantId: 1 } })).body as { id: number };
    const patch = ((op(doc, '/v1/orders/{id}', 'patch').requestBody as { content: Record<string, Obj> }).content['application/merge-patch+json'] as Obj).example;
    const patched = await t.request('PATCH', `/v1/orders/${order.id}`, { raw: JSON.stringify(patch), headers: { 'content-type': 'application/merge-patch+json' } });
    assert.equal(patched.status, 200, patched.text);
    const sum = ((op(doc, '/v1/calculator/sum', 'post').requestBody as { content: Record<string, Obj> }).content['application/json'] as Obj).example;
    const result = await t.request('POST', '/v1/calculator/sum', { body: sum });
    assert.deepEqual(result.body, { result: 53 });
  });

  it('with a public URL, the servers and the token URL are the public ones', async () => {
    const behind = await startServer({ config: { publicUrl: 'https://api.example.org' } });
    try {
      const res = await behind.request('GET', '/v1/openapi.json', { anonymous: true });
      const d = res.body as Doc;
      assert.deepEqual(d.servers.map((s) => s.url), ['https://api.example.org']);
      assert.equal((d.components.securitySchemes.oauth2 as { flows: { clientCredentials: { tokenUrl: string } } }).flows.clientCredentials.tokenUrl, 'https://api.example.org/oauth/token');
    } finally {
      await behind.close();
    }
  });

  it('carte openapi prints the same document, as JSON or YAML', { timeout: 60_000 }, async () => {
    // The CLI from source, as bin/carte.js runs it from dist.
    const run = (args: string[]) =>
      exec(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', "import { main } from './src/cli/main.ts'; process.exitCode = await main(process.argv.slice(1));", 'openapi', ...args], { cwd: root, maxBuffer: 32 * 1024 * 1024 }).then(
        (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
      );
    const json = await run(['--server', t.url]);
    assert.equal(json.code, 0, json.err);
    assert.deepEqual(JSON.parse(json.out), doc);
    const yaml = await run(['--format', 'yaml', '--server', t.url]);
    assert.equal(yaml.code, 0, yaml.err);
    assert.deepEqual(parse(yaml.out), doc);
    const fixture = await run(['--schema', 'test/fixtures/shop.yaml']);
    assert.equal(fixture.code, 0, fixture.err);
    const shop = JSON.parse(fixture.out) as Doc;
    assert.ok(shop.paths['/v1/customers']?.get);
    assert.deepEqual(shop.servers.map((s) => s.url), ['http://127.0.0.1:3000']);
    const bad = await run(['--format', 'xml']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--format must be json or yaml/);
  });
});
