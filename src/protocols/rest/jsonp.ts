/**
 * JSONP (SPEC §4.11, seed 004, GitHub's envelope): `GET /v1/orders.jsonp?callback=foo` →
 * `/**∕foo({"meta":{"status":200,"headers":{…}},"data":…})`, always HTTP 200 since a
 * script tag cannot see the status. The callback must be a dotted JavaScript identifier
 * (400 otherwise). `method=POST|PUT|PATCH|DELETE` (fields as query parameters) is refused
 * unless `jsonp.unsafeMethods` is on and the request carries `access_token` (seed 004:
 * crawlers follow links and would delete data); the token becomes the request's bearer
 * credentials for the authentication that follows.
 */
import type { IncomingMessage } from 'node:http';
import { CarteError, errors } from '../../errors.js';
import type { JsonpConfig } from '../../config/config.js';

export const JSONP_SUFFIX = '.jsonp';
const CALLBACK = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface JsonpRequest {
  readonly callback: string;
  /** The method the request runs as (`method=`), GET by default. */
  readonly method: string;
  /** Refused inside the envelope (HTTP 200, `meta.status` says what). */
  readonly error?: CarteError;
}

/**
 * Reads a `.jsonp` request before routing: the callback (an invalid one is a plain 400,
 * returned as `error`), the method override and the token. May change `req.method` and set
 * `req.headers.authorization` so routing and authentication see the request as it is meant.
 */
export function readJsonpRequest(req: IncomingMessage, params: URLSearchParams, config: JsonpConfig): { jsonp?: JsonpRequest; error?: CarteError } {
  const callback = params.get('callback');
  if (callback === null || callback === '') return { error: errors.invalidRequest('A .jsonp request needs callback=<function name>') };
  if (callback.length > 128 || !CALLBACK.test(callback)) {
    return { error: errors.invalidRequest('callback must be a JavaScript function name such as handle or app.handle (letters, digits, _ and $)') };
  }
  const token = params.get('access_token');
  if (token && !req.headers.authorization) req.headers.authorization = `Bearer ${token}`;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return { jsonp: { callback, method: 'GET', error: errors.methodNotAllowed(req.method ?? 'POST', ['GET'], 'A .jsonp URL is read with GET (a script tag); choose another method with method=') } };
  }
  const method = (params.get('method') ?? 'GET').toUpperCase();
  if (method === 'GET') return { jsonp: { callback, method } };
  if (!UNSAFE.has(method)) return { jsonp: { callback, method: 'GET', error: errors.invalidRequest('method must be GET, POST, PUT, PATCH or DELETE') } };
  if (!config.unsafeMethods) {
    return { jsonp: { callback, method: 'GET', error: new CarteError('not_allowed', `JSONP is read-only on this server: method=${method} is refused (enable jsonp.unsafeMethods to allow it)`) } };
  }
  if (!token) {
    return {
      jsonp: {
        callback,
        method: 'GET',
        error: new CarteError('no_credentials', `A JSONP request with method=${method} must carry access_token`, { headers: { 'WWW-Authenticate': 'Bearer realm="carte"' } }),
      },
    };
  }
  req.method = method;
  return { jsonp: { callback, method } };
}

/** Response headers worth handing to the script, GitHub-style (the rest are the transport's). */
const HIDDEN = new Set(['content-type', 'content-length', 'transfer-encoding', 'connection', 'vary', 'x-content-type-options']);

/** The envelope: `/**∕callback({"meta":{"status":…,"headers":{…}},"data":…})`. */
export function jsonpBody(callback: string, status: number, headers: Record<string, unknown>, payload: string | undefined): string {
  const meta: { status: number; headers: Record<string, string> } = { status, headers: {} };
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HIDDEN.has(name.toLowerCase()) || name.toLowerCase().startsWith('access-control-')) continue;
    meta.headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  // U+2028/U+2029 are valid in JSON strings but ended JavaScript lines before ES2019.
  const data = payload === undefined || payload === '' ? 'null' : payload.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  // `/**/` keeps a callback from being read as the start of a file type signature (Rosetta Flash).
  return `/**/${callback}(${JSON.stringify({ meta }).slice(0, -1)},"data":${data}})`;
}
