/**
 * The OAuth2 authorization server's HTTP face (SPEC §8): `POST /oauth/token`,
 * `/oauth/introspect`, `/oauth/revoke`, `GET /oauth/jwks.json`, `GET /oauth/tokeninfo` and the
 * RFC 8414 metadata at `/.well-known/oauth-authorization-server`. Each handler parses the
 * form and the client's credentials, calls the OAuthServer once and writes its answer;
 * errors use RFC 6749 §5.2's structure, which is SPEC §4.13's.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Auth } from '../../auth/auth.js';
import { CarteError, errors, toCarteError } from '../../errors.js';
import { baseUrlOf, sendError } from '../rest/reply.js';

export interface OAuthPluginOptions {
  readonly auth: Auth;
  readonly publicUrl?: string;
  /** The API's base URL for a request (audience of the tokens minted through it). */
  readonly apiBaseOf?: (request: FastifyRequest) => string;
  /** The developer portal's base URL (service_documentation). */
  readonly docsBaseOf?: (request: FastifyRequest) => string;
}

const FORM = 'application/x-www-form-urlencoded';
const ENDPOINTS = ['/oauth/token', '/oauth/introspect', '/oauth/revoke'];

/** RFC 6749 §3.2, §5.1: parameters at most once; token responses are never cached. */
function formOf(request: FastifyRequest): Record<string, string> {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== FORM || typeof request.body !== 'object' || request.body === null) {
    throw errors.invalidRequest(`The body must be ${FORM} (RFC 6749 §4.4.2)`);
  }
  return request.body as Record<string, string>;
}

/** Decodes one `application/x-www-form-urlencoded` component of HTTP Basic credentials (RFC 6749 §2.3.1). */
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

/**
 * The client's credentials: HTTP Basic (`client_secret_basic`) or the form (`client_secret_post`),
 * never both (RFC 6749 §2.3). Missing or malformed credentials are `invalid_client`.
 */
function clientCredentialsOf(request: FastifyRequest, form: Record<string, string>): { id: string; secret: string } {
  const header = request.headers.authorization;
  const inForm = form.client_secret !== undefined;
  if (header !== undefined) {
    const m = /^\s*Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (!m) throw errors.invalidClient('Client authentication failed: use HTTP Basic with the client id and secret, or client_id and client_secret in the form');
    if (inForm) throw errors.invalidRequest('Use one client authentication method: HTTP Basic or client_secret in the form, not both');
    const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    let id: string;
    let secret: string;
    try {
      id = formDecode(colon === -1 ? decoded : decoded.slice(0, colon));
      secret = colon === -1 ? '' : formDecode(decoded.slice(colon + 1));
    } catch {
      throw errors.invalidClient();
    }
    if (form.client_id !== undefined && form.client_id !== id) throw errors.invalidRequest('client_id in the form differs from the one in the Authorization header');
    return { id, secret };
  }
  if (form.client_id === undefined || form.client_secret === undefined) {
    throw errors.invalidClient('Client authentication is required: HTTP Basic with the client id and secret, or client_id and client_secret in the form');
  }
  return { id: form.client_id, secret: form.client_secret };
}

