/**
 * Writes service results as HTTP responses: status, the headers SPEC §4 names, and the
 * body in the format negotiated from `Accept` (JSON, XML, or CSV for collections; SPEC
 * §4.2). Conditional requests (SPEC §4.7, RFC 9110 §13) answer 304. Errors go out in
 * seed 004's structure — as XML when XML was asked for — or as RFC 9457 problem documents
 * when the client prefers `application/problem+json`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_KINDS, errors, type CarteError } from '../../errors.js';
import { memoByText } from '../../memo.js';
import type { ApiModel, ResourceModel } from '../../schema/types.js';
import type { ItemLink } from '../../service/links.js';
import { digestOf, textTag } from '../../service/present.js';
import type { ItemResult, ListResult } from '../../service/types.js';
import { CSV_TYPE, toCsv } from './formats/csv.js';
import { collectionNames, PLAIN_NAMES, resourceNames, toXml, type XmlNames } from './formats/xml.js';
import { contentRange, isPartial, linkHeader } from './headers.js';
import { negotiate } from './negotiate.js';
import { hintsOf } from './rewrite.js';
import { vendorTypes } from './versions.js';

export const JSON_TYPE = 'application/json; charset=utf-8';

/** What a route answers with, for negotiation and XML element names. */
export interface RouteMeta {
  /** The representations it can produce (`none`: no negotiated body, e.g. blobs). */
  readonly produces: 'item' | 'collection' | 'value' | 'none';
  readonly api: ApiModel;
  /** The resource of its items, for XML element names and CSV columns. */
  readonly resource: ResourceModel | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The response format negotiated for this request (null until negotiated: JSON). */
    carteFormat: ResponseFormat | null;
  }
  interface FastifyContextConfig {
    /** Carte's description of a REST route. */
    carte?: RouteMeta;
  }
}

/** The matched route's options, as read once per request in src/app.ts. */
export function routeOf(request: FastifyRequest): FastifyRequest['routeOptions'] {
  return request.matched ?? request.routeOptions;
}

export function routeMeta(request: FastifyRequest): RouteMeta | undefined {
  return routeOf(request).config?.carte;
}

/** `http://host:port` of the request (or the configured public URL). */
export function baseUrlOf(request: FastifyRequest, publicUrl?: string): string {
  if (publicUrl) return publicUrl;
  return `${request.protocol}://${request.host}`;
}

/** The routed path (the canonical version's prefix). */
export function pathOf(request: FastifyRequest): string {
  const i = request.url.indexOf('?');
  return i === -1 ? request.url : request.url.slice(0, i);
}

/** The path under the prefix of the version the client addressed (`/v0/clients` stays `/v0/…`). */
export function publicPathOf(request: FastifyRequest): string {
  const path = pathOf(request);
  const hints = hintsOf(request);
  if (!hints) return path;
  return path.replace(/^\/v\d+(?=\/|$)/, `/v${hints.version}`);
}

/** The URL of a collection for its page links: a JSONP page links to JSONP pages. */
export function listUrlOf(request: FastifyRequest, publicUrl?: string): string {
  return `${baseUrlOf(request, publicUrl)}${publicPathOf(request)}${hintsOf(request)?.jsonp ? '.jsonp' : ''}`;
}

export function strongEtag(text: string): string {
  return textTag(text);
}

/**
 * RFC 9110 §13.1.2: If-None-Match uses the weak comparison; `*` matches any current
 * representation.
 */
export function noneMatch(request: FastifyRequest, etag: string): boolean {
  const header = request.headers['if-none-match'];
  if (!header) return false;
  if (header.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === opaque);
}

/**
 * RFC 9110 §13.1.3: If-Modified-Since, only when there is no If-None-Match; HTTP dates
 * have whole seconds.
 */
function notModifiedSince(request: FastifyRequest, lastModified: Date | null): boolean {
  const header = request.headers['if-modified-since'];
  if (!header || !lastModified || request.headers['if-none-match'] !== undefined) return false;
  const since = Date.parse(header);
  return Number.isFinite(since) && Math.floor(lastModified.getTime() / 1000) * 1000 <= since;
}

