/**
 * The REST route table, generated from the model (SPEC §4.1): collections, items, nested
 * collections, search, operations and discovery. Each handler translates HTTP to one
 * service call and back; nothing else. The table is also what OpenAPI is generated from.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { ANONYMOUS } from '../../auth/principal.js';
import { errors } from '../../errors.js';
import { fieldCase } from '../../schema/validate.js';
import type { ActionModel, ResourceModel } from '../../schema/types.js';
import type { ResourceService } from '../../service/resource-service.js';
import type { CallContext, ParentScope } from '../../service/types.js';
import type { EventHub } from '../../events/hub.js';
import { holdItemGet } from './long-poll.js';
import { relationSegment } from '../../service/links.js';
import type { XmlShape } from './formats/xml.js';
import { PLAIN_NAMES, resourceNames } from './formats/xml.js';
import { parsePrefer } from './negotiate.js';
import { baseUrlOf, ifMatchList, itemTag, listUrlOf, publicPathOf, sendItem, sendList, sendValue, type RouteMeta } from './reply.js';
import { hintsOf } from './rewrite.js';
import { queryToActionInput, rawQuery, toFilters, toQueryInput } from './to-input.js';

export type RouteKind =
  | 'list' | 'create' | 'bulkReplace' | 'deleteMatching'
  | 'get' | 'replace' | 'update' | 'delete' | 'itemAction'
  | 'search' | 'globalSearch' | 'action' | 'discovery'
  | 'getBlob' | 'putBlob' | 'deleteBlob';

/** One documented route: what OpenAPI and the docs are generated from. */
export interface RouteInfo {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Fastify form (`/v1/clients/:parentId/orders/:id`). */
  readonly url: string;
  readonly kind: RouteKind;
  readonly resource: string | null;
  readonly parent: { readonly resource: string; readonly relation: string } | null;
  readonly action: ActionModel | null;
  readonly operationId: string;
}

export interface RestOptions {
  readonly publicUrl?: string;
  /** The events room: item GETs long-poll through it (SPEC §7). */
  readonly events?: EventHub;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What an XML request body of this route becomes (the resource's or the operation's schema). */
    carteBody?: XmlShape;
  }
}

/** The JSON-Schema-like shape of an item, for reading XML bodies by field type. */
export function resourceShape(resource: ResourceModel): XmlShape {
  return { type: 'object', properties: Object.fromEntries(resource.fieldList.map((f) => [f.name, f.spec as XmlShape])) };
}

/** What each kind of route answers with (SPEC §4.2: CSV for collections only). */
const PRODUCES: Record<RouteKind, RouteMeta['produces']> = {
  list: 'collection',
  create: 'item',
  bulkReplace: 'collection',
  deleteMatching: 'none',
  get: 'item',
  replace: 'item',
  update: 'item',
  delete: 'item',
  itemAction: 'value',
  search: 'collection',
  globalSearch: 'collection',
  action: 'value',
  discovery: 'value',
  getBlob: 'none',
  putBlob: 'none',
  deleteBlob: 'none',
};

const ALL: readonly HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** Async, or (a hot read) sending at once and returning nothing: Fastify then waits for no promise. */
type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown> | undefined;

export function contextOf(request: FastifyRequest, options: RestOptions): CallContext {
  // One shape whether or not a version was named: every read builds one.
  return { principal: request.principal ?? ANONYMOUS, baseUrl: baseUrlOf(request, options.publicUrl), requestId: request.id, apiVersion: hintsOf(request)?.version };
}

/** `Idempotency-Key` of a POST (SPEC §4.7), if any. */
function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const value = request.headers['idempotency-key'];
  return Array.isArray(value) ? value.join(',') : value;
}

export { relationSegment };

