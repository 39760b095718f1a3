/**
 * Secrets at rest (SPEC §8: "stored hashed; comparisons are constant-time"): client secrets,
 * API keys and refresh tokens are random, shown once, stored as scrypt hashes and checked
 * with `timingSafeEqual`. Credentials carry their row id in clear (`ck_<id>_<secret>`) so a
 * check costs one lookup and one hash, never a scan.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * scrypt cost (RFC 7914): N=2^14, r=8, p=1 — 16 MiB and tens of milliseconds per check. The
 * secrets are 256 random bits, so the hash is defence in depth against a stolen database, not
 * the only thing between a guess and a match.
 */
const SCRYPT: Required<Pick<ScryptOptions, 'N' | 'r' | 'p'>> & { maxmem: number } = { N: 1 << 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_LENGTH = 32;

function scryptAsync(secret: string, salt: Buffer, options: { N: number; r: number; p: number; maxmem: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(secret, salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** `scrypt$N$r$p$<salt>$<hash>` (base64url), so the cost can rise without breaking stored hashes. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(secret, salt, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/**
 * `sha256$<digest>` for refresh tokens: 256 random bits cannot be guessed, so a slow hash would
 * only add latency to every refresh; the digest still keeps the token itself out of the database.
 */
export function hashRandomToken(token: string): string {
  return `sha256$${createHash('sha256').update(token).digest('base64url')}`;
}

/** A hash of a random secret nobody knows: unknown ids are checked against it so timing does not tell them apart. */
let decoy: Promise<string> | null = null;

/**
 * Whether `secret` matches `stored`, in constant time. With `stored` undefined (unknown id)
 * the same work is done against a decoy, so a caller cannot learn which ids exist.
 */
export async function verifySecret(secret: string, stored: string | undefined): Promise<boolean> {
  if (stored?.startsWith('sha256$')) {
    const expected = Buffer.from(stored.slice(7), 'base64url');
    const actual = createHash('sha256').update(secret).digest();
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
  decoy ??= hashSecret(randomBytes(32).toString('base64url'));
  const target = stored ?? (await decoy);
  const parts = target.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(secret, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem });
  return expected.length === actual.length && timingSafeEqual(expected, actual) && stored !== undefined;
}

/** Constant-time equality of two strings (lengths may differ). */
export function safeEqual(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y) && a.length === b.length;
}

/** A random identifier: lowercase letters and digits only, so it never contains the `_` separator. */
export function randomId(bytes = 10): string {
  return randomBytes(bytes).toString('hex');
}

/** A random secret of 256 bits, base64url. */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Kinds of opaque credentials and their prefixes (readable in logs and by secret scanners). */
export const CREDENTIAL_PREFIX = { apiKey: 'ck', clientSecret: 'cs', refreshToken: 'rt' } as const;
export type CredentialKind = keyof typeof CREDENTIAL_PREFIX;

/** `ck_<id>_<secret>` */
export function formatCredential(kind: CredentialKind, id: string, secret: string): string {
  return `${CREDENTIAL_PREFIX[kind]}_${id}_${secret}`;
}

/** Splits `ck_<id>_<secret>` into its id and the whole credential; null when it is not of that kind. */
export function parseCredential(kind: CredentialKind, value: string): { id: string; secret: string } | null {
  const m = /^([a-z]{2})_([0-9a-f]{8,64})_([A-Za-z0-9_-]{16,128})$/.exec(value);
  if (!m || m[1] !== CREDENTIAL_PREFIX[kind]) return null;
  return { id: m[2] as string, secret: m[3] as string };
}

/** SHA-256 of a value, base64url: the in-memory cache key of an already verified credential. */
export function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

// ---------------------------------------------------------------------------------------
// Encryption of signing keys at rest (AES-256-GCM under a key derived from `auth.secret`)

const ENCRYPTED = 'enc:v1:';

async function deriveKey(secret: string, salt: Buffer): Promise<Buffer> {
  return scryptAsync(secret, salt, SCRYPT);
}

/** `enc:v1:<salt>.<iv>.<tag>.<ciphertext>`; without a secret the text is kept as is. */
export async function sealText(plain: string, secret: string | undefined): Promise<string> {
  if (!secret) return plain;
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', await deriveKey(secret, salt), iv);
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return `${ENCRYPTED}${[salt, iv, cipher.getAuthTag(), data].map((b) => b.toString('base64url')).join('.')}`;
}

export function isSealed(text: string): boolean {
  return text.startsWith(ENCRYPTED);
}

/** Opens what `sealText` sealed; throws a clear error when the secret is missing or wrong. */
export async function openText(text: string, secret: string | undefined): Promise<string> {
  if (!isSealed(text)) return text;
  if (!secret) throw new Error('the signing keys are encrypted: set auth.secret (CARTE_AUTH_SECRET) to the secret they were encrypted with');
  const [salt, iv, tag, data] = text.slice(ENCRYPTED.length).split('.').map((s) => Buffer.from(s, 'base64url')) as [Buffer, Buffer, Buffer, Buffer];
  const decipher = createDecipheriv('aes-256-gcm', await deriveKey(secret, salt), iv);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
  } catch {
    throw new Error('the signing keys cannot be decrypted: auth.secret (CARTE_AUTH_SECRET) is not the secret they were encrypted with');
  }
}
