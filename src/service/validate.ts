/**
 * Body validation for one resource: read-only members dropped, defaults applied, every
 * rule of the schema checked at once (Ajv, allErrors), values normalized (ISO dates in UTC).
 * Validators are compiled once per resource, never per request.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { errors, type FieldError } from '../errors.js';
import { itemSchema } from '../schema/json-schema.js';
import type { JsonSchema, ResourceModel } from '../schema/types.js';
import type { Row } from '../store/store.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020, formats: string[]) => Ajv2020;

export function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: false, useDefaults: false, coerceTypes: false });
  addFormats(ajv, ['date-time', 'date', 'email', 'uri', 'uuid', 'time']);
  return ajv;
}

/** Ajv's errors as Carte field errors: `{field, error, error_description}`. */
export function toFieldErrors(list: readonly ErrorObject[] | null | undefined, prefix = ''): FieldError[] {
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const e of list ?? []) {
    const base = pointerToPath(e.instancePath, prefix);
    let field = base;
    let error = e.keyword;
    let description: string;
    switch (e.keyword) {
      case 'required': {
        const missing = (e.params as { missingProperty: string }).missingProperty;
        field = join(base, missing);
        description = `'${field}' is required`;
        break;
      }
      case 'additionalProperties': {
        const extra = (e.params as { additionalProperty: string }).additionalProperty;
        field = join(base, extra);
        error = 'unknown';
        description = `There is no '${field}' property`;
        break;
      }
      case 'type': {
        const t = (e.params as { type: string | string[] }).type;
        const types = (Array.isArray(t) ? t : String(t).split(',')).filter((x) => x !== 'null');
        description = `'${field || '(body)'}' must be ${types.map(article).join(' or ')}`;
        break;
      }
      case 'enum':
        description = `'${field}' must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues).filter((v) => v !== null).map(String).join(', ')}`;
        break;
      case 'format':
        description = `'${field}' must be a valid ${(e.params as { format: string }).format}`;
        break;
      default:
        description = `'${field || '(body)'}' ${e.message ?? 'is not valid'}`;
    }
    const key = `${field}|${error}`;
    if (seen.has(key)) continue; // e.g. `type` reported once per branch of a nullable union
    seen.add(key);
    out.push({ field, error, error_description: description });
  }
  return out;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function join(base: string, name: string): string {
  return base ? `${base}.${name}` : name;
}

function pointerToPath(pointer: string, prefix: string): string {
  let out = prefix;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out ? `.${part}` : part;
  }
  return out;
}

/** Validates a JSON value against a free-form JSON Schema (action inputs and outputs). */
export class SchemaValidator {
  private readonly validate: ValidateFunction;
  constructor(ajv: Ajv2020, schema: JsonSchema) {
    this.validate = ajv.compile(schema);
  }
  check(value: unknown, prefix = ''): FieldError[] {
    return this.validate(value) ? [] : toFieldErrors(this.validate.errors, prefix);
  }
}

export type WriteMode = 'create' | 'replace' | 'patch';

export class BodyValidator {
  private readonly write: ValidateFunction;
  private readonly dropped: ReadonlySet<string>;
  private readonly dateTimes: readonly string[];

  constructor(
    ajv: Ajv2020,
    private readonly resource: ResourceModel,
  ) {
    this.write = ajv.compile(itemSchema(resource, 'write'));
    // Members a client may send back from what it read, and that Carte ignores.
    this.dropped = new Set(['links', ...resource.fieldList.filter((f) => f.readOnly || f.type === 'blob').map((f) => f.name)]);
    this.dateTimes = resource.fieldList.filter((f) => f.format === 'date-time' && !f.readOnly).map((f) => f.name);
  }

  /** Checks that a body is a JSON object; anything else is a 400 naming the resource. */
  asObject(body: unknown, prefix = ''): Record<string, unknown> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw errors.invalidItem(this.resource.singular, [
        { field: prefix, error: 'type', error_description: `The body${prefix ? ` ${prefix}` : ''} must be a JSON object representing a ${this.resource.singular}` },
      ]);
    }
    return body as Record<string, unknown>;
  }

  /**
   * The stored values for a create or replace: read-only members dropped, absent fields
   * set to their default (or null), everything validated. Returns problems instead of
   * throwing so bulk requests can report every item's problems at once.
   */
  prepareWrite(body: Record<string, unknown>, prefix = ''): { values: Row; problems: FieldError[] } {
    const values: Row = {};
    for (const [name, value] of Object.entries(body)) {
      if (name === 'id' || this.dropped.has(name)) continue;
      values[name] = value;
    }
    for (const field of this.resource.fieldList) {
      if (field.readOnly || field.type === 'blob') continue;
      if (values[field.name] === undefined || (values[field.name] === null && field.default !== undefined && !field.nullable)) {
        values[field.name] = field.default === undefined ? null : structuredClone(field.default);
      }
    }
    // Ajv sees absent optional fields as null (allowed) and absent required ones as missing.
    const probe: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(values)) {
      const f = this.resource.fields.get(k);
      if (v === null && f?.required && !f.nullable) continue;
      probe[k] = v;
    }
    if (this.write(probe)) {
      this.normalize(values);
      return { values, problems: [] };
    }
    return { values, problems: toFieldErrors(this.write.errors, prefix) };
  }

  /** Applies an RFC 7396 merge patch to the stored item and validates the result. */
  mergePatch(current: Row, patch: Record<string, unknown>, prefix = ''): { values: Row; problems: FieldError[] } {
    const merged: Record<string, unknown> = {};
    for (const field of this.resource.fieldList) merged[field.name] = current[field.name];
    for (const [name, value] of Object.entries(patch)) {
      if (name === 'id' || this.dropped.has(name)) continue;
      merged[name] = mergeValue(merged[name], value);
    }
    return this.prepareWrite(merged, prefix);
  }

  private normalize(values: Row): void {
    for (const name of this.dateTimes) {
      const v = values[name];
      if (typeof v === 'string') values[name] = new Date(v).toISOString();
    }
  }
}

/** RFC 7396: objects merge member by member, null removes, anything else replaces. */
export function mergeValue(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const base: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete base[k];
    else base[k] = mergeValue(base[k], v);
  }
  return base;
}
