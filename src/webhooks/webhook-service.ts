/**
 * Webhooks as a service (SPEC §7 "give the waiter a bell"): registering endpoints with
 * their `whsec_` secrets, the delivery log, manual attempts and pings — for the principal
 * that registered them only — and the outbox: inside each write transaction, one pending
 * delivery per enabled endpoint whose events, filter and read rule the event meets. Front
 * ends stay thin over this; delivering is the dispatcher's.
 */
import { randomUUID } from 'node:crypto';
import { noCredentials } from '../auth/rules.js';
import { principalKey, type Principal } from '../auth/principal.js';
import type { WebhooksConfig } from '../config/webhooks-config.js';
import { CarteError, errors, type FieldError } from '../errors.js';
import type { EventHub } from '../events/hub.js';
import type { EventSelection } from '../events/selection.js';
import type { RawFilter } from '../query/types.js';
import type { ResourceService } from '../service/resource-service.js';
import type { CallContext } from '../service/types.js';
import type { StoredEvent, StoreWriter } from '../store/store.js';
import type { AttemptRecord, DeliveryRecord, NewDelivery, WebhookRecord, WebhookStore } from '../store/webhook-store.js';
import { AddressRefusedError, checkedAddresses } from './address-guard.js';
import { WebhookDispatcher } from './dispatcher.js';
import { generateSecret } from './signature.js';

/** Carte's own event types, delivered to webhooks that ask for them. */
export const SYSTEM_EVENTS = ['webhooks.disabled'] as const;
export const PING = 'webhooks.ping';

/** A webhook as its owner sees it (never the secret, but at creation and rotation). */
export interface WebhookView {
  readonly id: string;
  readonly url: string;
  readonly events: readonly string[];
  readonly filter: Readonly<Record<string, unknown>> | null;
  readonly description: string;
  readonly enabled: boolean;
  readonly disabled: { readonly at: string; readonly reason: string } | null;
  /** Since when every attempt failed (null while healthy). */
  readonly failingSince: string | null;
  /** While a rotated secret still signs: when it stops. */
  readonly previousSecretExpiresAt: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface AttemptView {
  readonly attempt: number;
  readonly at: string;
  readonly statusCode: number | null;
  readonly latencyMs: number;
  readonly error: string | null;
  /** The start of the receiver's answer (`webhooks.maxResponseBodyLog` bytes). */
  readonly response: string | null;
  readonly trigger: 'schedule' | 'manual';
}

export interface DeliveryView {
  readonly id: number;
  readonly webhookId: string;
  /** The `webhook-id` header: the event id (`evt_…`), or `msg_…` for pings and Carte's events. */
  readonly messageId: string;
  readonly eventType: string;
  readonly state: DeliveryRecord['state'];
  readonly attempts: number;
  readonly createdAt: string;
  /** When the next attempt is due (null once delivered or failed). */
  readonly nextAttemptAt: string | null;
  readonly lastAttempt: { readonly at: string; readonly statusCode: number | null; readonly latencyMs: number | null; readonly error: string | null } | null;
  readonly deliveredAt: string | null;
}

export interface Paged<T> {
  readonly items: T[];
  readonly total: number;
  readonly offset: number;
}

export interface WebhookServiceOptions {
  readonly store: WebhookStore;
  readonly hub: EventHub;
  readonly service: ResourceService;
  readonly config: WebhooksConfig;
  /** The base URL hrefs in event payloads are built on (the public URL, else the listening one). */
  readonly baseUrl: () => string;
  readonly onError: (error: unknown, what: string) => void;
  /** An endpoint was disabled (logged by the server). */
  readonly onDisabled?: (webhook: WebhookRecord, reason: string) => void;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `{"state":["ready"]}` → REST filters with typed values (the WebSocket subscription form). */
function filterOf(value: Readonly<Record<string, unknown>> | null): RawFilter[] {
  if (value === null) return [];
  const filters: RawFilter[] = [];
  for (const [name, spec] of Object.entries(value)) {
    if (spec === null) filters.push({ name, op: 'null', values: [true], raw: false });
    else if (Array.isArray(spec)) filters.push({ name, op: 'eq', values: spec, raw: false });
    else if (isObject(spec)) for (const [op, operand] of Object.entries(spec)) filters.push({ name, op, values: Array.isArray(operand) ? operand : [operand], raw: false });
    else filters.push({ name, op: 'eq', values: [spec], raw: false });
  }
  return filters;
}

/** An endpoint compiled for matching: its selections, and whose read rule applies. */
interface Endpoint {
  readonly record: WebhookRecord;
  readonly ctx: CallContext;
  readonly selections: readonly EventSelection[];
  readonly system: ReadonlySet<string>;
}

export class WebhookService {
  readonly dispatcher: WebhookDispatcher;
  private readonly store: WebhookStore;
  private readonly hub: EventHub;
  private readonly service: ResourceService;
  private readonly config: WebhooksConfig;
  private endpoints: Promise<Endpoint[]> | null = null;
  private loadedAt = 0;
  /** A transaction queued deliveries since the dispatcher was last woken. */
  private enqueued = false;

