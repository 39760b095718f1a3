/**
 * Compiles plans into PostgreSQL SQL with numbered, bound parameters (`$1`). Identifiers
 * come from the checked model and are quoted; every value is a parameter, never spliced
 * into the text. Text is compared with `COLLATE "C"` (code-point order, as SQLite's BINARY)
 * and nulls sort first ascending, last descending, so both dialects page the same way.
 */
import { createHash } from 'node:crypto';
import type { LeafType, Scalar } from '../../query/types.js';
import type { ColumnRef, CompareOp, Condition, OrderKey, ReadPlan } from '../store.js';

export interface Compiled {
  readonly sql: string;
  readonly params: unknown[];
}

/** PostgreSQL keeps the first 63 bytes of an identifier (NAMEDATALEN - 1). */
const MAX_IDENTIFIER_BYTES = 63;

/**
 * The name PostgreSQL will store for `name`: itself when short enough, otherwise a prefix
 * and a digest, so long names stay distinct instead of being silently truncated alike.
 */
export function pgName(name: string): string {
  if (Buffer.byteLength(name) <= MAX_IDENTIFIER_BYTES) return name;
  let prefix = name;
  while (Buffer.byteLength(prefix) > 54) prefix = prefix.slice(0, -1);
  return `${prefix}_${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

/** A quoted identifier (after `pgName`). */
export function quote(identifier: string): string {
  return `"${pgName(identifier).replace(/"/g, '""')}"`;
}

/** SQL table name of a resource: spinal-case → snake_case. */
export function tableName(resource: string): string {
  return pgName(resource.replace(/-/g, '_'));
}

/** A string literal (only for values that come from the checked model, never from requests). */
export function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** `$n` for a new parameter, with an optional cast. */
export function bind(params: unknown[], value: unknown, cast = ''): string {
  params.push(value);
  return `$${params.length}${cast ? `::${cast}` : ''}`;
}

/** The SQL type a leaf value compares as. */
type Domain = 'number' | 'boolean' | 'string';

function domainOf(leafType: LeafType): Domain {
  return leafType === 'integer' || leafType === 'number' ? 'number' : leafType === 'boolean' ? 'boolean' : 'string';
}

