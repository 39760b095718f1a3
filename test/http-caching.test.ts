/** Caching and concurrency (SPEC §4.7): ETags, 304, HEAD, If-Match 412, 428, Last-Modified, Idempotency-Key. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ApiSpec } from '../src/schema/types.js';
import { sameMembers } from '../src/service/present.js';
import { startHttpServer, type HttpServer } from './http-helpers.js';

let t: HttpServer;
before(async () => {
  t = await startHttpServer({ principals: true });
});
after(() => t.close());

const call = (method: string, path: string, init?: Parameters<HttpServer['request']>[2]) => t.request(method, path, init);
const STRONG = /^"[A-Za-z0-9_-]{27}"$/;

async function newOrder(): Promise<{ id: number; etag: string; lastModified: string }> {
  const res = await call('POST', '/v1/orders', { json: { clientId: 1, restaurantId: 1, orderValue: 12 } });
  assert.equal(res.status, 201);
  return { id: (res.body as { id: number }).id, etag: res.headers.get('etag') as string, lastModified: res.headers.get('last-modified') as string };
}

describe('an item presented as stored reuses the stored text (sameMembers)', () => {
  test('only the same members, in the same order, with the same values, count as the same', () => {
    const row = { id: 1, name: 'a', tags: null };
    assert.equal(sameMembers(row, row), true);
    assert.equal(sameMembers(row, { id: 1, name: 'a', tags: null }), true);
    assert.equal(sameMembers(row, { id: 1, tags: null, name: 'a' }), false, 'another order is another JSON text');
    assert.equal(sameMembers(row, { id: 1, name: 'a' }), false, 'a member fewer');
    assert.equal(sameMembers(row, { id: 1, name: 'a', tags: null, more: 0 }), false, 'a member more');
    assert.equal(sameMembers(row, { id: 1, name: 'b', tags: null }), false, 'another value');
    assert.equal(sameMembers({ id: 1, name: 'a' }, row), false, 'the row has a member fewer');
  });
});

describe('conditional GET and HEAD', () => {
  test('an item has a strong ETag and Last-Modified; If-None-Match answers 304, also for HEAD and weak tags', async () => {
    const { id } = await newOrder();
    const res = await call('GET', `/v1/orders/${id}`);
    const etag = res.headers.get('etag') as string;
    assert.match(etag, STRONG);
    const updatedAt = (res.body as { updatedAt: string }).updatedAt;
    assert.equal(res.headers.get('last-modified'), new Date(updatedAt).toUTCString());
    for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
      for (const method of ['GET', 'HEAD']) {
        const again = await call(method, `/v1/orders/${id}`, { headers: { 'if-none-match': inm } });
        assert.equal(again.status, 304, `${method} ${inm}`);
        assert.equal(again.headers.get('etag'), etag);
        assert.equal(again.text, '');
      }
    }
    const changed = await call('GET', `/v1/orders/${id}`, { headers: { 'if-none-match': '"something-else"' } });
    assert.equal(changed.status, 200);
  });

  test('If-Modified-Since: 304 when not modified since; ignored when If-None-Match is present', async () => {
    const { id, lastModified } = await newOrder();
    const same = await call('GET', `/v1/orders/${id}`, { headers: { 'if-modified-since': lastModified } });
    assert.equal(same.status, 304);
    const later = await call('GET', `/v1/orders/${id}`, { headers: { 'if-modified-since': new Date(Date.parse(lastModified) + 3600_000).toUTCString() } });
    assert.equal(later.status, 304);
    const earlier = await call('GET', `/v1/orders/${id}`, { headers: { 'if-modified-since': new Date(Date.parse(lastModified) - 1000).toUTCString() } });
    assert.equal(earlier.status, 200);
    const both = await call('GET', `/v1/orders/${id}`, { headers: { 'if-modified-since': lastModified, 'if-none-match': '"other"' } });
    assert.equal(both.status, 200, 'RFC 9110 §13.1.3: If-None-Match wins');
    const garbage = await call('GET', `/v1/orders/${id}`, { headers: { 'if-modified-since': 'yesterday' } });
    assert.equal(garbage.status, 200);
  });

  test('collections: an ETag and 304; HEAD has the headers of GET and no body', async () => {
    const get = await call('GET', '/v1/restaurants?type=thai&range=0-2');
    const etag = get.headers.get('etag') as string;
    assert.match(etag, STRONG);
    assert.equal((await call('GET', '/v1/restaurants?type=thai&range=0-2', { headers: { 'if-none-match': etag } })).status, 304);
    assert.equal((await call('HEAD', '/v1/restaurants?type=thai&range=0-2', { headers: { 'if-none-match': etag } })).status, 304);
    const item = await call('GET', '/v1/orders/1');
    const head = await call('HEAD', '/v1/orders/1');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    for (const h of ['etag', 'last-modified', 'link', 'content-type', 'content-length', 'vary']) assert.equal(head.headers.get(h), item.headers.get(h), h);
  });
});

describe('If-Match and requireIfMatch', () => {
  test('PUT, PATCH and DELETE honour If-Match: a stale or weak tag is 412', async () => {
    const { id, etag } = await newOrder();
    const stale = await call('PATCH', `/v1/orders/${id}`, { json: { orderValue: 13 }, headers: { 'if-match': '"stale"' } });
    assert.equal(stale.status, 412);
    assert.deepEqual(stale.body, {
      error: 'precondition_failed',
      error_description: 'The resource has changed since the ETag given in If-Match',
      error_uri: `${t.url}/docs/errors#precondition_failed`,
    });
    assert.equal((await call('PATCH', `/v1/orders/${id}`, { json: { orderValue: 13 }, headers: { 'if-match': `W/${etag}` } })).status, 412, 'RFC 9110 §13.1.1: strong comparison');
    const ok = await call('PATCH', `/v1/orders/${id}`, { json: { orderValue: 13 }, headers: { 'if-match': `"other", ${etag}` } });
    assert.equal(ok.status, 200);
    const newTag = ok.headers.get('etag') as string;
    assert.notEqual(newTag, etag);
    assert.equal((await call('PUT', `/v1/orders/${id}`, { json: { clientId: 1, restaurantId: 1 }, headers: { 'if-match': etag } })).status, 412, 'the old tag is stale now');
    assert.equal((await call('DELETE', `/v1/orders/${id}`, { headers: { 'if-match': etag } })).status, 412);
    assert.equal((await call('PUT', '/v1/orders/987654', { json: { clientId: 1, restaurantId: 1 }, headers: { 'if-match': '*' } })).status, 412, 'If-Match: * needs the item to exist');
    assert.equal((await call('DELETE', `/v1/orders/${id}`, { headers: { 'if-match': '*' } })).status, 204);
  });

  test('requireIfMatch: changing without If-Match is 428; creating needs none', async () => {
    const schema: ApiSpec = {
      api: { name: 'Guarded' },
      resources: { notes: { access: 'public', requireIfMatch: true, required: ['text'], fields: { text: { type: 'string' } } } },
    };
    const g = await startHttpServer({ schema });
    try {
      const created = await g.request('POST', '/v1/notes', { json: { text: 'a' } });
      assert.equal(created.status, 201);
      const id = (created.body as { id: number }).id;
      for (const [method, json] of [['PATCH', { text: 'b' }], ['PUT', { text: 'b' }], ['DELETE', undefined]] as const) {
        const res = await g.request(method, `/v1/notes/${id}`, json ? { json } : {});
        assert.equal(res.status, 428, method);
        assert.deepEqual(res.body, {
          error: 'precondition_required',
          error_description: 'Changing a note requires an If-Match header with its current ETag',
          error_uri: `${g.url}/docs/errors#precondition_required`,
        });
      }
      const patched = await g.request('PATCH', `/v1/notes/${id}`, { json: { text: 'b' }, headers: { 'if-match': created.headers.get('etag') as string } });
      assert.equal(patched.status, 200);
      assert.equal((await g.request('PUT', '/v1/notes/50', { json: { text: 'new' } })).status, 201, 'PUT that creates needs no If-Match');
    } finally {
      await g.close();
    }
  });
});

describe('Idempotency-Key on POST', () => {
  test('the same key and body replays the first response: status, headers and body', async () => {
    const init = { json: { name: 'Idempotent', type: 'thai', rating: 3 }, headers: { 'idempotency-key': 'create-1', 'x-request-id': 'r1' } };
    const first = await call('POST', '/v1/restaurants', init);
    assert.equal(first.status, 201);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    // Another JSON spelling of the same body is the same request.
    const second = await call('POST', '/v1/restaurants', { raw: '{"rating":3, "type":"thai", "name":"Idempotent"}', headers: { 'content-type': 'application/json', 'idempotency-key': 'create-1', 'x-request-id': 'r1' } });
    assert.equal(second.status, 201);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    for (const h of ['location', 'etag', 'last-modified', 'content-type', 'link', 'x-request-id']) assert.equal(second.headers.get(h), first.headers.get(h), h);
    assert.equal(second.text, first.text);
    const rows = await call('GET', '/v1/restaurants?name=Idempotent');
    assert.equal(rows.headers.get('content-range'), '0-0/1');
  });

  test('the same key with another body is 422 idempotency_key_reused', async () => {
    assert.equal((await call('POST', '/v1/restaurants', { json: { name: 'Reuse A', type: 'thai' }, headers: { 'idempotency-key': 'reuse' } })).status, 201);
    const res = await call('POST', '/v1/restaurants', { json: { name: 'Reuse B', type: 'thai' }, headers: { 'idempotency-key': 'reuse' } });
    assert.equal(res.status, 422);
    assert.deepEqual(res.body, {
      error: 'idempotency_key_reused',
      error_description: 'This Idempotency-Key was already used with a different request',
      error_uri: `${t.url}/docs/errors#idempotency_key_reused`,
    });
    const elsewhere = await call('POST', '/v1/clients', { json: { name: 'Reuse A', email: 'reuse@example.com' }, headers: { 'idempotency-key': 'reuse' } });
    assert.equal(elsewhere.status, 422, 'a key names one request, whatever the collection');
  });

  test('two simultaneous requests with one key create one row', async () => {
    const send = () => call('POST', '/v1/restaurants', { json: { name: 'Concurrent', type: 'japanese' }, headers: { 'idempotency-key': 'race-1' } });
    const answers = await Promise.all([send(), send(), send(), send(), send()]);
    assert.deepEqual(answers.map((a) => a.status), [201, 201, 201, 201, 201]);
    assert.equal(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true').length, 4);
    assert.equal(new Set(answers.map((a) => a.headers.get('location'))).size, 1);
    const rows = await call('GET', '/v1/restaurants?name=Concurrent');
    assert.equal(rows.headers.get('content-range'), '0-0/1');
  });

  test('keys are scoped to the principal', async () => {
    const as = (subject: string) => call('POST', '/v1/restaurants', { json: { name: 'Scoped', type: 'thai' }, headers: { 'idempotency-key': 'shared-key', 'x-test-subject': subject, 'x-test-scopes': 'restaurants:write' } });
    const a = await as('alice');
    const b = await as('bob');
    const a2 = await as('alice');
    assert.deepEqual([a.status, b.status, a2.status], [201, 201, 201]);
    assert.notEqual(a.headers.get('location'), b.headers.get('location'));
    assert.equal(a2.headers.get('location'), a.headers.get('location'));
    assert.equal(a2.headers.get('idempotent-replayed'), 'true');
    assert.equal(b.headers.get('idempotent-replayed'), null);
  });

  test('a failed request is not remembered; keys expire after the retention window and are purged', async () => {
    const bad = await call('POST', '/v1/restaurants', { json: { name: 'Later' }, headers: { 'idempotency-key': 'fix-me' } });
    assert.equal(bad.status, 400);
    const fixed = await call('POST', '/v1/restaurants', { json: { name: 'Later', type: 'thai' }, headers: { 'idempotency-key': 'fix-me' } });
    assert.equal(fixed.status, 201);
    assert.equal(fixed.headers.get('idempotent-replayed'), null);

    const first = await call('POST', '/v1/restaurants', { json: { name: 'Expiring', type: 'thai' }, headers: { 'idempotency-key': 'expiring' } });
    const service = t.server.service;
    const hour = 3600_000;
    // Nothing expires within 24 h…
    await service.idempotency.purge(new Date(Date.now() + 23 * hour));
    const within = await call('POST', '/v1/restaurants', { json: { name: 'Expiring', type: 'thai' }, headers: { 'idempotency-key': 'expiring' } });
    assert.equal(within.headers.get('idempotent-replayed'), 'true');
    // …and everything after (the server purges hourly; here the clock is moved instead of waiting).
    assert.ok((await service.idempotency.purge(new Date(Date.now() + 24 * hour + 1000))) >= 1, 'expired keys are purged');
    const afterwards = await call('POST', '/v1/restaurants', { json: { name: 'Expiring', type: 'thai' }, headers: { 'idempotency-key': 'expiring' } });
    assert.equal(afterwards.status, 201);
    assert.equal(afterwards.headers.get('idempotent-replayed'), null);
    assert.notEqual(afterwards.headers.get('location'), first.headers.get('location'));
  });

  test('a malformed key is 400; Prefer: return=minimal replays as 204', async () => {
    for (const key of ['', 'x'.repeat(256), 'with space']) {
      const res = await call('POST', '/v1/restaurants', { json: { name: 'K', type: 'thai' }, headers: { 'idempotency-key': key } });
      assert.equal(res.status, 400, JSON.stringify(key));
      assert.equal((res.body as { error_description: string }).error_description, 'Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good choice).');
    }
    const init = { json: { name: 'Minimal', type: 'thai' }, headers: { 'idempotency-key': '"quoted-key"', prefer: 'return=minimal' } };
    const first = await call('POST', '/v1/restaurants', init);
    const second = await call('POST', '/v1/restaurants', init);
    assert.deepEqual([first.status, second.status], [204, 204]);
    assert.equal(second.headers.get('location'), first.headers.get('location'));
    assert.equal(second.headers.get('etag'), first.headers.get('etag'));
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
  });

  test('operations run once per key; a duplicate arriving meanwhile waits and replays', async () => {
    let runs = 0;
    const schema: ApiSpec = {
      api: { name: 'Ops' },
      resources: { notes: { access: 'public', fields: { text: { type: 'string' } } } },
      actions: {
        'tickets/issue': {
          access: 'public',
          input: { type: 'object', properties: { who: { type: 'string' } }, required: ['who'] },
          output: { type: 'integer' },
          handler: async () => {
            runs++;
            await new Promise<void>((resolve) => setImmediate(resolve));
            return runs;
          },
        },
      },
    };
    const o = await startHttpServer({ schema });
    try {
      const issue = (who: string, key?: string) => o.request('POST', '/v1/tickets/issue', { json: { who }, headers: key ? { 'idempotency-key': key } : {} });
      const answers = await Promise.all([issue('ann', 'op-1'), issue('ann', 'op-1'), issue('ann', 'op-1')]);
      assert.deepEqual(answers.map((a) => a.body), [{ result: 1 }, { result: 1 }, { result: 1 }]);
      assert.equal(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true').length, 2);
      assert.equal(runs, 1);
      const reused = await issue('bob', 'op-1');
      assert.equal(reused.status, 422);
      assert.deepEqual((await issue('ann')).body, { result: 2 }, 'without a key, it runs again');
      const invalid = await o.request('POST', '/v1/tickets/issue', { json: {}, headers: { 'idempotency-key': 'op-2' } });
      assert.equal(invalid.status, 400);
      assert.deepEqual((await issue('cid', 'op-2')).body, { result: 3 }, 'a failed call does not keep its key');
    } finally {
      await o.close();
    }
  });

  test('two instances on one database: a duplicate sent to the other waits for the first and replays it', async () => {
    let runs = 0;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const schema: ApiSpec = {
      api: { name: 'Shared' },
      resources: { notes: { access: 'public', fields: { text: { type: 'string' } } } },
      actions: {
        'slow/job': {
          access: 'public',
          input: { type: 'object' },
          output: { type: 'integer' },
          handler: async () => {
            runs++;
            await gate;
            return 42;
          },
        },
      },
    };
    const dir = mkdtempSync(path.join(os.tmpdir(), 'carte-idem-'));
    const db = path.join(dir, 'shared.db');
    const a = await startHttpServer({ schema, config: { db } });
    const b = await startHttpServer({ schema, config: { db } });
    try {
      // B has nothing to await from A: it reads the shared record until A finishes.
      let polling!: () => void;
      const polled = new Promise<void>((resolve) => {
        polling = resolve;
      });
      const store = b.server.store;
      const read = store.idempotencyRecord.bind(store);
      store.idempotencyRecord = (...args) => {
        polling();
        return read(...args);
      };
      const init = { json: { n: 1 }, headers: { 'idempotency-key': 'job-1' } };
      const first = a.request('POST', '/v1/slow/job', init);
      for (let i = 0; i < 5000 && runs === 0; i++) await new Promise((r) => setTimeout(r, 2));
      assert.equal(runs, 1, 'the first request is running');
      const second = b.request('POST', '/v1/slow/job', init);
      await polled;
      open();
      const [ra, rb] = await Promise.all([first, second]);
      assert.deepEqual([ra.body, rb.body], [{ result: 42 }, { result: 42 }]);
      assert.equal(ra.headers.get('idempotent-replayed'), null);
      assert.equal(rb.headers.get('idempotent-replayed'), 'true');
      assert.equal(runs, 1);
    } finally {
      open();
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
