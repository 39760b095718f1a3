/** Large binary fields (SPEC §4.9): streamed PUT/GET/HEAD/DELETE, 415, 413, byte ranges, 416, If-Range. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ApiSpec } from '../src/schema/types.js';
import { startHttpServer, type HttpServer } from './http-helpers.js';

const schema: ApiSpec = {
  api: { name: 'Shop' },
  resources: {
    products: {
      access: 'public',
      required: ['name'],
      fields: {
        name: { type: 'string' },
        image: { type: 'blob', mediaTypes: ['image/png', 'image/jpeg'], maxBytes: 10_000 },
        manual: { type: 'blob', mediaTypes: ['application/*'], maxBytes: 100_000 },
        updatedAt: { type: 'string', format: 'date-time', readOnly: true },
      },
    },
  },
};

const dir = mkdtempSync(path.join(os.tmpdir(), 'carte-blob-test-'));
const db = path.join(dir, 'shop.db');
let t: HttpServer;
before(async () => {
  t = await startHttpServer({ schema, config: { db } });
});
after(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = (method: string, p: string, init?: Parameters<HttpServer['request']>[2]) => t.request(method, p, init);
const IMAGE = randomBytes(4580);

/** Blob files on disk (without the temporary directory). */
function files(): string[] {
  const root = `${db}-blobs`;
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !path.relative(root, e.parentPath).startsWith('.tmp'))
    .map((e) => path.join(e.parentPath, e.name));
}

async function product(name: string, image?: Buffer): Promise<number> {
  const res = await call('POST', '/v1/products', { json: { name } });
  assert.equal(res.status, 201);
  const id = (res.body as { id: number }).id;
  if (image) assert.equal((await call('PUT', `/v1/products/${id}/image`, { raw: image, headers: { 'content-type': 'image/png' } })).status, 204);
  return id;
}

describe('upload and download', () => {
  test('PUT streams the bytes in: 204 with the ETag; GET streams them out with Accept-Ranges, Content-Length, ETag', async () => {
    const id = await product('Lamp');
    const put = await call('PUT', `/v1/products/${id}/image`, { raw: IMAGE, headers: { 'content-type': 'image/png' } });
    assert.equal(put.status, 204);
    const etag = put.headers.get('etag') as string;
    assert.match(etag, /^"[A-Za-z0-9_-]{43}"$/);
    const get = await call('GET', `/v1/products/${id}/image`);
    assert.equal(get.status, 200);
    assert.equal(get.headers.get('content-type'), 'image/png');
    assert.equal(get.headers.get('content-length'), '4580');
    assert.equal(get.headers.get('accept-ranges'), 'bytes');
    assert.equal(get.headers.get('etag'), etag);
    assert.ok(get.bytes.equals(IMAGE), 'the bytes come back unchanged');
    const item = (await call('GET', `/v1/products/${id}`)).body as { image: unknown; updatedAt: string };
    assert.deepEqual(item.image, { href: `${t.url}/v1/products/${id}/image`, contentType: 'image/png', size: 4580 });
    assert.equal(get.headers.get('last-modified'), new Date(item.updatedAt).toUTCString());
  });

  test('HEAD has the headers of GET and no body; If-None-Match is 304', async () => {
    const id = await product('Chair', IMAGE);
    const get = await call('GET', `/v1/products/${id}/image`);
    const head = await call('HEAD', `/v1/products/${id}/image`);
    assert.equal(head.status, 200);
    assert.equal(head.bytes.length, 0);
    for (const h of ['content-type', 'content-length', 'accept-ranges', 'etag', 'last-modified']) assert.equal(head.headers.get(h), get.headers.get(h), h);
    const cached = await call('GET', `/v1/products/${id}/image`, { headers: { 'if-none-match': get.headers.get('etag') as string } });
    assert.equal(cached.status, 304);
    assert.equal(cached.bytes.length, 0);
  });

  test('the files live next to the database; replacing a blob or deleting its item removes the old file', async () => {
    assert.ok(existsSync(`${db}-blobs`), 'the blob directory sits next to the database');
    const before = files().length;
    const id = await product('Desk', IMAGE);
    assert.equal(files().length, before + 1);
    const other = randomBytes(100);
    assert.equal((await call('PUT', `/v1/products/${id}/image`, { raw: other, headers: { 'content-type': 'image/jpeg' } })).status, 204);
    assert.equal(files().length, before + 1, 'the replaced bytes are gone');
    const get = await call('GET', `/v1/products/${id}/image`);
    assert.equal(get.headers.get('content-type'), 'image/jpeg');
    assert.ok(get.bytes.equals(other), 'the new bytes');
    assert.equal((await call('DELETE', `/v1/products/${id}`)).status, 204);
    assert.equal(files().length, before, 'deleting the item deleted its blob');
  });

  test('DELETE on the blob: 204, then 404; the JSON shows null', async () => {
    const id = await product('Sofa', IMAGE);
    assert.equal((await call('DELETE', `/v1/products/${id}/image`)).status, 204);
    const gone = await call('GET', `/v1/products/${id}/image`);
    assert.equal(gone.status, 404);
    assert.deepEqual(gone.body, { error: 'not_found', error_description: `The product '${id}' has no image`, error_uri: `${t.url}/docs/errors#not_found` });
    assert.equal((await call('DELETE', `/v1/products/${id}/image`)).status, 404);
    assert.equal(((await call('GET', `/v1/products/${id}`)).body as { image: unknown }).image, null);
  });

  test('an empty blob is a blob of 0 bytes', async () => {
    const id = await product('Nothing');
    assert.equal((await call('PUT', `/v1/products/${id}/manual`, { raw: Buffer.alloc(0), headers: { 'content-type': 'application/pdf' } })).status, 204);
    const get = await call('GET', `/v1/products/${id}/manual`);
    assert.equal(get.status, 200);
    assert.equal(get.headers.get('content-length'), '0');
    assert.equal((await call('GET', `/v1/products/${id}/manual`, { headers: { range: 'bytes=0-10' } })).status, 416);
  });
});

