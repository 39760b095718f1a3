/**
 * Checks an authored schema and normalizes it into the model every other room reads.
 * Every problem is collected with its path so `carte check` can report them all at once.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import {
  RESERVED_NAMES,
  type AccessModel,
  type AccessRule,
  type ActionModel,
  type ActionSpec,
  type ApiModel,
  type ApiSpec,
  type FieldModel,
  type FieldSpec,
  type FieldType,
  type PreviousFieldModel,
  type PreviousResourceModel,
  type PreviousVersionModel,
  type RelationModel,
  type ResourceModel,
  type ResourceSpec,
} from './types.js';
import { fieldSchema } from './json-schema.js';

export interface SchemaProblem {
  /** Path inside the schema document, e.g. `['resources', 'orders', 'fields', 'state']`. */
  readonly path: readonly (string | number)[];
  readonly message: string;
}

export class SchemaError extends Error {
  constructor(
    readonly problems: readonly SchemaProblem[],
    readonly file?: string,
  ) {
    super(`The schema${file ? ` ${file}` : ''} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n` +
      problems.map((p) => `  ${formatPath(p.path)}: ${p.message}`).join('\n'));
    this.name = 'SchemaError';
  }
}

export function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return '(root)';
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : /^[A-Za-z_$][\w$-]*$/.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`))
    .join('');
}

const FIELD_TYPES: readonly FieldType[] = ['string', 'integer', 'number', 'boolean', 'array', 'object', 'blob'];
const FORMATS = ['date-time', 'date', 'email', 'uri', 'uuid'];
const FIELD_KEYS = new Set([
  'type', 'description', 'format', 'enum', 'default', 'readOnly', 'nullable', 'minimum', 'maximum',
  'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength', 'pattern', 'minItems',
  'maxItems', 'uniqueItems', 'items', 'properties', 'required', 'examples', 'references', 'onDelete',
  'reverse', 'index', 'unique', 'search', 'transitions', 'mediaTypes', 'maxBytes',
]);
const RESOURCE_KEYS = new Set([
  'singular', 'description', 'maxRange', 'access', 'required', 'key', 'fields', 'indexes', 'requireIfMatch',
  'actions', 'defaultAction',
]);
const ACTION_KEYS = new Set(['summary', 'description', 'input', 'output', 'handler', 'access']);
/** Top-level path segments Carte itself uses under /v1. */
const RESERVED_SEGMENTS = new Set([
  'rpc', 'graphql', 'ws', 'events', 'webhooks', 'search', 'operations', 'openapi.json', 'openapi.yaml',
  'asyncapi.json', 'docs', 'oauth', 'health', 'ready', 'metrics',
]);

export const SPINAL = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const CAMEL = /^[a-z][a-zA-Z0-9]*$/;
const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
const ACTION_PATH = /^[a-z][a-z0-9]*(-[a-z0-9]+)*(\/[a-z][a-z0-9]*(-[a-z0-9]+)*)*$/;
// `scope` alone: the resource's default scope for the method (`<resource>:read`, `<resource>:write`).
const ACCESS_RULE = /^(public|authenticated|none|scope|scope:[A-Za-z0-9_.:-]+|owner:[A-Za-z][A-Za-z0-9_]*)$/;

const DEFAULT_MAX_RANGE = 50;

/** Checks `spec` and returns its model, or throws a SchemaError listing every problem. */
export function buildModel(spec: unknown, file?: string): ApiModel {
  const checker = new Checker();
  const model = checker.api(spec);
  if (checker.problems.length > 0 || !model) throw new SchemaError(checker.problems, file);
  return model;
}

class Checker {
  readonly problems: SchemaProblem[] = [];
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });

  private fail(path: readonly (string | number)[], message: string): void {
    this.problems.push({ path: [...path], message });
  }

  private isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  }

  private unknownKeys(value: Record<string, unknown>, allowed: Set<string>, path: readonly (string | number)[]): void {
    for (const key of Object.keys(value)) {
      if (!allowed.has(key)) this.fail([...path, key], `unknown key; expected one of ${[...allowed].join(', ')}`);
    }
  }

  api(spec: unknown): ApiModel | null {
    if (!this.isObject(spec)) {
      this.fail([], 'the schema must be an object with `api` and `resources`');
      return null;
    }
    this.unknownKeys(spec, new Set(['api', 'resources', 'actions', 'previousVersion', 'config']), []);
    const api = spec.api;
    let name = 'Carte API';
    let version = 1;
    let casing: 'camel' | 'snake' = 'camel';
    let description: string | undefined;
    if (!this.isObject(api)) {
      this.fail(['api'], 'expected an object with at least `name`');
    } else {
      this.unknownKeys(api, new Set(['name', 'version', 'description', 'casing']), ['api']);
      if (typeof api.name !== 'string' || api.name.trim() === '') this.fail(['api', 'name'], 'expected a non-empty string');
      else name = api.name;
      if (api.version !== undefined) {
        if (!Number.isInteger(api.version) || (api.version as number) < 1) this.fail(['api', 'version'], 'expected a positive integer (the major version in the path)');
        else version = api.version as number;
      }
      if (api.casing !== undefined) {
        if (api.casing !== 'camel' && api.casing !== 'snake') this.fail(['api', 'casing'], "expected 'camel' or 'snake'");
        else casing = api.casing;
      }
      if (api.description !== undefined) {
        if (typeof api.description !== 'string') this.fail(['api', 'description'], 'expected a string');
        else description = api.description;
      }
    }
    const resourcesSpec = spec.resources;
    if (!this.isObject(resourcesSpec) || Object.keys(resourcesSpec).length === 0) {
      this.fail(['resources'], 'expected an object with at least one resource');
      return null;
    }
    const names = new Set(Object.keys(resourcesSpec));
    const partial = new Map<string, PartialResource>();
    for (const [resourceName, resourceSpec] of Object.entries(resourcesSpec)) {
      const r = this.resource(resourceName, resourceSpec, names, casing);
      if (r) partial.set(resourceName, r);
    }
    const relations = this.relations(partial, casing);
    const actions = new Map<string, ActionModel>();
    if (spec.actions !== undefined) {
      if (!this.isObject(spec.actions)) this.fail(['actions'], 'expected an object of operations');
      else {
        for (const [actionName, actionSpec] of Object.entries(spec.actions)) {
          const a = this.action(actionName, actionSpec, ['actions', actionName], null, casing);
          if (!a) continue;
          const head = actionName.split('/')[0] as string;
          if (names.has(head)) this.fail(['actions', actionName], `its first segment '${head}' is already a resource`);
          if (RESERVED_SEGMENTS.has(head)) this.fail(['actions', actionName], `'${head}' is reserved by Carte`);
          actions.set(a.rpcName, a);
        }
      }
    }
    if (spec.config !== undefined && !this.isObject(spec.config)) this.fail(['config'], 'expected an object');
    const previous = spec.previousVersion === undefined ? null : this.previousVersion(spec.previousVersion, version, partial, casing);
    if (this.problems.length > 0) return null;
    const resources = new Map<string, ResourceModel>();
    for (const [resourceName, r] of partial) {
      resources.set(resourceName, { ...r, relations: relations.get(resourceName) ?? new Map() });
    }
    return {
      name,
      version,
      previous,
      description,
      casing,
      resources,
      actions,
      config: (spec.config as ApiModel['config']) ?? {},
      spec: spec as unknown as ApiSpec,
    };
  }

  private resource(
    name: string,
    raw: unknown,
    allNames: Set<string>,
    casing: 'camel' | 'snake',
  ): PartialResource | null {
    const path = ['resources', name];
    if (!SPINAL.test(name)) this.fail(path, 'resource names are plural, lower-case, spinal-case (e.g. order-items)');
    if (RESERVED_SEGMENTS.has(name)) this.fail(path, `'${name}' is reserved by Carte`);
    if (!this.isObject(raw)) {
      this.fail(path, 'expected an object with `fields`');
      return null;
    }
    const spec = raw as unknown as ResourceSpec;
    this.unknownKeys(raw, RESOURCE_KEYS, path);
    let singular = spec.singular ?? singularize(name);
    if (spec.singular !== undefined && (typeof spec.singular !== 'string' || !SPINAL.test(spec.singular))) {
      this.fail([...path, 'singular'], 'expected a lower-case spinal-case word');
      singular = singularize(name);
    }
    if (singular === name && spec.singular === undefined) {
      this.fail(path, `cannot derive a singular from '${name}'; declare \`singular\``);
    }
    let maxRange = DEFAULT_MAX_RANGE;
    if (spec.maxRange !== undefined) {
      if (!Number.isInteger(spec.maxRange) || spec.maxRange < 1 || spec.maxRange > 10000) {
        this.fail([...path, 'maxRange'], 'expected an integer between 1 and 10000');
      } else maxRange = spec.maxRange;
    }
    let keyType: 'integer' | 'uuid' = 'integer';
    if (spec.key !== undefined) {
      const k = spec.key as { type?: unknown; format?: unknown };
      if (this.isObject(k) && k.type === 'integer') keyType = 'integer';
      else if (this.isObject(k) && k.type === 'string' && k.format === 'uuid') keyType = 'uuid';
      else this.fail([...path, 'key'], 'expected { type: integer } or { type: string, format: uuid }');
    }
    const fields = new Map<string, FieldModel>();
    const required = new Set<string>();
    if (spec.required !== undefined) {
      if (!Array.isArray(spec.required) || spec.required.some((r) => typeof r !== 'string')) {
        this.fail([...path, 'required'], 'expected a list of field names');
      } else for (const r of spec.required) required.add(r);
    }
    if (!this.isObject(spec.fields)) {
      this.fail([...path, 'fields'], 'expected an object of field definitions');
      return null;
    }
    for (const [fieldName, fieldRaw] of Object.entries(spec.fields)) {
      const fpath = [...path, 'fields', fieldName];
      if (fieldName === 'id') {
        const f = fieldRaw as FieldSpec;
        const ok = this.isObject(f) && ((keyType === 'integer' && f.type === 'integer') || (keyType === 'uuid' && f.type === 'string' && f.format === 'uuid'));
        if (!ok) this.fail(fpath, `the key 'id' is maintained by Carte; declare it as ${keyType === 'integer' ? '{ type: integer }' : '{ type: string, format: uuid }'} or leave it out`);
        continue;
      }
      this.fieldName(fieldName, fpath, casing);
      const field = this.field(fieldName, fieldRaw, fpath, casing, allNames, required.has(fieldName), 0);
      if (field) fields.set(fieldName, field);
    }
    for (const r of required) {
      if (r !== 'id' && !(r in spec.fields)) this.fail([...path, 'required'], `'${r}' is not a field of ${name}`);
    }
    const createdAtName = casing === 'snake' ? 'created_at' : 'createdAt';
    const updatedAtName = casing === 'snake' ? 'updated_at' : 'updatedAt';
    const stateFields = [...fields.values()].filter((f) => f.transitions);
    if (stateFields.length > 1) this.fail([...path, 'fields'], 'at most one field may declare `transitions`');
    const indexes: string[][] = [];
    if (spec.indexes !== undefined) {
      if (!Array.isArray(spec.indexes)) this.fail([...path, 'indexes'], 'expected a list of field lists, e.g. [[type, rating]]');
      else spec.indexes.forEach((ix, i) => {
        if (!Array.isArray(ix) || ix.length === 0) return this.fail([...path, 'indexes', i], 'expected a non-empty list of field names');
        for (const f of ix) {
          const fm = fields.get(f);
          if (f !== 'id' && !fm) this.fail([...path, 'indexes', i], `'${f}' is not a field of ${name}`);
          else if (fm && !isScalar(fm.type)) this.fail([...path, 'indexes', i], `'${f}' is ${fm.type}; only scalar fields can be indexed`);
        }
        indexes.push([...ix]);
      });
    }
    const access = this.access(spec.access, [...path, 'access'], fields);
    const actions = new Map<string, ActionModel>();
    if (spec.actions !== undefined) {
      if (!this.isObject(spec.actions)) this.fail([...path, 'actions'], 'expected an object of item actions');
      else for (const [an, as] of Object.entries(spec.actions)) {
        if (!SPINAL.test(an)) this.fail([...path, 'actions', an], 'item action names are spinal-case');
        if (fields.has(an)) this.fail([...path, 'actions', an], `'${an}' is already a field of ${name}`);
        // SPEC §5: `<resource>.<action>` shares the JSON-RPC namespace with the standard methods.
        if (['list', 'get', 'create', 'replace', 'update', 'delete', 'search'].includes(an)) this.fail([...path, 'actions', an], `'${an}' is the name of a standard method (${name}.${an})`);
        const a = this.action(an, as, [...path, 'actions', an], name, casing);
        if (a) actions.set(an, a);
      }
    }
    let defaultAction: string | null = null;
    if (spec.defaultAction !== undefined) {
      if (typeof spec.defaultAction !== 'string' || !actions.has(spec.defaultAction)) {
        this.fail([...path, 'defaultAction'], 'expected the name of one of this resource\'s actions');
      } else defaultAction = spec.defaultAction;
    }
    if (spec.requireIfMatch !== undefined && typeof spec.requireIfMatch !== 'boolean') {
      this.fail([...path, 'requireIfMatch'], 'expected true or false');
    }
    const fieldList = [...fields.values()];
    return {
      name,
      singular,
      description: spec.description,
      key: { name: 'id', type: keyType },
      fields,
      fieldList,
      maxRange,
      access,
      indexes,
      requireIfMatch: spec.requireIfMatch === true,
      timestamps: {
        createdAt: fields.has(createdAtName) ? createdAtName : null,
        updatedAt: fields.has(updatedAtName) ? updatedAtName : null,
      },
      stateField: stateFields[0] ?? null,
      searchFields: fieldList.filter((f) => f.search),
      blobFields: fieldList.filter((f) => f.type === 'blob'),
      actions,
      defaultAction,
    };
  }

  private fieldName(fieldName: string, path: readonly (string | number)[], casing: 'camel' | 'snake'): void {
    if (RESERVED_NAMES.includes(fieldName)) {
      this.fail(path, `'${fieldName}' is a reserved query parameter (${RESERVED_NAMES.join(', ')})`);
    }
    if (casing === 'camel' && !CAMEL.test(fieldName)) {
      this.fail(path, `field names are lowerCamelCase (the API's casing is camel)${SNAKE.test(fieldName) ? '; set api.casing: snake to use snake_case' : ''}`);
    }
    if (casing === 'snake' && !SNAKE.test(fieldName)) {
      this.fail(path, 'field names are snake_case (the API\'s casing is snake)');
    }
  }

  private field(
    name: string,
    raw: unknown,
    path: readonly (string | number)[],
    casing: 'camel' | 'snake',
    resourceNames: Set<string>,
    required: boolean,
    depth: number,
  ): FieldModel | null {
    if (!this.isObject(raw)) {
      this.fail(path, 'expected a field definition such as { type: string }');
      return null;
    }
    this.unknownKeys(raw, FIELD_KEYS, path);
    const spec = raw as unknown as FieldSpec;
    if (!FIELD_TYPES.includes(spec.type)) {
      this.fail([...path, 'type'], `expected one of ${FIELD_TYPES.join(', ')}${spec.type === undefined ? '' : `; got ${JSON.stringify(spec.type)}`}`);
      return null;
    }
    const type = spec.type;
    const onlyFor = (key: keyof FieldSpec, types: FieldType[]) => {
      if (spec[key] !== undefined && !types.includes(type)) this.fail([...path, key], `only applies to ${types.join(' or ')} fields`);
    };
    onlyFor('format', ['string']);
    onlyFor('pattern', ['string']);
    onlyFor('minLength', ['string']);
    onlyFor('maxLength', ['string']);
    onlyFor('minimum', ['integer', 'number']);
    onlyFor('maximum', ['integer', 'number']);
    onlyFor('items', ['array']);
    onlyFor('properties', ['object']);
    onlyFor('mediaTypes', ['blob']);
    onlyFor('maxBytes', ['blob']);
    onlyFor('transitions', ['string']);
    onlyFor('search', ['string']);
    if (spec.format !== undefined && !FORMATS.includes(spec.format)) {
      this.fail([...path, 'format'], `expected one of ${FORMATS.join(', ')}`);
    }
    if (spec.pattern !== undefined) {
      try {
        new RegExp(spec.pattern, 'u');
      } catch {
        this.fail([...path, 'pattern'], 'not a valid regular expression');
      }
    }
    if (spec.enum !== undefined) {
      if (!Array.isArray(spec.enum) || spec.enum.length === 0) this.fail([...path, 'enum'], 'expected a non-empty list');
      else if (!spec.enum.every((v) => (type === 'string' ? typeof v === 'string' : (type === 'integer' || type === 'number') && typeof v === 'number'))) {
        this.fail([...path, 'enum'], `every value must be a ${type}`);
      }
    }
    if (type === 'array') {
      if (!this.isObject(spec.items)) this.fail([...path, 'items'], 'an array field declares its `items`, e.g. { type: string }');
      else {
        const item = this.field(name, spec.items, [...path, 'items'], casing, resourceNames, false, depth + 1);
        if (item && (item.type === 'blob' || item.reference)) this.fail([...path, 'items'], 'array items cannot be blobs or references');
      }
    }
    if (type === 'object' && spec.properties !== undefined) {
      if (!this.isObject(spec.properties)) this.fail([...path, 'properties'], 'expected an object of field definitions');
      else {
        for (const [pn, ps] of Object.entries(spec.properties)) {
          this.fieldName(pn, [...path, 'properties', pn], casing);
          const sub = this.field(pn, ps, [...path, 'properties', pn], casing, resourceNames, false, depth + 1);
          if (sub && (sub.type === 'blob' || sub.reference)) this.fail([...path, 'properties', pn], 'nested fields cannot be blobs or references');
        }
        for (const r of spec.required ?? []) {
          if (!(r in spec.properties)) this.fail([...path, 'required'], `'${r}' is not a property of ${name}`);
        }
      }
    }
    if (depth > 0) {
      for (const key of ['references', 'index', 'unique', 'search', 'transitions', 'readOnly'] as const) {
        if (spec[key] !== undefined) this.fail([...path, key], 'only applies to top-level fields');
      }
    }
    if (type === 'blob' && depth === 0) {
      if (spec.mediaTypes !== undefined && (!Array.isArray(spec.mediaTypes) || spec.mediaTypes.some((m) => typeof m !== 'string' || !/^[\w.+-]+\/[\w.+*-]+$/.test(m)))) {
        this.fail([...path, 'mediaTypes'], 'expected a list of media types such as image/png');
      }
      if (spec.maxBytes !== undefined && (!Number.isInteger(spec.maxBytes) || spec.maxBytes < 1)) {
        this.fail([...path, 'maxBytes'], 'expected a positive integer');
      }
    }
    let reference: FieldModel['reference'] = null;
    if (spec.references !== undefined) {
      if (typeof spec.references !== 'string' || !resourceNames.has(spec.references)) {
        this.fail([...path, 'references'], `expected the name of a resource (${[...resourceNames].join(', ')})`);
      } else if (type !== 'integer' && !(type === 'string' && spec.format === 'uuid')) {
        this.fail([...path, 'type'], 'a reference is an integer, or a string with format uuid, like the key it points to');
      } else {
        const suffix = casing === 'snake' ? '_id' : 'Id';
        if (!name.endsWith(suffix) || name.length === suffix.length) {
          this.fail(path, `a reference field is named after its relation with the suffix '${suffix}' (e.g. client${suffix})`);
        } else {
          const onDelete = spec.onDelete ?? 'restrict';
          if (!['restrict', 'cascade', 'setNull'].includes(onDelete)) this.fail([...path, 'onDelete'], "expected 'restrict', 'cascade' or 'setNull'");
          if (spec.reverse !== undefined && (typeof spec.reverse !== 'string' || !(casing === 'snake' ? SNAKE : CAMEL).test(spec.reverse))) {
            this.fail([...path, 'reverse'], `expected a ${casing === 'snake' ? 'snake_case' : 'lowerCamelCase'} relation name`);
          }
          reference = {
            resource: spec.references,
            relation: name.slice(0, -suffix.length),
            reverse: spec.reverse ?? '', // filled in by relations()
            onDelete,
          };
        }
      }
    } else {
      for (const key of ['onDelete', 'reverse'] as const) {
        if (spec[key] !== undefined) this.fail([...path, key], 'only applies to a field with `references`');
      }
    }
    if (spec.transitions !== undefined) {
      if (!this.isObject(spec.transitions)) this.fail([...path, 'transitions'], 'expected { from: [to, …] }');
      else if (!spec.enum) this.fail([...path, 'transitions'], 'a state machine field declares its states in `enum`');
      else {
        for (const [from, tos] of Object.entries(spec.transitions)) {
          if (!spec.enum.includes(from)) this.fail([...path, 'transitions', from], `'${from}' is not one of the enum's states`);
          if (!Array.isArray(tos)) this.fail([...path, 'transitions', from], 'expected a list of states');
          else for (const to of tos) {
            if (!spec.enum.includes(to)) this.fail([...path, 'transitions', from], `'${to}' is not one of the enum's states`);
          }
        }
      }
    }
    const indexSpec = spec.index;
    if (indexSpec !== undefined && indexSpec !== true && indexSpec !== false && indexSpec !== 'unique') {
      this.fail([...path, 'index'], "expected true or 'unique'");
    }
    let index: FieldModel['index'] = indexSpec === 'unique' || spec.unique === true ? 'unique' : indexSpec === true ? 'plain' : null;
    if (index && !isScalar(type)) {
      this.fail([...path, 'index'], `${type} fields cannot be indexed; index scalar fields`);
      index = null;
    }
    if (reference && !index) index = 'plain'; // nested routes and integrity checks look rows up by it
    if (spec.default !== undefined && depth === 0 && type !== 'blob') {
      try {
        const validate = this.ajv.compile(fieldSchema(spec, 'write'));
        if (!validate(spec.default)) this.fail([...path, 'default'], `the default does not match the field: ${this.ajv.errorsText(validate.errors, { dataVar: 'default' })}`);
      } catch (e) {
        this.fail(path, `not a valid JSON Schema: ${(e as Error).message}`);
      }
    }
    const createdAt = casing === 'snake' ? 'created_at' : 'createdAt';
    const updatedAt = casing === 'snake' ? 'updated_at' : 'updatedAt';
    let managed: FieldModel['managed'] = null;
    if (depth === 0 && (name === createdAt || name === updatedAt)) {
      if (type !== 'string' || spec.format !== 'date-time') this.fail(path, `'${name}' is maintained by Carte; declare it { type: string, format: date-time }`);
      managed = name === createdAt ? 'createdAt' : 'updatedAt';
    }
    return {
      name,
      type,
      spec,
      readOnly: spec.readOnly === true || managed !== null,
      managed,
      required: required && managed === null && spec.readOnly !== true,
      nullable: spec.nullable === true,
      default: spec.default,
      enum: spec.enum,
      format: spec.format,
      index,
      search: spec.search === true,
      reference,
      transitions: spec.transitions ?? null,
      blob: type === 'blob' ? { mediaTypes: spec.mediaTypes ?? ['application/octet-stream'], maxBytes: spec.maxBytes ?? 10 * 1024 * 1024 } : null,
    };
  }

  private access(raw: unknown, path: readonly (string | number)[], fields: Map<string, FieldModel>): AccessModel {
    const check = (rule: unknown, p: readonly (string | number)[]): AccessRule => {
      if (typeof rule !== 'string' || !ACCESS_RULE.test(rule)) {
        this.fail(p, 'expected public, authenticated, none, scope, scope:<name> or owner:<field>');
        return 'authenticated';
      }
      if (rule.startsWith('owner:')) {
        const f = fields.get(rule.slice(6));
        if (!f) this.fail(p, `owner field '${rule.slice(6)}' is not a field of this resource`);
        else if (f.type !== 'string' && f.type !== 'integer') this.fail(p, 'an owner field is a string or an integer');
      }
      return rule;
    };
    // SPEC §8 (decision): default `authenticated` for read and write.
    const fallback = 'authenticated';
    if (raw === undefined) return { read: fallback, create: fallback, update: fallback, delete: fallback };
    if (typeof raw === 'string') {
      const r = check(raw, path);
      return { read: r, create: r, update: r, delete: r };
    }
    if (!this.isObject(raw)) {
      this.fail(path, 'expected a rule or { read, write, create, update, delete }');
      return { read: fallback, create: fallback, update: fallback, delete: fallback };
    }
    this.unknownKeys(raw, new Set(['read', 'write', 'create', 'update', 'delete']), path);
    const read = raw.read === undefined ? fallback : check(raw.read, [...path, 'read']);
    const write = raw.write === undefined ? fallback : check(raw.write, [...path, 'write']);
    return {
      read,
      create: raw.create === undefined ? write : check(raw.create, [...path, 'create']),
      update: raw.update === undefined ? write : check(raw.update, [...path, 'update']),
      delete: raw.delete === undefined ? write : check(raw.delete, [...path, 'delete']),
    };
  }

  private action(
    name: string,
    raw: unknown,
    path: readonly (string | number)[],
    resource: string | null,
    _casing: 'camel' | 'snake',
  ): ActionModel | null {
    if (!ACTION_PATH.test(name)) {
      this.fail(path, 'operation names are spinal-case segments joined by /, e.g. calculator/sum');
    }
    if (!this.isObject(raw)) {
      this.fail(path, 'expected { input, output, handler }');
      return null;
    }
    this.unknownKeys(raw, ACTION_KEYS, path);
    const spec = raw as unknown as ActionSpec;
    for (const key of ['input', 'output'] as const) {
      if (spec[key] === undefined) continue;
      if (!this.isObject(spec[key])) {
        this.fail([...path, key], 'expected a JSON Schema');
        continue;
      }
      try {
        this.ajv.compile(spec[key] as object);
      } catch (e) {
        this.fail([...path, key], `not a valid JSON Schema: ${(e as Error).message}`);
      }
    }
    if (spec.handler !== undefined && typeof spec.handler !== 'function' && (typeof spec.handler !== 'string' || !/^.+#[A-Za-z_$][\w$]*$/.test(spec.handler))) {
      this.fail([...path, 'handler'], 'expected a function (module schemas) or "./file.js#exportName"');
    }
    let access: AccessRule = 'authenticated';
    if (spec.access !== undefined) {
      if (typeof spec.access !== 'string' || !ACCESS_RULE.test(spec.access) || spec.access.startsWith('owner:') || spec.access === 'scope') {
        this.fail([...path, 'access'], 'expected public, authenticated, none or scope:<name>');
      } else access = spec.access;
    }
    return {
      name,
      path: name,
      rpcName: resource ? `${resource}.${name}` : name.replace(/\//g, '.'),
      spec,
      handler: typeof spec.handler === 'function' ? spec.handler : null,
      access,
      resource,
    };
  }

  /**
   * `previousVersion` (SPEC §4.10): one older major version, its dates, and per resource
   * the fields it hides (`omit`) and the fields it shows differently (`from`, `join`).
   */
  private previousVersion(raw: unknown, current: number, resources: Map<string, PartialResource>, casing: 'camel' | 'snake'): PreviousVersionModel | null {
    const path = ['previousVersion'];
    if (!this.isObject(raw)) {
      this.fail(path, 'expected { version, deprecation, sunset, resources }');
      return null;
    }
    this.unknownKeys(raw, new Set(['version', 'deprecation', 'sunset', 'link', 'resources']), path);
    const version = raw.version;
    if (!Number.isInteger(version) || (version as number) < 0 || (version as number) >= current) {
      this.fail([...path, 'version'], `expected an integer from 0 to ${current - 1} (lower than api.version ${current})`);
    }
    const date = (key: 'deprecation' | 'sunset'): Date | null => {
      const value = raw[key];
      const d = value instanceof Date ? value : typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : null;
      if (!d || Number.isNaN(d.getTime())) {
        this.fail([...path, key], `expected an ISO 8601 date-time such as 2026-12-31T00:00:00Z (${key === 'sunset' ? 'RFC 8594 Sunset' : 'RFC 9745 Deprecation'})`);
        return null;
      }
      return d;
    };
    const deprecation = date('deprecation');
    const sunset = date('sunset');
    if (deprecation && sunset && sunset < deprecation) this.fail([...path, 'sunset'], 'the sunset comes after the deprecation');
    let link: string | null = null;
    if (raw.link !== undefined) {
      if (typeof raw.link !== 'string' || !/^https?:\/\/\S+$/.test(raw.link)) this.fail([...path, 'link'], 'expected an absolute http(s) URL');
      else link = raw.link;
    }
    const mapped = new Map<string, PreviousResourceModel>();
    if (raw.resources !== undefined && !this.isObject(raw.resources)) this.fail([...path, 'resources'], 'expected an object of resource mappings');
    else for (const [name, spec] of Object.entries((raw.resources ?? {}) as Record<string, unknown>)) {
      const rpath = [...path, 'resources', name];
      const resource = resources.get(name);
      if (!resource) {
        this.fail(rpath, `'${name}' is not a resource (${[...resources.keys()].join(', ')})`);
        continue;
      }
      if (!this.isObject(spec)) {
        this.fail(rpath, 'expected { omit, fields }');
        continue;
      }
      this.unknownKeys(spec, new Set(['omit', 'fields']), rpath);
      const omit = new Set<string>();
      if (spec.omit !== undefined) {
        if (!Array.isArray(spec.omit)) this.fail([...rpath, 'omit'], 'expected a list of current field names');
        else for (const f of spec.omit) {
          if (typeof f !== 'string' || !resource.fields.has(f)) this.fail([...rpath, 'omit'], `'${String(f)}' is not a field of ${name}`);
          else if (resource.fields.get(f)?.required) this.fail([...rpath, 'omit'], `'${f}' is required in the current version; the previous version could not create ${name}`);
          else omit.add(f);
        }
      }
      const fields = new Map<string, PreviousFieldModel>();
      const bySource = new Map<string, PreviousFieldModel>();
      if (spec.fields !== undefined && !this.isObject(spec.fields)) this.fail([...rpath, 'fields'], 'expected an object of old field names');
      else for (const [oldName, fieldRaw] of Object.entries((spec.fields ?? {}) as Record<string, unknown>)) {
        const fpath = [...rpath, 'fields', oldName];
        this.fieldName(oldName, fpath, casing);
        if (!this.isObject(fieldRaw)) {
          this.fail(fpath, 'expected { from: <field> } or { join: <object field>, parts: [...], separator }');
          continue;
        }
        const source = typeof fieldRaw.from === 'string' ? fieldRaw.from : typeof fieldRaw.join === 'string' ? fieldRaw.join : null;
        const sourceField = source === null ? undefined : resource.fields.get(source);
        if ((fieldRaw.from === undefined) === (fieldRaw.join === undefined)) {
          this.fail(fpath, 'expected exactly one of `from` (a rename) or `join` (an object field shown as one string)');
          continue;
        }
        if (!sourceField || source === null) {
          this.fail(fpath, `'${String(fieldRaw.from ?? fieldRaw.join)}' is not a field of ${name}`);
          continue;
        }
        if (bySource.has(source) || omit.has(source)) this.fail(fpath, `'${source}' is already mapped or omitted`);
        let model: PreviousFieldModel;
        if (fieldRaw.from !== undefined) {
          this.unknownKeys(fieldRaw, new Set(['from']), fpath);
          model = { kind: 'rename', name: oldName, source };
        } else {
          this.unknownKeys(fieldRaw, new Set(['join', 'parts', 'separator']), fpath);
          const props = sourceField.spec.properties;
          if (sourceField.type !== 'object' || !props) {
            this.fail([...fpath, 'join'], `'${source}' must be an object field with properties`);
            continue;
          }
          const parts = fieldRaw.parts;
          if (!Array.isArray(parts) || parts.length === 0) {
            this.fail([...fpath, 'parts'], `expected the properties of ${source} in order, e.g. [${Object.keys(props).join(', ')}]`);
            continue;
          }
          for (const part of parts) {
            const p = typeof part === 'string' ? props[part] : undefined;
            if (!p) this.fail([...fpath, 'parts'], `'${String(part)}' is not a property of ${source}`);
            else if (!['string', 'integer', 'number'].includes(p.type)) this.fail([...fpath, 'parts'], `'${part}' is ${p.type}; only string and number properties can be joined`);
          }
          const separator = fieldRaw.separator ?? ', ';
          if (typeof separator !== 'string' || separator === '') this.fail([...fpath, 'separator'], 'expected a non-empty string');
          model = { kind: 'join', name: oldName, source, parts: parts as string[], separator: String(separator) };
        }
        if (fields.has(oldName)) this.fail(fpath, `'${oldName}' is mapped twice`);
        fields.set(oldName, model);
        bySource.set(source, model);
      }
      // An old name may reuse its source's name (address ↔ address) but not another current field's.
      for (const [oldName, model] of fields) {
        const clash = resource.fields.get(oldName);
        if (clash && oldName !== model.source && !bySource.has(oldName) && !omit.has(oldName)) {
          this.fail([...rpath, 'fields', oldName], `'${oldName}' is still a field of ${name} in the previous version; omit or map it too`);
        }
      }
      mapped.set(name, { omit, fields, bySource });
    }
    if (!deprecation || !sunset || !Number.isInteger(version)) return null;
    return { version: version as number, deprecation, sunset, link, resources: mapped };
  }

  /** Names every relation both ways and refuses ambiguous or colliding names. */
  private relations(resources: Map<string, PartialResource>, casing: 'camel' | 'snake'): Map<string, Map<string, RelationModel>> {
    const out = new Map<string, Map<string, RelationModel>>();
    for (const name of resources.keys()) out.set(name, new Map());
    for (const [childName, child] of resources) {
      for (const field of child.fieldList) {
        const ref = field.reference;
        if (!ref) continue;
        const parent = resources.get(ref.resource);
        if (!parent) continue;
        const path = ['resources', childName, 'fields', field.name];
        const reverse = ref.reverse || fieldCase(childName, casing);
        (ref as { reverse: string }).reverse = reverse;
        const childRels = out.get(childName) as Map<string, RelationModel>;
        const parentRels = out.get(ref.resource) as Map<string, RelationModel>;
        if (child.fields.has(ref.relation) || childRels.has(ref.relation)) {
          this.fail(path, `the relation name '${ref.relation}' collides with another field or relation of ${childName}`);
        } else {
          childRels.set(ref.relation, { name: ref.relation, kind: 'one', child: childName, field: field.name, parent: ref.resource, target: ref.resource });
        }
        if (parent.fields.has(reverse) || parentRels.has(reverse)) {
          this.fail(path, `the reverse relation '${reverse}' on ${ref.resource} is ambiguous or collides with a field; name it with \`reverse\``);
        } else {
          parentRels.set(reverse, { name: reverse, kind: 'many', child: childName, field: field.name, parent: ref.resource, target: childName });
        }
      }
    }
    return out;
  }
}

type PartialResource = Omit<ResourceModel, 'relations'>;

export function isScalar(type: FieldType): boolean {
  return type === 'string' || type === 'integer' || type === 'number' || type === 'boolean';
}

/** Derives an English singular from a plural resource name: orders → order, categories → category. */
export function singularize(plural: string): string {
  const parts = plural.split('-');
  const last = parts.pop() as string;
  let s = last;
  if (/[^aeiou]ies$/.test(last)) s = `${last.slice(0, -3)}y`;
  else if (/(ss|sh|ch|x|z)es$/.test(last)) s = last.slice(0, -2);
  else if (/[^s]s$/.test(last)) s = last.slice(0, -1);
  return [...parts, s].join('-');
}

/** A spinal-case resource name in the body casing: order-items → orderItems / order_items. */
export function fieldCase(spinal: string, casing: 'camel' | 'snake'): string {
  return casing === 'snake' ? spinal.replace(/-/g, '_') : spinal.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
