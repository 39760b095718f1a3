/**
 * BOLA on every front end (SPEC §8, issue 9 items 1 and 8): under an `owner:<field>` rule,
 * another principal's row is 404 everywhere — REST in JSON, XML, CSV and JSONP, HEAD,
 * conditional and long-polled GETs, the previous API version, blobs, item actions,
 * JSON-RPC over HTTP and over the WebSocket, GraphQL (items, lists, totals, relations both
 * ways, search, mutations) — and never shows in a list, a count, a collection ETag, a
 * search, an embed or an event (polled, long-polled, server-sent or subscribed).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CarteEvent } from '../src/events/types.js';
import type { ApiSpec, JsonObject } from '../src/schema/types.js';
import { connectWs, openSse, type WsClient } from './events-helpers.js';
import { startServer, type Response, type TestServer } from './helpers.js';
import { ownerResources, seedOwnerRows } from './owner-fixture.js';

const owned = ownerResources({
  references: { folderId: { type: 'integer', references: 'folders' } },
  fields: {
    attachment: { type: 'blob', mediaTypes: ['text/plain'], maxBytes: 10_000 },
    updatedAt: { type: 'string', format: 'date-time', readOnly: true },
  },
  actions: { pin: { access: 'authenticated', handler: (_input, context) => ({ pinned: (context.item as JsonObject | undefined)?.title ?? null }) } },
});

const schema: ApiSpec = {
  api: { name: 'Vault' },
  resources: {
    boards: owned.boards,
    notes: owned.notes,
    folders: { access: { read: 'public', write: 'owner:ownerId' }, fields: { ownerId: { type: 'string' }, name: { type: 'string' } } },
    pages: {
      access: 'owner:ownerId',
      fields: { ownerId: { type: 'string' }, folderId: { type: 'integer', references: 'folders', onDelete: 'cascade' }, text: { type: 'string' } },
    },
    comments: owned.comments,
  },
  previousVersion: { version: 0, deprecation: '2025-01-01T00:00:00Z', sunset: '2099-01-01T00:00:00Z', resources: { notes: { omit: ['updatedAt'] } } },
};

let t: TestServer;
let alice: string;
let bob: string;
let board: number;
let aliceNote: number;
let bobNote: number;
let comment: number;
/** The id of the first event of the log (the board's creation): replays start after it. */
let firstEvent: string;

const as = (token: string, method: string, path: string, init: { body?: unknown; headers?: Record<string, string>; raw?: string } = {}): Promise<Response> => t.request(method, path, { token, ...init });
const ids = (res: Response): number[] => (res.body as { id: number }[]).map((i) => i.id);

before(async () => {
  t = await startServer({ schema });
  ({ alice, bob, board, aliceNote, bobNote, comment } = await seedOwnerRows(t, 'alice zanzibar secret', 'see you'));
  firstEvent = ((await t.get('/v1/events?resource=boards')).body as CarteEvent[])[0]?.id as string;
  const upload = await as(alice, 'PUT', `/v1/notes/${aliceNote}/attachment`, { raw: 'the combination is 1234', headers: { 'content-type': 'text/plain' } });
  assert.equal(upload.status, 204, upload.text);
});
after(() => t.close());

/** The error body of SPEC §4.13 for a note that does not exist (for the caller). */
function missing(id: number | string) {
  return { error: 'not_found', error_description: `The note with the id '${id}' doesn't exist`, error_uri: `${t.url}/docs/errors#not_found` };
}

function notFound(res: Response, id: number | string): void {
  assert.equal(res.status, 404, res.text);
  assert.deepEqual(res.body, missing(id));
}

/** Events whose item belongs to alice, among those of notes. */
function alices(events: readonly CarteEvent[]): CarteEvent[] {
  return events.filter((e) => e.resource === 'notes' && (e.data as { ownerId?: string }).ownerId !== 'bob');
}