export async function oauthPlugin(app: FastifyInstance, options: OAuthPluginOptions): Promise<void> {
  const { auth } = options;
  const base = (request: FastifyRequest) => request.faces?.oauth ?? baseUrlOf(request, options.publicUrl);
  const apiBase = (request: FastifyRequest) => options.apiBaseOf?.(request) ?? request.faces?.api ?? base(request);
  const docsBase = (request: FastifyRequest) => options.docsBaseOf?.(request) ?? request.faces?.developer ?? base(request);

  app.addContentTypeParser(FORM, { parseAs: 'string', bodyLimit: 64 * 1024 }, (_request, body, done) => {
    const params: Record<string, string> = {};
    for (const [name, value] of new URLSearchParams(body as string)) {
      if (name in params) {
        done(errors.invalidRequest(`The parameter '${name}' appears more than once (RFC 6749 §3.2)`), undefined);
        return;
      }
      params[name] = value;
    }
    done(null, params);
  });

  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    let carte: CarteError;
    if (error instanceof CarteError) carte = error;
    else {
      const e = error as FastifyError;
      if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') carte = errors.payloadTooLarge(64 * 1024);
      else if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) carte = errors.invalidRequest(`The body must be ${FORM} (RFC 6749 §4.4.2)`);
      else carte = toCarteError(error);
    }
    if (carte.status >= 500) request.log.error({ err: carte.cause ?? error, requestId: request.id }, 'request failed');
    reply.header('Cache-Control', 'no-store');
    return sendError(request, reply, carte, base(request));
  });

  /** Authenticates the client of a token, introspection or revocation request; failures count against the address. */
  const client = async (request: FastifyRequest, form: Record<string, string>) => {
    try {
      const credentials = clientCredentialsOf(request, form);
      return await auth.clients.authenticate(credentials.id, credentials.secret);
    } catch (e) {
      if ((e as CarteError).code === 'invalid_client') auth.limits.recordFailure(request.ip);
      throw e;
    }
  };

  const noStore = (reply: FastifyReply) => reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');

  app.post('/oauth/token', async (request, reply) => {
    const form = formOf(request);
    const c = await client(request, form);
    const answer = await auth.oauth.token(c, form, auth.context(base(request), apiBase(request)));
    return noStore(reply).type('application/json; charset=utf-8').send(JSON.stringify(answer));
  });

  app.post('/oauth/introspect', async (request, reply) => {
    const form = formOf(request);
    const c = await client(request, form);
    const answer = await auth.oauth.introspect(c, form, auth.expect);
    return noStore(reply).type('application/json; charset=utf-8').send(JSON.stringify(answer));
  });

  app.post('/oauth/revoke', async (request, reply) => {
    const form = formOf(request);
    const c = await client(request, form);
    await auth.oauth.revoke(c, form);
    return noStore(reply).code(200).send();
  });

  app.get('/oauth/tokeninfo', async (request, reply) => {
    const value = (request.query as Record<string, string | string[] | undefined>).access_token;
    if (Array.isArray(value)) throw errors.invalidRequest('access_token appears more than once');
    let info;
    try {
      info = await auth.oauth.tokenInfo(value, `${apiBase(request)}`);
    } catch (e) {
      // Probing tokens here counts like presenting bad ones.
      if ((e as CarteError).code === 'invalid_token') auth.limits.recordFailure(request.ip);
      throw e;
    }
    return noStore(reply).type('application/json; charset=utf-8').send(JSON.stringify(info));
  });

  app.get('/oauth/jwks.json', async (_request, reply) => {
    const jwks = await auth.keys.jwks();
    // Short caching: a verifier sees a rotated key within a minute (the old one stays published meanwhile).
    return reply.header('Cache-Control', 'public, max-age=60').type('application/jwk-set+json; charset=utf-8').send(JSON.stringify(jwks));
  });

  app.get('/.well-known/oauth-authorization-server', async (request, reply) => {
    const b = base(request);
    const issuer = auth.context(b).issuer;
    const methods = ['client_secret_basic', 'client_secret_post'];
    // RFC 8414 §2
    const metadata = {
      issuer,
      token_endpoint: `${b}/oauth/token`,
      jwks_uri: `${b}/oauth/jwks.json`,
      scopes_supported: auth.scopesSupported(),
      response_types_supported: [],
      grant_types_supported: ['client_credentials', 'refresh_token'],
      token_endpoint_auth_methods_supported: methods,
      service_documentation: `${docsBase(request)}/docs`,
      revocation_endpoint: `${b}/oauth/revoke`,
      revocation_endpoint_auth_methods_supported: methods,
      introspection_endpoint: `${b}/oauth/introspect`,
      introspection_endpoint_auth_methods_supported: methods,
      tokeninfo_endpoint: `${b}/oauth/tokeninfo`,
    };
    return reply.header('Cache-Control', 'public, max-age=300').type('application/json; charset=utf-8').send(JSON.stringify(metadata));
  });

  // Any other method on an OAuth endpoint: 405 with Allow.
  for (const url of [...ENDPOINTS, '/oauth/tokeninfo', '/oauth/jwks.json', '/.well-known/oauth-authorization-server']) {
    const allow = ENDPOINTS.includes(url) ? 'POST, OPTIONS' : 'GET, HEAD, OPTIONS';
    app.route({
      method: ENDPOINTS.includes(url) ? ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE'] : ['POST', 'PUT', 'PATCH', 'DELETE'],
      url,
      handler: async (request) => {
        throw errors.methodNotAllowed(request.method, allow.split(', '));
      },
    });
    app.route({ method: 'OPTIONS', url, handler: async (_request, reply) => reply.header('Allow', allow).code(204).send() });
  }
}
