/**
 * The operator's endpoints (SPEC §11): `/health` (the process is alive), `/ready` (the
 * database answers: route traffic here), Prometheus `/metrics`, and the request metrics
 * every response feeds. The probes answer anyone; `/metrics` answers loopback callers, or
 * whoever shows `metrics.token` (it names routes and volumes an outsider has no use for).
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { noCredentials } from '../../auth/rules.js';
import type { MetricsConfig } from '../../config/config.js';
import { CarteError, errors } from '../../errors.js';
import type { EventHub } from '../../events/hub.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { Store } from '../../store/store.js';
import { baseUrlOf, routeOf, sendError } from '../rest/reply.js';

export interface OpsOptions {
  readonly store: Store;
  readonly events: EventHub;
  readonly metrics: Metrics;
  readonly config: MetricsConfig;
  readonly publicUrl?: string;
  /** `/ready` answers 503 when the database has not answered within this (ms). */
  readonly readyTimeout?: number;
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 (`::ffff:127.0.0.1`). */
export function isLoopbackAddress(ip: string): boolean {
  const address = ip.toLowerCase().replace(/^::ffff:/, '');
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Who may scrape: with a token, whoever presents it; without, loopback callers (or anyone, with `allow: any`). */
function metricsRefusal(request: FastifyRequest, config: MetricsConfig): CarteError | null {
  if (config.token !== undefined) {
    const header = request.headers.authorization;
    if (header === undefined) return noCredentials('/metrics needs the metrics token: send Authorization: Bearer <metrics.token>');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m && sameSecret(m[1] as string, config.token) ? null : errors.invalidToken('This is not the metrics token');
  }
  if (config.allow === 'any' || isLoopbackAddress(request.ip)) return null;
  return new CarteError('not_allowed', '/metrics answers this machine only; set metrics.token (CARTE_METRICS_TOKEN) to scrape it from elsewhere, or metrics.allow: any on a trusted network');
}

/** The database answers within `ms`, or the promise rejects. */
async function pingWithin(store: Store, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      store.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Registers the probes, `/metrics` and the request metrics on the root instance (every route feeds them). */
export function installOps(app: FastifyInstance, options: OpsOptions): void {
  const { store, events, metrics, config } = options;
  const readyTimeout = options.readyTimeout ?? 2000;

  app.addHook('onResponse', (request, reply, done) => {
    // The route's pattern keeps the label set small; requests no route matched share one label.
    metrics.observeRequest(request.method, routeOf(request).url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (request, reply) => {
    // A stopping instance is taken out of rotation before its connections close.
    if (events.isClosing) {
      return reply.code(503).send({ status: 'stopping', error: 'service_unavailable', error_description: 'The server is shutting down' });
    }
    try {
      await pingWithin(store, readyTimeout);
      return { status: 'ready' };
    } catch (e) {
      request.log.warn({ err: e }, 'readiness: the database does not answer');
      return reply.code(503).send({ status: 'unavailable', error: 'service_unavailable', error_description: 'The database does not answer' });
    }
  });

  if (!config.enabled) return;
  registerEventMetrics(metrics, events);
  app.get('/metrics', async (request: FastifyRequest, reply: FastifyReply) => {
    const refusal = metricsRefusal(request, config);
    if (refusal) return sendError(request, reply, refusal, baseUrlOf(request, options.publicUrl));
    const text = await metrics.text();
    return reply.header('content-type', metrics.contentType).header('cache-control', 'no-store').send(text);
  });
}

/** SPEC §11: open WebSockets, held long polls, and how the event bus fares. */
function registerEventMetrics(metrics: Metrics, events: EventHub): void {
  const stats = () => events.stats();
  metrics.registerGauge({ name: 'carte_websockets_open', help: 'Open WebSocket connections (/v1/ws).', read: () => stats().openWebSockets });
  metrics.registerGauge({ name: 'carte_event_streams_open', help: 'Open server-sent event streams (GET /v1/events, text/event-stream).', read: () => stats().openEventStreams });
  metrics.registerGauge({ name: 'carte_long_polls_held', help: 'Requests held by Prefer: wait (long polls).', read: () => stats().heldLongPolls });
  metrics.registerGauge({ name: 'carte_event_subscriptions', help: 'Live event subscriptions (WebSocket, SSE).', read: () => stats().subscriptions });
  metrics.registerCounter({ name: 'carte_slow_consumers_closed_total', help: 'Connections closed because they read events too slowly.', read: () => stats().slowConsumersClosed });
  const bus = () => events.bus.stats();
  metrics.registerGauge({
    name: 'carte_event_bus_connected',
    help: 'Whether this instance hears the events of the others (1: the LISTEN connection is up; always 1 in process).',
    labelNames: ['bus'],
    read: () => [{ labels: { bus: bus().kind }, value: bus().connected ? 1 : 0 }],
  });
  metrics.registerGauge({ name: 'carte_event_bus_position', help: 'The last event log position this instance has delivered to its subscribers.', read: () => bus().position });
  metrics.registerCounter({ name: 'carte_event_bus_reconnects_total', help: 'Times the LISTEN connection was made again after a loss.', read: () => bus().reconnects });
  metrics.registerCounter({ name: 'carte_event_bus_reads_total', help: 'Reads of the event log after a signal from another instance (or a gap).', read: () => bus().reads });
}