describe('REST representations', () => {
  test('HEAD, XML and JSONP answer 404 for another’s item, as for an id never used', async () => {
    const head = await as(bob, 'HEAD', `/v1/notes/${aliceNote}`);
    assert.equal(head.status, 404);
    assert.equal(head.text, '');
    assert.equal((await as(bob, 'HEAD', '/v1/notes/999999')).status, 404);
    const xml = await as(bob, 'GET', `/v1/notes/${aliceNote}`, { headers: { accept: 'application/xml' } });
    const never = await as(bob, 'GET', '/v1/notes/999999', { headers: { accept: 'application/xml' } });
    assert.equal(xml.status, 404);
    assert.equal(xml.text, never.text.replace('999999', String(aliceNote)));
    assert.match(xml.text, /<error><error>not_found<\/error>/);
    const jsonp = await as(bob, 'GET', `/v1/notes/${aliceNote}.jsonp?callback=cb`);
    assert.equal(jsonp.status, 200, 'JSONP always answers 200; the status is in meta');
    const envelope = JSON.parse(/^\/\*\*\/cb\(([\s\S]*)\);?$/.exec(jsonp.text)?.[1] ?? 'null') as { meta: { status: number }; data: unknown };
    assert.equal(envelope.meta.status, 404);
    assert.deepEqual(envelope.data, missing(aliceNote));
  });

  test('CSV and XML collections hold only your rows', async () => {
    const csv = await as(bob, 'GET', '/v1/notes', { headers: { accept: 'text/csv' } });
    assert.equal(csv.status, 200);
    assert.equal(csv.headers.get('content-range'), '0-0/1');
    const lines = csv.text.trim().split(/\r?\n/);
    assert.equal(lines.length, 2, csv.text);
    assert.match(lines[1] as string, new RegExp(`^${bobNote},bob,${board},,bob grocery list,`));
    assert.doesNotMatch(csv.text, /alice|zanzibar/);
    const xml = await as(bob, 'GET', '/v1/notes', { headers: { accept: 'application/xml' } });
    assert.equal(xml.status, 200);
    assert.equal((xml.text.match(/<note>/g) ?? []).length, 1);
    assert.doesNotMatch(xml.text, /alice|zanzibar/);
    const search = await as(bob, 'GET', '/v1/notes/search?title=*zanzibar*', { headers: { accept: 'text/csv' } });
    assert.equal(search.status, 200);
    assert.equal(search.headers.get('content-range'), '*/0');
    assert.doesNotMatch(search.text, /alice|zanzibar/);
  });

  test('conditional GETs: another’s ETag gives 404, never 304; another’s writes do not change your collection’s ETag', async () => {
    const etag = (await as(alice, 'GET', `/v1/notes/${aliceNote}`)).headers.get('etag') as string;
    assert.ok(etag);
    notFound(await as(bob, 'GET', `/v1/notes/${aliceNote}`, { headers: { 'if-none-match': etag } }), aliceNote);
    notFound(await as(bob, 'GET', `/v1/notes/${aliceNote}`, { headers: { 'if-none-match': '*' } }), aliceNote);
    notFound(await as(bob, 'PATCH', `/v1/notes/${aliceNote}`, { body: { title: 'x' }, headers: { 'if-match': etag } }), aliceNote);
    const list = await as(bob, 'GET', '/v1/notes');
    const listTag = list.headers.get('etag') as string;
    assert.ok(listTag);
    const extra = ((await as(alice, 'POST', '/v1/notes', { body: { title: 'alice etag probe' } })).body as { id: number }).id;
    assert.equal((await as(alice, 'PATCH', `/v1/notes/${extra}`, { body: { title: 'alice etag probe 2' } })).status, 200);
    const again = await as(bob, 'GET', '/v1/notes', { headers: { 'if-none-match': listTag } });
    assert.equal(again.status, 304, 'alice’s writes are not part of bob’s collection');
    assert.equal((await as(alice, 'GET', '/v1/notes', { headers: { 'if-none-match': listTag } })).status, 200);
    assert.equal((await as(alice, 'DELETE', `/v1/notes/${extra}`)).status, 204);
  });

  test('the previous API version, by path and by header, is the same service', async () => {
    notFound(await as(bob, 'GET', `/v0/notes/${aliceNote}`), aliceNote);
    notFound(await as(bob, 'GET', `/notes/${aliceNote}`, { headers: { 'api-version': '0' } }), aliceNote);
    notFound(await as(bob, 'PATCH', `/v0/notes/${aliceNote}`, { body: { title: 'x' } }), aliceNote);
    const old = await as(bob, 'GET', '/v0/notes');
    assert.equal(old.status, 200);
    assert.equal(old.headers.get('content-range'), '0-0/1');
    assert.deepEqual(ids(old), [bobNote]);
    assert.equal((await as(alice, 'GET', `/v0/notes/${aliceNote}`)).status, 200);
  });

  test('blobs of another’s item: 404 on GET, HEAD, ranges, PUT and DELETE', async () => {
    notFound(await as(bob, 'GET', `/v1/notes/${aliceNote}/attachment`), aliceNote);
    notFound(await as(bob, 'GET', `/v1/notes/${aliceNote}/attachment`, { headers: { range: 'bytes=0-3' } }), aliceNote);
    const head = await as(bob, 'HEAD', `/v1/notes/${aliceNote}/attachment`);
    assert.equal(head.status, 404);
    assert.notEqual(head.headers.get('content-length'), '23', 'the size of the blob does not leak');
    notFound(await as(bob, 'PUT', `/v1/notes/${aliceNote}/attachment`, { raw: 'pwned', headers: { 'content-type': 'text/plain' } }), aliceNote);
    notFound(await as(bob, 'DELETE', `/v1/notes/${aliceNote}/attachment`), aliceNote);
    notFound(await as(bob, 'GET', `/v0/notes/${aliceNote}/attachment`), aliceNote);
    const own = await as(alice, 'GET', `/v1/notes/${aliceNote}/attachment`);
    assert.equal(own.status, 200);
    assert.equal(own.text, 'the combination is 1234', 'bob changed nothing');
  });

  test('item actions and nested routes under another’s item are 404', async () => {
    notFound(await as(bob, 'POST', `/v1/notes/${aliceNote}/pin`, { body: {} }), aliceNote);
    const own = await as(bob, 'POST', `/v1/notes/${bobNote}/pin`, { body: {} });
    assert.equal(own.status, 200, own.text);
    assert.deepEqual(own.body, { result: { pinned: 'bob grocery list' } });
    notFound(await as(bob, 'GET', `/v1/notes/${aliceNote}/comments`), aliceNote);
    notFound(await as(bob, 'PUT', `/v1/notes/${aliceNote}/comments`, { body: [] }), aliceNote);
    notFound(await as(bob, 'DELETE', `/v1/notes/${aliceNote}/comments?id[gte]=1`), aliceNote);
    assert.equal(((await as(alice, 'GET', `/v1/comments/${comment}`)).body as { text: string }).text, 'see you');
  });

  test('an Idempotency-Key is the caller’s own: the same key and body from another principal never replays another’s item', async () => {
    const headers = { 'idempotency-key': 'shared-key-1' };
    const first = await as(alice, 'POST', '/v1/notes', { body: { title: 'same body' }, headers });
    assert.equal(first.status, 201);
    const second = await as(bob, 'POST', '/v1/notes', { body: { title: 'same body' }, headers });
    assert.equal(second.status, 201, second.text);
    assert.equal(second.headers.get('idempotent-replayed'), null);
    const created = second.body as { id: number; ownerId: string };
    assert.notEqual(created.id, (first.body as { id: number }).id);
    assert.equal(created.ownerId, 'bob');
    assert.equal((await as(alice, 'DELETE', `/v1/notes/${(first.body as { id: number }).id}`)).status, 204);
    assert.equal((await as(bob, 'DELETE', `/v1/notes/${created.id}`)).status, 204);
  });
});

