/**
 * Plans SQLite migrations by comparing the database's tables, columns and indexes with
 * the model: additive steps (new table, column, index, search index) apply on start;
 * destructive ones (dropped or retyped columns, dropped tables) wait for `carte migrate`.
 */
import type Database from 'better-sqlite3';
import type { ApiModel, FieldModel, ResourceModel } from '../../schema/types.js';
import type { MigrationPlan, MigrationStep } from '../store.js';
import { quote, tableName } from './sqlite-compiler.js';
import { dropSearchSql, searchTableDdl, searchTableNames } from './sqlite-search.js';

export function columnType(field: FieldModel): 'INTEGER' | 'REAL' | 'TEXT' {
  switch (field.type) {
    case 'integer':
    case 'boolean':
      return 'INTEGER';
    case 'number':
      return 'REAL';
    default:
      return 'TEXT'; // strings, JSON of arrays/objects, blob metadata
  }
}

function columnDef(field: FieldModel): string {
  let def = `${quote(field.name)} ${columnType(field)}`;
  if (field.reference) def += ` REFERENCES ${quote(tableName(field.reference.resource))}("id")`;
  return def;
}

export function createTableSql(resource: ResourceModel, name = tableName(resource.name)): string {
  const key = resource.key.type === 'integer' ? '"id" INTEGER PRIMARY KEY AUTOINCREMENT' : '"id" TEXT PRIMARY KEY NOT NULL';
  const cols = [key, ...resource.fieldList.map(columnDef)];
  return `CREATE TABLE ${quote(name)} (\n  ${cols.join(',\n  ')}\n) STRICT`;
}

interface DesiredIndex {
  readonly name: string;
  readonly sql: string;
}

export function desiredIndexes(resource: ResourceModel): DesiredIndex[] {
  const table = tableName(resource.name);
  const out: DesiredIndex[] = [];
  for (const field of resource.fieldList) {
    if (!field.index) continue;
    const unique = field.index === 'unique';
    const name = `carte_${unique ? 'ux' : 'ix'}_${table}__${field.name}`;
    out.push({ name, sql: `CREATE ${unique ? 'UNIQUE ' : ''}INDEX ${quote(name)} ON ${quote(table)} (${quote(field.name)})` });
  }
  for (const fields of resource.indexes) {
    const name = `carte_ix_${table}__${fields.join('__')}`;
    out.push({ name, sql: `CREATE INDEX ${quote(name)} ON ${quote(table)} (${fields.map(quote).join(', ')})` });
  }
  return out;
}

