/**
 * Works the durable outbox (SPEC §7, §10): claims due deliveries under a lease, posts them
 * signed, and writes each attempt back — in batches, so a backlog drains at the receivers'
 * pace with memory bounded by `maxInFlight`, never by the backlog. A failure is retried on
 * the configured schedule with jitter; an endpoint that keeps failing past `disableAfter`
 * is disabled. Any number of instances may run one over one database: leases keep them
 * from posting one attempt twice at once, and an instance that dies leaves leases that
 * run out and are taken over.
 */
import { randomUUID } from 'node:crypto';
import type { WebhooksConfig } from '../config/webhooks-config.js';
import type { AttemptOutcome, AttemptRecord, DeliveryRecord, WebhookRecord, WebhookStore } from '../store/webhook-store.js';
import { postWebhook, receiverAgents, type AttemptResult } from './deliver.js';
import { signedHeaders } from './signature.js';

export interface DispatcherOptions {
  readonly store: WebhookStore;
  readonly config: WebhooksConfig;
  /** An endpoint was disabled (the service announces it). */
  readonly onDisabled: (webhook: WebhookRecord, reason: string) => Promise<void>;
  readonly onError: (error: unknown, what: string) => void;
}

/** The delay before retry `n` (1-based), moved by up to ± jitter; null when the schedule is spent. */
export function retryDelay(config: Pick<WebhooksConfig, 'retrySchedule' | 'jitter'>, n: number, random = Math.random): number | null {
  const base = config.retrySchedule[n - 1];
  if (base === undefined) return null;
  return Math.max(0, Math.round(base * (1 + config.jitter * (2 * random() - 1))));
}

/** The secrets signing now: the current one, and the previous one during its overlap. */
export function signingSecrets(webhook: WebhookRecord, now: number): string[] {
  return webhook.previousSecret && webhook.previousUntil !== null && webhook.previousUntil > now ? [webhook.secret, webhook.previousSecret] : [webhook.secret];
}

const CLAIM_PAGE = 100;

interface Queued {
  readonly outcome: AttemptOutcome;
  /** Settles once the outcome is written (manual attempts answer only then). */
  readonly written?: { resolve: () => void; reject: (e: unknown) => void };
}

export class WebhookDispatcher {
  private readonly store: WebhookStore;
  private readonly config: WebhooksConfig;
  private readonly agents = receiverAgents();
  /** This instance's lease token prefix; each claim adds its own. */
  private readonly instance = randomUUID();
  private readonly lease: number;
  private timer: NodeJS.Timeout | null = null;
  /** A round is running; `wanted`: another should follow it. */
  private pumping: Promise<void> | null = null;
  private wanted = false;
  private stopped = false;
  /** HTTP attempts under way (bounded by `maxInFlight`). */
  private inFlight = 0;
  private readonly settled = new Set<() => void>();
  private readonly queue: Queued[] = [];
  /** Endpoints read at most once a second (URL, secrets, enabled). */
  private readonly webhooks = new Map<string, { at: number; webhook: Promise<WebhookRecord | undefined> }>();

