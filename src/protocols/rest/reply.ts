/**
 * Writes service results as HTTP responses: status, the headers SPEC §4 names, and the
 * body in the negotiated format. Errors go out in seed 004's structure, or as RFC 9457
 * problem documents when the client prefers `application/problem+json`.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_KINDS, type CarteError } from '../../errors.js';
import type { ItemResult, ListResult } from '../../service/types.js';
import { contentRange, isPartial, linkHeader } from './headers.js';
import { negotiate } from './negotiate.js';

export const JSON_TYPE = 'application/json; charset=utf-8';

/** `http://host:port` of the request (or the configured public URL). */
export function baseUrlOf(request: FastifyRequest, publicUrl?: string): string {
  if (publicUrl) return publicUrl;
  return `${request.protocol}://${request.host}`;
}

export function pathOf(request: FastifyRequest): string {
  const i = request.url.indexOf('?');
  return i === -1 ? request.url : request.url.slice(0, i);
}

export function strongEtag(text: string): string {
  return `"${createHash('sha1').update(text).digest('base64url')}"`;
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

export function ifMatchList(request: FastifyRequest): string[] | undefined {
  const header = request.headers['if-match'];
  if (header === undefined) return undefined;
  return header.split(',').map((t) => t.trim()).filter(Boolean);
}

/** Sends a JSON body, or 304 when the client's copy is current. */
function sendJson(request: FastifyRequest, reply: FastifyReply, status: number, body: unknown, etag?: string): FastifyReply {
  const text = JSON.stringify(body);
  const safe = request.method === 'GET' || request.method === 'HEAD';
  const tag = etag ?? (safe && (status === 200 || status === 206) ? strongEtag(text) : undefined);
  if (tag) reply.header('ETag', tag);
  if (tag && safe && (status === 200 || status === 206) && noneMatch(request, tag)) {
    return reply.code(304).send();
  }
  return reply.code(status).type(JSON_TYPE).send(text);
}

export function sendItem(request: FastifyRequest, reply: FastifyReply, status: number, item: ItemResult, location?: string): FastifyReply {
  if (item.lastModified) reply.header('Last-Modified', item.lastModified.toUTCString());
  if (location) reply.header('Location', location);
  return sendJson(request, reply, status, item.data, item.etag);
}

export interface ListOptions {
  /** Preferences honoured, for `Preference-Applied` (RFC 7240). */
  readonly applied?: readonly string[];
  /** A body other than the bare array (search envelopes). */
  readonly body?: unknown;
}

export function sendList(request: FastifyRequest, reply: FastifyReply, result: ListResult, base: string, params: URLSearchParams, options: ListOptions = {}): FastifyReply {
  reply.header('Content-Range', contentRange(result));
  reply.header('Accept-Range', result.acceptRange);
  const link = linkHeader(base, params, result);
  if (link) reply.header('Link', link);
  if (options.applied && options.applied.length > 0) reply.header('Preference-Applied', options.applied.join(', '));
  return sendJson(request, reply, isPartial(result) ? 206 : 200, options.body ?? result.items);
}

export function sendValue(request: FastifyRequest, reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return sendJson(request, reply, status, body);
}

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

export function sendError(request: FastifyRequest, reply: FastifyReply, error: CarteError, baseUrl: string): FastifyReply {
  for (const [name, value] of Object.entries(error.headers ?? {})) reply.header(name, value);
  // error_uri points at the developer portal, on its own host when config.hosts names one (SPEC §8).
  const body = errorBody(error, request.faces?.developer ?? baseUrl);
  // RFC 9457 when the client prefers it over plain JSON.
  const preferred = negotiate(request.headers.accept, ['application/json', 'application/problem+json']);
  if (preferred === 'application/problem+json') {
    const { error: code, error_description: detail, error_uri: type, ...rest } = body;
    const problem = {
      type,
      title: ERROR_KINDS[error.kind].title,
      status: error.status,
      detail,
      instance: pathOf(request),
      error: code,
      ...rest,
    };
    return reply.code(error.status).type('application/problem+json; charset=utf-8').send(JSON.stringify(problem));
  }
  return reply.code(error.status).type(JSON_TYPE).send(JSON.stringify(body));
}
