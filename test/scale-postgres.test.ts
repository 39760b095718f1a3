/**
 * Several Carte instances on one PostgreSQL schema (SPEC §10): a change made through one
 * instance reaches the WebSocket subscribers, SSE streams and held long polls of another;
 * under concurrent writers on both, every subscriber sees every event once, in log order;
 * a lost LISTEN connection is made again and what was committed meanwhile still arrives.
 * Runs when CARTE_TEST_PG_URL is set; says so, as a skipped test, when it is not.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeEventCursor } from '../src/events/cursor.js';
import type { CarteEvent } from '../src/events/types.js';
import type { ApiSpec } from '../src/schema/types.js';
import { listenerName } from '../src/store/postgres/postgres-notify.js';
import { connectWs, openSse, waitUntil, type WsClient } from './events-helpers.js';
import { startServer, type TestServer } from './helpers.js';
import { newPgDatabase, pgQuery, testPgUrl, type TestDatabase } from './store-databases.js';

const board: ApiSpec = {
  api: { name: 'Board' },
  resources: { notes: { access: 'public', fields: { text: { type: 'string' }, author: { type: 'string' } } } },
};

type EventMessage = { type: 'event'; subscription: string; event: CarteEvent };

async function subscribe(ws: WsClient, message: Record<string, unknown>): Promise<void> {
  ws.send({ type: 'subscribe', ...message });
  assert.deepEqual(await ws.next(), { type: 'subscribed', id: message.id });
}

/** Two servers on the SAME schema: the test names the database, so neither drops it. */
async function startPair(database: TestDatabase): Promise<[TestServer, TestServer]> {
  const a = await startServer({ schema: board, config: { db: database.url } });
  try {
    return [a, await startServer({ schema: board, config: { db: database.url } })];
  } catch (e) {
    await a.close();
    throw e;
  }
}

/** Every event of the log after `cursor`, page by page: the order every subscriber must see. */
async function feed(t: TestServer, cursor: string): Promise<string[]> {
  const ids: string[] = [];
  let next = cursor;
  for (;;) {
    const page = await t.get(`/v1/events?resource=notes&after=${next}&limit=100`);
    assert.ok(page.status === 200 || page.status === 206, `status ${page.status}`);
    const events = page.body as CarteEvent[];
    ids.push(...events.map((e) => e.id));
    if (events.length < 100) return ids;
    next = (events[events.length - 1] as CarteEvent).id;
  }
}

async function headCursor(t: TestServer): Promise<string> {
  const res = await t.get('/v1/events?after=now&resource=notes');
  const m = /after=(evt_[0-9a-z]{11})[^>]*>; rel="next-cursor"/.exec(res.headers.get('link') ?? '');
  assert.ok(m, `a next-cursor link in ${res.headers.get('link')}`);
  return m[1] as string;
}

