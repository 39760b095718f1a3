/**
 * The SQLite side of the AuthStore: four `_carte_*` tables (migrations leave them alone),
 * created on open. Reads go to the reader connection (committed data only, so a revocation
 * is seen by the next request); writes queue behind the resource writes on the writer.
 */
import type Database from 'better-sqlite3';
import { apiKeyRow as apiKey, clientRow as client, signingKeyRow as signingKey, tokenRow as token, type ApiKeyRecord, type AuthStore, type ClientRecord, type Instant, type RotateOutcome, type SigningKeyRecord, type TokenRecord } from '../auth-store.js';

const DDL = `
CREATE TABLE IF NOT EXISTS "_carte_oauth_clients" (
  "id" TEXT PRIMARY KEY NOT NULL, "name" TEXT NOT NULL, "secret_hash" TEXT NOT NULL, "scopes" TEXT NOT NULL,
  "subject" TEXT, "created_at" TEXT NOT NULL, "revoked_at" TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS "_carte_api_keys" (
  "id" TEXT PRIMARY KEY NOT NULL, "name" TEXT NOT NULL, "secret_hash" TEXT NOT NULL, "scopes" TEXT NOT NULL,
  "subject" TEXT, "created_at" TEXT NOT NULL, "expires_at" TEXT, "revoked_at" TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS "_carte_tokens" (
  "id" TEXT PRIMARY KEY NOT NULL, "kind" TEXT NOT NULL, "client_id" TEXT NOT NULL, "subject" TEXT NOT NULL,
  "scopes" TEXT NOT NULL, "family" TEXT NOT NULL, "secret_hash" TEXT, "issued_at" TEXT NOT NULL,
  "expires_at" TEXT NOT NULL, "revoked_at" TEXT, "rotated_at" TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS "_carte_tokens_family" ON "_carte_tokens" ("family");
CREATE INDEX IF NOT EXISTS "_carte_tokens_client" ON "_carte_tokens" ("client_id");
CREATE INDEX IF NOT EXISTS "_carte_tokens_expires" ON "_carte_tokens" ("expires_at");
CREATE TABLE IF NOT EXISTS "_carte_signing_keys" (
  "kid" TEXT PRIMARY KEY NOT NULL, "alg" TEXT NOT NULL, "public_jwk" TEXT NOT NULL, "private_key" TEXT NOT NULL,
  "created_at" TEXT NOT NULL, "retired_at" TEXT
) STRICT;
`;

type Raw = Record<string, unknown>;