/**
 * ETags from If-Match, as the service compares them: every representation of an item
 * (XML, the previous version, a `fields` selection) carries its version's tag plus a
 * `.variant` suffix, and any of them matches the version it was read from.
 */
export function ifMatchList(request: FastifyRequest): string[] | undefined {
  const header = request.headers['if-match'];
  if (header === undefined) return undefined;
  return header
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t) => t.replace(/^("[^".]*)\.[^"]*"$/, '$1"'));
}

// ---------------------------------------------------------------------------------------
// Negotiation (SPEC §4.2)

export interface ResponseFormat {
  readonly kind: 'json' | 'xml' | 'csv';
  readonly contentType: string;
}

const JSON_FORMAT: ResponseFormat = { kind: 'json', contentType: JSON_TYPE };
const BASE_TYPES = {
  item: ['application/json', 'application/xml', 'text/xml'],
  value: ['application/json', 'application/xml', 'text/xml'],
  collection: ['application/json', 'application/xml', 'text/xml', 'text/csv'],
} as const;

function formatOfType(type: string): ResponseFormat {
  if (type === 'text/csv') return { kind: 'csv', contentType: CSV_TYPE };
  if (type.endsWith('xml')) return { kind: 'xml', contentType: `${type}; charset=utf-8` };
  return type === 'application/json' ? JSON_FORMAT : { kind: 'json', contentType: `${type}; charset=utf-8` };
}

/**
 * Chooses the response format of a route from `Accept` (q-values, then the client's order,
 * then the server's), or throws 406 listing what the route can produce. JSONP is JSON.
 */
export function negotiateFormat(request: FastifyRequest, produces: RouteMeta['produces']): ResponseFormat {
  if (produces === 'none') return JSON_FORMAT;
  const hints = hintsOf(request);
  if (hints?.jsonp) {
    request.carteFormat = JSON_FORMAT;
    return JSON_FORMAT;
  }
  const accept = request.headers.accept;
  // No preference (most API clients): the first type every route produces, JSON.
  if (accept === undefined || accept === '*/*') {
    request.carteFormat = JSON_FORMAT;
    return JSON_FORMAT;
  }
  const base: readonly string[] = BASE_TYPES[produces];
  // SPEC §4.10: `application/vnd.carte.v2+json` is JSON of version 2 (the version itself is settled before routing).
  const vendor = hints ? vendorTypes(hints.version) : [];
  const chosen = negotiate(accept, [...base, ...vendor]);
  if (chosen === null) {
    // A client that only takes problem documents (RFC 9457) still reads JSON; its errors come as problems.
    if (negotiate(accept, ['application/problem+json']) !== null) return JSON_FORMAT;
    throw errors.notAcceptable(base);
  }
  const format = formatOfType(chosen);
  request.carteFormat = format;
  return format;
}

export function formatOf(request: FastifyRequest): ResponseFormat {
  return request.carteFormat ?? JSON_FORMAT;
}

/** The suffix of an item ETag for this representation ('' for the default JSON one). */
function variantOf(request: FastifyRequest, format: ResponseFormat): string {
  const hints = hintsOf(request);
  const q = request.url.indexOf('?');
  // The default representation (most reads): JSON of the current version, no query.
  if (format.kind === 'json' && !hints?.previous && q === -1) return '';
  const parts: string[] = [];
  if (format.kind !== 'json') parts.push(format.kind);
  if (hints?.previous) parts.push(`v${hints.version}`);
  const fields = q === -1 || !request.url.includes('fields=', q) ? null : new URLSearchParams(request.url.slice(q + 1)).get('fields');
  if (fields) parts.push(fieldsVariant(fields));
  return parts.join('.');
}

/** ETag suffixes by `fields` text: a client asks for the same few projections again and again. */
const fieldsVariant = memoByText((fields) => `f${digestOf(fields).slice(0, 8)}`);

