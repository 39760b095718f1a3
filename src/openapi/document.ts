/**
 * The OpenAPI 3.1 document of an API (SPEC §9, seed 003 "Open API Initiative"), generated
 * from the model and the REST route table: every path and method the REST front end serves
 * (collections, items, nested collections, search, operations, blobs, the event feed,
 * discovery), the OAuth2 endpoints, their query parameters (range, limit/offset, after,
 * sort/desc, fields, each filter and operator), request bodies per media type, the headers
 * SPEC §4 names, every error response in the seed-004 structure, the security schemes and
 * examples. Built once per schema; the base URLs of a request are put in by `withUrls`.
 */
import { requiredScope, type Operation } from '../auth/rules.js';
import { ERROR_KINDS, type ErrorKindName } from '../errors.js';
import type { RouteInfo } from '../protocols/rest/routes.js';
import { itemSchema, keySchema } from '../schema/json-schema.js';
import type { AccessRule, ActionModel, ApiModel, FieldSpec, Json, JsonObject, ResourceModel } from '../schema/types.js';
import { relationSegment } from '../service/links.js';
import { exampleOf } from './examples.js';

/** A JSON object of the document (OpenAPI objects are open-ended: extensions, schemas). */
export type OpenApiObject = { [key: string]: unknown };

export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: OpenApiObject;
  readonly servers: readonly OpenApiObject[];
  readonly security: readonly Record<string, readonly string[]>[];
  readonly tags: readonly OpenApiObject[];
  readonly 'x-tagGroups': readonly { readonly name: string; readonly tags: readonly string[] }[];
  readonly paths: Readonly<Record<string, OpenApiObject>>;
  readonly components: {
    readonly schemas: Readonly<Record<string, OpenApiObject>>;
    readonly parameters: Readonly<Record<string, OpenApiObject>>;
    readonly headers: Readonly<Record<string, OpenApiObject>>;
    readonly responses: Readonly<Record<string, OpenApiObject>>;
    readonly securitySchemes: Readonly<Record<string, OpenApiObject>>;
  };
}

export interface DocumentInput {
  readonly api: ApiModel;
  /** The REST route table (src/protocols/rest/routes.ts, blobs.ts). */
  readonly routes: readonly RouteInfo[];
  readonly limits: { readonly bodyBytes: number; readonly bulkItems: number };
  /** `Accept-Range: event <n>` of `GET /v1/events`. */
  readonly eventsMaxRange: number;
  /** `maxRange` of `GET /v1/search`. */
  readonly globalSearchMaxRange: number;
  /** Scopes the access rules name (the authorization server's `scopes_supported`). */
  readonly scopes: readonly string[];
}

/** Base URLs of the server's faces (SPEC §8 "Domains"). */
export interface DocumentUrls {
  readonly api: string;
  readonly oauth: string;
  readonly developer: string;
}

/** The base the examples are written against (the default of `carte serve`). */
export const EXAMPLE_BASE = 'http://127.0.0.1:3000';

type Schema = OpenApiObject;
type Methods = 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete';

const ref = (kind: 'schemas' | 'parameters' | 'headers' | 'responses', name: string): Schema => ({ $ref: `#/components/${kind}/${name}` });