describe('long polling', () => {
  test('Prefer: wait with If-None-Match on another’s item is 404 at once, not a held request', async () => {
    const etag = (await as(alice, 'GET', `/v1/notes/${aliceNote}`)).headers.get('etag') as string;
    const started = Date.now();
    const res = await as(bob, 'GET', `/v1/notes/${aliceNote}`, { headers: { 'if-none-match': etag, prefer: 'wait=100' } });
    notFound(res, aliceNote);
    assert.ok(Date.now() - started < 20_000, `answered in ${Date.now() - started} ms, not held for the wait`);
    assert.equal(t.server.events.stats().heldLongPolls, 0);
  });

  test('a held poll of the feed is not woken by another’s event: it answers with your own', async () => {
    const cursor = ((await as(bob, 'GET', '/v1/events?resource=notes&after=now')).headers.get('link') ?? '').match(/after=([^&>]+)[^,]*rel="next-cursor"/)?.[1] as string;
    assert.ok(cursor);
    const held = as(bob, 'GET', `/v1/events?resource=notes&after=${cursor}`, { headers: { prefer: 'wait=60' } });
    // Alice writes first: if her event reached bob's waiter, it would answer with it.
    const probe = ((await as(alice, 'POST', '/v1/notes', { body: { title: 'alice long poll probe' } })).body as { id: number }).id;
    const mine = ((await as(bob, 'POST', '/v1/notes', { body: { title: 'bob long poll marker' } })).body as { id: number }).id;
    const res = await held;
    assert.equal(res.status, 200, res.text);
    const events = res.body as CarteEvent[];
    assert.deepEqual(alices(events), []);
    assert.deepEqual(events.map((e) => [e.type, e.resourceId]), [['notes.created', String(mine)]]);
    assert.equal((await as(alice, 'DELETE', `/v1/notes/${probe}`)).status, 204);
    assert.equal((await as(bob, 'DELETE', `/v1/notes/${mine}`)).status, 204);
  });
});