/** The samples of one metric in Prometheus text format, by their label string. */
async function metric(t: TestServer, name: string): Promise<number | undefined> {
  const text = (await t.get('/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

if (!testPgUrl()) {
  test('several instances on one PostgreSQL', { skip: 'CARTE_TEST_PG_URL is not set (postgres://postgres@127.0.0.1:5432/test)' }, () => undefined);
} else {
  describe('several instances on one PostgreSQL schema', () => {
    let database: TestDatabase;
    let a: TestServer;
    let b: TestServer;
    before(async () => {
      database = newPgDatabase();
      [a, b] = await startPair(database);
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await database.drop();
    });

    test('both instances are ready and use the log bus, connected', async () => {
      for (const t of [a, b]) {
        const ready = await t.get('/ready');
        assert.equal(ready.status, 200);
        assert.deepEqual(ready.body, { status: 'ready' });
        assert.equal(t.server.events.bus.stats().kind, 'log');
        assert.equal(await metric(t, 'carte_event_bus_connected'), 1);
      }
    });

    test('a change written through B reaches a WebSocket, an SSE stream and held long polls on A', { timeout: 60_000 }, async () => {
      const note = (await b.post('/v1/notes', { text: 'first', author: 'ann' })).body as { id: number };
      const etag = (await a.get(`/v1/notes/${note.id}`)).headers.get('etag') as string;
      const ws = await connectWs(a.url, '/v1/ws', { headers: { authorization: `Bearer ${a.token}` } });
      await subscribe(ws, { id: 's1', resource: 'notes' });
      const sse = await openSse(`${a.url}/v1/events?resource=notes&after=now`, { authorization: `Bearer ${a.token}` });
      assert.equal(sse.response.status, 200);
      const start = await headCursor(a);
      const poll = a.get(`/v1/events?resource=notes&after=${start}`, { prefer: 'wait=30' });
      const itemPoll = a.get(`/v1/notes/${note.id}`, { prefer: 'wait=30', 'if-none-match': etag });
      await waitUntil(() => a.server.events.stats().heldLongPolls === 2, 'both polls are held on A');
      await waitUntil(() => a.server.events.stats().openEventStreams === 1, 'the stream is open on A');

      const patched = await b.request('PATCH', `/v1/notes/${note.id}`, { body: { text: 'changed on B' } });
      assert.equal(patched.status, 200);

      const message = (await ws.next()) as EventMessage;
      assert.equal(message.event.type, 'notes.updated');
      assert.equal(message.event.resourceId, String(note.id));
      assert.deepEqual(message.event.data.changes, ['text']);
      const streamed = await sse.nextEvent();
      assert.equal(streamed.id, message.event.id);
      assert.equal(streamed.event, 'notes.updated');
      const polled = await poll;
      assert.equal(polled.status, 200);
      assert.deepEqual((polled.body as CarteEvent[]).map((e) => e.id), [message.event.id]);
      const item = await itemPoll;
      assert.equal(item.status, 200);
      assert.equal((item.body as { text: string }).text, 'changed on B');
      assert.notEqual(item.headers.get('etag'), etag);
      // A heard of it through its LISTEN connection and read it from the log.
      assert.ok(a.server.events.bus.stats().reads > 0);
      sse.close();
      await ws.close();
    });

    test('many concurrent writers on both instances: each subscriber sees every event exactly once, in log order', { timeout: 180_000 }, async () => {
      const start = await headCursor(a);
      const subscribers = await Promise.all(
        [a, a, b].map(async (t, i) => {
          const ws = await connectWs(t.url, '/v1/ws', { headers: { authorization: `Bearer ${t.token}` } });
          // One live subscriber (from now), two replaying from the cursor into live events.
          await subscribe(ws, { id: `c${i}`, resource: 'notes', ...(i === 0 ? {} : { after: start }) });
          return ws;
        }),
      );
      const writers = 12;
      const writesEach = 10;
      const results = await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          const t = w % 2 === 0 ? a : b;
          const statuses: number[] = [];
          for (let i = 0; i < writesEach; i++) {
            const res = await t.post('/v1/notes', { text: `w${w}-${i}`, author: `writer${w}` });
            statuses.push(res.status);
            // Updates too: a write and its neighbours interleave across instances.
            if (i % 3 === 0) statuses.push((await t.request('PATCH', `/v1/notes/${(res.body as { id: number }).id}`, { body: { text: 'edited' } })).status);
          }
          return statuses;
        }),
      );
      const expected = results.flat().length;
      assert.ok(results.flat().every((s) => s === 200 || s === 201), 'every write succeeded');
      const logOrder = await feed(a, start);
      assert.equal(logOrder.length, expected);
      for (const ws of subscribers) {
        const seen: string[] = [];
        while (seen.length < expected) seen.push(((await ws.next()) as EventMessage).event.id);
        assert.deepEqual(seen, logOrder);
        const positions = seen.map((id) => decodeEventCursor(id, 'id'));
        for (let i = 1; i < positions.length; i++) assert.ok((positions[i] as number) > (positions[i - 1] as number), 'strictly ascending');
      }
      // Nothing more arrives: a write after the burst is the next message of every subscriber.
      const last = (await b.post('/v1/notes', { text: 'after the burst' })).body as { id: number };
      for (const ws of subscribers) {
        const next = (await ws.next()) as EventMessage;
        assert.equal(next.event.resourceId, String(last.id));
        await ws.close();
      }
      // A took most of its own commits as they were and read the others' from the log.
      const stats = a.server.events.bus.stats();
      assert.ok(stats.directBatches > 0, `direct batches: ${stats.directBatches}`);
      assert.ok(stats.reads > 0, `reads: ${stats.reads}`);
    });

    test('a lost LISTEN connection is made again, and events committed meanwhile still arrive', { timeout: 60_000 }, async () => {
      const ws = await connectWs(a.url, '/v1/ws', { headers: { authorization: `Bearer ${a.token}` } });
      await subscribe(ws, { id: 'r1', resource: 'notes' });
      const schema = new URL(database.url).searchParams.get('schema') as string;
      const killed = await pgQuery(database.url, `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = $1`, [listenerName(schema)]);
      assert.equal(killed.length, 2, 'one LISTEN connection per instance');
      // Written while A may well be disconnected: the catch-up after reconnecting reads it.
      const note = (await b.post('/v1/notes', { text: 'while A reconnects' })).body as { id: number };
      const message = (await ws.next()) as EventMessage;
      assert.equal(message.event.type, 'notes.created');
      assert.equal(message.event.resourceId, String(note.id));
      await waitUntil(() => a.server.events.bus.stats().connected && a.server.events.bus.stats().reconnects === 1, 'A is connected again');
      assert.equal(await metric(a, 'carte_event_bus_reconnects_total'), 1);
      assert.equal(await metric(a, 'carte_event_bus_connected'), 1);
      // And live signals flow again.
      const again = (await b.post('/v1/notes', { text: 'after reconnecting' })).body as { id: number };
      assert.equal(((await ws.next()) as EventMessage).event.resourceId, String(again.id));
      await ws.close();
    });
  });
}
