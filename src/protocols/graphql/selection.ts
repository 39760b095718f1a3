/**
 * GraphQL selection sets → the service's structured selection (SPEC §6): the fields asked
 * for, and every relation asked for with its own arguments, so the service embeds them in
 * batches — a page of 25 orders with their clients and restaurants costs a constant number
 * of SQL statements, never one per row. Also GraphQL list arguments → the query model.
 */
import {
  getArgumentValues,
  getDirectiveValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  type FieldNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { QueryInput, RawFilter, SelectionItemInput } from '../../query/types.js';
import { embedKey, type GraphqlTypes, type ResourceTypes } from './build-schema.js';

/** What selection walking needs from graphql-js' resolve info. */
export interface SelectionScope {
  readonly fragments: Readonly<Record<string, FragmentDefinitionNode>>;
  readonly variableValues: Readonly<Record<string, unknown>>;
}

function included(node: { readonly directives?: readonly unknown[] | undefined }, scope: SelectionScope): boolean {
  if (!node.directives || node.directives.length === 0) return true;
  const n = node as Parameters<typeof getDirectiveValues>[1];
  if (getDirectiveValues(GraphQLSkipDirective, n, scope.variableValues)?.if === true) return false;
  if (getDirectiveValues(GraphQLIncludeDirective, n, scope.variableValues)?.if === false) return false;
  return true;
}

/**
 * The fields of selection sets on one object type, by response key (aliases apart), with
 * fragments and @skip/@include applied — as graphql-js' own CollectFields does (the schema
 * has no interfaces or unions, so a type condition either names this type or does not apply).
 */
export function collectFields(sets: readonly SelectionSetNode[], typeName: string, scope: SelectionScope): Map<string, FieldNode[]> {
  const out = new Map<string, FieldNode[]>();
  const visited = new Set<string>();
  const visit = (set: SelectionSetNode) => {
    for (const selection of set.selections) {
      if (!included(selection, scope)) continue;
      switch (selection.kind) {
        case Kind.FIELD: {
          const key = selection.alias?.value ?? selection.name.value;
          out.set(key, [...(out.get(key) ?? []), selection]);
          break;
        }
        case Kind.INLINE_FRAGMENT:
          if (!selection.typeCondition || selection.typeCondition.name.value === typeName) visit(selection.selectionSet);
          break;
        case Kind.FRAGMENT_SPREAD: {
          const name = selection.name.value;
          const fragment = scope.fragments[name];
          if (visited.has(name) || !fragment || fragment.typeCondition.name.value !== typeName) break;
          visited.add(name);
          visit(fragment.selectionSet);
          break;
        }
      }
    }
  };
  for (const set of sets) visit(set);
  return out;
}

function subSets(nodes: readonly FieldNode[]): SelectionSetNode[] {
  return nodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : []));
}

/** The selection of items of a resource type: fields, and relations under `@<response key>`. */
export function itemSelection(types: GraphqlTypes, rt: ResourceTypes, sets: readonly SelectionSetNode[], scope: SelectionScope): SelectionItemInput[] {
  const out: SelectionItemInput[] = [];
  const seen = new Set<string>();
  for (const [key, nodes] of collectFields(sets, rt.object.name, scope)) {
    const name = (nodes[0] as FieldNode).name.value;
    if (name.startsWith('__') || name === 'id') continue;
    const relation = rt.resource.relations.get(name);
    if (!relation) {
      if (!seen.has(name)) out.push({ name });
      seen.add(name);
      continue;
    }
    const target = types.resources.get(relation.target) as ResourceTypes;
    if (relation.kind === 'one') {
      out.push({ name, as: embedKey(key), children: itemSelection(types, target, subSets(nodes), scope) });
      continue;
    }
    const field = rt.object.getFields()[name];
    const args = field ? getArgumentValues(field, nodes[0] as FieldNode, scope.variableValues as Record<string, unknown>) : {};
    const page = pageSelection(types, target, subSets(nodes), scope);
    out.push({ name, as: embedKey(key), children: page.items, query: { ...listInput(target, args), count: page.total ? 'exact' : 'none' } });
  }
  return out;
}

/** The selection on a page type: its items' selection, and whether `total` is asked for (else it is not counted). */
export function pageSelection(types: GraphqlTypes, rt: ResourceTypes, sets: readonly SelectionSetNode[], scope: SelectionScope, typeName = rt.page.name): { items: SelectionItemInput[]; total: boolean } {
  const fields = collectFields(sets, typeName, scope);
  const itemSets: SelectionSetNode[] = [];
  let total = false;
  for (const nodes of fields.values()) {
    const name = (nodes[0] as FieldNode).name.value;
    if (name === 'items') itemSets.push(...subSets(nodes));
    else if (name === 'total') total = true;
  }
  return { items: itemSelection(types, rt, itemSets, scope), total };
}

/** A `<Type>Filter` value → raw filters with typed values (`{rating_gte: 4}` → `rating[gte]=4`). */
export function filterInput(rt: ResourceTypes, filter: unknown): RawFilter[] {
  if (filter === undefined || filter === null) return [];
  const out: RawFilter[] = [];
  for (const [name, value] of Object.entries(filter as Record<string, unknown>)) {
    const member = rt.filterMembers.get(name);
    if (!member || value === null || value === undefined) continue;
    let values = Array.isArray(value) ? value : [value];
    // ID values come as strings; an integer key compares as a number (a non-number is refused by the service).
    if (member.integerKey) values = values.map((v) => (typeof v === 'string' && /^-?\d{1,15}$/.test(v) ? Number(v) : v));
    out.push({ name: member.path, op: member.op, values, raw: false });
  }
  return out;
}

/** List arguments (filter, sort, desc, range) → the query model. */
export function listInput(rt: ResourceTypes, args: Readonly<Record<string, unknown>>): Pick<QueryInput, 'filters' | 'sort' | 'desc' | 'range' | 'offset'> {
  const input: { -readonly [K in 'filters' | 'sort' | 'desc' | 'range' | 'offset']?: QueryInput[K] } = { filters: filterInput(rt, args.filter) };
  if (Array.isArray(args.sort)) input.sort = args.sort as string[];
  if (Array.isArray(args.desc)) input.desc = args.desc as string[];
  const range = args.range as { first?: number | null; last?: number | null } | null | undefined;
  if (range && range.last !== undefined && range.last !== null) input.range = [range.first ?? 0, range.last];
  else if (range && range.first !== undefined && range.first !== null) input.offset = range.first;
  return input;
}
