/**
 * Root-field resolvers: each translates its arguments and selection set into ONE service call
 * and returns what the service returns. Nested fields need no resolvers of their own beyond
 * reading the embedded values: the service embedded every relation asked for, in batches.
 */
import type { GraphQLFieldResolver, GraphQLResolveInfo } from 'graphql';
import type { ActionModel, ResourceModel } from '../../schema/types.js';
import type { ResourceService } from '../../service/resource-service.js';
import type { GraphqlContext, GraphqlTypes, ResourceTypes } from './build-schema.js';
import { itemSelection, listInput, pageSelection } from './selection.js';

type Resolver = GraphQLFieldResolver<unknown, GraphqlContext, Record<string, unknown>>;

function sets(info: GraphQLResolveInfo) {
  return info.fieldNodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : []));
}

/** `restaurant(id)` */
export function getResolver(service: ResourceService, types: GraphqlTypes, rt: ResourceTypes): Resolver {
  return async (_source, args, context, info) => {
    const selection = itemSelection(types, rt, sets(info), info);
    return (await service.get(context.call, rt.resource.name, args.id, { selection })).data;
  };
}

/** `restaurants(filter, sort, desc, range)`: the total is counted only when selected. */
export function listResolver(service: ResourceService, types: GraphqlTypes, rt: ResourceTypes): Resolver {
  return async (_source, args, context, info) => {
    const page = pageSelection(types, rt, sets(info), info);
    const result = await service.list(context.call, rt.resource.name, { ...listInput(rt, args), count: page.total ? 'exact' : 'none', selection: page.items });
    return { items: result.items, first: result.first, last: result.last, total: result.total };
  };
}

/** `searchRestaurants(filter: {name: ["*napoli*"]}, …)` */
export function searchResolver(service: ResourceService, types: GraphqlTypes, rt: ResourceTypes): Resolver {
  return async (_source, args, context, info) => {
    const page = pageSelection(types, rt, sets(info), info, `${rt.object.name}SearchResult`);
    const result = await service.search(context.call, rt.resource.name, { ...listInput(rt, args), count: page.total ? 'exact' : 'none', selection: page.items });
    return { items: result.items, first: result.first, last: result.last, total: result.total, query: result.query, suggestions: result.suggestions };
  };
}

/** `createRestaurant(input)`, `replaceRestaurant(id, input)`, `updateRestaurant(id, patch)` */
export function writeResolver(service: ResourceService, types: GraphqlTypes, rt: ResourceTypes, kind: 'create' | 'replace' | 'update'): Resolver {
  return async (_source, args, context, info) => {
    const options = { selection: itemSelection(types, rt, sets(info), info) };
    const name = rt.resource.name;
    if (kind === 'create') return (await service.create(context.call, name, args.input, options)).data;
    if (kind === 'replace') return (await service.replace(context.call, name, args.id, args.input, options)).result.data;
    return (await service.update(context.call, name, args.id, args.patch, options)).data;
  };
}

/** `deleteRestaurant(id)`: the item as it was. */
export function deleteResolver(service: ResourceService, types: GraphqlTypes, rt: ResourceTypes): Resolver {
  return async (_source, args, context, info) => (await service.delete(context.call, rt.resource.name, args.id, { selection: itemSelection(types, rt, sets(info), info) })).data;
}

/** Operations (`calculatorSum(input)`, `convert(from, to, amount)`) and item actions (`cancelOrder(id, input)`). */
export function actionResolver(service: ResourceService, action: ActionModel, resource: ResourceModel | null, spread: boolean): Resolver {
  return async (_source, args, context) => {
    if (resource) return service.action(context.call, action.rpcName, args.input ?? null, { resource: resource.name, id: args.id });
    if (spread) return service.action(context.call, action.rpcName, { ...args });
    return service.action(context.call, action.rpcName, args.input ?? null);
  };
}
