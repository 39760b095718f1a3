/** Schema loading and checking (SPEC §2), `carte check` (SPEC §1). */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadSchemaFile } from '../src/schema/load.js';
import { buildModel, formatPath, SchemaError } from '../src/schema/validate.js';
import { startServer } from './helpers.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`fixtures/${name}`, import.meta.url));

function problemsOf(spec: unknown): string[] {
  try {
    buildModel(spec);
  } catch (e) {
    if (e instanceof SchemaError) return e.problems.map((p) => `${formatPath(p.path)}: ${p.message}`);
    throw e;
  }
  return [];
}

describe('carte check', () => {
  test('reports every problem at once with file, line and path; exit 1', async () => {
    const result = await run('node', ['bin/carte.js', 'check', fixture('broken.yaml')], { cwd: root }).then(
      () => assert.fail('check should fail'),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    assert.equal(result.code, 1);
    const lines = result.stderr.trim().split('\n');
    const file = fixture('broken.yaml');
    assert.deepEqual(lines, [
      `${file}:4:3: resources.Users: resource names are plural, lower-case, spinal-case (e.g. order-items)`,
      `${file}:8:5: resources.orders.required: 'total' is not a field of orders`,
      `${file}:10:46: resources.orders.fields.clientId.references: expected the name of a resource (Users, orders)`,
      `${file}:11:7: resources.orders.fields.zip_code: field names are lowerCamelCase (the API's casing is camel); set api.casing: snake to use snake_case`,
      `${file}:12:7: resources.orders.fields.sort: 'sort' is a reserved query parameter (range, limit, offset, sort, desc, fields, q, callback, method, version, wait, after, access_token, links)`,
      `${file}:16:24: resources.orders.fields.state.transitions.new: 'shipped' is not one of the enum's states`,
      `${file}:17:23: resources.orders.fields.amount.type: expected one of string, integer, number, boolean, array, object, blob; got "int"`,
      `${file}:18:53: resources.orders.fields.rating.default: the default does not match the field: default must be >= 0`,
      '8 problems',
    ]);
  });

  test('a valid schema is summarized; exit 0', async () => {
    const { stdout } = await run('node', ['bin/carte.js', 'check', fixture('shop.yaml')], { cwd: root });
    assert.equal(stdout, `✓ ${fixture('shop.yaml')}: Shop v1 — 2 resources (customers, orders), 1 operation\n`);
  });

  test('a YAML syntax error names its line', async () => {
    const result = await run('node', ['bin/carte.js', 'check', fixture('handlers.mjs').replace('handlers.mjs', 'missing.yaml')], { cwd: root }).catch((e: { code: number; stderr: string }) => e);
    assert.equal((result as { code: number }).code, 1);
    assert.match((result as { stderr: string }).stderr, /cannot read the file: ENOENT/);
  });

  test('--help and unknown commands', async () => {
    const { stdout } = await run('node', ['bin/carte.js', 'check', '--help'], { cwd: root });
    assert.match(stdout, /^carte check SCHEMA/);
    const unknown = await run('node', ['bin/carte.js', 'frobnicate'], { cwd: root }).catch((e: { code: number; stderr: string }) => e);
    assert.equal((unknown as { code: number }).code, 2);
    assert.match((unknown as { stderr: string }).stderr, /unknown command 'frobnicate'/);
  });
});

describe('schema rules', () => {
  const base = (fields: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    api: { name: 'T' },
    resources: { things: { fields, ...extra } },
  });

  test('references name their relation after the field without its Id suffix, and the reverse after the child', () => {
    const model = buildModel({
      api: { name: 'T' },
      resources: {
        clients: { fields: { name: { type: 'string' } } },
        orders: { fields: { clientId: { type: 'integer', references: 'clients' } } },
      },
    });
    const orders = model.resources.get('orders');
    const clients = model.resources.get('clients');
    assert.deepEqual(orders?.relations.get('client'), { name: 'client', kind: 'one', child: 'orders', field: 'clientId', parent: 'clients', target: 'clients' });
    assert.deepEqual(clients?.relations.get('orders'), { name: 'orders', kind: 'many', child: 'orders', field: 'clientId', parent: 'clients', target: 'orders' });
    assert.equal(orders?.fields.get('clientId')?.index, 'plain', 'a reference is indexed');
  });

  test('ambiguous reverse relations must be named', () => {
    assert.deepEqual(
      problemsOf({
        api: { name: 'T' },
        resources: {
          clients: { fields: { name: { type: 'string' } } },
          transfers: { fields: { fromId: { type: 'integer', references: 'clients' }, toId: { type: 'integer', references: 'clients' } } },
        },
      }),
      ["resources.transfers.fields.toId: the reverse relation 'transfers' on clients is ambiguous or collides with a field; name it with `reverse`"],
    );
  });

  test('snake_case bodies with api.casing: snake; mixing casings is refused', () => {
    const model = buildModel({
      api: { name: 'T', casing: 'snake' },
      resources: {
        clients: { fields: { first_name: { type: 'string' }, created_at: { type: 'string', format: 'date-time' } } },
        orders: { fields: { client_id: { type: 'integer', references: 'clients' } } },
      },
    });
    assert.equal(model.resources.get('clients')?.timestamps.createdAt, 'created_at');
    assert.ok(model.resources.get('orders')?.relations.has('client'));
    assert.deepEqual(problemsOf({ api: { name: 'T', casing: 'snake' }, resources: { things: { fields: { firstName: { type: 'string' } } } } }), [
      "resources.things.fields.firstName: field names are snake_case (the API's casing is snake)",
    ]);
  });

  test('types, formats, keys and Carte keys are checked', () => {
    assert.deepEqual(problemsOf(base({ a: { type: 'string', format: 'phone' }, b: { type: 'integer', maxLength: 3 }, c: { type: 'array' }, d: { type: 'object', index: true }, e: { type: 'string', colour: 'red' } })), [
      'resources.things.fields.a.format: expected one of date-time, date, email, uri, uuid',
      'resources.things.fields.b.maxLength: only applies to string fields',
      'resources.things.fields.c.items: an array field declares its `items`, e.g. { type: string }',
      'resources.things.fields.d.index: object fields cannot be indexed; index scalar fields',
      'resources.things.fields.e.colour: unknown key; expected one of type, description, format, enum, default, readOnly, nullable, minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf, minLength, maxLength, pattern, minItems, maxItems, uniqueItems, items, properties, required, examples, references, onDelete, reverse, index, unique, search, transitions, mediaTypes, maxBytes',
    ]);
    assert.deepEqual(problemsOf(base({ createdAt: { type: 'integer' } })), ["resources.things.fields.createdAt: 'createdAt' is maintained by Carte; declare it { type: string, format: date-time }"]);
    assert.deepEqual(problemsOf({ api: { name: 'T' }, resources: { sheep: { fields: {} } } }), ["resources.sheep: cannot derive a singular from 'sheep'; declare `singular`"]);
    assert.deepEqual(problemsOf({ api: { name: 'T' }, resources: { events: { fields: {} } } }), ["resources.events: 'events' is reserved by Carte"]);
  });

  test('singulars are derived from plurals', () => {
    const model = buildModel({ api: { name: 'T' }, resources: { categories: { fields: {} }, boxes: { fields: {} }, 'order-items': { fields: {} } } });
    assert.deepEqual([...model.resources.values()].map((r) => r.singular), ['category', 'box', 'order-item']);
  });
});