export class SqliteAuthStore implements AuthStore {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    private readonly writer: Database.Database,
    private readonly reader: Database.Database,
    /** Runs a write on the writer connection, in the store's write queue. */
    private readonly queued: <T>(fn: () => T) => Promise<T>,
  ) {
    writer.exec(DDL);
  }

  private stmt(db: Database.Database, sql: string): Database.Statement {
    const key = `${db === this.writer ? 'w' : 'r'}:${sql}`;
    let s = this.statements.get(key);
    if (!s) {
      s = db.prepare(sql);
      this.statements.set(key, s);
    }
    return s;
  }

  private read(sql: string, ...params: unknown[]): Raw | undefined {
    return this.stmt(this.reader, sql).get(...params) as Raw | undefined;
  }

  private readAll(sql: string, ...params: unknown[]): Raw[] {
    return this.stmt(this.reader, sql).all(...params) as Raw[];
  }

  /** One write transaction, queued behind the resource writes. */
  private write<T>(fn: () => T): Promise<T> {
    return this.queued(() => this.writer.transaction(fn)());
  }

  private run(sql: string, ...params: unknown[]): number {
    return this.stmt(this.writer, sql).run(...params).changes;
  }

  // Clients ------------------------------------------------------------------------------

  insertClient(c: ClientRecord): Promise<void> {
    return this.write(() => {
      this.run(
        'INSERT INTO "_carte_oauth_clients" ("id", "name", "secret_hash", "scopes", "subject", "created_at", "revoked_at") VALUES (?, ?, ?, ?, ?, ?, ?)',
        c.id, c.name, c.secretHash, c.scopes.join(' '), c.subject, c.createdAt, c.revokedAt,
      );
    });
  }

  async getClient(id: string): Promise<ClientRecord | undefined> {
    const r = this.read('SELECT * FROM "_carte_oauth_clients" WHERE "id" = ?', id);
    return r ? client(r) : undefined;
  }

  async listClients(): Promise<ClientRecord[]> {
    return this.readAll('SELECT * FROM "_carte_oauth_clients" ORDER BY "created_at", "id"').map(client);
  }

  revokeClient(id: string, at: Instant): Promise<boolean> {
    return this.write(() => {
      const n = this.run('UPDATE "_carte_oauth_clients" SET "revoked_at" = ? WHERE "id" = ? AND "revoked_at" IS NULL', at, id);
      if (n > 0) this.run('UPDATE "_carte_tokens" SET "revoked_at" = ? WHERE "client_id" = ? AND "revoked_at" IS NULL', at, id);
      return n > 0;
    });
  }

  // API keys -----------------------------------------------------------------------------

  insertApiKey(k: ApiKeyRecord): Promise<void> {
    return this.write(() => {
      this.run(
        'INSERT INTO "_carte_api_keys" ("id", "name", "secret_hash", "scopes", "subject", "created_at", "expires_at", "revoked_at") VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        k.id, k.name, k.secretHash, k.scopes.join(' '), k.subject, k.createdAt, k.expiresAt, k.revokedAt,
      );
    });
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    const r = this.read('SELECT * FROM "_carte_api_keys" WHERE "id" = ?', id);
    return r ? apiKey(r) : undefined;
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.readAll('SELECT * FROM "_carte_api_keys" ORDER BY "created_at", "id"').map(apiKey);
  }

  revokeApiKey(id: string, at: Instant): Promise<boolean> {
    return this.write(() => this.run('UPDATE "_carte_api_keys" SET "revoked_at" = ? WHERE "id" = ? AND "revoked_at" IS NULL', at, id) > 0);
  }

  // Tokens -------------------------------------------------------------------------------

  private insertToken(t: TokenRecord): void {
    this.run(
      'INSERT INTO "_carte_tokens" ("id", "kind", "client_id", "subject", "scopes", "family", "secret_hash", "issued_at", "expires_at", "revoked_at", "rotated_at") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      t.id, t.kind, t.clientId, t.subject, t.scopes.join(' '), t.family, t.secretHash, t.issuedAt, t.expiresAt, t.revokedAt, t.rotatedAt,
    );
  }

  insertTokens(tokens: readonly TokenRecord[]): Promise<void> {
    return this.write(() => {
      for (const t of tokens) this.insertToken(t);
    });
  }

  async getToken(id: string): Promise<TokenRecord | undefined> {
    const r = this.read('SELECT * FROM "_carte_tokens" WHERE "id" = ?', id);
    return r ? token(r) : undefined;
  }

  rotateToken(id: string, at: Instant, replacements: readonly TokenRecord[]): Promise<RotateOutcome> {
    return this.write(() => {
      const n = this.run('UPDATE "_carte_tokens" SET "rotated_at" = ? WHERE "id" = ? AND "kind" = \'refresh\' AND "rotated_at" IS NULL AND "revoked_at" IS NULL', at, id);
      if (n === 0) {
        const exists = this.stmt(this.writer, 'SELECT 1 FROM "_carte_tokens" WHERE "id" = ?').get(id) !== undefined;
        return exists ? 'replayed' : 'unknown';
      }
      for (const t of replacements) this.insertToken(t);
      return 'rotated';
    });
  }

  revokeToken(id: string, at: Instant): Promise<boolean> {
    return this.write(() => this.run('UPDATE "_carte_tokens" SET "revoked_at" = ? WHERE "id" = ? AND "revoked_at" IS NULL', at, id) > 0);
  }

  revokeFamily(family: string, at: Instant): Promise<number> {
    return this.write(() => this.run('UPDATE "_carte_tokens" SET "revoked_at" = ? WHERE "family" = ? AND "revoked_at" IS NULL', at, family));
  }

  purgeTokens(before: Instant): Promise<number> {
    return this.write(() => this.run('DELETE FROM "_carte_tokens" WHERE "expires_at" < ?', before));
  }

  // Signing keys -------------------------------------------------------------------------

  private insertKey(k: SigningKeyRecord): void {
    this.run(
      'INSERT INTO "_carte_signing_keys" ("kid", "alg", "public_jwk", "private_key", "created_at", "retired_at") VALUES (?, ?, ?, ?, ?, ?)',
      k.kid, k.alg, JSON.stringify(k.publicJwk), k.privateKey, k.createdAt, k.retiredAt,
    );
  }

  insertSigningKey(k: SigningKeyRecord): Promise<void> {
    return this.write(() => this.insertKey(k));
  }

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    return this.readAll('SELECT * FROM "_carte_signing_keys" ORDER BY "created_at" DESC, "rowid" DESC').map(signingKey);
  }

  async getSigningKey(kid: string): Promise<SigningKeyRecord | undefined> {
    const r = this.read('SELECT * FROM "_carte_signing_keys" WHERE "kid" = ?', kid);
    return r ? signingKey(r) : undefined;
  }

  rotateSigningKey(k: SigningKeyRecord): Promise<void> {
    return this.write(() => {
      this.run('UPDATE "_carte_signing_keys" SET "retired_at" = ? WHERE "retired_at" IS NULL', k.createdAt);
      this.insertKey(k);
    });
  }

  purgeSigningKeys(before: Instant): Promise<number> {
    return this.write(() => this.run('DELETE FROM "_carte_signing_keys" WHERE "retired_at" IS NOT NULL AND "retired_at" < ?', before));
  }
}
