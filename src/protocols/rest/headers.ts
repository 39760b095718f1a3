/**
 * Collection headers (SPEC §4.3): `Content-Range: a-b/total`, `Accept-Range`, and the
 * RFC 8288 `Link` header with first/prev/next/last pages of the request's size plus
 * `next-cursor`, as absolute URLs keeping every other query parameter.
 */
import type { ListResult } from '../../service/types.js';

export function contentRange(result: Pick<ListResult, 'first' | 'last' | 'total'>): string {
  const total = result.total === null ? '*' : String(result.total);
  if (result.last < result.first) return `*/${total}`;
  return `${result.first}-${result.last}/${total}`;
}

/** 206 when the items returned are not the whole (filtered) collection. */
export function isPartial(result: Pick<ListResult, 'first' | 'last' | 'total' | 'nextCursor' | 'cursorPage'>): boolean {
  const returned = result.last - result.first + 1;
  if (result.cursorPage) return true;
  if (result.total === null) return result.first > 0 || result.nextCursor !== null;
  return returned < result.total;
}

type PageStyle = 'range' | 'limit';

/** The request's query without its page parameters, encoded once for every link the page gives. */
function keptQuery(params: URLSearchParams): string {
  const p = new URLSearchParams();
  for (const [k, v] of params) if (k !== 'range' && k !== 'limit' && k !== 'offset' && k !== 'after') p.append(k, v);
  const query = decodeReadable(p.toString());
  return query ? `${query}&` : '';
}

function pageUrl(base: string, kept: string, style: PageStyle, first: number, last: number): string {
  return style === 'range' ? `${base}?${kept}range=${first}-${last}` : `${base}?${kept}offset=${first}&limit=${last - first + 1}`;
}

function cursorUrl(base: string, kept: string, cursor: string, limit: number): string {
  // A cursor is base64url: nothing in it to encode.
  return `${base}?${kept}after=${cursor}&limit=${limit}`;
}

/** Keeps `,` `[` `]` `(` `)` `*` readable in links (they are legal in a query). */
function decodeReadable(query: string): string {
  return query.replace(/%2C/gi, ',').replace(/%5B/gi, '[').replace(/%5D/gi, ']').replace(/%28/gi, '(').replace(/%29/gi, ')').replace(/%2A/gi, '*');
}

/**
 * The Link header. For 971 items and `range=48-55`: first 0-7, prev 40-47, next 56-63,
 * last 963-970 (SPEC §4.3 decision). No prev on the first page, no next on the last, no
 * last when the total is unknown.
 */
export function linkHeader(base: string, params: URLSearchParams, result: ListResult): string {
  const style: PageStyle = params.has('limit') || params.has('offset') ? 'limit' : 'range';
  const size = result.limit;
  const kept = keptQuery(params);
  const links: string[] = [];
  const add = (rel: string, first: number, last: number) => links.push(`<${pageUrl(base, kept, style, first, last)}>; rel="${rel}"`);
  if (!result.cursorPage) {
    const first = result.first;
    const total = result.total;
    add('first', 0, size - 1);
    if (first > 0) {
      const prevFirst = Math.max(0, first - size);
      add('prev', prevFirst, first - 1);
    }
    const lastIndex = result.first + size - 1;
    const hasNext = total === null ? result.nextCursor !== null : lastIndex < total - 1;
    if (hasNext) add('next', lastIndex + 1, total === null ? lastIndex + size : Math.min(total - 1, lastIndex + size));
    if (total !== null && total > 0) add('last', Math.max(0, total - size), total - 1);
  }
  if (result.nextCursor) links.push(`<${cursorUrl(base, kept, result.nextCursor, size)}>; rel="next-cursor"`);
  return links.join(', ');
}