/** `"tag"` with a variant: `"tag.variant"`. */
function representationTag(tag: string, variant: string): string {
  return variant ? `${tag.slice(0, -1)}.${variant}"` : tag;
}

// ---------------------------------------------------------------------------------------
// Bodies

interface XmlSpec {
  readonly root: string;
  readonly names: XmlNames;
  /** What the root element holds, when it is not the whole body (`{"result": 53}` → `<result>53</result>`). */
  readonly value?: unknown;
}

/** What an answer is made from: its JSON text, already written, or the value and how to write it in each format. */
type Body =
  | { readonly json: string }
  | {
      readonly value: unknown;
      readonly xml: XmlSpec;
      /** The rows of a CSV answer (collections), and the columns an empty page still shows. */
      readonly csv?: { readonly rows: readonly Record<string, unknown>[]; readonly columns?: readonly string[] };
    };

function serialize(format: ResponseFormat, body: Body): string {
  if ('json' in body) return body.json;
  switch (format.kind) {
    case 'xml':
      return toXml(body.xml.value !== undefined ? body.xml.value : body.value, body.xml.root, body.xml.names);
    case 'csv':
      return toCsv(body.csv?.rows ?? (Array.isArray(body.value) ? (body.value as Record<string, unknown>[]) : [body.value as Record<string, unknown>]), body.csv?.columns);
    default:
      return JSON.stringify(body.value);
  }
}

/** Sends a body in the negotiated format, or 304 when the client's copy is current. */
function send(request: FastifyRequest, reply: FastifyReply, status: number, body: Body, etag?: string, lastModified: Date | null = null): FastifyReply {
  const format = formatOf(request);
  const text = serialize(format, body);
  const safe = request.method === 'GET' || request.method === 'HEAD';
  const tag = etag ?? (safe && (status === 200 || status === 206) ? strongEtag(text) : undefined);
  if (tag) reply.header('ETag', tag);
  if (safe && (status === 200 || status === 206) && ((tag && noneMatch(request, tag)) || notModifiedSince(request, lastModified))) {
    return reply.code(304).send();
  }
  return reply.code(status).type(format.contentType).send(text);
}

function itemXml(meta: RouteMeta | undefined, fallback = 'item'): XmlSpec {
  const resource = meta?.resource;
  return resource && meta ? { root: resource.singular, names: resourceNames(meta.api, resource) } : { root: fallback, names: PLAIN_NAMES };
}

function collectionXml(meta: RouteMeta | undefined): XmlSpec {
  const resource = meta?.resource;
  return resource && meta
    ? { root: resource.name, names: collectionNames(resource.singular, resourceNames(meta.api, resource)) }
    : { root: 'items', names: PLAIN_NAMES };
}

/** RFC 8288: the item's links as a `Link` header, one link-value per action (`method` says which). */
export function itemLinkHeader(links: readonly ItemLink[]): string {
  let header = '';
  for (const l of links) header += `${header ? ', ' : ''}<${l.href}>; rel="${l.rel}"; method="${l.action}"`;
  return header;
}

/**
 * A link's JSON around its `href`, for the links whose media types are a shared, frozen array
 * (src/service/links.ts): written once per (types, rel, action), not once per item.
 */
const LINK_PARTS = new WeakMap<readonly string[], Map<string, Map<string, readonly [string, string]>>>();

function linkJson(link: ItemLink): string {
  if (link.body !== undefined || !Object.isFrozen(link.types)) return JSON.stringify(link);
  let byRel = LINK_PARTS.get(link.types);
  if (!byRel) LINK_PARTS.set(link.types, (byRel = new Map()));
  let byAction = byRel.get(link.rel);
  if (!byAction) byRel.set(link.rel, (byAction = new Map()));
  let parts = byAction.get(link.action);
  if (!parts) byAction.set(link.action, (parts = [`{"rel":${JSON.stringify(link.rel)},"href":`, `,"action":"${link.action}","types":${JSON.stringify(link.types)}}`]));
  return `${parts[0]}${JSON.stringify(link.href)}${parts[1]}`;
}

