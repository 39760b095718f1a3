/**
 * The GraphQL schema generated from the model, named as SPEC §6 names it: a type per
 * resource (`Restaurant`), enum-constrained fields as enums, keys as `ID`, relations as fields
 * both ways (to-many ones paged like lists), `restaurant(id)`, `restaurants(filter, sort, desc,
 * range)`, mutations per resource and operations as mutations. The types are built first and
 * handed to the root-field builders (and, later, to a `Subscription` builder fed by events).
 */
import {
  GraphQLBoolean,
  GraphQLEnumType,
  GraphQLFloat,
  GraphQLID,
  GraphQLInputObjectType,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLScalarType,
  GraphQLSchema,
  GraphQLString,
  valueFromASTUntyped,
  type GraphQLFieldConfig,
  type GraphQLFieldConfigArgumentMap,
  type GraphQLFieldConfigMap,
  type GraphQLInputFieldConfigMap,
  type GraphQLInputType,
  type GraphQLOutputType,
} from 'graphql';
import type { ActionModel, ApiModel, FieldSpec, ResourceModel } from '../../schema/types.js';
import type { ResourceService } from '../../service/resource-service.js';
import type { CallContext } from '../../service/types.js';
import { actionResolver, deleteResolver, getResolver, listResolver, searchResolver, writeResolver } from './resolvers.js';

/** What every resolver receives. */
export interface GraphqlContext {
  readonly call: CallContext;
}

/** One member of a `<Type>Filter` input: the filter it stands for. */
export interface FilterMember {
  /** Dotted path (`address.city`). */
  readonly path: string;
  readonly op: string;
  /** Integer keys arrive as `ID` strings and are turned back into numbers. */
  readonly integerKey: boolean;
}

export interface ResourceTypes {
  readonly resource: ResourceModel;
  /** `Restaurant` */
  readonly object: GraphQLObjectType;
  /** `RestaurantPage`: `{items, total, range}` */
  readonly page: GraphQLObjectType;
  /** `RestaurantFilter` and what each of its members means. */
  readonly filter: GraphQLInputObjectType;
  readonly filterMembers: ReadonlyMap<string, FilterMember>;
  readonly input: GraphQLInputObjectType;
  readonly patch: GraphQLInputObjectType;
  /** The root field names: `restaurant`, `restaurants`, `createRestaurant`, … */
  readonly names: { readonly item: string; readonly list: string; readonly search: string; readonly create: string; readonly replace: string; readonly update: string; readonly delete: string };
}

export interface GraphqlTypes {
  readonly api: ApiModel;
  /** By resource name. */
  readonly resources: ReadonlyMap<string, ResourceTypes>;
  readonly rangeInput: GraphQLInputObjectType;
  readonly json: GraphQLScalarType;
  /** The arguments of a list: filter, sort, desc, range. */
  listArgs(resource: string): GraphQLFieldConfigArgumentMap;
  /** GraphQL types for a JSON Schema (operations' inputs and outputs, event payloads), named once. */
  inputType(schema: Readonly<Record<string, unknown>>, name: string): GraphQLInputType;
  outputType(schema: Readonly<Record<string, unknown>>, name: string): GraphQLOutputType;
}

/**
 * Root fields added by other rooms. The events room adds `Subscription { restaurantChanged(filter:
 * RestaurantFilter): … }` from `types.resources.get('restaurants').filter` and its own event type.
 */
export interface SchemaExtensions {
  readonly subscription?: (types: GraphqlTypes) => GraphQLFieldConfigMap<unknown, GraphqlContext>;
}

/** Embedded relations live under `@<response key>` in the service's items, apart from fields. */
export function embedKey(responseKey: string): string {
  return `@${responseKey}`;
}

/** `restaurant` → `Restaurant`; `order-item` → `OrderItem`; `zipCode` → `ZipCode`. */
export function pascal(name: string): string {
  return name.replace(/(^|[-_/.])([a-zA-Z0-9])/g, (_, __, c: string) => c.toUpperCase());
}

/** `calculator/sum` → `calculatorSum`; `order-items` → `orderItems`. */
export function camel(name: string): string {
  const p = pascal(name);
  return p.charAt(0).toLowerCase() + p.slice(1);
}

