/**
 * Helpers of the HTTP-semantics tests: a real Carte server on a free port (as
 * test/helpers.ts) that can also act for a test principal named by `x-test-subject`, and
 * one request function that returns bytes as well as text.
 */
import { createServer, type CarteServer, type ServerOptions } from '../src/app.js';
import type { Principal } from '../src/auth/principal.js';
import { newPgDatabase, testStoreKind, type TestDatabase } from './store-databases.js';

export interface HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly bytes: Buffer;
  readonly text: string;
  /** The body parsed as JSON (throws when it is not). */
  readonly body: unknown;
}

export interface RequestInit {
  readonly headers?: Record<string, string>;
  /** A JSON body (Content-Type application/json unless given). */
  readonly json?: unknown;
  /** A raw body: text, bytes, or a stream of chunks (sent chunked). */
  readonly raw?: string | Buffer | ReadableStream<Uint8Array>;
  /** Send no Authorization header (by default every request carries a full-scope token). */
  readonly anonymous?: boolean;
}

export interface HttpServer {
  readonly server: CarteServer;
  readonly url: string;
  /** The full-scope (`*`) access token `request` sends unless told otherwise. */
  readonly token: string;
  /** Every HTTP call of a test file goes through here (one place to add credentials). */
  request(method: string, path: string, init?: RequestInit): Promise<HttpResponse>;
  close(): Promise<void>;
}

export interface StartOptions extends ServerOptions {
  /** Requests with `x-test-subject: <s>` run as a token principal with subject s (scopes from `x-test-scopes`, none by default). */
  readonly principals?: boolean;
  /** Runs before the server listens (hooks can still be added). */
  readonly beforeListen?: (server: CarteServer) => void;
}

export async function startHttpServer(options: StartOptions = {}): Promise<HttpServer> {
  const { principals, beforeListen, ...serverOptions } = options;
  // The same database choice as test/helpers.ts: SQLite in memory, or a fresh PostgreSQL schema.
  const database: TestDatabase | null = serverOptions.config?.db === undefined && testStoreKind() === 'postgres' ? newPgDatabase() : null;
  let server: CarteServer;
  try {
    server = await createServer({
      ...serverOptions,
      config: { db: database?.url ?? 'sqlite::memory:', port: 0, logLevel: 'silent', ...serverOptions.config },
    });
  } catch (e) {
    await database?.drop();
    throw e;
  }
  if (principals) {
    server.app.addHook('onRequest', async (request) => {
      const subject = request.headers['x-test-subject'];
      const scopes = request.headers['x-test-scopes'];
      if (typeof subject === 'string') request.principal = { subject, scopes: typeof scopes === 'string' ? scopes.split(' ') : [], kind: 'token' } satisfies Principal;
    });
  }
  beforeListen?.(server);
  const url = await server.listen();
  const token = (await server.auth.issueToken({ clientId: 'test-client', subject: 'test', scopes: ['*'] }, server.auth.context(url))).token;
  const request: HttpServer['request'] = async (method, path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    const named = Object.keys(headers).some((h) => h.toLowerCase() === 'authorization' || h.toLowerCase() === 'x-test-subject');
    if (!init.anonymous && !named) headers.authorization = `Bearer ${token}`;
    let body: string | Buffer | ReadableStream<Uint8Array> | undefined = init.raw;
    if (init.json !== undefined) {
      body = JSON.stringify(init.json);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    const res = await fetch(url + path, {
      method,
      headers,
      ...(body !== undefined ? { body, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } : {}),
    } as globalThis.RequestInit);
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = bytes.toString('utf8');
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
    close: async () => {
      await server.close();
      await database?.drop();
    },
  };
}

/** Escapes text for an XML element, as the server writes it. */
export function xmlText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