describe('the event feed (polling)', () => {
  test('GET /v1/events shows and counts only your rows’ events, whatever the filters', async () => {
    const all = await as(bob, 'GET', '/v1/events?resource=notes');
    assert.equal(all.status, 200);
    const events = all.body as CarteEvent[];
    assert.ok(events.length > 0);
    assert.deepEqual(alices(events), []);
    assert.equal(all.headers.get('content-range'), `0-${events.length - 1}/${events.length}`);
    const everything = (await as(bob, 'GET', '/v1/events')).body as CarteEvent[];
    assert.deepEqual(alices(everything), []);
    assert.ok(everything.some((e) => e.resource === 'comments'), 'public comments are in the feed');
    const probing = await as(bob, 'GET', '/v1/events?resource=notes&data.ownerId=alice');
    assert.deepEqual(probing.body, []);
    assert.equal(probing.headers.get('content-range'), '*/0');
    assert.deepEqual((await as(bob, 'GET', '/v1/events?type=notes.created&data.title[like]=*zanzibar*')).body, []);
    const own = (await as(alice, 'GET', '/v1/events?type=notes.created&data.title[like]=*zanzibar*')).body as CarteEvent[];
    assert.deepEqual(own.map((e) => e.resourceId), [String(aliceNote)]);
    const anonymous = await t.request('GET', '/v1/events?resource=notes', { anonymous: true });
    assert.equal(anonymous.status, 401);
    const publicOnly = (await t.request('GET', '/v1/events', { anonymous: true })).body as CarteEvent[];
    assert.deepEqual(publicOnly.filter((e) => e.resource === 'notes'), [], 'without credentials, no note event at all');
  });
});

describe('streams', () => {
  test('SSE: the replay from a cursor and the live stream carry only your rows’ events', async () => {
    const sse = await openSse(`${t.url}/v1/events?resource=notes`, { authorization: `Bearer ${bob}`, 'last-event-id': firstEvent });
    assert.equal(sse.response.status, 200);
    try {
      // Live: alice's write comes first; bob's marker ends what we read.
      const probe = ((await as(alice, 'POST', '/v1/notes', { body: { title: 'alice sse probe' } })).body as { id: number }).id;
      const marker = ((await as(bob, 'POST', '/v1/notes', { body: { title: 'bob sse marker' } })).body as { id: number }).id;
      const seen: CarteEvent[] = [];
      for (;;) {
        const e = await sse.nextEvent();
        const event = JSON.parse(e.data as string) as CarteEvent;
        assert.equal(e.id, event.id);
        seen.push(event);
        if (event.resourceId === String(marker) && event.type === 'notes.created') break;
      }
      assert.deepEqual(alices(seen), []);
      assert.ok(seen.some((e) => e.resourceId === String(bobNote) && e.type === 'notes.created'), 'the replay delivered bob’s own note');
      assert.equal(seen.filter((e) => e.resourceId === String(probe)).length, 0);
      assert.equal((await as(alice, 'DELETE', `/v1/notes/${probe}`)).status, 204);
      assert.equal((await as(bob, 'DELETE', `/v1/notes/${marker}`)).status, 204);
    } finally {
      sse.close();
    }
  });

  test('WebSocket: subscriptions (replayed and live, named or not) never deliver another’s events; JSON-RPC on the socket answers 404', async () => {
    const ws: WsClient = await connectWs(t.url, '/v1/ws', { headers: { authorization: `Bearer ${bob}` } });
    try {
      ws.send({ type: 'subscribe', id: 'notes', resource: 'notes', after: firstEvent });
      ws.send({ type: 'subscribe', id: 'all' });
      ws.send({ type: 'subscribe', id: 'probe', resource: 'notes', filter: { ownerId: 'alice' } });
      // The replay may interleave with the acknowledgements.
      const messages: Record<string, unknown>[] = [];
      let acks = 0;
      while (acks < 3) {
        const m = await ws.next();
        messages.push(m);
        if (m.type === 'subscribed') acks++;
      }
      assert.deepEqual(messages.filter((m) => m.type === 'subscribed').map((m) => m.id).sort(), ['all', 'notes', 'probe']);
      const probe = ((await as(alice, 'POST', '/v1/notes', { body: { title: 'alice ws probe' } })).body as { id: number }).id;
      assert.equal((await as(alice, 'PATCH', `/v1/notes/${aliceNote}`, { body: { title: 'alice zanzibar secret' } })).status, 200);
      const marker = ((await as(bob, 'POST', '/v1/notes', { body: { title: 'bob ws marker' } })).body as { id: number }).id;
      const isMarker = (m: Record<string, unknown>, sub: string) => m.subscription === sub && (m.event as CarteEvent).resourceId === String(marker) && (m.event as CarteEvent).type === 'notes.created';
      let markers = 0;
      while (markers < 2) {
        const m = await ws.next();
        messages.push(m);
        if (isMarker(m, 'notes') || isMarker(m, 'all')) markers++;
      }
      const events = messages.filter((m) => m.type === 'event').map((m) => m.event as CarteEvent);
      assert.deepEqual(alices(events), []);
      assert.equal(messages.filter((m) => m.subscription === 'probe').length, 0);
      assert.ok(events.some((e) => e.resourceId === String(bobNote)), 'the replay delivered bob’s own note');

      ws.send({ jsonrpc: '2.0', method: 'notes.get', params: { id: aliceNote }, id: 1 });
      const get = (await ws.until((m) => m.id === 1)).pop() as { error: { code: number; data: unknown } };
      assert.deepEqual(get.error, { code: -32004, message: missing(aliceNote).error_description, data: { ...missing(aliceNote), status: 404 } });
      ws.send({ jsonrpc: '2.0', method: 'notes.list', params: {}, id: 2 });
      const list = (await ws.until((m) => m.id === 2)).pop() as { result: { items: { id: number }[]; range: { total: number } } };
      assert.deepEqual(list.result.items.map((i) => i.id).sort((a, b) => a - b), [bobNote, marker]);
      assert.equal(list.result.range.total, 2);
      assert.equal((await as(alice, 'DELETE', `/v1/notes/${probe}`)).status, 204);
      assert.equal((await as(bob, 'DELETE', `/v1/notes/${marker}`)).status, 204);
    } finally {
      await ws.close();
    }
  });
});