const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;
const RESERVED_TYPES = new Set(['Query', 'Mutation', 'Subscription', 'JSON', 'Blob', 'PageRange', 'RangeInput', 'Int', 'Float', 'String', 'Boolean', 'ID']);

/** Free-form JSON values: objects without declared properties, operations' loose schemas. */
export const GraphQLJSON = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});

const Blob = new GraphQLObjectType({
  name: 'Blob',
  description: 'Binary content, read and written at its href (SPEC §4.9).',
  fields: { href: { type: new GraphQLNonNull(GraphQLString) }, contentType: { type: new GraphQLNonNull(GraphQLString) }, size: { type: new GraphQLNonNull(GraphQLInt) } },
});

const PageRange = new GraphQLObjectType({
  name: 'PageRange',
  description: 'Indexes of the first and last items of the page, 0-based (last = first - 1 when the page is empty).',
  fields: { first: { type: new GraphQLNonNull(GraphQLInt) }, last: { type: new GraphQLNonNull(GraphQLInt) } },
});

const RangeInput = new GraphQLInputObjectType({
  name: 'RangeInput',
  description: 'Items first..last, 0-based and inclusive (SPEC §4.3); first alone: a page of maxRange items from there.',
  fields: { first: { type: GraphQLInt }, last: { type: GraphQLInt } },
});

type Schema = Readonly<Record<string, unknown>>;

/** Builds GraphQL types from JSON Schemas (fields and operations), each named once. */
class TypeFactory {
  private readonly outputs = new Map<string, GraphQLOutputType>();
  private readonly inputs = new Map<string, GraphQLInputType>();
  private readonly enums = new Map<string, GraphQLEnumType | null>();
  readonly taken = new Set<string>(RESERVED_TYPES);

  /** A name not yet used: `base`, or `base` + suffix. */
  name(base: string, fallbackSuffix: string): string {
    if (!this.taken.has(base)) return base;
    let candidate = `${base}${fallbackSuffix}`;
    for (let i = 2; this.taken.has(candidate); i++) candidate = `${base}${fallbackSuffix}${i}`;
    return candidate;
  }

  /** An enum for string values that are all GraphQL names, else null (the field stays a String). */
  enumOf(schema: Schema, name: string): GraphQLEnumType | null {
    if (this.enums.has(name)) return this.enums.get(name) as GraphQLEnumType | null;
    const values = schema.enum as readonly unknown[] | undefined;
    let out: GraphQLEnumType | null = null;
    if (values && values.length > 0 && values.every((v) => typeof v === 'string' && NAME.test(v) && !['true', 'false', 'null'].includes(v))) {
      const typeName = this.name(name, 'Enum');
      this.taken.add(typeName);
      out = new GraphQLEnumType({ name: typeName, values: Object.fromEntries((values as string[]).map((v) => [v, { value: v }])) });
    }
    this.enums.set(name, out);
    return out;
  }

  private scalar(schema: Schema, name: string): GraphQLOutputType & GraphQLInputType {
    switch (schema.type) {
      case 'string':
        return this.enumOf(schema, name) ?? GraphQLString;
      case 'integer': {
        // GraphQL's Int is 32-bit; integers declared beyond it are Floats (exact up to 2^53).
        const min = (schema.minimum as number | undefined) ?? (schema.exclusiveMinimum as number | undefined);
        const max = (schema.maximum as number | undefined) ?? (schema.exclusiveMaximum as number | undefined);
        return (min !== undefined && min < -(2 ** 31)) || (max !== undefined && max > 2 ** 31 - 1) ? GraphQLFloat : GraphQLInt;
      }
      case 'number':
        return GraphQLFloat;
      case 'boolean':
        return GraphQLBoolean;
      default:
        return GraphQLJSON;
    }
  }

