/**
 * The PostgreSQL side of the AuthStore: the same four `_carte_*` tables as on SQLite (the
 * migration planner leaves them alone), created on open. Reads run on the pool (committed
 * data only, so a revocation is seen by the next request); each write is one short
 * transaction of its own — security state never waits behind resource writes.
 */
import type pg from 'pg';
import {
  apiKeyRow,
  clientRow,
  signingKeyRow,
  tokenRow,
  type ApiKeyRecord,
  type AuthRow,
  type AuthStore,
  type ClientRecord,
  type Instant,
  type RotateOutcome,
  type SigningKeyRecord,
  type TokenRecord,
} from '../auth-store.js';

/** Created by the store when it opens (with the other internal tables). */
export const AUTH_TABLES_SQL = `
CREATE TABLE IF NOT EXISTS "_carte_oauth_clients" (
  "id" text COLLATE "C" PRIMARY KEY, "name" text NOT NULL, "secret_hash" text NOT NULL, "scopes" text NOT NULL,
  "subject" text, "created_at" text NOT NULL, "revoked_at" text
);
CREATE TABLE IF NOT EXISTS "_carte_api_keys" (
  "id" text COLLATE "C" PRIMARY KEY, "name" text NOT NULL, "secret_hash" text NOT NULL, "scopes" text NOT NULL,
  "subject" text, "created_at" text NOT NULL, "expires_at" text, "revoked_at" text
);
CREATE TABLE IF NOT EXISTS "_carte_tokens" (
  "id" text COLLATE "C" PRIMARY KEY, "kind" text NOT NULL, "client_id" text NOT NULL, "subject" text NOT NULL,
  "scopes" text NOT NULL, "family" text NOT NULL, "secret_hash" text, "issued_at" text NOT NULL,
  "expires_at" text NOT NULL, "revoked_at" text, "rotated_at" text
);
CREATE INDEX IF NOT EXISTS "_carte_tokens_family" ON "_carte_tokens" ("family");
CREATE INDEX IF NOT EXISTS "_carte_tokens_client" ON "_carte_tokens" ("client_id");
CREATE INDEX IF NOT EXISTS "_carte_tokens_expires" ON "_carte_tokens" ("expires_at");
CREATE TABLE IF NOT EXISTS "_carte_signing_keys" (
  "seq" bigint GENERATED ALWAYS AS IDENTITY, "kid" text COLLATE "C" PRIMARY KEY, "alg" text NOT NULL,
  "public_jwk" text NOT NULL, "private_key" text NOT NULL, "created_at" text NOT NULL, "retired_at" text
);
`;

type Query = (sql: string, params?: unknown[]) => Promise<{ rows: AuthRow[]; rowCount: number | null }>;

export class PostgresAuthStore implements AuthStore {
  constructor(private readonly pool: pg.Pool) {}

  private async one(sql: string, params: unknown[]): Promise<AuthRow | undefined> {
    return (await this.pool.query(sql, params)).rows[0] as AuthRow | undefined;
  }

  private async all(sql: string, params: unknown[] = []): Promise<AuthRow[]> {
    return (await this.pool.query(sql, params)).rows as AuthRow[];
  }

