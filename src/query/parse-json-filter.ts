/**
 * Filters written as JSON — JSON-RPC params and WebSocket subscriptions (SPEC §5, §7): the
 * REST filter model with typed values. `{"type":["thai","chinese"],"rating":{"gte":4},
 * "address":{"city":"Paris"},"clientId":null}` means `type=thai,chinese&rating[gte]=4&
 * address.city=Paris&clientId[null]=true`. Checking names and values is left to parseFilters.
 */
import { errors } from '../errors.js';
import type { FieldSpec, ResourceModel } from '../schema/types.js';
import { FILTER_OPS, type RawFilter } from './types.js';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The spec of an object at a dotted path, when the path names an object with properties. */
function objectAt(resource: ResourceModel, path: readonly string[]): FieldSpec | null {
  let spec: FieldSpec | undefined = resource.fields.get(path[0] as string)?.spec;
  for (const part of path.slice(1)) spec = spec?.type === 'object' ? spec.properties?.[part] : undefined;
  return spec?.type === 'object' && spec.properties ? spec : null;
}

/**
 * A JSON filter object → raw filters (`raw: false`: values keep their JSON types). A value is
 * a list (any of), a single value, `null` (is null), or an object of operators; an object on
 * an object field filters on its properties.
 */
export function jsonFilters(resource: ResourceModel, filter: unknown, where = 'filter'): RawFilter[] {
  if (filter === undefined || filter === null) return [];
  if (!isPlainObject(filter)) {
    throw errors.invalidRequest(`${where} must be an object such as {"type": ["thai"], "rating": {"gte": 4}}.`);
  }
  const out: RawFilter[] = [];
  const visit = (path: readonly string[], object: Record<string, unknown>) => {
    for (const [key, value] of Object.entries(object)) {
      const names = [...path, key];
      const name = names.join('.');
      if (Array.isArray(value)) out.push({ name, op: 'eq', values: value, raw: false });
      else if (value === null) out.push({ name, op: 'null', values: [true], raw: false });
      else if (isPlainObject(value)) {
        if (objectAt(resource, names) && !Object.keys(value).some((k) => (FILTER_OPS as readonly string[]).includes(k))) {
          visit(names, value);
          continue;
        }
        const ops = Object.entries(value);
        if (ops.length === 0) throw errors.invalidRequest(`The filter on '${name}' is empty.`);
        for (const [op, v] of ops) out.push({ name, op, values: Array.isArray(v) ? v : [v], raw: false });
      } else out.push({ name, op: 'eq', values: [value], raw: false });
    }
  };
  visit([], filter);
  return out;
}
