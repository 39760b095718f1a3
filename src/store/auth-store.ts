/**
 * The part of the Store that keeps security state (SPEC §8): OAuth2 clients, API keys,
 * issued tokens and the signing keys of access tokens. Plain records in, plain records out;
 * every adapter (SQLite now, PostgreSQL next) keeps them in its own tables, apart from the
 * resources' tables, and never counts them in `stats`.
 */

/** Instants are ISO 8601 strings in UTC (`toISOString()`), so they also compare as text. */
export type Instant = string;

export interface ClientRecord {
  readonly id: string;
  readonly name: string;
  /** scrypt hash of the client secret. */
  readonly secretHash: string;
  /** Scopes the client may ask for. */
  readonly scopes: readonly string[];
  /** The `sub` of its tokens (owner rules compare it); null → the client id. */
  readonly subject: string | null;
  readonly createdAt: Instant;
  readonly revokedAt: Instant | null;
}

export interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  /** scrypt hash of the whole key. */
  readonly secretHash: string;
  readonly scopes: readonly string[];
  /** null → `key:<id>`. */
  readonly subject: string | null;
  readonly createdAt: Instant;
  readonly expiresAt: Instant | null;
  readonly revokedAt: Instant | null;
}

export interface TokenRecord {
  /** The `jti` of an access token; the id part of a refresh token. */
  readonly id: string;
  readonly kind: 'access' | 'refresh';
  readonly clientId: string;
  readonly subject: string;
  readonly scopes: readonly string[];
  /** Every token of one grant and its refreshes; a replayed refresh token revokes the family. */
  readonly family: string;
  /** SHA-256 digest of a refresh token (256 random bits); null for access tokens (their signature is the proof). */
  readonly secretHash: string | null;
  readonly issuedAt: Instant;
  readonly expiresAt: Instant;
  readonly revokedAt: Instant | null;
  /** When a refresh token was exchanged for a new one (rotation). */
  readonly rotatedAt: Instant | null;
}

export interface SigningKeyRecord {
  /** RFC 7638 thumbprint of the public key. */
  readonly kid: string;
  readonly alg: string;
  /** The public key as a JWK (what `/oauth/jwks.json` serves). */
  readonly publicJwk: Readonly<Record<string, string>>;
  /** PKCS#8 PEM, sealed with `auth.secret` when one is set. Never served. */
  readonly privateKey: string;
  readonly createdAt: Instant;
  /** Set when a newer key took over; the key stays published until its last token expires. */
  readonly retiredAt: Instant | null;
}

export type RotateOutcome = 'rotated' | 'replayed' | 'unknown';

export interface AuthStore {
  insertClient(client: ClientRecord): Promise<void>;
  getClient(id: string): Promise<ClientRecord | undefined>;
  listClients(): Promise<ClientRecord[]>;
  /** Revokes a client and every token issued to it, at once. False when there is no such active client. */
  revokeClient(id: string, at: Instant): Promise<boolean>;

  insertApiKey(key: ApiKeyRecord): Promise<void>;
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  revokeApiKey(id: string, at: Instant): Promise<boolean>;

  /** Inserts tokens in one transaction. */
  insertTokens(tokens: readonly TokenRecord[]): Promise<void>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  /**
   * Exchanges a refresh token, atomically: marks it rotated and inserts its replacements.
   * `replayed` when it was already rotated or revoked (nothing is inserted).
   */
  rotateToken(id: string, at: Instant, replacements: readonly TokenRecord[]): Promise<RotateOutcome>;
  revokeToken(id: string, at: Instant): Promise<boolean>;
  /** Revokes every token of a family; returns how many were still active. */
  revokeFamily(family: string, at: Instant): Promise<number>;
  /** Forgets tokens that expired before `before` (they fail on their `exp` anyway). */
  purgeTokens(before: Instant): Promise<number>;

  insertSigningKey(key: SigningKeyRecord): Promise<void>;
  /** Newest first. */
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  getSigningKey(kid: string): Promise<SigningKeyRecord | undefined>;
  /** Inserts a new key and retires every other active one, in one transaction. */
  rotateSigningKey(key: SigningKeyRecord): Promise<void>;
  /** Deletes retired keys whose tokens have all expired (retired before `before`). */
  purgeSigningKeys(before: Instant): Promise<number>;
}

// Row decoding shared by the adapters ----------------------------------------------------

/** A record as both adapters store it: snake_case columns, scopes space-separated, JSON as text. */
export type AuthRow = Record<string, unknown>;

const str = (v: unknown): string => v as string;
const opt = (v: unknown): string | null => (v === null || v === undefined ? null : (v as string));
const scopes = (v: unknown): string[] => (v === '' ? [] : str(v).split(' '));

export function clientRow(r: AuthRow): ClientRecord {
  return { id: str(r.id), name: str(r.name), secretHash: str(r.secret_hash), scopes: scopes(r.scopes), subject: opt(r.subject), createdAt: str(r.created_at), revokedAt: opt(r.revoked_at) };
}

export function apiKeyRow(r: AuthRow): ApiKeyRecord {
  return {
    id: str(r.id),
    name: str(r.name),
    secretHash: str(r.secret_hash),
    scopes: scopes(r.scopes),
    subject: opt(r.subject),
    createdAt: str(r.created_at),
    expiresAt: opt(r.expires_at),
    revokedAt: opt(r.revoked_at),
  };
}

export function tokenRow(r: AuthRow): TokenRecord {
  return {
    id: str(r.id),
    kind: r.kind === 'refresh' ? 'refresh' : 'access',
    clientId: str(r.client_id),
    subject: str(r.subject),
    scopes: scopes(r.scopes),
    family: str(r.family),
    secretHash: opt(r.secret_hash),
    issuedAt: str(r.issued_at),
    expiresAt: str(r.expires_at),
    revokedAt: opt(r.revoked_at),
    rotatedAt: opt(r.rotated_at),
  };
}

export function signingKeyRow(r: AuthRow): SigningKeyRecord {
  return {
    kid: str(r.kid),
    alg: str(r.alg),
    publicJwk: JSON.parse(str(r.public_jwk)) as Record<string, string>,
    privateKey: str(r.private_key),
    createdAt: str(r.created_at),
    retiredAt: opt(r.retired_at),
  };
}
