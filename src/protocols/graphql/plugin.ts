/**
 * GraphQL over HTTP at `/v1/graphql` (SPEC §6), following the GraphQL-over-HTTP spec:
 * `POST` (JSON body, or a JSON array for a batch) and `GET` for queries; responses in
 * `application/json` (always 200 once the request is understood) or, when the client asks
 * for it, `application/graphql-response+json` (400 for a request error, as that spec says).
 * A browser's `GET` (Accept: text/html) opens GraphiQL; the SDL is at `/v1/graphql/schema.graphql`.
 */
import { printSchema } from 'graphql';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/websocket'; // route option `wsHandler`
import type { Auth } from '../../auth/auth.js';
import { ANONYMOUS } from '../../auth/principal.js';
import type { EventHub } from '../../events/hub.js';
import { errors, type CarteError } from '../../errors.js';
import type { ResourceService } from '../../service/resource-service.js';
import type { CallContext } from '../../service/types.js';
import { baseUrlOf, noneMatch, pathOf, sendError, strongEtag } from '../rest/reply.js';
import { negotiate } from '../rest/negotiate.js';
import type { SchemaExtensions } from './build-schema.js';
import { carteToGraphql, createGraphqlRuntime, runGraphql, runGraphqlBatch, type GraphqlOutcome, type GraphqlRuntime } from './execute.js';
import { graphiqlAsset, graphiqlPage } from './graphiql.js';
import type { GraphqlLimits } from './limits.js';
import { subscriptionFields } from './subscriptions.js';
import { graphqlWsHandler } from './ws.js';

export interface GraphqlPluginOptions {
  readonly service: ResourceService;
  readonly limits: GraphqlLimits;
  readonly bodyLimit: number;
  readonly publicUrl?: string;
  /** Root fields from other rooms (the events room's Subscription). */
  readonly extensions?: SchemaExtensions;
  /** Filled with the runtime once built (a graphql-ws server reuses its schema and limits). */
  readonly onRuntime?: (runtime: GraphqlRuntime) => void;
  /** Subscriptions over graphql-ws at the same URL, fed by the events room (SPEC §6, §7). */
  readonly subscriptions?: { readonly hub: EventHub; readonly auth: Auth };
}

const GRAPHQL_RESPONSE = 'application/graphql-response+json';
const JSON_TYPE = 'application/json';
/** A body that is not JSON: a request error, not a transport one. */
class Unparsable {
  constructor(readonly reason: string) {}
}

