/**
 * What callers give the resource service and what it gives back: protocol-neutral, so
 * REST, JSON-RPC, GraphQL and WebSockets each translate these and nothing else.
 */
import type { Principal } from '../auth/principal.js';
import type { CountMode, QueryInput, RawFilter, SelectionItemInput } from '../query/types.js';
import type { Key, Row } from '../store/store.js';
import type { ItemLink } from './links.js';

export interface CallContext {
  readonly principal: Principal;
  /** `http://host:port` the caller reached; hrefs in bodies are absolute (SPEC §4.3). */
  readonly baseUrl: string;
  readonly requestId?: string;
  /**
   * The API major version the caller addressed (SPEC §4.10); the current one when absent.
   * Bodies are read and written in that version's shape and hrefs use its prefix.
   */
  readonly apiVersion?: number;
}

/** A nested route's parent: `/v1/clients/7/orders` → relation `orders` of client 7. */
export interface ParentScope {
  /** The parent resource (`clients`). */
  readonly resource: string;
  readonly id: string | number;
  /** The to-many relation on the parent (`orders`). */
  readonly relation: string;
}

export interface WriteOptions {
  readonly parent?: ParentScope;
  /** ETags from If-Match; the write happens only if the current one is among them (`*` = exists). */
  readonly ifMatch?: readonly string[];
  /** How to present the written item (checked before anything is written): `fields` notation… */
  readonly fields?: string;
  /** …or a structured selection (GraphQL mutations selecting relations). */
  readonly selection?: readonly SelectionItemInput[];
  /** `Idempotency-Key` of a create (SPEC §4.7): a repeat replays the first answer. */
  readonly idempotencyKey?: string;
}

/** A page of related items embedded in an item (structured selections, SPEC §6). */
export interface EmbeddedPage {
  readonly items: Row[];
  /** Index of the first related item in the page; `last` is first - 1 when it is empty. */
  readonly first: number;
  readonly last: number;
  /** Related items matching the page's filters; null when not counted. */
  readonly total: number | null;
}

export interface ItemResult {
  readonly id: Key;
  /** The item as presented: projected by `fields`, relations embedded, blobs as hrefs. */
  readonly data: Row;
  /** Strong ETag of the stored item (SPEC §4.7). */
  readonly etag: string;
  /** `JSON.stringify(data)`, when the service wrote it already (the stored row's text, for its ETag, when `data` is the row as stored). */
  readonly json?: string;
  /** From `updatedAt` when the resource declares it. */
  readonly lastModified: Date | null;
  /** Hypermedia links (SPEC §4.8), when the representation carries them. */
  readonly links?: readonly ItemLink[];
  /** A create answered from its Idempotency-Key: the first answer, replayed. */
  readonly replayed?: boolean;
}

export interface ListResult {
  readonly items: Row[];
  /** Index of the first item returned (0 for cursor pages). */
  readonly first: number;
  /** Index of the last item returned; first - 1 when empty. */
  readonly last: number;
  /** Items in the whole filtered collection; null with `count=none`. */
  readonly total: number | null;
  readonly count: CountMode;
  readonly estimated: boolean;
  /** Cursor continuing after the last item, when there may be more. */
  readonly nextCursor: string | null;
  /** The page size asked for (range pages in Link headers keep it). */
  readonly limit: number;
  readonly cursorPage: boolean;
  /** `Accept-Range` value: `restaurant 50` or `search 50`. */
  readonly acceptRange: string;
  /** Per item, its links (SPEC §4.8: `self` only unless `fields` asks for `links`); absent when left out. */
  readonly links?: readonly (readonly ItemLink[])[];
  /** The item's top-level names in the caller's version (CSV headers of an empty page). */
  readonly columns?: readonly string[];
}

export interface SearchResult extends ListResult {
  /** The search as understood: `name=*napoli*&type=chinese,japanese`. */
  readonly query: string;
  readonly suggestions: string[];
}

export interface GlobalHit {
  readonly resource: string;
  readonly id: Key;
  readonly href: string;
  readonly score: number;
  readonly item: Row;
}

export interface GlobalSearchResult {
  readonly results: GlobalHit[];
  readonly first: number;
  readonly last: number;
  readonly total: number;
  readonly limit: number;
  readonly acceptRange: string;
}

export type { CountMode, QueryInput, RawFilter, SelectionItemInput };
