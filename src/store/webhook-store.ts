/**
 * The part of the Store that keeps webhooks (SPEC §7 "give the waiter a bell"): registered
 * endpoints with their signing secrets, the durable delivery outbox, and each delivery's
 * attempts. Both adapters keep the same `_carte_webhook*` tables and share this code; a
 * dialect gives its runner, its DDL and the one statement that differs — the claim, which
 * on PostgreSQL takes `FOR UPDATE SKIP LOCKED` so several instances never claim one row.
 * Instants are milliseconds since the epoch.
 */

export interface WebhookRecord {
  /** `wh_…` */
  readonly id: string;
  /** The registering principal's key (`principalKey`): only it sees the webhook. */
  readonly owner: string;
  /** The registering principal, as JSON: deliveries carry only what it may read. */
  readonly principal: string;
  readonly url: string;
  /** `orders.ready`, `orders.*`, `*`, `webhooks.disabled`. */
  readonly events: readonly string[];
  /** The item filter, in the WebSocket subscription form (`{"state":["ready"]}`), or null. */
  readonly filter: Readonly<Record<string, unknown>> | null;
  readonly description: string;
  /** `whsec_…` */
  readonly secret: string;
  /** The secret before the last rotation, still signing until `previousUntil`. */
  readonly previousSecret: string | null;
  readonly previousUntil: number | null;
  readonly enabled: boolean;
  readonly disabledAt: number | null;
  readonly disabledReason: string | null;
  /** First failed attempt since the last success (null while healthy). */
  readonly failingSince: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type DeliveryState = 'pending' | 'delivered' | 'failed';

export interface NewDelivery {
  readonly webhookId: string;
  /** `webhook-id`: the event id (`evt_…`), or `msg_…` for pings and Carte's own events. */
  readonly messageId: string;
  readonly eventType: string;
  /** The request body, exactly as signed. */
  readonly payload: string;
  readonly createdAt: number;
  readonly nextAttemptAt: number;
}

export interface DeliveryRecord extends NewDelivery {
  readonly id: number;
  readonly state: DeliveryState;
  readonly attempts: number;
  readonly leaseUntil: number | null;
  readonly leaseToken: string | null;
  readonly lastAttemptAt: number | null;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly lastLatencyMs: number | null;
  readonly deliveredAt: number | null;
}

export interface AttemptRecord {
  readonly deliveryId: number;
  /** 1, 2, … */
  readonly n: number;
  readonly startedAt: number;
  /** The receiver's HTTP status, or null when none came back (refused, timeout…). */
  readonly status: number | null;
  readonly latencyMs: number;
  readonly error: string | null;
  /** The start of the response body (truncated to `webhooks.maxResponseBodyLog`). */
  readonly response: string | null;
  /** Manual retry, ping, or the schedule. */
  readonly trigger: 'schedule' | 'manual';
}

/** What one attempt came to, written back by the instance holding the lease. */
export interface AttemptOutcome {
  readonly deliveryId: number;
  readonly webhookId: string;
  readonly leaseToken: string;
  readonly attempt: AttemptRecord;
  /** `pending` with `nextAttemptAt` to retry; `delivered`; `failed` when the schedule is spent. */
  readonly state: DeliveryState;
  readonly nextAttemptAt: number;
}

export interface ClaimRequest {
  readonly now: number;
  readonly leaseUntil: number;
  readonly leaseToken: string;
  /** Most deliveries to claim. */
  readonly limit: number;
  /** Most deliveries of one endpoint under lease at once (SPEC §7: bounded per endpoint). */
  readonly perWebhook: number;
}

export interface Page<T> {
  readonly items: T[];
  readonly total: number;
}

export interface WebhookStore {
  insertWebhook(webhook: WebhookRecord): Promise<void>;
  getWebhook(id: string): Promise<WebhookRecord | undefined>;
  /** The webhooks of one owner, oldest first. */
  listWebhooks(owner: string, offset: number, limit: number): Promise<Page<WebhookRecord>>;
  /** Every enabled webhook (the outbox matches events against them). */
  listEnabledWebhooks(): Promise<WebhookRecord[]>;
  /** Writes every member but `id`, `owner`, `principal` and `createdAt`. */
  updateWebhook(webhook: WebhookRecord): Promise<void>;
  /** Deletes the webhook with its deliveries and attempts. */
  deleteWebhook(id: string): Promise<boolean>;
  /** Adds deliveries outside a resource write (pings, `webhooks.disabled`). */
  insertDeliveries(deliveries: readonly NewDelivery[]): Promise<void>;
  /** Leases due deliveries to the caller; a lease that expires lets another instance take the delivery over. */
  claimDeliveries(claim: ClaimRequest): Promise<DeliveryRecord[]>;
  /** Records attempts and moves their deliveries on, in one transaction; outcomes whose lease was lost are dropped. */
  finishAttempts(outcomes: readonly AttemptOutcome[]): Promise<void>;
  /** `finishAttempts`, then `claimDeliveries`, in one transaction (the dispatcher's one write per round). */
  finishAndClaim(outcomes: readonly AttemptOutcome[], claim: ClaimRequest | null): Promise<DeliveryRecord[]>;
  /** Newest first. */
  listDeliveries(webhookId: string, offset: number, limit: number): Promise<Page<DeliveryRecord>>;
  getDelivery(webhookId: string, id: number): Promise<DeliveryRecord | undefined>;
  listAttempts(deliveryId: number): Promise<AttemptRecord[]>;
  /** Leases one delivery, whatever its state (a manual attempt); undefined when there is none or another lease on it is live. */
  leaseDelivery(webhookId: string, id: number, now: number, leaseUntil: number, leaseToken: string): Promise<DeliveryRecord | undefined>;
  /** Disables an endpoint and gives up its pending deliveries; false when it already was. */
  disableWebhook(id: string, at: number, reason: string): Promise<boolean>;
  /** Pending deliveries and the oldest one's creation time (SPEC §11 queue depth and age). */
  queueStats(): Promise<{ pending: number; oldestCreatedAt: number | null }>;
}

// Shared implementation ------------------------------------------------------------------

/** Runs one statement with `?` placeholders; returns the rows (RETURNING, SELECT) and the rows changed. */
export type SqlRun = (sql: string, params: readonly unknown[]) => Promise<{ rows: Record<string, unknown>[]; changes: number }>;

export interface WebhookDialect {
  /** Outside any transaction. */
  readonly run: SqlRun;
  /** Runs `fn` in one write transaction. */
  readonly transaction: <T>(fn: (run: SqlRun) => Promise<T>) => Promise<T>;
  /** The claim statement (see `claimParts`): parameters now, scan, perWebhook, limit, leaseUntil, leaseToken; returns the claimed rows. */
  readonly claimSql: string;
}

export const WEBHOOKS = '"_carte_webhooks"';
export const DELIVERIES = '"_carte_webhook_deliveries"';
export const ATTEMPTS = '"_carte_webhook_attempts"';

/**
 * The two parts of every dialect's claim, with numbered placeholders (`?1` on SQLite, `$1`
 * on PostgreSQL): 1 now, 2 scan, 3 perWebhook, 4 limit (5 leaseUntil and 6 leaseToken are
 * the dialect's SET). `candidates`: due, pending, not under a live lease, oldest due first,
 * at most `scan`. `claimable`: those candidates ranked per endpoint, kept while the
 * endpoint's leases in flight stay under `perWebhook`. `leasedHint` lets a dialect insist on
 * the index of live leases (SQLite would rather walk the whole table in webhook order).
 */
export function claimParts(ph: (n: number) => string, leasedHint = ''): { candidates: string; claimable: string } {
  return {
    // Endpoints already at their bound are left out of the scan, so that one endpoint's
    // backlog never fills the window and starves the others.
    candidates: `SELECT "id", "webhook_id", "next_attempt_at" FROM ${DELIVERIES}
  WHERE "state" = 'pending' AND "next_attempt_at" <= ${ph(1)} AND ("lease_until" IS NULL OR "lease_until" <= ${ph(1)})
    AND "webhook_id" NOT IN (SELECT "webhook_id" FROM ${DELIVERIES}${leasedHint} WHERE "lease_until" > ${ph(1)} GROUP BY "webhook_id" HAVING count(*) >= ${ph(3)})
  ORDER BY "next_attempt_at", "id" LIMIT ${ph(2)}`,
    claimable: `SELECT r."id" FROM (
    SELECT c."id", c."webhook_id", ROW_NUMBER() OVER (PARTITION BY c."webhook_id" ORDER BY c."next_attempt_at", c."id") AS rn
    FROM candidates c
  ) r LEFT JOIN (
    SELECT "webhook_id", count(*) AS n FROM ${DELIVERIES}${leasedHint} WHERE "lease_until" > ${ph(1)} GROUP BY "webhook_id"
  ) b ON b."webhook_id" = r."webhook_id"
  WHERE r.rn <= ${ph(3)} - coalesce(b.n, 0)
  ORDER BY r."id" LIMIT ${ph(4)}`,
  };
}

const num = (v: unknown): number => Number(v);
const optNum = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const optStr = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function webhookRow(r: Record<string, unknown>): WebhookRecord {
  return {
    id: String(r.id),
    owner: String(r.owner),
    principal: String(r.principal),
    url: String(r.url),
    events: JSON.parse(String(r.events)) as string[],
    filter: r.filter === null || r.filter === undefined ? null : (JSON.parse(String(r.filter)) as Record<string, unknown>),
    description: String(r.description),
    secret: String(r.secret),
    previousSecret: optStr(r.previous_secret),
    previousUntil: optNum(r.previous_until),
    enabled: r.enabled === true || Number(r.enabled) === 1,
    disabledAt: optNum(r.disabled_at),
    disabledReason: optStr(r.disabled_reason),
    failingSince: optNum(r.failing_since),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

function deliveryRow(r: Record<string, unknown>): DeliveryRecord {
  return {
    id: num(r.id),
    webhookId: String(r.webhook_id),
    messageId: String(r.message_id),
    eventType: String(r.event_type),
    payload: String(r.payload),
    state: String(r.state) as DeliveryState,
    attempts: num(r.attempts),
    createdAt: num(r.created_at),
    nextAttemptAt: num(r.next_attempt_at),
    leaseUntil: optNum(r.lease_until),
    leaseToken: optStr(r.lease_token),
    lastAttemptAt: optNum(r.last_attempt_at),
    lastStatus: optNum(r.last_status),
    lastError: optStr(r.last_error),
    lastLatencyMs: optNum(r.last_latency_ms),
    deliveredAt: optNum(r.delivered_at),
  };
}

function attemptRow(r: Record<string, unknown>): AttemptRecord {
  return {
    deliveryId: num(r.delivery_id),
    n: num(r.n),
    startedAt: num(r.started_at),
    status: optNum(r.status),
    latencyMs: num(r.latency_ms),
    error: optStr(r.error),
    response: optStr(r.response),
    trigger: r.trigger === 'manual' ? 'manual' : 'schedule',
  };
}

const INSERT_DELIVERY = `INSERT INTO ${DELIVERIES} ("webhook_id", "message_id", "event_type", "payload", "state", "attempts", "created_at", "next_attempt_at") VALUES `;

/** One multi-row INSERT per chunk (SQLite allows 32,766 parameters). */
export async function insertDeliveries(run: SqlRun, deliveries: readonly NewDelivery[]): Promise<void> {
  for (let i = 0; i < deliveries.length; i += 500) {
    const chunk = deliveries.slice(i, i + 500);
    const params: unknown[] = [];
    for (const d of chunk) params.push(d.webhookId, d.messageId, d.eventType, d.payload, d.createdAt, d.nextAttemptAt);
    await run(INSERT_DELIVERY + chunk.map(() => `(?, ?, ?, ?, 'pending', 0, ?, ?)`).join(', '), params);
  }
}

/** Writes one attempt back, unless the lease it ran under was lost (another instance took the delivery over). */
async function finishOne(run: SqlRun, o: AttemptOutcome): Promise<void> {
  const a = o.attempt;
  const moved = await run(
    `UPDATE ${DELIVERIES} SET "state" = ?, "attempts" = ?, "next_attempt_at" = ?, "lease_until" = NULL, "lease_token" = NULL, "last_attempt_at" = ?, "last_status" = ?, "last_error" = ?, "last_latency_ms" = ?, "delivered_at" = ? WHERE "id" = ? AND "lease_token" = ?`,
    [o.state, a.n, o.nextAttemptAt, a.startedAt, a.status, a.error, a.latencyMs, o.state === 'delivered' ? a.startedAt + a.latencyMs : null, o.deliveryId, o.leaseToken],
  );
  if (moved.changes === 0) return;
  await run(`INSERT INTO ${ATTEMPTS} ("delivery_id", "n", "started_at", "status", "latency_ms", "error", "response", "trigger") VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, [
    o.deliveryId, a.n, a.startedAt, a.status, a.latencyMs, a.error, a.response, a.trigger,
  ]);
  if (o.state === 'delivered') await run(`UPDATE ${WEBHOOKS} SET "failing_since" = NULL WHERE "id" = ? AND "failing_since" IS NOT NULL`, [o.webhookId]);
  else await run(`UPDATE ${WEBHOOKS} SET "failing_since" = ? WHERE "id" = ? AND "failing_since" IS NULL`, [a.startedAt, o.webhookId]);
}

export class SqlWebhookStore implements WebhookStore {
  constructor(private readonly dialect: WebhookDialect) {}

  private async all(sql: string, params: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
    return (await this.dialect.run(sql, params)).rows;
  }

  async insertWebhook(w: WebhookRecord): Promise<void> {
    await this.dialect.run(
      `INSERT INTO ${WEBHOOKS} ("id", "owner", "principal", "url", "events", "filter", "description", "secret", "previous_secret", "previous_until", "enabled", "disabled_at", "disabled_reason", "failing_since", "created_at", "updated_at") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [w.id, w.owner, w.principal, w.url, JSON.stringify(w.events), w.filter === null ? null : JSON.stringify(w.filter), w.description, w.secret, w.previousSecret, w.previousUntil, w.enabled ? 1 : 0, w.disabledAt, w.disabledReason, w.failingSince, w.createdAt, w.updatedAt],
    );
  }

  async getWebhook(id: string): Promise<WebhookRecord | undefined> {
    const [row] = await this.all(`SELECT * FROM ${WEBHOOKS} WHERE "id" = ?`, [id]);
    return row ? webhookRow(row) : undefined;
  }

  async listWebhooks(owner: string, offset: number, limit: number): Promise<Page<WebhookRecord>> {
    const rows = await this.all(`SELECT * FROM ${WEBHOOKS} WHERE "owner" = ? ORDER BY "created_at", "id" LIMIT ? OFFSET ?`, [owner, limit, offset]);
    const [count] = await this.all(`SELECT count(*) AS n FROM ${WEBHOOKS} WHERE "owner" = ?`, [owner]);
    return { items: rows.map(webhookRow), total: num(count?.n ?? 0) };
  }

  async listEnabledWebhooks(): Promise<WebhookRecord[]> {
    return (await this.all(`SELECT * FROM ${WEBHOOKS} WHERE "enabled" = 1 ORDER BY "created_at", "id"`)).map(webhookRow);
  }

  async updateWebhook(w: WebhookRecord): Promise<void> {
    await this.dialect.run(
      `UPDATE ${WEBHOOKS} SET "url" = ?, "events" = ?, "filter" = ?, "description" = ?, "secret" = ?, "previous_secret" = ?, "previous_until" = ?, "enabled" = ?, "disabled_at" = ?, "disabled_reason" = ?, "failing_since" = ?, "updated_at" = ? WHERE "id" = ?`,
      [w.url, JSON.stringify(w.events), w.filter === null ? null : JSON.stringify(w.filter), w.description, w.secret, w.previousSecret, w.previousUntil, w.enabled ? 1 : 0, w.disabledAt, w.disabledReason, w.failingSince, w.updatedAt, w.id],
    );
  }

  deleteWebhook(id: string): Promise<boolean> {
    return this.dialect.transaction(async (run) => {
      await run(`DELETE FROM ${ATTEMPTS} WHERE "delivery_id" IN (SELECT "id" FROM ${DELIVERIES} WHERE "webhook_id" = ?)`, [id]);
      await run(`DELETE FROM ${DELIVERIES} WHERE "webhook_id" = ?`, [id]);
      return (await run(`DELETE FROM ${WEBHOOKS} WHERE "id" = ?`, [id])).changes > 0;
    });
  }

  insertDeliveries(deliveries: readonly NewDelivery[]): Promise<void> {
    if (deliveries.length === 0) return Promise.resolve();
    return this.dialect.transaction((run) => insertDeliveries(run, deliveries));
  }

  claimDeliveries(c: ClaimRequest): Promise<DeliveryRecord[]> {
    return this.finishAndClaim([], c);
  }

  async finishAttempts(outcomes: readonly AttemptOutcome[]): Promise<void> {
    if (outcomes.length > 0) await this.finishAndClaim(outcomes, null);
  }

  async finishAndClaim(outcomes: readonly AttemptOutcome[], c: ClaimRequest | null): Promise<DeliveryRecord[]> {
    if (outcomes.length === 0 && c === null) return [];
    const rows = await this.dialect.transaction(async (run) => {
      for (const o of outcomes) await finishOne(run, o);
      if (c === null) return [];
      const scan = Math.max(c.limit * 4, c.perWebhook * 4, 64);
      return (await run(this.dialect.claimSql, [c.now, scan, c.perWebhook, c.limit, c.leaseUntil, c.leaseToken])).rows;
    });
    return rows.map(deliveryRow).sort((x, y) => x.id - y.id);
  }

  async listDeliveries(webhookId: string, offset: number, limit: number): Promise<Page<DeliveryRecord>> {
    const rows = await this.all(`SELECT * FROM ${DELIVERIES} WHERE "webhook_id" = ? ORDER BY "id" DESC LIMIT ? OFFSET ?`, [webhookId, limit, offset]);
    const [count] = await this.all(`SELECT count(*) AS n FROM ${DELIVERIES} WHERE "webhook_id" = ?`, [webhookId]);
    return { items: rows.map(deliveryRow), total: num(count?.n ?? 0) };
  }

  async getDelivery(webhookId: string, id: number): Promise<DeliveryRecord | undefined> {
    if (!Number.isSafeInteger(id)) return undefined;
    const [row] = await this.all(`SELECT * FROM ${DELIVERIES} WHERE "webhook_id" = ? AND "id" = ?`, [webhookId, id]);
    return row ? deliveryRow(row) : undefined;
  }

  async listAttempts(deliveryId: number): Promise<AttemptRecord[]> {
    return (await this.all(`SELECT * FROM ${ATTEMPTS} WHERE "delivery_id" = ? ORDER BY "n"`, [deliveryId])).map(attemptRow);
  }

  async leaseDelivery(webhookId: string, id: number, now: number, leaseUntil: number, leaseToken: string): Promise<DeliveryRecord | undefined> {
    if (!Number.isSafeInteger(id)) return undefined;
    const { rows } = await this.dialect.run(
      `UPDATE ${DELIVERIES} SET "lease_until" = ?, "lease_token" = ? WHERE "webhook_id" = ? AND "id" = ? AND ("lease_until" IS NULL OR "lease_until" <= ?) RETURNING *`,
      [leaseUntil, leaseToken, webhookId, id, now],
    );
    return rows[0] ? deliveryRow(rows[0]) : undefined;
  }

  disableWebhook(id: string, at: number, reason: string): Promise<boolean> {
    return this.dialect.transaction(async (run) => {
      const { changes } = await run(`UPDATE ${WEBHOOKS} SET "enabled" = 0, "disabled_at" = ?, "disabled_reason" = ?, "updated_at" = ? WHERE "id" = ? AND "enabled" = 1`, [at, reason, at, id]);
      if (changes === 0) return false;
      await run(`UPDATE ${DELIVERIES} SET "state" = 'failed', "last_error" = ?, "lease_until" = NULL, "lease_token" = NULL WHERE "webhook_id" = ? AND "state" = 'pending'`, [
        `endpoint disabled: ${reason}`,
        id,
      ]);
      return true;
    });
  }

  async queueStats(): Promise<{ pending: number; oldestCreatedAt: number | null }> {
    const [row] = await this.all(`SELECT count(*) AS n, min("created_at") AS oldest FROM ${DELIVERIES} WHERE "state" = 'pending'`);
    return { pending: num(row?.n ?? 0), oldestCreatedAt: optNum(row?.oldest) };
  }
}
