/**
 * Partial responses in Google's notation (SPEC §4.5): `fields=name,address(street),client(name)`.
 * Object fields take sub-selections; relations in the list are embedded; `links` asks
 * for hypermedia links. Unknown names and too-deep nesting are 400.
 */
import { errors } from '../errors.js';
import type { ApiModel, FieldSpec, ResourceModel } from '../schema/types.js';
import { parseFilters } from './parse-filter.js';
import { parseRange } from './parse-range.js';
import { parseSort } from './parse-sort.js';
import type { EmbedPage, EmbedSelection, FieldSelection, NestedSelection, QueryLimits, SelectionItemInput } from './types.js';

interface Node {
  readonly name: string;
  readonly children: Node[] | null;
}

/** Parses the notation into a tree, without looking at the model. */
export function parseFieldsSyntax(text: string, limits: QueryLimits): Node[] {
  if (text.length > limits.fieldsLength) throw errors.invalidRequest(`fields is longer than ${limits.fieldsLength} characters.`);
  let i = 0;
  const list = (depth: number): Node[] => {
    if (depth > limits.fieldsDepth) throw errors.invalidRequest(`fields nests deeper than ${limits.fieldsDepth} levels.`);
    const out: Node[] = [];
    for (;;) {
      const start = i;
      while (i < text.length && /[A-Za-z0-9_-]/.test(text[i] as string)) i++;
      const name = text.slice(start, i);
      if (name === '') throw errors.invalidRequest(`Malformed fields at position ${i + 1}: a name is expected.`);
      let children: Node[] | null = null;
      if (text[i] === '(') {
        i++;
        children = list(depth + 1);
        if (text[i] !== ')') throw errors.invalidRequest(`Malformed fields at position ${i + 1}: ')' is expected.`);
        i++;
      }
      out.push({ name, children });
      if (text[i] === ',') {
        i++;
        continue;
      }
      return out;
    }
  };
  const nodes = list(0);
  if (i !== text.length) throw errors.invalidRequest(`Malformed fields at position ${i + 1}.`);
  return nodes;
}

export function parseFields(api: ApiModel, resource: ResourceModel, text: string, limits: QueryLimits): FieldSelection {
  return resolve(api, resource, parseFieldsSyntax(text, limits), 0, limits);
}

function resolve(api: ApiModel, resource: ResourceModel, nodes: readonly Node[], depth: number, limits: QueryLimits): FieldSelection {
  const fields = new Set<string>();
  const nested = new Map<string, NestedSelection>();
  const relations = new Map<string, FieldSelection | null>();
  let links = false;
  for (const node of nodes) {
    if (node.name === 'links' && !node.children) {
      links = true;
      continue;
    }
    if (node.name === resource.key.name && !node.children) continue; // always included
    const field = resource.fields.get(node.name);
    if (field) {
      fields.add(node.name);
      if (node.children) {
        if (field.type !== 'object' || !field.spec.properties) {
          throw errors.invalidRequest(`'${node.name}' has no properties to select.`);
        }
        nested.set(node.name, resolveNested(field.spec, node.children, `${resource.name}.${node.name}`));
      }
      continue;
    }
    const relation = resource.relations.get(node.name);
    if (relation) {
      if (depth + 1 > limits.fieldsDepth) throw errors.invalidRequest(`fields nests deeper than ${limits.fieldsDepth} levels.`);
      const target = api.resources.get(relation.target) as ResourceModel;
      relations.set(node.name, node.children ? resolve(api, target, node.children, depth + 1, limits) : null);
      continue;
    }
    throw errors.noProperty(node.name, resource.name);
  }
  return { fields, nested, relations, links };
}

function resolveNested(spec: FieldSpec, nodes: readonly Node[], where: string): NestedSelection {
  const out = new Map<string, NestedSelection | null>();
  for (const node of nodes) {
    const sub = spec.properties?.[node.name];
    if (!sub) throw errors.noProperty(node.name, where);
    if (node.children) {
      if (sub.type !== 'object' || !sub.properties) throw errors.invalidRequest(`'${where}.${node.name}' has no properties to select.`);
      out.set(node.name, resolveNested(sub, node.children, `${where}.${node.name}`));
    } else out.set(node.name, null);
  }
  return { fields: out };
}

/**
 * The structured form of `fields` (SPEC §6: GraphQL selection sets): the same checks as the
 * notation, plus relations embedded under a member of the caller's choosing, to-many ones
 * as a page with their own filters, sort and range, parsed like a list's.
 */
export function resolveSelection(api: ApiModel, resource: ResourceModel, items: readonly SelectionItemInput[], limits: QueryLimits, depth = 0): FieldSelection {
  const fields = new Set<string>();
  const nested = new Map<string, NestedSelection>();
  const embeds = new Map<string, EmbedSelection>();
  for (const item of items) {
    const field = resource.fields.get(item.name);
    if (item.name === resource.key.name || field) {
      if (item.as !== undefined || item.query !== undefined) throw errors.invalidRequest(`'${item.name}' is a field of ${resource.name}, not a relation.`);
      if (!field) continue; // the key is always included
      fields.add(item.name);
      if (item.children) {
        if (field.type !== 'object' || !field.spec.properties) throw errors.invalidRequest(`'${item.name}' has no properties to select.`);
        nested.set(item.name, resolveNestedItems(field.spec, item.children, `${resource.name}.${item.name}`));
      }
      continue;
    }
    const relation = resource.relations.get(item.name);
    if (!relation) throw errors.noProperty(item.name, resource.name);
    if (depth + 1 > limits.fieldsDepth) throw errors.invalidRequest(`Relations nest deeper than ${limits.fieldsDepth} levels.`);
    const target = api.resources.get(relation.target) as ResourceModel;
    const key = item.as ?? item.name;
    if (embeds.has(key)) throw errors.invalidRequest(`'${key}' is selected twice.`);
    let page: EmbedPage | null = null;
    if (relation.kind === 'many') {
      const query = item.query ?? {};
      const filters = parseFilters(target, query.filters ?? [], limits);
      const sort = parseSort(target, query.sort, query.desc, limits);
      const range = parseRange(target, query, sort);
      if (range.kind !== 'offset') throw errors.invalidRequest(`'${item.name}' pages by range or limit/offset.`);
      page = { filters, sort, offset: range.offset, limit: range.limit, count: query.count ?? 'exact' };
    } else if (item.query !== undefined) {
      throw errors.invalidRequest(`'${item.name}' is one ${target.singular}; it takes no filters, sort or range.`);
    }
    const selection = item.children ? resolveSelection(api, target, item.children, limits, depth + 1) : null;
    embeds.set(key, { relation: relation.name, selection, page });
  }
  return { fields, nested, relations: new Map(), links: false, embeds };
}

function resolveNestedItems(spec: FieldSpec, items: readonly SelectionItemInput[], where: string): NestedSelection {
  const out = new Map<string, NestedSelection | null>();
  for (const item of items) {
    const sub = spec.properties?.[item.name];
    if (!sub) throw errors.noProperty(item.name, where);
    if (item.children) {
      if (sub.type !== 'object' || !sub.properties) throw errors.invalidRequest(`'${where}.${item.name}' has no properties to select.`);
      out.set(item.name, resolveNestedItems(sub, item.children, `${where}.${item.name}`));
    } else out.set(item.name, null);
  }
  return { fields: out };
}

/** Applies a nested selection to an object value. */
export function pickNested(value: unknown, selection: NestedSelection): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [name, sub] of selection.fields) {
    if (!(name in source)) continue;
    out[name] = sub ? pickNested(source[name], sub) : source[name];
  }
  return out;
}