  constructor(private readonly options: DispatcherOptions) {
    this.store = options.store;
    this.config = options.config;
    this.lease = Math.max(options.config.lease, options.config.timeout + 5000);
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => this.wake(), this.config.pollInterval);
    this.timer.unref();
    this.wake();
  }

  /** Something may be due, or outcomes wait to be written: run a round soon. */
  wake(): void {
    this.wanted = true;
    if (this.pumping) return;
    this.pumping = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.pump());
  }

  /** Forget what is known of an endpoint (it changed here). */
  forget(webhookId: string): void {
    this.webhooks.delete(webhookId);
  }

  /**
   * Rounds, each ONE transaction: write the outcomes that came back, then lease the next
   * page of due deliveries (as many as free slots) — so the outbox is read page by page,
   * and a busy receiver costs one write per page, not per delivery.
   */
  private async pump(): Promise<void> {
    try {
      while (this.wanted) {
        this.wanted = false;
        const batch = this.queue.splice(0, 500);
        if (this.queue.length > 0) this.wanted = true;
        const free = this.stopped ? 0 : this.config.maxInFlight - this.inFlight;
        const limit = Math.min(free, CLAIM_PAGE);
        const now = Date.now();
        const claim = limit > 0 ? { now, leaseUntil: now + this.lease, leaseToken: `${this.instance}:${randomUUID()}`, limit, perWebhook: this.config.concurrencyPerEndpoint } : null;
        let claimed: DeliveryRecord[];
        try {
          claimed = await this.store.finishAndClaim(
            batch.map((q) => q.outcome),
            claim,
          );
        } catch (e) {
          // The outcomes are lost: their leases run out and the deliveries are attempted again (at least once).
          for (const q of batch) q.written?.reject(e);
          if (!this.stopped) this.options.onError(e, 'writing webhook attempts and claiming deliveries');
          continue;
        }
        for (const q of batch) q.written?.resolve();
        for (const delivery of claimed) void this.launch(delivery, 'schedule');
        if (claim && claimed.length === claim.limit) this.wanted = true; // more may be due
        const failing = new Set(batch.filter((q) => q.outcome.state !== 'delivered').map((q) => q.outcome.webhookId));
        for (const id of failing) await this.checkFailing(id).catch((e: unknown) => this.options.onError(e, 'disabling a failing webhook'));
      }
    } finally {
      this.pumping = null;
      if (this.wanted && (!this.stopped || this.queue.length > 0)) this.wake();
    }
  }

  private launch(delivery: DeliveryRecord, trigger: AttemptRecord['trigger']): Promise<AttemptRecord | null> {
    this.inFlight++;
    return this.attempt(delivery, trigger)
      .catch((e: unknown) => {
        this.options.onError(e, 'a webhook delivery');
        return null;
      })
      .finally(() => {
        this.inFlight--;
        for (const fn of this.settled) fn();
      });
  }

  private webhook(id: string): Promise<WebhookRecord | undefined> {
    const now = Date.now();
    const known = this.webhooks.get(id);
    if (known && now - known.at < 1000) return known.webhook;
    const webhook = this.store.getWebhook(id);
    this.webhooks.set(id, { at: now, webhook });
    if (this.webhooks.size > 10_000) this.webhooks.clear();
    return webhook;
  }

  /** Posts one delivery and queues its outcome; a manual attempt resolves once the outcome is written. */
  private async attempt(delivery: DeliveryRecord, trigger: AttemptRecord['trigger']): Promise<AttemptRecord> {
    const webhook = await this.webhook(delivery.webhookId);
    const startedAt = Date.now();
    let result: AttemptResult;
    if (!webhook) result = { status: null, latencyMs: 0, error: 'the webhook was deleted', response: null, delivered: false };
    else if (!webhook.enabled && delivery.eventType !== 'webhooks.ping') result = { status: null, latencyMs: 0, error: 'the endpoint is disabled', response: null, delivered: false };
    else {
      const timestamp = Math.floor(startedAt / 1000);
      const headers = signedHeaders(signingSecrets(webhook, startedAt), delivery.messageId, timestamp, delivery.payload);
      result = await postWebhook(webhook.url, headers, delivery.payload, {
        timeout: this.config.timeout,
        maxBody: this.config.maxResponseBodyLog,
        allowPrivate: this.config.allowPrivateNetworks,
        agents: this.agents,
      });
    }
    const n = delivery.attempts + 1;
    const attempt: AttemptRecord = { deliveryId: delivery.id, n, startedAt, status: result.status, latencyMs: result.latencyMs, error: result.error, response: result.response, trigger };
    let state: AttemptOutcome['state'];
    let nextAttemptAt = startedAt;
    if (result.delivered) state = 'delivered';
    else if (!webhook || (!webhook.enabled && delivery.eventType !== 'webhooks.ping')) state = 'failed';
    else if (delivery.state !== 'pending') state = delivery.state; // a manual attempt of a settled delivery leaves it settled
    else if (delivery.eventType === 'webhooks.ping') state = 'failed'; // a ping tests the receiver once
    else {
      const delay = retryDelay(this.config, n);
      if (delay === null) state = 'failed';
      else {
        state = 'pending';
        nextAttemptAt = startedAt + result.latencyMs + delay;
      }
    }
    const outcome: AttemptOutcome = { deliveryId: delivery.id, webhookId: delivery.webhookId, leaseToken: delivery.leaseToken ?? '', attempt, state, nextAttemptAt };
    if (trigger === 'manual') {
      await new Promise<void>((resolve, reject) => {
        this.queue.push({ outcome, written: { resolve, reject } });
        this.wake();
      });
    } else {
      this.queue.push({ outcome });
      this.wake();
    }
    return attempt;
  }

  /** SPEC §7: an endpoint failing for longer than `disableAfter` is disabled, and says so. */
  private async checkFailing(id: string): Promise<void> {
    const webhook = await this.store.getWebhook(id);
    if (!webhook || !webhook.enabled || webhook.failingSince === null) return;
    const now = Date.now();
    if (now - webhook.failingSince < this.config.disableAfter) return;
    const reason = `every delivery failed since ${new Date(webhook.failingSince).toISOString()}`;
    if (await this.store.disableWebhook(id, now, reason)) {
      this.forget(id);
      await this.options.onDisabled({ ...webhook, enabled: false, disabledAt: now, disabledReason: reason }, reason);
    }
  }

  /**
   * Attempts one delivery now (a manual retry or a ping): leased like a claim, so no other
   * instance posts it at the same time. Null when another attempt of it is in flight.
   */
  async attemptNow(delivery: DeliveryRecord): Promise<AttemptRecord | null> {
    const now = Date.now();
    const token = `${this.instance}:${randomUUID()}`;
    const leased = await this.store.leaseDelivery(delivery.webhookId, delivery.id, now, now + this.lease, token);
    if (!leased) return null;
    return this.launch(leased, 'manual');
  }

  /** Stops claiming; waits for attempts in flight (each bounded by the timeout) and writes their outcomes. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    while (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const fn = () => {
          this.settled.delete(fn);
          resolve();
        };
        this.settled.add(fn);
      });
    }
    while (this.pumping || this.queue.length > 0) {
      if (!this.pumping) this.wake();
      await this.pumping;
    }
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}