describe('JSON-RPC', () => {
  test('every method on another’s item answers not_found; lists, totals, searches and embeds hold only your rows', async () => {
    const res = await as(bob, 'POST', '/v1/rpc', {
      body: [
        { jsonrpc: '2.0', id: 1, method: 'notes.get', params: { id: aliceNote } },
        { jsonrpc: '2.0', id: 2, method: 'notes.update', params: { id: aliceNote, patch: { title: 'pwned' } } },
        { jsonrpc: '2.0', id: 3, method: 'notes.replace', params: { id: aliceNote, input: { title: 'pwned' } } },
        { jsonrpc: '2.0', id: 4, method: 'notes.delete', params: { id: aliceNote } },
        { jsonrpc: '2.0', id: 5, method: 'notes.list', params: {} },
        { jsonrpc: '2.0', id: 6, method: 'notes.search', params: { filter: { title: '*zanzibar*' } } },
        { jsonrpc: '2.0', id: 7, method: 'boards.get', params: { id: board, fields: 'name,notes(title)' } },
        { jsonrpc: '2.0', id: 8, method: 'comments.get', params: { id: comment, fields: 'text,note(title)' } },
        { jsonrpc: '2.0', id: 9, method: 'notes.list', params: { filter: { ownerId: ['alice'] } } },
        { jsonrpc: '2.0', id: 10, method: 'notes.pin', params: { id: aliceNote } },
      ],
    });
    assert.equal(res.status, 200, res.text);
    const answers = new Map((res.body as { id: number; result?: unknown; error?: { code: number; data: Record<string, unknown> } }[]).map((a) => [a.id, a]));
    for (const id of [1, 2, 3, 4, 10]) {
      assert.deepEqual(answers.get(id)?.error, { code: -32004, message: missing(aliceNote).error_description, data: { ...missing(aliceNote), status: 404 } }, `call ${id}`);
    }
    assert.deepEqual(answers.get(5)?.result, { items: [{ id: bobNote, ownerId: 'bob', boardId: board, folderId: null, title: 'bob grocery list', attachment: null, updatedAt: (answers.get(5)?.result as { items: { updatedAt: string }[] }).items[0]?.updatedAt }], range: { first: 0, last: 0, total: 1 } });
    const search = answers.get(6)?.result as { items: unknown[]; range: { total: number }; suggestions: unknown[] };
    assert.deepEqual([search.items, search.range.total, search.suggestions], [[], 0, []]);
    assert.deepEqual(answers.get(7)?.result, { id: board, name: 'Kitchen', notes: [{ id: bobNote, title: 'bob grocery list' }] });
    assert.deepEqual(answers.get(8)?.result, { id: comment, text: 'see you', note: null });
    assert.deepEqual(answers.get(9)?.result, { items: [], range: { first: 0, last: -1, total: 0 } });
    assert.equal(((await as(alice, 'GET', `/v1/notes/${aliceNote}`)).body as { title: string }).title, 'alice zanzibar secret');
  });

  test('a forged owner is refused through RPC as through REST', async () => {
    const res = await as(bob, 'POST', '/v1/rpc', { body: { jsonrpc: '2.0', id: 1, method: 'notes.create', params: { input: { title: 'forged', ownerId: 'alice' } } } });
    const error = (res.body as { error: { data: { error: string; status: number } } }).error;
    assert.deepEqual([error.data.error, error.data.status], ['not_allowed', 403]);
  });
});