  constructor(private readonly options: WebhookServiceOptions) {
    this.store = options.store;
    this.hub = options.hub;
    this.service = options.service;
    this.config = options.config;
    this.dispatcher = new WebhookDispatcher({
      store: options.store,
      config: options.config,
      onError: options.onError,
      onDisabled: (webhook, reason) => this.announceDisabled(webhook, reason),
    });
    // SPEC §7 "durable": deliveries are written with the event, in its transaction.
    this.hub.recorder.addInTransaction((tx, events) => this.enqueue(tx, events));
    // Committed events that queued deliveries wake the dispatcher (the poll finds the rest, other instances' included).
    this.hub.bus.listen(() => {
      if (!this.enqueued) return;
      this.enqueued = false;
      this.dispatcher.wake();
    });
  }

  start(): void {
    this.dispatcher.start();
  }

  stop(): Promise<void> {
    return this.dispatcher.stop();
  }

  // -------------------------------------------------------------------------------------
  // The outbox

  /** The enabled endpoints, compiled; re-read at most every poll interval (other instances register too). */
  private current(): Promise<Endpoint[]> {
    const now = Date.now();
    if (!this.endpoints || now - this.loadedAt > this.config.pollInterval) {
      this.loadedAt = now;
      const loading = this.store.listEnabledWebhooks().then((records) => records.flatMap((r) => this.compileQuietly(r)));
      // Until the first read ends, writes wait for it; later, they use the previous list meanwhile.
      const previous = this.endpoints;
      loading.catch((e: unknown) => this.options.onError(e, 'reading webhooks'));
      this.endpoints = previous ? loading.catch(() => previous) : loading;
      if (previous) return previous;
    }
    return this.endpoints;
  }

  private invalidate(): void {
    this.endpoints = null;
  }

  private compileQuietly(record: WebhookRecord): Endpoint[] {
    try {
      return [this.compile(record)];
    } catch {
      return []; // the owner lost access to what it asked for: nothing matches
    }
  }

  /** Checks events and filter against the model and the principal's rules (400/403 when they fail). */
  private compile(record: Pick<WebhookRecord, 'events' | 'filter' | 'principal'> & Partial<WebhookRecord>): Endpoint {
    const principal = JSON.parse(record.principal) as Principal;
    const filter = filterOf(record.filter);
    const system = new Set<string>();
    const whole = new Set<string>();
    const typed = new Map<string, string[]>();
    let everything = false;
    for (const name of record.events) {
      if ((SYSTEM_EVENTS as readonly string[]).includes(name)) system.add(name);
      else if (name === '*') everything = true;
      else if (name.endsWith('.*')) whole.add(name.slice(0, -2));
      else {
        const resource = name.slice(0, Math.max(0, name.indexOf('.')));
        typed.set(resource, [...(typed.get(resource) ?? []), name]);
      }
    }
    const filterPart = filter.length > 0 ? { filter } : {};
    const selections: EventSelection[] = [];
    if (everything) selections.push(this.hub.select({ principal, ...filterPart }));
    for (const resource of whole) selections.push(this.hub.select({ principal, resource, ...filterPart }));
    for (const [resource, types] of typed) {
      if (whole.has(resource) || everything) continue;
      selections.push(this.hub.select({ principal, types, ...(resource === '' ? {} : { resource }), ...filterPart }));
    }
    if (filter.length > 0 && new Set(selections.flatMap((s) => s.resources)).size > 1) {
      throw errors.invalidRequest('A filter applies to the items of one resource: the events must all be of that resource.');
    }
    return { record: record as WebhookRecord, ctx: { principal, baseUrl: '' }, selections, system };
  }

