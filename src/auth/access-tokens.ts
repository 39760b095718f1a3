/**
 * JWT access tokens per RFC 9068: `typ: at+jwt`, signed ES256 by the current signing key,
 * with iss, sub, aud, exp, iat, jti, client_id and scope. Each token also has a row, so a
 * revoked token (or a revoked client's) stops working on the very next request.
 */
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { errors, type CarteError } from '../errors.js';
import type { AuthStore, TokenRecord } from '../store/auth-store.js';
import { digest, randomId } from './secrets.js';
import { SIGNING_ALG, type SigningKeys } from './signing-keys.js';

/** Who the token is for, decided per request (issuer and audience follow the host called). */
export interface TokenContext {
  readonly issuer: string;
  readonly audience: string;
}

export interface AccessTokenRequest {
  readonly clientId: string;
  readonly subject: string;
  readonly scopes: readonly string[];
  /** The grant it belongs to (refreshes keep it). */
  readonly family?: string;
  /** Seconds; defaults to `auth.accessTokenTtl`. */
  readonly ttl?: number;
  /** Seconds since the epoch; defaults to now (tests mint tokens that have already expired). */
  readonly issuedAt?: number;
}

export interface SignedAccessToken {
  readonly token: string;
  readonly record: TokenRecord;
  readonly expiresIn: number;
}

/** The claims of a verified access token (RFC 9068 §2.2). */
export interface AccessTokenClaims {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string;
  readonly exp: number;
  readonly iat: number;
  readonly jti: string;
  readonly client_id: string;
  readonly scope: string;
}

/** Static expectations checked on every token, when configured. */
export interface VerifyExpectations {
  readonly issuer?: string;
  readonly audience?: string;
}

/** A compact JWS has three base64url parts; access tokens are told from API keys by shape. */
export function looksLikeJwt(value: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(value);
}

/** Seconds of clock skew tolerated on `exp` and `iat`. */
const CLOCK_TOLERANCE = 5;

export class AccessTokens {
  /** Claims of tokens whose signature checked out, by digest (bounded). */
  private readonly verified = new Map<string, AccessTokenClaims>();

  constructor(
    private readonly store: AuthStore,
    private readonly keys: SigningKeys,
    private readonly defaultTtl: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Signs a token and builds its row; the caller stores the row (alone, or with a refresh token). */
  async sign(request: AccessTokenRequest, context: TokenContext): Promise<SignedAccessToken> {
    // One clock reading: signing may cross a second boundary, and expires_in must still be
    // the token's lifetime from when it was issued (3600, not 3599).
    const now = Math.floor(this.now() / 1000);
    const { kid, key } = await this.keys.current();
    const iat = request.issuedAt ?? now;
    const ttl = request.ttl ?? this.defaultTtl;
    const jti = randomId(16);
    const scope = request.scopes.join(' ');
    const token = await new SignJWT({ client_id: request.clientId, scope })
      .setProtectedHeader({ alg: SIGNING_ALG, typ: 'at+jwt', kid })
      .setIssuer(context.issuer)
      .setSubject(request.subject)
      .setAudience(context.audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttl)
      .setJti(jti)
      .sign(key);
    const record: TokenRecord = {
      id: jti,
      kind: 'access',
      clientId: request.clientId,
      subject: request.subject,
      scopes: [...request.scopes],
      family: request.family ?? jti,
      secretHash: null,
      issuedAt: new Date(iat * 1000).toISOString(),
      expiresAt: new Date((iat + ttl) * 1000).toISOString(),
      revokedAt: null,
      rotatedAt: null,
    };
    return { token, record, expiresIn: iat + ttl - now };
  }

  /** Signs and stores one access token. */
  async issue(request: AccessTokenRequest, context: TokenContext): Promise<SignedAccessToken> {
    const signed = await this.sign(request, context);
    await this.store.insertTokens([signed.record]);
    return signed;
  }

  /**
   * Verifies signature (ES256 only: `alg: none` and HMAC are refused), `typ`, expiry, the
   * configured issuer and audience, and that the token's row is not revoked.
   */
  async verify(token: string, expect: VerifyExpectations = {}): Promise<AccessTokenClaims> {
    // A token whose signature was already checked is not checked again (ES256 costs ~0.2 ms);
    // its expiry and its row (revocation) are, on every request.
    const fingerprint = `${digest(token)}|${expect.issuer ?? ''}|${expect.audience ?? ''}`;
    let claims = this.verified.get(fingerprint);
    if (claims && claims.exp <= Math.floor(this.now() / 1000) - CLOCK_TOLERANCE) {
      this.verified.delete(fingerprint);
      throw errors.invalidToken('The access token expired');
    }
    if (!claims) {
      claims = await this.verifySignature(token, expect);
      if (this.verified.size >= 10_000) this.verified.clear();
      this.verified.set(fingerprint, claims);
    }
    const record = await this.store.getToken(claims.jti);
    if (!record || record.kind !== 'access' || record.clientId !== claims.client_id) throw errors.invalidToken('The access token is unknown to this server');
    if (record.revokedAt !== null) throw errors.invalidToken('The access token was revoked');
    return claims;
  }

  private async verifySignature(token: string, expect: VerifyExpectations): Promise<AccessTokenClaims> {
    let kid: string | undefined;
    try {
      const header = decodeProtectedHeader(token);
      kid = header.kid;
      if (header.alg !== SIGNING_ALG) throw errors.invalidToken(`The access token is signed with '${String(header.alg)}'; only ${SIGNING_ALG} tokens of this server are accepted`);
    } catch (e) {
      if ((e as CarteError).code === 'invalid_token') throw e;
      throw errors.invalidToken('The access token is malformed');
    }
    const key = await this.keys.publicKey(kid);
    if (!key) throw errors.invalidToken('The access token is not signed by a key of this server');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: [SIGNING_ALG],
        typ: 'at+jwt',
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'],
        clockTolerance: CLOCK_TOLERANCE,
        currentDate: new Date(this.now()),
        ...(expect.issuer ? { issuer: expect.issuer } : {}),
        ...(expect.audience ? { audience: expect.audience } : {}),
      }));
    } catch (e) {
      throw errors.invalidToken(describeJoseError(e));
    }
    const claims = payload as unknown as AccessTokenClaims;
    if (typeof claims.jti !== 'string' || typeof claims.client_id !== 'string' || typeof claims.sub !== 'string') throw errors.invalidToken('The access token is malformed');
    return { ...claims, scope: typeof claims.scope === 'string' ? claims.scope : '', aud: Array.isArray(payload.aud) ? (payload.aud[0] as string) : (claims.aud as string) };
  }
}

function describeJoseError(e: unknown): string {
  if (e instanceof joseErrors.JWTExpired) return 'The access token expired';
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return 'The access token signature is not valid';
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    if (e.claim === 'aud') return 'The access token is meant for another audience';
    if (e.claim === 'iss') return 'The access token comes from another issuer';
    if (e.claim === 'typ') return "The token is not an access token (typ must be 'at+jwt')";
    if (e.claim === 'iat' || e.claim === 'nbf') return 'The access token is not valid yet';
    return `The access token lacks a valid '${e.claim}' claim`;
  }
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return 'The access token uses an algorithm this server does not accept';
  return 'The access token is malformed';
}