describe('schema files', () => {
  test('YAML with a handler module, and a TS module with defineApi', async () => {
    const yaml = await loadSchemaFile(fixture('shop.yaml'));
    assert.equal(typeof yaml.model.actions.get('calculator.sum')?.handler, 'function');
    const mod = await loadSchemaFile(fixture('module-schema.ts'));
    assert.equal(mod.model.version, 2);
    assert.equal(mod.model.resources.get('order-items')?.key.type, 'uuid');
  });

  test('a module schema serves uuid keys, item actions and its operations', async () => {
    const t = await startServer({ schema: fixture('module-schema.ts') });
    try {
      const created = await t.post('/v2/order-items', { label: 'box', quantity: 4 });
      assert.equal(created.status, 201);
      const id = (created.body as { id: string }).id;
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const doubled = await t.post(`/v2/order-items/${id}/double`, {});
      assert.deepEqual(doubled.body, { result: 8 });
      assert.equal((await t.post('/v2/order-items/00000000-0000-4000-8000-000000000000/double', {})).status, 404);
      const echo = await t.post('/v2/echo', { a: 1 });
      assert.deepEqual(echo.body, { result: { a: 1 } });
      const put = await t.request('PUT', '/v2/order-items/not-a-uuid', { body: { label: 'x' } });
      assert.equal(put.status, 400);
    } finally {
      await t.close();
    }
  });

  test('onDelete: setNull clears the references', async () => {
    const t = await startServer({ schema: fixture('shop.yaml') });
    try {
      const c = (await t.post('/v1/customers', { name: 'Ann' })).body as { id: number };
      const o = (await t.post('/v1/orders', { customerId: c.id, total: 3 })).body as { id: number };
      assert.equal((await t.request('DELETE', `/v1/customers/${c.id}`)).status, 204);
      assert.equal(((await t.get(`/v1/orders/${o.id}`)).body as { customerId: unknown }).customerId, null);
      assert.deepEqual((await t.post('/v1/calculator/sum', [1, 2])).body, { result: 3 });
    } finally {
      await t.close();
    }
  });
});
