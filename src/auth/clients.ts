/**
 * OAuth2 clients (`carte clients create|list|revoke`) and API keys (`carte keys create|list|
 * revoke`): each secret is random, shown once, stored as a scrypt hash and checked in
 * constant time. Revoking a client revokes every token it holds at once.
 */
import { errors } from '../errors.js';
import type { ApiKeyRecord, AuthStore, ClientRecord } from '../store/auth-store.js';
import type { Principal } from './principal.js';
import { digest, formatCredential, hashSecret, parseCredential, randomId, randomSecret, verifySecret } from './secrets.js';

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Splits a space-delimited scope list; throws on a malformed token. */
export function parseScopes(value: string, onError: (message: string) => Error): string[] {
  const scopes = value.split(' ').filter((s) => s !== '');
  for (const s of scopes) if (!SCOPE_TOKEN.test(s)) throw onError(`'${s}' is not a valid scope (RFC 6749 §3.3)`);
  return [...new Set(scopes)];
}

export interface NewCredential {
  readonly name: string;
  readonly scopes: readonly string[];
  /** The `sub` of its tokens; owner rules compare it with the owner field. */
  readonly subject?: string | null;
}

function checkNew(input: NewCredential): void {
  if (!input.name || input.name.length > 200) throw new Error('a name of 1 to 200 characters is required');
  for (const s of input.scopes) if (!SCOPE_TOKEN.test(s)) throw new Error(`'${s}' is not a valid scope (RFC 6749 §3.3)`);
  if (input.subject !== undefined && input.subject !== null && (input.subject.length === 0 || input.subject.length > 200)) throw new Error('the subject must have 1 to 200 characters');
}

export class ClientRegistry {
  constructor(
    private readonly store: AuthStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Registers a client; the secret is in the result and nowhere else. */
  async create(input: NewCredential): Promise<{ clientId: string; clientSecret: string; record: ClientRecord }> {
    checkNew(input);
    const clientId = randomId(10);
    const clientSecret = `cs_${randomSecret()}`;
    const record: ClientRecord = {
      id: clientId,
      name: input.name,
      secretHash: await hashSecret(clientSecret),
      scopes: [...new Set(input.scopes)],
      subject: input.subject ?? null,
      createdAt: new Date(this.now()).toISOString(),
      revokedAt: null,
    };
    await this.store.insertClient(record);
    return { clientId, clientSecret, record };
  }

  list(): Promise<ClientRecord[]> {
    return this.store.listClients();
  }

  revoke(id: string): Promise<boolean> {
    return this.store.revokeClient(id, new Date(this.now()).toISOString());
  }

  /**
   * RFC 6749 §2.3.1: the client id and secret, checked in constant time; an unknown id costs
   * the same hash, and every failure has the same message.
   */
  async authenticate(clientId: string, clientSecret: string): Promise<ClientRecord> {
    const record = clientId.length <= 100 && clientSecret.length <= 200 ? await this.store.getClient(clientId) : undefined;
    const ok = await verifySecret(clientSecret, record?.secretHash);
    if (!ok || !record || record.revokedAt !== null) throw errors.invalidClient();
    return record;
  }
}

export class ApiKeys {
  /** Digests of keys already verified against a stored hash (scrypt once per key, not per request). */
  private readonly verified = new Map<string, string>();

  constructor(
    private readonly store: AuthStore,
    private readonly now: () => number = Date.now,
  ) {}

  async create(input: NewCredential & { readonly expiresAt?: string | null }): Promise<{ key: string; record: ApiKeyRecord }> {
    checkNew(input);
    const id = randomId(8);
    const key = formatCredential('apiKey', id, randomSecret());
    const record: ApiKeyRecord = {
      id,
      name: input.name,
      secretHash: await hashSecret(key),
      scopes: [...new Set(input.scopes)],
      subject: input.subject ?? null,
      createdAt: new Date(this.now()).toISOString(),
      expiresAt: input.expiresAt ?? null,
      revokedAt: null,
    };
    await this.store.insertApiKey(record);
    return { key, record };
  }

  list(): Promise<ApiKeyRecord[]> {
    return this.store.listApiKeys();
  }

  revoke(id: string): Promise<boolean> {
    return this.store.revokeApiKey(id, new Date(this.now()).toISOString());
  }

  /** Whether a value has the shape of an API key (`ck_<id>_<secret>`). */
  static looksLikeKey(value: string): boolean {
    return parseCredential('apiKey', value) !== null;
  }

  /** The principal of a key; its row is read on every call, so a revocation is seen at once. */
  async verify(value: string): Promise<Principal> {
    const parsed = parseCredential('apiKey', value);
    if (!parsed) throw errors.invalidToken('The API key is malformed');
    const record = await this.store.getApiKey(parsed.id);
    const fingerprint = digest(value);
    const known = record !== undefined && this.verified.get(fingerprint) === record.secretHash;
    if (!known) {
      if (!(await verifySecret(value, record?.secretHash)) || !record) throw errors.invalidToken('The API key is not valid');
      if (this.verified.size >= 10_000) this.verified.clear();
      this.verified.set(fingerprint, record.secretHash);
    }
    const key = record as ApiKeyRecord;
    if (key.revokedAt !== null) throw errors.invalidToken('The API key was revoked');
    if (key.expiresAt !== null && Date.parse(key.expiresAt) <= this.now()) throw errors.invalidToken('The API key expired');
    return {
      subject: key.subject ?? `key:${key.id}`,
      scopes: key.scopes,
      kind: 'key',
      credentialId: key.id,
      ...(key.expiresAt !== null ? { expiresAt: Math.floor(Date.parse(key.expiresAt) / 1000) } : {}),
    };
  }
}
