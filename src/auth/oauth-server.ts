/**
 * The OAuth2 authorization server's logic, apart from HTTP (SPEC §8): the token endpoint
 * (client_credentials, refresh_token with rotation — RFC 6749 §4.4, §6; OAuth 2.0 Security
 * BCP §4.14), introspection (RFC 7662), revocation (RFC 7009) and Google-style tokeninfo
 * (seed 004). The HTTP plugin authenticates the client and hands over the form parameters.
 */
import { CarteError, errors } from '../errors.js';
import type { AuthStore, ClientRecord, TokenRecord } from '../store/auth-store.js';
import { looksLikeJwt, type AccessTokens, type TokenContext, type VerifyExpectations } from './access-tokens.js';
import type { Authenticator } from './authenticate.js';
import { parseScopes } from './clients.js';
import { formatCredential, hashRandomToken, parseCredential, randomId, randomSecret, verifySecret } from './secrets.js';

/** RFC 6749 §5.1 */
export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly scope: string;
  readonly refresh_token?: string;
}

/** RFC 7662 §2.2 */
export type IntrospectionResponse =
  | { readonly active: false }
  | {
      readonly active: true;
      readonly scope: string;
      readonly client_id: string;
      readonly sub: string;
      readonly token_type: 'Bearer' | 'refresh_token';
      readonly exp: number;
      readonly iat: number;
      readonly iss?: string;
      readonly aud?: string;
      readonly jti?: string;
    };

/** Google's tokeninfo (v1 names, plus the RFC 9068 ones). */
export interface TokenInfo {
  readonly issued_to: string;
  readonly audience: string;
  readonly user_id: string;
  readonly scope: string;
  readonly expires_in?: number;
  readonly access_type: 'online';
  readonly client_id?: string;
  readonly sub: string;
  readonly exp?: number;
}

export interface OAuthServerOptions {
  readonly accessTokenTtl: number;
  readonly refreshTokenTtl: number;
  readonly refreshTokens: boolean;
  readonly now?: () => number;
}

/** What an unknown refresh token is compared with, so that timing does not tell ids apart. */
const DECOY = hashRandomToken(randomSecret());

/** The scope a client needs to introspect other clients' tokens (resource servers). */
export const INTROSPECT_SCOPE = 'oauth:introspect';

export type Params = Readonly<Record<string, string>>;

export class OAuthServer {
  private readonly now: () => number;