  output(schema: Schema, name: string): GraphQLOutputType {
    if (schema.type === 'blob') return Blob;
    if (schema.type === 'array') {
      const items = schema.items as Schema | undefined;
      return items ? new GraphQLList(new GraphQLNonNull(this.output(items, singularName(name)))) : GraphQLJSON;
    }
    if (schema.type === 'object') {
      const properties = schema.properties as Record<string, Schema> | undefined;
      if (!properties || Object.keys(properties).length === 0 || !Object.keys(properties).every((k) => NAME.test(k))) return GraphQLJSON;
      const cached = this.outputs.get(name);
      if (cached) return cached;
      const typeName = this.name(name, 'Object');
      this.taken.add(typeName);
      const type = new GraphQLObjectType({
        name: typeName,
        fields: () => Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, { type: this.output(v, `${name}${pascal(k)}`), ...describe(v) }])),
      });
      this.outputs.set(name, type);
      return type;
    }
    return this.scalar(schema, name);
  }

  input(schema: Schema, name: string): GraphQLInputType {
    if (schema.type === 'array') {
      const items = schema.items as Schema | undefined;
      return items ? new GraphQLList(new GraphQLNonNull(this.input(items, singularName(name)))) : GraphQLJSON;
    }
    if (schema.type === 'object') {
      const properties = schema.properties as Record<string, Schema> | undefined;
      if (!properties || Object.keys(properties).length === 0 || !Object.keys(properties).every((k) => NAME.test(k))) return GraphQLJSON;
      const cached = this.inputs.get(name);
      if (cached) return cached;
      const typeName = this.name(`${name}Input`, 'Value');
      this.taken.add(typeName);
      const type = new GraphQLInputObjectType({
        name: typeName,
        // Nullable members: the service checks required ones and reports every problem at once.
        fields: () => Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, { type: this.input(v, `${name}${pascal(k)}`), ...describe(v) }])),
      });
      this.inputs.set(name, type);
      return type;
    }
    return this.scalar(schema, name);
  }
}

/** `RestaurantDays` → `RestaurantDay` for the items of a list (`OrderItems` → `OrderItem`). */
function singularName(name: string): string {
  if (/[^aeiou]ies$/.test(name)) return `${name.slice(0, -3)}y`;
  if (/(ss|sh|ch|x|z)es$/.test(name)) return name.slice(0, -2);
  if (/[^s]s$/.test(name)) return name.slice(0, -1);
  return `${name}Item`;
}

function describe(schema: Schema): { description?: string } {
  return typeof schema.description === 'string' ? { description: schema.description } : {};
}

function fieldDescription(field: { spec: FieldSpec; required: boolean; readOnly: boolean }): { description?: string } {
  const notes = [field.spec.description, field.required ? 'Required.' : null, field.spec.format ? `Format: ${field.spec.format}.` : null, field.readOnly ? 'Read-only.' : null].filter(Boolean);
  return notes.length > 0 ? { description: notes.join(' ') } : {};
}

const list = <T extends GraphQLOutputType | GraphQLInputType>(t: T) => new GraphQLList(new GraphQLNonNull(t));

/** Leaf paths a filter may name, with their JSON Schema: `rating`, `address.city`, `days` (array). */
function filterLeaves(prefix: string, spec: FieldSpec, out: { path: string; spec: FieldSpec; array: boolean }[]): void {
  if (spec.type === 'object') {
    for (const [name, sub] of Object.entries(spec.properties ?? {})) if (NAME.test(name)) filterLeaves(`${prefix}.${name}`, sub, out);
  } else if (spec.type === 'array') {
    if (spec.items && ['string', 'integer', 'number', 'boolean'].includes(spec.items.type)) out.push({ path: prefix, spec: spec.items, array: true });
  } else if (spec.type !== 'blob') out.push({ path: prefix, spec, array: false });
}