/** `JSON.stringify(links)`, with each link written by `linkJson`. */
function linksJson(links: readonly ItemLink[]): string {
  let json = '';
  for (const link of links) json += `${json ? ',' : ''}${linkJson(link)}`;
  return `[${json}]`;
}

/** Adds link-values to the response's `Link` header (one header, comma-separated). */
export function appendLink(reply: FastifyReply, value: string): void {
  if (!value) return;
  const existing = reply.getHeader('Link');
  reply.header('Link', existing ? `${String(existing)}, ${value}` : value);
}

export function sendItem(request: FastifyRequest, reply: FastifyReply, status: number, item: ItemResult, location?: string): FastifyReply {
  if (item.lastModified) reply.header('Last-Modified', item.lastModified.toUTCString());
  if (location) reply.header('Location', location);
  if (item.replayed) reply.header('Idempotent-Replayed', 'true');
  if (item.links && item.links.length > 0) appendLink(reply, itemLinkHeader(item.links));
  const format = formatOf(request);
  const tag = representationTag(item.etag, variantOf(request, format));
  const body: Body =
    format.kind === 'json'
      ? { json: itemJson(item.data, item.links, item.json) }
      : { value: item.links ? { ...item.data, links: item.links } : item.data, xml: itemXml(routeMeta(request)) };
  return send(request, reply, status, body, tag, item.lastModified);
}

/**
 * An item's JSON with its links as the last member, as `{...item, links}` would write it, but
 * without copying the item first: its own text with `"links":[…]` appended.
 */
function itemJson(item: Record<string, unknown>, links: readonly ItemLink[] | undefined, json?: string): string {
  if (!links) return json ?? JSON.stringify(item);
  // `links` is no field's name (a reserved name); a member by that name is replaced, as the spread would.
  if ('links' in item) return JSON.stringify({ ...item, links });
  const text = json ?? JSON.stringify(item);
  const member = `"links":${linksJson(links)}`;
  return text === '{}' ? `{${member}}` : `${text.slice(0, -1)},${member}}`;
}

/** A written item's ETag for `Prefer: return=minimal` (no body, same representation rules). */
export function itemTag(request: FastifyRequest, item: ItemResult): string {
  return representationTag(item.etag, variantOf(request, formatOf(request)));
}

export interface ListOptions {
  /** Preferences honoured, for `Preference-Applied` (RFC 7240). */
  readonly applied?: readonly string[];
  /** A body other than the bare array (global search). */
  readonly body?: unknown;
  /** The page inside an object (a search, SPEC §4.6): the members of `head`, then the items under `key`. */
  readonly envelope?: { readonly head: Record<string, unknown>; readonly key: string };
  /** XML names of that body. */
  readonly xml?: { readonly root: string; readonly names: XmlNames };
  /** CSV rows of that body (search results). */
  readonly rows?: readonly Record<string, unknown>[];
}

/** Collection items with their links (SPEC §4.8: `self` only unless asked). */
export function withLinks(result: Pick<ListResult, 'items' | 'links'>): Record<string, unknown>[] {
  const links = result.links;
  return links ? result.items.map((item, i) => ({ ...item, links: links[i] })) : result.items;
}

/** The JSON of a page, as `withLinks` would give it, each item written by `itemJson`. */
function listJson(result: Pick<ListResult, 'items' | 'links'>): string {
  const links = result.links;
  return links ? `[${result.items.map((item, i) => itemJson(item, links[i])).join(',')}]` : JSON.stringify(result.items);
}

