/**
 * CORS (SPEC §4.11, seed 004) through @fastify/cors, for every route of the server:
 * allowed origins from the configuration (`*` by default, no credentials), preflights
 * answered with the methods, the request headers a browser may send and
 * `Access-Control-Max-Age`, and the headers a script may read exposed (`Content-Range`,
 * `Accept-Range`, `Link`, `Location`, `ETag`, the rate-limit headers, …).
 */
import type { FastifyCorsOptions } from '@fastify/cors';
import type { FastifyRequest } from 'fastify';
import type { CorsConfig } from '../../config/config.js';

export const CORS_METHODS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** A preflight is an OPTIONS request with `Origin` and `Access-Control-Request-Method` (Fetch §3.2.2). */
export function isPreflight(request: FastifyRequest): boolean {
  return request.method === 'OPTIONS' && request.headers.origin !== undefined && request.headers['access-control-request-method'] !== undefined;
}

export function corsOptions(config: CorsConfig): FastifyCorsOptions {
  const preflight: FastifyCorsOptions = {
    origin: config.origins === '*' ? '*' : [...config.origins],
    credentials: config.credentials,
    methods: [...CORS_METHODS],
    allowedHeaders: [...config.allowedHeaders],
    exposedHeaders: [...config.exposedHeaders],
    maxAge: config.maxAge,
    preflight: true,
    strictPreflight: false,
  };
  // A plain OPTIONS (no preflight) goes on to the route, which answers `Allow` (SPEC §4.1).
  const simple: FastifyCorsOptions = { ...preflight, preflight: false };
  return {
    hideOptionsRoute: true,
    delegator: (request: FastifyRequest, callback: (error: Error | null, options?: FastifyCorsOptions) => void) => callback(null, isPreflight(request) ? preflight : simple),
  };
}