/** Builds every type of the API (no root fields yet). */
export function buildTypes(api: ApiModel): GraphqlTypes {
  const factory = new TypeFactory();
  // Resource types first, so that field types never take their names.
  for (const resource of api.resources.values()) {
    const T = pascal(resource.singular);
    for (const name of [T, `${T}Page`, `${T}Filter`, `${T}Input`, `${T}Patch`, `${T}SearchResult`]) {
      if (factory.taken.has(name)) throw new Error(`GraphQL: the type name ${name} (from ${resource.name}) collides with another type; give ${resource.name} another singular`);
      factory.taken.add(name);
    }
  }
  const resources = new Map<string, ResourceTypes>();
  const separator = api.casing === 'snake' ? '__' : '_';
  const filters = new Map<string, GraphQLInputObjectType>();

  const listArgs = (resourceName: string): GraphQLFieldConfigArgumentMap => ({
    filter: { type: filters.get(resourceName) as GraphQLInputObjectType },
    sort: { type: list(GraphQLString), description: 'Fields to sort on, in order; the key breaks ties (SPEC §4.4).' },
    desc: { type: list(GraphQLString), description: 'Sort fields taken in descending order.' },
    range: { type: RangeInput },
  });

  for (const resource of api.resources.values()) {
    const T = pascal(resource.singular);
    const idType = new GraphQLNonNull(GraphQLID);
    // Filter: one list-valued member per leaf, plus the operators of SPEC §4.4 (`rating_gte`).
    const members = new Map<string, FilterMember>();
    const filterFields: GraphQLInputFieldConfigMap = {};
    const leaves: { path: string; spec: FieldSpec; array: boolean }[] = [];
    for (const field of resource.fieldList) filterLeaves(field.name, field.spec, leaves);
    const add = (name: string, member: FilterMember, type: GraphQLInputType, description: string) => {
      if (filterFields[name]) return; // a generated name met twice: the first one stands
      filterFields[name] = { type, description };
      members.set(name, member);
    };
    const key = { path: 'id', op: 'eq', integerKey: resource.key.type === 'integer' };
    add('id', key, list(GraphQLID), 'Any of these ids.');
    add('id_ne', { ...key, op: 'ne' }, list(GraphQLID), 'None of these ids.');
    for (const op of ['gt', 'gte', 'lt', 'lte'] as const) add(`id_${op}`, { ...key, op }, GraphQLID, `id ${op}`);
    for (const leaf of leaves) {
      const base = leaf.path.split('.').join(separator);
      const named = `${T}${leaf.path.split('.').map(pascal).join('')}`;
      // The same names as the object type's fields use, so each enum exists once (`RestaurantDay`).
      const leafType = factory.input(leaf.spec as unknown as Schema, leaf.array ? singularName(named) : named);
      const m = (op: string): FilterMember => ({ path: leaf.path, op, integerKey: false });
      add(base, m('eq'), list(leafType), leaf.array ? `${leaf.path} contains any of these values.` : `${leaf.path} is any of these values.`);
      add(`${base}_ne`, m('ne'), list(leafType), `${leaf.path} is none of these values.`);
      if (!leaf.array && leaf.spec.type !== 'boolean') {
        for (const op of ['gt', 'gte', 'lt', 'lte'] as const) add(`${base}_${op}`, m(op), leafType, `${leaf.path} ${{ gt: '>', gte: '>=', lt: '<', lte: '<=' }[op]} the value.`);
      }
      if (leaf.spec.type === 'string') add(`${base}_like`, m('like'), list(GraphQLString), `${leaf.path} matches any of these \`*\` patterns (case-insensitive).`);
      add(`${base}_null`, m('null'), GraphQLBoolean, `true: ${leaf.path} has no value; false: it has one.`);
    }
    filters.set(resource.name, new GraphQLInputObjectType({ name: `${T}Filter`, description: `Filters on ${resource.name}: members are ANDed, list values ORed (SPEC §4.4).`, fields: filterFields }));

    const writeFields = (mode: 'input' | 'patch'): GraphQLInputFieldConfigMap =>
      Object.fromEntries(
        resource.fieldList
          .filter((f) => !f.readOnly && f.type !== 'blob')
          .map((f) => [f.name, { type: factory.input(f.spec as unknown as Schema, `${T}${pascal(f.name)}`), ...(mode === 'input' ? fieldDescription(f) : describe(f.spec as unknown as Schema)) }]),
      );

    const object: GraphQLObjectType = new GraphQLObjectType<Record<string, unknown>, GraphqlContext>({
      name: T,
      ...(resource.description ? { description: resource.description } : {}),
      fields: () => {
        const fields: GraphQLFieldConfigMap<Record<string, unknown>, GraphqlContext> = { id: { type: idType } };
        for (const f of resource.fieldList) fields[f.name] = { type: factory.output(f.spec as unknown as Schema, `${T}${pascal(f.name)}`), ...fieldDescription(f) };
        for (const relation of resource.relations.values()) {
          const target = resources.get(relation.target) as ResourceTypes;
          const embedded: GraphQLFieldConfig<Record<string, unknown>, GraphqlContext>['resolve'] = (source, _args, _ctx, info) => source[embedKey(String(info.path.key))] ?? null;
          fields[relation.name] =
            relation.kind === 'one'
              ? { type: target.object, description: `The ${target.resource.singular} of ${relation.field}.`, resolve: embedded }
              : { type: new GraphQLNonNull(target.page), args: listArgs(relation.target), description: `The ${relation.target} whose ${relation.field} is this ${resource.singular}, paged like a list.`, resolve: embedded };
        }
        return fields;
      },
    });
    const page = new GraphQLObjectType<{ items: unknown[]; first: number; last: number; total: number | null }, GraphqlContext>({
      name: `${T}Page`,
      description: `A page of ${resource.name}.`,
      fields: {
        items: { type: new GraphQLNonNull(list(object)) },
        total: { type: GraphQLInt, description: 'Items matching the filters (counted only when asked for).' },
        range: { type: new GraphQLNonNull(PageRange), resolve: (source) => ({ first: source.first, last: source.last }) },
      },
    });
    const itemName = camel(resource.singular);
    let listName = camel(resource.name);
    if (listName === itemName) listName = `all${pascal(resource.name)}`;
    resources.set(resource.name, {
      resource,
      object,
      page,
      filter: filters.get(resource.name) as GraphQLInputObjectType,
      filterMembers: members,
      input: new GraphQLInputObjectType({ name: `${T}Input`, description: `A whole ${resource.singular} (create, replace): members left out are cleared (default or null).`, fields: () => writeFields('input') }),
      patch: new GraphQLInputObjectType({ name: `${T}Patch`, description: `Changes to a ${resource.singular} (RFC 7396 merge patch): null clears a member.`, fields: () => writeFields('patch') }),
      names: { item: itemName, list: listName, search: `search${pascal(resource.name)}`, create: `create${T}`, replace: `replace${T}`, update: `update${T}`, delete: `delete${T}` },
    });
  }
  return {
    api,
    resources,
    rangeInput: RangeInput,
    json: GraphQLJSON,
    listArgs,
    inputType: (schema, name) => factory.input(schema, name),
    outputType: (schema, name) => factory.output(schema, name),
  };
}

