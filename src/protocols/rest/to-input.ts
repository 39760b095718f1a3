/**
 * REST → service input: the query string becomes a QueryInput (filters with their
 * `[op]`, comma lists with `\,` escapes, sort/desc, range, fields), and form bodies
 * become JSON values coerced by the fields' types.
 */
import type { QueryInput, RawFilter } from '../../query/types.js';
import type { FieldSpec, JsonSchema, ResourceModel } from '../../schema/types.js';

/** Query parameters that are never filters. */
const CONTROL = new Set(['range', 'limit', 'offset', 'sort', 'desc', 'fields', 'after', 'q', 'callback', 'method', 'version', 'wait', 'access_token']);

/** Splits a comma list; `\,` is a literal comma. */
export function splitList(value: string): string[] {
  if (!value.includes('\\')) return value.split(',');
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === '\\' && (value[i + 1] === ',' || value[i + 1] === '\\')) {
      cur += value[i + 1];
      i++;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

export function rawQuery(url: string): string {
  const i = url.indexOf('?');
  return i === -1 ? '' : url.slice(i + 1);
}

export interface ParsedQuery {
  readonly input: QueryInput;
  readonly params: URLSearchParams;
}

/** Parses a request's query string into the protocol-neutral query input. */
export function toQueryInput(url: string, count?: QueryInput['count']): ParsedQuery {
  const params = new URLSearchParams(rawQuery(url));
  const filters: RawFilter[] = [];
  const input: { -readonly [K in keyof QueryInput]: QueryInput[K] } = {};
  for (const [key, value] of params) {
    switch (key) {
      case 'sort':
        input.sort = value.split(',');
        continue;
      case 'desc':
        input.desc = value === '' ? true : value.split(',');
        continue;
      case 'range':
        input.range = value;
        continue;
      case 'limit':
        input.limit = value;
        continue;
      case 'offset':
        input.offset = value;
        continue;
      case 'after':
        input.after = value;
        continue;
      case 'fields':
        input.fields = value;
        continue;
    }
    if (CONTROL.has(key)) continue;
    const m = /^([^[\]]+)\[([^[\]]*)\]$/.exec(key);
    filters.push(m ? { name: m[1] as string, op: m[2] as string, values: splitList(value), raw: true } : { name: key, op: 'eq', values: splitList(value), raw: true });
  }
  input.filters = filters;
  if (count) input.count = count;
  return { input, params };
}

/** Just the filters of a query string (filtered DELETE). */
export function toFilters(url: string): RawFilter[] {
  return [...(toQueryInput(url).input.filters ?? [])];
}

// ---------------------------------------------------------------------------------------
// application/x-www-form-urlencoded (seed 003 examples)

function coerceScalar(spec: FieldSpec | undefined, value: string): unknown {
  switch (spec?.type) {
    case 'integer':
    case 'number': {
      if (value.trim() === '') return null;
      const n = Number(value);
      return Number.isFinite(n) ? n : value; // left as text: validation names the field
    }
    case 'boolean':
      if (value === 'true' || value === 'on' || value === '1') return true;
      if (value === 'false' || value === 'off' || value === '0') return false;
      return value === '' ? null : value;
    default:
      return value;
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const part of path.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

/**
 * Form fields → a JSON body: `address.city` or `address[city]` for nested fields,
 * repeated keys for arrays, values coerced by each field's type.
 */
export function formToBody(resource: ResourceModel | null, form: URLSearchParams, schema?: JsonSchema): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const grouped = new Map<string, string[]>();
  for (const [key, value] of form) grouped.set(key, [...(grouped.get(key) ?? []), value]);
  for (const [key, values] of grouped) {
    const path = key.replace(/\[([^\]]*)\]/g, '.$1').split('.').filter(Boolean);
    let spec: FieldSpec | undefined = resource ? resource.fields.get(path[0] as string)?.spec : (schemaProperty(schema, path[0] as string) as FieldSpec | undefined);
    for (const part of path.slice(1)) spec = spec?.properties?.[part];
    if (spec?.type === 'array') {
      const items = values.flatMap((v) => (values.length === 1 && v.includes(',') ? splitList(v) : [v]));
      setPath(body, path, items.map((v) => coerceScalar(spec?.items, v)));
    } else {
      setPath(body, path, coerceScalar(spec, values[values.length - 1] as string));
    }
  }
  return body;
}

function schemaProperty(schema: JsonSchema | undefined, name: string): unknown {
  const props = schema?.properties as Record<string, unknown> | undefined;
  return props?.[name];
}

/** Query parameters as an operation's object input, coerced by its input schema (`/v1/convert?from=EUR&amount=42`). */
export function queryToActionInput(schema: JsonSchema | undefined, params: URLSearchParams): Record<string, unknown> {
  const filtered = new URLSearchParams();
  for (const [k, v] of params) if (!CONTROL.has(k)) filtered.append(k, v);
  return formToBody(null, filtered, schema);
}