describe('GraphQL', () => {
  async function gql(token: string, query: string): Promise<{ data?: Record<string, unknown> | null; errors?: { message: string; path?: unknown[]; extensions: { code: string; status: number } }[] }> {
    const res = await as(token, 'POST', '/v1/graphql', { body: { query } });
    assert.equal(res.status, 200, res.text);
    return res.body as never;
  }

  test('an item of another is not_found; lists, totals and search count only yours', async () => {
    const item = await gql(bob, `{ note(id: ${aliceNote}) { id title } }`);
    assert.deepEqual(item.data, { note: null });
    assert.deepEqual(item.errors?.map((e) => [e.message, e.path, e.extensions.code, e.extensions.status]), [[missing(aliceNote).error_description, ['note'], 'not_found', 404]]);
    const list = await gql(bob, '{ notes { total range { first last } items { id ownerId } } }');
    assert.deepEqual(list.data, { notes: { total: 1, range: { first: 0, last: 0 }, items: [{ id: String(bobNote), ownerId: 'bob' }] } });
    const probe = await gql(bob, '{ notes(filter: {ownerId: ["alice"]}) { total items { id } } }');
    assert.deepEqual(probe.data, { notes: { total: 0, items: [] } });
    const search = await gql(bob, '{ searchNotes(filter: {title: ["*zanzibar*"]}) { total items { id } suggestions } }');
    assert.deepEqual(search.data, { searchNotes: { total: 0, items: [], suggestions: [] } });
  });

  test('relations both ways: to-many pages and their totals, to-one items, filter another’s rows out', async () => {
    const boardView = await gql(bob, `{ board(id: ${board}) { name notes { total items { id title } } } }`);
    assert.deepEqual(boardView.data, { board: { name: 'Kitchen', notes: { total: 1, items: [{ id: String(bobNote), title: 'bob grocery list' }] } } });
    const boards = await gql(bob, '{ boards { items { notes { total items { id } } } } }');
    assert.deepEqual(boards.data, { boards: { items: [{ notes: { total: 1, items: [{ id: String(bobNote) }] } }] } });
    const comments = await gql(bob, `{ comment(id: ${comment}) { text note { id title } } }`);
    assert.deepEqual(comments.data, { comment: { text: 'see you', note: null } });
    const own = await gql(alice, `{ comment(id: ${comment}) { note { id comments { total } } } }`);
    assert.deepEqual(own.data, { comment: { note: { id: String(aliceNote), comments: { total: 1 } } } });
  });

  test('mutations on another’s item are not_found and change nothing', async () => {
    for (const mutation of [`updateNote(id: ${aliceNote}, patch: {title: "pwned"})`, `replaceNote(id: ${aliceNote}, input: {title: "pwned"})`, `deleteNote(id: ${aliceNote})`]) {
      const res = await gql(bob, `mutation { m: ${mutation} { id } }`);
      assert.deepEqual(res.data, { m: null }, mutation);
      assert.deepEqual(res.errors?.map((e) => e.extensions.code), ['not_found'], mutation);
    }
    const forged = await gql(bob, 'mutation { createNote(input: {title: "forged", ownerId: "alice"}) { id } }');
    assert.deepEqual(forged.errors?.map((e) => [e.extensions.code, e.extensions.status]), [['not_allowed', 403]]);
    assert.equal(((await as(alice, 'GET', `/v1/notes/${aliceNote}`)).body as { title: string }).title, 'alice zanzibar secret');
  });
});