export async function graphqlPlugin(app: FastifyInstance, options: GraphqlPluginOptions): Promise<void> {
  const { service } = options;
  const live = options.subscriptions;
  const extensions = options.extensions ?? (live ? { subscription: subscriptionFields(service, live.hub) } : {});
  const runtime = createGraphqlRuntime(service, options.limits, extensions);
  options.onRuntime?.(runtime);
  const url = `${service.prefix}/graphql`;
  const sdl = printSchema(runtime.schema);
  const sdlTag = strongEtag(sdl);
  const ctxOf = (request: FastifyRequest): CallContext => ({ principal: request.principal ?? ANONYMOUS, baseUrl: baseUrlOf(request, options.publicUrl), requestId: request.id });
  const log = (request: FastifyRequest) => (err: unknown) => request.log.error({ err, requestId: request.id }, 'GraphQL resolver failed');

  const json = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(JSON_TYPE, { parseAs: 'string', bodyLimit: options.bodyLimit }, (request, body, done) => {
    json(request, body as string, (error: Error | null, value?: unknown) => done(null, error ? new Unparsable((body as string).trim() === '' ? 'The body is empty; send {"query": "{ … }"}.' : `The body is not valid JSON (${error.message}).`) : value));
  });

  /** The media type of the answer: graphql-response+json only when the client prefers it. */
  const responseType = (request: FastifyRequest) => (negotiate(request.headers.accept, [JSON_TYPE, GRAPHQL_RESPONSE]) === GRAPHQL_RESPONSE ? GRAPHQL_RESPONSE : JSON_TYPE);

  const send = (request: FastifyRequest, reply: FastifyReply, outcome: GraphqlOutcome | GraphqlOutcome[]) => {
    const type = responseType(request);
    if (Array.isArray(outcome)) return reply.code(200).type(`${type}; charset=utf-8`).send(JSON.stringify(outcome.map((o) => o.body)));
    for (const [name, value] of Object.entries(outcome.headers ?? {})) reply.header(name, value);
    const status = outcome.status ?? (outcome.requestError && type === GRAPHQL_RESPONSE ? 400 : 200);
    return reply.code(status).type(`${type}; charset=utf-8`).send(JSON.stringify(outcome.body));
  };

  /** A transport-level failure, still in the GraphQL response shape. */
  const fail = (request: FastifyRequest, reply: FastifyReply, error: CarteError) => {
    for (const [name, value] of Object.entries(error.headers ?? {})) reply.header(name, value);
    return reply.code(error.status).type(`${responseType(request)}; charset=utf-8`).send(JSON.stringify({ errors: [carteToGraphql(error, baseUrlOf(request, options.publicUrl))] }));
  };

  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || error.statusCode === 413) return fail(request, reply, errors.payloadTooLarge(options.bodyLimit));
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || error.statusCode === 415) {
      return fail(request, reply, errors.unsupportedMediaType((request.headers['content-type'] ?? 'none').split(';')[0]?.trim() || 'none', [JSON_TYPE]));
    }
    request.log.error({ err: error, requestId: request.id }, 'GraphQL request failed');
    return fail(request, reply, errors.serverError(error));
  });

  app.post(url, async (request, reply) => {
    const body = request.body;
    if (body instanceof Unparsable || body === undefined) {
      return fail(request, reply, errors.invalidBody(body instanceof Unparsable ? body.reason : 'The body is empty; send {"query": "{ … }"}.'));
    }
    const ctx = ctxOf(request);
    const outcome = Array.isArray(body) ? await runGraphqlBatch(runtime, body, ctx, { method: 'POST', log: log(request) }) : await runGraphql(runtime, body, ctx, { method: 'POST', log: log(request) });
    return send(request, reply, outcome);
  });

  const getHandler = async (request: FastifyRequest, reply: FastifyReply) => {
    const wanted = negotiate(request.headers.accept, [JSON_TYPE, GRAPHQL_RESPONSE, 'text/html']);
    const params = new URLSearchParams(request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '');
    if (wanted === 'text/html') {
      reply.header('Vary', 'Accept');
      return reply.code(200).type('text/html; charset=utf-8').send(graphiqlPage(service.api.name, `${baseUrlOf(request, options.publicUrl)}${url}`));
    }
    let variables: unknown;
    const rawVariables = params.get('variables');
    if (rawVariables) {
      try {
        variables = JSON.parse(rawVariables);
      } catch {
        return fail(request, reply, errors.invalidRequest('variables is not valid JSON.'));
      }
    }
    const query = params.get('query');
    if (query === null) return fail(request, reply, errors.invalidRequest(`Send a query: GET ${url}?query={…}, or POST it; a browser gets GraphiQL.`));
    const outcome = await runGraphql(runtime, { query, variables, operationName: params.get('operationName') }, ctxOf(request), { method: 'GET', log: log(request) });
    reply.header('Vary', 'Accept');
    return send(request, reply, outcome);
  };
  app.route({
    method: 'GET',
    url,
    handler: getHandler,
    // An upgrade with the graphql-transport-ws subprotocol: subscriptions (and queries, mutations) over graphql-ws.
    ...(live ? { wsHandler: graphqlWsHandler(runtime, { hub: live.hub, auth: live.auth, publicUrl: options.publicUrl }) } : {}),
  });

  app.get(`${url}/schema.graphql`, async (request, reply) => {
    reply.header('ETag', sdlTag).header('Cache-Control', 'no-cache');
    if (noneMatch(request, sdlTag)) return reply.code(304).send();
    return reply.code(200).type('text/plain; charset=utf-8').send(sdl);
  });

  app.get(`${url}/assets/:file`, async (request, reply) => {
    const found = graphiqlAsset((request.params as { file: string }).file);
    if (!found) return sendError(request, reply, errors.noRoute('GET', pathOf(request)), baseUrlOf(request, options.publicUrl));
    reply.header('ETag', found.etag).header('Cache-Control', 'public, max-age=3600');
    if (noneMatch(request, found.etag)) return reply.code(304).send();
    return reply.code(200).type(found.type).send(found.body);
  });

  for (const path of [url, `${url}/schema.graphql`]) {
    const allow = path === url ? 'GET, HEAD, POST, OPTIONS' : 'GET, HEAD, OPTIONS';
    app.route({ method: 'OPTIONS', url: path, handler: async (_request, reply) => reply.header('Allow', allow).code(204).send() });
    app.route({
      method: path === url ? ['PUT', 'PATCH', 'DELETE'] : ['POST', 'PUT', 'PATCH', 'DELETE'],
      url: path,
      handler: async (request, reply) => sendError(request, reply, errors.methodNotAllowed(request.method, allow.split(', ')), baseUrlOf(request, options.publicUrl)),
    });
  }
}
