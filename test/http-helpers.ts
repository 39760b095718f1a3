/**
 * Helpers of the HTTP-semantics tests: the server of test/helpers.ts, which can also act
 * for a test principal named by `x-test-subject`, and a request function that takes a
 * JSON body as `json` (the response carries its bytes as well as its text).
 */
import type { CarteServer } from '../src/app.js';
import type { Principal } from '../src/auth/principal.js';
import { startServer, type Response, type StartOptions as ServerStartOptions } from './helpers.js';

export type HttpResponse = Response;

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

export interface StartOptions extends ServerStartOptions {
  /** Requests with `x-test-subject: <s>` run as a token principal with subject s (scopes from `x-test-scopes`, none by default). */
  readonly principals?: boolean;
}

export async function startHttpServer(options: StartOptions = {}): Promise<HttpServer> {
  const { principals, beforeListen, ...serverOptions } = options;
  const started = await startServer({
    ...serverOptions,
    beforeListen: (server) => {
      if (principals) {
        server.app.addHook('onRequest', async (request) => {
          const subject = request.headers['x-test-subject'];
          const scopes = request.headers['x-test-scopes'];
          if (typeof subject === 'string') request.principal = { subject, scopes: typeof scopes === 'string' ? scopes.split(' ') : [], kind: 'token' } satisfies Principal;
        });
      }
      beforeListen?.(server);
    },
  });
  return {
    server: started.server,
    url: started.url,
    token: started.token,
    // A request that names its principal (`x-test-subject`) carries no token.
    request: (method, path, init = {}) =>
      started.request(method, path, {
        ...(init.headers ? { headers: init.headers } : {}),
        ...(init.json !== undefined ? { body: init.json } : init.raw !== undefined ? { raw: init.raw } : {}),
        anonymous: init.anonymous === true || Object.keys(init.headers ?? {}).some((h) => h.toLowerCase() === 'x-test-subject'),
      }),
    close: started.close,
  };
}

/** Escapes text for an XML element, as the server writes it. */
export function xmlText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
