/**
 * What every HTTP request goes through before its route, whatever the front end (REST,
 * JSON-RPC, GraphQL, WebSocket upgrades, SSE): HSTS on TLS, the one authentication
 * (`request.principal`), and the rate limits with their draft-ietf-httpapi-ratelimit-headers
 * fields (SPEC §8). Refusals go out in the error structure of SPEC §4.13.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { Auth } from '../auth/auth.js';
import type { Credentials } from '../auth/authenticate.js';
import { hintsOf } from './rest/rewrite.js';
import type { RateState } from '../auth/rate-limit.js';
import type { CarteConfig } from '../config/config.js';
import { CarteError, errors, toCarteError } from '../errors.js';
import { baseUrlOf, pathOf, routeOf, sendError } from './rest/reply.js';

/** The base URL of each face of the server (SPEC §8 "Domains"), for links that cross faces. */
export interface FaceUrls {
  /** `/v1` */
  readonly api: string;
  /** `/oauth`, `/.well-known` */
  readonly oauth: string;
  /** `/docs` */
  readonly developer: string;
}
export type Face = keyof FaceUrls;

declare module 'fastify' {
  interface FastifyRequest {
    /** Base URLs of the API, OAuth and developer faces for this request (`config.hosts`, else the host called). */
    faces: FaceUrls;
  }
}

export interface GuardOptions {
  readonly auth: Auth;
  readonly config: CarteConfig;
  /** The resource a route serves (`/v1/clients/:parentId/orders` → `orders`), for per-resource quotas. */
  readonly resourceOfRoute: (routeUrl: string | undefined) => string | null;
}

/** Probes and metrics answer whoever asks, without credentials or quotas. */
const OPEN = new Set(['/health', '/ready', '/metrics']);
/** Endpoints where the client authenticates itself (HTTP Basic or form), not with a bearer token. */
const CLIENT_AUTH = new Set(['/oauth/token', '/oauth/introspect', '/oauth/revoke']);

/** Which face a path belongs to; null for the probes every host answers. */
export function faceOf(path: string): Face | null {
  if (OPEN.has(path)) return null;
  if (path === '/oauth' || path.startsWith('/oauth/') || path.startsWith('/.well-known/')) return 'oauth';
  if (path === '/docs' || path.startsWith('/docs/')) return 'developer';
  return 'api';
}

/** Each face's base URL: its configured host (with the request's scheme, or the public URL's), else the request's own base. */
export function facesOf(request: FastifyRequest, config: Pick<CarteConfig, 'hosts' | 'publicUrl'>): FaceUrls {
  const own = config.publicUrl ?? `${request.protocol}://${request.host}`;
  const scheme = config.publicUrl ? new URL(config.publicUrl).protocol.slice(0, -1) : request.protocol;
  const url = (face: Face) => (config.hosts?.[face] ? `${scheme}://${config.hosts[face]}` : own);
  return { api: url('api'), oauth: url('oauth'), developer: url('developer') };
}

/** A configured host with a port must match the Host header exactly; without one, the host name. */
function onHost(request: FastifyRequest, configured: string): boolean {
  const want = configured.toLowerCase();
  return want.includes(':') ? request.host.toLowerCase() === want : request.hostname.toLowerCase() === want;
}

/** A URL fit for logs: the value of `access_token` (RFC 6750 §2.3 warns that URLs get logged) is masked. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]access_token=)[^&#]*/gi, '$1[redacted]');
}

/** `"name";q=100;w=60` (draft-ietf-httpapi-ratelimit-headers §5, a Structured Field list). */
export function rateLimitPolicyField(state: RateState): string {
  return `"${state.policy.name}";q=${state.policy.quota};w=${state.policy.window}`;
}

/** `"name";r=42;t=17` (draft-ietf-httpapi-ratelimit-headers §4). */
export function rateLimitField(state: RateState): string {
  return `"${state.policy.name}";r=${state.remaining};t=${state.reset}`;
}

function rateHeaders(state: RateState): Record<string, string> {
  return { 'RateLimit-Policy': rateLimitPolicyField(state), RateLimit: rateLimitField(state) };
}

function tooMany(state: RateState, what: string): CarteError {
  return errors.tooManyRequests(`Too many ${what}: ${state.policy.quota} per ${state.policy.window} s; try again in ${state.reset} s`, {
    'Retry-After': String(state.reset),
    ...rateHeaders(state),
  });
}