/** `restaurant` → `Restaurant`, `order-item` → `OrderItem`. */
export function typeName(spinal: string): string {
  return spinal.replace(/(^|[-_])([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());
}

function camel(spinal: string): string {
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

interface OperationSpec {
  readonly method: Methods;
  readonly path: string;
  readonly operation: OpenApiObject;
}

/** The access rule of a route, and the operation it counts as. */
function accessOf(route: RouteInfo, resource: ResourceModel | null): { rule: AccessRule; op: Operation } | null {
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
function operationIdOf(route: RouteInfo, api: ApiModel): string {
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

class Builder {
  readonly schemas: Record<string, OpenApiObject> = {};
  readonly parameters: Record<string, OpenApiObject> = {};
  readonly headers: Record<string, OpenApiObject> = {};
  readonly responses: Record<string, OpenApiObject> = {};
  readonly paths: Record<string, Record<string, unknown>> = {};
  readonly prefix: string;

  constructor(readonly input: DocumentInput) {
    this.prefix = `/v${input.api.version}`;
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

const READ_TYPES = ['application/json', 'application/xml'];

// ---------------------------------------------------------------------------------------

function content(types: readonly string[], schema: Schema, example?: Json, xmlSchema?: Schema): OpenApiObject {
  return Object.fromEntries(
    types.map((type) => {
      const json = type.includes('json') || type === 'application/x-www-form-urlencoded';
      const s = type === 'text/csv' ? { type: 'string', description: 'RFC 4180 CSV: a header line with the field names, one line per item; nested values as JSON.' } : type.includes('xml') && xmlSchema ? xmlSchema : schema;
      return [type, { schema: s, ...(json && example !== undefined ? { example } : {}) }];
    }),
  );
}

/** Builds the document (not cached; see `openApiDocument`). */
export function buildOpenApiDocument(input: DocumentInput): OpenApiDocument {
  const { api } = input;
  const b = new Builder(input);
  const prefix = b.prefix;
  const resourceTags: string[] = [];
  const routes = input.routes;
  const usedIds = new Set<string>();
  const uniqueId = (id: string): string => {
    let out = id;
    for (let n = 2; usedIds.has(out); n++) out = `${id}${n}`;
    usedIds.add(out);
    return out;
  };

  const pathOf = (route: RouteInfo): string => {
    let url = route.url.replace(/:id\b/g, '{id}');
    if (route.parent) url = url.replace(':parentId', `{${camel(api.resources.get(route.parent.resource)?.singular ?? 'parent')}Id}`);
    return url;
  };

  for (const route of routes) {
    const resource = route.resource ? (api.resources.get(route.resource) ?? null) : null;
    const access = accessOf(route, resource);
    const sec = b.security(access?.rule ?? null, resource?.name ?? null, access?.op ?? 'read');
    const path = pathOf(route);
    const pathParams: Schema[] = [];
    if (route.parent) {
      const parent = api.resources.get(route.parent.resource) as ResourceModel;
      pathParams.push(b.parentParam(parent, `${camel(parent.singular)}Id`));
    }
    if (route.url.includes(':id')) pathParams.push(b.idParam(resource as ResourceModel));
    // The default item action (`POST /v1/x/{id}`) shares its name with `POST /v1/x/{id}/<action>`.
    const operationId = uniqueId(operationIdOf(route, api));
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
      b.add({ method: 'head', path, operation: { ...get, operationId: uniqueId(`${operationId}Head`), summary: `${get.summary as string} (headers only)`, description: `The headers of GET ${path}, without the body (counts: \`Content-Range\`).`, responses } });
    };
    const parentSingular = route.parent ? (api.resources.get(route.parent.resource)?.singular ?? route.parent.resource) : '';
    const parentNote = route.parent ? `\n\nOnly the ${route.parent.relation} of the ${parentSingular} \`{${camel(parentSingular)}Id}\`; 404 when it does not exist.` : '';
    const nested: Record<string, Schema> = route.parent ? { '404': b.error('NotFound') } : {};

    if (resource && !route.action) {
      const T = typeName(resource.singular);
      const tag = resource.name;
      if (!resourceTags.includes(tag)) resourceTags.push(tag);
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
      continue;
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

  addEvents(b, input);
  addDocuments(b);
  addOAuth(b, input);
  addOtherProtocols(b);

  const actionsTagged = Object.values(b.paths).some((item) => Object.values(item).some((o) => ((o as OpenApiObject).tags as string[] | undefined)?.includes('Operations')));
  const tags: OpenApiObject[] = [
    ...resourceTags.map((name) => ({ name, description: api.resources.get(name)?.description ?? `The ${name}.`, 'x-displayName': name })),
    ...(actionsTagged ? [{ name: 'Operations', description: 'Non-resource scenarios (seed 004): calculations, conversions and item actions, called with POST. Each is also a JSON-RPC method and a GraphQL mutation.' }] : []),
    ...(b.paths[`${prefix}/search`] ? [{ name: 'Search', description: 'Search across every resource.' }] : []),
    { name: 'Events', description: 'The event feed: polling by cursor, long polling, server-sent events. WebSocket and webhook deliveries are described by the AsyncAPI document.' },
    { name: 'Discovery', description: 'The API\'s entry point and its descriptions.' },
    { name: 'OAuth2', description: 'The authorization server: tokens by client credentials, refresh, introspection, revocation.' },
    { name: 'Other protocols', description: 'The same service as JSON-RPC 2.0 and GraphQL.' },
  ];
  const group = (names: string[]) => names.filter((n) => tags.some((t) => t.name === n));

  return {
    openapi: '3.1.0',
    info: {
      title: api.name,
      version: String(api.version),
      description: infoDescription(api, input),
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: EXAMPLE_BASE, description: 'This server' }],
    security: [{ oauth2: [] }, { bearerAuth: [] }],
    tags,
    'x-tagGroups': [
      { name: 'Resources', tags: resourceTags },
      ...(group(['Operations']).length ? [{ name: 'Operations', tags: group(['Operations']) }] : []),
      { name: 'Search and events', tags: group(['Search', 'Events']) },
      { name: 'API', tags: group(['Discovery', 'OAuth2', 'Other protocols']) },
    ],
    paths: b.paths,
    components: {
      schemas: b.schemas,
      parameters: b.parameters,
      headers: b.headers,
      responses: b.responses,
      securitySchemes: securitySchemes(input.scopes, EXAMPLE_BASE),
    },
  };
}

function infoDescription(api: ApiModel, input: DocumentInput): string {
  const lines = [
    api.description ?? '',
    '',
    'Generated by Carte from the API\'s schema: every resource is a collection under `/v' + api.version + '` with items, nested collections, search and operations.',
    '',
    '- **Formats**: JSON by default, XML by `Accept: application/xml`, CSV for collections (`Accept: text/csv`); bodies in JSON, merge patch, forms or XML.',
    '- **Pages**: `range=0-9` or `limit`/`offset`; `Content-Range`, `Accept-Range` and `Link` headers; 206 for a partial page; `after` cursors for deep paging.',
    '- **Errors**: `{"error", "error_description", "error_uri"}` everywhere, documented at `/docs/errors`; `Accept: application/problem+json` for RFC 9457.',
    '- **Security**: OAuth2 client credentials at `/oauth/token` (JWT access tokens), or an API key, sent as `Authorization: Bearer …`.',
    `- **Limits**: bodies up to ${input.limits.bodyBytes} bytes; rate limits announced by \`RateLimit\` headers.`,
    '- **Probes**: `GET /health` (alive) and `GET /ready` (the database answers), without credentials or quotas.',
    '- **Events**: `GET /v' + api.version + '/events` (polling, long polling, server-sent events); WebSockets and webhooks in the AsyncAPI document (`/v' + api.version + '/asyncapi.json`).',
  ];
  if (api.previous) {
    lines.push(`- **Versions**: \`/v${api.previous.version}\` is still served, deprecated (\`Deprecation\`, \`Sunset: ${api.previous.sunset.toUTCString()}\`); the version may also be chosen by \`Api-Version\` or \`Accept: application/vnd.carte.v${api.version}+json\` on unversioned paths.`);
  }
  return lines.join('\n').trim();
}

function securitySchemes(scopes: readonly string[], oauthBase: string): Record<string, OpenApiObject> {
  const described = Object.fromEntries(
    [...scopes].sort().map((s) => {
      const m = /^(.+):(read|write)$/.exec(s);
      const text = m ? (m[2] === 'read' ? `Read ${m[1]}` : `Create, change and delete ${m[1]} (grants ${m[1]}:read)`) : `The scope ${s}`;
      return [s, text];
    }),
  );
  return {
    oauth2: {
      type: 'oauth2',
      description: 'OAuth2 client credentials (RFC 6749 §4.4): the client authenticates with HTTP Basic or `client_id`/`client_secret` in the form and gets a JWT access token (RFC 9068). Clients are made with `carte clients create`.',
      flows: {
        clientCredentials: { tokenUrl: `${oauthBase}/oauth/token`, refreshUrl: `${oauthBase}/oauth/token`, scopes: described },
      },
    },
    bearerAuth: {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description: '`Authorization: Bearer <token>`: an access token from `/oauth/token`, the development token `carte serve --dev` prints, or an API key (`carte keys create`).',
    },
    accessTokenQuery: {
      type: 'apiKey',
      in: 'query',
      name: 'access_token',
      description: 'The same token as a query parameter, only where a browser cannot set a header: server-sent events, WebSockets and JSONP (RFC 6750 §2.3).',
    },
    clientBasic: {
      type: 'http',
      scheme: 'basic',
      description: 'OAuth2 client authentication: the client id and secret.',
    },
  };
}

function addAction(
  b: Builder,
  route: RouteInfo,
  action: ActionModel,
  path: string,
  pathParams: Schema[],
  op: (o: OpenApiObject) => OpenApiObject,
  anonymous: boolean,
): void {
  const inputSchema = (action.spec.input ?? {}) as Schema;
  const outputSchema = (action.spec.output ?? {}) as Schema;
  const T = typeName(action.rpcName.replace(/\./g, '-'));
  const hasInput = action.spec.input !== undefined;
  if (hasInput) b.schemas[`${T}Input`] ??= { ...inputSchema, xml: { name: 'input' } };
  b.schemas[`${T}Result`] ??= { type: 'object', properties: { result: outputSchema }, required: ['result'], xml: { name: 'result' } };
  const isObject = inputSchema.type === 'object';
  const example = exampleOf(inputSchema);
  const queryParams: Schema[] = isObject
    ? Object.entries((inputSchema.properties ?? {}) as Record<string, Schema>).map(([name, schema]) => ({
        name,
        in: 'query',
        description: `The input's \`${name}\`, when not in the body (\`POST ${path}?${name}=…\`).`,
        schema,
      }))
    : [];
  const types = ['application/json', ...(isObject ? ['application/x-www-form-urlencoded'] : []), 'application/xml'];
  const outputExample = exampleOf(outputSchema);
  b.add({
    method: 'post',
    path,
    operation: op({
      tags: ['Operations'],
      summary: action.spec.summary ?? `${action.name}`,
      description: `${action.spec.description ?? ''}${action.resource ? `\n\nAn action on one ${action.resource} item.` : ''} Also the JSON-RPC method \`${action.rpcName}\`.`.trim(),
      parameters: [...pathParams, ...queryParams, b.headerParam('IdempotencyKey')],
      ...(hasInput ? { requestBody: { required: !isObject, content: content(types, ref('schemas', `${T}Input`), example) } } : {}),
      responses: b.commonErrors(anonymous, {
        '200': { description: 'The result.', headers: b.headerSet(['Idempotent-Replayed', 'RateLimit', 'RateLimit-Policy']), content: content(READ_TYPES, ref('schemas', `${T}Result`), outputExample !== undefined ? { result: outputExample } : undefined) },
        '400': b.error('BadRequest'),
        ...(action.resource ? { '404': b.error('NotFound') } : {}),
        '406': b.error('NotAcceptable'),
        '413': b.error('PayloadTooLarge'),
        '415': b.error('UnsupportedMediaType'),
        '422': b.error('UnprocessableContent'),
      }),
    }),
  });
  void route;
}

function addEvents(b: Builder, input: DocumentInput): void {
  const api = input.api;
  b.schemas.Event ??= {
    type: 'object',
    description: 'One change: `<resource>.created`, `.updated`, `.deleted`, or `<resource>.<state>` for a state machine.',
    properties: {
      id: { type: 'string', description: 'The event\'s cursor: pass it back as `after` or `Last-Event-ID`.' },
      type: { type: 'string', examples: ['orders.ready'] },
      resource: { type: 'string', enum: [...api.resources.keys()] },
      resourceId: { type: 'string' },
      occurredAt: { type: 'string', format: 'date-time' },
      data: { type: 'object', description: 'The item as a GET shows it (as it was, for a deletion), with `changes`: the fields the change touched.', properties: { changes: { type: 'array', items: { type: 'string' } } }, required: ['changes'], additionalProperties: true },
    },
    required: ['id', 'type', 'resource', 'resourceId', 'occurredAt', 'data'],
    xml: { name: 'event' },
  };
  const event = ref('schemas', 'Event');
  const headers = b.headerSet(['Content-Range', 'Accept-Range', 'Link', 'ETag', 'RateLimit', 'RateLimit-Policy']);
  const first = [...api.resources.keys()][0] ?? 'items';
  const ex = [{ id: 'evt_000000000001', type: `${first}.updated`, resource: first, resourceId: '3', occurredAt: '2026-01-15T12:00:00.000Z', data: { id: 3, changes: ['name'] } }];
  const body = {
    'application/json': { schema: { type: 'array', items: event }, example: ex },
    'text/event-stream': { schema: { type: 'string', description: 'Server-sent events: `id: <cursor>`, `event: <type>`, `data: <event JSON>`; `: heartbeat` comments keep the connection open.' } },
  };
  const get: OpenApiObject = {
    tags: ['Events'],
    summary: 'Read the event feed',
    operationId: 'listEvents',
    description:
      'Every change the caller may read, in order. Poll with `after=<next-cursor>`; add `Prefer: wait=N` to hold until something happens (long polling); or ask for `Accept: text/event-stream` to receive events as they happen (resumes with `Last-Event-ID`). `data.<field>=v` and `data.<field>[op]=v` filter on the items of one resource, as collection filters do.',
    security: [{}, { bearerAuth: [] }, { oauth2: [] }, { accessTokenQuery: [] }],
    parameters: [
      { name: 'after', in: 'query', description: 'The cursor to read after (`next-cursor` of the previous page).', schema: { type: 'string' } },
      { name: 'resource', in: 'query', description: 'Only these resources.', schema: { type: 'array', items: { type: 'string', enum: [...api.resources.keys()] } }, style: 'form', explode: false },
      { name: 'type', in: 'query', description: 'Only these event types (`orders.ready`).', schema: { type: 'array', items: { type: 'string' } }, style: 'form', explode: false },
      ...b.pagingParams(input.eventsMaxRange, 'event', false),
      b.headerParam('PreferWait'),
      b.headerParam('LastEventId'),
      b.headerParam('IfNoneMatch'),
    ],
    responses: b.commonErrors(true, {
      '200': { description: 'Every event after the cursor (or the stream).', headers, content: body },
      '206': { description: 'A page of events.', headers, content: { 'application/json': body['application/json'] } },
      '304': { description: 'Nothing new (`If-None-Match`, or nothing during `Prefer: wait`).', headers: b.headerSet(['ETag']) },
      '400': b.error('BadRequest'),
      '406': b.error('NotAcceptable'),
      '410': b.error('Gone'),
      '416': b.error('RangeNotSatisfiable'),
    }),
  };
  b.add({ method: 'get', path: `${b.prefix}/events`, operation: get });
}

function addDocuments(b: Builder): void {
  for (const [ext, type] of [['json', 'application/json'], ['yaml', 'application/yaml']] as const) {
    b.add({
      method: 'get',
      path: `${b.prefix}/openapi.${ext}`,
      operation: {
        tags: ['Discovery'],
        summary: `This OpenAPI document (${ext.toUpperCase()})`,
        operationId: `getOpenApi${ext === 'json' ? 'Json' : 'Yaml'}`,
        description: 'The OpenAPI 3.1 document of the API, generated from its schema. No authentication needed.',
        security: [{}],
        responses: {
          '200': { description: 'The document.', headers: b.headerSet(['ETag']), content: { [type]: { schema: { type: ext === 'json' ? 'object' : 'string' } } } },
          '304': { description: 'Not modified (`If-None-Match`).', headers: b.headerSet(['ETag']) },
          '429': b.error('TooManyRequests'),
        },
      },
    });
  }
}

function addOAuth(b: Builder, input: DocumentInput): void {
  b.schemas.TokenResponse ??= {
    type: 'object',
    description: 'RFC 6749 §5.1',
    properties: {
      access_token: { type: 'string', description: 'A JWT (RFC 9068).' },
      token_type: { type: 'string', enum: ['Bearer'] },
      expires_in: { type: 'integer', description: 'Seconds.' },
      scope: { type: 'string' },
      refresh_token: { type: 'string' },
    },
    required: ['access_token', 'token_type', 'expires_in'],
  };
  const form = (properties: Record<string, Schema>, required: string[], example: JsonObject): OpenApiObject => ({
    required: true,
    content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', properties: { ...properties, client_id: { type: 'string' }, client_secret: { type: 'string', description: 'Or HTTP Basic.' } }, required }, example } },
  });
  const security = [{ clientBasic: [] }, {}];
  const noStore = { 'Cache-Control': { description: '`no-store`', schema: { type: 'string' } } };
  const firstScope = [...input.scopes].sort()[0] ?? 'restaurants:write';
  b.add({
    method: 'post',
    path: '/oauth/token',
    operation: {
      tags: ['OAuth2'],
      operationId: 'oauthToken',
      summary: 'Get an access token',
      description: '`grant_type=client_credentials` (the client authenticates with HTTP Basic, or `client_id` and `client_secret` in the form) or `grant_type=refresh_token`.',
      security,
      requestBody: form(
        {
          grant_type: { type: 'string', enum: ['client_credentials', 'refresh_token'] },
          scope: { type: 'string', description: 'Space-separated scopes, at most the client\'s.' },
          refresh_token: { type: 'string' },
        },
        ['grant_type'],
        { grant_type: 'client_credentials', scope: firstScope },
      ),
      responses: {
        '200': { description: 'The token.', headers: noStore, content: { 'application/json': { schema: ref('schemas', 'TokenResponse'), example: { access_token: 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9…', token_type: 'Bearer', expires_in: 3600, scope: firstScope } } } },
        '400': b.error('BadRequest'),
        '401': b.error('Unauthorized'),
        '429': b.error('TooManyRequests'),
      },
    },
  });
  b.add({
    method: 'post',
    path: '/oauth/introspect',
    operation: {
      tags: ['OAuth2'],
      operationId: 'oauthIntrospect',
      summary: 'Introspect a token (RFC 7662)',
      security,
      requestBody: form({ token: { type: 'string' } }, ['token'], { token: 'eyJhbGciOi…' }),
      responses: {
        '200': { description: '`{"active": true, …}` or `{"active": false}`.', content: { 'application/json': { schema: { type: 'object', properties: { active: { type: 'boolean' } }, required: ['active'], additionalProperties: true } } } },
        '400': b.error('BadRequest'),
        '401': b.error('Unauthorized'),
        '429': b.error('TooManyRequests'),
      },
    },
  });
  b.add({
    method: 'post',
    path: '/oauth/revoke',
    operation: {
      tags: ['OAuth2'],
      operationId: 'oauthRevoke',
      summary: 'Revoke a token (RFC 7009)',
      security,
      requestBody: form({ token: { type: 'string' }, token_type_hint: { type: 'string', enum: ['access_token', 'refresh_token'] } }, ['token'], { token: 'eyJhbGciOi…' }),
      responses: { '200': { description: 'Revoked (or unknown: the same answer).' }, '400': b.error('BadRequest'), '401': b.error('Unauthorized'), '429': b.error('TooManyRequests') },
    },
  });
  b.add({
    method: 'get',
    path: '/oauth/tokeninfo',
    operation: {
      tags: ['OAuth2'],
      operationId: 'oauthTokenInfo',
      summary: 'Describe a token (Google style)',
      security: [{}],
      parameters: [{ name: 'access_token', in: 'query', required: true, schema: { type: 'string' } }],
      responses: {
        '200': { description: 'The token\'s client, subject, scopes and expiry.', content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } } },
        '400': b.error('BadRequest'),
        '429': b.error('TooManyRequests'),
      },
    },
  });
  b.add({
    method: 'get',
    path: '/oauth/jwks.json',
    operation: {
      tags: ['OAuth2'],
      operationId: 'oauthJwks',
      summary: 'The public keys of access tokens (JWKS)',
      security: [{}],
      responses: { '200': { description: 'RFC 7517 key set.', content: { 'application/jwk-set+json': { schema: { type: 'object', properties: { keys: { type: 'array', items: { type: 'object' } } }, required: ['keys'] } } } }, '429': b.error('TooManyRequests') },
    },
  });
  b.add({
    method: 'get',
    path: '/.well-known/oauth-authorization-server',
    operation: {
      tags: ['OAuth2'],
      operationId: 'oauthMetadata',
      summary: 'Authorization server metadata (RFC 8414)',
      security: [{}],
      responses: { '200': { description: 'Endpoints, grant types and scopes.', content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } } }, '429': b.error('TooManyRequests') },
    },
  });
}

function addOtherProtocols(b: Builder): void {
  const security = [{}, { bearerAuth: [] }, { oauth2: [] }];
  b.add({
    method: 'post',
    path: `${b.prefix}/rpc`,
    operation: {
      tags: ['Other protocols'],
      operationId: 'jsonRpc',
      summary: 'JSON-RPC 2.0',
      description: 'Methods `<resource>.list|get|create|replace|update|delete|search` and every operation; batches and notifications. `rpc.discover` returns the OpenRPC document.',
      security,
      requestBody: {
        required: true,
        content: { 'application/json': { schema: { type: ['object', 'array'] }, example: { jsonrpc: '2.0', method: 'restaurants.list', params: { filter: { type: ['thai'] }, range: [0, 4] }, id: 1 } } },
      },
      responses: {
        '200': { description: 'The response, or the batch\'s responses (errors are JSON-RPC errors, status 200).', content: { 'application/json': { schema: { type: ['object', 'array'] } } } },
        '204': { description: 'Only notifications: nothing to answer.' },
        '400': b.error('BadRequest'),
        '401': b.error('Unauthorized'),
        '429': b.error('TooManyRequests'),
      },
    },
  });
  const gqlResponse = { description: 'The GraphQL response (`data`, `errors`).', content: { 'application/json': { schema: { type: 'object', additionalProperties: true } }, 'application/graphql-response+json': { schema: { type: 'object', additionalProperties: true } } } };
  b.add({
    method: 'post',
    path: `${b.prefix}/graphql`,
    operation: {
      tags: ['Other protocols'],
      operationId: 'graphqlPost',
      summary: 'GraphQL',
      description: 'Queries and mutations over the same service. The SDL is at `/v1/graphql/schema.graphql`; a browser opens GraphiQL.',
      security,
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: { type: 'object', properties: { query: { type: 'string' }, variables: { type: 'object' }, operationName: { type: 'string' } }, required: ['query'] },
            example: { query: '{ restaurants(range: "0-4") { id name rating } }' },
          },
        },
      },
      responses: { '200': gqlResponse, '400': b.error('BadRequest'), '401': b.error('Unauthorized'), '429': b.error('TooManyRequests') },
    },
  });
}

// ---------------------------------------------------------------------------------------
// Caching and per-request URLs

const documents = new WeakMap<ApiModel, OpenApiDocument>();

/** The document of a model, built once (the schema does not change while serving). */
export function openApiDocument(input: DocumentInput): OpenApiDocument {
  let doc = documents.get(input.api);
  if (!doc) {
    doc = buildOpenApiDocument(input);
    documents.set(input.api, doc);
  }
  return doc;
}

/** The document with a request's base URLs: the API server, and the OAuth2 host for its endpoints and token URL. */
export function withUrls(doc: OpenApiDocument, urls: DocumentUrls): OpenApiDocument {
  const oauth = doc.components.securitySchemes.oauth2 as { flows: { clientCredentials: OpenApiObject } };
  const paths =
    urls.oauth === urls.api
      ? doc.paths
      : Object.fromEntries(Object.entries(doc.paths).map(([p, item]) => [p, p.startsWith('/oauth/') || p.startsWith('/.well-known/') ? { servers: [{ url: urls.oauth }], ...item } : item]));
  return {
    ...doc,
    servers: [{ url: urls.api, description: 'This server' }],
    paths,
    components: {
      ...doc.components,
      securitySchemes: {
        ...doc.components.securitySchemes,
        oauth2: { ...oauth, flows: { clientCredentials: { ...oauth.flows.clientCredentials, tokenUrl: `${urls.oauth}/oauth/token`, refreshUrl: `${urls.oauth}/oauth/token` } } },
      },
    },
  };
}