describe('refused uploads', () => {
  test('a type the field does not take is 415, with the types it does', async () => {
    const id = await product('Table');
    const res = await call('PUT', `/v1/products/${id}/image`, { raw: IMAGE, headers: { 'content-type': 'image/gif' } });
    assert.equal(res.status, 415);
    assert.deepEqual(res.body, {
      error: 'unsupported_media_type',
      error_description: "Content-Type 'image/gif' is not supported here; use one of: image/png, image/jpeg",
      error_uri: `${t.url}/docs/errors#unsupported_media_type`,
      supported: ['image/png', 'image/jpeg'],
    });
    const none = await call('PUT', `/v1/products/${id}/image`, { raw: IMAGE });
    assert.equal(none.status, 415);
    assert.equal((await call('PUT', `/v1/products/${id}/manual`, { raw: IMAGE, headers: { 'content-type': 'application/pdf; version=1.7' } })).status, 204, 'application/* takes any application type');
  });

  test('over maxBytes is 413, whether declared by Content-Length or found while streaming; nothing is kept', async () => {
    const id = await product('Bed', IMAGE);
    const before = files().length;
    const big = randomBytes(10_001);
    const declared = await call('PUT', `/v1/products/${id}/image`, { raw: big, headers: { 'content-type': 'image/png' } });
    assert.equal(declared.status, 413);
    assert.deepEqual(declared.body, { error: 'payload_too_large', error_description: 'The body is larger than the limit of 10000 bytes', error_uri: `${t.url}/docs/errors#payload_too_large` });
    const chunks = [big.subarray(0, 4000), big.subarray(4000, 8000), big.subarray(8000)];
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(new Uint8Array(next));
        else controller.close();
      },
    });
    const streamed = await call('PUT', `/v1/products/${id}/image`, { raw: stream, headers: { 'content-type': 'image/png' } });
    assert.equal(streamed.status, 413);
    assert.equal(files().length, before);
    assert.deepEqual(readdirSync(path.join(`${db}-blobs`, '.tmp')), [], 'no temporary file is left');
    assert.ok((await call('GET', `/v1/products/${id}/image`)).bytes.equals(IMAGE), 'the previous bytes are intact');
  });

  test('an upload interrupted by the client leaves nothing behind, and the server goes on', async () => {
    const id = await product('Interrupted', IMAGE);
    const before = files().length;
    const { hostname, port } = new URL(t.url);
    const tmp = () => readdirSync(path.join(`${db}-blobs`, '.tmp'));
    const req = http.request({ hostname, port, method: 'PUT', path: `/v1/products/${id}/image`, headers: { 'content-type': 'image/png', 'content-length': '8000' } });
    const closed = new Promise<void>((resolve) => req.on('close', () => resolve()));
    req.on('error', () => undefined);
    req.write(randomBytes(3000));
    // The server's progress cannot be awaited from here: look a bounded number of times.
    for (let i = 0; i < 500 && tmp().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(tmp().length, 1, 'the upload is under way');
    req.destroy();
    await closed;
    for (let i = 0; i < 500 && tmp().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(readdirSync(path.join(`${db}-blobs`, '.tmp')), [], 'the partial upload is removed');
    assert.equal(files().length, before);
    assert.ok((await call('GET', `/v1/products/${id}/image`)).bytes.equals(IMAGE), 'the previous bytes are intact');
  });

  test('If-Match on the blob: a stale tag is 412; a missing item is 404; other methods 405', async () => {
    const id = await product('Shelf', IMAGE);
    const stale = await call('PUT', `/v1/products/${id}/image`, { raw: IMAGE, headers: { 'content-type': 'image/png', 'if-match': '"old"' } });
    assert.equal(stale.status, 412);
    const etag = (await call('HEAD', `/v1/products/${id}/image`)).headers.get('etag') as string;
    assert.equal((await call('PUT', `/v1/products/${id}/image`, { raw: IMAGE, headers: { 'content-type': 'image/png', 'if-match': etag } })).status, 204);
    assert.equal((await call('DELETE', `/v1/products/${id}/image`, { headers: { 'if-match': '"old"' } })).status, 412);
    assert.equal((await call('PUT', '/v1/products/999999/image', { raw: IMAGE, headers: { 'content-type': 'image/png' } })).status, 404);
    assert.equal((await call('GET', '/v1/products/999999/image')).status, 404);
    const post = await call('POST', `/v1/products/${id}/image`, { raw: IMAGE, headers: { 'content-type': 'image/png' } });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD, PUT, DELETE, OPTIONS');
  });
});