  private matches(endpoint: Endpoint, event: StoredEvent): boolean {
    if (!endpoint.selections.some((s) => s.matches(event))) return false;
    // SPEC §8: the registering principal's read rule, on this row, as for any front end that holds rows.
    return this.service.can(endpoint.ctx, event.resource, 'read', event.item);
  }

  private async enqueue(tx: StoreWriter, events: readonly StoredEvent[]): Promise<void> {
    const endpoints = await this.current();
    if (endpoints.length === 0) return;
    const now = Date.now();
    const deliveries: NewDelivery[] = [];
    for (const event of events) {
      let message: { id: string; payload: string } | null = null;
      for (const endpoint of endpoints) {
        if (!this.matches(endpoint, event)) continue;
        if (!message) {
          const presented = this.hub.present(event, this.options.baseUrl());
          message = { id: presented.id, payload: JSON.stringify(presented) };
        }
        deliveries.push({ webhookId: endpoint.record.id, messageId: message.id, eventType: event.type, payload: message.payload, createdAt: now, nextAttemptAt: now });
      }
    }
    if (deliveries.length > 0) {
      await tx.insertWebhookDeliveries(deliveries);
      this.enqueued = true;
    }
  }

  /** SPEC §7 "disabled, and says so": a `webhooks.disabled` delivery to the owner's endpoints that ask for it. */
  private async announceDisabled(webhook: WebhookRecord, reason: string): Promise<void> {
    this.invalidate();
    this.options.onDisabled?.(webhook, reason);
    const now = Date.now();
    const endpoints = (await this.current()).filter((e) => e.record.owner === webhook.owner && e.system.has('webhooks.disabled') && e.record.id !== webhook.id);
    if (endpoints.length === 0) return;
    const messageId = `msg_${randomUUID()}`;
    const payload = JSON.stringify({
      id: messageId,
      type: 'webhooks.disabled',
      occurredAt: new Date(now).toISOString(),
      data: { webhook: this.view(webhook), reason },
    });
    await this.store.insertDeliveries(endpoints.map((e) => ({ webhookId: e.record.id, messageId, eventType: 'webhooks.disabled', payload, createdAt: now, nextAttemptAt: now })));
    this.dispatcher.wake();
  }

  // -------------------------------------------------------------------------------------
  // The resource `/v1/webhooks`

  private owner(ctx: CallContext): string {
    // Registration requires authentication (SPEC §7, §8).
    if (ctx.principal.subject === null) throw noCredentials('Webhooks belong to a principal: authenticate with a bearer token or an API key');
    return principalKey(ctx.principal);
  }

  /** The caller's webhook; another principal's is 404 (SPEC §8: what you cannot see does not exist). */
  private async own(ctx: CallContext, id: string): Promise<WebhookRecord> {
    const owner = this.owner(ctx);
    const webhook = /^wh_[0-9a-f]{32}$/.test(id) ? await this.store.getWebhook(id) : undefined;
    if (!webhook || webhook.owner !== owner) throw errors.notFound('webhook', id);
    return webhook;
  }

  view(w: WebhookRecord): WebhookView {
    const now = Date.now();
    return {
      id: w.id,
      url: w.url,
      events: w.events,
      filter: w.filter,
      description: w.description,
      enabled: w.enabled,
      disabled: w.enabled || w.disabledAt === null ? null : { at: iso(w.disabledAt) as string, reason: w.disabledReason ?? '' },
      failingSince: iso(w.failingSince),
      previousSecretExpiresAt: w.previousSecret && w.previousUntil !== null && w.previousUntil > now ? iso(w.previousUntil) : null,
      createdAt: iso(w.createdAt) as string,
      updatedAt: iso(w.updatedAt) as string,
    };
  }

