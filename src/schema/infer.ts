/**
 * Infers a Carte schema from a json-server style database file (SPEC §1: `carte serve
 * db.json`): an object whose keys are collections (arrays of objects with `id`) and,
 * optionally, singular objects. Returns the schema, the items to import (converted to fit
 * it) and notes on every choice a json-server user should know about.
 */
import type { ApiSpec, FieldSpec, Json, JsonObject, ResourceSpec, StringFormat } from './types.js';
import { RESERVED_NAMES } from './types.js';
import { singularize, SPINAL } from './validate.js';

export interface InferredCollection {
  /** The key in the file (`blogPosts`). */
  readonly source: string;
  /** The Carte resource (`blog-posts`). */
  readonly resource: string;
  /** Items ready for the resource service, in file order, ids mapped. */
  readonly items: JsonObject[];
}

export interface InferredApi {
  readonly spec: ApiSpec;
  /** In import order: referenced collections before those that refer to them. */
  readonly collections: InferredCollection[];
  readonly notes: string[];
}

/** json-server data is not a Carte file: the `api`/`resources` keys tell them apart. */
export function isJsonServerData(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return !(keys.includes('resources') && keys.includes('api')) && Object.values(value).some((v) => Array.isArray(v) || (typeof v === 'object' && v !== null));
}

const CAMEL = /^[a-z][a-zA-Z0-9]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const URI = /^https?:\/\/[^\s]+$/;

interface Draft {
  source: string;
  resource: string;
  singularObject: boolean;
  items: Record<string, unknown>[];
  keyType: 'integer' | 'uuid';
  /** Original id (as a string) → the key it gets. */
  ids: Map<string, number | string>;
  /** Field name in the file → name in Carte. */
  names: Map<string, string>;
}