describe('byte ranges (RFC 9110 §14)', () => {
  let id: number;
  before(async () => {
    id = await product('Ranged', IMAGE);
  });
  const get = (headers: Record<string, string>) => call('GET', `/v1/products/${id}/image`, { headers });

  test('bytes=0-2499 is 206 with Content-Range and Content-Length 2500', async () => {
    const res = await get({ range: 'bytes=0-2499' });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get('content-range'), 'bytes 0-2499/4580');
    assert.equal(res.headers.get('content-length'), '2500');
    assert.equal(res.headers.get('accept-ranges'), 'bytes');
    assert.ok(res.bytes.equals(IMAGE.subarray(0, 2500)), 'the first 2500 bytes');
  });

  test('bytes=2500- is bytes 2500-4579/4580 (SPEC decision); suffix ranges; ends past the size are clipped', async () => {
    const open = await get({ range: 'bytes=2500-' });
    assert.equal(open.status, 206);
    assert.equal(open.headers.get('content-range'), 'bytes 2500-4579/4580');
    assert.equal(open.headers.get('content-length'), '2080');
    assert.ok(open.bytes.equals(IMAGE.subarray(2500)), 'the bytes from 2500');
    const suffix = await get({ range: 'bytes=-500' });
    assert.equal(suffix.headers.get('content-range'), 'bytes 4080-4579/4580');
    assert.ok(suffix.bytes.equals(IMAGE.subarray(4080)), 'the last 500 bytes');
    const whole = await get({ range: 'bytes=-10000' });
    assert.equal(whole.headers.get('content-range'), 'bytes 0-4579/4580');
    const clipped = await get({ range: 'bytes=4000-9999' });
    assert.equal(clipped.headers.get('content-range'), 'bytes 4000-4579/4580');
    assert.equal(clipped.bytes.length, 580);
  });

  test('an unsatisfiable range is 416 with Content-Range: bytes */4580', async () => {
    for (const range of ['bytes=4580-', 'bytes=5000-6000', 'bytes=-0']) {
      const res = await get({ range });
      assert.equal(res.status, 416, range);
      assert.equal(res.headers.get('content-range'), 'bytes */4580');
      assert.equal((res.body as { error: string }).error, 'range_not_satisfiable');
    }
  });

  test('several ranges, another unit or a malformed range get the whole blob', async () => {
    for (const range of ['bytes=0-1,5-6', 'items=0-1', 'bytes=abc', 'bytes=9-3']) {
      const res = await get({ range });
      assert.equal(res.status, 200, range);
      assert.equal(res.bytes.length, 4580);
    }
  });

  test('If-Range: the current ETag or Last-Modified keeps the range; anything else sends everything', async () => {
    const head = await call('HEAD', `/v1/products/${id}/image`);
    const etag = head.headers.get('etag') as string;
    const lastModified = head.headers.get('last-modified') as string;
    assert.equal((await get({ range: 'bytes=0-9', 'if-range': etag })).status, 206);
    assert.equal((await get({ range: 'bytes=0-9', 'if-range': lastModified })).status, 206);
    const stale = await get({ range: 'bytes=0-9', 'if-range': '"old"' });
    assert.equal(stale.status, 200);
    assert.equal(stale.bytes.length, 4580);
    assert.equal((await get({ range: 'bytes=0-9', 'if-range': `W/${etag}` })).status, 200, 'a weak tag never validates a range');
    assert.equal((await get({ range: 'bytes=0-9', 'if-range': new Date(Date.parse(lastModified) - 60_000).toUTCString() })).status, 200);
  });
});

describe('the demo', () => {
  test("restaurants' photo takes jpeg and png", async () => {
    const demo = await startHttpServer();
    try {
      const put = await demo.request('PUT', '/v1/restaurants/1/photo', { raw: IMAGE, headers: { 'content-type': 'image/jpeg' } });
      assert.equal(put.status, 204);
      const item = (await demo.request('GET', '/v1/restaurants/1?fields=photo')).body;
      assert.deepEqual(item, { id: 1, photo: { href: `${demo.url}/v1/restaurants/1/photo`, contentType: 'image/jpeg', size: 4580 } });
      assert.ok((await demo.request('GET', '/v1/restaurants/1/photo')).bytes.equals(IMAGE));
    } finally {
      await demo.close();
    }
  });
});