  /** Checks a body (all problems at once) and the URL's addresses; returns the members given. */
  private async validate(body: unknown, partial: boolean): Promise<{ url?: string; events?: string[]; filter?: Record<string, unknown> | null; description?: string; enabled?: boolean }> {
    if (!isObject(body)) throw errors.invalidBody('The body must be a JSON object: {"url", "events", "filter", "description"}');
    const problems: FieldError[] = [];
    const problem = (field: string, error: string, description: string) => problems.push({ field, error, error_description: description });
    const known = new Set(['url', 'events', 'filter', 'description', ...(partial ? ['enabled'] : [])]);
    for (const key of Object.keys(body)) if (!known.has(key)) problem(key.slice(0, 100), 'unknown', `There is no '${key.slice(0, 100)}' member on a webhook; use ${[...known].join(', ')}`);
    const out: { url?: string; events?: string[]; filter?: Record<string, unknown> | null; description?: string; enabled?: boolean } = {};
    if (body.url !== undefined || !partial) {
      const url = body.url;
      let parsed: URL | null = null;
      if (typeof url !== 'string' || url.length > 2048) problem('url', 'type', 'url must be an absolute http or https URL of at most 2048 characters');
      else {
        try {
          parsed = new URL(url);
        } catch {
          problem('url', 'format', `'${url.slice(0, 200)}' is not an absolute URL`);
        }
        if (parsed && parsed.protocol !== 'http:' && parsed.protocol !== 'https:') problem('url', 'format', 'url must use http or https');
        else if (parsed && (parsed.username || parsed.password)) problem('url', 'format', 'url must not carry credentials; authenticate the request by its signature');
        else if (parsed) out.url = parsed.toString();
      }
    }
    if (body.events !== undefined || !partial) {
      const events = body.events;
      if (!Array.isArray(events) || events.length === 0 || events.length > 100 || events.some((e) => typeof e !== 'string' || e === '' || e.length > 200)) {
        problem('events', 'type', 'events must be a list of 1 to 100 event types: orders.ready, orders.*, *, webhooks.disabled');
      } else out.events = [...new Set(events as string[])];
    }
    if (body.filter !== undefined) {
      if (body.filter !== null && !isObject(body.filter)) problem('filter', 'type', 'filter must be an object: {"field": value, "field": [values], "field": {"operator": value}}');
      else out.filter = body.filter as Record<string, unknown> | null;
    }
    if (body.description !== undefined) {
      if (typeof body.description !== 'string' || body.description.length > 1000 || body.description.includes('\u0000')) {
        problem('description', 'type', 'description must be a string of at most 1000 characters, without NUL');
      }
      else out.description = body.description;
    }
    if (body.enabled !== undefined) {
      if (typeof body.enabled !== 'boolean') problem('enabled', 'type', 'enabled is true or false');
      else out.enabled = body.enabled;
    }
    if (problems.length === 0 && out.url !== undefined) {
      try {
        await checkedAddresses(new URL(out.url).hostname, this.config.allowPrivateNetworks);
      } catch (e) {
        problem('url', 'address', e instanceof AddressRefusedError ? e.message : `${new URL(out.url).hostname} does not resolve (${(e as { code?: string }).code ?? 'DNS error'})`);
      }
    }
    if (problems.length > 0) throw errors.invalidItem('webhook', problems);
    return out;
  }

  /** Compiles events and filter for the principal: unknown types, bad filters (400) and unreadable resources (401/403) fail here. */
  private check(events: readonly string[], filter: Record<string, unknown> | null, principal: string): void {
    try {
      this.compile({ events, filter, principal });
    } catch (e) {
      if (e instanceof CarteError && e.status === 400) throw errors.invalidItem('webhook', [{ field: e.message.includes('filter') || e.message.includes('property') ? 'filter' : 'events', error: 'invalid', error_description: e.message }]);
      throw e;
    }
  }

