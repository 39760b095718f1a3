/**
 * Who is calling: every service call takes a principal. Anonymous until a token or key
 * says otherwise (section 8); access rules, idempotency scopes and event filters read it.
 */
export interface Principal {
  /** The subject the token or key was issued to; null when anonymous. */
  readonly subject: string | null;
  readonly scopes: readonly string[];
  readonly kind: 'anonymous' | 'token' | 'key' | 'dev';
  /** The OAuth2 client behind a token, when there is one. */
  readonly clientId?: string;
  /** The token's `jti` or the API key's id. */
  readonly credentialId?: string;
  /** When the credential stops working (seconds since the epoch); long-lived connections close then. */
  readonly expiresAt?: number;
  /** `aud` of an access token. */
  readonly audience?: string;
}

export const ANONYMOUS: Principal = Object.freeze({ subject: null, scopes: Object.freeze([]) as readonly string[], kind: 'anonymous' as const });

/** The scope key idempotency keys and rate limits are kept under. */
export function principalKey(principal: Principal): string {
  return principal.subject === null ? 'anonymous' : `${principal.kind}:${principal.subject}`;
}
