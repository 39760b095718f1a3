/**
 * The REST front end as a Fastify plugin: body parsers for the media types SPEC §4.2
 * accepts (JSON, merge patch, forms, XML), content negotiation of every answer, the
 * version and JSONP handling settled before routing (SPEC §4.10, §4.11), the error
 * mapping (every failure becomes a documented error, never an HTML page or a stack
 * trace), and the generated routes, blobs included.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { JsonpConfig } from '../../config/config.js';
import { CarteError, errors, toCarteError } from '../../errors.js';
import type { ResourceService } from '../../service/resource-service.js';
import { registerBlobRoutes } from './blobs.js';
import { parseXmlBody } from './formats/xml.js';
import { jsonpBody } from './jsonp.js';
import { appendLink, baseUrlOf, negotiateFormat, pathOf, routeMeta, sendError } from './reply.js';
import { hintsOf } from './rewrite.js';
import { registerRestRoutes, type RestOptions, type RouteInfo } from './routes.js';
import { formToBody, rawQuery } from './to-input.js';
import { deprecationHeaders } from './versions.js';

export const REQUEST_TYPES = ['application/json', 'application/merge-patch+json', 'application/x-www-form-urlencoded', 'application/xml'];

/** Query parameters of a JSONP write that are not fields of its body. */
const JSONP_CONTROL = new Set(['callback', 'method', 'access_token', 'fields', 'version']);

export interface RestPluginOptions extends RestOptions {
  readonly service: ResourceService;
  readonly bodyLimit: number;
  /** Filled with the route table once routes are registered (OpenAPI reads it). */
  readonly routes: RouteInfo[];
  readonly jsonp?: JsonpConfig;
}

/** Maps anything thrown in a request to a CarteError (Fastify's own errors included). */
export function toHttpError(error: unknown, bodyLimit: number, contentType?: string): CarteError {
  if (error instanceof CarteError) return error;
  const e = error as FastifyError & { validation?: unknown };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.payloadTooLarge(bodyLimit);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errors.unsupportedMediaType((contentType ?? 'none').split(';')[0]?.trim() || 'none', REQUEST_TYPES);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return errors.invalidBody('The body is empty; send a JSON document.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return errors.invalidBody('Content-Length does not match the body.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return errors.invalidBody(`The body is not valid JSON: ${e.message}`);
  }
  if (e instanceof SyntaxError || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (e.statusCode === 400 && /JSON/i.test(e.message ?? ''))) {
    return errors.invalidBody(`The body is not valid JSON: ${e.message.replace(/^Body is not valid JSON but content-type is set to 'application\/json'/, '').trim() || 'syntax error'}`);
  }
  if (e.statusCode === 413) return errors.payloadTooLarge(bodyLimit);
  if (e.statusCode === 415) return errors.unsupportedMediaType((contentType ?? 'none').split(';')[0]?.trim() || 'none', REQUEST_TYPES);
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return errors.invalidRequest(e.message);
  return toCarteError(error);
}

