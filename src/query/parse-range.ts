/**
 * `range=a-b` (seed 004) and `limit=n&offset=m` (seed 003), or an opaque `after` cursor
 * (SPEC §4.3). Over `maxRange` or malformed → 400 `invalid_range`.
 */
import { errors } from '../errors.js';
import type { ResourceModel } from '../schema/types.js';
import { decodeCursor } from './cursor.js';
import type { Page, QueryInput, SortKey } from './types.js';

/** `Accept-Range: restaurant 50` (or `search 50` on search endpoints). */
export function acceptRange(unit: string, maxRange: number): string {
  return `${unit} ${maxRange}`;
}

export function parseRange(
  resource: ResourceModel,
  input: Pick<QueryInput, 'range' | 'limit' | 'offset' | 'after'>,
  sort: readonly SortKey[],
  unit: string = resource.singular,
): Page {
  const max = resource.maxRange;
  const accept = acceptRange(unit, max);
  const hasLimitOffset = input.limit !== undefined || input.offset !== undefined;
  if (input.range !== undefined && hasLimitOffset) {
    throw errors.invalidRange('Use either range or limit/offset, not both.', accept);
  }
  if (input.after !== undefined) {
    if (input.range !== undefined || input.offset !== undefined) {
      throw errors.invalidRange('A cursor (after) cannot be combined with range or offset; use limit.', accept);
    }
    const limit = input.limit === undefined ? max : toInt(input.limit, 'limit', accept);
    if (limit < 1) throw errors.invalidRange('limit must be at least 1.', accept);
    if (limit > max) throw errors.invalidRange('Requested range not allowed', accept);
    return { kind: 'cursor', after: decodeCursor(input.after, sort), limit };
  }
  let first: number;
  let last: number;
  let explicit = true;
  if (input.range !== undefined) {
    if (typeof input.range === 'string') {
      const m = /^(\d{1,15})-(\d{1,15})$/.exec(input.range);
      if (!m) throw errors.invalidRange(`Malformed range '${input.range.slice(0, 50)}': expected first-last, e.g. 0-24.`, accept);
      first = Number(m[1]);
      last = Number(m[2]);
    } else {
      [first, last] = input.range;
      if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first < 0) {
        throw errors.invalidRange('Malformed range: expected [first, last], two non-negative integers.', accept);
      }
    }
    if (last < first) throw errors.invalidRange(`Malformed range ${first}-${last}: the last index comes before the first.`, accept);
  } else if (hasLimitOffset) {
    const offset = input.offset === undefined ? 0 : toInt(input.offset, 'offset', accept);
    const limit = input.limit === undefined ? max : toInt(input.limit, 'limit', accept);
    if (limit < 1) throw errors.invalidRange('limit must be at least 1.', accept);
    first = offset;
    last = offset + limit - 1;
  } else {
    first = 0;
    last = max - 1;
    explicit = false;
  }
  if (last - first + 1 > max) throw errors.invalidRange('Requested range not allowed', accept);
  return { kind: 'offset', offset: first, limit: last - first + 1, explicit };
}

function toInt(value: string | number, name: string, accept: string): number {
  const n = typeof value === 'number' ? value : /^\d{1,15}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw errors.invalidRange(`${name} must be a non-negative integer.`, accept);
  return n;
}
