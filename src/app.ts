/**
 * Fastify bootstrap: loads the schema, opens and migrates the store, builds the one
 * resource service and registers each front end as an encapsulated plugin over it.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { Auth } from './auth/auth.js';
import fastifyWebsocket from '@fastify/websocket';
import { ANONYMOUS, type Principal } from './auth/principal.js';
import { resolveConfig, type CarteConfig, type ConfigOverrides } from './config/config.js';
import { demoSchema } from './demo/schema.js';
import { seedDemo } from './demo/seed.js';
import { EventHub } from './events/hub.js';
import { LogBus } from './events/log-bus.js';
import { Metrics } from './metrics/metrics.js';
import { installOps } from './protocols/ops/plugin.js';
import { asyncapiPlugin } from './openapi/asyncapi.js';
import { openApiPlugin, type OpenApiOptions } from './openapi/plugin.js';
import { docsPlugin } from './openapi/portal/plugin.js';
import { graphqlPlugin } from './protocols/graphql/plugin.js';
import { installHttpGuard, redactUrl } from './protocols/http-guard.js';
import { oauthPlugin } from './protocols/oauth/plugin.js';
import { eventsRestPlugin } from './protocols/rest/events.js';
import { installCors } from './protocols/rest/cors.js';
import { restPlugin } from './protocols/rest/plugin.js';
import { createRestRewriter, HintedIncomingMessage } from './protocols/rest/rewrite.js';
import { dispatchRpc } from './protocols/rpc/dispatch.js';
import { rpcPlugin } from './protocols/rpc/plugin.js';
import type { RouteInfo } from './protocols/rest/routes.js';
import { CLOSE, wsPlugin } from './protocols/ws/plugin.js';
import { webhooksRestPlugin } from './protocols/rest/webhooks.js';
import { WebhookService } from './webhooks/webhook-service.js';
import { DEFAULT_QUERY_LIMITS } from './query/types.js';
import { childLoggerFactory } from './request-logger.js';
import { loadSchemaFile, loadSchemaObject, type LoadedSchema } from './schema/load.js';
import type { ApiModel, ApiSpec } from './schema/types.js';
import { ResourceService } from './service/resource-service.js';
import type { CallContext } from './service/types.js';
import { FileBlobStore, type BlobStore } from './store/blob-store.js';
import { describeDb, openStore } from './store/open.js';
import type { MigrationStep, Store } from './store/store.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; anonymous unless a front end's authentication says otherwise. */
    principal: Principal;
    /** The matched route's options, read once per request (Fastify builds a new object on every `request.routeOptions`). */
    matched: FastifyRequest['routeOptions'] | null;
  }
}

export interface ServerOptions {
  /** A schema file path, an in-memory schema, or nothing for the built-in demo. */
  readonly schema?: string | ApiSpec;
  readonly config?: ConfigOverrides;
  /** Fill an empty demo database with sample data (default: true for the demo). */
  readonly seed?: boolean;
}

