/**
 * Paging a Carte collection from a client (SPEC §4.3): the position of a page is in
 * `Content-Range: first-last/total`, the other pages in `Link` (RFC 8288). `pages()` yields
 * every page of a list, following `Link: <…>; rel="next"` until there is none.
 */

/** `Content-Range: 0-9/48` → `{first: 0, last: 9, total: 48}`; total null for `*`; null for an empty page (`*∕0`). */
export function parseContentRange(header: string | null): { first: number; last: number; total: number | null } | null {
  const m = /^(\d+)-(\d+)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  if (!m) return null;
  return { first: Number(m[1]), last: Number(m[2]), total: m[3] === '*' ? null : Number(m[3]) };
}

/** The target of the link with this relation in a `Link` header (`next`, `prev`, `first`, `last`, `next-cursor`). */
export function linkTarget(header: string | null, rel: string): string | null {
  if (!header) return null;
  // link-value = "<" URI-Reference ">" *( ";" link-param ); URLs hold no unescaped ">".
  for (const m of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+(?:="[^"]*"|=[^;,]*)?)*)/g)) {
    const rels = /;\s*rel="?([^";]+)"?/i.exec(m[2] ?? '')?.[1]?.split(/\s+/) ?? [];
    if (rels.includes(rel)) return m[1] as string;
  }
  return null;
}

/** What openapi-fetch answers (`{data}` or `{error}`, and the response). */
export interface PageResult<Item> {
  readonly data?: Item[];
  readonly error?: unknown;
  readonly response: Response;
}

export class PageError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`page request failed with ${status}: ${JSON.stringify(body)}`);
  }
}

export interface PagesOptions {
  /** Headers of the following requests (the same `Authorization` as the first). */
  readonly headers?: Record<string, string>;
  readonly fetch?: typeof fetch;
}

/**
 * Every page of a list, from the first (a typed openapi-fetch call) to the last, following
 * `Link: rel="next"`; the items keep the first call's type.
 *
 *   for await (const page of pages(api.GET('/v1/orders', { params: { query: { range: '0-9' } } }))) …
 */
export async function* pages<Item>(first: Promise<PageResult<Item>>, options: PagesOptions = {}): AsyncGenerator<Item[], void, undefined> {
  let result = await first;
  for (;;) {
    if (!result.data) throw new PageError(result.response.status, result.error);
    yield result.data;
    const next = linkTarget(result.response.headers.get('link'), 'next');
    if (!next) return;
    const response = await (options.fetch ?? fetch)(next, { headers: { accept: 'application/json', ...options.headers } });
    const body: unknown = await response.json();
    result = response.ok ? { data: body as Item[], response } : { error: body, response };
  }
}
