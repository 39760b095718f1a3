/**
 * The operations of one route of the REST route table (SPEC §4): a resource's collection,
 * item, search, blob and nested routes, operations and item actions, global search and
 * discovery — with their parameters, bodies per media type, headers, errors and security.
 */
import type { RouteInfo } from '../protocols/rest/routes.js';
import type { Json, ResourceModel } from '../schema/types.js';
import { addAction } from './api-operations.js';
import { camel, content, EXAMPLE_BASE, operationIdOf, accessOf, READ_TYPES, ref, typeName, type Builder, type Schema } from './builder.js';
import type { OpenApiObject } from './document.js';

/** `/v1/clients/:parentId/orders/:id` → `/v1/clients/{clientId}/orders/{id}`. */
export function openApiPath(route: RouteInfo, b: Builder): string {
  const api = b.input.api;
  let url = route.url.replace(/:id\b/g, '{id}');
  if (route.parent) url = url.replace(':parentId', `{${camel(api.resources.get(route.parent.resource)?.singular ?? 'parent')}Id}`);
  return url;
}

export function addRouteOperations(b: Builder, route: RouteInfo): void {
  const { input } = b;
  const { api } = input;
  const prefix = b.prefix;
  const resource = route.resource ? (api.resources.get(route.resource) ?? null) : null;
  const access = accessOf(route, resource);
  const sec = b.security(access?.rule ?? null, resource?.name ?? null, access?.op ?? 'read');
  const path = openApiPath(route, b);
  const pathParams: Schema[] = [];
  if (route.parent) {
    const parent = api.resources.get(route.parent.resource) as ResourceModel;
    pathParams.push(b.parentParam(parent, `${camel(parent.singular)}Id`));
  }
  if (route.url.includes(':id')) pathParams.push(b.idParam(resource as ResourceModel));
  // The default item action (`POST /v1/x/{id}`) shares its name with `POST /v1/x/{id}/<action>`.
  const operationId = b.uniqueId(operationIdOf(route, api));
  const op = (o: OpenApiObject): OpenApiObject => ({
    ...o,
    operationId,
    security: sec.security,
    description: [o.description, sec.note].filter(Boolean).join('\n\n'),
  });
  const head = (get: OpenApiObject): void => {
    const responses = Object.fromEntries(
      Object.entries(get.responses as Record<string, OpenApiObject>).map(([status, r]) => [status, '$ref' in r ? r : { description: r.description, ...(r.headers ? { headers: r.headers } : {}) }]),
    );
    b.add({ method: 'head', path, operation: { ...get, operationId: b.uniqueId(`${operationId}Head`), summary: `${get.summary as string} (headers only)`, description: `The headers of GET ${path}, without the body (counts: \`Content-Range\`).`, responses } });
  };
  const parentSingular = route.parent ? (api.resources.get(route.parent.resource)?.singular ?? route.parent.resource) : '';
  const parentNote = route.parent ? `\n\nOnly the ${route.parent.relation} of the ${parentSingular} \`{${camel(parentSingular)}Id}\`; 404 when it does not exist.` : '';
  const nested: Record<string, Schema> = route.parent ? { '404': b.error('NotFound') } : {};

  if (resource && !route.action) {
    const T = typeName(resource.singular);
    const tag = resource.name;
    if (!b.resourceTags.includes(tag)) b.resourceTags.push(tag);
    const s = b.resourceSchemas(resource);
    const listHeaders = b.headerSet(['Content-Range', 'Accept-Range', 'Link', 'ETag', 'RateLimit', 'RateLimit-Policy']);
    const itemHeaders = b.headerSet(['ETag', ...(resource.timestamps.updatedAt ? ['Last-Modified'] : []), 'Link', 'RateLimit', 'RateLimit-Policy']);
    const writeHeaders = b.headerSet(['ETag', ...(resource.timestamps.updatedAt ? ['Last-Modified'] : []), 'Link', 'Preference-Applied']);
    const list = { type: 'array', items: s.item };
    const listXml = { type: 'array', items: s.item, xml: { name: resource.name, wrapped: true } };
    const example = b.itemExample(resource);
    const listExample = [b.itemExample(resource, 'self')];
    const inputExample = b.inputExample(resource);
    const writeTypes = ['application/json', 'application/x-www-form-urlencoded', 'application/xml'];
    const formEncoding = Object.fromEntries(resource.fieldList.filter((f) => f.type === 'object').map((f) => [f.name, { style: 'deepObject', explode: true }]));
    const writeBody = (schema: Schema, ex: Json, types = writeTypes): OpenApiObject => ({
      required: true,
      content: Object.fromEntries(
        Object.entries(content(types, schema, ex)).map(([type, media]) => [type, type === 'application/x-www-form-urlencoded' && Object.keys(formEncoding).length > 0 ? { ...(media as OpenApiObject), encoding: formEncoding } : media]),
      ),
    });
    const conditional: Record<string, Schema> = resource.requireIfMatch ? { '428': b.error('PreconditionRequired') } : {};
    const bodyErrors = { '400': b.error('BadRequest'), '406': b.error('NotAcceptable'), '409': b.error('Conflict'), '413': b.error('PayloadTooLarge'), '415': b.error('UnsupportedMediaType') };

    switch (route.kind) {
      case 'list': {
        const get = op({
          tags: [tag],
          summary: route.parent ? `List the ${route.parent.relation} of a ${api.resources.get(route.parent.resource)?.singular}` : `List ${resource.name}`,
          description: `A page of ${resource.name}: a bare array, with its position in \`Content-Range\`, the largest page in \`Accept-Range\` and the other pages in \`Link\`. 206 when the page is not the whole (filtered) collection. Filters: \`field=a,b\` (any of), \`field[op]=v\` (ne, gt, gte, lt, lte, like, null); different fields must all hold.${parentNote}`,
          parameters: [...pathParams, ...b.pagingParams(resource.maxRange, resource.singular, true), ...b.sortParams(resource), b.fieldsParam(resource), ...b.filterParams(resource, 'list'), b.headerParam('PreferRead'), b.headerParam('IfNoneMatch')],
          responses: b.commonErrors(sec.anonymous, {
            '200': { description: 'The whole (filtered) collection.', headers: listHeaders, content: content([...READ_TYPES, 'text/csv'], list, listExample, listXml) },
            '206': { description: 'A page of the collection.', headers: listHeaders, content: content([...READ_TYPES, 'text/csv'], list, listExample, listXml) },
            '304': { description: 'Not modified (`If-None-Match`).', headers: b.headerSet(['ETag']) },
            '400': b.error('BadRequest'),
            '406': b.error('NotAcceptable'),
            '416': b.error('RangeNotSatisfiable'),
            ...nested,
          }),
        });
        b.add({ method: 'get', path, operation: get });
        head(get);
        break;
      }
      case 'create':
        b.add({
          method: 'post',
          path,
          operation: op({
            tags: [tag],
            summary: route.parent ? `Create a ${resource.singular} of a ${api.resources.get(route.parent.resource)?.singular}` : `Create a ${resource.singular}`,
            description: `Creates a ${resource.singular}: 201 with \`Location\` and the new item. The server assigns the id (an \`id\` in the body is 400; PUT chooses one). Forms (\`address[city]=…\`) and XML are read by the fields' types.${parentNote}`,
            parameters: [...pathParams, b.headerParam('IdempotencyKey'), b.headerParam('PreferWrite')],
            requestBody: writeBody(s.input, inputExample),
            responses: b.commonErrors(sec.anonymous, {
              '201': { description: 'Created.', headers: { Location: b.header('Location'), ...writeHeaders, ...b.headerSet(['Idempotent-Replayed']) }, content: content(READ_TYPES, s.item, example) },
              '204': { description: 'Created (`Prefer: return=minimal`).', headers: { Location: b.header('Location'), ...b.headerSet(['ETag', 'Preference-Applied']) } },
              ...bodyErrors,
              '422': b.error('UnprocessableContent'),
              ...nested,
            }),
          }),
        });
        break;
      case 'bulkReplace':
        b.add({
          method: 'put',
          path,
          operation: op({
            tags: [tag],
            summary: `Replace many ${resource.name}`,
            description: `Replaces (or creates) every item of the body, each with its \`id\`, all or nothing (at most ${input.limits.bulkItems} items).${parentNote}`,
            parameters: [...pathParams],
            requestBody: writeBody({ type: 'array', items: s.replacement, maxItems: input.limits.bulkItems, xml: { name: resource.name, wrapped: true } }, [{ id: resource.key.type === 'uuid' ? '3fa85f64-5717-4562-b3fc-2c963f66afa6' : 1, ...inputExample }], ['application/json', 'application/xml']),
            responses: b.commonErrors(sec.anonymous, { '200': { description: 'The items as stored.', content: content(READ_TYPES, { type: 'array', items: s.item }, undefined, listXml) }, ...bodyErrors, ...nested }),
          }),
        });
        break;
      case 'deleteMatching':
        b.add({
          method: 'delete',
          path,
          operation: op({
            tags: [tag],
            summary: `Delete the ${resource.name} matching filters`,
            description: `Deletes every item matching the filters, all or nothing. At least one filter is required (400 without).${parentNote}`,
            parameters: [...pathParams, ...b.filterParams(resource, 'list')],
            responses: b.commonErrors(sec.anonymous, { '204': { description: 'Deleted.' }, '400': b.error('BadRequest'), '409': b.error('Conflict'), ...nested }),
          }),
        });
        break;
      case 'search': {
        b.schemas[`${T}Search`] ??= {
          type: 'object',
          description: `A search of ${resource.name} (SPEC §4.6).`,
          properties: {
            count: { type: ['integer', 'null'], description: 'Items matching.' },
            range: { type: ['string', 'null'], description: 'Indexes returned, `first-last`.' },
            query: { type: 'string', description: 'The search as understood.' },
            suggestions: { type: 'array', items: { type: 'string' }, maxItems: 5, description: 'Indexed words completing or close to the patterns\' words.' },
            results: { type: 'array', items: s.item, xml: { wrapped: true } },
          },
          required: ['count', 'range', 'query', 'suggestions', 'results'],
          xml: { name: 'search' },
        };
        const searchSchema = ref('schemas', `${T}Search`);
        const searchHeaders = b.headerSet(['Content-Range', 'Accept-Range', 'Link', 'ETag', 'RateLimit', 'RateLimit-Policy']);
        const pattern = resource.searchFields[0]?.name ?? 'name';
        const ex = { count: 1, range: '0-0', query: `${pattern}=*napoli*`, suggestions: ['napoli', 'napolitano'], results: listExample };
        const get = op({
          tags: [tag],
          summary: `Search ${resource.name}`,
          description: `Patterns on the searchable fields (${resource.searchFields.map((f) => `\`${f.name}\``).join(', ')}): \`*\` any sequence, case- and accent-insensitive, backed by a full-text index. Other parameters filter as on the collection. The results come with \`suggestions\` for the words searched.`,
          parameters: [...b.pagingParams(resource.maxRange, 'search', false), ...b.sortParams(resource), b.fieldsParam(resource), ...b.filterParams(resource, 'search'), b.headerParam('PreferRead'), b.headerParam('IfNoneMatch')],
          responses: b.commonErrors(sec.anonymous, {
            '200': { description: 'Every match.', headers: searchHeaders, content: content([...READ_TYPES, 'text/csv'], searchSchema, ex) },
            '206': { description: 'A page of the matches.', headers: searchHeaders, content: content([...READ_TYPES, 'text/csv'], searchSchema, ex) },
            '304': { description: 'Not modified (`If-None-Match`).', headers: b.headerSet(['ETag']) },
            '400': b.error('BadRequest'),
            '406': b.error('NotAcceptable'),
            '416': b.error('RangeNotSatisfiable'),
          }),
        });
        b.add({ method: 'get', path, operation: get });
        head(get);
        break;
      }
      case 'get': {
        const get = op({
          tags: [tag],
          summary: route.parent ? `Get a ${resource.singular} of a ${api.resources.get(route.parent.resource)?.singular}` : `Get a ${resource.singular}`,
          description: `The ${resource.singular} with its links (\`links\`, and as a \`Link\` header). \`Prefer: wait=N\` with \`If-None-Match\` holds the request until it changes (long polling).${parentNote}`,
          parameters: [...pathParams, b.fieldsParam(resource), b.headerParam('IfNoneMatch'), b.headerParam('IfModifiedSince'), b.headerParam('PreferWait')],
          responses: b.commonErrors(sec.anonymous, {
            '200': { description: `The ${resource.singular}.`, headers: itemHeaders, content: content(READ_TYPES, s.item, example) },
            '304': { description: 'Not modified (`If-None-Match`, `If-Modified-Since`, or nothing changed during `Prefer: wait`).', headers: b.headerSet(['ETag']) },
            '400': b.error('BadRequest'),
            '404': b.error('NotFound'),
            '406': b.error('NotAcceptable'),
          }),
        });
        b.add({ method: 'get', path, operation: get });
        head(get);
        break;
      }
      case 'replace':
        b.add({
          method: 'put',
          path,
          operation: op({
            tags: [tag],
            summary: `Replace a ${resource.singular}`,
            description: `Replaces the whole ${resource.singular}: absent fields are cleared (default or null). No such id: creates it with this id (201).${parentNote}`,
            parameters: [...pathParams, b.headerParam('IfMatch'), b.headerParam('PreferWrite')],
            requestBody: writeBody(s.input, inputExample),
            responses: b.commonErrors(sec.anonymous, {
              '200': { description: 'Replaced.', headers: writeHeaders, content: content(READ_TYPES, s.item, example) },
              '201': { description: 'Created with this id.', headers: { Location: b.header('Location'), ...writeHeaders }, content: content(READ_TYPES, s.item, example) },
              '204': { description: 'Done (`Prefer: return=minimal`).', headers: b.headerSet(['ETag', 'Preference-Applied']) },
              ...bodyErrors,
              '404': b.error('NotFound'),
              '412': b.error('PreconditionFailed'),
              ...conditional,
            }),
          }),
        });
        break;
      case 'update':
        b.add({
          method: 'patch',
          path,
          operation: op({
            tags: [tag],
            summary: `Update a ${resource.singular}`,
            description: `A JSON merge patch (RFC 7396): members present are set, \`null\` clears one, the others stay.${resource.stateField ? ` \`${resource.stateField.name}\` moves only along its transitions (409 \`invalid_transition\` otherwise).` : ''}${parentNote}`,
            parameters: [...pathParams, b.headerParam('IfMatch'), b.headerParam('PreferWrite')],
            requestBody: { required: true, content: content(['application/merge-patch+json', 'application/json', 'application/xml'], s.patch, b.patchExample(resource)) },
            responses: b.commonErrors(sec.anonymous, {
              '200': { description: 'Updated.', headers: writeHeaders, content: content(READ_TYPES, s.item, example) },
              '204': { description: 'Updated (`Prefer: return=minimal`).', headers: b.headerSet(['ETag', 'Preference-Applied']) },
              ...bodyErrors,
              '404': b.error('NotFound'),
              '412': b.error('PreconditionFailed'),
              ...conditional,
            }),
          }),
        });
        break;
      case 'delete':
        b.add({
          method: 'delete',
          path,
          operation: op({
            tags: [tag],
            summary: `Delete a ${resource.singular}`,
            description: `Deletes the ${resource.singular}. 409 while other items reference it (unless the relation cascades).${parentNote}`,
            parameters: [...pathParams, b.headerParam('IfMatch'), b.headerParam('PreferDelete')],
            responses: b.commonErrors(sec.anonymous, {
              '200': { description: 'Deleted (`Prefer: return=representation`): the item as it was.', content: content(READ_TYPES, s.item, example) },
              '204': { description: 'Deleted.' },
              '404': b.error('NotFound'),
              '409': b.error('Conflict'),
              '412': b.error('PreconditionFailed'),
              ...conditional,
            }),
          }),
        });
        break;
      case 'getBlob':
      case 'putBlob':
      case 'deleteBlob': {
        const field = route.url.split('/').pop() as string;
        const blob = resource.fields.get(field)?.blob ?? { mediaTypes: ['application/octet-stream'], maxBytes: 0 };
        const bytes = Object.fromEntries(blob.mediaTypes.map((t) => [t, {}]));
        if (route.kind === 'getBlob') {
          const get = op({
            tags: [tag],
            summary: `Download the ${field} of a ${resource.singular}`,
            description: `The bytes, streamed. One byte range (\`Range: bytes=0-2499\`) answers 206 with \`Content-Range\`; \`If-Range\` falls back to the whole blob when it changed.`,
            parameters: [...pathParams, b.headerParam('Range'), b.headerParam('IfRange'), b.headerParam('IfNoneMatch')],
            responses: b.commonErrors(sec.anonymous, {
              '200': { description: 'The whole blob.', headers: b.headerSet(['Accept-Ranges', 'Content-Length', 'ETag', 'Last-Modified']), content: bytes },
              '206': { description: 'The range asked for.', headers: b.headerSet(['Accept-Ranges', 'Content-Length', 'Bytes-Content-Range', 'ETag', 'Last-Modified']), content: bytes },
              '304': { description: 'Not modified (`If-None-Match`).', headers: b.headerSet(['ETag']) },
              '404': b.error('NotFound'),
              '416': b.error('BytesNotSatisfiable'),
            }),
          });
          b.add({ method: 'get', path, operation: get });
          head(get);
        } else if (route.kind === 'putBlob') {
          b.add({
            method: 'put',
            path,
            operation: op({
              tags: [tag],
              summary: `Upload the ${field} of a ${resource.singular}`,
              description: `Raw bytes of type ${blob.mediaTypes.map((t) => `\`${t}\``).join(', ')}, at most ${blob.maxBytes} bytes (413 beyond, detected while reading).`,
              parameters: [...pathParams, b.headerParam('IfMatch')],
              requestBody: { required: true, content: bytes },
              responses: b.commonErrors(sec.anonymous, {
                '204': { description: 'Stored.', headers: b.headerSet(['ETag']) },
                '404': b.error('NotFound'),
                '412': b.error('PreconditionFailed'),
                '413': b.error('PayloadTooLarge'),
                '415': b.error('UnsupportedMediaType'),
              }),
            }),
          });
        } else {
          b.add({
            method: 'delete',
            path,
            operation: op({
              tags: [tag],
              summary: `Delete the ${field} of a ${resource.singular}`,
              parameters: [...pathParams, b.headerParam('IfMatch')],
              responses: b.commonErrors(sec.anonymous, { '204': { description: 'Deleted.' }, '404': b.error('NotFound'), '412': b.error('PreconditionFailed') }),
            }),
          });
        }
        break;
      }
    }
    return;
  }

  if (route.action) addAction(b, route, route.action, path, pathParams, op, sec.anonymous);
  else if (route.kind === 'globalSearch') {
    b.schemas.SearchHit ??= {
      type: 'object',
      properties: {
        resource: { type: 'string', enum: [...api.resources.values()].filter((r) => r.searchFields.length > 0).map((r) => r.name) },
        id: { type: ['integer', 'string'] },
        href: { type: 'string', format: 'uri' },
        score: { type: 'number' },
        item: { type: 'object', additionalProperties: true },
      },
      required: ['resource', 'id', 'href', 'score', 'item'],
      xml: { name: 'result' },
    };
    const hit = ref('schemas', 'SearchHit');
    const first = [...api.resources.values()].find((r) => r.searchFields.length > 0);
    const ex = first ? [{ resource: first.name, id: 1, href: `${EXAMPLE_BASE}${prefix}/${first.name}/1`, score: 2.5, item: b.itemExample(first, 'self') }] : [];
    const headers = b.headerSet(['Content-Range', 'Accept-Range', 'Link', 'ETag', 'RateLimit', 'RateLimit-Policy']);
    const get = op({
      tags: ['Search'],
      summary: 'Search every resource',
      description: 'Every word of `q` must match; results across resources, ranked, paged like a collection. Each resource\'s read rule applies.',
      parameters: [{ name: 'q', in: 'query', required: true, description: 'Words to find (`running paid`).', schema: { type: 'string' }, example: 'napoli' }, ...b.pagingParams(input.globalSearchMaxRange, 'search', false)],
      responses: b.commonErrors(true, {
        '200': { description: 'Every match.', headers, content: content([...READ_TYPES, 'text/csv'], { type: 'array', items: hit }, ex, { type: 'array', items: hit, xml: { name: 'results', wrapped: true } }) },
        '206': { description: 'A page of the matches.', headers, content: content([...READ_TYPES, 'text/csv'], { type: 'array', items: hit }, ex, { type: 'array', items: hit, xml: { name: 'results', wrapped: true } }) },
        '400': b.error('BadRequest'),
        '406': b.error('NotAcceptable'),
        '416': b.error('RangeNotSatisfiable'),
      }),
    });
    b.add({ method: 'get', path, operation: get });
    head(get);
  } else if (route.kind === 'discovery') {
    const get = op({
      tags: ['Discovery'],
      summary: 'Discover the API',
      description: 'Every collection and operation with links (seed 003: discoverability), the versions served, and where the docs are.',
      responses: b.commonErrors(true, {
        '200': { description: 'The API\'s entry point.', content: content(READ_TYPES, { type: 'object', additionalProperties: true, xml: { name: 'api' } }) },
        '406': b.error('NotAcceptable'),
      }),
    });
    b.add({ method: 'get', path, operation: get });
    head(get);
  }
}
