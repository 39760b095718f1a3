/**
 * Example values derived from JSON Schemas (SPEC §9: examples in the OpenAPI document and
 * real bodies in every cURL example): an author's `examples` or `default` first, then the
 * first `enum` value, then a plausible value for the format, the name and the bounds — always
 * one the schema accepts, so the examples lint clean and the cURL commands succeed.
 */
import type { Json, JsonObject } from '../schema/types.js';

type Schema = { readonly [key: string]: unknown };

/** Plausible values by field name (the restaurant analogy of the seeds). */
const BY_NAME: Readonly<Record<string, string>> = {
  name: 'Pizzeria Napoli',
  firstname: 'James',
  lastname: 'Bond',
  street: '12 rue de la Paix',
  city: 'Paris',
  zipcode: '75002',
  zipCode: '75002',
  phone: '+33 1 23 45 67 89',
  title: 'Example',
  description: 'An example',
  q: 'napoli',
};

const BY_FORMAT: Readonly<Record<string, string>> = {
  'date-time': '2026-01-15T12:00:00.000Z',
  date: '2026-01-15',
  email: 'james.bond@example.com',
  uri: 'https://example.com/',
  uuid: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
};

function typeOf(schema: Schema): string | undefined {
  const type = schema.type;
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) return type.find((t) => t !== 'null') as string | undefined;
  return undefined;
}

/** A string for the simple patterns schemas use (`^[0-9]{5}$`, `^\d{3}$`); undefined when not understood. */
function stringForPattern(pattern: string): string | undefined {
  const digits = /^\^(?:\[0-9\]|\\d)\{(\d+)\}\$$/.exec(pattern);
  if (digits) return '75002123456789'.padEnd(Number(digits[1]), '0').slice(0, Number(digits[1]));
  const letters = /^\^\[a-z\]\{(\d+)\}\$$/.exec(pattern);
  if (letters) return 'abcdefghij'.repeat(4).slice(0, Number(letters[1]));
  return undefined;
}

function exampleString(schema: Schema, name: string | undefined): string | undefined {
  if (typeof schema.format === 'string' && BY_FORMAT[schema.format]) return BY_FORMAT[schema.format];
  let value: string | undefined = name !== undefined ? BY_NAME[name] : undefined;
  if (typeof schema.pattern === 'string') {
    const fromPattern = stringForPattern(schema.pattern);
    if (value === undefined || !new RegExp(schema.pattern, 'u').test(value)) value = fromPattern;
    if (value === undefined) return undefined;
  }
  value ??= name ? `${name} example` : 'example';
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Infinity;
  if (value.length < min) value = value.padEnd(min, 'x');
  if (value.length > max) value = value.slice(0, max);
  return value;
}

function exampleNumber(schema: Schema, integer: boolean, name: string | undefined): number {
  const min = typeof schema.minimum === 'number' ? schema.minimum : typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum + (integer ? 1 : 0.5) : undefined;
  const max = typeof schema.maximum === 'number' ? schema.maximum : typeof schema.exclusiveMaximum === 'number' ? schema.exclusiveMaximum - (integer ? 1 : 0.5) : undefined;
  // Ids and references point at the first item of the demo data.
  let value = name !== undefined && /(^id$|Id$)/.test(name) ? 1 : integer ? 4 : 12.5;
  if (min !== undefined && max !== undefined) value = integer ? Math.ceil((min + max) / 2) : (min + max) / 2;
  else if (min !== undefined && value < min) value = min;
  else if (max !== undefined && value > max) value = max;
  if (name === 'quantity' || name === 'amount') value = Math.max(value, integer ? 2 : 42);
  return value;
}

export interface ExampleOptions {
  /** Leave out `readOnly` members (request bodies). */
  readonly write?: boolean;
  /** Leave out members that are not required. */
  readonly requiredOnly?: boolean;
}

/** An example value the schema accepts, or undefined when none can be made up safely. */
export function exampleOf(schema: Schema, name?: string, options: ExampleOptions = {}): Json | undefined {
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0] as Json;
  if (schema.default !== undefined) return schema.default as Json;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum.find((v) => v !== null) as Json;
  if (schema.const !== undefined) return schema.const as Json;
  switch (typeOf(schema)) {
    case 'string':
      return exampleString(schema, name);
    case 'integer':
      return exampleNumber(schema, true, name);
    case 'number':
      return exampleNumber(schema, false, name);
    case 'boolean':
      return false;
    case 'array': {
      const items = (schema.items ?? {}) as Schema;
      const count = Math.max(1, typeof schema.minItems === 'number' ? schema.minItems : 1);
      if (Array.isArray(items.enum)) return items.enum.slice(0, Math.max(count, Math.min(2, items.enum.length))) as Json[];
      const one = exampleOf(items, name === 'days' ? undefined : singularOf(name), options);
      if (one === undefined) return [];
      return schema.uniqueItems === true && count > 1 ? undefined : Array.from({ length: count }, () => one);
    }
    case 'object':
      return exampleObject(schema, options);
    default:
      return schema.properties ? exampleObject(schema, options) : undefined;
  }
}

function singularOf(name: string | undefined): string | undefined {
  return name?.endsWith('s') ? name.slice(0, -1) : name;
}

function exampleObject(schema: Schema, options: ExampleOptions): JsonObject | undefined {
  const out: JsonObject = {};
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  for (const [key, sub] of Object.entries((schema.properties ?? {}) as Record<string, Schema>)) {
    if (options.write && sub.readOnly === true) continue;
    if (options.requiredOnly && !required.has(key)) continue;
    const value = exampleOf(sub, key, { write: options.write ?? false });
    if (value === undefined) {
      if (required.has(key)) return undefined;
      continue;
    }
    out[key] = value;
  }
  return out;
}