function jsonPath(path: readonly string[]): string {
  return literal(`{${path.map((p) => `"${p.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}}`);
}

/** The key never holds NULL, so its order needs no NULLS clause (and can use the primary key index). */
function isKey(column: ColumnRef): boolean {
  return column.field === 'id' && column.path.length === 0;
}

/**
 * A column, or a typed leaf inside a JSON column: text in code-point order, numbers as
 * float8, booleans as boolean; a value of another JSON type reads as NULL (never an error).
 */
export function columnExpr(column: ColumnRef, alias = ''): string {
  const base = `${alias}${quote(column.field)}`;
  if (column.path.length === 0) return base;
  const path = jsonPath(column.path);
  if (column.array) return `(CASE WHEN json_typeof(${base} #> ${path}) = 'array' THEN ${base} #> ${path} END)`;
  switch (domainOf(column.leafType)) {
    case 'string':
      return `((${base} #>> ${path}) COLLATE "C")`;
    case 'number':
      return `(CASE WHEN json_typeof(${base} #> ${path}) = 'number' THEN (${base} #>> ${path})::float8 END)`;
    case 'boolean':
      return `(CASE WHEN json_typeof(${base} #> ${path}) = 'boolean' THEN (${base} #>> ${path})::boolean END)`;
  }
}

/** `*` wildcard pattern → LIKE pattern with `\` as the escape character. */
export function likePattern(pattern: string): string {
  return pattern.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%');
}

const NUMERIC_TEXT = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

/**
 * A value made comparable with a column, or `null` when its type can never equal the
 * column's: SQLite compares such values by type class (numbers before text), and hostile
 * cursors or JSON front ends may send them, so they must not become a database error.
 */
function comparable(column: ColumnRef, given: Scalar): { value: Scalar; cast: string } | null {
  const domain = domainOf(column.leafType);
  const top = column.path.length === 0;
  const topInteger = column.leafType === 'integer' && top;
  let value = given;
  if (top) {
    // SQLite's column affinity: a numeric column reads numeric-looking text as a number, a
    // text column reads numbers as text. (Values inside JSON have no affinity.)
    if (domain !== 'string' && typeof value === 'string' && NUMERIC_TEXT.test(value)) value = Number(value);
    else if (domain === 'string' && typeof value !== 'string') value = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
  }
  if (domain === 'number') {
    const n = typeof value === 'boolean' ? (value ? 1 : 0) : value;
    if (typeof n !== 'number') return null;
    // A bigint column takes an integer parameter (so its index is used); anything else compares as float8.
    return { value: n, cast: topInteger && !Number.isSafeInteger(n) ? 'float8' : '' };
  }
  if (domain === 'boolean') {
    if (typeof value === 'boolean') return { value, cast: '' };
    if (value === 0 || value === 1) return { value: value === 1, cast: '' };
    return null;
  }
  return typeof value === 'string' ? { value, cast: '' } : null;
}

/** SQLite's order of type classes: numbers (and booleans, held as 0/1) before text. */
function typeRank(isText: boolean): number {
  return isText ? 2 : 1;
}

/** `column op value` when the value is of another type class: true for every non-null row, or false. */
function crossTypeCompare(column: ColumnRef, op: CompareOp, value: Scalar, alias: string): string {
  const columnRank = typeRank(domainOf(column.leafType) === 'string');
  const valueRank = typeRank(typeof value === 'string');
  const holds = op === '<>' || (columnRank < valueRank ? op === '<' || op === '<=' : op === '>' || op === '>=');
  return holds ? `${columnExpr(column, alias)} IS NOT NULL` : 'FALSE';
}

/** PostgreSQL text cannot hold U+0000, so no stored value contains one. */
function hasNul(value: unknown): value is string {
  return typeof value === 'string' && value.includes('\u0000');
}

function compare(column: ColumnRef, op: CompareOp, value: Scalar, params: unknown[], alias: string): string {
  const typed = comparable(column, value);
  if (typed && hasNul(typed.value)) {
    // Compared with what precedes the NUL: nothing stored equals the value, and a stored
    // value sorts after it exactly when it sorts after that prefix.
    if (op === '=') return 'FALSE';
    if (op === '<>') return `${columnExpr(column, alias)} IS NOT NULL`;
    const prefix = typed.value.slice(0, typed.value.indexOf('\u0000'));
    return `${columnExpr(column, alias)} ${op === '>' || op === '>=' ? '>' : '<='} ${bind(params, prefix)}`;
  }
  if (typed) return `${columnExpr(column, alias)} ${op} ${bind(params, typed.value, typed.cast)}`;
  // A boolean column against a number other than 0/1: SQLite holds booleans as 0/1.
  if (domainOf(column.leafType) === 'boolean' && typeof value === 'number') return `${columnExpr(column, alias)}::int ${op} ${bind(params, value, 'float8')}`;
  return crossTypeCompare(column, op, value, alias);
}

/** The array type `= ANY($n)` binds for a column. */
function arrayType(column: ColumnRef): string {
  if (column.path.length > 0) return { number: 'float8[]', boolean: 'boolean[]', string: 'text[]' }[domainOf(column.leafType)];
  return { integer: 'bigint[]', number: 'float8[]', boolean: 'boolean[]', string: 'text[]' }[column.leafType];
}

/** Text of an array element as `json_array_elements_text` gives it. */
function elementText(value: Scalar): string {
  return typeof value === 'string' ? value : String(value);
}

export type PatternSql = (field: string, pattern: string, params: unknown[], alias: string) => string;

export function compileCondition(condition: Condition, params: unknown[], patternSql: PatternSql, alias = ''): string {
  switch (condition.kind) {
    case 'true':
      return 'TRUE';
    case 'false':
      return 'FALSE';
    case 'and':
    case 'or': {
      if (condition.items.length === 0) return condition.kind === 'and' ? 'TRUE' : 'FALSE';
      const parts = condition.items.map((c) => compileCondition(c, params, patternSql, alias));
      return parts.length === 1 ? (parts[0] as string) : `(${parts.join(condition.kind === 'and' ? ' AND ' : ' OR ')})`;
    }
    case 'not':
      return `NOT (${compileCondition(condition.item, params, patternSql, alias)})`;
    case 'compare':
      return compare(condition.column, condition.op, condition.value, params, alias);
    case 'in': {
      const values = condition.values.map((v) => comparable(condition.column, v)).filter((v): v is { value: Scalar; cast: string } => v !== null && !hasNul(v.value));
      if (values.length === 0) return 'FALSE';
      if (values.length === 1) {
        const only = values[0] as { value: Scalar; cast: string };
        return `${columnExpr(condition.column, alias)} = ${bind(params, only.value, only.cast)}`;
      }
      // One array parameter: the same SQL text whatever the number of values.
      const exact = values.every((v) => v.cast === '');
      return `${columnExpr(condition.column, alias)} = ANY(${bind(params, values.map((v) => v.value), exact ? arrayType(condition.column) : 'float8[]')})`;
    }
    case 'contains': {
      const values = condition.values.map(elementText).filter((v) => !hasNul(v));
      if (values.length === 0) return 'FALSE';
      return `EXISTS (SELECT 1 FROM json_array_elements_text(${columnExpr(condition.column, alias)}) AS e(v) WHERE e.v = ANY(${bind(params, values, 'text[]')}))`;
    }
    case 'isNull':
      return `${columnExpr(condition.column, alias)} IS NULL`;
    case 'like':
      if (hasNul(condition.pattern)) return 'FALSE';
      // ILIKE under COLLATE "C" folds ASCII letters only, exactly as SQLite's LIKE.
      return `${columnExpr(condition.column, alias)} ILIKE ${bind(params, likePattern(condition.pattern))} ESCAPE '\\'`;
    case 'pattern':
      if (hasNul(condition.pattern)) return 'FALSE';
      return patternSql(condition.field, condition.pattern, params, alias);
  }
}

export function compileOrder(order: readonly OrderKey[], alias = ''): string {
  // NULLS FIRST ascending / NULLS LAST descending: SQLite's natural order. Carte's indexes
  // are declared NULLS FIRST, so one index serves both directions.
  return order
    .map((k) => `${columnExpr(k.column, alias)} ${k.descending ? 'DESC' : 'ASC'}${isKey(k.column) ? '' : k.descending ? ' NULLS LAST' : ' NULLS FIRST'}`)
    .join(', ');
}

/**
 * The keyset condition "comes after these order values" for a mixed-direction order,
 * expanded as (a > x) OR (a = x AND b < y) OR … with NULLs first ascending.
 */
export function compileAfter(order: readonly OrderKey[], after: readonly (Scalar | null)[], params: unknown[], alias = ''): string {
  const terms: string[] = [];
  for (let i = 0; i < order.length; i++) {
    const parts: string[] = [];
    for (let j = 0; j < i; j++) parts.push(equalTo(order[j] as OrderKey, after[j] ?? null, params, alias));
    parts.push(beyond(order[i] as OrderKey, after[i] ?? null, params, alias));
    terms.push(parts.length === 1 ? (parts[0] as string) : `(${parts.join(' AND ')})`);
  }
  return `(${terms.join(' OR ')})`;
}

function equalTo(key: OrderKey, value: Scalar | null, params: unknown[], alias: string): string {
  if (value === null) return `${columnExpr(key.column, alias)} IS NULL`;
  return compare(key.column, '=', value, params, alias);
}

function beyond(key: OrderKey, value: Scalar | null, params: unknown[], alias: string): string {
  const col = columnExpr(key.column, alias);
  if (!key.descending) {
    if (value === null) return `${col} IS NOT NULL`;
    return compare(key.column, '>', value, params, alias);
  }
  if (value === null) return 'FALSE';
  if (isKey(key.column)) return compare(key.column, '<', value, params, alias);
  return `(${compare(key.column, '<', value, params, alias)} OR ${col} IS NULL)`;
}

export interface CompiledRead {
  readonly select: Compiled;
  readonly count: Compiled | null;
  /** The WHERE text and its parameters, for estimates. */
  readonly where: Compiled;
}

export function compileRead(plan: ReadPlan, patternSql: PatternSql): CompiledRead {
  const table = quote(tableName(plan.resource));
  const whereParams: unknown[] = [];
  const where = compileCondition(plan.where, whereParams, patternSql);
  const order = compileOrder(plan.order);
  if (plan.partitionBy !== undefined) {
    const partition = quote(plan.partitionBy);
    const params = [...whereParams];
    const from = bind(params, plan.offset);
    const to = bind(params, plan.offset + plan.limit);
    const sql =
      `SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY ${partition} ORDER BY ${order}) AS "_carte_rn" ` +
      `FROM ${table} WHERE ${where}) AS "p" WHERE "_carte_rn" > ${from} AND "_carte_rn" <= ${to} ORDER BY ${partition}, "_carte_rn"`;
    // One grouped count for every partition at once (never one count per parent).
    const count = plan.count === 'none' ? null : { sql: `SELECT ${partition} AS "k", count(*) AS "n" FROM ${table} WHERE ${where} GROUP BY ${partition}`, params: whereParams };
    return { select: { sql, params }, count, where: { sql: where, params: whereParams } };
  }
  const selectParams = [...whereParams];
  let fullWhere = where;
  if (plan.after) {
    const afterSql = compileAfter(plan.order, plan.after, selectParams);
    fullWhere = where === 'TRUE' ? afterSql : `${where} AND ${afterSql}`;
  }
  const limit = bind(selectParams, plan.limit);
  const offset = bind(selectParams, plan.after ? 0 : plan.offset);
  const select = { sql: `SELECT * FROM ${table} WHERE ${fullWhere} ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}`, params: selectParams };
  const count = plan.count === 'none' ? null : { sql: `SELECT count(*) AS n FROM ${table} WHERE ${where}`, params: whereParams };
  return { select, count, where: { sql: where, params: whereParams } };
}
