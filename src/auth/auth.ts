/**
 * The security room assembled for one server (SPEC §8): signing keys, access tokens,
 * clients and API keys, the one authenticator every front end calls, the OAuth2 server
 * and the rate limits — all over the store's AuthStore and the resolved configuration.
 */
import type { CarteConfig } from '../config/config.js';
import type { ApiModel } from '../schema/types.js';
import type { AuthStore } from '../store/auth-store.js';
import { AccessTokens, type AccessTokenRequest, type SignedAccessToken, type TokenContext, type VerifyExpectations } from './access-tokens.js';
import { Authenticator, DEV_CLIENT } from './authenticate.js';
import { ApiKeys, ClientRegistry } from './clients.js';
import { OAuthServer } from './oauth-server.js';
import type { Principal } from './principal.js';
import { RateLimits } from './rate-limit.js';
import { requiredScope } from './rules.js';
import { SigningKeys } from './signing-keys.js';

export interface AuthOptions {
  /** Clock in milliseconds (tests). */
  readonly now?: () => number;
}

export class Auth {
  readonly keys: SigningKeys;
  readonly tokens: AccessTokens;
  readonly clients: ClientRegistry;
  readonly apiKeys: ApiKeys;
  readonly authenticator: Authenticator;
  readonly oauth: OAuthServer;
  readonly limits: RateLimits;
  /** What every token must carry, when the configuration pins it (otherwise the host decides per request). */
  readonly expect: VerifyExpectations;
  private readonly prefix: string;
  private readonly now: () => number;

  constructor(
    readonly store: AuthStore,
    readonly config: Pick<CarteConfig, 'auth' | 'rateLimits' | 'publicUrl'>,
    readonly model: ApiModel | null,
    options: AuthOptions = {},
  ) {
    const now = options.now ?? Date.now;
    this.now = now;
    const auth = config.auth;
    this.prefix = model ? `/v${model.version}` : '/v1';
    // A retired key stays published as long as the longest-lived token it may have signed.
    this.keys = new SigningKeys(store, { ...(auth.secret ? { secret: auth.secret } : {}), grace: Math.max(auth.accessTokenTtl, auth.devTokenTtl), now });
    this.tokens = new AccessTokens(store, this.keys, auth.accessTokenTtl, now);
    this.clients = new ClientRegistry(store, now);
    this.apiKeys = new ApiKeys(store, now);
    const issuer = auth.issuer ?? config.publicUrl;
    const audience = auth.audience ?? (config.publicUrl ? `${config.publicUrl}${this.prefix}` : undefined);
    this.expect = { ...(issuer ? { issuer } : {}), ...(audience ? { audience } : {}) };
    this.authenticator = new Authenticator(this.tokens, this.apiKeys, this.expect);
    this.oauth = new OAuthServer(store, this.tokens, this.authenticator, {
      accessTokenTtl: auth.accessTokenTtl,
      refreshTokenTtl: auth.refreshTokenTtl,
      refreshTokens: auth.refreshTokens,
      now,
    });
    this.limits = new RateLimits(config.rateLimits, now);
  }

  /** `iss` and `aud` of tokens minted through a given base URL (`https://oauth2.example.com`, `https://api.example.com`). */
  context(oauthBase: string, apiBase: string = oauthBase): TokenContext {
    return {
      issuer: this.config.auth.issuer ?? oauthBase,
      audience: this.config.auth.audience ?? `${apiBase}${this.prefix}`,
    };
  }

  /** Mints and stores an access token outside the token endpoint (tests, tools). */
  issueToken(request: AccessTokenRequest, context: TokenContext): Promise<SignedAccessToken> {
    return this.tokens.issue(request, context);
  }

  /** SPEC §1: `carte serve --dev` prints a development bearer token with full scope. */
  async issueDevToken(context: TokenContext): Promise<string> {
    const signed = await this.tokens.issue({ clientId: DEV_CLIENT, subject: 'dev', scopes: ['*'], ttl: this.config.auth.devTokenTtl }, context);
    return signed.token;
  }

  /**
   * Whether the credential behind a principal still works — its token or key row not
   * revoked, not expired — for connections that outlive the request that authenticated
   * them (WebSockets, event streams). Never throws: an unreadable row counts as not valid.
   */
  async stillValid(principal: Principal): Promise<boolean> {
    if (principal.kind === 'anonymous') return true;
    const now = this.now();
    if (principal.expiresAt !== undefined && principal.expiresAt * 1000 <= now) return false;
    const id = principal.credentialId;
    if (id === undefined) return false;
    try {
      if (principal.kind === 'key') {
        const key = await this.store.getApiKey(id);
        return key !== undefined && key.revokedAt === null && (key.expiresAt === null || Date.parse(key.expiresAt) > now);
      }
      const token = await this.store.getToken(id);
      // The token's own `exp` (checked above) is its expiry; the row's time, kept to the
      // millisecond, may fall a moment earlier and would read as a revocation.
      return token !== undefined && token.kind === 'access' && token.revokedAt === null && (principal.expiresAt !== undefined || Date.parse(token.expiresAt) > now);
    } catch {
      return false;
    }
  }

  /** Every scope a rule of the schema asks for (RFC 8414 `scopes_supported`). */
  scopesSupported(): string[] {
    const out = new Set<string>();
    if (!this.model) return [];
    for (const resource of this.model.resources.values()) {
      for (const op of ['read', 'create', 'update', 'delete'] as const) {
        const scope = requiredScope(resource.access[op], resource.name, op);
        if (scope) out.add(scope);
      }
      for (const action of resource.actions.values()) {
        const scope = requiredScope(action.access, null, 'create');
        if (scope) out.add(scope);
      }
    }
    for (const action of this.model.actions.values()) {
      const scope = requiredScope(action.access, null, 'create');
      if (scope) out.add(scope);
    }
    return [...out].sort();
  }
}