  async register(ctx: CallContext, body: unknown): Promise<{ webhook: WebhookView; secret: string }> {
    const owner = this.owner(ctx);
    const input = await this.validate(body, false);
    const { subject, scopes, kind, clientId } = ctx.principal;
    const principal = JSON.stringify({ subject, scopes, kind, ...(clientId !== undefined ? { clientId } : {}) });
    this.check(input.events as string[], input.filter ?? null, principal);
    const mine = await this.store.listWebhooks(owner, 0, 1);
    if (mine.total >= this.config.maxPerPrincipal) throw errors.conflict(`A principal may register at most ${this.config.maxPerPrincipal} webhooks (webhooks.maxPerPrincipal); delete one first`);
    const now = Date.now();
    const record: WebhookRecord = {
      id: `wh_${randomUUID().replace(/-/g, '')}`,
      owner,
      principal,
      url: input.url as string,
      events: input.events as string[],
      filter: input.filter ?? null,
      description: input.description ?? '',
      secret: generateSecret(),
      previousSecret: null,
      previousUntil: null,
      enabled: true,
      disabledAt: null,
      disabledReason: null,
      failingSince: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.store.insertWebhook(record);
    this.invalidate();
    return { webhook: this.view(record), secret: record.secret };
  }

  async list(ctx: CallContext, offset: number, limit: number): Promise<Paged<WebhookView>> {
    const page = await this.store.listWebhooks(this.owner(ctx), offset, limit);
    return { items: page.items.map((w) => this.view(w)), total: page.total, offset };
  }

  async get(ctx: CallContext, id: string): Promise<WebhookView> {
    return this.view(await this.own(ctx, id));
  }

  /** Merge patch: url, events, filter, description, enabled (re-enabling clears the failure record). */
  async update(ctx: CallContext, id: string, body: unknown): Promise<WebhookView> {
    const webhook = await this.own(ctx, id);
    const input = await this.validate(body, true);
    const events = input.events ?? webhook.events;
    const filter = input.filter !== undefined ? input.filter : webhook.filter;
    this.check(events, filter, webhook.principal);
    const enable = input.enabled === true && !webhook.enabled;
    const disable = input.enabled === false && webhook.enabled;
    const now = Date.now();
    const updated: WebhookRecord = {
      ...webhook,
      url: input.url ?? webhook.url,
      events,
      filter,
      description: input.description ?? webhook.description,
      enabled: input.enabled ?? webhook.enabled,
      disabledAt: enable ? null : disable ? now : webhook.disabledAt,
      disabledReason: enable ? null : disable ? 'disabled by its owner' : webhook.disabledReason,
      failingSince: enable ? null : webhook.failingSince,
      updatedAt: now,
    };
    await this.store.updateWebhook(updated);
    this.invalidate();
    this.dispatcher.forget(id);
    return this.view(updated);
  }

  async remove(ctx: CallContext, id: string): Promise<void> {
    await this.own(ctx, id);
    await this.store.deleteWebhook(id);
    this.invalidate();
    this.dispatcher.forget(id);
  }

  /** A new secret; the previous one keeps signing (both signatures sent) for `secretOverlap`. */
  async rotateSecret(ctx: CallContext, id: string): Promise<{ secret: string; previousSecretExpiresAt: string }> {
    const webhook = await this.own(ctx, id);
    const now = Date.now();
    const secret = generateSecret();
    const previousUntil = now + this.config.secretOverlap;
    await this.store.updateWebhook({ ...webhook, secret, previousSecret: webhook.secret, previousUntil, updatedAt: now });
    this.dispatcher.forget(id);
    return { secret, previousSecretExpiresAt: iso(previousUntil) as string };
  }

  deliveryView(d: DeliveryRecord): DeliveryView {
    return {
      id: d.id,
      webhookId: d.webhookId,
      messageId: d.messageId,
      eventType: d.eventType,
      state: d.state,
      attempts: d.attempts,
      createdAt: iso(d.createdAt) as string,
      nextAttemptAt: d.state === 'pending' ? iso(d.nextAttemptAt) : null,
      lastAttempt: d.lastAttemptAt === null ? null : { at: iso(d.lastAttemptAt) as string, statusCode: d.lastStatus, latencyMs: d.lastLatencyMs, error: d.lastError },
      deliveredAt: iso(d.deliveredAt),
    };
  }

  attemptView(a: AttemptRecord): AttemptView {
    return { attempt: a.n, at: iso(a.startedAt) as string, statusCode: a.status, latencyMs: a.latencyMs, error: a.error, response: a.response, trigger: a.trigger };
  }

  async deliveries(ctx: CallContext, id: string, offset: number, limit: number): Promise<Paged<DeliveryView>> {
    await this.own(ctx, id);
    const page = await this.store.listDeliveries(id, offset, limit);
    return { items: page.items.map((d) => this.deliveryView(d)), total: page.total, offset };
  }

  private async ownDelivery(ctx: CallContext, id: string, deliveryId: string): Promise<DeliveryRecord> {
    await this.own(ctx, id);
    const did = /^\d{1,15}$/.test(deliveryId) ? Number(deliveryId) : NaN;
    const delivery = Number.isSafeInteger(did) ? await this.store.getDelivery(id, did) : undefined;
    if (!delivery) throw errors.notFound('delivery', deliveryId);
    return delivery;
  }

  async delivery(ctx: CallContext, id: string, deliveryId: string): Promise<DeliveryView & { readonly attemptLog: AttemptView[] }> {
    const delivery = await this.ownDelivery(ctx, id, deliveryId);
    const attempts = await this.store.listAttempts(delivery.id);
    return { ...this.deliveryView(delivery), attemptLog: attempts.map((a) => this.attemptView(a)) };
  }

  async attempts(ctx: CallContext, id: string, deliveryId: string): Promise<AttemptView[]> {
    const delivery = await this.ownDelivery(ctx, id, deliveryId);
    return (await this.store.listAttempts(delivery.id)).map((a) => this.attemptView(a));
  }

  /** `POST …/deliveries/{did}/attempts`: one attempt now, whatever the delivery's state; answers with it. */
  async retry(ctx: CallContext, id: string, deliveryId: string): Promise<{ attempt: AttemptView; delivery: DeliveryView }> {
    const delivery = await this.ownDelivery(ctx, id, deliveryId);
    const attempt = await this.dispatcher.attemptNow(delivery);
    if (!attempt) throw errors.conflict('An attempt of this delivery is in flight; try again when it has finished');
    const after = await this.store.getDelivery(id, delivery.id);
    return { attempt: this.attemptView(attempt), delivery: this.deliveryView(after ?? delivery) };
  }

  /** `POST /v1/webhooks/{id}/pings`: a signed `webhooks.ping` delivery, attempted now (disabled endpoints too: a ping tests the receiver). */
  async ping(ctx: CallContext, id: string): Promise<{ attempt: AttemptView; delivery: DeliveryView }> {
    const webhook = await this.own(ctx, id);
    const now = Date.now();
    const messageId = `msg_${randomUUID()}`;
    const payload = JSON.stringify({ id: messageId, type: PING, occurredAt: new Date(now).toISOString(), data: { webhookId: webhook.id } });
    // A ping is attempted once, now, and never retried on the schedule (the dispatcher knows its type).
    await this.store.insertDeliveries([{ webhookId: id, messageId, eventType: PING, payload, createdAt: now, nextAttemptAt: now + 365 * 86_400_000 }]);
    const created = (await this.store.listDeliveries(id, 0, 10)).items.find((d) => d.messageId === messageId);
    if (!created) throw errors.serverError(new Error('the ping delivery was not found after inserting it'));
    const attempt = await this.dispatcher.attemptNow(created);
    if (!attempt) throw errors.conflict('An attempt of this delivery is in flight');
    const after = await this.store.getDelivery(id, created.id);
    return { attempt: this.attemptView(attempt), delivery: this.deliveryView(after ?? created) };
  }

  /** SPEC §11: the queue's depth and age. */
  queueStats(): Promise<{ pending: number; oldestCreatedAt: number | null }> {
    return this.store.queueStats();
  }
}
