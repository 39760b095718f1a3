/**
 * The REST front end as a Fastify plugin: body parsers for the media types SPEC §4.2
 * accepts, the error mapping (every failure becomes a documented error, never an HTML
 * page or a stack trace), and the generated routes.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CarteError, errors, toCarteError } from '../../errors.js';
import type { ResourceService } from '../../service/resource-service.js';
import { baseUrlOf, pathOf, sendError } from './reply.js';
import { registerRestRoutes, type RestOptions, type RouteInfo } from './routes.js';
import { formToBody } from './to-input.js';

export const REQUEST_TYPES = ['application/json', 'application/merge-patch+json', 'application/x-www-form-urlencoded'];

export interface RestPluginOptions extends RestOptions {
  readonly service: ResourceService;
  readonly bodyLimit: number;
  /** Filled with the route table once routes are registered (OpenAPI reads it). */
  readonly routes: RouteInfo[];
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

  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const carte = toHttpError(error, bodyLimit, request.headers['content-type']);
    if (carte.status >= 500) {
      request.log.error({ err: carte.cause ?? error, requestId: request.id, url: pathOf(request) }, 'request failed');
    }
    return sendError(request, reply, carte, baseUrlOf(request, options.publicUrl));
  });

  app.setNotFoundHandler((request, reply) => sendError(request, reply, errors.noRoute(request.method, pathOf(request)), baseUrlOf(request, options.publicUrl)));

  options.routes.push(...registerRestRoutes(app, service, options));
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