export function planSqliteMigration(db: Database.Database, model: ApiModel): MigrationPlan {
  const steps: MigrationStep[] = [];
  const tables = new Map<string, string>(
    (db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all() as { name: string; sql: string }[]).map((t) => [t.name, t.sql]),
  );
  const indexes = new Map<string, { table: string; sql: string }>(
    (db.prepare("SELECT name, tbl_name AS tbl, sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'carte\\_%' ESCAPE '\\'").all() as { name: string; tbl: string; sql: string }[])
      .map((i) => [i.name, { table: i.tbl, sql: i.sql }]),
  );
  const wanted = new Set<string>();
  for (const resource of model.resources.values()) {
    const table = tableName(resource.name);
    wanted.add(table);
    if (!tables.has(table)) {
      steps.push({ kind: 'createTable', target: table, description: `create table ${table} for ${resource.name}`, destructive: false, sql: [createTableSql(resource)] });
    } else {
      const existing = new Map(
        (db.prepare(`PRAGMA table_xinfo(${quote(table)})`).all() as { name: string; type: string }[]).map((c) => [c.name, c.type.toUpperCase()]),
      );
      const keyType = resource.key.type === 'integer' ? 'INTEGER' : 'TEXT';
      let rebuild = existing.get('id') !== keyType;
      const reasons: string[] = rebuild ? [`the key changes to ${resource.key.type}`] : [];
      for (const field of resource.fieldList) {
        const type = existing.get(field.name);
        if (type === undefined) {
          steps.push({
            kind: 'addColumn',
            target: `${table}.${field.name}`,
            description: `add column ${table}.${field.name} (${field.type})`,
            destructive: false,
            sql: [`ALTER TABLE ${quote(table)} ADD COLUMN ${columnDef(field)}`],
          });
        } else if (type !== columnType(field)) {
          rebuild = true;
          reasons.push(`${field.name} changes from ${type} to ${columnType(field)}`);
        }
      }
      for (const name of existing.keys()) {
        if (name !== 'id' && !resource.fields.has(name)) {
          rebuild = true;
          reasons.push(`column ${name} is no longer in the schema and would be dropped with its data`);
        }
      }
      if (rebuild) {
        steps.push({
          kind: 'changeColumn',
          target: table,
          description: `rebuild table ${table}: ${reasons.join('; ')}`,
          destructive: true,
          sql: rebuildTableSql(resource, [...existing.keys()]),
        });
      }
    }
    const desired = desiredIndexes(resource);
    const desiredNames = new Set(desired.map((d) => d.name));
    for (const ix of desired) {
      const have = indexes.get(ix.name);
      if (!have) steps.push({ kind: 'createIndex', target: ix.name, description: `create index ${ix.name}`, destructive: false, sql: [ix.sql] });
    }
    for (const [name, ix] of indexes) {
      if (ix.table === table && !desiredNames.has(name)) {
        steps.push({ kind: 'dropIndex', target: name, description: `drop index ${name} (no longer declared)`, destructive: false, sql: [`DROP INDEX IF EXISTS ${quote(name)}`] });
      }
    }
    const search = searchTableNames(resource);
    const searchSql = searchTableDdl(resource);
    const haveSearch = tables.get(search.patterns);
    if (searchSql.length > 0 && (haveSearch === undefined || !sameSearchColumns(haveSearch, resource))) {
      const drop = haveSearch === undefined ? [] : dropSearchSql(resource);
      steps.push({
        kind: 'createSearch',
        target: search.patterns,
        description: `${haveSearch === undefined ? 'create' : 'rebuild'} the search index of ${resource.name} (${resource.searchFields.map((f) => f.name).join(', ')})`,
        destructive: false,
        sql: [...drop, ...searchSql, `-- carte:reindex ${resource.name}`],
      });
    } else if (searchSql.length === 0 && haveSearch !== undefined) {
      steps.push({
        kind: 'dropTable',
        target: search.patterns,
        description: `drop the search index of ${resource.name} (no search fields left)`,
        destructive: false,
        sql: dropSearchSql(resource),
      });
    }
  }
  for (const table of tables.keys()) {
    if (table.startsWith('_carte') || table.startsWith('sqlite_') || table.includes('__')) continue;
    if (!wanted.has(table)) {
      steps.push({ kind: 'dropTable', target: table, description: `drop table ${table} and its data (no resource declares it)`, destructive: true, sql: [`DROP TABLE ${quote(table)}`] });
    }
  }
  // Create parents before children so REFERENCES clauses point at existing tables.
  return { steps };
}

function sameSearchColumns(sql: string, resource: ResourceModel): boolean {
  const m = /fts5\((.*)\)/is.exec(sql);
  if (!m) return false;
  const cols = (m[1] as string).split(',').map((s) => s.trim()).filter((s) => !s.includes('='));
  return cols.join(',') === resource.searchFields.map((f) => quote(f.name)).join(',');
}

function rebuildTableSql(resource: ResourceModel, existingColumns: readonly string[]): string[] {
  const table = tableName(resource.name);
  const temp = `${table}__carte_rebuild`;
  const keep = ['id', ...resource.fieldList.map((f) => f.name)].filter((c) => existingColumns.includes(c));
  const cols = keep.map(quote).join(', ');
  return [
    createTableSql(resource, temp),
    `INSERT INTO ${quote(temp)} (${cols}) SELECT ${keep.map((c) => {
      const field = resource.fields.get(c);
      return field ? `CAST(${quote(c)} AS ${columnTypeForCast(field)})` : quote(c);
    }).join(', ')} FROM ${quote(table)}`,
    `DROP TABLE ${quote(table)}`,
    `ALTER TABLE ${quote(temp)} RENAME TO ${quote(table)}`,
    ...desiredIndexes(resource).map((ix) => ix.sql.replace(/^CREATE (UNIQUE )?INDEX/, 'CREATE $1INDEX IF NOT EXISTS')),
  ];
}

function columnTypeForCast(field: FieldModel): string {
  return columnType(field);
}
