/**
 * The pieces the OpenAPI document is made of (SPEC §9): the components it defines on first
 * use (schemas, parameters, headers, error responses — so that none is left unused), the
 * filter parameters of a resource, security requirements from access rules, operation ids,
 * media-type contents with XML names, and the shared headers and error examples.
 */
import { requiredScope, type Operation } from '../auth/rules.js';
import { ERROR_KINDS, type ErrorKindName } from '../errors.js';
import type { RouteInfo } from '../protocols/rest/routes.js';
import { itemSchema, keySchema } from '../schema/json-schema.js';
import type { AccessRule, ApiModel, FieldSpec, Json, JsonObject, ResourceModel } from '../schema/types.js';
import type { DocumentInput, OpenApiObject } from './document.js';
import { exampleOf } from './examples.js';

/** The base the examples are written against (the default of `carte serve`). */
export const EXAMPLE_BASE = 'http://127.0.0.1:3000';

export type Schema = OpenApiObject;
export type Methods = 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete';

export const ref = (kind: 'schemas' | 'parameters' | 'headers' | 'responses', name: string): Schema => ({ $ref: `#/components/${kind}/${name}` });

/** `restaurant` → `Restaurant`, `order-item` → `OrderItem`. */
export function typeName(spinal: string): string {
  return spinal.replace(/(^|[-_])([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());
}

export function camel(spinal: string): string {
  return spinal.replace(/[-_]([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

// ---------------------------------------------------------------------------------------
// Headers (SPEC §4.3, §4.7, §4.9, §8)

const HEADERS: Readonly<Record<string, { description: string; schema: Schema; example?: Json }>> = {
  'Content-Range': { description: 'Items returned and the total: `first-last/total` (0-based, inclusive); `*/0` when empty; `*` as total with `Prefer: count=none`. (SPEC §4.3)', schema: { type: 'string' }, example: '0-9/48' },
  'Accept-Range': { description: 'The unit and the largest range one request may ask for: `<singular> <maxRange>`.', schema: { type: 'string' }, example: 'restaurant 50' },
  Link: { description: 'RFC 8288 links: `first`, `prev`, `next`, `last` pages of the same size, and `next-cursor` (a write-stable cursor, `?after=`). On an item: what the caller may do with it (`rel="self"; method="PATCH"`, relations, state transitions).', schema: { type: 'string' }, example: '<http://127.0.0.1:3000/v1/restaurants?range=0-9>; rel="first", <http://127.0.0.1:3000/v1/restaurants?range=10-19>; rel="next", <http://127.0.0.1:3000/v1/restaurants?range=40-49>; rel="last"' },
  ETag: { description: 'Strong entity tag of the representation: send it back in `If-None-Match` (304) or `If-Match` (412 when the item changed).', schema: { type: 'string' }, example: '"xyzzy-3"' },
  'Last-Modified': { description: 'When the item last changed (resources with `updatedAt`); `If-Modified-Since` answers 304.', schema: { type: 'string' }, example: 'Mon, 15 Jan 2026 12:00:00 GMT' },
  Location: { description: 'The URL of the item created.', schema: { type: 'string', format: 'uri' }, example: `${EXAMPLE_BASE}/v1/restaurants/49` },
  'Preference-Applied': { description: 'The `Prefer` preferences honoured (RFC 7240): `return=minimal`, `return=representation`, `count=estimated`, `wait=N`.', schema: { type: 'string' }, example: 'return=minimal' },
  'Idempotent-Replayed': { description: '`true` when this is the replay of the first response to the same `Idempotency-Key`.', schema: { type: 'string', enum: ['true'] } },
  RateLimit: { description: 'Remaining quota and seconds until it resets (draft-ietf-httpapi-ratelimit-headers).', schema: { type: 'string' }, example: '"anonymous";r=119;t=60' },
  'RateLimit-Policy': { description: 'The quota policy: requests per window of seconds.', schema: { type: 'string' }, example: '"anonymous";q=120;w=60' },
  'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer', minimum: 0 }, example: 17 },
  'WWW-Authenticate': { description: 'RFC 6750 §3 challenge (`Bearer realm="carte"`, with `error` and `scope` when a token was refused).', schema: { type: 'string' }, example: 'Bearer realm="carte"' },
  'Accept-Ranges': { description: 'Byte ranges may be asked for with `Range`.', schema: { type: 'string', enum: ['bytes'] } },
  'Content-Length': { description: 'Bytes in the body.', schema: { type: 'integer', minimum: 0 }, example: 4580 },
  'Bytes-Content-Range': { description: 'The bytes sent: `bytes first-last/size`; `bytes */size` on 416.', schema: { type: 'string' }, example: 'bytes 0-2499/4580' },
};

// ---------------------------------------------------------------------------------------
// Errors (SPEC §4.13, docs/errors.md)

interface ErrorResponseSpec {
  readonly status: number;
  readonly description: string;
  readonly codes: readonly ErrorKindName[];
  readonly headers?: readonly string[];
}

const ERROR_RESPONSES: Readonly<Record<string, ErrorResponseSpec>> = {
  BadRequest: { status: 400, description: 'The request is not understood: a malformed body or query, an unknown field or operator, an invalid item (`invalid_<singular>`), a range over `maxRange`.', codes: ['invalid_request', 'invalid_body', 'invalid_range', 'invalid_resource'], headers: ['Accept-Range'] },
  Unauthorized: { status: 401, description: 'No credentials where they are needed, or a token that is malformed, expired or revoked.', codes: ['no_credentials', 'invalid_token'], headers: ['WWW-Authenticate'] },
  Forbidden: { status: 403, description: 'The token lacks the scope the access rule requires, or nobody may do this.', codes: ['insufficient_scope', 'not_allowed'], headers: ['WWW-Authenticate'] },
  NotFound: { status: 404, description: 'No such item (or one the caller may not see: `owner` rules answer 404, never 403).', codes: ['not_found'] },
  NotAcceptable: { status: 406, description: 'None of the media types of `Accept` can be produced; `available` lists those that can.', codes: ['not_acceptable'] },
  Conflict: { status: 409, description: 'A unique value already taken, an item still referenced, or a state transition that is not allowed (`allowed` lists the next states).', codes: ['conflict', 'invalid_transition'] },
  Gone: { status: 410, description: 'The events after this cursor were purged (retention): read the items again, then follow the feed from its `next-cursor`.', codes: ['cursor_expired'] },
  PreconditionFailed: { status: 412, description: 'The item changed since the ETag given in `If-Match`.', codes: ['precondition_failed'] },
  PayloadTooLarge: { status: 413, description: 'The body is over the configured limit.', codes: ['payload_too_large'] },
  UnsupportedMediaType: { status: 415, description: 'The body\'s `Content-Type` is not accepted here; `supported` lists those that are.', codes: ['unsupported_media_type'] },
  RangeNotSatisfiable: { status: 416, description: 'The range starts beyond the end of the collection; `Content-Range: */total`.', codes: ['range_not_satisfiable'], headers: ['Content-Range'] },
  BytesNotSatisfiable: { status: 416, description: 'No byte of the blob is in the range asked for; `Content-Range: bytes */size`.', codes: ['range_not_satisfiable'], headers: ['Bytes-Content-Range'] },
  UnprocessableContent: { status: 422, description: 'This `Idempotency-Key` was already used with another request.', codes: ['idempotency_key_reused'] },
  PreconditionRequired: { status: 428, description: 'Changing this resource requires `If-Match` with the item\'s current ETag.', codes: ['precondition_required'] },
  TooManyRequests: { status: 429, description: 'A rate limit is exhausted; `Retry-After` says when to try again.', codes: ['too_many_requests'], headers: ['Retry-After', 'RateLimit', 'RateLimit-Policy'] },
};

const ERROR_EXAMPLES: Partial<Record<ErrorKindName, { readonly description: string; readonly extra?: JsonObject }>> = {
  invalid_request: { description: "There is no 'payed' property on restaurants." },
  invalid_body: { description: 'The body is not valid JSON: Unexpected end of JSON input' },
  invalid_range: { description: 'Requested range not allowed' },
  invalid_resource: {
    description: "'name' is required",
    extra: { errors: [{ field: 'name', error: 'required', error_description: "'name' is required" }] },
  },
  no_credentials: { description: 'This resource is under permission, you must be authenticated with the right rights to have access to it' },
  invalid_token: { description: 'The access token expired' },
  insufficient_scope: { description: "This request requires the scope 'restaurants:write'", extra: { scope: 'restaurants:write' } },
  not_allowed: { description: "You're not allowed to perform this request" },
  not_found: { description: "The restaurant with the id '999999' doesn't exist" },
  not_acceptable: { description: 'None of the acceptable media types can be produced; available: application/json, application/xml', extra: { available: ['application/json', 'application/xml'] } },
  conflict: { description: "A client with this email already exists" },
  invalid_transition: { description: "Cannot move state from 'paid' to 'placed'; allowed next states: none", extra: { allowed: [] } },
  cursor_expired: { description: 'Events after this cursor are older than the retention window (7 days) and were purged' },
  precondition_failed: { description: 'The resource has changed since the ETag given in If-Match' },
  payload_too_large: { description: 'The body is larger than the limit of 1048576 bytes' },
  unsupported_media_type: { description: "Content-Type 'text/plain' is not supported here; use one of: application/json", extra: { supported: ['application/json'] } },
  range_not_satisfiable: { description: 'The collection has 48 items; the range starts at 60' },
  idempotency_key_reused: { description: 'This Idempotency-Key was already used with a different request' },
  precondition_required: { description: 'Changing a restaurant requires an If-Match header with its current ETag' },
  too_many_requests: { description: 'Too many requests: 120 per 60 s; try again in 17 s' },
};

function errorExample(code: ErrorKindName): JsonObject {
  const spec = ERROR_EXAMPLES[code];
  const name = code === 'invalid_resource' ? 'invalid_restaurant' : code;
  return {
    error: name,
    error_description: spec?.description ?? ERROR_KINDS[code].title,
    error_uri: `${EXAMPLE_BASE}/docs/errors#${name}`,
    ...(spec?.extra ?? {}),
  };
}

// ---------------------------------------------------------------------------------------
// Query parameters (SPEC §4.3–§4.6)

const OPERATORS: Readonly<Record<string, string>> = {
  ne: 'none of these values',
  gt: 'greater than',
  gte: 'greater than or equal to',
  lt: 'less than',
  lte: 'less than or equal to',
  like: 'matches this pattern (`*` any sequence, case-insensitive); a comma list matches any',
  null: '`true`: has no value; `false`: has one',
};

interface FilterPath {
  readonly path: string;
  readonly leaf: Schema;
  readonly array: boolean;
  readonly search: boolean;
}

function leafSchema(spec: FieldSpec): Schema {
  const out: Schema = { type: spec.type };
  if (spec.enum) out.enum = [...spec.enum];
  if (spec.format && spec.format !== 'date-time' && spec.format !== 'date') out.format = spec.format;
  return out;
}

/** Paths a filter can name: `rating`, `address.city`, `days` (an array of scalars: contains). */
function filterPaths(resource: ResourceModel): FilterPath[] {
  const out: FilterPath[] = [{ path: 'id', leaf: resource.key.type === 'uuid' ? { type: 'string', format: 'uuid' } : { type: 'integer' }, array: false, search: false }];
  const walk = (prefix: string, spec: FieldSpec, search: boolean) => {
    if (spec.type === 'object') {
      for (const [name, sub] of Object.entries(spec.properties ?? {})) walk(`${prefix}.${name}`, sub, false);
    } else if (spec.type === 'array') {
      if (spec.items && ['string', 'integer', 'number', 'boolean'].includes(spec.items.type)) out.push({ path: prefix, leaf: leafSchema(spec.items), array: true, search });
    } else if (spec.type !== 'blob') out.push({ path: prefix, leaf: leafSchema(spec), array: false, search });
  };
  for (const field of resource.fieldList) walk(field.name, field.spec, field.search);
  return out;
}

function operatorsOf(path: FilterPath): string[] {
  const ops = ['ne'];
  if (!path.array && path.leaf.type !== 'boolean') ops.push('gt', 'gte', 'lt', 'lte');
  if (path.leaf.type === 'string') ops.push('like');
  if (path.path !== 'id') ops.push('null');
  return ops;
}

// ---------------------------------------------------------------------------------------
// The builder

export interface OperationSpec {
  readonly method: Methods;
  readonly path: string;
  readonly operation: OpenApiObject;
}

/** The access rule of a route, and the operation it counts as. */
export function accessOf(route: RouteInfo, resource: ResourceModel | null): { rule: AccessRule; op: Operation } | null {
  if (route.action) return { rule: route.action.access, op: 'create' };
  if (!resource) return null;
  switch (route.kind) {
    case 'list':
    case 'get':
    case 'search':
    case 'getBlob':
      return { rule: resource.access.read, op: 'read' };
    case 'create':
      return { rule: resource.access.create, op: 'create' };
    case 'bulkReplace':
    case 'replace':
    case 'update':
    case 'putBlob':
    case 'deleteBlob':
      return { rule: resource.access.update, op: 'update' };
    case 'delete':
    case 'deleteMatching':
      return { rule: resource.access.delete, op: 'delete' };
    default:
      return null;
  }
}

/**
 * Operation ids that read as calls (`listRestaurants`, `getRestaurant`, `createClientOrder`,
 * `getRestaurantPhoto`): what generated clients name their methods after.
 */
export function operationIdOf(route: RouteInfo, api: ApiModel): string {
  const resource = route.resource ? api.resources.get(route.resource) : undefined;
  if (!resource) return route.operationId;
  const one = typeName(resource.singular);
  const parentModel = route.parent ? api.resources.get(route.parent.resource) : undefined;
  const parent = parentModel ? typeName(parentModel.singular) : '';
  const many = route.parent ? typeName(route.parent.relation) : typeName(resource.name);
  const field = typeName(route.url.split('/').pop() ?? '');
  switch (route.kind) {
    case 'list':
      return `list${parent}${many}`;
    case 'create':
      return `create${parent}${one}`;
    case 'bulkReplace':
      return `replace${parent}${many}`;
    case 'deleteMatching':
      return `delete${parent}${many}`;
    case 'search':
      return `search${many}`;
    case 'get':
      return `get${parent}${one}`;
    case 'replace':
      return `replace${parent}${one}`;
    case 'update':
      return `update${parent}${one}`;
    case 'delete':
      return `delete${parent}${one}`;
    case 'getBlob':
      return `get${one}${field}`;
    case 'putBlob':
      return `put${one}${field}`;
    case 'deleteBlob':
      return `delete${one}${field}`;
    case 'itemAction':
      // The default item action (`POST /v1/x/{id}`) is the same action as `POST /v1/x/{id}/<name>`.
      return `${camel(route.action?.name ?? 'act')}${one}${route.url.endsWith('/:id') ? 'ByDefault' : ''}`;
    default:
      return route.operationId;
  }
}

export class Builder {
  readonly schemas: Record<string, OpenApiObject> = {};
  readonly parameters: Record<string, OpenApiObject> = {};
  readonly headers: Record<string, OpenApiObject> = {};
  readonly responses: Record<string, OpenApiObject> = {};
  readonly paths: Record<string, Record<string, unknown>> = {};
  readonly prefix: string;
  /** Resource tags in the order their routes came. */
  readonly resourceTags: string[] = [];
  private readonly usedIds = new Set<string>();

  constructor(readonly input: DocumentInput) {
    this.prefix = `/v${input.api.version}`;
  }

  /** An operation id not used yet (a number is added to a repeated one). */
  uniqueId(id: string): string {
    let out = id;
    for (let n = 2; this.usedIds.has(out); n++) out = `${id}${n}`;
    this.usedIds.add(out);
    return out;
  }

  // -- components, defined on first use so that none is left unused ----------------------

  header(name: string): Schema {
    if (!this.headers[name]) {
      const spec = HEADERS[name];
      if (!spec) throw new Error(`no header ${name}`);
      this.headers[name] = { description: spec.description, schema: spec.schema, ...(spec.example !== undefined ? { example: spec.example } : {}) };
    }
    return ref('headers', name);
  }

  /** Response headers by their HTTP names (`Bytes-Content-Range` is sent as `Content-Range`). */
  headerSet(names: readonly string[]): OpenApiObject {
    return Object.fromEntries(names.map((n) => [n === 'Bytes-Content-Range' ? 'Content-Range' : n, this.header(n)]));
  }

  error(name: keyof typeof ERROR_RESPONSES): Schema {
    if (!this.responses[name]) {
      const spec = ERROR_RESPONSES[name] as ErrorResponseSpec;
      const examples = Object.fromEntries(spec.codes.map((code) => [code, { summary: code === 'invalid_resource' ? 'invalid_<singular>' : code, value: errorExample(code) }]));
      const problems = Object.fromEntries(
        spec.codes.map((code) => {
          const { error, error_description, error_uri, ...rest } = errorExample(code);
          return [code, { summary: code, value: { type: error_uri, title: ERROR_KINDS[code].title, status: spec.status, detail: error_description, instance: `${this.prefix}/restaurants`, error, ...rest } }];
        }),
      );
      this.responses[name] = {
        description: spec.description,
        ...(spec.headers ? { headers: this.headerSet(spec.headers) } : {}),
        content: {
          'application/json': { schema: this.errorSchema(), examples },
          'application/problem+json': { schema: this.problemSchema(), examples: problems },
          'application/xml': { schema: this.errorSchema() },
        },
      };
    }
    return ref('responses', name);
  }

  errorSchema(): Schema {
    if (!this.schemas.Error) {
      this.schemas.FieldError = {
        type: 'object',
        description: 'One problem of a body; every problem is reported at once.',
        properties: {
          field: { type: 'string', description: 'Dotted path of the field (`address.city`, `[2].name` in a bulk body).' },
          error: { type: 'string', description: 'Reason: `required`, `format`, `type`, `enum`, `unknown`, …' },
          error_description: { type: 'string' },
        },
        required: ['field', 'error', 'error_description'],
      };
      this.schemas.Error = {
        type: 'object',
        description: 'Every error, in seed 004\'s structure (after OAuth2): a code, a sentence, and the page documenting the code. Some codes add members (`allowed`, `available`, `supported`, `scope`).',
        properties: {
          error: { type: 'string', description: 'The code (see `/docs/errors`).', examples: ['not_found'] },
          error_description: { type: 'string', description: 'What went wrong, for a developer.' },
          error_uri: { type: 'string', format: 'uri', description: 'The documentation of the code: `/docs/errors#<code>`.' },
          errors: { type: 'array', items: ref('schemas', 'FieldError'), description: 'Validation errors: every problem of the body.' },
        },
        required: ['error', 'error_description', 'error_uri'],
        additionalProperties: true,
        xml: { name: 'error' },
      };
    }
    return ref('schemas', 'Error');
  }

  problemSchema(): Schema {
    if (!this.schemas.Problem) {
      this.errorSchema();
      this.schemas.Problem = {
        type: 'object',
        description: 'The same error as an RFC 9457 problem document (`Accept: application/problem+json`).',
        properties: {
          type: { type: 'string', format: 'uri' },
          title: { type: 'string' },
          status: { type: 'integer' },
          detail: { type: 'string' },
          instance: { type: 'string' },
          error: { type: 'string' },
          errors: { type: 'array', items: ref('schemas', 'FieldError') },
        },
        required: ['type', 'title', 'status', 'detail', 'error'],
        additionalProperties: true,
      };
    }
    return ref('schemas', 'Problem');
  }

  linkSchema(): Schema {
    this.schemas.Link ??= {
      type: 'object',
      description: 'A hypermedia link (seed 003): what the caller may do, with which method and media types.',
      properties: {
        rel: { type: 'string', examples: ['self'] },
        href: { type: 'string', format: 'uri' },
        action: { type: 'string', enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] },
        types: { type: 'array', items: { type: 'string' } },
        body: { type: 'object', description: 'The body that performs a state transition.' },
      },
      required: ['rel', 'href', 'action', 'types'],
    };
    return ref('schemas', 'Link');
  }

  /** Item, input and patch schemas of a resource (one derivation, src/schema/json-schema.ts). */
  resourceSchemas(resource: ResourceModel): { item: Schema; input: Schema; patch: Schema; replacement: Schema } {
    const T = typeName(resource.singular);
    if (!this.schemas[T]) {
      const read = itemSchema(resource, 'read');
      const properties = { ...(read.properties as Record<string, Schema>), links: { type: 'array', items: this.linkSchema(), readOnly: true, description: 'What the caller may do with the item (SPEC §4.8); collection items carry only `self`.', xml: { wrapped: true } } };
      this.schemas[T] = { ...withXml(read, resource.singular), properties: xmlProperties(properties), ...(resource.description ? { description: resource.description } : {}) };
      this.schemas[`${T}Input`] = { ...withXml(itemSchema(resource, 'write'), resource.singular), description: `A ${resource.singular} as POST and PUT take it: no \`id\` (POST: the server assigns it; PUT: the URL names it) and no read-only field.` };
      this.schemas[`${T}Patch`] = { ...withXml(itemSchema(resource, 'patch'), resource.singular), description: `A JSON merge patch (RFC 7396) of a ${resource.singular}: members present are set, \`null\` clears one.` };
    }
    return { item: ref('schemas', T), input: ref('schemas', `${T}Input`), patch: ref('schemas', `${T}Patch`), replacement: this.replacementSchema(resource) };
  }

  /** An item of a bulk PUT: the input with the id that names it. */
  replacementSchema(resource: ResourceModel): Schema {
    const T = typeName(resource.singular);
    if (!this.schemas[`${T}Replacement`]) {
      const write = itemSchema(resource, 'write');
      this.schemas[`${T}Replacement`] = {
        ...withXml({ ...write, properties: { id: keySchema(resource), ...(write.properties as Record<string, Schema>) }, required: ['id', ...((write.required as string[] | undefined) ?? [])] }, resource.singular),
        description: `A ${resource.singular} of a bulk PUT: the input of PUT with the \`id\` it replaces or creates.`,
      };
    }
    return ref('schemas', `${T}Replacement`);
  }

  itemExample(resource: ResourceModel, level: 'self' | 'full' = 'full'): JsonObject {
    const href = `${EXAMPLE_BASE}${this.prefix}/${resource.name}/1`;
    const out: JsonObject = { id: resource.key.type === 'uuid' ? '3fa85f64-5717-4562-b3fc-2c963f66afa6' : 1 };
    const body = this.inputExample(resource);
    for (const field of resource.fieldList) {
      if (field.type === 'blob') {
        out[field.name] = { href: `${href}/${field.name}`, contentType: field.blob?.mediaTypes[0] ?? 'application/octet-stream', size: 4580 };
      } else if (field.readOnly) {
        const value = exampleOf(field.spec as unknown as Schema, field.name);
        if (value !== undefined) out[field.name] = value;
      } else if (body[field.name] !== undefined) out[field.name] = body[field.name] as Json;
    }
    const links: JsonObject[] = [{ rel: 'self', href, action: 'GET', types: ['application/json', 'application/xml'] }];
    if (level === 'full') {
      links.push({ rel: 'self', href, action: 'PATCH', types: ['application/merge-patch+json', 'application/json', 'application/xml'] });
      links.push({ rel: 'self', href, action: 'DELETE', types: [] });
    }
    out.links = links;
    return out;
  }

  inputExample(resource: ResourceModel): JsonObject {
    return (exampleOf(itemSchema(resource, 'write'), undefined, { write: true }) ?? {}) as JsonObject;
  }

  patchExample(resource: ResourceModel): JsonObject {
    const state = resource.stateField;
    if (state?.transitions) {
      const first = Object.values(state.transitions).find((to) => to.length > 0)?.[0];
      if (first !== undefined) return { [state.name]: first };
    }
    const input = this.inputExample(resource);
    const key = resource.fieldList.find((f) => !f.readOnly && f.type !== 'blob' && f.type !== 'object' && f.type !== 'array' && !f.reference && input[f.name] !== undefined);
    return key ? { [key.name]: input[key.name] as Json } : {};
  }

  // -- parameters ---------------------------------------------------------------------------

  param(key: string, build: () => OpenApiObject): Schema {
    this.parameters[key] ??= build();
    return ref('parameters', key);
  }

  idParam(resource: ResourceModel): Schema {
    return this.param(`${typeName(resource.singular)}Id`, () => ({
      name: 'id',
      in: 'path',
      required: true,
      description: `The ${resource.singular}'s id.`,
      schema: keySchema(resource),
      example: resource.key.type === 'uuid' ? '3fa85f64-5717-4562-b3fc-2c963f66afa6' : 1,
    }));
  }

  parentParam(parent: ResourceModel, name: string): Schema {
    return this.param(`${typeName(parent.singular)}ParentId`, () => ({
      name,
      in: 'path',
      required: true,
      description: `The ${parent.singular}'s id (404 when it does not exist).`,
      schema: keySchema(parent),
      example: parent.key.type === 'uuid' ? '3fa85f64-5717-4562-b3fc-2c963f66afa6' : 1,
    }));
  }

  filterParams(resource: ResourceModel, purpose: 'list' | 'search'): Schema[] {
    const T = typeName(resource.singular);
    const out: Schema[] = [];
    for (const path of filterPaths(resource)) {
      const pattern = purpose === 'search' && path.search;
      const key = `${T}.${path.path}${pattern ? '.pattern' : ''}`;
      out.push(
        this.param(key, () => ({
          name: path.path,
          in: 'query',
          description: pattern
            ? `A pattern on ${path.path}: \`*\` any sequence, matched against the whole value, case- and accent-insensitive; a comma list matches any.`
            : `${path.path} ${path.array ? 'contains' : 'is'} any of these values (comma list; \`\\,\` is a literal comma).`,
          schema: pattern ? { type: 'array', items: { type: 'string' } } : { type: 'array', items: path.leaf },
          style: 'form',
          explode: false,
          ...(pattern ? { example: ['*napoli*'] } : {}),
        })),
      );
      for (const op of operatorsOf(path)) {
        out.push(
          this.param(`${T}.${path.path}.${op}`, () => {
            const list = op === 'ne' || op === 'like';
            const schema: Schema = op === 'null' ? { type: 'boolean' } : op === 'like' ? { type: 'string' } : { ...path.leaf };
            return {
              name: `${path.path}[${op}]`,
              in: 'query',
              description: `${path.path} ${OPERATORS[op] ?? op}.`,
              schema: list ? { type: 'array', items: schema } : schema,
              ...(list ? { style: 'form', explode: false } : {}),
            };
          }),
        );
      }
    }
    return out;
  }

  sortParams(resource: ResourceModel): Schema[] {
    const T = typeName(resource.singular);
    const sortable = filterPaths(resource).filter((p) => !p.array).map((p) => p.path);
    return [
      this.param(`${T}.sort`, () => ({
        name: 'sort',
        in: 'query',
        description: 'Fields to sort on, in order; ascending unless named in `desc`. The id is always the last tie-break, so pages never overlap.',
        schema: { type: 'array', items: { type: 'string', enum: sortable } },
        style: 'form',
        explode: false,
      })),
      this.param(`${T}.desc`, () => ({
        name: 'desc',
        in: 'query',
        description: 'Sort fields to sort descending; `desc` with no value: every sort field.',
        schema: { type: 'array', items: { type: 'string', enum: sortable } },
        style: 'form',
        explode: false,
      })),
    ];
  }

  fieldsParam(resource: ResourceModel): Schema {
    const T = typeName(resource.singular);
    return this.param(`${T}.fields`, () => {
      const names = resource.fieldList.filter((f) => f.type !== 'blob').slice(0, 2).map((f) => f.name);
      const one = [...resource.relations.values()].find((r) => r.kind === 'one');
      const example = [...names, ...(one ? [`${one.name}(name)`] : [])].join(',');
      return {
        name: 'fields',
        in: 'query',
        description: `Partial response (Google notation): \`${example}\`; the id is always included. A relation in the list embeds it (${[...resource.relations.values()].map((r) => `\`${r.name}\``).join(', ') || 'none here'}); \`links\` adds the hypermedia links.`,
        schema: { type: 'string' },
        example,
      };
    });
  }

  pagingParams(maxRange: number, unit: string, cursor: boolean): Schema[] {
    return [
      { name: 'range', in: 'query', description: `Items a..b, 0-based and inclusive (at most ${maxRange}: \`Accept-Range: ${unit} ${maxRange}\`). Not with limit/offset.`, schema: { type: 'string', pattern: '^[0-9]+-[0-9]+$' }, example: '0-9' },
      { name: 'limit', in: 'query', description: 'Page size (same as `range=offset-(offset+limit-1)`).', schema: { type: 'integer', minimum: 1, maximum: maxRange } },
      { name: 'offset', in: 'query', description: 'Index of the first item.', schema: { type: 'integer', minimum: 0 } },
      ...(cursor ? [{ name: 'after', in: 'query', description: 'Opaque cursor from a `Link: rel="next-cursor"`: pages in constant time, stable under writes.', schema: { type: 'string' } }] : []),
    ];
  }

  headerParam(name: string): Schema {
    const HEADER_PARAMS: Record<string, OpenApiObject> = {
      IfNoneMatch: { name: 'If-None-Match', in: 'header', description: 'ETags the client holds: 304 Not Modified when one is current. With `Prefer: wait=N` on an item, waits for a change (long polling).', schema: { type: 'string' } },
      IfModifiedSince: { name: 'If-Modified-Since', in: 'header', description: '304 when the item has not changed since this HTTP date.', schema: { type: 'string' } },
      IfMatch: { name: 'If-Match', in: 'header', description: 'The ETag the client read: 412 when the item changed since (optimistic concurrency).', schema: { type: 'string' } },
      IdempotencyKey: { name: 'Idempotency-Key', in: 'header', description: 'The same key and body within the retention window replays the first response (`Idempotent-Replayed: true`); the same key with another body is 422.', schema: { type: 'string', maxLength: 255 }, example: '7d3c1b9e-2f4a-4c8e-9b1d-3a5f6e7c8d9a' },
      PreferRead: { name: 'Prefer', in: 'header', description: '`count=exact` (default), `count=estimated` or `count=none` (`Content-Range: 0-9/*`).', schema: { type: 'string' }, example: 'count=estimated' },
      PreferWait: { name: 'Prefer', in: 'header', description: '`wait=N`: with `If-None-Match` (or on the feed, with `after`), hold the request up to N seconds until something changes (long polling).', schema: { type: 'string' }, example: 'wait=30' },
      PreferWrite: { name: 'Prefer', in: 'header', description: '`return=minimal`: 204 with `Location` and `ETag`, no body; `return=representation`: the item.', schema: { type: 'string', enum: ['return=minimal', 'return=representation'] } },
      PreferDelete: { name: 'Prefer', in: 'header', description: '`return=representation`: 200 with the deleted item instead of 204.', schema: { type: 'string', enum: ['return=representation'] } },
      Range: { name: 'Range', in: 'header', description: 'One byte range: `bytes=0-2499`, `bytes=2500-`, `bytes=-500`.', schema: { type: 'string' }, example: 'bytes=0-2499' },
      IfRange: { name: 'If-Range', in: 'header', description: 'Send the range only if the blob still has this ETag (or Last-Modified date); else the whole blob.', schema: { type: 'string' } },
      LastEventId: { name: 'Last-Event-ID', in: 'header', description: 'Server-sent events: resume after this event id (EventSource sends it when reconnecting).', schema: { type: 'string' } },
    };
    const spec = HEADER_PARAMS[name];
    if (!spec) throw new Error(`no header parameter ${name}`);
    return this.param(name, () => spec);
  }

  // -- security ------------------------------------------------------------------------------

  security(rule: AccessRule | null, resource: string | null, op: Operation): { security: Record<string, string[]>[]; note: string; anonymous: boolean } {
    if (rule === null || rule === 'public') {
      return { security: [{}, { bearerAuth: [] }, { oauth2: [] }], note: 'Access: public (a token is optional).', anonymous: true };
    }
    if (rule === 'none') return { security: [{ bearerAuth: [] }], note: 'Access: nobody (the schema closes it).', anonymous: false };
    const scope = requiredScope(rule, resource, op);
    if (scope !== null) return { security: [{ oauth2: [scope] }, { bearerAuth: [scope] }], note: `Access: a token with the scope \`${scope}\`.`, anonymous: false };
    if (rule.startsWith('owner:')) return { security: [{ oauth2: [] }, { bearerAuth: [] }], note: `Access: any token, limited to the items whose \`${rule.slice(6)}\` is the token's subject.`, anonymous: false };
    return { security: [{ oauth2: [] }, { bearerAuth: [] }], note: 'Access: any valid token.', anonymous: false };
  }

  // -- paths -----------------------------------------------------------------------------------

  add(spec: OperationSpec): void {
    const item = (this.paths[spec.path] ??= {});
    item[spec.method] = spec.operation;
  }

  /** Responses common to every operation: 429, and 401 when a bad token can be refused. */
  commonErrors(anonymous: boolean, extra: Record<string, Schema>): Record<string, Schema> {
    const out: Record<string, Schema> = { ...extra };
    out['401'] = this.error('Unauthorized');
    if (!anonymous) out['403'] = this.error('Forbidden');
    out['429'] = this.error('TooManyRequests');
    return sortByStatus(out);
  }
}