describe('writes cannot reach another’s rows', () => {
  test('bulk PUT creates new ids in your name and stops, all or nothing, at another’s id', async () => {
    const fresh = bobNote + 10_000;
    const created = await as(bob, 'PUT', '/v1/notes', { body: [{ id: fresh, title: 'bob bulk' }] });
    assert.equal(created.status, 200, created.text);
    assert.equal((created.body as { ownerId: string }[])[0]?.ownerId, 'bob', 'the owner is the caller');
    const mixed = await as(bob, 'PUT', '/v1/notes', { body: [{ id: fresh, title: 'bob bulk 2' }, { id: aliceNote, title: 'pwned' }] });
    notFound(mixed, aliceNote);
    const forged = await as(bob, 'PUT', '/v1/notes', { body: [{ id: fresh + 1, title: 'forged', ownerId: 'alice' }] });
    assert.equal(forged.status, 403);
    assert.equal((await as(alice, 'GET', `/v1/notes/${fresh + 1}`)).status, 404, 'nothing was created in alice’s name');
    assert.equal(((await as(bob, 'GET', `/v1/notes/${fresh}`)).body as { title: string }).title, 'bob bulk', 'all or nothing');
    assert.equal((await as(bob, 'DELETE', `/v1/notes/${fresh}`)).status, 204);
  });

  test('a filtered DELETE that matches only another’s rows deletes nothing', async () => {
    assert.equal((await as(bob, 'DELETE', '/v1/notes?title[like]=*zanzibar*')).status, 204);
    assert.equal((await as(bob, 'DELETE', `/v1/notes?id=${aliceNote}`)).status, 204);
    assert.equal((await as(alice, 'GET', `/v1/notes/${aliceNote}`)).status, 200);
  });

  test('deleting your own item never reaches, nor counts, another’s rows that refer to it', async () => {
    const folder = async (name: string) => ((await as(bob, 'POST', '/v1/folders', { body: { name } })).body as { id: number }).id;
    // Restrict: alice's note in bob's (public) folder blocks its deletion, and is not counted.
    const restricted = await folder('restricted');
    const note = ((await as(alice, 'POST', '/v1/notes', { body: { title: 'alice in bob’s folder', folderId: restricted } })).body as { id: number }).id;
    const hidden = {
      error: 'conflict',
      error_description: `The folder '${restricted}' is referenced by notes you may not delete or change; it cannot be deleted`,
      error_uri: `${t.url}/docs/errors#conflict`,
      referencedBy: { resource: 'notes', field: 'folderId' },
    };
    const refused = await as(bob, 'DELETE', `/v1/folders/${restricted}`);
    assert.equal(refused.status, 409);
    assert.deepEqual(refused.body, hidden);
    // Cascade: alice's page would be deleted with bob's folder; the delete is refused as a whole.
    const cascading = await folder('cascading');
    const page = ((await as(alice, 'POST', '/v1/pages', { body: { text: 'alice page', folderId: cascading } })).body as { id: number }).id;
    const mine = ((await as(bob, 'POST', '/v1/pages', { body: { text: 'bob page', folderId: cascading } })).body as { id: number }).id;
    const cascade = await as(bob, 'DELETE', `/v1/folders/${cascading}`);
    assert.equal(cascade.status, 409);
    assert.deepEqual(cascade.body, { ...hidden, error_description: `The folder '${cascading}' is referenced by pages you may not delete or change; it cannot be deleted`, referencedBy: { resource: 'pages', field: 'folderId' } });
    assert.equal((await as(alice, 'GET', `/v1/pages/${page}`)).status, 200);
    assert.equal((await as(bob, 'GET', `/v1/pages/${mine}`)).status, 200, 'all or nothing');
    // Once only bob's rows refer to it, the cascade runs.
    assert.equal((await as(alice, 'DELETE', `/v1/pages/${page}`)).status, 204);
    assert.equal((await as(bob, 'DELETE', `/v1/folders/${cascading}`)).status, 204);
    assert.equal((await as(bob, 'GET', `/v1/pages/${mine}`)).status, 404);
    // A referrer you can see is counted as before.
    const own = await folder('own');
    assert.equal((await as(bob, 'POST', '/v1/notes', { body: { title: 'bob in his folder', folderId: own } })).status, 201);
    const counted = await as(bob, 'DELETE', `/v1/folders/${own}`);
    assert.equal(counted.status, 409);
    assert.deepEqual((counted.body as { referencedBy: unknown }).referencedBy, { resource: 'notes', field: 'folderId', count: 1 });
    assert.equal((await as(alice, 'DELETE', `/v1/notes/${note}`)).status, 204);
  });

  test('a reference may not be moved onto another’s row', async () => {
    const mine = ((await as(bob, 'POST', '/v1/comments', { body: { noteId: bobNote, text: 'mine' } })).body as { id: number }).id;
    const moved = await as(bob, 'PATCH', `/v1/comments/${mine}`, { body: { noteId: aliceNote } });
    assert.equal(moved.status, 400);
    assert.deepEqual((moved.body as { errors: unknown[] }).errors, [{ field: 'noteId', error: 'reference', error_description: `There is no note with the id '${aliceNote}'` }]);
    assert.equal((await as(bob, 'DELETE', `/v1/comments/${mine}`)).status, 204);
  });
});