  constructor(
    private readonly store: AuthStore,
    private readonly tokens: AccessTokens,
    private readonly authenticator: Authenticator,
    private readonly options: OAuthServerOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** `POST /oauth/token` for an authenticated client. */
  async token(client: ClientRecord, params: Params, context: TokenContext): Promise<TokenResponse> {
    const grant = params.grant_type;
    if (grant === undefined || grant === '') throw errors.invalidRequest('grant_type is required: client_credentials or refresh_token');
    if (grant === 'client_credentials') return this.clientCredentials(client, params, context);
    if (grant === 'refresh_token') return this.refresh(client, params, context);
    throw errors.unsupportedGrantType(grant);
  }

  private requestedScopes(params: Params, allowed: readonly string[], what: string): string[] {
    if (params.scope === undefined) return [...allowed];
    const asked = parseScopes(params.scope, (m) => errors.invalidScope(m));
    if (asked.length === 0) return [...allowed];
    if (allowed.includes('*')) return asked;
    const extra = asked.filter((s) => !allowed.includes(s));
    if (extra.length > 0) throw errors.invalidScope(`The scope ${extra.map((s) => `'${s}'`).join(', ')} is not granted to ${what}`);
    return asked;
  }

  /** RFC 6749 §4.4 */
  private async clientCredentials(client: ClientRecord, params: Params, context: TokenContext): Promise<TokenResponse> {
    const scopes = this.requestedScopes(params, client.scopes, 'this client');
    return this.grant(client.id, client.subject ?? client.id, scopes, randomId(16), context, null);
  }

  /** RFC 6749 §6, with rotation: each refresh token works once; a replay revokes the whole grant. */
  private async refresh(client: ClientRecord, params: Params, context: TokenContext): Promise<TokenResponse> {
    const value = params.refresh_token;
    if (!value) throw errors.invalidRequest('refresh_token is required');
    const record = await this.refreshRecord(value);
    if (!record) throw errors.invalidGrant('The refresh token is not valid');
    if (record.clientId !== client.id) throw errors.invalidGrant('The refresh token was issued to another client');
    if (record.revokedAt !== null) throw errors.invalidGrant('The refresh token was revoked');
    if (record.rotatedAt !== null) {
      await this.store.revokeFamily(record.family, this.instant());
      throw errors.invalidGrant('The refresh token was already used; every token of its grant is now revoked');
    }
    if (Date.parse(record.expiresAt) <= this.now()) throw errors.invalidGrant('The refresh token expired');
    const scopes = this.requestedScopes(params, record.scopes, 'this grant');
    return this.grant(client.id, record.subject, scopes, record.family, context, record);
  }

  /** Signs an access token (and a refresh token) and stores them; `rotating` is consumed atomically. */
  private async grant(clientId: string, subject: string, scopes: readonly string[], family: string, context: TokenContext, rotating: TokenRecord | null): Promise<TokenResponse> {
    const access = await this.tokens.sign({ clientId, subject, scopes, family, ttl: this.options.accessTokenTtl }, context);
    const records: TokenRecord[] = [access.record];
    let refreshToken: string | undefined;
    if (this.options.refreshTokens || rotating) {
      const id = randomId(16);
      refreshToken = formatCredential('refreshToken', id, randomSecret());
      const issued = Math.floor(this.now() / 1000);
      records.push({
        id,
        kind: 'refresh',
        clientId,
        subject,
        scopes: [...scopes],
        family,
        secretHash: hashRandomToken(refreshToken),
        issuedAt: new Date(issued * 1000).toISOString(),
        // A rotated token keeps the grant's end: refreshing never extends a grant beyond refreshTokenTtl.
        expiresAt: rotating ? rotating.expiresAt : new Date((issued + this.options.refreshTokenTtl) * 1000).toISOString(),
        revokedAt: null,
        rotatedAt: null,
      });
    }
    if (rotating) {
      const outcome = await this.store.rotateToken(rotating.id, this.instant(), records);
      if (outcome !== 'rotated') {
        // Lost a race with another use of the same token: a replay.
        await this.store.revokeFamily(rotating.family, this.instant());
        throw errors.invalidGrant('The refresh token was already used; every token of its grant is now revoked');
      }
    } else {
      await this.store.insertTokens(records);
    }
    await this.store.purgeTokens(new Date(this.now() - 24 * 3600 * 1000).toISOString());
    return {
      access_token: access.token,
      token_type: 'Bearer',
      expires_in: access.expiresIn,
      scope: scopes.join(' '),
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
    };
  }

  /**
   * RFC 7662: a client learns about its own tokens; a client with `oauth:introspect` (or `*`)
   * about every token. Anything else — unknown, expired, revoked, someone else's — is inactive.
   */
  async introspect(client: ClientRecord, params: Params, expect: VerifyExpectations): Promise<IntrospectionResponse> {
    const value = params.token;
    if (!value) throw errors.invalidRequest('token is required');
    const privileged = client.scopes.includes('*') || client.scopes.includes(INTROSPECT_SCOPE);
    const inactive = { active: false } as const;
    if (looksLikeJwt(value)) {
      try {
        const claims = await this.tokens.verify(value, expect);
        if (claims.client_id !== client.id && !privileged) return inactive;
        return { active: true, scope: claims.scope, client_id: claims.client_id, sub: claims.sub, token_type: 'Bearer', exp: claims.exp, iat: claims.iat, iss: claims.iss, aud: claims.aud, jti: claims.jti };
      } catch {
        return inactive;
      }
    }
    const record = await this.refreshRecord(value);
    if (!record || (record.clientId !== client.id && !privileged)) return inactive;
    if (record.revokedAt !== null || record.rotatedAt !== null || Date.parse(record.expiresAt) <= this.now()) return inactive;
    return {
      active: true,
      scope: record.scopes.join(' '),
      client_id: record.clientId,
      sub: record.subject,
      token_type: 'refresh_token',
      exp: Math.floor(Date.parse(record.expiresAt) / 1000),
      iat: Math.floor(Date.parse(record.issuedAt) / 1000),
    };
  }

  /** The row of a refresh token whose secret matches (compared in constant time, unknown ids included). */
  private async refreshRecord(value: string): Promise<TokenRecord | undefined> {
    const parsed = parseCredential('refreshToken', value);
    const record = parsed ? await this.store.getToken(parsed.id) : undefined;
    const known = record !== undefined && record.kind === 'refresh' && record.secretHash !== null;
    const ok = await verifySecret(value, known ? (record.secretHash as string) : DECOY);
    return ok && known ? record : undefined;
  }

  /**
   * RFC 7009: revokes a token of this client, at once. Revoking a refresh token revokes the
   * access tokens of its grant too (§2.1). An unknown or invalid token is not an error (§2.2),
   * and a token of another client is left alone with the same answer.
   */
  async revoke(client: ClientRecord, params: Params): Promise<void> {
    const value = params.token;
    if (!value) throw errors.invalidRequest('token is required');
    if (looksLikeJwt(value)) {
      let claims;
      try {
        claims = await this.tokens.verify(value);
      } catch {
        return;
      }
      if (claims.client_id === client.id) await this.store.revokeToken(claims.jti, this.instant());
      return;
    }
    const record = await this.refreshRecord(value);
    if (record && record.clientId === client.id) await this.store.revokeFamily(record.family, this.instant());
  }

  /** `GET /oauth/tokeninfo?access_token=`: what a token is, for the one who holds it (400 when it is not valid). */
  async tokenInfo(value: string | undefined, audience: string): Promise<TokenInfo> {
    if (!value) throw errors.invalidRequest('access_token is required');
    let principal;
    try {
      principal = await this.authenticator.bearer(value);
    } catch (e) {
      // Google answers 400 invalid_token: the token is the parameter here, not the caller's credentials.
      throw new CarteError('invalid_request', (e as Error).message, { code: 'invalid_token' });
    }
    const now = Math.floor(this.now() / 1000);
    const issuedTo = principal.clientId ?? principal.credentialId ?? '';
    return {
      issued_to: issuedTo,
      audience: principal.audience ?? audience,
      user_id: principal.subject as string,
      scope: principal.scopes.join(' '),
      ...(principal.expiresAt !== undefined ? { expires_in: Math.max(0, principal.expiresAt - now) } : {}),
      access_type: 'online',
      ...(principal.clientId ? { client_id: principal.clientId } : {}),
      sub: principal.subject as string,
      ...(principal.expiresAt !== undefined ? { exp: principal.expiresAt } : {}),
    };
  }

  private instant(): string {
    return new Date(this.now()).toISOString();
  }
}
