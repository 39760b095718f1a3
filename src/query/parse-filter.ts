/**
 * Checks raw filters against a resource and types their values (SPEC §4.4): an unknown
 * property, operator or a value of the wrong type is a 400 naming it.
 */
import { errors } from '../errors.js';
import type { FieldSpec, ResourceModel } from '../schema/types.js';
import { FILTER_OPS, type FilterOp, type FilterTerm, type LeafType, type QueryLimits, type RawFilter, type Scalar } from './types.js';

export interface ResolvedPath {
  readonly field: string;
  readonly path: readonly string[];
  readonly leafType: LeafType;
  readonly array: boolean;
  readonly spec: FieldSpec | null;
}

/** Resolves `address.city` to its top-level field, inner path and leaf type, or throws 400. */
export function resolveFieldPath(resource: ResourceModel, name: string, purpose: 'filter' | 'sort'): ResolvedPath {
  const parts = name.split('.');
  const head = parts[0] as string;
  if (head === resource.key.name && parts.length === 1) {
    return { field: head, path: [], leafType: resource.key.type === 'uuid' ? 'string' : 'integer', array: false, spec: null };
  }
  const field = resource.fields.get(head);
  if (!field) throw errors.noProperty(name, resource.name);
  let spec: FieldSpec = field.spec;
  const path: string[] = [];
  for (const part of parts.slice(1)) {
    const next = spec.type === 'object' ? spec.properties?.[part] : undefined;
    if (!next) throw errors.noProperty(name, resource.name);
    spec = next;
    path.push(part);
  }
  if (spec.type === 'array') {
    const items = spec.items;
    if (purpose === 'sort' || !items || !isLeaf(items.type)) {
      throw errors.invalidRequest(`'${name}' is a list${purpose === 'sort' ? ' and cannot be sorted on' : ' of objects and cannot be filtered on'}.`);
    }
    return { field: head, path, leafType: items.type as LeafType, array: true, spec: items };
  }
  if (!isLeaf(spec.type)) {
    throw errors.invalidRequest(`'${name}' is ${spec.type === 'blob' ? 'binary content' : 'an object'} and cannot be ${purpose === 'sort' ? 'sorted' : 'filtered'} on; name one of its properties (${name}.…).`);
  }
  return { field: head, path, leafType: spec.type as LeafType, array: false, spec };
}

function isLeaf(type: string): boolean {
  return type === 'string' || type === 'integer' || type === 'number' || type === 'boolean';
}

export function parseFilters(resource: ResourceModel, raw: readonly RawFilter[], limits: QueryLimits): FilterTerm[] {
  if (raw.length > limits.filters) {
    throw errors.invalidRequest(`Too many filters: at most ${limits.filters} are allowed in one request.`);
  }
  return raw.map((filter) => parseFilter(resource, filter, limits));
}

function parseFilter(resource: ResourceModel, filter: RawFilter, limits: QueryLimits): FilterTerm {
  const resolved = resolveFieldPath(resource, filter.name, 'filter');
  if (!(FILTER_OPS as readonly string[]).includes(filter.op)) {
    throw errors.invalidRequest(`There is no '${filter.op}' operator; use one of ${FILTER_OPS.filter((o) => o !== 'eq').join(', ')}.`);
  }
  const op = filter.op as FilterOp;
  if (filter.values.length === 0) throw errors.invalidRequest(`The filter on '${filter.name}' has no value.`);
  if (filter.values.length > limits.valuesPerFilter) {
    throw errors.invalidRequest(`Too many values for '${filter.name}': at most ${limits.valuesPerFilter}.`);
  }
  const label = op === 'eq' ? filter.name : `${filter.name}[${op}]`;
  if (op === 'null') {
    if (filter.values.length !== 1) throw errors.invalidRequest(`'${label}' takes one value, true or false.`);
    const v = parseValue(filter.values[0], 'boolean', filter.raw, label, limits);
    return { ...resolved, op, values: [v] };
  }
  if ((op === 'gt' || op === 'gte' || op === 'lt' || op === 'lte') && filter.values.length !== 1) {
    throw errors.invalidRequest(`'${label}' takes a single value.`);
  }
  if ((op === 'gt' || op === 'gte' || op === 'lt' || op === 'lte') && resolved.leafType === 'boolean') {
    throw errors.invalidRequest(`'${filter.name}' is a boolean and cannot be compared with ${op}.`);
  }
  if (op === 'like') {
    if (resolved.leafType !== 'string') throw errors.invalidRequest(`'${filter.name}' is not text; [like] applies to text fields.`);
    const values = filter.values.map((v) => parseValue(v, 'string', filter.raw, label, limits));
    return { ...resolved, op, values };
  }
  const values = filter.values.map((v) => {
    const parsed = parseValue(v, resolved.leafType, filter.raw, label, limits);
    const enumValues = resolved.spec?.enum;
    if (enumValues && (op === 'eq' || op === 'ne') && !enumValues.includes(parsed as string | number)) {
      throw errors.invalidRequest(`'${String(parsed)}' is not a possible value of '${filter.name}'; expected one of ${enumValues.join(', ')}.`);
    }
    if (resolved.spec?.format === 'date-time' && typeof parsed === 'string') return normalizeDateTime(parsed, label);
    return parsed;
  });
  return { ...resolved, op, values };
}

/** Parses one filter value by type: strings from REST, typed JSON from other front ends. */
export function parseValue(value: unknown, type: LeafType, raw: boolean, label: string, limits: QueryLimits): Scalar {
  if (raw) {
    if (typeof value !== 'string') throw errors.invalidRequest(`Bad value for '${label}'.`);
    if (value.length > limits.valueLength) {
      throw errors.invalidRequest(`The value of '${label}' is longer than ${limits.valueLength} characters.`);
    }
    switch (type) {
      case 'string':
        return value;
      case 'integer': {
        const n = /^-?\d{1,16}$/.test(value) ? Number(value) : NaN;
        if (!Number.isSafeInteger(n)) throw errors.invalidRequest(`'${value}' is not a valid integer for '${label}'.`);
        return n;
      }
      case 'number': {
        const n = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(value) ? Number(value) : NaN;
        if (!Number.isFinite(n)) throw errors.invalidRequest(`'${value}' is not a valid number for '${label}'.`);
        return n;
      }
      case 'boolean':
        if (value === 'true') return true;
        if (value === 'false') return false;
        throw errors.invalidRequest(`'${value}' is not a valid boolean for '${label}' (true or false).`);
    }
  }
  const ok =
    (type === 'string' && typeof value === 'string' && value.length <= limits.valueLength) ||
    (type === 'integer' && Number.isSafeInteger(value)) ||
    (type === 'number' && typeof value === 'number' && Number.isFinite(value)) ||
    (type === 'boolean' && typeof value === 'boolean');
  if (!ok) throw errors.invalidRequest(`${JSON.stringify(value)?.slice(0, 100)} is not a valid ${type} for '${label}'.`);
  return value as Scalar;
}

function normalizeDateTime(value: string, label: string): string {
  // A date alone compares as a prefix of stored ISO timestamps; full timestamps are normalized to UTC.
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(t)) {
    throw errors.invalidRequest(`'${value}' is not an ISO 8601 date-time for '${label}'.`);
  }
  return new Date(t).toISOString();
}