describe('long-lived connections stop with their credential', () => {
  const jtiOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as { jti: string }).jti;
  const revoked = (description: string) => ({ type: 'error', error: 'invalid_token', error_description: description, error_uri: `${t.url}/docs/errors#invalid_token`, status: 401 });

  test('a JSON-RPC call on a socket whose token was revoked is refused, and the socket closed (1008)', async () => {
    const token = await t.mintToken('bob', []);
    const ws = await connectWs(t.url, '/v1/ws', { headers: { authorization: `Bearer ${token}` } });
    ws.send({ jsonrpc: '2.0', method: 'notes.get', params: { id: bobNote, fields: 'title' }, id: 1 });
    assert.deepEqual(await ws.next(), { jsonrpc: '2.0', result: { id: bobNote, title: 'bob grocery list' }, id: 1 });
    assert.equal(await t.server.store.auth.revokeToken(jtiOf(token), new Date().toISOString()), true);
    ws.send({ jsonrpc: '2.0', method: 'notes.get', params: { id: bobNote }, id: 2 });
    assert.deepEqual(await ws.next(), revoked('The access token was revoked'));
    assert.deepEqual(await ws.closed, { code: 1008, reason: 'The access token was revoked' });
    // A subscribe is checked the same way.
    const other = await t.mintToken('bob', []);
    const socket = await connectWs(t.url, '/v1/ws', { headers: { authorization: `Bearer ${other}` } });
    assert.equal(await t.server.store.auth.revokeToken(jtiOf(other), new Date().toISOString()), true);
    socket.send({ type: 'subscribe', id: 's', resource: 'notes' });
    assert.deepEqual(await socket.next(), revoked('The access token was revoked'));
    assert.deepEqual(await socket.closed, { code: 1008, reason: 'The access token was revoked' });
  });

  test('subscriptions end at the token’s expiry, and at the first heartbeat after a revocation (tokens and API keys)', async () => {
    const s = await startServer({ schema, config: { events: { heartbeat: '100ms' } } });
    try {
      // Expiry: a timer, not a heartbeat, ends the socket.
      const shortLived = await s.mintToken('bob', [], { ttl: 2 });
      const expiring = await connectWs(s.url, '/v1/ws', { headers: { authorization: `Bearer ${shortLived}` } });
      expiring.send({ type: 'subscribe', id: 'n', resource: 'notes' });
      assert.deepEqual(await expiring.next(), { type: 'subscribed', id: 'n' });
      assert.deepEqual(await expiring.next(), { ...revoked('The access token expired'), error_uri: `${s.url}/docs/errors#invalid_token` });
      assert.deepEqual(await expiring.closed, { code: 1008, reason: 'The access token expired' });

      const token = await s.mintToken('bob', []);
      const ws = await connectWs(s.url, '/v1/ws', { headers: { authorization: `Bearer ${token}` } });
      ws.send({ type: 'subscribe', id: 'n', resource: 'notes' });
      assert.deepEqual(await ws.next(), { type: 'subscribed', id: 'n' });
      const { key, record } = await s.server.auth.apiKeys.create({ name: 'stream', scopes: [], subject: 'bob' });
      const sse = await openSse(`${s.url}/v1/events?resource=notes`, { authorization: `Bearer ${key}` });
      assert.equal(sse.response.status, 200);
      assert.equal((await s.request('POST', '/v1/notes', { token, body: { title: 'before' } })).status, 201);
      assert.equal(((await ws.next()).event as CarteEvent).type, 'notes.created');
      assert.equal((await sse.nextEvent()).event, 'notes.created');

      assert.equal(await s.server.store.auth.revokeToken(jtiOf(token), new Date().toISOString()), true);
      assert.deepEqual(await ws.next(), { ...revoked('The access token was revoked'), error_uri: `${s.url}/docs/errors#invalid_token` });
      assert.deepEqual(await ws.closed, { code: 1008, reason: 'The access token was revoked' });

      assert.equal(await s.server.auth.apiKeys.revoke(record.id), true);
      const last = await sse.nextEvent();
      assert.deepEqual([last.event, JSON.parse(last.data as string)], ['error', { error: 'invalid_token', error_description: 'The API key was revoked' }]);
      await assert.rejects(sse.nextEvent(), /stream ended/);
      assert.equal(s.server.events.stats().openWebSockets, 0);
    } finally {
      await s.close();
    }
  });
});
