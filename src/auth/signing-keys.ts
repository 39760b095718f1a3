/**
 * The asymmetric keys access tokens are signed with (ES256, P-256; RFC 9068 §2.1 forbids
 * symmetric ones): created on first use, kept in the database (the private key sealed with
 * `auth.secret` when one is set, never served), rotated by `carte signing-keys rotate`. A
 * retired key stays in the JWKS until the last token it signed has expired.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { AuthStore, SigningKeyRecord } from '../store/auth-store.js';
import { openText, sealText } from './secrets.js';

export const SIGNING_ALG = 'ES256';

export interface SigningKeysOptions {
  /** Seals private keys at rest. */
  readonly secret?: string;
  /** Longest lifetime of a token a key signs (seconds): how long a retired key stays published. */
  readonly grace: number;
  readonly now?: () => number;
}

/** A public key as `/oauth/jwks.json` serves it. */
export interface PublicJwk extends JWK {
  readonly kid: string;
  readonly alg: string;
  readonly use: 'sig';
}

export class SigningKeys {
  private readonly publicKeys = new Map<string, KeyObject>();
  private readonly privateKeys = new Map<string, KeyObject>();
  private creating: Promise<SigningKeyRecord> | null = null;
  private readonly now: () => number;

  constructor(
    private readonly store: AuthStore,
    private readonly options: SigningKeysOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** A new key pair as a record (private key sealed). */
  async generate(): Promise<SigningKeyRecord> {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
    const publicJwk = { kty: jwk.kty as string, crv: jwk.crv as string, x: jwk.x as string, y: jwk.y as string };
    const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    return {
      kid,
      alg: SIGNING_ALG,
      publicJwk,
      privateKey: await sealText(pem, this.options.secret),
      createdAt: new Date(this.now()).toISOString(),
      retiredAt: null,
    };
  }

  /**
   * The key new tokens are signed with: the newest active one, read from the database each
   * time so a rotation by another process (the CLI) takes effect at once.
   */
  async current(): Promise<{ kid: string; key: KeyObject }> {
    const active = (await this.store.listSigningKeys()).find((k) => k.retiredAt === null) ?? (await this.createFirst());
    let key = this.privateKeys.get(active.kid);
    if (!key) {
      key = createPrivateKey(await openText(active.privateKey, this.options.secret));
      this.privateKeys.set(active.kid, key);
    }
    return { kid: active.kid, key };
  }

  private async createFirst(): Promise<SigningKeyRecord> {
    this.creating ??= (async () => {
      const record = await this.generate();
      await this.store.insertSigningKey(record);
      return record;
    })().finally(() => {
      this.creating = null;
    });
    return this.creating;
  }

  /** The public key of `kid`, or null: a token signed by any other key is refused. */
  async publicKey(kid: string | undefined): Promise<KeyObject | null> {
    if (typeof kid !== 'string' || kid.length > 128) return null;
    const cached = this.publicKeys.get(kid);
    if (cached) return cached;
    const record = await this.store.getSigningKey(kid);
    if (!record || !this.published(record)) return null;
    const key = createPublicKey({ key: { ...record.publicJwk }, format: 'jwk' });
    if (this.publicKeys.size > 100) this.publicKeys.clear();
    this.publicKeys.set(kid, key);
    return key;
  }

  private published(record: SigningKeyRecord): boolean {
    return record.retiredAt === null || Date.parse(record.retiredAt) + this.options.grace * 1000 > this.now();
  }

  /** RFC 7517 JWK Set: the active key and the retired ones still verifying live tokens. */
  async jwks(): Promise<{ keys: PublicJwk[] }> {
    let records = (await this.store.listSigningKeys()).filter((k) => this.published(k));
    if (records.length === 0) records = [await this.createFirst()];
    return { keys: records.map((r) => ({ ...r.publicJwk, kid: r.kid, alg: r.alg, use: 'sig' as const })) };
  }

  /** Starts signing with a new key; the old ones stay published for `grace` seconds, then are deleted. */
  async rotate(): Promise<SigningKeyRecord> {
    const record = await this.generate();
    await this.store.rotateSigningKey(record);
    await this.store.purgeSigningKeys(new Date(this.now() - this.options.grace * 1000).toISOString());
    return record;
  }

  async list(): Promise<SigningKeyRecord[]> {
    return this.store.listSigningKeys();
  }
}
