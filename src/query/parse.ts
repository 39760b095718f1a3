/**
 * Parses a protocol-neutral QueryInput into the one ListQuery model, in a fixed order
 * (filters, sort, range, fields) so the first problem reported is the same in every front end.
 */
import { errors } from '../errors.js';
import type { ApiModel, ResourceModel } from '../schema/types.js';
import { parseFields, resolveSelection } from './parse-fields.js';
import { parseFilters } from './parse-filter.js';
import { parseRange } from './parse-range.js';
import { parseSort } from './parse-sort.js';
import type { FieldSelection, FilterTerm, ListQuery, PatternTerm, QueryInput, QueryLimits } from './types.js';

export interface ParseOptions {
  /** Search endpoints: `search: true` fields take `*` patterns (SPEC §4.6). */
  readonly search?: boolean;
  readonly limits: QueryLimits;
}

/** The members a read returns (`fields=` notation or a structured selection), or null for all. */
export function parseSelection(api: ApiModel, resource: ResourceModel, input: Pick<QueryInput, 'fields' | 'selection'>, limits: QueryLimits): FieldSelection | null {
  const notation = input.fields !== undefined && input.fields !== '';
  if (notation && input.selection !== undefined) throw errors.invalidRequest('Give fields or a selection, not both.');
  return input.selection !== undefined ? resolveSelection(api, resource, input.selection, limits) : notation ? parseFields(api, resource, input.fields as string, limits) : null;
}

export function parseListQuery(api: ApiModel, resource: ResourceModel, input: QueryInput, options: ParseOptions): ListQuery {
  const { limits } = options;
  const searchable = options.search ? new Set(resource.searchFields.map((f) => f.name)) : new Set<string>();
  const plain = (input.filters ?? []).filter((f) => !(searchable.has(f.name) && f.op === 'eq'));
  const filters: FilterTerm[] = parseFilters(resource, plain, limits);
  const patterns: PatternTerm[] = [];
  if (options.search) {
    const bySearchField = (input.filters ?? []).filter((f) => searchable.has(f.name) && f.op === 'eq');
    // Reuse the filter checks (limits, types) on pattern values, then keep them as patterns.
    for (const term of parseFilters(resource, bySearchField.map((f) => ({ ...f, op: 'like' })), limits)) {
      patterns.push({ field: term.field, patterns: term.values.map(String) });
    }
  }
  const sort = parseSort(resource, input.sort, input.desc, limits);
  const page = parseRange(resource, input, sort, options.search ? 'search' : resource.singular);
  const fields = parseSelection(api, resource, input, limits);
  // Deep paging by cursor stays constant-time: it counts only when asked to (Prefer: count=exact).
  const count = input.count ?? (page.kind === 'cursor' ? 'none' : 'exact');
  return { filters, patterns, sort, page, fields, count };
}
