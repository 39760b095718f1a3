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

export class WebhookDispatcher {
  private readonly store: WebhookStore;
  private readonly config: WebhooksConfig;
  private readonly agents = receiverAgents();
  /** This instance's lease token prefix; each claim adds its own. */
  private readonly instance = randomUUID();
  private readonly lease: number;
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private again = false;
  private stopped = false;
  private inFlight = 0;
  private readonly settled = new Set<() => void>();
  private readonly outcomes: AttemptOutcome[] = [];
  private flushing: Promise<void> | null = null;
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

  /** Something may be due: claim soon. */
  wake(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    setImmediate(() => void this.tick());
  }

  /** Forget what is known of an endpoint (it changed here). */
  forget(webhookId: string): void {
    this.webhooks.delete(webhookId);
  }

  private async tick(): Promise<void> {
    try {
      do {
        this.again = false;
        while (!this.stopped) {
          const free = this.config.maxInFlight - this.inFlight;
          if (free <= 0) break;
          const limit = Math.min(free, CLAIM_PAGE);
          const now = Date.now();
          const claimed = await this.store.claimDeliveries({
            now,
            leaseUntil: now + this.lease,
            leaseToken: `${this.instance}:${randomUUID()}`,
            limit,
            perWebhook: this.config.concurrencyPerEndpoint,
          });
          for (const delivery of claimed) this.launch(delivery, 'schedule');
          if (claimed.length < limit) break;
        }
      } while (this.again && !this.stopped);
    } catch (e) {
      if (!this.stopped) this.options.onError(e, 'claiming webhook deliveries');
    } finally {
      this.ticking = false;
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
        // A slot is free: more may be due.
        if (!this.stopped) this.wake();
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

  /** Posts one delivery and queues its outcome; resolves once the outcome is written. */
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
    this.outcomes.push({ deliveryId: delivery.id, webhookId: delivery.webhookId, leaseToken: delivery.leaseToken ?? '', attempt, state, nextAttemptAt });
    await this.flush();
    return attempt;
  }

  /** Writes queued outcomes in one transaction per batch; checks endpoints that failed. */
  private flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.outcomes.length > 0 ? this.flush() : undefined));
    this.flushing = (async () => {
      try {
        while (this.outcomes.length > 0) {
          const batch = this.outcomes.splice(0, 500);
          await this.store.finishAttempts(batch);
          const failing = new Set(batch.filter((o) => o.state !== 'delivered').map((o) => o.webhookId));
          for (const id of failing) await this.checkFailing(id);
        }
      } finally {
        this.flushing = null;
      }
    })();
    return this.flushing;
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

  /** Stops claiming; waits for attempts in flight (each bounded by the timeout) and writes them. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    while (this.inFlight > 0) await new Promise<void>((resolve) => {
      const fn = () => {
        this.settled.delete(fn);
        resolve();
      };
      this.settled.add(fn);
    });
    await this.flush();
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}
