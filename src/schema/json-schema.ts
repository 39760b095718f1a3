/**
 * JSON Schemas derived from the model: what a create, replace or patch body may hold and
 * what an item looks like when read. The service validates with them, the REST routes
 * carry them, and the OpenAPI generator publishes them — one derivation for all three.
 */
import type { FieldSpec, ResourceModel } from './types.js';

export type SchemaMode = 'write' | 'patch' | 'read';
type Schema = Record<string, unknown>;

const CARTE_KEYS = new Set([
  'references', 'onDelete', 'reverse', 'index', 'unique', 'search', 'transitions', 'mediaTypes', 'maxBytes', 'nullable',
]);

/** The JSON Schema of one field's value (without the null a missing optional value allows). */
export function fieldSchema(spec: FieldSpec, mode: SchemaMode): Schema {
  if (spec.type === 'blob') return blobSchema(spec);
  const out: Schema = {};
  for (const [key, value] of Object.entries(spec)) {
    if (CARTE_KEYS.has(key) || key === 'items' || key === 'properties' || key === 'required' || key === 'default') continue;
    if (key === 'readOnly' && mode !== 'read') continue;
    out[key] = value;
  }
  if (spec.default !== undefined && mode === 'read') out.default = spec.default;
  if (spec.type === 'array' && spec.items) out.items = fieldSchema(spec.items, mode);
  if (spec.type === 'object') {
    if (spec.properties) {
      out.properties = Object.fromEntries(Object.entries(spec.properties).map(([k, v]) => [k, nullableIf(fieldSchema(v, mode), !(spec.required ?? []).includes(k) || v.nullable === true)]));
      out.additionalProperties = false;
      if (spec.required && spec.required.length > 0 && mode !== 'patch') out.required = [...spec.required];
    }
  }
  if (spec.nullable) return nullableIf(out, true);
  return out;
}

function blobSchema(spec: FieldSpec): Schema {
  return {
    type: ['object', 'null'],
    readOnly: true,
    description: `Binary content (${(spec.mediaTypes ?? ['application/octet-stream']).join(', ')}), read and written at its href.`,
    properties: {
      href: { type: 'string', format: 'uri' },
      contentType: { type: 'string' },
      size: { type: 'integer', minimum: 0 },
    },
    required: ['href', 'contentType', 'size'],
  };
}

/** Adds `null` to a schema's accepted values. */
export function nullableIf(schema: Schema, nullable: boolean): Schema {
  if (!nullable) return schema;
  const type = schema.type;
  const copy: Schema = { ...schema };
  if (typeof type === 'string') copy.type = [type, 'null'];
  else if (Array.isArray(type) && !type.includes('null')) copy.type = [...type, 'null'];
  if (Array.isArray(schema.enum) && !schema.enum.includes(null)) copy.enum = [...schema.enum, null];
  return copy;
}

/** The key's schema: an integer assigned by the store, or a UUID. */
export function keySchema(resource: ResourceModel): Schema {
  return resource.key.type === 'uuid' ? { type: 'string', format: 'uuid' } : { type: 'integer', minimum: 1 };
}

/**
 * The schema of a body (`write` for POST/PUT, `patch` for PATCH) or of a stored item
 * (`read`). Read-only and managed fields are left out of write schemas: the service drops
 * them from bodies (a client may send back what it read).
 */
export function itemSchema(resource: ResourceModel, mode: SchemaMode): Schema {
  const properties: Schema = {};
  const required: string[] = [];
  if (mode === 'read') {
    properties.id = { ...keySchema(resource), readOnly: true };
    required.push('id');
  }
  for (const field of resource.fieldList) {
    if (mode !== 'read' && (field.readOnly || field.type === 'blob')) continue;
    const schema = fieldSchema(field.spec, mode);
    properties[field.name] = nullableIf(schema, !field.required || field.nullable);
    if (field.required && mode === 'write' && field.default === undefined) required.push(field.name);
  }
  const schema: Schema = {
    type: 'object',
    properties,
    additionalProperties: mode === 'read',
  };
  if (required.length > 0) schema.required = required;
  return schema;
}
