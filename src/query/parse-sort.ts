/**
 * `sort=rating,reviews,name&desc=rating,reviews` (SPEC §4.4): ascending unless named in
 * `desc`; a bare `desc` makes every sort field descending. The key is always the last
 * tie-break so pages never overlap or skip.
 */
import { errors } from '../errors.js';
import type { ResourceModel } from '../schema/types.js';
import { resolveFieldPath } from './parse-filter.js';
import type { QueryLimits, SortKey } from './types.js';

export function parseSort(
  resource: ResourceModel,
  sort: readonly string[] | undefined,
  desc: readonly string[] | true | undefined,
  limits: QueryLimits,
): SortKey[] {
  const names = (sort ?? []).filter((s) => s !== '');
  if (names.length > limits.sortKeys) throw errors.invalidRequest(`Too many sort fields: at most ${limits.sortKeys}.`);
  const descNames = desc === true ? null : new Set(desc ?? []);
  if (descNames) {
    for (const d of descNames) {
      if (d !== '' && !names.includes(d) && !(names.length === 0 && d === resource.key.name)) {
        throw errors.invalidRequest(`'${d}' is in desc but not in sort.`);
      }
    }
  }
  const keys: SortKey[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw errors.invalidRequest(`'${name}' appears twice in sort.`);
    seen.add(name);
    const resolved = resolveFieldPath(resource, name, 'sort');
    keys.push({
      field: resolved.field,
      path: resolved.path,
      leafType: resolved.leafType,
      descending: descNames === null ? true : descNames.has(name),
    });
  }
  const last = keys[keys.length - 1];
  const keyIsLast = last !== undefined && last.field === resource.key.name && last.path.length === 0;
  if (!keyIsLast && !seen.has(resource.key.name)) {
    // The key as final tie-break; it follows the direction of the whole sort when `desc` is bare.
    const descending = descNames === null || descNames.has(resource.key.name);
    keys.push({ field: resource.key.name, path: [], leafType: resource.key.type === 'uuid' ? 'string' : 'integer', descending });
  }
  return keys;
}
