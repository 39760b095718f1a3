/**
 * Authentication, once for every front end (SPEC §3, §8): REST requests, JSON-RPC and
 * GraphQL requests and WebSocket upgrades all hand their credentials to `authenticate`,
 * which returns the principal or throws `no_credentials` / `invalid_token` / `invalid_request`.
 * Credentials are a bearer token (RFC 6750 §2.1) — a JWT access token or an API key — or,
 * where a browser cannot set a header (WebSocket, EventSource, JSONP script tags), the
 * `access_token` query parameter (RFC 6750 §2.3).
 */
import { errors } from '../errors.js';
import { AccessTokens, looksLikeJwt, type VerifyExpectations } from './access-tokens.js';
import { ApiKeys } from './clients.js';
import { ANONYMOUS, type Principal } from './principal.js';
import { noCredentials } from './rules.js';

/** The client id of the `--dev` token. */
export const DEV_CLIENT = 'carte-dev';

export interface Credentials {
  /** The `Authorization` header, as received. */
  readonly authorization?: string | undefined;
  /** Values of the `access_token` query parameter. */
  readonly accessToken?: string | readonly string[] | undefined;
  /** Whether this kind of request may carry its token in the query (WebSocket, SSE, JSONP). */
  readonly queryAllowed: boolean;
}

export class Authenticator {
  constructor(
    private readonly tokens: AccessTokens,
    private readonly keys: ApiKeys,
    private readonly expect: VerifyExpectations = {},
  ) {}

  /** The caller's principal: anonymous without credentials; an error for bad ones, even on public routes (RFC 6750 §3.1). */
  async authenticate(credentials: Credentials): Promise<Principal> {
    const query = credentials.accessToken === undefined ? [] : typeof credentials.accessToken === 'string' ? [credentials.accessToken] : [...credentials.accessToken];
    const header = credentials.authorization;
    if (query.length > 0) {
      if (!credentials.queryAllowed) {
        throw errors.invalidRequest('access_token in the query string is accepted only for WebSocket, server-sent events and JSONP requests; send the header Authorization: Bearer <token>');
      }
      if (query.length > 1) throw errors.invalidRequest('access_token appears more than once');
      if (header !== undefined) throw errors.invalidRequest('Send the token once: in the Authorization header or in access_token, not both (RFC 6750 §2)');
      return this.bearer(query[0] as string);
    }
    if (header === undefined) return ANONYMOUS;
    const m = /^\s*(\S+)(?:\s+(.*?))?\s*$/.exec(header);
    if (!m || (m[1] as string).toLowerCase() !== 'bearer') {
      throw noCredentials(`The Authorization scheme '${m?.[1] ?? ''}' is not accepted here; send Authorization: Bearer <token>`);
    }
    return this.bearer(m[2] ?? '');
  }

  /** The principal of one bearer value: an access token (JWT) or an API key. */
  async bearer(value: string): Promise<Principal> {
    if (value === '') throw errors.invalidToken('The bearer token is empty');
    if (value.length > 8192) throw errors.invalidToken('The bearer token is too long');
    if (looksLikeJwt(value)) {
      const claims = await this.tokens.verify(value, this.expect);
      return {
        subject: claims.sub,
        scopes: claims.scope.split(' ').filter(Boolean),
        kind: claims.client_id === DEV_CLIENT ? 'dev' : 'token',
        clientId: claims.client_id,
        credentialId: claims.jti,
        expiresAt: claims.exp,
        audience: claims.aud,
      };
    }
    if (ApiKeys.looksLikeKey(value)) return this.keys.verify(value);
    throw errors.invalidToken('The bearer token is neither an access token of this server nor an API key');
  }
}