export function registerRestRoutes(app: FastifyInstance, service: ResourceService, options: RestOptions): RouteInfo[] {
  const table: RouteInfo[] = [];
  const prefix = service.prefix;
  const api = service.api;
  const ctx = (request: FastifyRequest) => contextOf(request, options);

  /** Registers the handlers of one path, and 405 + Allow for every other method. */
  const path = (url: string, handlers: Partial<Record<RouteInfo['method'], { handler: Handler; info: Omit<RouteInfo, 'method' | 'url'> }>>) => {
    const methods = Object.keys(handlers) as RouteInfo['method'][];
    const allow = [...methods];
    if (methods.includes('GET')) allow.splice(allow.indexOf('GET') + 1, 0, 'HEAD' as RouteInfo['method']);
    allow.push('OPTIONS' as RouteInfo['method']);
    for (const method of methods) {
      const entry = handlers[method] as { handler: Handler; info: Omit<RouteInfo, 'method' | 'url'> };
      const resource = entry.info.resource ? (api.resources.get(entry.info.resource) ?? null) : null;
      const meta: RouteMeta = { produces: PRODUCES[entry.info.kind], api, resource: entry.info.kind === 'globalSearch' ? null : resource };
      const body = bodyShape(entry.info.kind, resource, entry.info.action);
      app.route({ method, url, handler: entry.handler, config: { carte: meta, ...(body ? { carteBody: body } : {}) } });
      table.push({ method, url, ...entry.info });
    }
    app.route({
      method: 'OPTIONS',
      url,
      handler: async (_request, reply) => reply.header('Allow', allow.join(', ')).code(204).send(),
    });
    const rest = ALL.filter((m) => !allow.includes(m as RouteInfo['method']));
    if (rest.length > 0) {
      app.route({
        method: rest as HTTPMethods[],
        url,
        handler: async (request) => {
          throw errors.methodNotAllowed(request.method, allow, methodHint(request.method, url));
        },
      });
    }
  };

  const mounts: { resource: ResourceModel; url: string; parent: RouteInfo['parent'] }[] = [];
  for (const resource of api.resources.values()) {
    mounts.push({ resource, url: `${prefix}/${resource.name}`, parent: null });
  }
  for (const parent of api.resources.values()) {
    for (const relation of parent.relations.values()) {
      if (relation.kind !== 'many') continue;
      const child = api.resources.get(relation.target) as ResourceModel;
      mounts.push({ resource: child, url: `${prefix}/${parent.name}/:parentId/${relationSegment(relation.name)}`, parent: { resource: parent.name, relation: relation.name } });
    }
  }

  for (const mount of mounts) {
    const { resource } = mount;
    const parentOf = (request: FastifyRequest): ParentScope | undefined =>
      mount.parent ? { ...mount.parent, id: (request.params as { parentId: string }).parentId } : undefined;
    const opBase = mount.parent ? `${fieldCase(mount.parent.resource, 'camel')}${capitalize(mount.parent.relation)}` : fieldCase(resource.name, 'camel');
    const info = (kind: RouteKind, verb: string) => ({ kind, resource: resource.name, parent: mount.parent, action: null, operationId: `${verb}${capitalize(opBase)}` });

    path(mount.url, {
      GET: {
        info: info('list', 'list'),
        handler: async (request, reply) => {
          const prefs = parsePrefer(request.headers.prefer);
          const { input, params } = toQueryInput(request.url, prefs.count);
          const result = await service.list(ctx(request), resource.name, input, parentOf(request));
          return sendList(request, reply, result, listUrlOf(request, options.publicUrl), params, { applied: prefs.count ? [`count=${prefs.count}`] : [] });
        },
      },
      POST: {
        info: info('create', 'create'),
        handler: async (request, reply) => {
          const prefs = parsePrefer(request.headers.prefer);
          const key = idempotencyKeyOf(request);
          const item = await service.create(ctx(request), resource.name, request.body, { parent: parentOf(request), ...(key !== undefined ? { idempotencyKey: key } : {}) });
          const location = `${baseUrlOf(request, options.publicUrl)}${publicPathOf(request).replace(/\/$/, '')}/${encodeURIComponent(String(item.id))}`;
          return writeReply(request, reply, prefs, 201, item, location);
        },
      },
      PUT: {
        info: info('bulkReplace', 'replaceAll'),
        handler: async (request, reply) => {
          const items = await service.bulkReplace(ctx(request), resource.name, request.body, { parent: parentOf(request) });
          return sendValue(request, reply, 200, items.map((i) => i.data));
        },
      },
      DELETE: {
        info: info('deleteMatching', 'deleteMatching'),
        handler: async (request, reply) => {
          await service.deleteMatching(ctx(request), resource.name, toFilters(request.url), { parent: parentOf(request) });
          return reply.code(204).send();
        },
      },
    });

    if (!mount.parent && resource.searchFields.length > 0) {
      path(`${mount.url}/search`, {
        GET: {
          info: info('search', 'search'),
          handler: async (request, reply) => {
            const prefs = parsePrefer(request.headers.prefer);
            const { input, params } = toQueryInput(request.url, prefs.count);
            const result = await service.search(ctx(request), resource.name, input);
            const range = result.last >= result.first ? `${result.first}-${result.last}` : null;
            const head = { count: result.total, range, query: result.query, suggestions: result.suggestions };
            const names = resourceNames(api, resource);
            const xml = { root: 'search', names: { itemName: (key: string) => (key === 'results' ? resource.singular : 'item'), child: (key: string) => (key === 'results' ? names : PLAIN_NAMES) } };
            return sendList(request, reply, result, listUrlOf(request, options.publicUrl), params, { envelope: { head, key: 'results' }, xml, rows: result.items, applied: prefs.count ? [`count=${prefs.count}`] : [] });
          },
        },
      });
    }

    const itemUrl = `${mount.url}/:id`;
    const idOf = (request: FastifyRequest) => (request.params as { id: string }).id;
    const itemHandlers: Parameters<typeof path>[1] = {
      GET: {
        info: info('get', 'get'),
        // Not async: an item the service has at once (SQLite) is sent without a promise.
        handler: (request, reply) => {
          const fields = request.url.includes('?') ? (new URLSearchParams(rawQuery(request.url)).get('fields') ?? undefined) : undefined;
          const get = () => service.get(ctx(request), resource.name, idOf(request), { fields, parent: parentOf(request) });
          // SPEC §7 long polling: `Prefer: wait` + `If-None-Match` holds until the item changes.
          // Without `If-None-Match` nothing can be held: the common read goes straight to the service.
          const item = request.headers['if-none-match'] === undefined ? get() : holdItemGet({ request, reply, hub: options.events, service, resource: resource.name, id: idOf(request) }, get);
          if (item instanceof Promise) return item.then((found) => void sendItem(request, reply, 200, found));
          sendItem(request, reply, 200, item);
          return undefined;
        },
      },
      PUT: {
        info: info('replace', 'replace'),
        handler: async (request, reply) => {
          const prefs = parsePrefer(request.headers.prefer);
          const { result, created } = await service.replace(ctx(request), resource.name, idOf(request), request.body, { parent: parentOf(request), ifMatch: ifMatchList(request) });
          const location = created ? `${baseUrlOf(request, options.publicUrl)}${publicPathOf(request)}` : undefined;
          return writeReply(request, reply, prefs, created ? 201 : 200, result, location);
        },
      },
      PATCH: {
        info: info('update', 'update'),
        handler: async (request, reply) => {
          const prefs = parsePrefer(request.headers.prefer);
          const item = await service.update(ctx(request), resource.name, idOf(request), request.body, { parent: parentOf(request), ifMatch: ifMatchList(request) });
          return writeReply(request, reply, prefs, 200, item);
        },
      },
      DELETE: {
        info: info('delete', 'delete'),
        handler: async (request, reply) => {
          const prefs = parsePrefer(request.headers.prefer);
          const item = await service.delete(ctx(request), resource.name, idOf(request), { parent: parentOf(request), ifMatch: ifMatchList(request) });
          if (prefs.return === 'representation') {
            reply.header('Preference-Applied', 'return=representation');
            return sendItem(request, reply, 200, item);
          }
          return reply.code(204).send();
        },
      },
    };
    const defaultAction = resource.defaultAction ? resource.actions.get(resource.defaultAction) : undefined;
    if (!mount.parent && defaultAction) {
      itemHandlers.POST = {
        info: { ...info('itemAction', defaultAction.name), action: defaultAction },
        handler: async (request, reply) => runAction(request, reply, defaultAction, { resource: resource.name, id: idOf(request) }),
      };
    }
    path(itemUrl, itemHandlers);

    if (!mount.parent) {
      for (const action of resource.actions.values()) {
        path(`${itemUrl}/${action.name}`, {
          POST: {
            info: { ...info('itemAction', fieldCase(action.name, 'camel')), action },
            handler: async (request, reply) => runAction(request, reply, action, { resource: resource.name, id: idOf(request) }),
          },
        });
      }
    }
  }

  const runAction = async (request: FastifyRequest, reply: FastifyReply, action: ActionModel, item?: { resource: string; id: string }) => {
    const params = new URLSearchParams(rawQuery(request.url));
    let input: unknown = request.body;
    const fromQuery = queryToActionInput(action.spec.input, params);
    if (input === undefined || input === null) input = Object.keys(fromQuery).length > 0 || action.spec.input?.type === 'object' ? fromQuery : null;
    else if (typeof input === 'object' && !Array.isArray(input)) input = { ...fromQuery, ...(input as Record<string, unknown>) };
    const key = idempotencyKeyOf(request);
    if (key === undefined) return sendValue(request, reply, 200, { result: await service.action(ctx(request), action.rpcName, input, item) });
    const outcome = await service.actionOnce(ctx(request), action.rpcName, input, item, key);
    if (outcome.replayed) reply.header('Idempotent-Replayed', 'true');
    return sendValue(request, reply, 200, { result: outcome.result });
  };

  for (const action of api.actions.values()) {
    path(`${prefix}/${action.path}`, {
      POST: {
        info: { kind: 'action', resource: null, parent: null, action, operationId: fieldCase(action.path.replace(/\//g, '-'), 'camel') },
        handler: async (request, reply) => runAction(request, reply, action),
      },
    });
  }

  if ([...api.resources.values()].some((r) => r.searchFields.length > 0)) {
    path(`${prefix}/search`, {
      GET: {
        info: { kind: 'globalSearch', resource: null, parent: null, action: null, operationId: 'searchEverything' },
        handler: async (request, reply) => {
          const { params } = toQueryInput(request.url);
          const q = params.get('q') ?? '';
          const input = { ...(params.has('range') ? { range: params.get('range') as string } : {}), ...(params.has('limit') ? { limit: params.get('limit') as string } : {}), ...(params.has('offset') ? { offset: params.get('offset') as string } : {}) };
          const result = await service.searchAll(ctx(request), q, input);
          const list = { ...result, items: [], count: 'exact' as const, estimated: false, nextCursor: null, cursorPage: false };
          const xml = { root: 'results', names: { itemName: () => 'result', child: () => PLAIN_NAMES } };
          return sendList(request, reply, list, listUrlOf(request, options.publicUrl), params, { body: result.results, xml, rows: result.results as unknown as Record<string, unknown>[] });
        },
      },
    });
  }

  path(prefix, {
    GET: {
      info: { kind: 'discovery', resource: null, parent: null, action: null, operationId: 'discover' },
      handler: async (request, reply) => sendValue(request, reply, 200, discovery(service, baseUrlOf(request, options.publicUrl), hintsOf(request)?.version, request.faces?.developer), { root: 'api' }),
    },
  });

  return table;
}

function writeReply(request: FastifyRequest, reply: FastifyReply, prefs: ReturnType<typeof parsePrefer>, status: number, item: Parameters<typeof sendItem>[3], location?: string) {
  if (prefs.return === 'minimal') {
    reply.header('Preference-Applied', 'return=minimal');
    if (location) reply.header('Location', location);
    if (item.replayed) reply.header('Idempotent-Replayed', 'true');
    reply.header('ETag', itemTag(request, item));
    return reply.code(204).send();
  }
  if (prefs.return === 'representation') reply.header('Preference-Applied', 'return=representation');
  return sendItem(request, reply, status, item, location);
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function methodHint(method: string, url: string): string | undefined {
  if (method === 'POST' && url.endsWith('/:id')) return 'How would you even post an item? POST to its collection to create one, or PUT here to create it with this id.';
  if (method === 'PATCH' && !url.endsWith('/:id')) return 'PATCH applies to one item; PUT on a collection replaces the items of the body.';
  return undefined;
}

/** The XML body shape of a route: its resource, its bulk array, or its operation's input. */
function bodyShape(kind: RouteKind, resource: ResourceModel | null, action: ActionModel | null): XmlShape | undefined {
  if (action) return action.spec.input as XmlShape | undefined;
  if (!resource) return undefined;
  if (kind === 'create' || kind === 'replace' || kind === 'update') return resourceShape(resource);
  if (kind === 'bulkReplace') return { type: 'array', items: resourceShape(resource) };
  return undefined;
}

/** `GET /v1`: every collection and operation with links (seed 003: discoverability). */
function discovery(service: ResourceService, base: string, version?: number, docsBase = base) {
  const api = service.api;
  const prefix = service.versions.prefix(version);
  const types = ['application/json', 'application/xml'];
  return {
    name: api.name,
    version: service.versions.versionOf(version),
    versions: service.versions.supported.map((v) => ({
      version: v,
      href: `${base}/v${v}`,
      ...(v === api.previous?.version ? { deprecation: api.previous.deprecation.toISOString(), sunset: api.previous.sunset.toISOString() } : {}),
    })),
    ...(api.description ? { description: api.description } : {}),
    resources: [...api.resources.values()].map((r) => ({
      name: r.name,
      singular: r.singular,
      href: `${base}${prefix}/${r.name}`,
      ...(r.description ? { description: r.description } : {}),
      ...(r.searchFields.length > 0 ? { search: `${base}${prefix}/${r.name}/search` } : {}),
      relations: [...r.relations.values()].map((rel) => ({
        name: rel.name,
        kind: rel.kind,
        resource: rel.target,
        ...(rel.kind === 'many' ? { href: `${base}${prefix}/${r.name}/{id}/${relationSegment(rel.name)}` } : {}),
      })),
    })),
    operations: [
      ...[...api.actions.values()].map((a) => ({ name: a.rpcName, href: `${base}${prefix}/${a.path}`, method: 'POST', ...(a.spec.summary ? { summary: a.spec.summary } : {}) })),
      ...[...api.resources.values()].flatMap((r) =>
        [...r.actions.values()].map((a) => ({ name: a.rpcName, href: `${base}${prefix}/${r.name}/{id}/${a.name}`, method: 'POST', ...(a.spec.summary ? { summary: a.spec.summary } : {}) })),
      ),
    ],
    links: [
      { rel: 'self', href: `${base}${prefix}`, action: 'GET', types },
      ...[...api.resources.values()].flatMap((r) => [
        { rel: r.name, href: `${base}${prefix}/${r.name}`, action: 'GET', types },
        { rel: r.name, href: `${base}${prefix}/${r.name}`, action: 'POST', types: ['application/json', 'application/x-www-form-urlencoded'] },
      ]),
      ...[...api.actions.values()].map((a) => ({ rel: a.rpcName, href: `${base}${prefix}/${a.path}`, action: 'POST', types })),
      { rel: 'docs', href: `${docsBase}/docs`, action: 'GET', types: ['text/html'] },
    ],
  };
}
