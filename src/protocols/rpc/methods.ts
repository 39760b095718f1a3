/**
 * The JSON-RPC method table, generated from the model (SPEC §5): `<resource>.list|get|create|
 * replace|update|delete|search`, every operation (`calculator.sum`) and item action
 * (`orders.cancel` with `id`). Each method names its parameters (what the OpenRPC document
 * publishes and what is checked at the door) and translates them into ONE service call.
 */
import { errors } from '../../errors.js';
import { jsonFilters } from '../../query/parse-json-filter.js';
import type { QueryInput } from '../../query/types.js';
import { itemSchema } from '../../schema/json-schema.js';
import type { ActionModel, JsonSchema, ResourceModel } from '../../schema/types.js';
import type { ResourceService } from '../../service/resource-service.js';
import type { CallContext, ListResult, SearchResult } from '../../service/types.js';

export type Schema = Record<string, unknown>;

export interface RpcParam {
  readonly name: string;
  readonly required: boolean;
  readonly description: string;
  /** What the parameter holds (published in the OpenRPC document). */
  readonly schema: Schema;
  /** The shape checked at the door; the service checks the rest, so errors are the same as REST's. */
  readonly check: Schema;
}

export interface RpcMethod {
  readonly name: string;
  readonly summary: string;
  readonly description?: string;
  /** The resource, or `operations`. */
  readonly tag: string;
  readonly params: readonly RpcParam[];
  /** Operations taking an object: the params ARE the input, whatever their names. */
  readonly openParams: boolean;
  /** Operations taking an array: `"params": [1, 2, 3]` is read as `{"input": [1, 2, 3]}`. */
  readonly positionalInput: boolean;
  readonly result: { readonly name: string; readonly schema: Schema };
  /** Error kinds worth documenting for this method. */
  readonly errors: readonly string[];
  readonly call: (params: Readonly<Record<string, unknown>>, ctx: CallContext) => Promise<unknown>;
}

/** `{"$ref": "#/components/schemas/Restaurant"}` */
export function ref(name: string): Schema {
  return { $ref: `#/components/schemas/${name}` };
}

/** `restaurant` → `Restaurant`, `order-item` → `OrderItem`. */
export function typeName(spinal: string): string {
  return spinal.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());
}

const ANY: Schema = {};
const STRINGS_OR_LIST: Schema = { anyOf: [{ type: 'array', items: { type: 'string' } }, { type: 'string' }] };

/** List results: `{"items":[…],"range":{"first":0,"last":24,"total":48}}` (+ `next`, a cursor, when more may follow). */
export function listResult(result: ListResult): Record<string, unknown> {
  return {
    items: result.items,
    range: { first: result.first, last: result.last, total: result.total },
    ...(result.nextCursor ? { next: result.nextCursor } : {}),
  };
}

/** Named list params → the protocol-neutral query input. */
export function queryInput(resource: ResourceModel, p: Readonly<Record<string, unknown>>): QueryInput {
  const input: { -readonly [K in keyof QueryInput]: QueryInput[K] } = { filters: jsonFilters(resource, p.filter) };
  if (p.sort !== undefined) input.sort = typeof p.sort === 'string' ? p.sort.split(',') : (p.sort as string[]);
  if (p.desc !== undefined) input.desc = p.desc === true ? true : typeof p.desc === 'string' ? p.desc.split(',') : (p.desc as string[]);
  if (p.range !== undefined) input.range = p.range as string | [number, number];
  if (p.limit !== undefined) input.limit = p.limit as number;
  if (p.offset !== undefined) input.offset = p.offset as number;
  if (p.after !== undefined) input.after = p.after as string;
  if (p.fields !== undefined) input.fields = Array.isArray(p.fields) ? p.fields.join(',') : (p.fields as string);
  if (p.count !== undefined) input.count = p.count as QueryInput['count'];
  return input;
}

function fieldsOf(p: Readonly<Record<string, unknown>>): { fields?: string } {
  if (p.fields === undefined) return {};
  return { fields: Array.isArray(p.fields) ? p.fields.join(',') : (p.fields as string) };
}

