/**
 * Evaluates a store Condition against one item in memory, the way the SQL the store
 * compiles does — three-valued logic included (a comparison with a missing value is
 * unknown, and NOT unknown is still unknown) — so a live event is kept or dropped exactly
 * as the replay of the same event from the log would be.
 */
import { memoByText } from '../memo.js';
import type { Scalar } from '../query/types.js';
import type { ColumnRef, Condition, Row } from '../store/store.js';

type Truth = boolean | null;

function valueOf(row: Row, column: ColumnRef): unknown {
  let value: unknown = row[column.field];
  for (const part of column.path) value = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Row)[part] : undefined;
  return value === undefined ? null : value;
}

/** SQLite compares INTEGER and REAL numerically and TEXT by bytes; filters type values by the field's type. */
function compare(a: unknown, b: Scalar): number | null {
  if (typeof a === 'boolean') a = a ? 1 : 0;
  const bb = typeof b === 'boolean' ? (b ? 1 : 0) : b;
  if (typeof a === 'number' && typeof bb === 'number') return a === bb ? 0 : a < bb ? -1 : 1;
  if (typeof a === 'string' && typeof bb === 'string') return a === bb ? 0 : a < bb ? -1 : 1;
  // SQLite orders numbers before text.
  if (typeof a === 'number' && typeof bb === 'string') return -1;
  if (typeof a === 'string' && typeof bb === 'number') return 1;
  return null;
}

function equals(a: unknown, b: Scalar): boolean {
  return compare(a, b) === 0;
}

/** SQLite's LIKE folds ASCII letters only. */
function foldAscii(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

const likeRegExp = memoByText((pattern) => {
  const body = foldAscii(pattern)
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*');
  return new RegExp(`^${body}$`);
});

function evaluate(condition: Condition, row: Row): Truth {
  switch (condition.kind) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'and': {
      let result: Truth = true;
      for (const item of condition.items) {
        const t = evaluate(item, row);
        if (t === false) return false;
        if (t === null) result = null;
      }
      return result;
    }
    case 'or': {
      let result: Truth = false;
      for (const item of condition.items) {
        const t = evaluate(item, row);
        if (t === true) return true;
        if (t === null) result = null;
      }
      return result;
    }
    case 'not': {
      const t = evaluate(condition.item, row);
      return t === null ? null : !t;
    }
    case 'compare': {
      const v = valueOf(row, condition.column);
      if (v === null) return null;
      const c = compare(v, condition.value);
      if (c === null) return null;
      switch (condition.op) {
        case '=':
          return c === 0;
        case '<>':
          return c !== 0;
        case '>':
          return c > 0;
        case '>=':
          return c >= 0;
        case '<':
          return c < 0;
        case '<=':
          return c <= 0;
      }
      return null;
    }
    case 'in': {
      const v = valueOf(row, condition.column);
      if (v === null) return null;
      return condition.values.some((x) => equals(v, x));
    }
    case 'contains': {
      // EXISTS over json_each: an absent or empty array contains nothing (false, not unknown).
      const v = valueOf(row, condition.column);
      return Array.isArray(v) && v.some((e) => condition.values.some((x) => equals(e, x)));
    }
    case 'isNull':
      return valueOf(row, condition.column) === null;
    case 'like': {
      const v = valueOf(row, condition.column);
      if (v === null) return null;
      return likeRegExp(condition.pattern).test(foldAscii(String(v)));
    }
    case 'pattern':
      // Search patterns need a resource's search index; filters never produce them.
      return false;
  }
}

/** Whether the item meets the condition (unknown counts as no, as in a WHERE clause). */
export function matchesCondition(condition: Condition, row: Row): boolean {
  return condition.kind === 'true' || evaluate(condition, row) === true;
}