export async function restPlugin(app: FastifyInstance, options: RestPluginOptions): Promise<void> {
  const { service, bodyLimit } = options;

  // application/json is built in (with prototype-poisoning protection); merge patch is JSON too.
  // Fastify also reads text/plain by default: SPEC §4.2 answers it with 415.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string', bodyLimit }, app.getDefaultJsonParser('error', 'error'));
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit }, (request, body, done) => {
    const form = new URLSearchParams(body as string);
    const resource = resourceOfUrl(service, request.url);
    done(null, formToBody(resource, form, resource ? undefined : actionInputOfUrl(service, request.url)));
  });
  // SPEC §4.2: XML bodies in the shape of XML answers, read by the route's schema; no DTD, no entities.
  const xmlParser = (request: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
    try {
      done(null, parseXmlBody(String(body), request.routeOptions.config?.carteBody));
    } catch (e) {
      done(e as Error);
    }
  };
  app.addContentTypeParser(['application/xml', 'text/xml'], { parseAs: 'string', bodyLimit }, xmlParser);
  app.addContentTypeParser(/^application\/vnd\.carte\.v\d+\+xml$/, { parseAs: 'string', bodyLimit }, xmlParser);
  app.addContentTypeParser(/^application\/vnd\.carte\.v\d+\+json$/, { parseAs: 'string', bodyLimit }, app.getDefaultJsonParser('error', 'error'));

  // Settled before routing (rewrite.ts): a bad version choice or JSONP callback is answered now.
  // These hooks run on every request: callback-style, without a promise each.
  app.addHook('onRequest', (request, _reply, done) => {
    const hints = hintsOf(request);
    done(hints?.error ?? hints?.jsonp?.error);
  });

  app.addHook('preHandler', (request, _reply, done) => {
    try {
      const meta = routeMeta(request);
      // SPEC §4.2: 406 before anything is done, not after a write.
      if (meta) negotiateFormat(request, meta.produces);
      // A JSONP write carries its fields as query parameters (SPEC §4.11).
      const jsonp = hintsOf(request)?.jsonp;
      if (jsonp && jsonp.method !== 'GET' && jsonp.method !== 'DELETE' && request.body === undefined) {
        const form = new URLSearchParams();
        for (const [k, v] of new URLSearchParams(rawQuery(request.url))) if (!JSONP_CONTROL.has(k)) form.append(k, v);
        const resource = resourceOfUrl(service, request.url);
        request.body = formToBody(resource, form, resource ? undefined : actionInputOfUrl(service, request.url));
      }
    } catch (e) {
      return done(e as Error);
    }
    done();
  });

  const previous = service.api.previous ? deprecationHeaders(service.api.previous) : null;
  app.addHook('onSend', (request, reply, payload, done) => {
    const hints = hintsOf(request);
    const meta = routeMeta(request);
    if (meta && meta.produces !== 'none') vary(reply, hints?.unversioned ? VARY_UNVERSIONED : VARY);
    // RFC 9745 / RFC 8594: the previous version says it is going away, on every answer.
    if (hints?.previous && previous) {
      reply.header('Deprecation', previous.deprecation);
      reply.header('Sunset', previous.sunset);
      if (previous.link) appendLink(reply, previous.link);
    }
    if (!hints?.jsonp) return done(null, payload);
    // JSONP: the script tag sees only HTTP 200; the status and headers travel in `meta`.
    const status = reply.statusCode;
    const text = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : undefined;
    const wrapped = jsonpBody(hints.jsonp.callback, status, reply.getHeaders(), text);
    reply.code(200);
    reply.header('Content-Type', 'application/javascript; charset=utf-8');
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.removeHeader('ETag');
    reply.removeHeader('Last-Modified');
    reply.removeHeader('Content-Length');
    done(null, wrapped);
  });

  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const carte = toHttpError(error, bodyLimit, request.headers['content-type']);
    if (carte.status >= 500) {
      request.log.error({ err: carte.cause ?? error, requestId: request.id, url: pathOf(request) }, 'request failed');
    }
    return sendError(request, reply, carte, baseUrlOf(request, options.publicUrl));
  });

  app.setNotFoundHandler((request, reply) => {
    const hints = hintsOf(request);
    const error = hints?.error ?? hints?.jsonp?.error ?? errors.noRoute(request.method, pathOf(request));
    return sendError(request, reply, error, baseUrlOf(request, options.publicUrl));
  });

  options.routes.push(...registerRestRoutes(app, service, options));
  await registerBlobRoutes(app, service, options, options.routes);
}

const VARY = ['Accept'] as const;
const VARY_UNVERSIONED = ['Accept', 'Api-Version'] as const;

/** Adds names to `Vary` without repeating one already there (CORS adds `Origin`). */
function vary(reply: FastifyReply, names: readonly string[]): void {
  const existing = reply.getHeader('Vary');
  if (existing === undefined) {
    reply.header('Vary', names.length === 1 ? (names[0] as string) : names.join(', '));
    return;
  }
  const text = String(existing);
  const have = new Set(text.split(',').map((v) => v.trim().toLowerCase()).filter(Boolean));
  const add = names.filter((n) => !have.has(n.toLowerCase()));
  if (add.length > 0) reply.header('Vary', text ? `${text}, ${add.join(', ')}` : add.join(', '));
}

/** The resource a form body is posted to (its fields' types coerce the values). */
function resourceOfUrl(service: ResourceService, url: string) {
  const segments = url.split('?')[0]?.split('/').filter(Boolean) ?? [];
  if (`/${segments[0]}` !== service.prefix) return null;
  // /v1/clients/7/orders → the last collection segment names the resource.
  for (let i = segments.length - 1; i >= 1; i--) {
    const r = service.api.resources.get(segments[i] as string);
    if (r) return r;
    const parent = service.api.resources.get(segments[i - 2] as string);
    const rel = parent && [...parent.relations.values()].find((x) => x.kind === 'many' && x.name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`) === segments[i]);
    if (rel) return service.api.resources.get(rel.target) ?? null;
  }
  return null;
}

function actionInputOfUrl(service: ResourceService, url: string) {
  const path = url.split('?')[0]?.slice(service.prefix.length + 1) ?? '';
  return service.actionModel(path.replace(/\//g, '.'))?.spec.input;
}
