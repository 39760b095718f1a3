/**
 * Fastify bootstrap: loads the schema, opens and migrates the store, builds the one
 * resource service and registers each front end as an encapsulated plugin over it.
 */
import { randomUUID } from 'node:crypto';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import { ANONYMOUS, type Principal } from './auth/principal.js';
import { resolveConfig, type CarteConfig, type ConfigOverrides } from './config/config.js';
import { demoSchema } from './demo/schema.js';
import { seedDemo } from './demo/seed.js';
import { EventHub } from './events/hub.js';
import { docsPlugin } from './openapi/portal/plugin.js';
import { eventsRestPlugin } from './protocols/rest/events.js';
import { restPlugin } from './protocols/rest/plugin.js';
import type { RouteInfo } from './protocols/rest/routes.js';
import { CLOSE, wsPlugin } from './protocols/ws/plugin.js';
import { DEFAULT_QUERY_LIMITS } from './query/types.js';
import { loadSchemaFile, loadSchemaObject, type LoadedSchema } from './schema/load.js';
import type { ApiModel, ApiSpec } from './schema/types.js';
import { ResourceService } from './service/resource-service.js';
import { openStore } from './store/open.js';
import type { MigrationStep, Store } from './store/store.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; anonymous unless a front end's authentication says otherwise. */
    principal: Principal;
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
  /** Migration steps applied at start. */
  readonly migrated: readonly MigrationStep[];
  readonly isDemo: boolean;
  /** Listens and returns the base URL (`http://127.0.0.1:3000`). */
  listen(): Promise<string>;
  close(): Promise<void>;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export async function createServer(options: ServerOptions = {}): Promise<CarteServer> {
  const isDemo = options.schema === undefined;
  const loaded: LoadedSchema =
    typeof options.schema === 'string' ? await loadSchemaFile(options.schema) : loadSchemaObject((options.schema ?? demoSchema) as ApiSpec);
  const model = loaded.model;
  const config = resolveConfig(model.config, options.config ?? {});
  const store = await openStore(config.db, { durability: config.durability, estimateThreshold: config.estimateThreshold });
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
  const service = new ResourceService(model, store, { limits: config.limits });

  const app = Fastify({
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
    bodyLimit: config.limits.bodyBytes,
    // Long query strings reach Carte's own limits (400 naming the problem) instead of Node's 431.
    http: { maxHeaderSize: config.limits.headerBytes },
    routerOptions: { ignoreTrailingSlash: true },
    // Hostile input (SPEC §8): headers and slow clients are bounded.
    requestTimeout: 120_000,
    connectionTimeout: 0,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
  });
  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (request, reply) => {
    request.principal = ANONYMOUS;
    reply.header('X-Request-Id', request.id);
  });

  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/ready', async (_request, reply) => {
    try {
      await store.ping();
      return { status: 'ready' };
    } catch {
      return reply.code(503).send({ status: 'unavailable', error: 'service_unavailable', error_description: 'The database does not answer' });
    }
  });

  // SPEC §7: every change is recorded as an event in its transaction, then fanned out.
  const events = new EventHub({
    api: model,
    store,
    config: config.events,
    limits: { ...DEFAULT_QUERY_LIMITS, ...config.limits },
    onError: (err, what) => app.log.error({ err }, `events: ${what} failed`),
  });
  service.addRecorder(events.recorder);
  // One WebSocket server for every front end that upgrades (/v1/ws; GraphQL subscriptions later).
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

  const routes: RouteInfo[] = [];
  const publicUrl = config.publicUrl ? { publicUrl: config.publicUrl } : {};
  await app.register(restPlugin, { service, bodyLimit: config.limits.bodyBytes, routes, events, ...publicUrl });
  await app.register(eventsRestPlugin, { hub: events, bodyLimit: config.limits.bodyBytes, ...publicUrl });
  await app.register(wsPlugin, { hub: events, bodyLimit: config.limits.bodyBytes, ...publicUrl });
  await app.register(docsPlugin, { service });
  events.start();

  let closed = false;
  return {
    app,
    service,
    store,
    model,
    config,
    routes,
    events,
    migrated,
    isDemo,
    async listen() {
      await app.listen({ port: config.port, host: config.host });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      const host = config.host.includes(':') ? `[${config.host}]` : config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
      return `http://${host}:${port}`;
    },
    async close() {
      if (closed) return;
      closed = true;
      // SPEC §11: answer held long polls, end event streams, close WebSockets with 1001,
      // then stop accepting, finish in-flight requests and flush the store.
      await events.shutdown();
      await app.close();
      await events.close();
      await store.close();
    },
  };
}