/** `?access_token=` (RFC 6750 §2.3), where a query string can carry it. */
function queryAccessToken(request: FastifyRequest): string | string[] | undefined {
  const query = request.query as Record<string, string | string[] | undefined> | undefined;
  return query && typeof query === 'object' ? query.access_token : undefined;
}

/** The credentials a request carries, and whether its kind may put the token in the query (RFC 6750 §2.3). */
export function credentialsOf(request: FastifyRequest): Credentials {
  const accessToken = queryAccessToken(request);
  const upgrade = String(request.headers.upgrade ?? '').toLowerCase() === 'websocket';
  const eventStream = String(request.headers.accept ?? '').includes('text/event-stream');
  // A `.jsonp` request is rewritten before routing, its access_token copied to Authorization
  // (src/protocols/rest/jsonp.ts): that is one credential, not two.
  const jsonp = pathOf(request).endsWith('.jsonp') || hintsOf(request)?.jsonp !== undefined;
  const copied = jsonp && accessToken !== undefined && request.headers.authorization === `Bearer ${String(accessToken)}`;
  return {
    authorization: request.headers.authorization,
    ...(accessToken !== undefined && !copied ? { accessToken } : {}),
    queryAllowed: upgrade || eventStream || jsonp,
  };
}

export function installHttpGuard(app: FastifyInstance, options: GuardOptions): void {
  const { auth, config } = options;
  const limits = auth.limits;
  const refuse = (request: FastifyRequest, reply: FastifyReply, error: CarteError) => sendError(request, reply, error, baseUrlOf(request, config.publicUrl));

  // Read only by error bodies and discovery documents: built when asked, not on every request.
  app.decorateRequest('faces', {
    getter(this: FastifyRequest): FaceUrls {
      return facesOf(this, config);
    },
  });

  /** Rate limits, once the principal is known; then the route. */
  const limit = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    if (!limits.enabled) return done();
    const state = limits.request(request.principal, request.ip, options.resourceOfRoute(routeOf(request).url));
    if (state) {
      for (const [name, value] of Object.entries(rateHeaders(state))) reply.header(name, value);
      if (!state.allowed) return void refuse(request, reply, tooMany(state, 'requests'));
    }
    done();
  };

  // Callback-style: a request without credentials (most public reads) costs no promise here.
  // A hook that answers does not call done.
  // request.principal starts as ANONYMOUS (src/app.ts, the first hook of every request).
  app.addHook('onRequest', (request, reply, done) => {
    // RFC 6797: only over a secure connection (Carte's own TLS, or a trusted proxy's).
    if (config.hsts && request.protocol === 'https') reply.header('Strict-Transport-Security', config.hsts);
    const path = pathOf(request);
    // SPEC §8 "Domains": with config.hosts, each face answers only on its own host.
    const face = config.hosts ? faceOf(path) : null;
    const host = face ? config.hosts?.[face] : undefined;
    if (face && host && !onHost(request, host)) {
      const name = { api: 'The API', oauth: 'The OAuth2 server', developer: 'The developer portal' }[face];
      return void refuse(request, reply, new CarteError('not_found', `There is nothing at ${request.method} ${path} on this host; ${name} is at ${request.faces[face]}`));
    }
    if (OPEN.has(path)) return done();
    const clientAuth = CLIENT_AUTH.has(path);
    // Without credentials the caller is anonymous: nothing to look up (most public reads).
    if (!clientAuth && request.headers.authorization === undefined && queryAccessToken(request) === undefined) {
      return limit(request, reply, done);
    }
    const credentials = credentialsOf(request);
    const ip = request.ip;
    // Too many failed authentications from this address: stop checking secrets for it.
    const blocked = limits.failuresExhausted(ip);
    if (blocked) return void refuse(request, reply, tooMany(blocked, 'failed authentications from this address'));
    if (clientAuth || path.startsWith('/oauth/') || path.startsWith('/.well-known/')) return limit(request, reply, done);
    auth.authenticator.authenticate(credentials).then(
      (principal) => {
        request.principal = principal;
        limit(request, reply, done);
      },
      (e: unknown) => {
        const error = toCarteError(e);
        if (error.code === 'invalid_token') limits.recordFailure(ip);
        if (error.status >= 500) request.log.error({ err: e, requestId: request.id }, 'authentication failed');
        refuse(request, reply, error);
      },
    );
  });
}
