/**
 * The OpenRPC 1.3 document `rpc.discover` returns (SPEC §5): every method of the table with
 * its named params, result and errors, and the JSON Schemas of items, inputs, patches,
 * filters and pages as components — derived from the same model as the REST OpenAPI document.
 */
import { ERROR_KINDS } from '../../errors.js';
import type { FieldSpec, ResourceModel } from '../../schema/types.js';
import type { ResourceService } from '../../service/resource-service.js';
import { ref, resourceSchemas, typeName, type RpcMethod, type Schema } from './methods.js';

export const OPENRPC_VERSION = '1.3.2';

const OPS: Record<string, string> = {
  eq: 'any of these values', ne: 'none of these values', gt: 'greater than', gte: 'at least', lt: 'less than', lte: 'at most',
  like: '`*` wildcard pattern, case-insensitive', null: 'true: has no value; false: has one',
};

/** Leaf paths a filter can name: `rating`, `address.city`, `days` (an array: contains). */
function filterPaths(prefix: string, spec: FieldSpec, out: [string, Schema, boolean][]): void {
  if (spec.type === 'object') {
    for (const [name, sub] of Object.entries(spec.properties ?? {})) filterPaths(`${prefix}.${name}`, sub, out);
    return;
  }
  if (spec.type === 'array') {
    const items = spec.items;
    if (items && ['string', 'integer', 'number', 'boolean'].includes(items.type)) out.push([prefix, leafSchema(items), true]);
    return;
  }
  if (spec.type === 'blob') return;
  out.push([prefix, leafSchema(spec), false]);
}

function leafSchema(spec: FieldSpec): Schema {
  const out: Schema = { type: spec.type };
  if (spec.enum) out.enum = [...spec.enum];
  if (spec.format) out.format = spec.format;
  return out;
}

/** `{"type": ["thai"], "rating": {"gte": 4}}`: per path a value, a list (any of), null, or operators. */
function filterSchema(resource: ResourceModel): Schema {
  const paths: [string, Schema, boolean][] = [['id', resource.key.type === 'uuid' ? { type: 'string', format: 'uuid' } : { type: 'integer' }, false]];
  for (const field of resource.fieldList) filterPaths(field.name, field.spec, paths);
  const properties: Schema = {};
  for (const [path, leaf, array] of paths) {
    const ops: Schema = {};
    for (const [op, description] of Object.entries(OPS)) {
      if (op === 'null') ops[op] = { type: 'boolean', description };
      else if (op === 'like') {
        if (leaf.type === 'string') ops[op] = { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }], description };
      } else if (op === 'eq' || op === 'ne') ops[op] = { anyOf: [leaf, { type: 'array', items: leaf }], description };
      else if (!array && leaf.type !== 'boolean') ops[op] = { ...leaf, description };
    }
    properties[path] = {
      description: array ? `${path} contains any of the values` : `${path} is any of the values`,
      anyOf: [leaf, { type: 'array', items: leaf }, { type: 'null' }, { type: 'object', properties: ops, additionalProperties: false }],
    };
  }
  return { type: 'object', description: `Filters on ${resource.name} (SPEC §4.4); on an object field, an object filters on its properties.`, properties, additionalProperties: false };
}

function schemas(service: ResourceService): Record<string, Schema> {
  const out: Record<string, Schema> = {
    Range: {
      type: 'object',
      description: 'Indexes of the first and last items returned (last = first - 1 when none) and the total matching (null when not counted).',
      properties: { first: { type: 'integer', minimum: 0 }, last: { type: 'integer', minimum: -1 }, total: { type: ['integer', 'null'], minimum: 0 } },
      required: ['first', 'last', 'total'],
    },
  };
  for (const resource of service.api.resources.values()) {
    const T = typeName(resource.singular);
    Object.assign(out, resourceSchemas(resource));
    out[`${T}Filter`] = filterSchema(resource);
    const list = {
      type: 'object',
      properties: { items: { type: 'array', items: ref(T) }, range: ref('Range'), next: { type: 'string', description: 'Cursor of the next page (param `after`), when more may follow.' } },
      required: ['items', 'range'],
    };
    out[`${T}List`] = list;
    if (resource.searchFields.length > 0) {
      out[`${T}SearchResult`] = {
        ...list,
        properties: { ...list.properties, query: { type: 'string', description: 'The search as understood.' }, suggestions: { type: 'array', items: { type: 'string' }, maxItems: 5 } },
        required: ['items', 'range', 'query', 'suggestions'],
      };
    }
  }
  return out;
}

/** The error kind documenting a code (`invalid_restaurant` → `invalid_resource`). */
function errorKind(code: string): string {
  return code in ERROR_KINDS ? code : code.startsWith('invalid_') ? 'invalid_resource' : 'server_error';
}

export function openRpcDocument(service: ResourceService, methods: readonly RpcMethod[], baseUrl: string): Record<string, unknown> {
  const api = service.api;
  const errors = Object.fromEntries(
    Object.entries(ERROR_KINDS).map(([code, kind]) => [code, { code: kind.rpc, message: kind.title, data: { error: code === 'invalid_resource' ? 'invalid_<singular>' : code, status: kind.status } }]),
  );
  return {
    openrpc: OPENRPC_VERSION,
    info: {
      title: api.name,
      version: String(api.version),
      description: `${api.description ? `${api.description}\n\n` : ''}JSON-RPC 2.0 over HTTP POST (batches and notifications allowed). Service errors carry data {error, error_description, status}.`,
    },
    servers: [{ name: api.name, url: `${baseUrl}${service.prefix}/rpc` }],
    methods: methods.map((m) => ({
      name: m.name,
      summary: m.summary,
      ...(m.description ? { description: m.description } : {}),
      tags: [{ name: m.tag }],
      paramStructure: 'by-name',
      params: m.params.map((p) => ({ name: p.name, description: p.description, required: p.required, schema: p.schema })),
      result: { name: m.result.name, schema: m.result.schema },
      errors: [...new Set(m.errors.map(errorKind))].map((k) => ({ $ref: `#/components/errors/${k}` })),
    })),
    components: { schemas: schemas(service), errors },
  };
}
