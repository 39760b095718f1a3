/**
 * `Idempotency-Key` (SPEC §4.7, IETF draft-ietf-httpapi-idempotency-key-header): the same
 * key with the same request within the retention window gets the first answer again; with
 * another request, 422. Keys are scoped to the principal. Creates claim and complete the
 * key in the same transaction as the row, so two simultaneous duplicates create one row
 * (the second waits for the first commit, then replays). Operations run outside a
 * transaction: a duplicate arriving while the first runs waits for it, then replays.
 */
import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { errors } from '../errors.js';
import type { IdempotencyRecord, Store, StoreWriter } from '../store/store.js';

export interface IdempotencyOptions {
  /** Seconds a key is remembered after its first answer (default 24 h). */
  readonly ttlSeconds: number;
  /** Seconds a duplicate waits for a first request still running before a 409. */
  readonly waitSeconds: number;
}

export const DEFAULT_IDEMPOTENCY: IdempotencyOptions = { ttlSeconds: 24 * 60 * 60, waitSeconds: 30 };

/** What a key is remembered under: the caller and the key it chose. */
export interface IdempotencyScope {
  readonly scope: string;
  readonly key: string;
  /** Digest of the request (operation, target, body). */
  readonly fingerprint: string;
}

const KEY = /^[\x21-\x7e]{1,255}$/;

/** The key as sent: 1–255 visible ASCII characters, optionally a quoted structured-field string. */
export function parseIdempotencyKey(raw: string): string {
  const text = raw.trim().replace(/^"(.*)"$/, '$1');
  if (!KEY.test(text)) throw errors.invalidRequest('Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good choice).');
  return text;
}

/** A stable digest of a request: object members in sorted order, so formatting does not matter. */
export function fingerprintOf(request: unknown): string {
  return createHash('sha256').update(canonicalJson(request)).digest('base64url');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export class IdempotencyKeys {
  /** Operations running here under a key: a duplicate awaits the first instead of polling. */
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Store,
    private readonly options: IdempotencyOptions = DEFAULT_IDEMPOTENCY,
  ) {}

  private expiry(now: Date): Date {
    return new Date(now.getTime() + this.options.ttlSeconds * 1000);
  }

  /** How long an unfinished claim blocks its key if its request died with its process. */
  private lease(now: Date): Date {
    return new Date(now.getTime() + Math.max(60, this.options.waitSeconds * 2) * 1000);
  }

  /**
   * Inside the write transaction of a create: the remembered response when the key was
   * already used with this request (replay), or null after claiming it (go on, then `complete`).
   */
  async claim(tx: StoreWriter, id: IdempotencyScope): Promise<{ readonly response: unknown } | null> {
    const now = new Date();
    const record = await tx.claimIdempotencyKey({ ...id, now, expiresAt: this.lease(now) });
    if (!record) return null;
    if (record.fingerprint !== id.fingerprint) throw errors.idempotencyKeyReused();
    if (record.state === 'done') return { response: record.response };
    // Only an operation can hold a key across transactions, and it would have another fingerprint.
    throw errors.conflict('A request with this Idempotency-Key is still being processed; retry it later');
  }

  /** Stores the response in the same transaction as the change it describes. */
  complete(tx: StoreWriter, id: IdempotencyScope, response: unknown): Promise<void> {
    return tx.completeIdempotencyKey(id.scope, id.key, response, this.expiry(new Date()));
  }

  /**
   * Runs `fn` once per key (operations): the first call runs it and remembers its result;
   * a duplicate replays it, or waits while the first is still running. A failure forgets
   * the key so the request may be retried.
   */
  async once<T>(id: IdempotencyScope, fn: () => Promise<T>): Promise<{ value: T; replayed: boolean }> {
    const name = `${id.scope}\u0000${id.key}`;
    const deadline = Date.now() + this.options.waitSeconds * 1000;
    for (;;) {
      const now = new Date();
      const record = await this.store.transaction((tx) => tx.claimIdempotencyKey({ ...id, now, expiresAt: this.lease(now) }));
      if (!record) {
        const run = (async () => {
          try {
            const value = await fn();
            await this.store.transaction((tx) => tx.completeIdempotencyKey(id.scope, id.key, { value }, this.expiry(new Date())));
            return value;
          } catch (e) {
            await this.store.transaction((tx) => tx.releaseIdempotencyKey(id.scope, id.key)).catch(() => undefined);
            throw e;
          }
        })();
        this.running.set(name, run);
        try {
          return { value: await run, replayed: false };
        } finally {
          this.running.delete(name);
        }
      }
      if (record.fingerprint !== id.fingerprint) throw errors.idempotencyKeyReused();
      if (record.state === 'done') return { value: (record.response as { value: T }).value, replayed: true };
      let seen: IdempotencyRecord | undefined = record;
      const here = this.running.get(name);
      if (here) {
        await here.catch(() => undefined);
        seen = await this.store.idempotencyRecord(id.scope, id.key, new Date());
      } else {
        // Claimed by another instance sharing the database: nothing to await, so read it again shortly.
        while (seen?.state === 'pending' && seen.fingerprint === id.fingerprint && Date.now() < deadline) {
          await delay(50);
          seen = await this.store.idempotencyRecord(id.scope, id.key, new Date());
        }
      }
      if (!seen) continue; // the first request failed and let the key go: claim it
      if (seen.fingerprint !== id.fingerprint) throw errors.idempotencyKeyReused();
      if (seen.state === 'done') return { value: (seen.response as { value: T }).value, replayed: true };
      if (Date.now() >= deadline) throw errors.conflict('A request with this Idempotency-Key is still being processed; retry it later');
    }
  }

  /** Forgets keys expired at `now` (run periodically). */
  purge(now: Date = new Date()): Promise<number> {
    return this.store.purgeIdempotencyKeys(now);
  }
}