export function inferApi(data: Record<string, unknown>, name: string): InferredApi {
  const notes: string[] = [];
  const drafts: Draft[] = [];
  const used = new Set<string>();
  for (const [source, value] of Object.entries(data)) {
    let items: Record<string, unknown>[];
    let singularObject = false;
    if (Array.isArray(value)) {
      const objects = value.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v));
      if (objects.length !== value.length) notes.push(`${source}: ${value.length - objects.length} entr${value.length - objects.length === 1 ? 'y is' : 'ies are'} not an object and ${value.length - objects.length === 1 ? 'was' : 'were'} left out`);
      items = objects;
    } else if (typeof value === 'object' && value !== null) {
      // json-server serves a singular object at /profile; Carte keeps it as the one item (id 1) of a resource.
      items = [{ ...(value as Record<string, unknown>), id: 1 }];
      singularObject = true;
    } else {
      notes.push(`${source}: a ${value === null ? 'null' : typeof value} value, not a collection; left out`);
      continue;
    }
    let resource = spinal(source);
    if (!SPINAL.test(resource) || used.has(resource)) {
      notes.push(`${source}: cannot become a resource name; left out`);
      continue;
    }
    used.add(resource);
    if (resource !== source) notes.push(`${source} is served at /v1/${resource} (resource names are spinal-case)`);
    if (singularObject) notes.push(`${source} is a singular object: it is the item /v1/${resource}/1`);
    resource = resource as string;
    drafts.push({ source, resource, singularObject, items, keyType: 'integer', ids: new Map(), names: new Map() });
  }

  // Keys: integers (or integer strings) are kept; all-UUID ids stay UUIDs; anything else is renumbered in file order.
  for (const d of drafts) {
    const given = d.items.map((i) => i.id).filter((v) => v !== undefined && v !== null);
    const integers = given.every((v) => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) || (typeof v === 'string' && /^[1-9]\d{0,14}$/.test(v)));
    const uuids = given.length > 0 && given.every((v) => typeof v === 'string' && UUID.test(v));
    const unique = new Set(given.map(String)).size === given.length;
    if (uuids && unique) {
      d.keyType = 'uuid';
      for (const v of given) d.ids.set(String(v), String(v).toLowerCase());
    } else if (integers && unique) {
      for (const v of given) d.ids.set(String(v), Number(v));
    } else {
      let next = 1;
      for (const item of d.items) if (item.id !== undefined && item.id !== null) d.ids.set(String(item.id), next++);
      if (given.length > 0) notes.push(`${d.source}: ids are ${unique ? 'not all integers or UUIDs' : 'not unique'}; they are renumbered 1, 2, 3… in file order, and references to them follow`);
    }
  }
  const byName = new Map(drafts.map((d) => [d.source, d]));

  const resources: Record<string, ResourceSpec> = {};
  const references = new Map<Draft, Map<string, Draft>>();
  for (const d of drafts) {
    const fieldNames = new Set<string>();
    for (const item of d.items) for (const k of Object.keys(item)) if (k !== 'id') fieldNames.add(k);
    const snake = [...fieldNames].every((n) => /^[a-z][a-z0-9_]*$/.test(n)) && [...fieldNames].some((n) => n.includes('_'));
    if (snake) notes.push(`${d.source}: field names are snake_case; a Carte API has one casing, so these become lowerCamelCase (${[...fieldNames].filter((n) => n.includes('_')).slice(0, 3).join(', ')}…)`);
    const fields: Record<string, FieldSpec> = {};
    const refs = new Map<string, Draft>();
    for (const original of fieldNames) {
      let fname = camel(original);
      if (!CAMEL.test(fname)) {
        notes.push(`${d.source}.${original}: not a usable field name; left out`);
        continue;
      }
      if (RESERVED_NAMES.includes(fname)) {
        notes.push(`${d.source}.${original}: '${fname}' is a reserved query parameter; the field is named '${fname}Value'`);
        fname = `${fname}Value`;
      }
      if (fname !== original && !snake) notes.push(`${d.source}.${original} is named '${fname}'`);
      d.names.set(original, fname);
      const values = d.items.map((i) => i[original]).filter((v) => v !== undefined && v !== null);
      let spec = inferField(values);
      const target = fname.endsWith('Id') && fname.length > 2 ? targetOf(fname.slice(0, -2), byName) : undefined;
      if (target && (spec.type === 'integer' || spec.type === 'string')) {
        const dangling = values.filter((v) => !target.ids.has(String(v)));
        if (dangling.length === 0) {
          spec = { type: target.keyType === 'uuid' ? 'string' : 'integer', ...(target.keyType === 'uuid' ? { format: 'uuid' as const } : {}), references: target.resource, onDelete: 'setNull' };
          refs.set(original, target);
        } else notes.push(`${d.source}.${original}: ${dangling.length} value${dangling.length === 1 ? '' : 's'} name${dangling.length === 1 ? 's' : ''} no item of ${target.source} (e.g. ${JSON.stringify(dangling[0])}); kept as a plain field, not a reference`);
      }
      if (fname === 'createdAt' || fname === 'updatedAt') {
        if (spec.type === 'string' && spec.format === 'date-time') spec = { ...spec, readOnly: true };
        else {
          notes.push(`${d.source}.${original}: Carte maintains '${fname}' as a date-time; this one is named '${fname}Value'`);
          d.names.set(original, `${fname}Value`);
          fname = `${fname}Value`;
        }
      }
      fields[fname] = spec;
    }
    references.set(d, refs);
    const singular = singularize(d.resource);
    resources[d.resource] = {
      ...(singular === d.resource ? { singular: `${d.resource}-item` } : {}),
      // json-server is open to anyone; Carte reads are public, writes need a token (carte serve --dev prints one).
      access: { read: 'public', write: 'authenticated' },
      ...(d.keyType === 'uuid' ? { key: { type: 'string', format: 'uuid' } } : {}),
      fields,
    };
    if (singular === d.resource) notes.push(`${d.source}: its singular is '${d.resource}-item' (errors, Accept-Range)`);
  }

  // Items, converted: ids mapped, fields renamed, references through the target's id map.
  const collections: InferredCollection[] = [];
  const order = importOrder(drafts, references);
  for (const d of order) {
    const refs = references.get(d) as Map<string, Draft>;
    const spec = resources[d.resource] as ResourceSpec;
    const items = d.items.map((item) => {
      const out: JsonObject = {};
      if (item.id !== undefined && item.id !== null) out.id = d.ids.get(String(item.id)) as number | string;
      for (const [k, v] of Object.entries(item)) {
        const fname = d.names.get(k);
        if (k === 'id' || fname === undefined || v === undefined) continue;
        const target = refs.get(k);
        out[fname] = v === null ? null : target ? (target.ids.get(String(v)) as number | string) : fit(v as Json, spec.fields[fname] as FieldSpec);
      }
      return out;
    });
    collections.push({ source: d.source, resource: d.resource, items });
  }
  return { spec: { api: { name, version: 1 }, resources }, collections, notes };
}