export interface CarteServer {
  readonly app: FastifyInstance;
  readonly service: ResourceService;
  readonly store: Store;
  readonly model: ApiModel;
  readonly config: CarteConfig;
  readonly routes: readonly RouteInfo[];
  /** The events room: event log, bus, subscriptions, held long polls, sockets (SPEC §7). */
  readonly events: EventHub;
  /** Where blob bytes are kept (SPEC §4.9). */
  readonly blobs: BlobStore;
  /** Migration steps applied at start. */
  readonly migrated: readonly MigrationStep[];
  readonly isDemo: boolean;
  /** Clients, keys, tokens, the authenticator every front end calls, rate limits (SPEC §8). */
  readonly auth: Auth;
  /** Prometheus metrics (SPEC §11); other rooms add their gauges with `metrics.registerGauge`. */
  readonly metrics: Metrics;
  /** Webhook endpoints, the outbox and its dispatcher (SPEC §7). */
  readonly webhooks: WebhookService;
  /** Things the operator should know, found when listening (plain HTTP on a public address). */
  readonly warnings: string[];
  /** Listens and returns the base URL (`http://127.0.0.1:3000`, `https://…` with TLS). */
  listen(): Promise<string>;
  close(): Promise<void>;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Addresses only this machine can reach: plain HTTP there is no risk to tokens. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read the TLS ${what} ${file}: ${(e as Error).message}`);
  }
}

export async function createServer(options: ServerOptions = {}): Promise<CarteServer> {
  const isDemo = options.schema === undefined;
  const loaded: LoadedSchema =
    typeof options.schema === 'string' ? await loadSchemaFile(options.schema) : loadSchemaObject((options.schema ?? demoSchema) as ApiSpec);
  const model = loaded.model;
  const config = resolveConfig(model.config, options.config ?? {});
  // SPEC §8: with a certificate, HTTP/2 over TLS (HTTP/1.1 still answered: allowHTTP1).
  const tls = config.tls ? { cert: readPem(config.tls.cert, 'certificate'), key: readPem(config.tls.key, 'key') } : null;
  const store = await openStore(config.db, { durability: config.durability, estimateThreshold: config.estimateThreshold, poolSize: config.dbPoolSize });
  let migrated: MigrationStep[] = [];
  try {
    const plan = await store.planMigration(model);
    await store.applyMigration(plan);
    migrated = [...plan.steps];
    store.attach(model);
    if (isDemo && options.seed !== false) await seedDemo(store);
  } catch (e) {
    await store.close();
    throw e;
  }
  // SPEC §4.9: blob files next to the database (`carte.db-blobs/`), a temp dir for a throw-away one.
  const db = describeDb(config.db);
  const blobs = new FileBlobStore(config.blobs.dir ?? (db.kind === 'sqlite' && db.location !== ':memory:' ? `${db.location}-blobs` : db.kind === 'postgres' ? './carte-blobs' : null));
  const service = new ResourceService(model, store, { limits: config.limits, idempotency: config.idempotency, blobs });
  const auth = new Auth(store.auth, config, model);
  // SPEC §4.7: keys are forgotten after their retention window.
  const purge = () => void service.idempotency.purge().catch(() => undefined);
  purge();
  const purgeTimer = setInterval(purge, Math.min(config.idempotency.ttlSeconds, 3600) * 1000);
  purgeTimer.unref();

  const transport: Partial<FastifyServerOptions> & Record<string, unknown> = tls
    ? { http2: true, https: { allowHTTP1: true, cert: tls.cert, key: tls.key } }
    : // Long query strings reach Carte's own limits (400 naming the problem) instead of Node's 431.
      { http: { maxHeaderSize: config.limits.headerBytes, IncomingMessage: HintedIncomingMessage } };
  const app = Fastify({
    ...transport,
    logger:
      config.logLevel === 'silent'
        ? false
        : {
            level: config.logLevel,
            serializers: {
              // Fastify's request fields, with query-string tokens masked.
              req: (req: { method: string; url: string; host?: string; ip?: string; socket?: { remotePort?: number } }) => ({
                method: req.method,
                url: redactUrl(req.url),
                host: req.host,
                remoteAddress: req.ip,
                remotePort: req.socket?.remotePort,
              }),
            },
          },
    // request.log becomes a pino child only when the request writes a line (src/request-logger.ts).
    ...(config.logLevel === 'silent' ? {} : { childLoggerFactory }),
    bodyLimit: config.limits.bodyBytes,
    trustProxy: config.trustProxy,
    routerOptions: { ignoreTrailingSlash: true },
    // Hostile input (SPEC §8): headers and slow clients are bounded.
    requestTimeout: 120_000,
    connectionTimeout: 0,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    // SPEC §4.10, §4.11: versions chosen by header or media type, and `.jsonp`, are settled before routing.
    rewriteUrl: createRestRewriter(model, config.jsonp),
  } as FastifyServerOptions) as unknown as FastifyInstance;
  app.decorateRequest('principal', null as unknown as Principal);
  app.decorateRequest('matched', null);
  app.decorateRequest('carteFormat', null);
  app.addHook('onRequest', (request, reply, done) => {
    request.principal = ANONYMOUS;
    request.matched = request.routeOptions;
    reply.header('X-Request-Id', request.id);
    done();
  });
  // CORS first: a preflight is answered before authentication asks for credentials (SPEC §4.11).
  installCors(app, config.cors);
  const routes: RouteInfo[] = [];
  let routeResources: Map<string, string | null> | null = null;
  // Authentication and rate limits for every front end, before any route runs.
  installHttpGuard(app, {
    auth,
    config,
    resourceOfRoute: (url) => {
      routeResources ??= new Map(routes.map((r) => [r.url, r.resource]));
      return url === undefined ? null : (routeResources.get(url) ?? null);
    },
  });

  // SPEC §7: every change is recorded as an event in its transaction, then fanned out —
  // SPEC §10: on PostgreSQL to every instance on the database, through the log bus.
  const onEventsError = (err: unknown, what: string) => app.log.error({ err }, `events: ${what} failed`);
  let bus: LogBus | null;
  try {
    bus = await LogBus.open({ store, api: model, onError: onEventsError });
  } catch (e) {
    await store.close();
    throw e;
  }
  const events = new EventHub({
    api: model,
    store,
    config: config.events,
    limits: { ...DEFAULT_QUERY_LIMITS, ...config.limits },
    onError: onEventsError,
    ...(bus ? { bus } : {}),
    // SPEC §8: a socket or stream stops when its token or key is revoked, not only at expiry.
    checkCredential: (principal) => auth.stillValid(principal),
  });
  service.addRecorder(events.recorder);
  // SPEC §11: /health, /ready, /metrics, and the request metrics every route feeds.
  const metrics = new Metrics({ processMetrics: config.metrics.processMetrics });
  installOps(app, { store, events, metrics, config: config.metrics, ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}) });
  // SPEC §7 webhooks: the outbox joins each write transaction; the dispatcher delivers.
  let listeningUrl = '';
  const webhooks = new WebhookService({
    store: store.webhooks,
    hub: events,
    service,
    config: config.webhooks,
    baseUrl: () => config.publicUrl ?? listeningUrl,
    onError: (err, what) => app.log.error({ err }, `webhooks: ${what} failed`),
    onDisabled: (webhook, reason) => app.log.warn({ webhook: webhook.id, url: webhook.url, reason }, 'webhooks: endpoint disabled'),
  });
  // One WebSocket server for every front end that upgrades (/v1/ws; GraphQL subscriptions at /v1/graphql).
  await app.register(fastifyWebsocket, {
    options: { maxPayload: config.events.maxMessageBytes },
    // A client breaking the protocol (a message over maxPayload: closed with 1009) is not a server error.
    errorHandler(error, socket, request) {
      request.log.debug({ err: error }, 'websocket error');
      // ws has already begun closing with the right code (1009, 1002…); let the close frame go out.
      if (socket.readyState === socket.OPEN) socket.terminate();
    },
    preClose(done) {
      // events.shutdown() has closed its sockets with 1001; any other still open (another
      // front end's) is closed the same way, and whoever has not finished within 2 s is cut
      // off, so that closing stays within a bound.
      const clients = this.websocketServer.clients;
      for (const client of clients) if (client.readyState === client.OPEN) client.close(CLOSE.goingAway, 'server shutting down');
      const cutOff = setTimeout(() => {
        for (const client of clients) client.terminate();
      }, 2000);
      this.websocketServer.close(() => {
        clearTimeout(cutOff);
        done();
      });
    },
  });

  const publicUrl = config.publicUrl ? { publicUrl: config.publicUrl } : {};
  await app.register(oauthPlugin, { auth, ...publicUrl });
  await app.register(restPlugin, { service, bodyLimit: config.limits.bodyBytes, routes, events, ...publicUrl });
  await app.register(eventsRestPlugin, { hub: events, bodyLimit: config.limits.bodyBytes, ...publicUrl });
  await app.register(rpcPlugin, { service, limits: config.limits, ...publicUrl });
  await app.register(graphqlPlugin, { service, limits: config.limits, bodyLimit: config.limits.bodyBytes, subscriptions: { hub: events, auth }, ...publicUrl });
  // JSON-RPC messages on /v1/ws go through the same dispatcher as POST /v1/rpc (SPEC §5, §7).
  const rpc = (payload: unknown, ctx: CallContext) =>
    dispatchRpc(service, payload, ctx, { batchSize: config.limits.rpcBatchSize, log: (err, method) => app.log.error({ err, method }, 'JSON-RPC call over /v1/ws failed') });
  await app.register(wsPlugin, { hub: events, bodyLimit: config.limits.bodyBytes, rpc, ...publicUrl });
  await app.register(webhooksRestPlugin, { webhooks, version: model.version, bodyLimit: config.limits.bodyBytes, ...publicUrl });
  // SPEC §9: the OpenAPI document and the developer portal rendered from it; the AsyncAPI document of the event side.
  const openapi: OpenApiOptions = { service, routes, config, scopes: () => auth.scopesSupported() };
  await app.register(openApiPlugin, openapi);
  await app.register(docsPlugin, openapi);
  await app.register(asyncapiPlugin, { api: model, ...publicUrl });
  events.start();
  webhooks.start();
  // SPEC §11: the webhook queue's depth and the age of its oldest pending delivery.
  metrics.registerGauge({ name: 'carte_webhook_queue_depth', help: 'Webhook deliveries waiting to be delivered', read: async () => (await webhooks.queueStats()).pending });
  metrics.registerGauge({
    name: 'carte_webhook_oldest_pending_seconds',
    help: 'Age of the oldest pending webhook delivery, in seconds (0 when none)',
    read: async () => {
      const { oldestCreatedAt } = await webhooks.queueStats();
      return oldestCreatedAt === null ? 0 : Math.max(0, (Date.now() - oldestCreatedAt) / 1000);
    },
  });

  let closing: Promise<void> | null = null;
  const warnings: string[] = [];
  return {
    app,
    service,
    store,
    model,
    config,
    routes,
    events,
    blobs,
    migrated,
    isDemo,
    auth,
    metrics,
    webhooks,
    warnings,
    async listen() {
      await app.listen({ port: config.port, host: config.host });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      const host = config.host.includes(':') ? `[${config.host}]` : config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
      if (!tls && !isLoopback(config.host)) {
        // SPEC §8 (seed 004: HTTPS for every access to the API and the OAuth2 provider).
        const warning = `serving plain HTTP on ${config.host}: tokens, client secrets and API keys cross the network unencrypted; use --tls-cert/--tls-key or a TLS-terminating proxy`;
        warnings.push(warning);
        app.log.warn(warning);
      }
      listeningUrl = `${tls ? 'https' : 'http'}://${host}:${port}`;
      return listeningUrl;
    },
    close() {
      closing ??= (async () => {
        // SPEC §11: answer held long polls, end event streams, close WebSockets with 1001,
        // then stop accepting, finish in-flight requests and flush the store — within
        // `shutdownTimeout`: connections still open then are cut, so closing is bounded.
        const bound = config.shutdownTimeout;
        const cut = setTimeout(() => {
          app.log.warn({ shutdownTimeout: bound }, 'shutdown: in-flight requests did not finish in time; cutting their connections');
          const server = app.server as { closeAllConnections?: () => void };
          server.closeAllConnections?.();
        }, bound);
        cut.unref();
        try {
          await events.shutdown(Math.min(5000, bound / 2));
          clearInterval(purgeTimer);
          await app.close();
          // Attempts in flight finish (each within webhooks.timeout) and are written down.
          await webhooks.stop();
        } finally {
          clearTimeout(cut);
        }
        await events.close();
        await store.close();
        await blobs.close();
      })();
      return closing;
    },
  };
}