function listParams(resource: ResourceModel, search: boolean): RpcParam[] {
  const T = typeName(resource.singular);
  return [
    { name: 'filter', required: false, description: search ? `Patterns (\`*\`) on search fields, filters on the others: {"name": "*napoli*", "rating": {"gte": 4}}.` : `Filters (SPEC §4.4): {"type": ["thai"], "rating": {"gte": 4}}; a list is any of; null is "is null".`, schema: ref(`${T}Filter`), check: { type: 'object' } },
    { name: 'sort', required: false, description: 'Fields to sort on, in order; the key breaks ties.', schema: STRINGS_OR_LIST, check: STRINGS_OR_LIST },
    { name: 'desc', required: false, description: 'Sort fields taken in descending order; true for all.', schema: { anyOf: [{ type: 'array', items: { type: 'string' } }, { type: 'string' }, { const: true }] }, check: { anyOf: [{ type: 'array', items: { type: 'string' } }, { type: 'string' }, { const: true }] } },
    { name: 'range', required: false, description: `Items first..last, 0-based and inclusive: [0, 24] (at most ${resource.maxRange}).`, schema: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 2, maxItems: 2 }, check: { anyOf: [{ type: 'array', items: { type: 'integer' }, minItems: 2, maxItems: 2 }, { type: 'string' }] } },
    { name: 'limit', required: false, description: 'Page size (with offset, or with after).', schema: { type: 'integer', minimum: 1, maximum: resource.maxRange }, check: { type: 'integer' } },
    { name: 'offset', required: false, description: 'Index of the first item.', schema: { type: 'integer', minimum: 0 }, check: { type: 'integer' } },
    ...(search ? [] : [{ name: 'after', required: false, description: 'An opaque cursor from `next`: the page after it, in constant time.', schema: { type: 'string' }, check: { type: 'string' } }]),
    { name: 'fields', required: false, description: 'Partial response and embedding (SPEC §4.5): "name,rating,dishes(name)".', schema: STRINGS_OR_LIST, check: STRINGS_OR_LIST },
    { name: 'count', required: false, description: 'exact (default), estimated or none: how the total is counted.', schema: { enum: ['exact', 'estimated', 'none'] }, check: { enum: ['exact', 'estimated', 'none'] } },
  ];
}

function idParam(resource: ResourceModel): RpcParam {
  return {
    name: 'id',
    required: true,
    description: `The ${resource.singular}'s id.`,
    schema: resource.key.type === 'uuid' ? { type: 'string', format: 'uuid' } : { type: 'integer', minimum: 1 },
    check: { type: ['integer', 'string'] },
  };
}

function fieldsParam(resource: ResourceModel): RpcParam {
  return { name: 'fields', required: false, description: `Which fields of the ${resource.singular} to return, and relations to embed.`, schema: STRINGS_OR_LIST, check: STRINGS_OR_LIST };
}

function resourceMethods(service: ResourceService, resource: ResourceModel): RpcMethod[] {
  const T = typeName(resource.singular);
  const name = resource.name;
  const item = { name: resource.singular, schema: ref(T) };
  const base = { tag: name, openParams: false, positionalInput: false };
  const methods: RpcMethod[] = [
    {
      ...base,
      name: `${name}.list`,
      summary: `List ${name}`,
      description: `A page of ${name}, filtered, sorted and ranged like GET ${service.prefix}/${name}.`,
      params: listParams(resource, false),
      result: { name: `${name}Page`, schema: ref(`${T}List`) },
      errors: ['invalid_request', 'invalid_range', 'range_not_satisfiable'],
      call: async (p, ctx) => listResult(await service.list(ctx, name, queryInput(resource, p))),
    },
    {
      ...base,
      name: `${name}.get`,
      summary: `Get one ${resource.singular}`,
      params: [idParam(resource), fieldsParam(resource)],
      result: item,
      errors: ['not_found', 'invalid_request'],
      call: async (p, ctx) => (await service.get(ctx, name, p.id, fieldsOf(p))).data,
    },
    {
      ...base,
      name: `${name}.create`,
      summary: `Create a ${resource.singular}`,
      description: 'The server assigns the id.',
      params: [{ name: 'input', required: true, description: `The new ${resource.singular}.`, schema: ref(`${T}Input`), check: ANY }, fieldsParam(resource)],
      result: item,
      errors: [`invalid_${resource.singular}`, 'conflict'],
      call: async (p, ctx) => (await service.create(ctx, name, p.input, fieldsOf(p))).data,
    },
    {
      ...base,
      name: `${name}.replace`,
      summary: `Replace a ${resource.singular} (or create it with this id)`,
      description: 'Fields absent from the input are cleared (default or null).',
      params: [idParam(resource), { name: 'input', required: true, description: `The whole ${resource.singular}.`, schema: ref(`${T}Input`), check: ANY }, fieldsParam(resource)],
      result: item,
      errors: [`invalid_${resource.singular}`, 'not_found', 'conflict', 'invalid_transition'],
      call: async (p, ctx) => (await service.replace(ctx, name, p.id, p.input, fieldsOf(p))).result.data,
    },
    {
      ...base,
      name: `${name}.update`,
      summary: `Update a ${resource.singular} (JSON merge patch, RFC 7396)`,
      params: [idParam(resource), { name: 'patch', required: true, description: 'Members to change; null clears one.', schema: ref(`${T}Patch`), check: ANY }, fieldsParam(resource)],
      result: item,
      errors: [`invalid_${resource.singular}`, 'not_found', 'conflict', 'invalid_transition'],
      call: async (p, ctx) => (await service.update(ctx, name, p.id, p.patch, fieldsOf(p))).data,
    },
    {
      ...base,
      name: `${name}.delete`,
      summary: `Delete a ${resource.singular}`,
      description: `Returns the ${resource.singular} as it was.`,
      params: [idParam(resource), fieldsParam(resource)],
      result: item,
      errors: ['not_found', 'conflict'],
      call: async (p, ctx) => (await service.delete(ctx, name, p.id, fieldsOf(p))).data,
    },
  ];
  if (resource.searchFields.length > 0) {
    methods.push({
      ...base,
      name: `${name}.search`,
      summary: `Search ${name}`,
      description: `\`*\` patterns on ${resource.searchFields.map((f) => f.name).join(', ')} (whole value, case- and accent-insensitive), filters on the other fields (SPEC §4.6).`,
      params: listParams(resource, true),
      result: { name: `${name}SearchResult`, schema: ref(`${T}SearchResult`) },
      errors: ['invalid_request', 'invalid_range'],
      call: async (p, ctx) => {
        const result: SearchResult = await service.search(ctx, name, queryInput(resource, p));
        return { ...listResult(result), query: result.query, suggestions: result.suggestions };
      },
    });
  }
  for (const action of resource.actions.values()) methods.push(actionMethod(service, action, resource));
  return methods;
}