/** Operations: `calculator/sum` → `calculatorSum(input: [Float!]!)`; object inputs give one argument per property. */
function actionField(service: ResourceService, types: GraphqlTypes, action: ActionModel, resource: ResourceModel | null): GraphQLFieldConfig<unknown, GraphqlContext> {
  const base = resource ? `${pascal(action.name)}${pascal(resource.singular)}` : pascal(action.path);
  const input = action.spec.input as Schema | undefined;
  const output = action.spec.output as Schema | undefined;
  const args: GraphQLFieldConfigArgumentMap = {};
  if (resource) args.id = { type: new GraphQLNonNull(GraphQLID) };
  const properties = !resource && input?.type === 'object' ? (input.properties as Record<string, Schema> | undefined) : undefined;
  const spread = properties !== undefined && Object.keys(properties).every((k) => NAME.test(k) && k !== 'id');
  if (spread) {
    const required = new Set((input?.required as string[] | undefined) ?? []);
    for (const [k, v] of Object.entries(properties)) {
      const t = types.inputType(v, `${base}${pascal(k)}`);
      args[k] = { type: required.has(k) ? new GraphQLNonNull(t) : t, ...describe(v) };
    }
  } else if (input) {
    args.input = { type: resource ? types.inputType(input, base) : new GraphQLNonNull(types.inputType(input, base)) };
  }
  return {
    type: output ? types.outputType(output, `${base}Result`) : GraphQLJSON,
    ...(action.spec.summary || action.spec.description ? { description: [action.spec.summary, action.spec.description].filter(Boolean).join('. ') } : {}),
    args,
    resolve: actionResolver(service, action, resource, spread),
  };
}

