/**
 * Depth, cost and alias limits on GraphQL operations (SPEC §6), checked before anything runs.
 * Cost counts the items an operation may return: a page counts its size (the range asked for,
 * or maxRange) times one plus what each item asks for; a related item counts one plus its own.
 * So `orders(range 0-24) { client restaurant }` costs 25 × 3 = 75. Introspection is free
 * (GraphiQL's own query is deep by nature) but still bounded by the parser's token limit.
 */
import {
  getArgumentValues,
  getNamedType,
  GraphQLObjectType,
  Kind,
  visit,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { Limits } from '../../config/config.js';
import { errors } from '../../errors.js';
import type { GraphqlTypes, ResourceTypes } from './build-schema.js';
import { collectFields, type SelectionScope } from './selection.js';

export type GraphqlLimits = Pick<Limits, 'graphqlDepth' | 'graphqlCost' | 'graphqlAliases' | 'graphqlBatchSize' | 'graphqlTokens'>;

/** Field visits one analysis may make: fragments spread in fragments must not blow up the walk. */
const MAX_VISITS = 50_000;

/** Aliases in the whole document (static: checked once per cached document). */
export function countAliases(document: DocumentNode): number {
  let n = 0;
  visit(document, {
    Field(node) {
      if (node.alias) n++;
    },
  });
  return n;
}

export function checkAliases(document: DocumentNode, limits: GraphqlLimits): void {
  const n = countAliases(document);
  if (n > limits.graphqlAliases) {
    throw errors.queryTooComplex(`The document uses ${n} aliases; the limit is ${limits.graphqlAliases}.`, { limit: limits.graphqlAliases, actual: n });
  }
}

export interface Analysis {
  readonly depth: number;
  readonly cost: number;
}

/** Depth and cost of one operation with its variables; throws query_too_complex beyond the limits. */
export function checkOperation(schema: GraphQLSchema, types: GraphqlTypes, document: DocumentNode, operation: OperationDefinitionNode, variables: Readonly<Record<string, unknown>>, limits: GraphqlLimits): Analysis {
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  const scope: SelectionScope = { fragments, variableValues: variables };
  const pages = new Map<string, ResourceTypes>();
  const objects = new Map<string, ResourceTypes>();
  for (const rt of types.resources.values()) {
    pages.set(rt.page.name, rt);
    pages.set(`${rt.object.name}SearchResult`, rt);
    objects.set(rt.object.name, rt);
  }
  let visits = 0;
  let maxDepth = 0;

  const pageSize = (rt: ResourceTypes, node: FieldNode, field: Parameters<typeof getArgumentValues>[0]): number => {
    const args = getArgumentValues(field, node, variables as Record<string, unknown>);
    const range = args.range as { first?: number | null; last?: number | null } | undefined;
    if (range && typeof range.last === 'number') return Math.max(1, Math.min(rt.resource.maxRange, range.last - (range.first ?? 0) + 1));
    return rt.resource.maxRange;
  };

  /** Cost of one instance of `type` with these selections. */
  const walk = (sets: readonly SelectionSetNode[], type: GraphQLObjectType, depth: number): number => {
    let cost = 0;
    for (const nodes of collectFields(sets, type.name, scope).values()) {
      const node = nodes[0] as FieldNode;
      const name = node.name.value;
      if (name.startsWith('__')) continue;
      if (++visits > MAX_VISITS) throw errors.queryTooComplex(`The document expands to more than ${MAX_VISITS} fields.`);
      const field = type.getFields()[name];
      if (!field) continue;
      const d = depth + 1;
      maxDepth = Math.max(maxDepth, d);
      const named = getNamedType(field.type);
      if (!(named instanceof GraphQLObjectType)) continue;
      const sub = nodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : []));
      const page = pages.get(named.name);
      if (page) {
        cost += pageSize(page, node, field) * (1 + walk(sub, named, d));
      } else if (objects.has(named.name)) {
        // A related item: itself, plus what it asks for. Inside a page, `items` is what the page multiplies.
        cost += pages.has(type.name) ? walk(sub, named, d) : 1 + walk(sub, named, d);
      } else cost += walk(sub, named, d);
    }
    return cost;
  };

  const root = operation.operation === 'mutation' ? schema.getMutationType() : operation.operation === 'subscription' ? schema.getSubscriptionType() : schema.getQueryType();
  const cost = root ? walk([operation.selectionSet], root, 0) : 0;
  if (maxDepth > limits.graphqlDepth) {
    throw errors.queryTooComplex(`The operation nests ${maxDepth} levels deep; the limit is ${limits.graphqlDepth}.`, { limit: limits.graphqlDepth, actual: maxDepth });
  }
  if (cost > limits.graphqlCost) {
    throw errors.queryTooComplex(`The operation may return up to ${cost} items; the limit is ${limits.graphqlCost}. Ask for smaller ranges or fewer relations.`, { limit: limits.graphqlCost, actual: cost });
  }
  return { depth: maxDepth, cost };
}
