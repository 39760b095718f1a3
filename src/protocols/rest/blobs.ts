/**
 * Blob fields over HTTP (SPEC §4.9, RFC 9110 §14): `PUT /v1/restaurants/7/photo` streams raw
 * bytes in (415 for a type the field does not take, 413 past `maxBytes`, detected while
 * reading); GET and HEAD stream them out with `Accept-Ranges: bytes`, `Content-Length`,
 * `ETag` and `Last-Modified`; one byte range (`bytes=0-2499`, `bytes=2500-`, `bytes=-500`)
 * answers 206 with `Content-Range`, an unsatisfiable one 416 `Content-Range: bytes *∕size`;
 * `If-Range` falls back to the whole blob when it no longer matches. DELETE → 204.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { errors } from '../../errors.js';
import type { ResourceModel } from '../../schema/types.js';
import type { BlobContent } from '../../service/blobs.js';
import type { ResourceService } from '../../service/resource-service.js';
import { ifMatchList, noneMatch, type RouteMeta } from './reply.js';
import { hintsOf } from './rewrite.js';
import { contextOf, type RestOptions, type RouteInfo } from './routes.js';

export type ByteRange = { readonly start: number; readonly end: number } | 'unsatisfiable' | null;

/**
 * One range of a `Range` header for a representation of `size` bytes (RFC 9110 §14.1.2).
 * null: no usable range (no header, another unit, several ranges or malformed: the whole
 * representation is sent, as §14.2 allows); 'unsatisfiable': 416.
 */
export function parseByteRange(header: string | undefined, size: number): ByteRange {
  if (!header) return null;
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    // Suffix range: the last N bytes.
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Number(m[2]);
  if (m[2] !== '' && end < start) return null; // invalid: ignored
  if (start >= size) return 'unsatisfiable';
  // SPEC §4.9 (decision): `bytes=2500-` of 4580 bytes is `bytes 2500-4579/4580`.
  return { start, end: Math.min(end, size - 1) };
}

/** RFC 9110 §13.1.5: If-Range holds the current strong ETag, or the exact Last-Modified date. */
function ifRangeHolds(request: FastifyRequest, blob: BlobContent): boolean {
  const header = request.headers['if-range'];
  if (!header) return true;
  const value = String(header).trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === blob.etag;
  const date = Date.parse(value);
  return Number.isFinite(date) && Math.floor(blob.lastModified.getTime() / 1000) * 1000 === date;
}

const NONE: RouteMeta['produces'] = 'none';

export async function registerBlobRoutes(app: FastifyInstance, service: ResourceService, options: RestOptions, table: RouteInfo[]): Promise<void> {
  const api = service.api;
  const blobbed = [...api.resources.values()].filter((r) => r.blobFields.length > 0);
  if (blobbed.length === 0) return;
  // An encapsulated context: blob bodies are streams, whatever their type — no parser reads them.
  await app.register(async (blobs) => {
    blobs.removeAllContentTypeParsers();
    blobs.addContentTypeParser('*', (_request, _payload, done) => done(null));
    for (const resource of blobbed) for (const field of resource.blobFields) registerField(blobs, service, options, table, resource, field.name);
  });
}

function registerField(app: FastifyInstance, service: ResourceService, options: RestOptions, table: RouteInfo[], resource: ResourceModel, field: string): void {
  const url = `${service.prefix}/${resource.name}/:id/${field}`;
  const config = { carte: { produces: NONE, api: service.api, resource } };
  const idOf = (request: FastifyRequest) => (request.params as { id: string }).id;
  const base = { resource: resource.name, parent: null, action: null };
  const opName = `${resource.name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())}${field.charAt(0).toUpperCase()}${field.slice(1)}`;

  const read = async (request: FastifyRequest, reply: FastifyReply, withBody: boolean) => {
    if (hintsOf(request)?.jsonp) throw errors.invalidRequest('Blobs are not served as JSONP; fetch the URL directly');
    const blob = await service.getBlob(contextOf(request, options), resource.name, idOf(request), field);
    reply.header('Accept-Ranges', 'bytes');
    reply.header('ETag', blob.etag);
    reply.header('Last-Modified', blob.lastModified.toUTCString());
    if (noneMatch(request, blob.etag)) return reply.code(304).send();
    const range = ifRangeHolds(request, blob) ? parseByteRange(request.headers.range, blob.size) : null;
    if (range === 'unsatisfiable') {
      throw errors.rangeNotSatisfiable(`The ${field} has ${blob.size} bytes; the range ${request.headers.range ?? ''} asks for none of them`, { 'Content-Range': `bytes */${blob.size}` });
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? blob.size - 1;
    reply.type(blob.contentType);
    reply.header('Content-Length', String(end - start + 1));
    if (range) reply.code(206).header('Content-Range', `bytes ${start}-${end}/${blob.size}`);
    if (!withBody || blob.size === 0) return reply.send();
    return reply.send(await blob.open(start, end));
  };

  app.route({ method: 'GET', url, exposeHeadRoute: false, config, handler: (request, reply) => read(request, reply, true) });
  app.route({ method: 'HEAD', url, config, handler: (request, reply) => read(request, reply, false) });
  table.push({ method: 'GET', url, kind: 'getBlob', ...base, operationId: `get${opName}` });

  app.route({
    method: 'PUT',
    url,
    config,
    handler: async (request, reply) => {
      const length = request.headers['content-length'];
      const declared = length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
      try {
        const blob = await service.putBlob(contextOf(request, options), resource.name, idOf(request), field, {
          contentType: request.headers['content-type'],
          ...(declared !== undefined ? { length: declared } : {}),
          stream: request.raw,
          ...(request.headers['if-match'] !== undefined ? { ifMatch: ifMatchList(request) } : {}),
        });
        reply.header('ETag', blob.etag);
        return reply.code(204).send();
      } catch (e) {
        // An upload refused before its end: the rest of the body is not worth reading.
        if (!request.raw.readableEnded) reply.header('Connection', 'close');
        throw e;
      }
    },
  });
  table.push({ method: 'PUT', url, kind: 'putBlob', ...base, operationId: `put${opName}` });

  app.route({
    method: 'DELETE',
    url,
    config,
    handler: async (request, reply) => {
      await service.deleteBlob(contextOf(request, options), resource.name, idOf(request), field, ifMatchList(request));
      return reply.code(204).send();
    },
  });
  table.push({ method: 'DELETE', url, kind: 'deleteBlob', ...base, operationId: `delete${opName}` });

  const allow = 'GET, HEAD, PUT, DELETE, OPTIONS';
  app.route({ method: 'OPTIONS', url, handler: async (_request, reply) => reply.header('Allow', allow).code(204).send() });
  app.route({
    method: ['POST', 'PATCH'] as HTTPMethods[],
    url,
    config,
    handler: async (request) => {
      throw errors.methodNotAllowed(request.method, allow.split(', '), `${request.method} does not apply to a blob: PUT its bytes, or DELETE it`);
    },
  });
}
