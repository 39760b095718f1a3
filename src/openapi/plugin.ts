/**
 * Serves the OpenAPI document (SPEC §9): `GET /v1/openapi.json` and `/v1/openapi.yaml`,
 * without authentication, with the base URLs of the request's faces (SPEC §8 "Domains"),
 * an ETag and 304 for a client that already has it. The document is built once per schema;
 * its text is kept for the few base URLs a server answers on.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CarteServer } from '../app.js';
import type { CarteConfig } from '../config/config.js';
import type { RouteInfo } from '../protocols/rest/routes.js';
import { noneMatch, strongEtag } from '../protocols/rest/reply.js';
import type { ResourceService } from '../service/resource-service.js';
import { toYaml } from './yaml.js';
import { openApiDocument, withUrls, type DocumentInput, type DocumentUrls, type OpenApiDocument } from './document.js';

export interface OpenApiOptions {
  readonly service: ResourceService;
  /** The REST route table, filled when the REST plugin is registered. */
  readonly routes: readonly RouteInfo[];
  readonly config: Pick<CarteConfig, 'limits' | 'events' | 'publicUrl'>;
  /** The scopes the access rules name. */
  readonly scopes: () => readonly string[];
}

export function documentInput(options: OpenApiOptions): DocumentInput {
  const { config } = options;
  return {
    api: options.service.api,
    routes: options.routes,
    limits: { bodyBytes: config.limits.bodyBytes, bulkItems: config.limits.bulkItems },
    eventsMaxRange: config.events.maxRange,
    globalSearchMaxRange: config.limits.globalSearchMaxRange,
    scopes: options.scopes(),
  };
}

/** The document of a running server, for the CLI and tests (`carte openapi`). */
export function serverDocument(server: CarteServer, urls?: DocumentUrls): OpenApiDocument {
  const doc = openApiDocument(documentInput({ service: server.service, routes: server.routes, config: server.config, scopes: () => server.auth.scopesSupported() }));
  const base = server.config.publicUrl ?? urls?.api;
  if (!base) return doc;
  return withUrls(doc, urls ?? { api: base, oauth: base, developer: base });
}

/** The request's faces (`config.hosts`, else the host it came in on). */
export function urlsOf(request: FastifyRequest, publicUrl?: string): DocumentUrls {
  const own = publicUrl ?? `${request.protocol}://${request.host}`;
  return request.faces ?? { api: own, oauth: own, developer: own };
}

interface Text {
  readonly text: string;
  readonly tag: string;
}

interface Rendered {
  readonly doc: OpenApiDocument;
  /** The document as JSON, serialized on first use. */
  json(): Text;
  /** The document as YAML, serialized on first use (the portal never needs it). */
  yaml(): Text;
}

/** Texts per set of base URLs: a handful at most (hosts, a proxy), bounded against forged Host headers. */
const MAX_RENDERED = 16;

function once(make: () => string): () => Text {
  let text: Text | undefined;
  return () => {
    if (!text) {
      const value = make();
      text = { text: value, tag: strongEtag(value) };
    }
    return text;
  };
}

export function documentRenderer(options: OpenApiOptions): (urls: DocumentUrls) => Rendered {
  const rendered = new Map<string, Rendered>();
  return (urls) => {
    const key = `${urls.api} ${urls.oauth} ${urls.developer}`;
    let out = rendered.get(key);
    if (!out) {
      const doc = withUrls(openApiDocument(documentInput(options)), urls);
      out = {
        doc,
        json: once(() => JSON.stringify(doc)),
        yaml: once(() => toYaml(doc)),
      };
      if (rendered.size >= MAX_RENDERED) rendered.delete(rendered.keys().next().value as string);
      rendered.set(key, out);
    }
    return out;
  };
}

export async function openApiPlugin(app: FastifyInstance, options: OpenApiOptions): Promise<void> {
  const render = documentRenderer(options);
  const prefix = options.service.prefix;
  const send = (request: FastifyRequest, reply: FastifyReply, { text, tag }: Text, type: string) => {
    reply.header('ETag', tag).header('Cache-Control', 'no-cache');
    if (noneMatch(request, tag)) return reply.code(304).send();
    return reply.type(type).send(text);
  };
  app.get(`${prefix}/openapi.json`, async (request, reply) => {
    return send(request, reply, render(urlsOf(request, options.config.publicUrl)).json(), 'application/json; charset=utf-8');
  });
  app.get(`${prefix}/openapi.yaml`, async (request, reply) => {
    return send(request, reply, render(urlsOf(request, options.config.publicUrl)).yaml(), 'application/yaml; charset=utf-8');
  });
}
