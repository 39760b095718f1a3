/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com, SPEC §7): a secret is
 * `whsec_` followed by base64 key bytes; a delivery is signed with HMAC-SHA256 over
 * `{webhook-id}.{webhook-timestamp}.{body}`, sent as `v1,<base64>` in `webhook-signature`
 * — several space-separated while a rotated secret is still valid.
 */
import { createHmac, randomBytes } from 'node:crypto';

const PREFIX = 'whsec_';

/** A new secret: 32 random bytes (the spec asks for 24 to 64). */
export function generateSecret(): string {
  return PREFIX + randomBytes(32).toString('base64');
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with the key bytes after `whsec_`. */
export function signPayload(secret: string, messageId: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${messageId}.${timestamp}.${body}`).digest('base64')}`;
}

/** The three Standard Webhooks headers of one attempt, signed with every secret given. */
export function signedHeaders(secrets: readonly string[], messageId: string, timestamp: number, body: string): Record<string, string> {
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => signPayload(s, messageId, timestamp, body)).join(' '),
  };
}