export function sendList(request: FastifyRequest, reply: FastifyReply, result: ListResult, base: string, params: URLSearchParams, options: ListOptions = {}): FastifyReply {
  reply.header('Content-Range', contentRange(result));
  reply.header('Accept-Range', result.acceptRange);
  const link = linkHeader(base, params, result);
  if (link) reply.header('Link', link);
  if (options.applied && options.applied.length > 0) reply.header('Preference-Applied', options.applied.join(', '));
  const envelope = options.envelope;
  const body: Body =
    options.body === undefined && formatOf(request).kind === 'json'
      ? { json: envelope ? envelopeJson(envelope, listJson(result)) : listJson(result) }
      : {
          value: options.body ?? (envelope ? { ...envelope.head, [envelope.key]: withLinks(result) } : withLinks(result)),
          xml: options.xml ?? collectionXml(routeMeta(request)),
          csv: { rows: options.rows ?? result.items, ...(result.columns ? { columns: result.columns } : {}) },
        };
  return send(request, reply, isPartial(result) ? 206 : 200, body);
}

/** `{...head, [key]: items}` as JSON, the items' JSON already written. */
function envelopeJson(envelope: { readonly head: Record<string, unknown>; readonly key: string }, items: string): string {
  const head = JSON.stringify(envelope.head);
  return `${head === '{}' ? '{' : `${head.slice(0, -1)},`}${JSON.stringify(envelope.key)}:${items}}`;
}

export function sendValue(request: FastifyRequest, reply: FastifyReply, status: number, body: unknown, xml?: { readonly root: string; readonly names?: XmlNames }): FastifyReply {
  let spec: XmlSpec;
  if (xml) spec = { root: xml.root, names: xml.names ?? PLAIN_NAMES };
  else if (Array.isArray(body)) spec = collectionXml(routeMeta(request));
  else {
    // `{"result": 53}` is `<result>53</result>`: an object with one member is that member.
    const keys = body && typeof body === 'object' ? Object.keys(body) : [];
    const only = keys.length === 1 && /^[A-Za-z_][\w.-]*$/.test(keys[0] as string) && !/^xml/i.test(keys[0] as string) ? (keys[0] as string) : null;
    spec = only ? { root: only, names: PLAIN_NAMES, value: (body as Record<string, unknown>)[only] ?? null } : { root: 'response', names: PLAIN_NAMES };
  }
  return send(request, reply, status, { value: body, xml: spec });
}

// ---------------------------------------------------------------------------------------
// Errors (SPEC §4.13)

/** The error body: `{error, error_description, error_uri}` plus `errors` and extras. */
export function errorBody(error: CarteError, baseUrl: string): Record<string, unknown> {
  const body: Record<string, unknown> = {
    error: error.code,
    error_description: error.description,
    error_uri: `${baseUrl}/docs/errors#${error.code}`,
  };
  if (error.errors && error.errors.length > 0) body.errors = error.errors;
  if (error.extra) for (const [k, v] of Object.entries(error.extra)) if (!(k in body)) body[k] = v;
  return body;
}

const ERROR_TYPES = ['application/json', 'application/problem+json', 'application/xml', 'text/xml'];

export function sendError(request: FastifyRequest, reply: FastifyReply, error: CarteError, baseUrl: string): FastifyReply {
  for (const [name, value] of Object.entries(error.headers ?? {})) reply.header(name, value);
  // error_uri points at the developer portal, on its own host when config.hosts names one (SPEC §8).
  const body = errorBody(error, request.faces?.developer ?? baseUrl);
  // JSONP and 406 answer in JSON (SPEC §4.2: the 406 body lists the types in JSON).
  const preferred = hintsOf(request)?.jsonp || error.kind === 'not_acceptable' ? 'application/json' : negotiate(request.headers.accept, ERROR_TYPES);
  if (preferred === 'application/problem+json') {
    const { error: code, error_description: detail, error_uri: type, ...rest } = body;
    const problem = {
      type,
      title: ERROR_KINDS[error.kind].title,
      status: error.status,
      detail,
      instance: publicPathOf(request),
      error: code,
      ...rest,
    };
    return reply.code(error.status).type('application/problem+json; charset=utf-8').send(JSON.stringify(problem));
  }
  if (preferred === 'application/xml' || preferred === 'text/xml') {
    return reply.code(error.status).type(`${preferred}; charset=utf-8`).send(toXml(body, 'error'));
  }
  return reply.code(error.status).type(JSON_TYPE).send(JSON.stringify(body));
}