  /** One short write transaction on a pooled connection. */
  private async write<T>(fn: (query: Query) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn((sql, params = []) => client.query(sql, params) as Promise<{ rows: AuthRow[]; rowCount: number | null }>);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  // Clients ------------------------------------------------------------------------------

  async insertClient(c: ClientRecord): Promise<void> {
    await this.pool.query(
      'INSERT INTO "_carte_oauth_clients" ("id", "name", "secret_hash", "scopes", "subject", "created_at", "revoked_at") VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [c.id, c.name, c.secretHash, c.scopes.join(' '), c.subject, c.createdAt, c.revokedAt],
    );
  }

  async getClient(id: string): Promise<ClientRecord | undefined> {
    const r = await this.one('SELECT * FROM "_carte_oauth_clients" WHERE "id" = $1', [id]);
    return r ? clientRow(r) : undefined;
  }

  async listClients(): Promise<ClientRecord[]> {
    return (await this.all('SELECT * FROM "_carte_oauth_clients" ORDER BY "created_at", "id"')).map(clientRow);
  }

  revokeClient(id: string, at: Instant): Promise<boolean> {
    return this.write(async (query) => {
      const { rowCount } = await query('UPDATE "_carte_oauth_clients" SET "revoked_at" = $1 WHERE "id" = $2 AND "revoked_at" IS NULL', [at, id]);
      if (!rowCount) return false;
      await query('UPDATE "_carte_tokens" SET "revoked_at" = $1 WHERE "client_id" = $2 AND "revoked_at" IS NULL', [at, id]);
      return true;
    });
  }

  // API keys -----------------------------------------------------------------------------

  async insertApiKey(k: ApiKeyRecord): Promise<void> {
    await this.pool.query(
      'INSERT INTO "_carte_api_keys" ("id", "name", "secret_hash", "scopes", "subject", "created_at", "expires_at", "revoked_at") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [k.id, k.name, k.secretHash, k.scopes.join(' '), k.subject, k.createdAt, k.expiresAt, k.revokedAt],
    );
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    const r = await this.one('SELECT * FROM "_carte_api_keys" WHERE "id" = $1', [id]);
    return r ? apiKeyRow(r) : undefined;
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return (await this.all('SELECT * FROM "_carte_api_keys" ORDER BY "created_at", "id"')).map(apiKeyRow);
  }

  async revokeApiKey(id: string, at: Instant): Promise<boolean> {
    const { rowCount } = await this.pool.query('UPDATE "_carte_api_keys" SET "revoked_at" = $1 WHERE "id" = $2 AND "revoked_at" IS NULL', [at, id]);
    return (rowCount ?? 0) > 0;
  }

  // Tokens -------------------------------------------------------------------------------

  private async insertToken(query: Query, t: TokenRecord): Promise<void> {
    await query(
      'INSERT INTO "_carte_tokens" ("id", "kind", "client_id", "subject", "scopes", "family", "secret_hash", "issued_at", "expires_at", "revoked_at", "rotated_at") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)',
      [t.id, t.kind, t.clientId, t.subject, t.scopes.join(' '), t.family, t.secretHash, t.issuedAt, t.expiresAt, t.revokedAt, t.rotatedAt],
    );
  }

  insertTokens(tokens: readonly TokenRecord[]): Promise<void> {
    return this.write(async (query) => {
      for (const t of tokens) await this.insertToken(query, t);
    });
  }

  async getToken(id: string): Promise<TokenRecord | undefined> {
    const r = await this.one('SELECT * FROM "_carte_tokens" WHERE "id" = $1', [id]);
    return r ? tokenRow(r) : undefined;
  }

  rotateToken(id: string, at: Instant, replacements: readonly TokenRecord[]): Promise<RotateOutcome> {
    return this.write(async (query) => {
      // One UPDATE decides: concurrent exchanges of one refresh token cannot both rotate it.
      const { rowCount } = await query(
        'UPDATE "_carte_tokens" SET "rotated_at" = $1 WHERE "id" = $2 AND "kind" = \'refresh\' AND "rotated_at" IS NULL AND "revoked_at" IS NULL',
        [at, id],
      );
      if (!rowCount) {
        const { rows } = await query('SELECT 1 FROM "_carte_tokens" WHERE "id" = $1', [id]);
        return rows.length > 0 ? 'replayed' : 'unknown';
      }
      for (const t of replacements) await this.insertToken(query, t);
      return 'rotated';
    });
  }

  async revokeToken(id: string, at: Instant): Promise<boolean> {
    const { rowCount } = await this.pool.query('UPDATE "_carte_tokens" SET "revoked_at" = $1 WHERE "id" = $2 AND "revoked_at" IS NULL', [at, id]);
    return (rowCount ?? 0) > 0;
  }

  async revokeFamily(family: string, at: Instant): Promise<number> {
    const { rowCount } = await this.pool.query('UPDATE "_carte_tokens" SET "revoked_at" = $1 WHERE "family" = $2 AND "revoked_at" IS NULL', [at, family]);
    return rowCount ?? 0;
  }

  async purgeTokens(before: Instant): Promise<number> {
    const { rowCount } = await this.pool.query('DELETE FROM "_carte_tokens" WHERE "expires_at" < $1', [before]);
    return rowCount ?? 0;
  }

  // Signing keys -------------------------------------------------------------------------

  private async insertKey(query: Query, k: SigningKeyRecord): Promise<void> {
    await query(
      'INSERT INTO "_carte_signing_keys" ("kid", "alg", "public_jwk", "private_key", "created_at", "retired_at") VALUES ($1, $2, $3, $4, $5, $6)',
      [k.kid, k.alg, JSON.stringify(k.publicJwk), k.privateKey, k.createdAt, k.retiredAt],
    );
  }

  insertSigningKey(k: SigningKeyRecord): Promise<void> {
    return this.write((query) => this.insertKey(query, k));
  }

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    return (await this.all('SELECT * FROM "_carte_signing_keys" ORDER BY "created_at" DESC, "seq" DESC')).map(signingKeyRow);
  }

  async getSigningKey(kid: string): Promise<SigningKeyRecord | undefined> {
    const r = await this.one('SELECT * FROM "_carte_signing_keys" WHERE "kid" = $1', [kid]);
    return r ? signingKeyRow(r) : undefined;
  }

  rotateSigningKey(k: SigningKeyRecord): Promise<void> {
    return this.write(async (query) => {
      await query('UPDATE "_carte_signing_keys" SET "retired_at" = $1 WHERE "retired_at" IS NULL', [k.createdAt]);
      await this.insertKey(query, k);
    });
  }

  async purgeSigningKeys(before: Instant): Promise<number> {
    const { rowCount } = await this.pool.query('DELETE FROM "_carte_signing_keys" WHERE "retired_at" IS NOT NULL AND "retired_at" < $1', [before]);
    return rowCount ?? 0;
  }
}
