/** Test helpers: a real Carte server listening on a free port, and a small HTTP client. */
import { createServer, type CarteServer, type ServerOptions } from '../src/app.js';
import { newPgDatabase, testStoreKind, type TestDatabase } from './store-databases.js';

export interface Response {
  readonly status: number;
  readonly headers: Headers;
  /** The body as received. */
  readonly bytes: Buffer;
  readonly text: string;
  /** The body parsed as JSON (throws when it is not). */
  readonly body: unknown;
}

export interface RequestInit {
  headers?: Record<string, string>;
  body?: unknown;
  /** A raw body: text, bytes, or a stream of chunks (sent chunked). */
  raw?: string | Buffer | ReadableStream<Uint8Array>;
  /** Send no Authorization header (by default every request carries the server's full-scope token). */
  anonymous?: boolean;
  /** Send this bearer token instead of the full-scope one. */
  token?: string;
}

export interface TestServer {
  readonly server: CarteServer;
  readonly url: string;
  /** A full-scope (`*`) access token of subject `test`, sent by `request` unless told otherwise. */
  readonly token: string;
  request(method: string, path: string, init?: RequestInit): Promise<Response>;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  /** Mints an access token for a subject and scopes (client `test-client` unless given). */
  mintToken(subject: string, scopes: readonly string[], options?: { clientId?: string; ttl?: number; issuedAt?: number }): Promise<string>;
  close(): Promise<void>;
}

export interface StartOptions extends ServerOptions {
  /** Runs before the server listens (hooks can still be added). */
  readonly beforeListen?: (server: CarteServer) => void;
}

/**
 * A server on a throw-away database: SQLite in memory, or with `CARTE_TEST_STORE=postgres`
 * a fresh PostgreSQL schema, dropped on close (unless the test names its own `db`).
 */
export async function startServer(startOptions: StartOptions = {}): Promise<TestServer> {
  const { beforeListen, ...options } = startOptions;
  const database: TestDatabase | null = options.config?.db === undefined && testStoreKind() === 'postgres' ? newPgDatabase() : null;
  let server: CarteServer;
  try {
    server = await createServer({
      ...options,
      config: { db: database?.url ?? 'sqlite::memory:', port: 0, logLevel: 'silent', ...options.config },
    });
  } catch (e) {
    await database?.drop();
    throw e;
  }
  beforeListen?.(server);
  const url = await server.listen();
  const mintToken: TestServer['mintToken'] = async (subject, scopes, opts = {}) => {
    const signed = await server.auth.issueToken(
      { clientId: opts.clientId ?? 'test-client', subject, scopes, ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}), ...(opts.issuedAt !== undefined ? { issuedAt: opts.issuedAt } : {}) },
      server.auth.context(url),
    );
    return signed.token;
  };
  const token = await mintToken('test', ['*']);
  const request: TestServer['request'] = async (method, path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    const hasAuthorization = Object.keys(headers).some((h) => h.toLowerCase() === 'authorization');
    if (!init.anonymous && !hasAuthorization) headers.authorization = `Bearer ${init.token ?? token}`;
    let body: string | Buffer | ReadableStream<Uint8Array> | undefined;
    if (init.raw !== undefined) body = init.raw;
    else if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    const res = await fetch(url + path, {
      method,
      headers,
      ...(body !== undefined ? { body, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } : {}),
    } as globalThis.RequestInit);
    const bytes = Buffer.from(await res.arrayBuffer());
    // As Response.text(): UTF-8, a leading byte order mark dropped.
    const text = new TextDecoder().decode(bytes);
    let parsed: unknown;
    return {
      status: res.status,
      headers: res.headers,
      bytes,
      text,
      get body() {
        if (parsed === undefined) parsed = JSON.parse(text);
        return parsed;
      },
    };
  };
  return {
    server,
    url,
    token,
    request,
    get: (path, headers) => request('GET', path, { ...(headers ? { headers } : {}) }),
    post: (path, body, headers) => request('POST', path, { body, ...(headers ? { headers } : {}) }),
    mintToken,
    close: async () => {
      await server.close();
      await database?.drop();
    },
  };
}

/** A REST item without its hypermedia `links` (SPEC §4.8): what the other front ends and events carry. */
export function withoutLinks<T>(body: T): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const { links: _links, ...rest } = body as Record<string, unknown>;
  return rest as T;
}