export interface BuiltSchema {
  readonly schema: GraphQLSchema;
  readonly types: GraphqlTypes;
}

/** The whole schema: Query, Mutation, and the extensions' root fields. */
export function buildGraphqlSchema(service: ResourceService, extensions: SchemaExtensions = {}): BuiltSchema {
  const types = buildTypes(service.api);
  const query: GraphQLFieldConfigMap<unknown, GraphqlContext> = {};
  const mutation: GraphQLFieldConfigMap<unknown, GraphqlContext> = {};
  const define = (map: GraphQLFieldConfigMap<unknown, GraphqlContext>, name: string, config: GraphQLFieldConfig<unknown, GraphqlContext>, from: string) => {
    if (map[name]) throw new Error(`GraphQL: the field ${name} (from ${from}) is defined twice; rename one of them`);
    map[name] = config;
  };
  for (const rt of types.resources.values()) {
    const r = rt.resource;
    const id = { type: new GraphQLNonNull(GraphQLID) };
    define(query, rt.names.item, { type: rt.object, args: { id }, description: `One ${r.singular} by id.`, resolve: getResolver(service, types, rt) }, r.name);
    define(query, rt.names.list, { type: rt.page, args: types.listArgs(r.name), description: `A page of ${r.name}, filtered, sorted and ranged (SPEC §4.3, §4.4).`, resolve: listResolver(service, types, rt) }, r.name);
    if (r.searchFields.length > 0) {
      const T = pascal(r.singular);
      const result = new GraphQLObjectType<{ items: unknown[]; first: number; last: number; total: number | null; query: string; suggestions: string[] }, GraphqlContext>({
        name: `${T}SearchResult`,
        description: `Search results (SPEC §4.6): \`*\` patterns on ${r.searchFields.map((f) => f.name).join(', ')}, filters on the other fields.`,
        fields: {
          items: { type: new GraphQLNonNull(list(rt.object)) },
          total: { type: GraphQLInt },
          range: { type: new GraphQLNonNull(PageRange), resolve: (source) => ({ first: source.first, last: source.last }) },
          query: { type: new GraphQLNonNull(GraphQLString), description: 'The search as understood.' },
          suggestions: { type: new GraphQLNonNull(list(GraphQLString)), description: 'Up to 5 indexed words close to the patterns.' },
        },
      });
      define(query, rt.names.search, { type: result, args: types.listArgs(r.name), description: `Search ${r.name}: \`*\` patterns on ${r.searchFields.map((f) => f.name).join(', ')}.`, resolve: searchResolver(service, types, rt) }, r.name);
    }
    define(mutation, rt.names.create, { type: rt.object, args: { input: { type: new GraphQLNonNull(rt.input) } }, description: `Creates a ${r.singular}; the server assigns its id.`, resolve: writeResolver(service, types, rt, 'create') }, r.name);
    define(mutation, rt.names.replace, { type: rt.object, args: { id, input: { type: new GraphQLNonNull(rt.input) } }, description: `Replaces a ${r.singular}, or creates it with this id.`, resolve: writeResolver(service, types, rt, 'replace') }, r.name);
    define(mutation, rt.names.update, { type: rt.object, args: { id, patch: { type: new GraphQLNonNull(rt.patch) } }, description: `Changes some members of a ${r.singular} (merge patch).`, resolve: writeResolver(service, types, rt, 'update') }, r.name);
    define(mutation, rt.names.delete, { type: rt.object, args: { id }, description: `Deletes a ${r.singular}; returns it as it was.`, resolve: deleteResolver(service, types, rt) }, r.name);
    for (const action of r.actions.values()) define(mutation, camel(`${action.name}-${r.singular}`), actionField(service, types, action, r), `${r.name} action ${action.name}`);
  }
  for (const action of service.api.actions.values()) define(mutation, camel(action.path), actionField(service, types, action, null), `operation ${action.path}`);
  const subscription = extensions.subscription?.(types);
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: query }),
    mutation: new GraphQLObjectType({ name: 'Mutation', fields: mutation }),
    ...(subscription && Object.keys(subscription).length > 0 ? { subscription: new GraphQLObjectType({ name: 'Subscription', fields: subscription }) } : {}),
  });
  return { schema, types };
}