function sortByStatus(responses: Record<string, Schema>): Record<string, Schema> {
  return Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
}

/** `xml` hints: the root element's name; arrays wrapped with `<item>` children (SPEC §4.2 XML shape). */
function withXml(schema: Schema, name: string): Schema {
  return { ...schema, properties: xmlProperties((schema.properties ?? {}) as Record<string, Schema>), xml: { name } };
}

function xmlProperties(properties: Record<string, Schema>): Record<string, Schema> {
  return Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, xmlArray(v)]));
}

function xmlArray(schema: Schema): Schema {
  const type = schema.type;
  const isArray = type === 'array' || (Array.isArray(type) && type.includes('array'));
  const isObject = type === 'object' || (Array.isArray(type) && type.includes('object'));
  if (isArray && schema.items && !('$ref' in (schema.items as Schema))) {
    return { ...schema, xml: { wrapped: true }, items: { ...xmlArray(schema.items as Schema), xml: { name: 'item' } } };
  }
  if (isObject && schema.properties) return { ...schema, properties: xmlProperties(schema.properties as Record<string, Schema>) };
  return schema;
}

export const READ_TYPES = ['application/json', 'application/xml'];

// ---------------------------------------------------------------------------------------

export function content(types: readonly string[], schema: Schema, example?: Json, xmlSchema?: Schema): OpenApiObject {
  return Object.fromEntries(
    types.map((type) => {
      const json = type.includes('json') || type === 'application/x-www-form-urlencoded';
      const s = type === 'text/csv' ? { type: 'string', description: 'RFC 4180 CSV: a header line with the field names, one line per item; nested values as JSON.' } : type.includes('xml') && xmlSchema ? xmlSchema : schema;
      return [type, { schema: s, ...(json && example !== undefined ? { example } : {}) }];
    }),
  );
}

