/**
 * Turns a checked ListQuery into a store ReadPlan: filters and patterns become one
 * condition tree, joined with the access and parent conditions the service adds.
 */
import type { FilterTerm, ListQuery, PatternTerm, Scalar, SortKey } from '../query/types.js';
import type { ResourceModel } from '../schema/types.js';
import type { ColumnRef, Condition, OrderKey, ReadPlan, Row } from '../store/store.js';

export function keyColumn(resource: ResourceModel): ColumnRef {
  return { field: 'id', path: [], leafType: resource.key.type === 'uuid' ? 'string' : 'integer', array: false };
}

export function fieldColumn(resource: ResourceModel, field: string): ColumnRef {
  if (field === 'id') return keyColumn(resource);
  const f = resource.fields.get(field);
  const leafType = f?.type === 'integer' || f?.type === 'number' || f?.type === 'boolean' ? f.type : 'string';
  return { field, path: [], leafType, array: false };
}

export function and(...items: Condition[]): Condition {
  const kept = items.filter((c) => c.kind !== 'true');
  if (kept.some((c) => c.kind === 'false')) return { kind: 'false' };
  if (kept.length === 0) return { kind: 'true' };
  if (kept.length === 1) return kept[0] as Condition;
  return { kind: 'and', items: kept };
}

export function filterCondition(term: FilterTerm): Condition {
  const column: ColumnRef = { field: term.field, path: term.path, leafType: term.leafType, array: term.array };
  switch (term.op) {
    case 'eq':
      return term.array ? { kind: 'contains', column, values: term.values } : { kind: 'in', column, values: term.values };
    case 'ne': {
      // "not any of these": rows with no value count as different (SQL's NULL <> x is unknown).
      const positive: Condition = term.array ? { kind: 'contains', column, values: term.values } : { kind: 'in', column, values: term.values };
      return { kind: 'or', items: [{ kind: 'isNull', column }, { kind: 'not', item: positive }] };
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const op = ({ gt: '>', gte: '>=', lt: '<', lte: '<=' } as const)[term.op];
      return { kind: 'compare', column, op, value: term.values[0] as Scalar };
    }
    case 'like': {
      const items: Condition[] = term.values.map((v) => ({ kind: 'like', column, pattern: String(v) }));
      return items.length === 1 ? (items[0] as Condition) : { kind: 'or', items };
    }
    case 'null':
      return term.values[0] === true ? { kind: 'isNull', column } : { kind: 'not', item: { kind: 'isNull', column } };
  }
}

export function patternCondition(term: PatternTerm): Condition {
  const items: Condition[] = term.patterns.map((p) => ({ kind: 'pattern', field: term.field, pattern: p }));
  return items.length === 1 ? (items[0] as Condition) : { kind: 'or', items };
}

export function orderKeys(sort: readonly SortKey[]): OrderKey[] {
  return sort.map((k) => ({ column: { field: k.field, path: k.path, leafType: k.leafType, array: false }, descending: k.descending }));
}

export function queryCondition(query: ListQuery): Condition {
  return and(...query.filters.map(filterCondition), ...query.patterns.map(patternCondition));
}

export function readPlan(resource: ResourceModel, query: ListQuery, where: Condition): ReadPlan {
  const page = query.page;
  return {
    resource: resource.name,
    where,
    order: orderKeys(query.sort),
    offset: page.kind === 'offset' ? page.offset : 0,
    limit: page.limit,
    after: page.kind === 'cursor' ? page.after : null,
    count: query.count,
  };
}

/** The order values of a row, for the cursor that continues after it. */
export function orderValues(row: Row, sort: readonly SortKey[]): (Scalar | null)[] {
  return sort.map((k) => {
    let v: unknown = row[k.field];
    for (const p of k.path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[p] : undefined;
    return v === undefined || v === null ? null : (v as Scalar);
  });
}
