/**
 * The log bus alone (src/events/log-bus.ts), over a log in memory and a hand-driven commit
 * watch: every event once, in log order, whichever way it arrives — our own commit handed
 * over directly, another instance's read from the log after a signal, a hole left by a
 * rollback, a reconnection's catch-up, our own signal whose publish never comes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LogBus } from '../src/events/log-bus.js';
import { loadSchemaObject } from '../src/schema/load.js';
import type { CommitHandlers, EventReadPlan, EventReadResult, Store, StoredEvent } from '../src/store/store.js';
import { waitUntil } from './events-helpers.js';

const api = loadSchemaObject({ api: { name: 'Board' }, resources: { notes: { access: 'public', fields: { text: { type: 'string' } } } } }).model;

function event(seq: number): StoredEvent {
  return { seq, type: 'notes.created', resource: 'notes', resourceId: String(seq), occurredAt: new Date(0).toISOString(), item: { id: seq }, changes: [] };
}

/** A committed log and a watch the test drives; counts the reads. */
function fakeStore(): { store: Store; log: StoredEvent[]; handlers: () => CommitHandlers; reads: () => number } {
  const log: StoredEvent[] = [];
  let handlers: CommitHandlers | null = null;
  let reads = 0;
  const store = {
    async readEvents(plan: EventReadPlan): Promise<EventReadResult> {
      reads++;
      const head = log.reduce((m, e) => Math.max(m, e.seq), 0);
      return { events: log.filter((e) => e.seq > plan.after).slice(0, plan.limit), total: null, head, horizon: 0 };
    },
    watchCommits(h: CommitHandlers) {
      handlers = h;
      return { isConnected: true, reconnects: 0, close: async () => undefined };
    },
  } as unknown as Store;
  return { store, log, handlers: () => handlers as CommitHandlers, reads: () => reads };
}

async function openBus(store: Store): Promise<{ bus: LogBus; seen: number[] }> {
  const bus = (await LogBus.open({ store, api, onError: (e) => assert.fail(e as Error) })) as LogBus;
  const seen: number[] = [];
  bus.listen((batch) => seen.push(...batch.map((e) => e.seq)));
  return { bus, seen };
}

describe('the log bus', () => {
  test('starts at the head: older events are history', async () => {
    const fake = fakeStore();
    fake.log.push(event(1), event(2));
    const { bus, seen } = await openBus(fake.store);
    fake.handlers().connected();
    fake.log.push(event(3));
    fake.handlers().committed(3);
    await waitUntil(() => seen.length === 1, 'event 3 is delivered');
    assert.deepEqual(seen, [3]);
    await bus.close();
  });

  test('our own commit that follows the last position is handed over without a read, its signal too', async () => {
    const fake = fakeStore();
    const { bus, seen } = await openBus(fake.store);
    const before = fake.reads();
    bus.expect([event(1), event(2)]);
    fake.log.push(event(1), event(2));
    fake.handlers().committed(1); // the signal may come before the commit reaches publish
    fake.handlers().committed(2);
    bus.publish([event(1), event(2)]);
    await waitUntil(() => seen.length === 2, 'both delivered');
    assert.deepEqual(seen, [1, 2]);
    assert.equal(fake.reads(), before);
    assert.equal(bus.stats().directBatches, 1);
    await bus.close();
  });

  test("another instance's events are read from the log; ours after a hole (a rollback) too; never twice", async () => {
    const fake = fakeStore();
    const { bus, seen } = await openBus(fake.store);
    fake.log.push(event(1), event(2));
    fake.handlers().committed(2); // another instance
    // Position 3 rolled back; 4 is ours: it does not follow 2, so the log is read.
    fake.log.push(event(4));
    bus.publish([event(4)]);
    fake.handlers().committed(4);
    await waitUntil(() => seen.length === 3, 'three delivered');
    assert.deepEqual(seen, [1, 2, 4]);
    fake.handlers().committed(4); // a repeated signal
    fake.handlers().connected(); // a reconnection's catch-up finds nothing new
    await new Promise((r) => setImmediate(r));
    await waitUntil(() => bus.stats().reads >= 2, 'the catch-up read ran');
    assert.deepEqual(seen, [1, 2, 4]);
    await bus.close();
  });

  test('after a reconnection, what was committed meanwhile is read', async () => {
    const fake = fakeStore();
    const { bus, seen } = await openBus(fake.store);
    fake.log.push(...Array.from({ length: 1200 }, (_, i) => event(i + 1))); // signals lost; more than two pages
    fake.handlers().connected();
    await waitUntil(() => seen.length === 1200, 'every event delivered');
    assert.deepEqual(seen, Array.from({ length: 1200 }, (_, i) => i + 1));
    await bus.close();
  });

  test("our own signal whose commit never reaches publish is read after a grace period", { timeout: 20_000 }, async () => {
    const fake = fakeStore();
    const { bus, seen } = await openBus(fake.store);
    bus.expect([event(1)]);
    fake.log.push(event(1));
    fake.handlers().committed(1);
    await waitUntil(() => seen.length === 1, 'delivered by the late read', 10_000);
    assert.deepEqual(seen, [1]);
    await bus.close();
  });
});
