/**
 * The protocol-neutral query model: what every front end's list, search and get requests
 * are parsed into (filters, sort, page, fields), and the raw input shapes the parsers take.
 * No SQL here; the service turns a query into a store plan.
 */
import type { FieldModel, FieldType } from '../schema/types.js';

export type Scalar = string | number | boolean;
export type FilterOp = 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'like' | 'null';
export const FILTER_OPS: readonly FilterOp[] = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'like', 'null'];
export type CountMode = 'exact' | 'estimated' | 'none';

/** A filter as a front end received it, before it is checked against the model. */
export interface RawFilter {
  /** Dotted field path: `rating`, `address.city`. */
  readonly name: string;
  readonly op: string;
  /**
   * REST gives strings (parsed by the field's type, `raw: true`); JSON front ends give
   * typed values (`raw: false`), checked against the field's type.
   */
  readonly values: readonly unknown[];
  readonly raw: boolean;
}

/** Everything a list or search request may carry, in protocol-neutral form. */
export interface QueryInput {
  readonly filters?: readonly RawFilter[];
  readonly sort?: readonly string[];
  /** Names sorted descending; `true` = every sort field (REST's bare `desc`). */
  readonly desc?: readonly string[] | true;
  /** `a-b` (REST) or `[a, b]` (JSON front ends). */
  readonly range?: string | readonly [number, number];
  readonly limit?: string | number;
  readonly offset?: string | number;
  readonly after?: string;
  readonly fields?: string;
  /** The structured form of `fields` (GraphQL selection sets); not together with `fields`. */
  readonly selection?: readonly SelectionItemInput[];
  readonly count?: CountMode;
}

/**
 * One member of a structured selection: a field (with a sub-selection for object fields)
 * or a relation embedded under a member of the caller's choosing — to-many relations as a
 * page with their own filters, sort and range (SPEC §6: relations paged like lists).
 */
export interface SelectionItemInput {
  readonly name: string;
  /** Relations only: the member of the item the embedded value is written to (default: the relation's name). */
  readonly as?: string;
  readonly children?: readonly SelectionItemInput[];
  /** To-many relations only: which related items, as for a list (no cursor). */
  readonly query?: Pick<QueryInput, 'filters' | 'sort' | 'desc' | 'range' | 'limit' | 'offset' | 'count'>;
}

/** The leaf type a filter value is parsed as. */
export type LeafType = Exclude<FieldType, 'array' | 'object' | 'blob'>;

/** One checked filter: `values` are any-of (IN); on an array field, "contains any of". */
export interface FilterTerm {
  /** Top-level field (or the key, `id`). */
  readonly field: string;
  /** Path inside a nested object field (`['city']` for `address.city`). */
  readonly path: readonly string[];
  readonly op: FilterOp;
  readonly values: readonly Scalar[];
  readonly leafType: LeafType;
  /** The field holds an array: `eq` means "contains". */
  readonly array: boolean;
}

/** A `*` pattern on a search field (SPEC §4.6): whole value, case- and accent-insensitive. */
export interface PatternTerm {
  readonly field: string;
  readonly patterns: readonly string[];
}

export interface SortKey {
  readonly field: string;
  readonly path: readonly string[];
  readonly descending: boolean;
  readonly leafType: LeafType;
}

export type Page =
  | { readonly kind: 'offset'; readonly offset: number; readonly limit: number; readonly explicit: boolean }
  | { readonly kind: 'cursor'; readonly after: readonly (Scalar | null)[]; readonly limit: number };

/** A `fields` selection: which fields to return, nested selections and embedded relations. */
export interface FieldSelection {
  /** Top-level fields to include (the key is always included). */
  readonly fields: ReadonlySet<string>;
  /** Sub-selections inside object fields: `address(street)`. */
  readonly nested: ReadonlyMap<string, NestedSelection>;
  /** Relations to embed: `client(name)`, `orders(state)`. */
  readonly relations: ReadonlyMap<string, FieldSelection | null>;
  /** Whether hypermedia links were asked for (`fields=…,links`). */
  readonly links: boolean;
  /** Relations embedded under members of their own; to-many ones as pages (structured selections). */
  readonly embeds?: ReadonlyMap<string, EmbedSelection>;
}

export interface EmbedSelection {
  readonly relation: string;
  /** null = every field of the related items. */
  readonly selection: FieldSelection | null;
  /** To-many relations: the page embedded, as `{items, first, last, total}`. */
  readonly page: EmbedPage | null;
}

/** A page of related items per parent: filtered, sorted (key last) and ranged like a list. */
export interface EmbedPage {
  readonly filters: readonly FilterTerm[];
  readonly sort: readonly SortKey[];
  readonly offset: number;
  readonly limit: number;
  readonly count: CountMode;
}

export interface NestedSelection {
  readonly fields: ReadonlyMap<string, NestedSelection | null>;
}

export interface ListQuery {
  readonly filters: readonly FilterTerm[];
  readonly patterns: readonly PatternTerm[];
  readonly sort: readonly SortKey[];
  readonly page: Page;
  readonly fields: FieldSelection | null;
  readonly count: CountMode;
}

/** Limits on hostile query strings (SPEC §8: 400, never a hang). */
export interface QueryLimits {
  readonly filters: number;
  readonly valuesPerFilter: number;
  readonly valueLength: number;
  readonly fieldsDepth: number;
  readonly fieldsLength: number;
  readonly sortKeys: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  filters: 50,
  valuesPerFilter: 500,
  valueLength: 2048,
  fieldsDepth: 4,
  fieldsLength: 2048,
  sortKeys: 10,
};

export type { FieldModel };