function outputSchema(action: ActionModel): Schema {
  return (action.spec.output as Schema | undefined) ?? {};
}

function actionMethod(service: ResourceService, action: ActionModel, resource: ResourceModel | null): RpcMethod {
  const input = action.spec.input as JsonSchema | undefined;
  const summary = action.spec.summary ?? `Run ${action.rpcName}`;
  const description = action.spec.description;
  const result = { name: 'result', schema: outputSchema(action) };
  const documented = ['invalid_request', 'not_implemented'];
  if (resource) {
    // Item action: `{"id": 7, "input": …}`.
    return {
      name: action.rpcName,
      summary,
      ...(description ? { description } : {}),
      tag: resource.name,
      openParams: false,
      positionalInput: false,
      params: [idParam(resource), { name: 'input', required: false, description: 'The input of the action.', schema: input ?? {}, check: ANY }],
      result,
      errors: ['not_found', ...documented],
      call: (p, ctx) => service.action(ctx, action.rpcName, p.input === undefined ? null : p.input, { resource: resource.name, id: p.id }),
    };
  }
  const properties = input?.type === 'object' ? ((input.properties as Record<string, Schema> | undefined) ?? {}) : null;
  if (properties) {
    // An object input: its properties are the params (`convert {"from","to","amount"}`).
    const required = new Set((input?.required as string[] | undefined) ?? []);
    return {
      name: action.rpcName,
      summary,
      ...(description ? { description } : {}),
      tag: 'operations',
      openParams: true,
      positionalInput: false,
      params: Object.entries(properties).map(([n, schema]) => ({ name: n, required: required.has(n), description: (schema.description as string | undefined) ?? n, schema, check: ANY })),
      result,
      errors: documented,
      call: (p, ctx) => service.action(ctx, action.rpcName, { ...p }),
    };
  }
  return {
    name: action.rpcName,
    summary,
    ...(description ? { description } : {}),
    tag: 'operations',
    openParams: false,
    positionalInput: input?.type === 'array',
    params: [{ name: 'input', required: input !== undefined, description: input?.type === 'array' ? 'The input (the params array itself is read as the input too).' : 'The input.', schema: input ?? {}, check: ANY }],
    result,
    errors: documented,
    call: (p, ctx) => service.action(ctx, action.rpcName, p.input === undefined ? null : p.input),
  };
}

/** Every method of the API, in a stable order: resources, then operations. */
export function buildMethods(service: ResourceService): RpcMethod[] {
  const methods: RpcMethod[] = [];
  for (const resource of service.api.resources.values()) methods.push(...resourceMethods(service, resource));
  for (const action of service.api.actions.values()) methods.push(actionMethod(service, action, null));
  const seen = new Set<string>();
  for (const m of methods) {
    if (seen.has(m.name) || m.name.startsWith('rpc.')) throw new Error(`JSON-RPC method ${m.name} is defined twice; rename the item action`);
    seen.add(m.name);
  }
  return methods;
}

/** JSON Schemas of items, inputs and patches, for the OpenRPC components. */
export function resourceSchemas(resource: ResourceModel): Record<string, Schema> {
  const T = typeName(resource.singular);
  return {
    [T]: itemSchema(resource, 'read'),
    [`${T}Input`]: itemSchema(resource, 'write'),
    [`${T}Patch`]: itemSchema(resource, 'patch'),
  };
}

/** Params as given → named params, or an invalid-params error saying what is expected. */
export function namedParams(method: RpcMethod, params: unknown): Record<string, unknown> {
  if (params === undefined) return {};
  if (Array.isArray(params)) {
    if (method.positionalInput) return { input: params };
    throw errors.invalidRequest(`${method.name} takes its params by name: {${method.params.map((p) => `"${p.name}"`).join(', ')}}.`);
  }
  const named = params as Record<string, unknown>;
  if (!method.openParams) {
    const known = new Set(method.params.map((p) => p.name));
    const unknown = Object.keys(named).filter((k) => !known.has(k));
    if (unknown.length > 0) {
      throw errors.invalidRequest(`${method.name} has no param ${unknown.map((u) => `'${u}'`).join(', ')}; its params are ${[...known].join(', ')}.`, {
        errors: unknown.map((u) => ({ field: u, error: 'unknown', error_description: `There is no '${u}' param` })),
      });
    }
  }
  return named;
}
