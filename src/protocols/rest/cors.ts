/**
 * CORS (SPEC §4.11, seed 004; the Fetch standard's CORS protocol) for every route of the
 * server: allowed origins from the configuration (`*` by default, no credentials), preflights
 * answered before routing and authentication with the methods, the request headers a browser
 * may send and `Access-Control-Max-Age`, and the headers a script may read exposed
 * (`Content-Range`, `Accept-Range`, `Link`, `Location`, `ETag`, the rate-limit headers, …).
 *
 * Every header value is a function of the configuration alone, so it is built once here and
 * each request only copies it: this hook runs on every request of every front end, and
 * @fastify/cors, used before, rebuilt its options on every request — 5–6 % of the CPU of a
 * `GET /v1/restaurants/1` (bench/results/latest.md).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { CorsConfig } from '../../config/config.js';

export const CORS_METHODS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** A preflight is an OPTIONS request with `Origin` and `Access-Control-Request-Method` (Fetch §3.2.2). */
export function isPreflight(request: FastifyRequest): boolean {
  return request.method === 'OPTIONS' && request.headers.origin !== undefined && request.headers['access-control-request-method'] !== undefined;
}

/** Registers the CORS hook (first, before authentication) and the route that lets a preflight to any path be answered. */
export function installCors(app: FastifyInstance, config: CorsConfig): void {
  const anyOrigin = config.origins === '*';
  const allowed = new Set(anyOrigin ? [] : config.origins);
  const expose = config.exposedHeaders.join(', ');
  const methods = CORS_METHODS.join(', ');
  const allowHeaders = config.allowedHeaders.join(', ');
  const maxAge = String(config.maxAge);

  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    if (anyOrigin) reply.header('Access-Control-Allow-Origin', '*');
    else {
      // The answer depends on Origin: caches must key on it (Fetch §3.2.5).
      reply.header('Vary', 'Origin');
      const origin = request.headers.origin;
      if (origin !== undefined && allowed.has(origin)) reply.header('Access-Control-Allow-Origin', origin);
    }
    if (config.credentials) reply.header('Access-Control-Allow-Credentials', 'true');
    reply.header('Access-Control-Expose-Headers', expose);
    if (!isPreflight(request)) return done();
    // Answered here, before authentication: a browser's preflight carries no credentials.
    reply
      .header('Access-Control-Allow-Methods', methods)
      .header('Access-Control-Allow-Headers', allowHeaders)
      .header('Access-Control-Max-Age', maxAge)
      .header('Content-Length', '0')
      .code(204)
      .send();
  });

  // A preflight to a path with no OPTIONS route of its own still needs a route for the hook
  // to run on; a plain OPTIONS there is a 404 like any unknown path.
  app.route({ method: 'OPTIONS', url: '*', handler: (_request: FastifyRequest, reply: FastifyReply) => reply.callNotFound() });
}