/** `blogPosts`, `blog_posts` → `blog-posts`. */
function spinal(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/[_\s]+/g, '-')
    .toLowerCase();
}

/** `first_name`, `First Name`, `first-name` → `firstName`. */
function camel(name: string): string {
  const parts = name.split(/[_\s-]+/).filter(Boolean);
  return parts.map((p, i) => (i === 0 ? p.charAt(0).toLowerCase() + p.slice(1) : p.charAt(0).toUpperCase() + p.slice(1))).join('');
}

/** `postId` → the `posts` collection (json-server's own convention), or `post`, `categories`… */
function targetOf(stem: string, byName: ReadonlyMap<string, Draft>): Draft | undefined {
  const candidates = [`${stem}s`, `${stem}es`, stem.endsWith('y') ? `${stem.slice(0, -1)}ies` : '', stem].filter(Boolean);
  for (const c of candidates) {
    const d = byName.get(c);
    if (d && !d.singularObject) return d;
  }
  return undefined;
}

function inferField(values: readonly unknown[]): FieldSpec {
  if (values.length === 0) return { type: 'string' };
  if (values.every((v) => typeof v === 'boolean')) return { type: 'boolean' };
  if (values.every((v) => typeof v === 'number' && Number.isSafeInteger(v))) return { type: 'integer' };
  if (values.every((v) => typeof v === 'number')) return { type: 'number' };
  if (values.every((v) => typeof v === 'string')) {
    const strings = values as string[];
    const format = stringFormat(strings);
    return format ? { type: 'string', format } : { type: 'string' };
  }
  if (values.every((v) => Array.isArray(v))) {
    const elements = (values as unknown[][]).flat().filter((v) => v !== null);
    const item = inferField(elements);
    return { type: 'array', items: item.type === 'array' ? { type: 'object' } : item };
  }
  if (values.every((v) => typeof v === 'object' && !Array.isArray(v))) return { type: 'object' };
  return { type: 'string' };
}

function stringFormat(values: readonly string[]): StringFormat | undefined {
  const all = (re: RegExp) => values.every((v) => re.test(v));
  if (all(UUID)) return 'uuid';
  if (all(DATE_TIME) && values.every((v) => !Number.isNaN(Date.parse(v)))) return 'date-time';
  if (all(DATE)) return 'date';
  if (all(EMAIL)) return 'email';
  if (all(URI)) return 'uri';
  return undefined;
}

/** A value made to fit its inferred field: mixed values become text. */
function fit(value: Json, spec: FieldSpec): Json {
  if (spec.type === 'string' && typeof value !== 'string') return typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (spec.type === 'array' && Array.isArray(value) && spec.items) return value.map((v) => (v === null ? v : fit(v, spec.items as FieldSpec)));
  if (spec.type === 'object' && Array.isArray(value)) return { items: value };
  return value;
}

/** Referenced collections first (a cycle keeps file order). */
function importOrder(drafts: readonly Draft[], references: ReadonlyMap<Draft, ReadonlyMap<string, Draft>>): Draft[] {
  const out: Draft[] = [];
  const state = new Map<Draft, 'visiting' | 'done'>();
  const visit = (d: Draft) => {
    if (state.get(d)) return;
    state.set(d, 'visiting');
    for (const t of references.get(d)?.values() ?? []) if (t !== d) visit(t);
    state.set(d, 'done');
    out.push(d);
  };
  for (const d of drafts) visit(d);
  return out;
}
