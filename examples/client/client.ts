/**
 * A typed client of the Carte demo: openapi-fetch over the types openapi-typescript generated
 * from the demo's OpenAPI document (`schema.d.ts`). Paths, parameters, bodies and answers are
 * checked by the compiler: `api.GET('/v1/restaurants', { params: { query: { type: ['thai'] } } })`.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { paths } from './schema.js';

export type { components, paths } from './schema.js';
export { linkTarget, PageError, pages, parseContentRange } from './paging.js';

/** JSON answers only (the document also lists XML and CSV). */
export type CarteClient = Client<paths, 'application/json'>;

export interface CarteClientOptions {
  /** `http://127.0.0.1:3000` */
  readonly baseUrl: string;
  /** A bearer token: an access token from /oauth/token, `carte serve --dev`'s token or an API key. */
  readonly token?: string;
  readonly fetch?: typeof fetch;
}

export function createCarteClient(options: CarteClientOptions): CarteClient {
  return createClient<paths, 'application/json'>({
    baseUrl: options.baseUrl,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    headers: { accept: 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
    // Carte's lists are comma-separated (`type=thai,chinese`, `sort=rating,name`), as the document says (style form, explode false).
    querySerializer: { array: { style: 'form', explode: false } },
  });
}
